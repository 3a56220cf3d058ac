"""Survival metrics with bootstrap confidence intervals (scikit-survival).

Outcomes are scikit-survival structured arrays with a boolean field ``event`` and a
float field ``time`` (any time unit, the same for all rows); predictions are risk
scores (higher means earlier event).

- Harrell's C-index: :func:`sksurv.metrics.concordance_index_censored`.
- Uno's C-index: :func:`sksurv.metrics.concordance_index_ipcw`, censoring weights from
  the Kaplan-Meier estimate of the censoring distribution of the whole cohort,
  truncated at ``tau`` = the 80th percentile of observed times (IPCW weights are
  unstable in the sparse tail).
- Time-dependent (cumulative/dynamic) AUC: :func:`sksurv.metrics.cumulative_dynamic_auc`
  at the 25th, 50th and 75th percentiles of the event times; the reported value is its
  time-weighted mean.

Confidence intervals are percentile bootstraps over patients (plain, not stratified on
the event indicator; whole patients with groups) of the repeat-averaged metric, as for
classification (see :mod:`voxelomics.model.metrics`). :func:`paired_c_difference` compares
two sets of risk scores on the same resamples.

References
----------
Harrell FE et al. Evaluating the yield of medical tests. JAMA 247 (1982) 2543-2546.
Uno H et al. On the C-statistics for evaluating overall adequacy of risk prediction
procedures with censored survival data. Stat Med 30 (2011) 1105-1117.
Uno H et al. Evaluating prediction rules for t-year survivors with censored regression
models. JASA 102 (2007) 527-537.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["event_field", "time_field", "harrell_c", "weighted_harrell_c", "uno_c",
           "time_dependent_auc", "survival_metrics", "paired_c_difference", "logrank_split",
           "SURVIVAL_KEYS"]


def event_field(y: np.ndarray) -> np.ndarray:
    """Event indicator of a survival outcome (first field, scikit-survival convention).

    Parameters
    ----------
    y : structured ndarray of shape (n_samples,)
        (event, time) records, whatever the field names (``event``, ``cens``, ``Status``).

    Returns
    -------
    event : ndarray of shape (n_samples,) of bool
    """
    return np.asarray(y[y.dtype.names[0]], dtype=bool)


def time_field(y: np.ndarray) -> np.ndarray:
    """Survival or censoring time of a survival outcome (second field).

    Parameters
    ----------
    y : structured ndarray of shape (n_samples,)

    Returns
    -------
    time : ndarray of shape (n_samples,) of float
    """
    return np.asarray(y[y.dtype.names[1]], dtype=float)


_ev, _tm = event_field, time_field


def harrell_c(y: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's concordance index of risk scores.

    Parameters
    ----------
    y : structured ndarray of shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float).
    risk : ndarray of shape (n_samples,)
        Higher means earlier event.

    Returns
    -------
    c : float
        NaN when no pair is comparable (no event) or a score is missing.
    """
    from sksurv.metrics import concordance_index_censored

    risk = np.asarray(risk, float)
    if not _ev(y).any() or not np.isfinite(risk).all():
        return float("nan")
    try:
        return float(concordance_index_censored(_ev(y), _tm(y), risk)[0])
    except ValueError:  # no comparable pair
        return float("nan")


def _tau(y):
    return float(np.quantile(_tm(y), 0.8))


def uno_c(y: np.ndarray, risk: np.ndarray, *, y_train: np.ndarray | None = None) -> float:
    """Uno's IPCW concordance index, truncated at the 80th percentile of times.

    Parameters
    ----------
    y : structured ndarray of shape (n_samples,)
    risk : ndarray of shape (n_samples,)
    y_train : structured ndarray or None
        Data for the censoring distribution (default: ``y`` itself).

    Returns
    -------
    c : float
        NaN when it cannot be estimated (no event before ``tau``).
    """
    from sksurv.metrics import concordance_index_ipcw

    y_train = y if y_train is None else y_train
    try:
        return float(concordance_index_ipcw(y_train, y, risk, tau=_tau(y_train))[0])
    except ValueError:  # no comparable pair / censoring survival reaches zero
        return float("nan")


def _auc_times(y):
    ev = _tm(y)[_ev(y)]
    t = np.unique(np.quantile(ev, [0.25, 0.5, 0.75]))
    return t[(t >= _tm(y).min()) & (t < _tm(y).max())]


def time_dependent_auc(
    y: np.ndarray, risk: np.ndarray, *, times: np.ndarray | None = None,
    y_train: np.ndarray | None = None,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Cumulative/dynamic AUC at a few time points and its time-weighted mean.

    Parameters
    ----------
    y : structured ndarray of shape (n_samples,)
    risk : ndarray of shape (n_samples,)
    times : ndarray of shape (n_times,) or None
        Evaluation times (same unit as the survival times); default: quartiles of event times.
    y_train : structured ndarray or None
        Data for the censoring distribution (default: ``y``).

    Returns
    -------
    mean_auc : float
        NaN when no time point is estimable.
    times : ndarray of shape (n_times,)
    auc : ndarray of shape (n_times,)
    """
    from sksurv.metrics import cumulative_dynamic_auc

    y_train = y if y_train is None else y_train
    times = _auc_times(y) if times is None else np.asarray(times, float)
    if times.size == 0:
        return float("nan"), times, np.array([])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            auc, mean = cumulative_dynamic_auc(y_train, y, risk, times)
    except ValueError:
        return float("nan"), times, np.full(times.size, np.nan)
    return float(mean), times, auc


def weighted_harrell_c(y: np.ndarray, risk: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Harrell's C-index of one risk score under many row weightings (bootstrap multiplicities).

    Pairs are comparable as in :func:`sksurv.metrics.concordance_index_censored`: row ``i``
    had an event and row ``j`` a longer time, or the same time without an event; tied
    risks (within 1e-8) count one half. A pair of rows drawn ``w_i`` and ``w_j`` times
    counts ``w_i w_j`` times, as in a resample of the rows.

    Parameters
    ----------
    y : structured ndarray of shape (n_samples,)
    risk : ndarray of shape (n_samples,)
    weights : ndarray of shape (n_boot, n_samples)

    Returns
    -------
    c : ndarray of shape (n_boot,)
        NaN where no pair is comparable or a risk is missing.
    """
    t, d = _tm(y), _ev(y)
    r = np.asarray(risk, float)
    w = np.asarray(weights, float)
    if not np.isfinite(r).all():
        return np.full(w.shape[0], np.nan)
    comp = d[:, None] & ((t[None, :] > t[:, None]) | ((t[None, :] == t[:, None]) & ~d[None, :]))
    diff = r[:, None] - r[None, :]
    conc = np.where(np.abs(diff) <= 1e-8, 0.5, (diff > 0).astype(float)) * comp
    num = ((w @ conc) * w).sum(axis=1)
    den = ((w @ comp.astype(float)) * w).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


#: Survival metrics reported by :func:`survival_metrics`.
SURVIVAL_KEYS = ("c_index", "uno_c_index", "td_auc")


def survival_metrics(
    y: np.ndarray, risk: np.ndarray, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
    groups=None, keys=SURVIVAL_KEYS, n_boot_slow: int = 200,
) -> dict[str, dict]:
    """Repeat-averaged survival metrics with percentile-bootstrap intervals.

    Parameters
    ----------
    y : structured ndarray of shape (n_samples,)
    risk : ndarray of shape (n_repeats, n_samples) or (n_samples,)
        Out-of-fold risk scores, one row per CV repeat.
    n_boot : int, default=1000
        Bootstrap resamples of patients (plain, not stratified) for Harrell's C (vectorised).
    seed : int, default=0
    level : float, default=0.95
    groups : array-like of shape (n_samples,) or None, default=None
        Patient of each row; whole patients are resampled.
    keys : tuple of str, default=("c_index", "uno_c_index", "td_auc")
        Metrics to compute.
    n_boot_slow : int, default=200
        Resamples for Uno's C and the time-dependent AUC (scored one resample at a time;
        the first ``n_boot_slow`` of the same resamples).

    Returns
    -------
    metrics : dict
        ``c_index`` (Harrell), ``uno_c_index`` and ``td_auc`` (those in ``keys``), each
        ``{"mean": float, "ci95": [low, high], "per_repeat": [...], "n_boot": int}``.
    """
    from voxelomics.model.metrics import _interval, _repeat_mean, bootstrap_weights

    risk = np.atleast_2d(np.asarray(risk, float))
    weights = bootstrap_weights(len(y), n_boot, seed, groups=groups)
    fns = {
        "c_index": lambda yy, rr: harrell_c(yy, rr),
        "uno_c_index": lambda yy, rr: uno_c(yy, rr, y_train=y),
        "td_auc": lambda yy, rr: time_dependent_auc(yy, rr, times=_auc_times(y), y_train=y)[0],
    }
    out = {}
    for key in keys:
        fn = fns[key]
        per = np.array([fn(y, row) for row in risk])
        if key == "c_index":
            boot = _repeat_mean(np.array([weighted_harrell_c(y, row, weights) for row in risk]))
        else:
            boot = []
            for wb in weights[:n_boot_slow]:  # a resample that cannot be scored is skipped
                b = np.repeat(np.arange(len(y)), wb.astype(int))
                vals = np.array([fn(y[b], row[b]) for row in risk], dtype=float)
                boot.append(float(np.nanmean(vals)) if np.isfinite(vals).any() else np.nan)
            boot = np.asarray(boot)
        ci, n_ok = _interval(boot, level)
        out[key] = {
            "mean": float(np.nanmean(per)) if np.isfinite(per).any() else float("nan"),
            "ci95": ci,
            "per_repeat": [float(v) for v in per],
            "n_boot": n_ok,
        }
    return out


def paired_c_difference(
    y: np.ndarray, risk_model: np.ndarray, risk_other: np.ndarray, *, n_boot: int = 1000,
    seed: int = 0, level: float = 0.95, groups=None,
) -> dict[str, dict]:
    """Difference of Harrell's C-index between two risk scores of the same patients.

    Both are scored on the same bootstrap resamples of patients (paired bootstrap).

    Parameters
    ----------
    y : structured ndarray of shape (n_samples,)
    risk_model, risk_other : ndarray of shape (n_repeats, n_samples) or (n_samples,)
    n_boot : int, default=1000
    seed : int, default=0
    level : float, default=0.95
    groups : array-like of shape (n_samples,) or None

    Returns
    -------
    difference : dict
        ``{"c_index": {"mean", "ci95", "per_repeat", "p_value", "n_boot"}}`` (model minus
        other; p-value as in :func:`voxelomics.model.metrics.paired_difference`).
    """
    from voxelomics.model.metrics import _interval, _repeat_mean, bootstrap_weights

    a = np.atleast_2d(np.asarray(risk_model, float))
    b = np.atleast_2d(np.asarray(risk_other, float))
    per = np.array([harrell_c(y, ra) - harrell_c(y, rb) for ra, rb in zip(a, b, strict=True)])
    weights = bootstrap_weights(len(y), n_boot, seed, groups=groups)
    boot = (_repeat_mean(np.array([weighted_harrell_c(y, r, weights) for r in a]))
            - _repeat_mean(np.array([weighted_harrell_c(y, r, weights) for r in b])))
    ci, n_ok = _interval(boot, level)
    fin = boot[np.isfinite(boot)]
    tail = min(np.sum(fin <= 0), np.sum(fin >= 0))
    pval = float(min(1.0, 2 * (1 + tail) / (1 + fin.size))) if fin.size else float("nan")
    return {"c_index": {"mean": float(np.nanmean(per)) if np.isfinite(per).any() else float("nan"),
                        "ci95": ci, "per_repeat": [float(v) for v in per], "p_value": pval,
                        "n_boot": n_ok}}


def logrank_split(y: np.ndarray, risk: np.ndarray) -> tuple[np.ndarray, float]:
    """Split patients at the median risk and compare the groups with the log-rank test.

    Parameters
    ----------
    y : structured ndarray of shape (n_samples,)
    risk : ndarray of shape (n_samples,)

    Returns
    -------
    high : ndarray of shape (n_samples,) of bool
        ``risk > median(risk)``.
    p_value : float
        Log-rank p-value (NaN when one group is empty).
    """
    from sksurv.compare import compare_survival

    high = np.asarray(risk) > np.median(risk)
    if high.all() or not high.any():
        return high, float("nan")
    _, p = compare_survival(y, high.astype(int))
    return high, float(p)
