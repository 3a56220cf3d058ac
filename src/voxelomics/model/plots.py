"""Figures written next to the metrics: ROC with a CI band, calibration, Kaplan-Meier.

Matplotlib is used with the non-interactive Agg backend; every function writes one
PNG and returns its path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voxelomics.model.survival import event_field as _ev
from voxelomics.model.survival import time_field as _tm

__all__ = ["plot_roc", "plot_calibration", "plot_km"]


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
    title: str = "ROC (out-of-fold)",
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
    idx = bootstrap_indices(y, n_boot, seed)
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
