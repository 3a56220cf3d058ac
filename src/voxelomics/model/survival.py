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

Confidence intervals are percentile bootstraps over patients of the repeat-averaged
metric, as for classification (see :mod:`voxelomics.model.metrics`).

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

__all__ = ["event_field", "time_field", "harrell_c", "uno_c", "time_dependent_auc", "survival_metrics", "logrank_split"]


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
        NaN when no pair is comparable (no event).
    """
    from sksurv.metrics import concordance_index_censored

    if not _ev(y).any():
        return float("nan")
    return float(concordance_index_censored(_ev(y), _tm(y), risk)[0])


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


def survival_metrics(
    y: np.ndarray, risk: np.ndarray, *, n_boot: int = 200, seed: int = 0, level: float = 0.95
) -> dict[str, dict]:
    """Repeat-averaged survival metrics with percentile-bootstrap intervals.

    Parameters
    ----------
    y : structured ndarray of shape (n_samples,)
    risk : ndarray of shape (n_repeats, n_samples) or (n_samples,)
        Out-of-fold risk scores, one row per CV repeat.
    n_boot : int, default=200
        Bootstrap resamples of patients (stratified on the event indicator).
    seed : int, default=0
    level : float, default=0.95

    Returns
    -------
    metrics : dict
        ``c_index`` (Harrell), ``uno_c_index`` and ``td_auc``, each
        ``{"mean": float, "ci95": [low, high], "per_repeat": [...]}``.
    """
    from voxelomics.model.metrics import bootstrap_indices

    risk = np.atleast_2d(np.asarray(risk, float))
    fns = {
        "c_index": lambda yy, rr: harrell_c(yy, rr),
        "uno_c_index": lambda yy, rr: uno_c(yy, rr, y_train=y),
        "td_auc": lambda yy, rr: time_dependent_auc(yy, rr, times=_auc_times(y), y_train=y)[0],
    }
    idx = bootstrap_indices(_ev(y).astype(int), n_boot, seed)
    alpha = (1 - level) / 2
    out = {}
    for key, fn in fns.items():
        per = np.array([fn(y, row) for row in risk])
        boot = []
        for b in idx:  # a resample that cannot be scored (e.g. no comparable pair) is skipped
            vals = np.array([fn(y[b], row[b]) for row in risk], dtype=float)
            if np.isfinite(vals).any():
                boot.append(float(np.nanmean(vals)))
        boot = np.asarray(boot)
        ci = ([float(np.quantile(boot, alpha)), float(np.quantile(boot, 1 - alpha))]
              if boot.size else [float("nan"), float("nan")])
        out[key] = {
            "mean": float(np.nanmean(per)) if np.isfinite(per).any() else float("nan"),
            "ci95": ci,
            "per_repeat": [float(v) for v in per],
        }
    return out


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
