"""Figures written next to the metrics: ROC with a CI band, calibration, Kaplan-Meier,
the model against its comparators, and the permutation test's null distribution.

Matplotlib is used with the non-interactive Agg backend; every function writes one
PNG and returns its path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voxelomics.model.survival import event_field as _ev
from voxelomics.model.survival import time_field as _tm

__all__ = ["plot_roc", "plot_calibration", "plot_km", "plot_comparators",
           "plot_null_distribution"]


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _roc_curve(y, p, grid):
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    return np.interp(grid, fpr, tpr, left=0.0)


def plot_roc(
    y: np.ndarray, p: np.ndarray, path: str | Path, *, n_boot: int = 200, seed: int = 0,
    title: str = "ROC (out-of-fold)", groups=None,
) -> Path:
    """ROC curve of pooled predictions with a 95% percentile-bootstrap band.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Labels 0/1.
    p : ndarray of shape (n_repeats, n_samples) or (n_samples,)
        Probabilities; the curve is the mean over repeats of the interpolated TPR.
    path : str or Path
        Output PNG.
    n_boot : int, default=200
        Patient resamples for the band.
    seed : int, default=0
    title : str
        "ROC (out-of-fold)" for cross-validation, "ROC (external validation)" for
        ``model validate``.
    groups : array-like of shape (n_samples,) or None
        Patient of each row; the band resamples whole patients.

    Returns
    -------
    path : Path
    """
    from voxelomics.model.metrics import bootstrap_indices, roc_auc

    plt = _plt()
    y = np.asarray(y).astype(int)
    p = np.atleast_2d(np.asarray(p, float))
    grid = np.linspace(0, 1, 101)
    mean_tpr = np.mean([_roc_curve(y, row, grid) for row in p], axis=0)
    idx = [b for b in bootstrap_indices(y, n_boot, seed, groups=groups)
           if 0 < y[b].sum() < len(b)]  # a resample needs both classes for a curve
    boots = np.array([np.mean([_roc_curve(y[b], row[b], grid) for row in p], axis=0) for b in idx])
    lo, hi = np.quantile(boots, [0.025, 0.975], axis=0)
    auc = np.mean([roc_auc(y, row) for row in p])
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.fill_between(grid, lo, hi, alpha=0.25, label="95% bootstrap band")
    ax.plot(grid, mean_tpr, lw=2, label=f"AUC = {auc:.3f}")
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title=title, xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_calibration(
    y: np.ndarray, p: np.ndarray, path: str | Path, *, n_bins: int = 5,
    title: str = "Calibration (out-of-fold)",
) -> Path:
    """Calibration curve: observed event rate against mean predicted probability.

    Bins are quantiles of the predictions (equal counts); predictions of all repeats
    are pooled.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
    p : ndarray of shape (n_repeats, n_samples) or (n_samples,)
    path : str or Path
    n_bins : int, default=5
    title : str

    Returns
    -------
    path : Path
    """
    from sklearn.calibration import calibration_curve

    plt = _plt()
    p = np.atleast_2d(np.asarray(p, float))
    yy = np.tile(np.asarray(y).astype(int), p.shape[0])
    frac, mean_pred = calibration_curve(yy, p.ravel(), n_bins=n_bins, strategy="quantile")
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="ideal")
    ax.plot(mean_pred, frac, marker="o", lw=2, label="model")
    ax.set(xlabel="mean predicted probability", ylabel="observed fraction of class 1",
           title=title, xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_km(
    y: np.ndarray, risk: np.ndarray, path: str | Path, *,
    title: str = "Kaplan-Meier by predicted risk",
) -> tuple[Path, float]:
    """Kaplan-Meier curves of the high- and low-risk halves (median split) with log-rank p.

    Parameters
    ----------
    y : structured ndarray of shape (n_samples,)
        Fields ``event`` and ``time``.
    risk : ndarray of shape (n_repeats, n_samples) or (n_samples,)
        Risk scores; averaged over repeats before the split.
    path : str or Path
    title : str

    Returns
    -------
    path : Path
    p_value : float
        Log-rank p-value of the split.
    """
    from sksurv.nonparametric import kaplan_meier_estimator

    from voxelomics.model.survival import logrank_split

    plt = _plt()
    r = np.atleast_2d(np.asarray(risk, float)).mean(axis=0)
    high, p_value = logrank_split(y, r)
    fig, ax = plt.subplots(figsize=(5, 4))
    for mask, label in ((~high, "low risk"), (high, "high risk")):
        if mask.any():
            t, s = kaplan_meier_estimator(_ev(y)[mask], _tm(y)[mask])
            ax.step(t, s, where="post", label=f"{label} (n={int(mask.sum())})")
    ax.set(xlabel="time", ylabel="survival probability", ylim=(0, 1.02),
           title=f"{title}\nlog-rank p = {p_value:.3g}")
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path), p_value


def plot_comparators(metrics: dict, key: str, path: str | Path, *,
                     title: str = "Model against comparators (same folds)") -> Path:
    """The model's metric beside each comparator's, and their paired differences.

    Left: the metric (AUC, C-index or R²) of the model and of each comparator with its
    95% interval (dashed: chance, 0.5 or R² = 0); right: the paired difference model -
    comparator with its 95% interval (a dashed line at 0: to the right, the model is better).

    Parameters
    ----------
    metrics : dict
        ``metrics.json`` content with ``key`` and ``comparators``.
    key : {"auc", "c_index", "r2"}
    path : str or Path
    title : str

    Returns
    -------
    path : Path
    """
    plt = _plt()
    comps = {k: v for k, v in metrics.get("comparators", {}).items() if key in v}
    names = ["model"] + list(comps)
    means = [metrics[key]["mean"]] + [comps[n][key]["mean"] for n in comps]
    cis = [metrics[key]["ci95"]] + [comps[n][key]["ci95"] for n in comps]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8.5, 1.2 + 0.45 * len(names)), sharey=True)
    ypos = np.arange(len(names))[::-1]
    for yy, m, (lo, hi) in zip(ypos, means, cis, strict=True):
        a1.errorbar(m, yy, xerr=[[m - lo], [hi - m]], fmt="o", capsize=3,
                    color="C0" if yy == ypos[0] else "C1")
    a1.axvline(0.0 if key == "r2" else 0.5, ls="--", c="grey", lw=1)
    a1.set(yticks=ypos, yticklabels=names, xlabel=key.replace("_", "-"))
    for yy, n in zip(ypos[1:], comps, strict=True):
        d = comps[n].get("difference", {}).get(key)
        if d is None:
            continue
        lo, hi = d["ci95"]
        better = np.isfinite(lo) and lo > 0
        a2.errorbar(d["mean"], yy, xerr=[[d["mean"] - lo], [hi - d["mean"]]], fmt="o",
                    capsize=3, color="C2" if better else "C3")
    a2.axvline(0.0, ls="--", c="grey", lw=1)
    a2.set(xlabel=f"model - comparator ({key.replace('_', '-')})")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_null_distribution(null: list[float], observed: float, p_value: float,
                           path: str | Path) -> Path:
    """Histogram of the permutation test's null AUCs with the observed AUC.

    Parameters
    ----------
    null : list of float
        Nested-CV AUC of each label permutation.
    observed : float
        Nested-CV AUC on the true labels.
    p_value : float
    path : str or Path

    Returns
    -------
    path : Path
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.hist(null, bins=max(5, min(30, len(null) // 2)), color="grey", alpha=0.7,
            label=f"shuffled labels (n={len(null)})")
    ax.axvline(observed, color="C3", lw=2, label=f"observed AUC = {observed:.3f}")
    ax.axvline(0.5, ls="--", c="k", lw=1)
    ax.set(xlabel="nested-CV AUC", ylabel="permutations",
           title=f"Permutation test: p = {p_value:.3g}")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
