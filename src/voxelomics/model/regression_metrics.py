"""Metrics of continuous predictions and their bootstrap confidence intervals.

A model of a continuous target (a gene-expression level, a cell density, a dose) is
judged on its out-of-fold (or external) predictions ``p`` of the observed values ``y``:

- **R²** ``= 1 - sum (y - p)^2 / sum (y - mean(y))^2``: the share of the target's variance
  the predictions explain, with the predictions *as they are* (not refitted: a biased or
  wrongly scaled prediction loses R², and R² < 0 means worse than predicting the mean);
- **Spearman's rho** of ``y`` and ``p`` (rank correlation: does the score order patients
  as the target does, whatever its scale?);
- **MAE** ``= mean |y - p|`` and **RMSE** ``= sqrt(mean (y - p)^2)``, in the target's units.

Confidence intervals are percentile bootstraps over patients, as for the classification
metrics (:mod:`voxelomics.model.metrics`): patients are drawn with replacement (whole
patients with groups), each metric is recomputed on every CV repeat's predictions of the
resampled patients and averaged over repeats, and the 2.5th and 97.5th percentiles of the
averages are the interval. Resamples are multiplicities (how often each row is drawn), so
every metric is computed for all resamples at once: the weighted R², MAE and RMSE are the
plain formulas with row weights; Spearman's rho of a resample is the weighted Pearson
correlation of the *mid-ranks within the resample* (a row drawn ``w`` times is ``w`` tied
values), which equals :func:`scipy.stats.spearmanr` of the expanded resample (tested).
Their coverage is tested on simulated cohorts with a known population value
(``tests/model/test_regression_metrics.py``).

References
----------
Efron B, Tibshirani R. An Introduction to the Bootstrap. Chapman & Hall, 1993, ch. 13.
Field CA, Welsh AH. Bootstrapping clustered data. J R Stat Soc B 69 (2007) 369-390.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["REGRESSION_KEYS", "regression_metrics", "weighted_regression_metrics",
           "weighted_spearman", "bootstrap_regression_metrics", "paired_regression_differences"]

#: Metrics of continuous predictions, in the order they are reported.
REGRESSION_KEYS = ("r2", "spearman", "mae", "rmse")
#: Metrics compared between a model and its comparators (paired differences).
DIFFERENCE_KEYS = ("r2", "spearman", "mae")


def regression_metrics(y, p) -> dict[str, float]:
    """R², Spearman's rho, MAE and RMSE of one set of predictions.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Observed values.
    p : array-like of shape (n_samples,)
        Predictions in the same units.

    Returns
    -------
    metrics : dict of str to float
        ``r2`` (NaN when ``y`` is constant), ``spearman`` (NaN when ``y`` or ``p`` is
        constant), ``mae``, ``rmse``.
    """
    y = np.asarray(y, float)
    p = np.asarray(p, float)
    resid = y - p
    sst = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid ** 2)) / sst if sst > 0 else float("nan")
    if np.ptp(y) > 0 and np.ptp(p) > 0:
        rho = float(stats.spearmanr(y, p).statistic)
    else:
        rho = float("nan")
    return {"r2": r2, "spearman": rho, "mae": float(np.mean(np.abs(resid))),
            "rmse": float(np.sqrt(np.mean(resid ** 2)))}


def _midranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mid-ranks of ``values`` in every weighted resample: (n_boot, n_samples)."""
    order = np.argsort(values, kind="stable")
    v = values[order]
    w = weights[:, order]
    starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
    tie_w = np.add.reduceat(w, starts, axis=1)              # weight of each distinct value
    below = np.cumsum(tie_w, axis=1) - tie_w
    group_rank = below + (tie_w + 1.0) / 2.0                 # mid-rank of each distinct value
    sizes = np.diff(np.r_[starts, v.size])
    ranks_sorted = np.repeat(group_rank, sizes, axis=1)
    out = np.empty_like(ranks_sorted)
    out[:, order] = ranks_sorted
    return out


def weighted_spearman(y, p, weights) -> np.ndarray:
    """Spearman's rho of ``y`` and ``p`` under many row weightings (bootstrap multiplicities).

    Parameters
    ----------
    y, p : array-like of shape (n_samples,)
    weights : ndarray of shape (n_boot, n_samples)
        Non-negative integer multiplicities.

    Returns
    -------
    rho : ndarray of shape (n_boot,)
        Equal to :func:`scipy.stats.spearmanr` of the expanded resample; NaN where ``y``
        or ``p`` takes one value in the resample.
    """
    w = np.asarray(weights, float)
    ry = _midranks(np.asarray(y, float), w)
    rp = _midranks(np.asarray(p, float), w)
    tot = w.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        my = (w * ry).sum(1, keepdims=True) / tot
        mp = (w * rp).sum(1, keepdims=True) / tot
        cov = (w * (ry - my) * (rp - mp)).sum(1)
        vy = (w * (ry - my) ** 2).sum(1)
        vp = (w * (rp - mp) ** 2).sum(1)
        rho = cov / np.sqrt(vy * vp)
    return np.where((vy > 1e-12) & (vp > 1e-12), rho, np.nan)


def weighted_regression_metrics(y, p, weights) -> dict[str, np.ndarray]:
    """Every metric of :func:`regression_metrics` under many row weightings.

    Parameters
    ----------
    y, p : array-like of shape (n_samples,)
    weights : ndarray of shape (n_boot, n_samples)

    Returns
    -------
    metrics : dict of str to ndarray of shape (n_boot,)
    """
    y = np.asarray(y, float)
    p = np.asarray(p, float)
    w = np.asarray(weights, float)
    tot = w.sum(axis=1)
    resid = y - p
    with np.errstate(invalid="ignore", divide="ignore"):
        ybar = (w @ y) / tot
        sst = (w * (y[None, :] - ybar[:, None]) ** 2).sum(1)
        sse = w @ (resid ** 2)
        r2 = np.where(sst > 1e-12 * np.maximum(1.0, sse), 1.0 - sse / sst, np.nan)
        mae = (w @ np.abs(resid)) / tot
        rmse = np.sqrt(sse / tot)
    return {"r2": r2, "spearman": weighted_spearman(y, p, w), "mae": mae, "rmse": rmse}


def _boot(y, p2d, weights) -> dict[str, np.ndarray]:
    """``{key: (n_repeats, n_boot)}``."""
    rows = [weighted_regression_metrics(y, row, weights) for row in p2d]
    return {k: np.asarray([r[k] for r in rows]) for k in REGRESSION_KEYS}


def bootstrap_regression_metrics(y, p, *, n_boot: int = 1000, seed: int = 0,
                                 level: float = 0.95, groups=None) -> dict[str, dict]:
    """Repeat-averaged regression metrics with percentile-bootstrap intervals over patients.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Observed values.
    p : ndarray of shape (n_repeats, n_samples) or (n_samples,)
        Out-of-fold predictions, one row per CV repeat (or one external prediction).
    n_boot : int, default=1000
        Bootstrap resamples of patients (plain, not stratified).
    seed : int, default=0
    level : float, default=0.95
    groups : array-like of shape (n_samples,) or None, default=None
        Patient of each row: whole patients are resampled.

    Returns
    -------
    metrics : dict
        For each of :data:`REGRESSION_KEYS`: ``{"mean", "ci95": [low, high],
        "per_repeat": [...], "n_boot"}`` (resamples where the metric was defined).
    """
    from voxelomics.model.metrics import _interval, _repeat_mean, bootstrap_weights

    y = np.asarray(y, float)
    p = np.atleast_2d(np.asarray(p, float))
    per = [regression_metrics(y, row) for row in p]
    weights = bootstrap_weights(y.size, n_boot, seed, groups=groups)
    boots = _boot(y, p, weights)
    out: dict[str, dict] = {}
    for key in REGRESSION_KEYS:
        values = np.array([m[key] for m in per])
        ci, n_ok = _interval(_repeat_mean(boots[key]), level)
        out[key] = {"mean": float(np.nanmean(values)) if np.isfinite(values).any() else float("nan"),
                    "ci95": ci, "per_repeat": [float(v) for v in values], "n_boot": n_ok}
    return out


def paired_regression_differences(y, p_model, others: dict, *, n_boot: int = 1000,
                                  seed: int = 0, level: float = 0.95, groups=None,
                                  keys=DIFFERENCE_KEYS) -> dict[str, dict]:
    """Differences model - comparator of regression metrics, on the same resamples.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
    p_model : ndarray of shape (n_repeats, n_samples) or (n_samples,)
    others : dict of str to ndarray of shape (n_repeats, n_samples) or (n_samples,)
        Each comparator's predictions of the same rows (and folds).
    n_boot, seed, level, groups
        As for :func:`bootstrap_regression_metrics`.
    keys : tuple of str, default=("r2", "spearman", "mae")

    Returns
    -------
    differences : dict
        Comparator -> ``{key: {"mean", "ci95", "per_repeat", "p_value", "n_boot"}}``; a
        positive difference of R² or rho and a negative one of MAE favour the model. The
        p-value is the two-sided bootstrap p-value of no difference,
        ``2 (1 + m) / (1 + B)`` (as in :func:`voxelomics.model.metrics.paired_difference`).
    """
    from voxelomics.model.metrics import _paired_summary, bootstrap_weights

    y = np.asarray(y, float)
    a = np.atleast_2d(np.asarray(p_model, float))
    weights = bootstrap_weights(y.size, n_boot, seed, groups=groups)
    ba = _boot(y, a, weights)
    per_a = [regression_metrics(y, row) for row in a]
    result = {}
    for name, p_other in others.items():
        b = np.atleast_2d(np.asarray(p_other, float))
        bb = _boot(y, b, weights)
        per_b = [regression_metrics(y, row) for row in b]
        result[name] = _paired_summary(per_a, per_b, ba, bb, keys, level)
    return result
