"""Performance metrics of binary classifiers and their bootstrap confidence intervals.

Confidence intervals
--------------------
Cross-validation yields, for every repeat ``r`` of the outer loop, one out-of-fold
probability per patient. The point estimate of a metric is its mean over repeats
(each repeat's metric computed on the pooled out-of-fold predictions of that repeat).
The 95% interval is a *percentile bootstrap over patients*: patients are resampled with
replacement (stratified by class, so every resample has both classes), the metric is
recomputed on every repeat for the resampled patients and averaged over repeats, and
the 2.5th and 97.5th percentiles of those averages are reported. Resampling patients
captures the sampling variability that matters for a reader (another cohort of the same
size); the spread over repeats alone only reflects the randomness of the splits and is
far too narrow. The interval does not include the variability of refitting the model
on a different training set, so it is slightly optimistic for small cohorts.

References
----------
Efron B, Tibshirani R. An Introduction to the Bootstrap. Chapman & Hall, 1993, ch. 13.
Van Calster B et al. Calibration: the Achilles heel of predictive analytics. BMC Med 17
(2019) 230 (calibration slope and intercept).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

__all__ = [
    "auc_matrix",
    "roc_auc",
    "balanced_accuracy",
    "brier_score",
    "calibration_slope_intercept",
    "classification_metrics",
    "bootstrap_indices",
    "bootstrap_metrics",
]

_EPS = 1e-12


def auc_matrix(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """ROC AUC of each row of ``p`` against the matching row of ``y`` (Mann-Whitney).

    Parameters
    ----------
    y : ndarray of shape (n_rows, n_samples)
        Binary labels 0/1 per row.
    p : ndarray of shape (n_rows, n_samples)
        Scores (higher means class 1); ties count one half.

    Returns
    -------
    auc : ndarray of shape (n_rows,)
        NaN for rows holding a single class (AUC undefined).
    """
    y = np.atleast_2d(y)
    p = np.atleast_2d(p)
    ranks = stats.rankdata(p, axis=1)
    n1 = y.sum(axis=1)
    n0 = y.shape[1] - n1
    u = (ranks * y).sum(axis=1) - n1 * (n1 + 1) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = u / (n1 * n0)
    return np.where((n1 > 0) & (n0 > 0), auc, np.nan)


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve of scores ``p`` for binary labels ``y``.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Labels 0/1.
    p : ndarray of shape (n_samples,)
        Scores or probabilities of class 1.

    Returns
    -------
    auc : float
        NaN when ``y`` holds one class only (undefined).
    """
    return float(auc_matrix(np.asarray(y)[None], np.asarray(p, float)[None])[0])


def balanced_accuracy(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> float:
    """Mean of sensitivity and specificity at a probability threshold.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Labels 0/1.
    p : ndarray of shape (n_samples,)
        Probabilities of class 1.
    threshold : float, default=0.5
        Predicted class is 1 when ``p >= threshold``.

    Returns
    -------
    bacc : float
        NaN when ``y`` holds one class only.
    """
    y = np.asarray(y)
    pred = np.asarray(p) >= threshold
    if y.min() == y.max():
        return float("nan")
    return float(0.5 * (pred[y == 1].mean() + (~pred[y == 0]).mean()))


def brier_score(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared difference between probability and outcome (lower is better).

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
    p : ndarray of shape (n_samples,)
        Probabilities of class 1 in [0, 1].

    Returns
    -------
    brier : float
    """
    y = np.asarray(y, float)
    return float(np.mean((np.asarray(p, float) - y) ** 2))


def _logistic_fit(lp: np.ndarray, y: np.ndarray, *, offset: bool) -> np.ndarray:
    """Newton-Raphson fit of ``logit P(y=1) = a + b lp`` (or ``a + lp`` with ``offset``)."""
    X = np.column_stack([np.ones_like(lp)] + ([] if offset else [lp]))
    off = lp if offset else 0.0
    beta = np.zeros(X.shape[1])
    for _ in range(50):
        eta = X @ beta + off
        mu = 1.0 / (1.0 + np.exp(-eta))
        w = np.maximum(mu * (1 - mu), _EPS)
        grad = X.T @ (y - mu)
        hess = X.T @ (X * w[:, None])
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            return np.full(X.shape[1], np.nan)
        beta += step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta


def calibration_slope_intercept(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Calibration slope and calibration-in-the-large intercept of probabilities.

    The slope ``b`` comes from the logistic regression ``logit P(y=1) = a + b logit(p)``
    (1 is ideal; < 1 means predictions too extreme, i.e. over-fitting). The intercept is
    ``a`` of ``logit P(y=1) = a + logit(p)`` with the slope fixed to 1 (0 is ideal;
    > 0 means risks are under-estimated on average).

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Labels 0/1.
    p : ndarray of shape (n_samples,)
        Probabilities of class 1; clipped to [1e-6, 1 - 1e-6].

    Returns
    -------
    slope, intercept : float
        NaN when ``y`` holds one class or the fit does not exist (perfect separation,
        constant predictions).
    """
    y = np.asarray(y, float)
    p = np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    if y.min() == y.max():
        return float("nan"), float("nan")
    lp = np.log(p / (1 - p))
    with np.errstate(over="ignore", invalid="ignore"):
        slope = _logistic_fit(lp, y, offset=False)[-1] if np.ptp(lp) > 1e-9 else np.nan
        intercept = _logistic_fit(lp, y, offset=True)[0]
    ok = lambda v: float(v) if np.isfinite(v) and abs(v) < 1e6 else float("nan")  # noqa: E731
    return ok(slope), ok(intercept)


def classification_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC, balanced accuracy, Brier score and calibration of one set of predictions.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Labels 0/1.
    p : ndarray of shape (n_samples,)
        Probabilities of class 1.

    Returns
    -------
    metrics : dict of str to float
        Keys ``auc``, ``balanced_accuracy``, ``brier``, ``calibration_slope``,
        ``calibration_intercept``.
    """
    slope, intercept = calibration_slope_intercept(y, p)
    return {
        "auc": roc_auc(y, p),
        "balanced_accuracy": balanced_accuracy(y, p),
        "brier": brier_score(y, p),
        "calibration_slope": slope,
        "calibration_intercept": intercept,
    }


def bootstrap_indices(y: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Class-stratified bootstrap resamples of sample indices.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Strata (class labels); each resample keeps the class counts.
    n_boot : int
        Number of resamples.
    seed : int
        Seed of the random generator.

    Returns
    -------
    idx : ndarray of shape (n_boot, n_samples) of int
    """
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    parts = []
    for cls in np.unique(y):
        members = np.flatnonzero(y == cls)
        parts.append(members[rng.integers(0, members.size, size=(n_boot, members.size))])
    return np.concatenate(parts, axis=1)


def bootstrap_metrics(
    y: np.ndarray, p: np.ndarray, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, dict]:
    """Repeat-averaged metrics with percentile-bootstrap confidence intervals.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Labels 0/1.
    p : ndarray of shape (n_repeats, n_samples) or (n_samples,)
        Out-of-fold probabilities of class 1, one row per CV repeat.
    n_boot : int, default=1000
        Bootstrap resamples of patients (see module notes).
    seed : int, default=0
    level : float, default=0.95
        Coverage of the interval.

    Returns
    -------
    metrics : dict
        For each metric of :func:`classification_metrics`:
        ``{"mean": float, "ci95": [low, high], "per_repeat": [float, ...]}``.
    """
    y = np.asarray(y).astype(int)
    p = np.atleast_2d(np.asarray(p, float))
    per = [classification_metrics(y, row) for row in p]
    idx = bootstrap_indices(y, n_boot, seed)
    yb = y[idx]
    alpha = (1 - level) / 2
    out: dict[str, dict] = {}
    # AUC, Brier and balanced accuracy are vectorised over resamples; calibration loops.
    boots: dict[str, np.ndarray] = {}
    boots["auc"] = np.mean([auc_matrix(yb, row[idx]) for row in p], axis=0)
    boots["brier"] = np.mean([np.mean((row[idx] - yb) ** 2, axis=1) for row in p], axis=0)
    bacc = []
    for row in p:
        pred = row[idx] >= 0.5
        sens = (pred & (yb == 1)).sum(1) / (yb == 1).sum(1)
        spec = (~pred & (yb == 0)).sum(1) / (yb == 0).sum(1)
        bacc.append(0.5 * (sens + spec))
    boots["balanced_accuracy"] = np.mean(bacc, axis=0)
    n_cal = min(n_boot, 200)
    cal = np.array([[calibration_slope_intercept(yb[b], row[idx[b]]) for b in range(n_cal)]
                    for row in p])  # (n_repeats, n_cal, 2)
    # a resample where the calibration fit is undefined in every repeat gives NaN (dropped
    # from the interval below) rather than numpy's "Mean of empty slice" warning
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        boots["calibration_slope"] = np.nanmean(cal[:, :, 0], axis=0) if cal.size else np.array([])
        boots["calibration_intercept"] = np.nanmean(cal[:, :, 1], axis=0) if cal.size else np.array([])
    for key in per[0]:
        values = np.array([m[key] for m in per])
        b = boots[key][np.isfinite(boots[key])]
        ci = ([float(np.quantile(b, alpha)), float(np.quantile(b, 1 - alpha))]
              if b.size else [float("nan"), float("nan")])
        out[key] = {
            "mean": float(np.nanmean(values)) if np.isfinite(values).any() else float("nan"),
            "ci95": ci,
            "per_repeat": [float(v) for v in values],
        }
    return out
