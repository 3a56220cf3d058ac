"""Performance metrics of binary classifiers and their bootstrap confidence intervals.

Confidence intervals
--------------------
Cross-validation yields, for every repeat ``r`` of the outer loop, one out-of-fold
probability per patient. The point estimate of a metric is its mean over repeats
(each repeat's metric computed on the pooled out-of-fold predictions of that repeat).
The 95% interval is a *percentile bootstrap over patients*: patients are drawn with
replacement (a plain bootstrap, **not** stratified by class, so that the prevalence
varies between resamples as it varies between cohorts of the same size; with patient
groups, whole patients are drawn with all their rows), the metric is recomputed on
every repeat for the resampled patients and averaged over repeats, and the 2.5th and
97.5th percentiles of those averages are reported. A class-stratified bootstrap holds
the prevalence fixed and makes the intervals of prevalence-dependent metrics (Brier
score, calibration intercept) several times too narrow; the coverage of these
intervals is tested on simulated data with a known truth
(``tests/model/test_metrics.py``). The interval does not include the variability of
refitting the model on a different training set, so it is slightly optimistic for small
cohorts. Resamples in which a metric is undefined (one class drawn) are left out; their
count is reported (``n_boot``).

Resamples are represented as multiplicities (how often each row is drawn), so every
metric is computed for all resamples at once (:func:`weighted_auc`, a vectorised
Newton-Raphson fit for the calibration). :func:`paired_difference` scores two sets of
predictions of the same patients on the same resamples (paired bootstrap).

References
----------
Efron B, Tibshirani R. An Introduction to the Bootstrap. Chapman & Hall, 1993, ch. 13.
Field CA, Welsh AH. Bootstrapping clustered data. J R Stat Soc B 69 (2007) 369-390
(resampling whole clusters).
Van Calster B et al. Calibration: the Achilles heel of predictive analytics. BMC Med 17
(2019) 230 (calibration slope and intercept).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = [
    "auc_matrix",
    "roc_auc",
    "balanced_accuracy",
    "brier_score",
    "calibration_slope_intercept",
    "classification_metrics",
    "METRIC_KEYS",
    "bootstrap_weights",
    "bootstrap_indices",
    "bootstrap_metrics",
    "paired_difference",
    "paired_differences",
    "weighted_auc",
    "format_ci",
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


def bootstrap_weights(n: int, n_boot: int, seed: int, *, groups=None) -> np.ndarray:
    """Bootstrap resamples of patients as multiplicities (how often each row is drawn).

    A plain (non-stratified) bootstrap: ``n`` patients are drawn with replacement, so the
    class balance varies between resamples as it would between cohorts. With ``groups``
    (e.g. several lesions of one patient), whole groups are drawn: every row of a drawn
    group gets the group's multiplicity.

    Parameters
    ----------
    n : int
        Number of rows.
    n_boot : int
        Number of resamples.
    seed : int
        Seed of the random generator.
    groups : array-like of shape (n,) or None, default=None
        Group (patient) of each row; None: each row is its own patient.

    Returns
    -------
    weights : ndarray of shape (n_boot, n) of float
        Multiplicity of each row in each resample (each row of ``weights`` sums to ``n``
        without groups).
    """
    rng = np.random.default_rng(seed)
    if groups is None:
        codes, n_groups = np.arange(n), n
    else:
        _, codes = np.unique(np.asarray(groups), return_inverse=True)
        n_groups = int(codes.max()) + 1 if n else 0
    draws = rng.integers(0, n_groups, size=(n_boot, n_groups))
    counts = np.zeros((n_boot, n_groups))
    np.add.at(counts, (np.arange(n_boot)[:, None], draws), 1.0)
    return counts[:, codes]


def bootstrap_indices(y: np.ndarray, n_boot: int, seed: int, *, groups=None):
    """Bootstrap resamples of row indices (patients drawn with replacement, not stratified).

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Outcome (only its length is used).
    n_boot : int
        Number of resamples.
    seed : int
        Seed of the random generator.
    groups : array-like of shape (n_samples,) or None, default=None
        Patient of each row; whole patients are drawn.

    Returns
    -------
    idx : ndarray of shape (n_boot, n_samples) of int, or list of ndarray
        Row indices of each resample; a list of arrays (of varying length) with groups.
    """
    n = len(y)
    w = bootstrap_weights(n, n_boot, seed, groups=groups).astype(int)
    if groups is None:
        return np.stack([np.repeat(np.arange(n), row) for row in w]) if n_boot else np.empty((0, n), int)
    return [np.repeat(np.arange(n), row) for row in w]


def weighted_auc(y: np.ndarray, p: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC of one set of scores under many row weightings (bootstrap multiplicities).

    The AUC of a resample in which row ``i`` appears ``w_i`` times is
    ``sum_{i in 1, j in 0} w_i w_j [p_i > p_j + ties/2] / (W_1 W_0)``.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Labels 0/1.
    p : ndarray of shape (n_samples,)
        Scores.
    weights : ndarray of shape (n_boot, n_samples)
        Non-negative row weights.

    Returns
    -------
    auc : ndarray of shape (n_boot,)
        NaN where a weighting holds one class only.
    """
    order = np.argsort(p, kind="stable")
    ps, ys = np.asarray(p, float)[order], np.asarray(y)[order].astype(bool)
    w = np.asarray(weights, float)[:, order]
    starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
    pos = np.add.reduceat(np.where(ys, w, 0.0), starts, axis=1)
    neg = np.add.reduceat(np.where(ys, 0.0, w), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    n1, n0 = pos.sum(axis=1), neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (pos * (below + 0.5 * neg)).sum(axis=1) / (n1 * n0)
    return np.where((n1 > 0) & (n0 > 0), auc, np.nan)


def _weighted_calibration(y, p, weights, max_iter: int = 30):
    """Calibration slope and intercept of one set of probabilities under many weightings.

    Newton-Raphson on all weightings at once (2x2 or 1x1 systems).

    Returns
    -------
    slope, intercept : ndarray of shape (n_boot,)
    """
    y = np.asarray(y, float)
    lp = np.log(np.clip(p, 1e-6, 1 - 1e-6) / (1 - np.clip(p, 1e-6, 1 - 1e-6)))
    w = np.asarray(weights, float)
    nb = w.shape[0]
    # slope: logit P = a + b lp
    beta = np.zeros((nb, 2))
    ok = np.full(nb, np.ptp(lp) > 1e-9)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(max_iter):
            eta = beta[:, :1] + beta[:, 1:] * lp
            mu = 1.0 / (1.0 + np.exp(-eta))
            r = w * (y - mu)
            v = np.maximum(w * mu * (1 - mu), 0.0)
            g = np.stack([r.sum(1), (r * lp).sum(1)], axis=1)
            h00, h01, h11 = v.sum(1), (v * lp).sum(1), (v * lp * lp).sum(1)
            det = h00 * h11 - h01 ** 2
            step = np.stack([(h11 * g[:, 0] - h01 * g[:, 1]), (h00 * g[:, 1] - h01 * g[:, 0])],
                            axis=1) / det[:, None]
            step[~np.isfinite(step)] = np.inf
            done = np.abs(step).max(axis=1) < 1e-8
            beta += np.where(np.isfinite(step), step, 0.0)
            if done.all():
                break
        # no convergence (e.g. a resample whose classes are separated by lp): undefined
        slope = np.where(ok & done & (np.abs(beta[:, 1]) < 1e6), beta[:, 1], np.nan)
        # intercept: logit P = a + lp (slope fixed to 1)
        a = np.zeros(nb)
        for _ in range(max_iter):
            mu = 1.0 / (1.0 + np.exp(-(a[:, None] + lp)))
            g = (w * (y - mu)).sum(1)
            h = (w * mu * (1 - mu)).sum(1)
            step = g / h
            done_a = np.abs(step) < 1e-8
            a += np.where(np.isfinite(step), step, 0.0)
            if done_a.all():
                break
        intercept = np.where(done_a & (np.abs(a) < 1e6), a, np.nan)
    # a resample holding one class has no calibration
    wy = (w * y).sum(1)
    one_class = (wy <= 0) | (wy >= w.sum(1))
    slope[one_class] = np.nan
    intercept[one_class] = np.nan
    return slope, intercept


def _boot_matrix(y, p, weights) -> dict[str, np.ndarray]:
    """Every metric under every weighting, for every repeat: ``{key: (n_repeats, n_boot)}``."""
    y = np.asarray(y).astype(int)
    w = np.asarray(weights, float)
    tot = w.sum(1)
    out: dict[str, list] = {k: [] for k in METRIC_KEYS}
    yf = y.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        for row in p:
            out["auc"].append(weighted_auc(y, row, w))
            out["brier"].append(w @ ((row - yf) ** 2) / tot)
            pred = (row >= 0.5).astype(float)
            sens = (w @ (pred * yf)) / (w @ yf)
            spec = (w @ ((1 - pred) * (1 - yf))) / (w @ (1 - yf))
            out["balanced_accuracy"].append(0.5 * (sens + spec))
            slope, intercept = _weighted_calibration(y, row, w)
            out["calibration_slope"].append(slope)
            out["calibration_intercept"].append(intercept)
    return {k: np.asarray(v) for k, v in out.items()}


#: Classification metrics reported by :func:`bootstrap_metrics`, in order.
METRIC_KEYS = ("auc", "balanced_accuracy", "brier", "calibration_slope", "calibration_intercept")


def _repeat_mean(values: np.ndarray) -> np.ndarray:
    """Mean over repeats (axis 0) ignoring NaN; NaN where every repeat is NaN."""
    finite = np.isfinite(values)
    cnt = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(finite, values, 0.0).sum(axis=0) / cnt
    return np.where(cnt > 0, mean, np.nan)


def _interval(boot: np.ndarray, level: float) -> tuple[list[float], int]:
    b = boot[np.isfinite(boot)]
    alpha = (1 - level) / 2
    if not b.size:
        return [float("nan"), float("nan")], 0
    return [float(np.quantile(b, alpha)), float(np.quantile(b, 1 - alpha))], int(b.size)


def bootstrap_metrics(
    y: np.ndarray, p: np.ndarray, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
    groups=None,
) -> dict[str, dict]:
    """Repeat-averaged metrics with percentile-bootstrap confidence intervals over patients.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Labels 0/1.
    p : ndarray of shape (n_repeats, n_samples) or (n_samples,)
        Out-of-fold probabilities of class 1, one row per CV repeat.
    n_boot : int, default=1000
        Bootstrap resamples of patients (plain, not stratified by class; see module notes).
    seed : int, default=0
    level : float, default=0.95
        Coverage of the interval.
    groups : array-like of shape (n_samples,) or None, default=None
        Patient of each row: whole patients are resampled (several lesions of one patient
        are not independent).

    Returns
    -------
    metrics : dict
        For each metric of :func:`classification_metrics`: ``{"mean": float, "ci95": [low,
        high], "per_repeat": [float, ...], "n_boot": int}`` (``n_boot``: resamples in which
        the metric was defined, e.g. both classes drawn).
    """
    y = np.asarray(y).astype(int)
    p = np.atleast_2d(np.asarray(p, float))
    per = [classification_metrics(y, row) for row in p]
    weights = bootstrap_weights(y.size, n_boot, seed, groups=groups)
    boots = _boot_matrix(y, p, weights)
    out: dict[str, dict] = {}
    for key in METRIC_KEYS:
        values = np.array([m[key] for m in per])
        ci, n_ok = _interval(_repeat_mean(boots[key]), level)
        out[key] = {
            "mean": float(np.nanmean(values)) if np.isfinite(values).any() else float("nan"),
            "ci95": ci,
            "per_repeat": [float(v) for v in values],
            "n_boot": n_ok,
        }
    return out


def paired_difference(
    y: np.ndarray, p_model: np.ndarray, p_other: np.ndarray, *, n_boot: int = 1000,
    seed: int = 0, level: float = 0.95, groups=None, keys=("auc", "brier"),
) -> dict[str, dict]:
    """Difference of metrics between two sets of predictions of the same patients.

    Both sets are scored on the *same* bootstrap resamples of patients (a paired
    bootstrap), so the interval reflects the correlation between the two models.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Labels 0/1.
    p_model, p_other : ndarray of shape (n_repeats, n_samples) or (n_samples,)
        Probabilities of the model and of the comparator on the same folds.
    n_boot, seed, level, groups
        As for :func:`bootstrap_metrics`.
    keys : tuple of str, default=("auc", "brier")
        Metrics to compare (any of :data:`METRIC_KEYS`).

    Returns
    -------
    difference : dict
        ``{key: {"mean": model - other, "ci95": [low, high], "per_repeat": [...],
        "p_value": float, "n_boot": int}}``; ``p_value`` is the two-sided bootstrap p-value
        of no difference: ``2 (1 + m) / (1 + B)`` with ``m`` the resampled differences on
        the smaller side of 0 and ``B`` the resamples (never 0; at most 1).
    """
    return paired_differences(y, p_model, {"other": p_other}, n_boot=n_boot, seed=seed,
                              level=level, groups=groups, keys=keys)["other"]


def paired_differences(
    y: np.ndarray, p_model: np.ndarray, others: dict, *, n_boot: int = 1000, seed: int = 0,
    level: float = 0.95, groups=None, keys=("auc", "brier"),
) -> dict[str, dict]:
    """:func:`paired_difference` of one model against several comparators at once.

    The model is scored once on the resamples, and every comparator on the same ones.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
    p_model : ndarray of shape (n_repeats, n_samples) or (n_samples,)
    others : dict of str to ndarray of shape (n_repeats, n_samples) or (n_samples,)
    n_boot, seed, level, groups, keys
        As for :func:`paired_difference`.

    Returns
    -------
    differences : dict
        Comparator name -> the output of :func:`paired_difference`.
    """
    y = np.asarray(y).astype(int)
    a = np.atleast_2d(np.asarray(p_model, float))
    weights = bootstrap_weights(y.size, n_boot, seed, groups=groups)
    ba = _boot_matrix(y, a, weights)
    per_a = [classification_metrics(y, row) for row in a]
    result = {}
    for name, p_other in others.items():
        b = np.atleast_2d(np.asarray(p_other, float))
        bb = _boot_matrix(y, b, weights)
        per_b = [classification_metrics(y, row) for row in b]
        result[name] = _paired_summary(per_a, per_b, ba, bb, keys, level)
    return result


def _paired_summary(per_a, per_b, boot_a, boot_b, keys, level) -> dict:
    """Per-metric paired difference of two models on the same resamples.

    ``per_a``/``per_b``: per-repeat metric dicts; ``boot_a``/``boot_b``: metric -> bootstrap
    matrix (n_boot, n_repeats). Returns ``{key: {"mean", "ci95", "per_repeat", "p_value",
    "n_boot"}}``, the p-value two-sided, ``2 (1 + m) / (1 + B)``; shared by the classification
    and regression comparators.
    """
    out = {}
    for key in keys:
        d = np.array([ma[key] - mb[key] for ma, mb in zip(per_a, per_b, strict=True)])
        boot = _repeat_mean(boot_a[key]) - _repeat_mean(boot_b[key])
        ci, n_ok = _interval(boot, level)
        fin = boot[np.isfinite(boot)]
        tail = min(np.sum(fin <= 0), np.sum(fin >= 0))
        pval = float(min(1.0, 2 * (1 + tail) / (1 + fin.size))) if fin.size else float("nan")
        out[key] = {"mean": float(np.nanmean(d)) if np.isfinite(d).any() else float("nan"),
                    "ci95": ci, "per_repeat": [float(v) for v in d], "p_value": pval,
                    "n_boot": n_ok}
    return out


def format_ci(ci, *, signed: bool = False, digits: int = 3) -> str:
    """A confidence interval as text, unambiguous with negative bounds.

    Parameters
    ----------
    ci : sequence of two float
        Lower and upper bound.
    signed : bool, default=False
        Always show the sign (for differences).
    digits : int, default=3

    Returns
    -------
    text : str
        ``"0.612-0.701"`` for two non-negative bounds, else ``"-0.042 to +0.031"``.
    """
    lo, hi = (float(v) for v in ci)
    fmt = f"{{:{'+' if signed else ''}.{digits}f}}"
    if not signed and lo >= 0 and hi >= 0:
        return f"{fmt.format(lo)}-{fmt.format(hi)}"
    return f"{fmt.format(lo)} to {fmt.format(hi)}"
