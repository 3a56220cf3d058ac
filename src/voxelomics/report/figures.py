"""Figures of the report: pure functions from tables and arrays to matplotlib figures.

Every figure is made in two steps so that the report can offer the numbers behind each
picture: a ``*_data`` function computes a :class:`pandas.DataFrame` (the CSV the reader
downloads), and a ``*_figure`` function draws that table and nothing else. The figure
functions return a :class:`matplotlib.figure.Figure` (Agg backend; nothing is shown or
written); the caller encodes and closes it.

Figures of the cohort and the features (distributions, correlation clustermap, selected
features) are in :mod:`voxelomics.report.feature_figures`.

Model figures are computed from out-of-fold predictions (``oof_predictions.csv`` of
``voxelomics model cv``, one column per CV repeat) or from the predictions of an external
validation, with the rules ``voxelomics model`` uses for ``metrics.json``, so the numbers
agree:

* ROC: the curve is the mean over repeats of the TPR interpolated on a 101-point FPR grid;
  the AUC is the mean over repeats of each repeat's AUC; the band is the 2.5-97.5
  percentile of the mean curve over class-stratified bootstrap resamples of patients
  (:func:`voxelomics.model.metrics.bootstrap_indices`).
* Decision curve (Vickers & Elkin 2006): net benefit
  :math:`NB(p_t) = TP/n - FP/n \\cdot p_t/(1-p_t)` of treating patients whose predicted
  probability is at least the threshold :math:`p_t`, averaged over repeats, beside
  "treat all" and "treat none" (0).
* Kaplan-Meier: risk groups split at the median of the risk score (averaged over repeats),
  as :func:`voxelomics.model.survival.logrank_split` does, with the log-rank test and the
  numbers at risk under the curves.

References
----------
Vickers AJ, Elkin EB. Decision curve analysis: a novel method for evaluating prediction
models. Med Decis Making 26 (2006) 565-574.
Kaplan EL, Meier P. Nonparametric estimation from incomplete observations. JASA 53 (1958)
457-481.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "roc_data", "roc_figure", "calibration_data", "calibration_figure",
    "decision_curve_data", "decision_curve_figure", "risk_groups", "km_data", "km_figure",
    "metric_forest_figure", "qc_overlay_figure",
]

#: Colours of the curves, in the order the report adds them (internal, external, ...).
PALETTE = ("#1f5fa8", "#d1495b", "#2e933c", "#8f5db7", "#e08e0b", "#4d4d4d")
#: Colour of the contour in QC thumbnails.
CONTOUR_COLOUR = "#ff2020"
#: CT display windows (HU): soft tissue (level 40, width 400) and lung (level -600, width 1500),
#: the latter when at least LUNG_FRACTION of a 3-voxel shell around the ROI is below -500 HU
#: (a lung nodule).
SOFT_TISSUE_WINDOW_HU = (-160.0, 240.0)
LUNG_WINDOW_HU = (-1350.0, 150.0)
LUNG_FRACTION = 0.3


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _figure(width: float, height: float):
    plt = _plt()
    return plt.figure(figsize=(width, height), dpi=100, layout="constrained")


def _as_2d(p) -> np.ndarray:
    return np.atleast_2d(np.asarray(p, dtype=float))


# ------------------------------------------------------------------------------ ROC
def roc_data(y, p, *, n_boot: int = 200, seed: int = 0) -> tuple[pd.DataFrame, float]:
    """ROC curve with a 95% bootstrap band, from predictions of one or more CV repeats.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Observed labels 0/1.
    p : array-like of shape (n_repeats, n_samples) or (n_samples,)
        Predicted probabilities of class 1 (one row per CV repeat).
    n_boot : int, default=200
        Class-stratified bootstrap resamples of patients for the band.
    seed : int, default=0
        Seed of the resampling.

    Returns
    -------
    curve : pandas.DataFrame
        Columns ``fpr`` (101-point grid on [0, 1]), ``tpr`` (mean over repeats),
        ``tpr_low`` and ``tpr_high`` (2.5 and 97.5 percentiles of the bootstrap).
    auc : float
        Mean over repeats of the AUC of each repeat (the ``auc.mean`` of ``metrics.json``).
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    from voxelomics.model.metrics import bootstrap_indices

    y = np.asarray(y).astype(int)
    p = _as_2d(p)
    grid = np.linspace(0.0, 1.0, 101)

    def mean_tpr(yy, pp):
        rows = []
        for row in pp:
            fpr, tpr, _ = roc_curve(yy, row)
            rows.append(np.interp(grid, fpr, tpr, left=0.0))
        return np.mean(rows, axis=0)

    tpr = mean_tpr(y, p)
    boots = np.array([mean_tpr(y[b], p[:, b]) for b in bootstrap_indices(y, n_boot, seed)])
    low, high = np.quantile(boots, [0.025, 0.975], axis=0)
    auc = float(np.mean([roc_auc_score(y, row) for row in p]))
    curve = pd.DataFrame({"fpr": grid, "tpr": tpr, "tpr_low": low, "tpr_high": high})
    return curve, auc


def roc_figure(curves: dict[str, tuple[pd.DataFrame, float]], *, title: str = "ROC"):
    """Draw ROC curves with their bands (e.g. internal CV beside external validation).

    Parameters
    ----------
    curves : dict of str to (DataFrame, float)
        Label to the output of :func:`roc_data`.
    title : str, default="ROC"

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    fig = _figure(4.4, 4.2)
    ax = fig.add_subplot()
    for colour, (label, (df, auc)) in zip(PALETTE, curves.items(), strict=False):
        ax.fill_between(df["fpr"], df["tpr_low"], df["tpr_high"], color=colour, alpha=0.18, lw=0)
        ax.plot(df["fpr"], df["tpr"], color=colour, lw=2, label=f"{label}: AUC {auc:.3f}")
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1.01), title=title)
    ax.legend(loc="lower right", fontsize=8, title="shaded: 95% bootstrap band", title_fontsize=7)
    return fig


# ---------------------------------------------------------------------- calibration
def calibration_data(y, p, *, n_bins: int = 5) -> pd.DataFrame:
    """Observed event rate against mean predicted probability, in quantile bins.

    Predictions of all repeats are pooled. Bin edges are the quantiles of the pooled
    predictions (equal counts, as ``sklearn.calibration.calibration_curve`` with
    ``strategy="quantile"``); empty bins are dropped.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Observed labels 0/1.
    p : array-like of shape (n_repeats, n_samples) or (n_samples,)
        Predicted probabilities of class 1.
    n_bins : int, default=5

    Returns
    -------
    table : pandas.DataFrame
        One row per bin: ``mean_predicted``, ``observed_fraction``, ``n`` (predictions in
        the bin, over all repeats).
    """
    p = _as_2d(p)
    yy = np.tile(np.asarray(y).astype(int), p.shape[0])
    pp = p.ravel()
    edges = np.percentile(pp, np.linspace(0, 100, n_bins + 1))
    which = np.searchsorted(edges[1:-1], pp, side="right")
    rows = []
    for b in range(n_bins):
        inside = which == b
        if inside.any():
            rows.append({"mean_predicted": float(pp[inside].mean()),
                         "observed_fraction": float(yy[inside].mean()), "n": int(inside.sum())})
    return pd.DataFrame(rows, columns=["mean_predicted", "observed_fraction", "n"])


def calibration_figure(curves: dict[str, pd.DataFrame], *, title: str = "Calibration"):
    """Draw calibration curves (outputs of :func:`calibration_data`) against the diagonal.

    Parameters
    ----------
    curves : dict of str to DataFrame
    title : str, default="Calibration"

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    fig = _figure(4.4, 4.2)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="ideal")
    for colour, (label, df) in zip(PALETTE, curves.items(), strict=False):
        ax.plot(df["mean_predicted"], df["observed_fraction"], marker="o", color=colour, lw=2,
                label=label)
    ax.set(xlabel="mean predicted probability", ylabel="observed fraction (positive class)",
           xlim=(0, 1), ylim=(0, 1.01), title=title)
    ax.legend(loc="upper left", fontsize=8)
    return fig


# ------------------------------------------------------------------- decision curve
def decision_curve_data(y, p, *, thresholds=None) -> pd.DataFrame:
    """Net benefit of the model, of treating all and of treating none (decision curve).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Observed labels 0/1.
    p : array-like of shape (n_repeats, n_samples) or (n_samples,)
        Predicted probabilities of class 1; the net benefit is averaged over repeats.
    thresholds : array-like or None, default=None
        Threshold probabilities :math:`p_t` in (0, 1); None: 0.01 to 0.99 by 0.01.

    Returns
    -------
    table : pandas.DataFrame
        ``threshold``, ``net_benefit`` (model), ``treat_all``, ``treat_none``.

    Notes
    -----
    :math:`NB(p_t) = TP/n - FP/n \\cdot p_t / (1 - p_t)`, a patient being treated when
    :math:`p \\geq p_t`; treat all: :math:`\\pi - (1 - \\pi) p_t/(1 - p_t)` with
    :math:`\\pi` the prevalence (Vickers & Elkin 2006).
    """
    y = np.asarray(y).astype(int)
    p = _as_2d(p)
    t = np.round(np.arange(1, 100) / 100, 2) if thresholds is None else np.asarray(thresholds, float)
    n = y.size
    odds = t / (1 - t)
    nb = []
    for row in p:
        treated = row[None, :] >= t[:, None]                      # (n_thresholds, n)
        tp = (treated & (y[None, :] == 1)).sum(axis=1) / n
        fp = (treated & (y[None, :] == 0)).sum(axis=1) / n
        nb.append(tp - fp * odds)
    prevalence = y.mean()
    return pd.DataFrame({"threshold": t, "net_benefit": np.mean(nb, axis=0),
                         "treat_all": prevalence - (1 - prevalence) * odds,
                         "treat_none": np.zeros_like(t)})


def decision_curve_figure(curves: dict[str, pd.DataFrame], *, title: str = "Decision curve"):
    """Draw decision curves (outputs of :func:`decision_curve_data`).

    "Treat all" is drawn once per curve in the curve's colour (dotted): its prevalence
    differs between cohorts.

    Parameters
    ----------
    curves : dict of str to DataFrame
    title : str, default="Decision curve"

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    fig = _figure(4.4, 4.2)
    ax = fig.add_subplot()
    top = 0.05
    for colour, (label, df) in zip(PALETTE, curves.items(), strict=False):
        ax.plot(df["threshold"], df["net_benefit"], color=colour, lw=2, label=f"{label}: model")
        ax.plot(df["threshold"], df["treat_all"], color=colour, lw=1, ls=":",
                label=f"{label}: treat all")
        top = max(top, float(np.nanmax(df["treat_all"])), float(np.nanmax(df["net_benefit"])))
    ax.axhline(0, color="black", lw=1, label="treat none")
    ax.set(xlabel="threshold probability", ylabel="net benefit", xlim=(0, 1),
           ylim=(-0.05, top * 1.1 + 0.02), title=title)
    ax.legend(loc="upper right", fontsize=7)
    return fig


# --------------------------------------------------------------------- Kaplan-Meier
def risk_groups(risk) -> np.ndarray:
    """High-risk indicator: risk above the median of the (repeat-averaged) risk score.

    Parameters
    ----------
    risk : array-like of shape (n_repeats, n_samples) or (n_samples,)
        Risk scores (higher: earlier event).

    Returns
    -------
    high : ndarray of bool of shape (n_samples,)
        The rule of :func:`voxelomics.model.survival.logrank_split`.
    """
    r = _as_2d(risk).mean(axis=0)
    return r > np.median(r)


def km_data(time, event, high) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Kaplan-Meier curves of two risk groups, numbers at risk and the log-rank test.

    Parameters
    ----------
    time : array-like of shape (n_samples,)
        Follow-up time (any unit, >= 0).
    event : array-like of shape (n_samples,)
        1 (or True) for an event, 0 for censoring.
    high : array-like of bool of shape (n_samples,)
        High-risk group membership (see :func:`risk_groups`).

    Returns
    -------
    curves : pandas.DataFrame
        ``group`` ("low risk" / "high risk"), ``time``, ``survival`` (step function values
        from time 0), ``n`` (group size).
    at_risk : pandas.DataFrame
        ``group``, ``time`` (tick times), ``n_at_risk`` (patients with follow-up >= time).
    p_value : float
        Log-rank p-value (NaN when a group is empty).
    """
    import matplotlib.ticker as mticker
    from sksurv.compare import compare_survival
    from sksurv.nonparametric import kaplan_meier_estimator

    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    high = np.asarray(high).astype(bool)
    ticks = [t for t in mticker.MaxNLocator(nbins=5, min_n_ticks=3).tick_values(0, time.max())
             if 0 <= t <= time.max()]
    rows, risk_rows = [], []
    for label, members in (("low risk", ~high), ("high risk", high)):
        if not members.any():
            continue
        t, s = kaplan_meier_estimator(event[members], time[members])
        if t[0] > 0:  # the curve starts at 1 at time 0 (unless events happen at time 0)
            t, s = np.concatenate([[0.0], t]), np.concatenate([[1.0], s])
        rows += [{"group": label, "time": float(a), "survival": float(b), "n": int(members.sum())}
                 for a, b in zip(t, s, strict=True)]
        risk_rows += [{"group": label, "time": float(tk),
                       "n_at_risk": int((time[members] >= tk).sum())} for tk in ticks]
    p_value = float("nan")
    if high.any() and (~high).any():
        y = np.array(list(zip(event, time, strict=True)), dtype=[("event", bool), ("time", float)])
        _, p_value = compare_survival(y, high.astype(int))
    return pd.DataFrame(rows), pd.DataFrame(risk_rows), float(p_value)


def km_figure(curves: pd.DataFrame, at_risk: pd.DataFrame, p_value: float, *,
              title: str = "Kaplan-Meier by predicted risk", time_unit: str = "time"):
    """Draw Kaplan-Meier curves with the log-rank p-value and a numbers-at-risk table.

    Parameters
    ----------
    curves, at_risk : pandas.DataFrame
        Outputs of :func:`km_data`.
    p_value : float
        Log-rank p-value shown in the title.
    title : str, default="Kaplan-Meier by predicted risk"
    time_unit : str, default="time"
        Label of the time axis.

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    fig = _figure(5.0, 4.6)
    ax, tab = fig.subplots(2, 1, gridspec_kw={"height_ratios": [4, 1]}, sharex=True)
    groups = list(dict.fromkeys(curves["group"]))
    colours = {"low risk": PALETTE[0], "high risk": PALETTE[1]}
    for g in groups:
        d = curves[curves["group"] == g]
        ax.step(d["time"], d["survival"], where="post", lw=2, color=colours.get(g),
                label=f"{g} (n={int(d['n'].iloc[0])})")
    ax.set(ylabel="survival probability", ylim=(0, 1.03),
           title=f"{title}\nlog-rank p = {p_value:.3g}")
    ax.legend(loc="lower left", fontsize=8)
    tab.set_ylim(-0.5, len(groups) - 0.5)
    for i, g in enumerate(groups):
        d = at_risk[at_risk["group"] == g]
        for _, r in d.iterrows():
            tab.text(r["time"], len(groups) - 1 - i, str(int(r["n_at_risk"])), ha="center",
                     va="center", fontsize=8, color=colours.get(g))
    tab.set_yticks(range(len(groups)), labels=list(reversed(groups)), fontsize=8)
    tab.set_xlabel(time_unit)
    tab.set_title("numbers at risk", fontsize=8, loc="left")
    tab.tick_params(axis="y", length=0)
    for side in ("top", "right", "left"):
        tab.spines[side].set_visible(False)
    return fig


# --------------------------------------------------------------- metrics with CIs
def metric_forest_figure(table: pd.DataFrame, *, title: str = "Performance with 95% CI"):
    """Point estimates with 95% confidence intervals, one row per model and cohort.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``label``, ``metric``, ``mean``, ``ci_low``, ``ci_high``.
    title : str, default="Performance with 95% CI"

    Returns
    -------
    figure : matplotlib.figure.Figure
        A vertical reference line at 0.5 (chance for AUC and C-index).
    """
    n = len(table)
    fig = _figure(6.0, 0.9 + 0.38 * n)
    ax = fig.add_subplot()
    ys = np.arange(n)[::-1]
    for i, (y, (_, r)) in enumerate(zip(ys, table.iterrows(), strict=True)):
        c = PALETTE[i % len(PALETTE)]
        ax.errorbar(r["mean"], y, xerr=[[r["mean"] - r["ci_low"]], [r["ci_high"] - r["mean"]]],
                    fmt="o", color=c, capsize=3)
    ax.axvline(0.5, ls="--", c="grey", lw=1)
    ax.set_yticks(ys, labels=[f"{r['label']} ({r['metric']})" for _, r in table.iterrows()],
                  fontsize=8)
    ax.set(xlim=(0, 1), xlabel="estimate (95% CI)", title=title)
    return fig


# ------------------------------------------------------------------------- QC overlay
def _display_order(direction: np.ndarray) -> tuple[list[int], list[bool]]:
    """Array axes (z, y, x) that hold physical S, P, L, and which to flip (LPS increasing)."""
    d = np.asarray(direction, float).reshape(3, 3)
    perm = [0, 1, 2]
    flips = [False, False, False]
    used = set()
    for a in range(3):                       # array axis a = ITK index axis 2 - a
        col = d[:, 2 - a]
        k = int(np.argmax(np.abs(col)))      # physical axis (0 x/L, 1 y/P, 2 z/S)
        if k in used:                        # degenerate direction: keep the array order
            return [0, 1, 2], [False, False, False]
        used.add(k)
        perm[2 - k] = a
        flips[2 - k] = col[k] < 0
    return perm, flips


def _reorient(array: np.ndarray, direction, spacing_zyx):
    perm, flips = _display_order(direction)
    out = np.transpose(array, perm)
    for ax, f in enumerate(flips):
        if f:
            out = np.flip(out, axis=ax)
    return out, tuple(float(spacing_zyx[a]) for a in perm)


def qc_overlay_figure(image: np.ndarray, mask: np.ndarray, spacing_mm, *, direction=None,
                      modality: str | None = None, window: tuple[float, float] | None = None,
                      title: str = "", margin_mm: float = 20.0):
    """Axial, coronal and sagittal slices through the ROI with its contour overlaid.

    Each view shows the slice holding the largest ROI cross-section, cropped to the ROI
    bounding box plus a margin, drawn with its physical aspect ratio and in radiological
    convention (axial: anterior up, patient's left on the right; coronal and sagittal:
    superior up). Axes are reoriented from the direction cosines to the nearest patient
    axes (LPS) first, so flipped or permuted files look the same as others.

    Parameters
    ----------
    image : ndarray of shape (z, y, x)
        Intensities (HU for CT, SUV for PET).
    mask : ndarray of bool of shape (z, y, x)
        ROI on the image grid; must hold at least one voxel.
    spacing_mm : tuple of float
        Voxel size (z, y, x) in mm.
    direction : ndarray of shape (3, 3) or None, default=None
        ITK direction cosines (columns = index axes x, y, z); None: identity.
    modality : str or None, default=None
        ``"CT"`` (grey scale, HU), ``"PT"`` (inverted grey scale, SUV), others (grey scale).
    window : (float, float) or None, default=None
        Display range in image units; None: chosen from the modality: CT in the
        soft-tissue window (-160 to 240 HU), or the lung window (-1350 to 150 HU) when at
        least 30 % of a 3-voxel shell around the ROI is below -500 HU (lung); PET from 0 to the SUVmax of the ROI (at
        least 1), so the lesion is dark and hotter neighbours saturate; others from the 1st
        to the 99th percentile of the view.
    title : str, default=""
    margin_mm : float, default=20.0
        Margin around the ROI bounding box, at least half the ROI extent.

    Returns
    -------
    figure : matplotlib.figure.Figure
    info : dict
        ``slices`` (display indices of the axial, coronal, sagittal slices), ``window``
        (the display range used) and ``units``.

    Raises
    ------
    ValueError
        An empty mask or shapes that differ.
    """
    image = np.asarray(image)
    mask = np.asarray(mask, bool)
    if image.shape != mask.shape:
        raise ValueError(f"image {image.shape} and mask {mask.shape} shapes differ")
    if not mask.any():
        raise ValueError("the mask is empty: no contour to show")
    img, sp = _reorient(image, np.eye(3) if direction is None else direction, spacing_mm)
    msk, _ = _reorient(mask, np.eye(3) if direction is None else direction, spacing_mm)
    idx = np.argwhere(msk)
    lo, hi = idx.min(axis=0), idx.max(axis=0) + 1
    sl = []
    for a in range(3):
        extent_mm = (hi[a] - lo[a]) * sp[a]
        m = int(np.ceil(max(margin_mm, 0.5 * extent_mm) / sp[a]))
        sl.append(slice(max(0, lo[a] - m), min(img.shape[a], hi[a] + m)))
    img, msk = img[tuple(sl)], msk[tuple(sl)]
    mod = (modality or "").upper()
    if window is None:
        if mod == "CT":
            from scipy.ndimage import binary_dilation

            shell = binary_dilation(msk, iterations=3) & ~msk  # the tissue around the ROI
            lung = shell.any() and np.mean(img[shell] < -500) >= LUNG_FRACTION
            window = LUNG_WINDOW_HU if lung else SOFT_TISSUE_WINDOW_HU
        elif mod == "PT":
            window = (0.0, max(1.0, float(img[msk].max())))
        else:
            window = tuple(float(v) for v in np.percentile(img, [1, 99]))
    units = {"CT": "HU", "PT": "SUV"}.get(mod, "")
    cmap = "gray_r" if mod == "PT" else "gray"
    # (name, sliced axis, (row axis, column axis), rows drawn top-down): row 0 of an axial
    # slice is anterior and goes on top; coronal and sagittal rows run inferior -> superior
    views = (("axial", 0, (1, 2), True), ("coronal", 1, (0, 2), False),
             ("sagittal", 2, (0, 1), False))
    fig = _figure(7.2, 2.7)
    axes = fig.subplots(1, 3)
    chosen = []
    for ax, (name, axis, (r, c), top_down) in zip(axes, views, strict=True):
        k = int(np.argmax(msk.sum(axis=tuple(i for i in range(3) if i != axis))))
        chosen.append(int(k + sl[axis].start))
        im2 = np.take(img, k, axis=axis)
        m2 = np.take(msk, k, axis=axis).astype(float)
        if top_down:
            im2, m2 = im2[::-1], m2[::-1]
        ext = [0, im2.shape[1] * sp[c], 0, im2.shape[0] * sp[r]]
        # a view only a few slices high (a 3-slice series) is stretched to stay readable
        stretch = max(1.0, 0.5 * ext[1] / ext[3])
        ax.imshow(im2, cmap=cmap, vmin=window[0], vmax=window[1], origin="lower", extent=ext,
                  interpolation="nearest", aspect=stretch)
        if m2.any():
            ax.contour(m2, levels=[0.5], colors=CONTOUR_COLOUR, linewidths=1.2, origin="lower",
                       extent=ext)
        ax.set_title(name if stretch == 1.0 else f"{name} (height ×{stretch:.1f})", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    wtxt = f"{window[0]:.4g} to {window[1]:.4g} {units}".strip()
    fig.suptitle(f"{title}   [{mod or '?'}; display {wtxt}]" if title else wtxt, fontsize=8)
    return fig, {"slices": chosen, "window": [float(window[0]), float(window[1])], "units": units}
