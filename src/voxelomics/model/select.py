"""Feature filters and selectors as scikit-learn transformers.

All selectors here learn which columns to keep in ``fit`` from the training rows only
and apply that choice in ``transform``; placed inside a :class:`~sklearn.pipeline.Pipeline`
that is cross-validated, they never see the test fold. Inputs are feature matrices
``X`` of shape (n_samples, n_features) (one row per patient or lesion) and, for the
supervised selectors, a binary target ``y`` of shape (n_samples,).

- :class:`CorrelationFilter`: drops one of each pair of features whose absolute
  Pearson correlation exceeds a threshold (unsupervised).
- :class:`UnivariateSelector`: keeps the ``k`` features with the largest ANOVA F
  statistic or Mann-Whitney effect size ``|AUC - 0.5|`` (supervised).
- :class:`MRMRSelector`: minimum-redundancy maximum-relevance selection
  (Peng et al. 2005, F-test/correlation quotient variant; supervised).
- :func:`make_l1_selector`: L1 / elastic-net logistic regression embedded selection.
- Variance filtering and standardisation are scikit-learn's own
  :class:`~sklearn.feature_selection.VarianceThreshold` and
  :class:`~sklearn.preprocessing.StandardScaler`, re-exported here.

References
----------
Peng H, Long F, Ding C. Feature selection based on mutual information: criteria of
max-dependency, max-relevance, and min-redundancy. IEEE TPAMI 27 (2005) 1226-1238.
Ding C, Peng H. Minimum redundancy feature selection from microarray gene expression
data. J Bioinform Comput Biol 3 (2005) 185-205.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectFromModel, SelectorMixin, VarianceThreshold
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = [
    "CorrelationFilter",
    "UnivariateSelector",
    "MRMRSelector",
    "CoxScoreSelector",
    "cox_score",
    "make_l1_selector",
    "VarianceThreshold",
    "StandardScaler",
    "anova_f",
    "mann_whitney_effect",
    "kruskal_h",
]


def _abs_corr(X: np.ndarray) -> np.ndarray:
    """Absolute Pearson correlation between the columns of ``X``; constant columns get 0."""
    Xc = X - X.mean(axis=0)
    norm = np.sqrt((Xc**2).sum(axis=0))
    norm[norm == 0] = np.inf
    Z = Xc / norm
    return np.abs(Z.T @ Z)


def anova_f(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """One-way ANOVA F statistic of every column of ``X`` against the classes ``y``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Feature matrix.
    y : ndarray of shape (n_samples,)
        Class labels (two or more classes).

    Returns
    -------
    f : ndarray of shape (n_features,)
        F statistic; 0 for features that are constant within and between classes
        (undefined ratio 0/0 treated as "no evidence").
    """
    classes, y_idx = np.unique(y, return_inverse=True)
    n, k = X.shape[0], classes.size
    counts = np.bincount(y_idx, minlength=k).astype(float)
    grand = X.mean(axis=0)
    means = np.vstack([X[y_idx == c].mean(axis=0) for c in range(k)])
    ss_between = (counts[:, None] * (means - grand) ** 2).sum(axis=0)
    ss_within = ((X - means[y_idx]) ** 2).sum(axis=0)
    df_b, df_w = k - 1, max(n - k, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (ss_between / df_b) / (ss_within / df_w)
    f[~np.isfinite(f)] = np.where(ss_between[~np.isfinite(f)] > 0, np.finfo(float).max, 0.0)
    return f


def kruskal_h(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kruskal-Wallis H statistic (no tie correction) of every column of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Class labels (two or more classes).

    Returns
    -------
    h : ndarray of shape (n_features,)
    """
    classes, y_idx = np.unique(y, return_inverse=True)
    ranks = stats.rankdata(X, axis=0)
    n = X.shape[0]
    h = np.zeros(X.shape[1])
    for c in range(classes.size):
        members = y_idx == c
        h += members.sum() * ranks[members].mean(axis=0) ** 2
    return 12.0 / (n * (n + 1)) * h - 3.0 * (n + 1)


def mann_whitney_effect(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mann-Whitney effect size ``|AUC - 0.5|`` of every column of ``X`` for a binary ``y``.

    The AUC of a feature equals ``U / (n_1 n_0)`` where ``U`` is the Mann-Whitney
    statistic of the positive class, computed from mid-ranks (ties count one half).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Feature matrix.
    y : ndarray of shape (n_samples,)
        Binary labels; the larger label is the positive class.

    Returns
    -------
    effect : ndarray of shape (n_features,)
        Values in [0, 0.5].

    Raises
    ------
    ValueError
        If ``y`` does not hold exactly two classes.
    """
    classes, y_idx = np.unique(y, return_inverse=True)
    if classes.size != 2:
        raise ValueError(f"Mann-Whitney selection needs exactly 2 classes, got {classes.size}")
    ranks = stats.rankdata(X, axis=0)
    pos = y_idx == 1
    n1, n0 = pos.sum(), (~pos).sum()
    u = ranks[pos].sum(axis=0) - n1 * (n1 + 1) / 2.0
    return np.abs(u / (n1 * n0) - 0.5)


class CorrelationFilter(SelectorMixin, BaseEstimator):
    """Drop features that are highly correlated with a feature already kept.

    Features are visited in decreasing order of their mean absolute correlation
    with all others taken from last to first, i.e. the least redundant features are
    visited first; a feature is kept when its absolute Pearson correlation with every
    feature kept so far is at most ``threshold``. Unsupervised: ``y`` is ignored.

    Parameters
    ----------
    threshold : float in (0, 1], default=0.9
        Largest absolute Pearson correlation allowed between two kept features.

    Attributes
    ----------
    support_ : ndarray of shape (n_features_in_,) of bool
        Columns kept.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    """

    _parameter_constraints = {"threshold": [Interval(Real, 0, 1, closed="right")]}

    def __init__(self, threshold: float = 0.9):
        self.threshold = threshold

    def fit(self, X, y=None):
        """Learn which columns to keep from the training rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features without missing values.
        y : ignored

        Returns
        -------
        self : CorrelationFilter
        """
        self._validate_params()
        X = validate_data(self, X, dtype=np.float64)
        corr = _abs_corr(X)
        np.fill_diagonal(corr, 0.0)
        order = np.argsort(corr.mean(axis=0), kind="stable")
        keep = np.zeros(X.shape[1], dtype=bool)
        for j in order:  # loop over features (not samples); each step is vectorised
            if not np.any(corr[j, keep] > self.threshold):
                keep[j] = True
        self.support_ = keep
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class UnivariateSelector(SelectorMixin, BaseEstimator):
    """Keep the ``k`` features with the strongest univariate association with ``y``.

    Parameters
    ----------
    method : {"anova", "mannwhitney"}, default="anova"
        ``"anova"`` ranks by the one-way ANOVA F statistic; ``"mannwhitney"`` by the
        rank-based effect size ``|AUC - 0.5|`` (robust to outliers and monotone
        transforms), generalised to the Kruskal-Wallis H for more than two classes.
    k : int >= 1, default=10
        Number of features to keep; all are kept when fewer are available.

    Attributes
    ----------
    scores_ : ndarray of shape (n_features_in_,)
        Association score of each column.
    support_ : ndarray of shape (n_features_in_,) of bool
        Columns kept.
    """

    _parameter_constraints = {
        "method": [StrOptions({"anova", "mannwhitney"})],
        "k": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, method: str = "anova", k: int = 10):
        self.method = method
        self.k = k

    def fit(self, X, y):
        """Score every column on the training rows and keep the top ``k``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (binary for ``"mannwhitney"``).

        Returns
        -------
        self : UnivariateSelector
        """
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        if self.method == "anova":
            scores = anova_f(X, y)
        elif np.unique(y).size == 2:
            scores = mann_whitney_effect(X, y)
        else:
            scores = kruskal_h(X, y)
        self.scores_ = scores
        k = min(self.k, X.shape[1])
        top = np.argsort(-scores, kind="stable")[:k]
        support = np.zeros(X.shape[1], dtype=bool)
        support[top] = True
        self.support_ = support
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


class MRMRSelector(SelectorMixin, BaseEstimator):
    """Minimum-redundancy maximum-relevance selection of ``k`` features.

    Greedy forward selection: relevance is the ANOVA F statistic of a feature,
    redundancy its mean absolute Pearson correlation with the features already
    chosen; the next feature maximises relevance / redundancy (the "FCQ" criterion
    of Ding & Peng 2005). The first feature is the most relevant one.

    Parameters
    ----------
    k : int >= 1, default=10
        Number of features to select (capped at the number available).

    Attributes
    ----------
    ranking_ : ndarray of shape (min(k, n_features_in_),)
        Column indices in the order chosen.
    support_ : ndarray of shape (n_features_in_,) of bool
    """

    _parameter_constraints = {"k": [Interval(Integral, 1, None, closed="left")]}

    def __init__(self, k: int = 10):
        self.k = k

    def fit(self, X, y):
        """Select features greedily on the training rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : MRMRSelector
        """
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        relevance = anova_f(X, y)
        relevance = np.minimum(relevance, 1e300)
        k = min(self.k, X.shape[1])
        Xc = X - X.mean(axis=0)
        norm = np.sqrt((Xc**2).sum(axis=0))
        norm[norm == 0] = np.inf
        Z = Xc / norm
        chosen = [int(np.argmax(relevance))]
        red_sum = np.abs(Z.T @ Z[:, chosen[0]])
        available = np.ones(X.shape[1], dtype=bool)
        available[chosen[0]] = False
        for step in range(1, k):
            redundancy = np.maximum(red_sum / step, 1e-12)
            score = np.where(available, relevance / redundancy, -np.inf)
            j = int(np.argmax(score))
            chosen.append(j)
            available[j] = False
            red_sum += np.abs(Z.T @ Z[:, j])
        self.ranking_ = np.asarray(chosen)
        support = np.zeros(X.shape[1], dtype=bool)
        support[self.ranking_] = True
        self.support_ = support
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


def cox_score(X: np.ndarray, time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Univariate Cox score-test statistic of every column of ``X`` (Breslow ties).

    For feature ``x`` the score of ``beta = 0`` is ``U = sum_i d_i (x_i - m_i)`` and its
    information ``I = sum_i d_i v_i``, where ``m_i`` and ``v_i`` are the mean and variance
    of ``x`` over the risk set of row ``i`` (rows with ``time >= time_i``); the statistic
    ``U^2 / I`` is chi-squared with 1 degree of freedom under no association.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    time : ndarray of shape (n_samples,)
        Follow-up times (any unit).
    event : ndarray of shape (n_samples,) of bool
        Event indicator.

    Returns
    -------
    chi2 : ndarray of shape (n_features,)
        0 for features with no information (constant over the risk sets).
    """
    order = np.argsort(time, kind="stable")
    t, d, Z = np.asarray(time, float)[order], np.asarray(event, bool)[order], X[order]
    Z = Z - Z.mean(axis=0)  # shift-invariant; better conditioned sums
    s0 = np.arange(t.size, 0, -1, dtype=float)
    s1 = np.cumsum(Z[::-1], axis=0)[::-1]
    s2 = np.cumsum((Z * Z)[::-1], axis=0)[::-1]
    start = np.searchsorted(t, t[d], side="left")  # tied times share the risk set
    m = s1[start] / s0[start, None]
    v = s2[start] / s0[start, None] - m * m
    U = (Z[d] - m).sum(axis=0)
    info = v.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = U * U / info
    return np.where(np.isfinite(chi2) & (info > 1e-12), chi2, 0.0)


class CoxScoreSelector(SelectorMixin, BaseEstimator):
    """Keep the ``k`` features with the largest univariate Cox score statistic.

    Parameters
    ----------
    k : int >= 1, default=16
        Number of features to keep (all when fewer are available).

    Attributes
    ----------
    scores_ : ndarray of shape (n_features_in_,)
        Score-test chi-squared of each column (:func:`cox_score`).
    support_ : ndarray of shape (n_features_in_,) of bool
    """

    _parameter_constraints = {"k": [Interval(Integral, 1, None, closed="left")]}

    def __init__(self, k: int = 16):
        self.k = k

    def fit(self, X, y):
        """Score every column on the training rows and keep the top ``k``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : structured ndarray of shape (n_samples,)
            scikit-survival outcome (event field first, time second).

        Returns
        -------
        self : CoxScoreSelector
        """
        self._validate_params()
        X = validate_data(self, X, dtype=np.float64)
        names = y.dtype.names
        self.scores_ = cox_score(X, np.asarray(y[names[1]], float), np.asarray(y[names[0]], bool))
        top = np.argsort(-self.scores_, kind="stable")[: min(self.k, X.shape[1])]
        support = np.zeros(X.shape[1], dtype=bool)
        support[top] = True
        self.support_ = support
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


def make_l1_selector(
    *, C: float = 0.1, l1_ratio: float = 1.0, max_features: int | None = None, random_state: int = 0
) -> SelectFromModel:
    """Embedded selection by an L1 / elastic-net penalised logistic regression.

    Features whose coefficient is (numerically) zero are dropped. Inputs should be
    standardised first so that the penalty treats features alike.

    Parameters
    ----------
    C : float > 0, default=0.1
        Inverse penalty strength (smaller keeps fewer features).
    l1_ratio : float in [0, 1], default=1.0
        Elastic-net mixing: 1 is the lasso, 0 the ridge (which selects nothing).
    max_features : int or None, default=None
        Keep at most this many features (largest absolute coefficients).
    random_state : int, default=0
        Seed of the saga solver's coordinate order (results are reproducible).

    Returns
    -------
    selector : sklearn.feature_selection.SelectFromModel
        Unfitted selector; fit it inside the cross-validated pipeline.
    """
    lr = LogisticRegression(
        l1_ratio=l1_ratio, C=C, solver="saga", max_iter=5000, tol=1e-3, random_state=random_state
    )
    return SelectFromModel(lr, threshold=1e-10, max_features=max_features)
