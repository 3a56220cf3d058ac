"""Models of a continuous target: elastic-net and random-forest regression.

``voxelomics model cv|fit --target COL`` with a continuous column (a gene-expression
level such as the CD8B expression of Sun et al., Lancet Oncol 2018; a cell density; an
uptake value) builds one of these pipelines; every step is fitted on the training rows
only, as for classification (:mod:`voxelomics.model.estimators`)::

    combat      ComBat on the batch column, or passthrough
    impute      median imputation
    variance    drop constant features
    correlation drop one of each pair with |Pearson r| > 0.9
    scale       z-score
    select      (rf only) top k features by |Spearman rho| with the target
    clf         the model

=========== ====================================================== =========================
model       estimator                                              inner-loop grid
=========== ====================================================== =========================
``enet``    elastic net on the z-scored target (:class:`ScaledElasticNet`)  alpha in 10 values
            (the default, as in Sun et al.)                        0.003-3, l1_ratio in
                                                                   {0.1, 0.5, 0.9}
``rf``      random forest regression (300 trees, minimum leaf 3,   k in {16, 64}
            a third of the inputs per split)
=========== ====================================================== =========================

The hyper-parameters are chosen by the repeated inner cross-validation (R², the folds of
:func:`~voxelomics.model.splits.inner_folds`: stratified on quantile bins of the target,
grouped by patient) with the **one-standard-error rule** (:func:`one_se_refit`): the most
strongly penalised candidate (largest alpha, then the sparser mixing) or the fewest
features whose mean inner R² is within one standard error of the best, as glmnet's
``lambda.1se`` (Hastie et al., ESL 7.10). On a few hundred patients the inner estimates
of neighbouring penalties differ by less than their noise; the rule prefers the simpler
score that the data cannot tell apart from the best, which also travels better to
another cohort.

References
----------
Zou H, Hastie T. Regularization and variable selection via the elastic net. J R Stat Soc
B 67 (2005) 301-320.
Friedman J, Hastie T, Tibshirani R. Regularization paths for generalized linear models
via coordinate descent. J Stat Softw 33 (2010) 1-22.
Breiman L. Random forests. Mach Learn 45 (2001) 5-32.
Sun R et al. A radiomics approach to assess tumour-infiltrating CD8 cells and response to
anti-PD-1 or anti-PD-L1 immunotherapy. Lancet Oncol 19 (2018) 1180-1191.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from voxelomics.errors import ModelError

__all__ = ["REGRESSION_MODELS", "ALPHAS", "L1_RATIOS", "ScaledElasticNet", "SpearmanSelector",
           "one_se_refit", "regression_model", "spearman_scores"]

#: Regression models of ``--model`` (``enet`` is the default).
REGRESSION_MODELS = ("enet", "rf")
#: Penalties of the elastic net's inner loop (on z-scored features and target).
ALPHAS = tuple(float(a) for a in np.round(np.logspace(-2.5, 0.5, 10), 5))
#: Mixing parameters (1 = lasso, 0 = ridge) of the elastic net's inner loop.
L1_RATIOS = (0.1, 0.5, 0.9)


class ScaledElasticNet(RegressorMixin, BaseEstimator):
    """Elastic-net regression of the z-scored target, returned in the target's units.

    The penalty ``alpha`` is then on the scale of a unit-variance target (with z-scored
    features, ``alpha`` above ``max |corr(x, y)| / l1_ratio`` sets every coefficient to
    0), so one grid of penalties fits every target, whatever its units.

    Parameters
    ----------
    alpha : float, default=0.1
        Overall penalty (scikit-learn's ``alpha``).
    l1_ratio : float, default=0.5
        Mixing: 1 is the lasso, 0 ridge regression.
    max_iter : int, default=10000
    tol : float, default=1e-4

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Coefficients in target units per unit of each (z-scored) input.
    intercept_ : float
    y_mean_, y_scale_ : float
        Mean and standard deviation of the training target.
    n_features_in_ : int
    """

    def __init__(self, *, alpha: float = 0.1, l1_ratio: float = 0.5, max_iter: int = 10000,
                 tol: float = 1e-4):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y):
        """Fit on training rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        from sklearn.linear_model import ElasticNet

        X, y = validate_data(self, X, y, y_numeric=True)
        y = np.asarray(y, float)
        self.y_mean_ = float(y.mean())
        self.y_scale_ = float(y.std()) or 1.0
        enet = ElasticNet(alpha=self.alpha, l1_ratio=self.l1_ratio, max_iter=self.max_iter,
                          tol=self.tol)
        enet.fit(X, (y - self.y_mean_) / self.y_scale_)
        self.coef_ = enet.coef_ * self.y_scale_
        self.intercept_ = float(self.y_mean_ + self.y_scale_ * enet.intercept_)
        return self

    def predict(self, X):
        """Predicted target values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False)
        return X @ self.coef_ + self.intercept_


def spearman_scores(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|Spearman rho| of each column of ``X`` with ``y`` (NaN-free input).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)

    Returns
    -------
    scores : ndarray of shape (n_features,)
        0 for a constant column.
    """
    from scipy.stats import rankdata

    rx = rankdata(X, axis=0)
    ry = rankdata(y)
    rx = rx - rx.mean(axis=0)
    ry = ry - ry.mean()
    den = np.sqrt((rx ** 2).sum(axis=0) * (ry ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.abs(rx.T @ ry) / den
    return np.where(den > 0, r, 0.0)


class SpearmanSelector(SelectorMixin, BaseEstimator):
    """Keep the ``k`` features with the largest |Spearman rho| with a continuous target.

    Rank-based, so a heavy-tailed feature or an outlying target value does not decide
    the choice (radiomic features are often skewed).

    Parameters
    ----------
    k : int, default=16
        Features kept (all when fewer).

    Attributes
    ----------
    scores_ : ndarray of shape (n_features,)
    """

    def __init__(self, k: int = 16):
        self.k = k

    def fit(self, X, y):
        """Score the features on training rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, y_numeric=True)
        self.scores_ = spearman_scores(np.asarray(X, float), np.asarray(y, float))
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "scores_")
        k = min(int(self.k), self.scores_.size)
        mask = np.zeros(self.scores_.size, bool)
        mask[np.argsort(-self.scores_, kind="stable")[:k]] = True
        return mask


def _simplicity(params: dict) -> tuple:
    """Sort key: simpler candidates first (stronger penalty, sparser mixing, fewer features)."""
    key = []
    for name, value in sorted(params.items()):
        if name.endswith("alpha"):
            key.append((0, -float(value)))
        elif name.endswith("l1_ratio"):
            key.append((1, -float(value)))
        elif name.endswith("__k"):
            key.append((2, float(value)))
    return tuple(sorted(key))


def one_se_refit(cv_results: dict) -> int:
    """Index of the simplest candidate within one standard error of the best (refit rule).

    Used as ``refit`` of :class:`~sklearn.model_selection.GridSearchCV`.

    Parameters
    ----------
    cv_results : dict
        ``GridSearchCV.cv_results_``.

    Returns
    -------
    index : int

    Raises
    ------
    ModelError
        Every candidate failed in the inner loop.
    """
    mean = np.asarray(cv_results["mean_test_score"], float)
    std = np.asarray(cv_results["std_test_score"], float)
    n_splits = sum(1 for k in cv_results if k.startswith("split") and k.endswith("_test_score"))
    ok = np.isfinite(mean)
    if not ok.any():
        raise ModelError("every hyper-parameter candidate failed in the inner cross-validation")
    best = int(np.nanargmax(np.where(ok, mean, -np.inf)))
    threshold = mean[best] - std[best] / np.sqrt(max(n_splits, 1))
    cands = [i for i in np.flatnonzero(ok & (mean >= threshold))]
    return int(min(cands, key=lambda i: _simplicity(cv_results["params"][i])))


def regression_model(name: str, random_state: int = 0):
    """Final estimator, supervised selection step and grid of a regression model.

    Parameters
    ----------
    name : {"enet", "rf"}
    random_state : int, default=0

    Returns
    -------
    estimator : regressor
    select : estimator or "passthrough"
    grid : dict
        Step-prefixed hyper-parameters for the inner grid search.

    Raises
    ------
    ModelError
        Unknown name.
    """
    if name == "enet":
        return (ScaledElasticNet(), "passthrough",
                {"clf__alpha": list(ALPHAS), "clf__l1_ratio": list(L1_RATIOS)})
    if name == "rf":
        from sklearn.ensemble import RandomForestRegressor

        est = RandomForestRegressor(n_estimators=300, min_samples_leaf=3, max_features=1 / 3,
                                    n_jobs=1, random_state=random_state)
        return est, SpearmanSelector(k=64), {"select__k": [16, 64]}
    raise ModelError(f"unknown regression model {name!r}; expected one of {REGRESSION_MODELS}")
