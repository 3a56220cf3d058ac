"""Figures of the cohort and its features: pure functions from tables to matplotlib figures.

Companions of :mod:`voxelomics.report.figures` (same conventions: ``*_data`` functions
compute the table behind a figure, ``*_figure`` functions draw it and return a
:class:`matplotlib.figure.Figure`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from voxelomics.report.figures import PALETTE, _figure

__all__ = ["correlation_data", "clustermap_figure", "distribution_figure", "selection_figure",
           "cohort_figure"]


def correlation_data(features: pd.DataFrame, *, method: str = "spearman"):
    """Feature correlation matrix in hierarchical-clustering order.

    Parameters
    ----------
    features : pandas.DataFrame of shape (n_samples, n_features)
        Numeric feature columns; constant or all-missing columns are left out.
    method : {"spearman", "pearson"}, default="spearman"

    Returns
    -------
    corr : pandas.DataFrame of shape (n_kept, n_kept)
        Correlations, rows and columns in dendrogram order.
    linkage : ndarray of shape (n_kept - 1, 4)
        Average-linkage tree on the distance 1 - |r| (scipy format), in the original
        column order of the kept features (``corr.attrs["kept"]``).
    """
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    x = features.apply(pd.to_numeric, errors="coerce")
    x = x.loc[:, x.notna().sum() >= 3]
    x = x.loc[:, x.std(skipna=True) > 0]
    corr = x.corr(method=method).fillna(0.0)
    if corr.shape[0] < 2:
        corr.attrs["kept"] = list(corr.columns)
        return corr, np.zeros((0, 4))
    dist = np.clip(1.0 - np.abs(corr.to_numpy()), 0.0, None)
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform((dist + dist.T) / 2, checks=False), method="average")
    order = leaves_list(tree)
    kept = list(corr.columns)
    out = corr.iloc[order, order]
    out.attrs["kept"] = kept
    return out, tree


def clustermap_figure(corr: pd.DataFrame, tree, *, title: str = "Feature correlation"):
    """Draw a correlation matrix with its dendrogram (a clustermap).

    Parameters
    ----------
    corr : pandas.DataFrame
        Output of :func:`correlation_data` (already in dendrogram order).
    tree : ndarray
        Its linkage; an empty tree draws the matrix alone.
    title : str, default="Feature correlation"

    Returns
    -------
    figure : matplotlib.figure.Figure
        Feature names are written when there are at most 60.
    """
    from scipy.cluster.hierarchy import dendrogram

    n = corr.shape[0]
    fig = _figure(7.5, 7.8)
    gs = fig.add_gridspec(2, 2, height_ratios=[1, 6], width_ratios=[30, 1])
    if len(tree):
        dax = fig.add_subplot(gs[0, 0])
        dendrogram(tree, ax=dax, no_labels=True, color_threshold=0, above_threshold_color="#555")
        dax.axis("off")
    ax = fig.add_subplot(gs[1, 0])
    im = ax.imshow(corr.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest",
                   aspect="auto")
    if n <= 60:
        ax.set_xticks(range(n), labels=corr.columns, rotation=90, fontsize=5)
        ax.set_yticks(range(n), labels=corr.index, fontsize=5)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"{n} features (names in the CSV)")
    cax = fig.add_subplot(gs[1, 1])
    fig.colorbar(im, cax=cax, label="correlation")
    fig.suptitle(title)
    return fig


def distribution_figure(table: pd.DataFrame, features: list[str], group: str, *,
                        title: str = "Feature distributions"):
    """Box and strip plots of a few features per group (centre, scanner, modality).

    Parameters
    ----------
    table : pandas.DataFrame
        Holds the ``features`` columns and the ``group`` column.
    features : list of str
        Feature columns, one panel each.
    group : str
        Grouping column.
    title : str, default="Feature distributions"

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    n = len(features)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    groups = sorted(table[group].astype(str).unique())
    fig = _figure(3.4 * cols, 0.6 + 2.6 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    rng = np.random.default_rng(0)
    for ax, feat in zip(axes, features, strict=False):
        data = [pd.to_numeric(table.loc[table[group].astype(str) == g, feat], errors="coerce")
                .dropna().to_numpy() for g in groups]
        ax.boxplot(data, showfliers=False, widths=0.6)
        for i, d in enumerate(data, start=1):
            ax.plot(i + rng.uniform(-0.15, 0.15, d.size), d, "o", ms=3, alpha=0.7,
                    color=PALETTE[(i - 1) % len(PALETTE)])
        ax.set_xticks(range(1, len(groups) + 1), labels=groups, rotation=30, ha="right", fontsize=7)
        ax.set_title(feat, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    for ax in axes[n:]:
        ax.axis("off")
    fig.suptitle(f"{title} by {group}")
    return fig


def selection_figure(table: pd.DataFrame, *, value: str = "frequency",
                     title: str = "Selected features"):
    """Horizontal bars: how often (or how strongly) each feature was used by the model.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``feature`` and ``value``; drawn in the given order (at most 30 rows).
    value : str, default="frequency"
        Column holding the bar lengths; with a ``weight`` column as well, bars are
        coloured by its sign.
    title : str, default="Selected features"

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    t = table.head(30)
    fig = _figure(6.5, 0.8 + 0.22 * len(t))
    ax = fig.add_subplot()
    ys = np.arange(len(t))[::-1]
    colours = PALETTE[0]
    if "weight" in t and value != "weight":
        colours = [PALETTE[0] if w >= 0 else PALETTE[1] for w in t["weight"]]
        ax.text(0.99, 0.01, "blue: positive, red: negative weight", transform=ax.transAxes,
                ha="right", va="bottom", fontsize=7, color="#555")
    ax.barh(ys, t[value], color=colours)
    ax.set_yticks(ys, labels=t["feature"], fontsize=7)
    ax.set(xlabel=value.replace("_", " "), title=title)
    return fig


def cohort_figure(qc: pd.DataFrame, *, title: str = "Voxel spacing and ROI volume"):
    """Distributions of in-plane spacing, slice spacing and ROI volume, per modality.

    Parameters
    ----------
    qc : pandas.DataFrame
        Columns ``modality``, ``spacing_z_mm``, ``spacing_y_mm``, ``spacing_x_mm``,
        ``volume_mm3`` (one row per case, as written by :mod:`voxelomics.report.qc`).
    title : str

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    fig = _figure(10.0, 3.0)
    axes = fig.subplots(1, 3)
    mods = sorted(qc["modality"].fillna("?").astype(str).unique())
    rng = np.random.default_rng(0)
    panels = (("in-plane spacing (mm)", np.sqrt(qc["spacing_y_mm"] * qc["spacing_x_mm"]), False),
              ("slice spacing (mm)", qc["spacing_z_mm"], False),
              ("ROI volume (cm³, log scale)", qc["volume_mm3"] / 1000.0, True))
    for ax, (label, values, log) in zip(axes, panels, strict=True):
        for i, m in enumerate(mods):
            v = np.asarray(values[qc["modality"].fillna("?").astype(str) == m], float)
            v = v[np.isfinite(v) & (v > 0)] if log else v[np.isfinite(v)]
            ax.plot(i + rng.uniform(-0.2, 0.2, v.size), v, "o", ms=4, alpha=0.75,
                    color=PALETTE[i % len(PALETTE)])
        ax.set_xticks(range(len(mods)), labels=mods)
        ax.set_xlim(-0.6, len(mods) - 0.4)
        if log:
            ax.set_yscale("log")
        ax.set_title(label, fontsize=9)
    fig.suptitle(title)
    return fig


