"""Figures of continuous targets and transferred scores.

- :func:`plot_observed_predicted`: observed against predicted values (mean over CV
  repeats), the identity line and the least-squares line, with R², Spearman's rho and MAE;
- :func:`plot_score_by_class`: the score of each patient by class of a binary outcome,
  with the AUC and its 95% CI;
- :func:`plot_km_score_groups`: Kaplan-Meier curves of the low- and high-score groups of
  the training cut-off, with the log-rank p-value, the hazard ratios and the numbers at
  risk under the axis.

Matplotlib with the Agg backend; each function writes one PNG and returns its path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_observed_predicted", "plot_score_by_class", "plot_km_score_groups"]


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _fmt_ci(entry: dict | None, digits: int = 2) -> str:
    if not entry or entry.get("ci95") is None:
        return ""
    lo, hi = entry["ci95"]
    return f" ({lo:.{digits}f} to {hi:.{digits}f})"


def plot_observed_predicted(y, p, path: str | Path, *, groups=None, metrics: dict | None = None,
                            title: str = "Observed vs predicted (out-of-fold)") -> Path:
    """Observed against predicted values of a continuous target.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Observed values.
    p : ndarray of shape (n_repeats, n_samples) or (n_samples,)
        Predictions (averaged over CV repeats for the points).
    path : str or Path
        Output PNG.
    groups : array-like or None
        Unused for drawing (kept for a common signature with the other figures).
    metrics : dict or None
        ``r2``/``spearman``/``mae`` entries with ``ci95`` to print in the legend; default:
        the point estimates computed here (mean over repeats).
    title : str

    Returns
    -------
    path : Path
    """
    from voxelomics.model.regression_metrics import regression_metrics

    plt = _plt()
    y = np.asarray(y, float)
    p2 = np.atleast_2d(np.asarray(p, float))
    pm = p2.mean(axis=0)
    per = [regression_metrics(y, row) for row in p2]
    point = {k: float(np.nanmean([m[k] for m in per])) for k in ("r2", "spearman", "mae")}
    m = metrics or {}
    text = (f"R² = {point['r2']:.3f}{_fmt_ci(m.get('r2'), 3)}\n"
            f"Spearman ρ = {point['spearman']:.3f}{_fmt_ci(m.get('spearman'), 3)}\n"
            f"MAE = {point['mae']:.3g}{_fmt_ci(m.get('mae'), 3)}")
    fig, ax = plt.subplots(figsize=(4.8, 4.6))
    ax.scatter(pm, y, s=14, alpha=0.7, edgecolor="none")
    lo = float(np.nanmin([y.min(), pm.min()]))
    hi = float(np.nanmax([y.max(), pm.max()]))
    pad = 0.04 * (hi - lo or 1.0)
    grid = np.array([lo - pad, hi + pad])
    ax.plot(grid, grid, ls="--", c="grey", lw=1, label="identity")
    if np.ptp(pm) > 0:
        slope, icept = np.polyfit(pm, y, 1)
        ax.plot(grid, icept + slope * grid, c="C1", lw=1.5,
                label=f"least squares (slope {slope:.2f})")
    ax.set(xlabel="predicted" + (" (mean over CV repeats)" if p2.shape[0] > 1 else ""),
           ylabel="observed", title=title, xlim=tuple(grid), ylim=tuple(grid))
    ax.text(0.02, 0.98, text, transform=ax.transAxes, va="top", ha="left", fontsize=8,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.8"})
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_score_by_class(score, labels, binary: dict, path: str | Path, *, name: str = "score") -> Path:
    """The score of each patient by class of a binary outcome (box and points).

    Parameters
    ----------
    score : array-like of shape (n_samples,)
    labels : array-like of str of shape (n_samples,)
        Class of each patient.
    binary : dict
        The ``binary`` section of the score validation (``classes``, ``auc``,
        ``mann_whitney_p``).
    path : str or Path
    name : str, default="score"

    Returns
    -------
    path : Path
    """
    plt = _plt()
    s = np.asarray(score, float)
    labels = np.asarray(labels).astype(str)
    classes = binary["classes"]
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    data = [s[labels == c] for c in classes]
    ax.boxplot(data, widths=0.5, showfliers=False)
    ax.set_xticks([1, 2], labels=[f"{c}\n(n={len(d)})" for c, d in zip(classes, data, strict=True)])
    rng = np.random.default_rng(0)
    for i, d in enumerate(data, start=1):
        ax.scatter(i + rng.uniform(-0.12, 0.12, d.size), d, s=10, alpha=0.6)
    auc = binary["auc"]
    ax.set_ylabel(name)
    ax.set_title(f"{name} by {binary.get('target', 'class')}\nAUC {auc['mean']:.3f}"
                 f"{_fmt_ci(auc, 3)}\nMann-Whitney p = {binary['mann_whitney_p']:.3g}",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_km_score_groups(time, event, high, survival: dict, path: str | Path, *,
                         name: str = "score") -> Path:
    """Kaplan-Meier curves of the score groups of the training cut-off, numbers at risk.

    Parameters
    ----------
    time : array-like of shape (n_samples,)
    event : array-like of shape (n_samples,)
    high : array-like of bool of shape (n_samples,)
        ``score > cutoff``.
    survival : dict
        The ``survival`` section of the score validation (``cutoff``, ``logrank``,
        ``hr_high_vs_low``, ``hr_per_sd``, ``at_risk``).
    path : str or Path
    name : str, default="score"

    Returns
    -------
    path : Path
    """
    from sksurv.nonparametric import kaplan_meier_estimator

    plt = _plt()
    t = np.asarray(time, float)
    e = np.asarray(event).astype(bool)
    high = np.asarray(high).astype(bool)
    fig, (ax, tab) = plt.subplots(2, 1, figsize=(5.4, 5.0), sharex=True,
                                  gridspec_kw={"height_ratios": [4, 1]})
    colours = {"low": "C0", "high": "C3"}
    for label, mask in (("low", ~high), ("high", high)):
        if not mask.any():
            continue
        tt, ss = kaplan_meier_estimator(e[mask], t[mask])
        tt, ss = np.r_[0.0, tt], np.r_[1.0, ss]
        ax.step(tt, ss, where="post", lw=2, color=colours[label],
                label=f"{label} {name} (n={int(mask.sum())}, {int(e[mask].sum())} events)")
    lr = survival.get("logrank") or {}
    hr = survival.get("hr_high_vs_low") or {}
    sd = survival.get("hr_per_sd") or {}
    lines = [f"cut-off {survival['cutoff']:.4g} (training cohort)"]
    if lr:
        lines.append(f"log-rank p = {lr['p_value']:.3g}")
    if hr:
        lines.append(f"HR high vs low {hr['hr']:.2f}{_fmt_ci(hr)}")
    if sd:
        lines.append(f"HR per SD {sd['hr']:.2f}{_fmt_ci(sd)}")
    ax.set(ylabel="survival probability", ylim=(0, 1.03),
           title=f"Kaplan-Meier by {name} (external)\n" + "; ".join(lines[:2]))
    ax.text(0.98, 0.98, "\n".join(lines[2:]), transform=ax.transAxes, ha="right", va="top",
            fontsize=8)
    ax.legend(loc="lower left", fontsize=8)
    at = survival.get("at_risk") or {}
    rows = [g for g in ("low", "high") if at.get(g) is not None]
    for i, g in enumerate(rows):
        for tk, k in zip(at["time"], at[g], strict=True):
            tab.text(tk, len(rows) - 1 - i, str(k), ha="center", va="center", fontsize=8,
                     color=colours[g])
    tab.set_ylim(-0.5, len(rows) - 0.5)
    tab.set_yticks(range(len(rows)), labels=[f"{g} {name}" for g in reversed(rows)], fontsize=8)
    tab.set_title("numbers at risk", fontsize=8, loc="left")
    tab.set_xlabel(survival.get("time") or "time")
    tab.tick_params(axis="y", length=0)
    for side in ("top", "right", "left"):
        tab.spines[side].set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
