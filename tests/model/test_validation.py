"""Nested CV is honest: pure noise stays at chance, non-nested selection does not."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from voxelomics.errors import ModelError
from voxelomics.model.estimators import make_pipeline
from voxelomics.model.metrics import bootstrap_metrics
from voxelomics.model.select import UnivariateSelector
from voxelomics.model.validation import nested_cv, permutation_test


@pytest.fixture(scope="module")
def noise():
    rng = np.random.default_rng(42)
    X = rng.normal(size=(60, 2000))
    y = rng.permutation(np.repeat([0, 1], 30))
    return X, y


def test_no_leakage_nested_vs_naive(noise):
    X, y = noise
    pipe, grid = make_pipeline("enet_lr", correlation_threshold=1.0)
    res = nested_cv(X, y, pipe, grid, n_splits=5, n_repeats=1, inner_splits=3, n_boot=500)
    lo, hi = res.metrics["auc"]["ci95"]
    assert lo < 0.5 < hi, f"nested CV on noise: AUC CI {lo:.2f}-{hi:.2f} should contain 0.5"

    # Naive: choose the 20 best features on ALL rows, then cross-validate the classifier.
    top = UnivariateSelector(k=20).fit(X, y).get_support()
    naive = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=1.0))])
    p = cross_val_predict(naive, X[:, top], y, method="predict_proba",
                          cv=StratifiedKFold(5, shuffle=True, random_state=0))[:, 1]
    lo_n, hi_n = bootstrap_metrics(y, p, n_boot=500)["auc"]["ci95"]
    assert lo_n > 0.5, f"naive selection should look optimistic, got CI {lo_n:.2f}-{hi_n:.2f}"


def test_nested_cv_finds_signal_and_records_choices():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 40))
    y = (X[:, 0] + X[:, 1] + 0.5 * rng.normal(size=80) > 0).astype(int)
    pipe, grid = make_pipeline("enet_lr")
    res = nested_cv(X, y, pipe, grid, n_splits=4, n_repeats=2, inner_splits=3, n_boot=200)
    assert res.oof.shape == (2, 80) and np.isfinite(res.oof).all()
    assert res.metrics["auc"]["ci95"][0] > 0.7
    assert len(res.best_params) == 8 and sum(res.chosen_models().values()) == 8


def test_permutation_test_small():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 10))
    y = (X[:, 0] > 0).astype(int)
    pipe, grid = make_pipeline("enet_lr", selector="none")
    res = nested_cv(X, y, pipe, grid, n_splits=3, n_repeats=1, inner_splits=3, n_boot=100)
    perm = permutation_test(X, y, pipe, grid, observed=res.metrics["auc"]["mean"],
                            n_permutations=4, n_splits=3, n_repeats=1, inner_splits=3)
    assert perm["p_value"] == pytest.approx(1 / 5)  # no shuffle beats a perfect signal


def test_too_few_minority_samples():
    X = np.zeros((10, 3))
    y = np.array([0] * 8 + [1] * 2)
    pipe, grid = make_pipeline("enet_lr")
    with pytest.raises(ModelError, match="only 2 members of the minority class for 5-fold"):
        nested_cv(X, y, pipe, grid)


def test_unknown_model():
    with pytest.raises(ModelError, match="unknown model 'xgb'"):
        make_pipeline("xgb")


class _Picky(ClassifierMixin, BaseEstimator):
    """A classifier that cannot be fitted for one hyper-parameter value."""

    def __init__(self, fail=False):
        self.fail = fail

    def fit(self, X, y):
        import numpy as np

        if self.fail:
            raise ArithmeticError("weights are too large")
        self.classes_ = np.unique(y)
        self.mean_ = X[:, 0].mean()
        return self

    def predict_proba(self, X):
        import numpy as np

        p = 1 / (1 + np.exp(-(X[:, 0] - self.mean_)))
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)


def test_a_grid_point_that_cannot_be_fitted_is_skipped():
    import numpy as np
    from sklearn.pipeline import Pipeline

    from voxelomics.model.validation import nested_cv

    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 20)
    X = rng.normal(size=(40, 3)) + y[:, None]
    res = nested_cv(X, y, Pipeline([("clf", _Picky())]), {"clf__fail": [True, False]},
                    n_splits=2, n_repeats=1, inner_splits=2, n_boot=20)
    assert res.best_params and all(p == {"clf__fail": False} for p in res.best_params)
    assert res.oof.shape == (1, 40)
