"""The default ensemble: one-SE rule, small-n cap, grouped inner folds, recalibration."""

from __future__ import annotations

import numpy as np
import pytest

from voxelomics.model.ensemble import RadiomicsEnsemble, Winsorizer, one_se_choice
from voxelomics.model.metrics import calibration_slope_intercept, roc_auc
from voxelomics.model.splits import inner_folds


def test_one_se_rule_picks_the_simplest_candidate_within_one_se():
    means = np.array([0.70, 0.74, 0.76, 0.75])
    ses = np.array([0.03, 0.03, 0.03, 0.03])
    assert one_se_choice(means, ses) == 1  # 0.74 >= 0.76 - 0.03; 0.70 is not
    assert one_se_choice(means, np.zeros(4)) == 2  # no noise: the best
    assert one_se_choice(np.array([np.nan, 0.6]), np.array([0.1, 0.1])) == 1


def test_winsorizer_clips_to_training_quantiles():
    X = np.arange(100, dtype=float)[:, None]
    w = Winsorizer(0.1, 0.9).fit(X)
    out = w.transform(np.array([[-50.0], [50.0], [500.0]]))
    assert out[:, 0].tolist() == pytest.approx([9.9, 50.0, 89.1])


def _data(n=160, p=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    lp = 1.2 * X[:, 0] - 1.0 * X[:, 1] + 0.8 * X[:, 2] * X[:, 3]
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-lp))).astype(int)
    return X, y


def test_ensemble_learns_and_reports_its_choices():
    X, y = _data()
    est = RadiomicsEnsemble(inner_splits=3, inner_repeats=1, n_trees=100, score_members=True)
    est.fit(X[:120], y[:120])
    p = est.predict_proba(X[120:])[:, 1]
    assert roc_auc(y[120:], p) > 0.75
    assert est.k_ in (4, 8, 16, 32) and est.C_ in (0.01, 0.1, 1.0)
    cap = max(4, np.bincount(y[:120]).min() // 5)
    assert len(est.candidates_) == 3 * sum(k <= cap for k in (4, 8, 16, 32))
    assert set(est.inner_scores_) == {"linear", "forest", "ensemble"}
    sel = est.selected_features()
    assert len(sel["linear"]) == est.k_ and {0, 1} <= set(sel["linear"])
    assert "L2 logistic regression" in est.describe()
    imp = est.feature_importances_
    assert imp.shape == (60,) and imp.sum() == pytest.approx(1.0)
    assert set(np.flatnonzero(imp)) <= set(sel["linear"]) | set(sel["forest"])
    assert imp[0] > np.median(imp[imp > 0])
    with pytest.raises(AttributeError):
        RadiomicsEnsemble().feature_importances_  # noqa: B018
    assert set(est.predict(X[:5])) <= {0, 1}


def test_small_cohorts_get_fewer_features():
    X, y = _data(n=50)
    est = RadiomicsEnsemble(inner_splits=3, inner_repeats=1, n_trees=50).fit(X, y)
    # at most a fifth of the minority class (at least the smallest k of the grid)
    assert est.k_ <= max(4, np.bincount(y).min() // 5)
    assert all(c["k"] <= max(4, np.bincount(y).min() // 5) for c in est.candidates_)


def test_recalibration_brings_the_calibration_slope_towards_one():
    X, y = _data(n=600, seed=3)
    raw = RadiomicsEnsemble(inner_splits=3, inner_repeats=1, n_trees=100, recalibrate=False)
    cal = RadiomicsEnsemble(inner_splits=3, inner_repeats=1, n_trees=100)
    p_raw = raw.fit(X[:300], y[:300]).predict_proba(X[300:])[:, 1]
    p_cal = cal.fit(X[:300], y[:300]).predict_proba(X[300:])[:, 1]
    slope_raw, _ = calibration_slope_intercept(y[300:], p_raw)
    slope_cal, _ = calibration_slope_intercept(y[300:], p_cal)
    assert abs(slope_cal - 1) < abs(slope_raw - 1)
    assert cal.calibration_[1] > 1  # the raw mean was too moderate
    assert roc_auc(y[300:], p_cal) == pytest.approx(roc_auc(y[300:], p_raw), abs=1e-12)


def test_inner_folds_never_split_a_patient():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(40), 3)
    y = np.repeat(rng.integers(0, 2, 40), 3)
    for tr, te in inner_folds(y, n_splits=4, n_repeats=2, groups=groups):
        assert not set(groups[tr]) & set(groups[te])


def test_ensemble_passes_groups_to_its_inner_folds(monkeypatch):
    import voxelomics.model.splits as splits

    seen = []
    real = splits.inner_folds

    def spy(y, **kw):
        seen.append(kw.get("groups"))
        return real(y, **kw)

    monkeypatch.setattr(splits, "inner_folds", spy)
    X, y = _data(n=90)
    groups = np.repeat(np.arange(30), 3)
    y = np.repeat(y[::3], 3)
    RadiomicsEnsemble(inner_splits=3, inner_repeats=1, n_trees=20).fit(X, y, groups=groups)
    assert seen and seen[0] is not None and np.array_equal(seen[0], groups)
