"""The Features section: distributions by centre, differences between centres, correlations.

Feature tables can be wide: the features of every filter response map (IBSI chapter 2)
follow the image's own in the same row, prefixed by the filter (``log_s1.5mm_statistics_mean``),
so a table may hold thousands of columns. The section stays readable and fast:

* the distributions by centre show at most :data:`MAX_DISTRIBUTIONS` features: the models'
  features first, else a fixed set of familiar ones (volume, sphericity, mean, entropy ...);
* a table counts the features per image type (the original image, each response map) and
  family (IBSI chapter 3: morphology, statistics, GLCM, ...), at most :data:`MAX_TABLE_ROWS`
  image types on the page, all of them in its CSV;
* the Kruskal–Wallis test runs on every feature (its CSV lists them all), and the page
  counts the differing features per image type;
* the correlation clustermap shows at most :data:`MAX_CLUSTERMAP` features: the models'
  features first, then features taken in turn from the original image and from each
  response map, in table order. The page says how many are shown and how they were chosen.

No table on the page grows with the number of features: the page of a table of 3,000
columns is about as large as that of 100 (``tests/report/test_report_html.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from voxelomics.report import feature_figures as FF
from voxelomics.report.html import Section, csv_link, esc, figure_html, table_html

__all__ = ["MAX_CLUSTERMAP", "MAX_DISTRIBUTIONS", "MAX_TABLE_ROWS", "DEFAULT_FEATURES", "image_type",
           "feature_family", "family_counts", "model_features", "clustermap_subset", "features"]

#: Most features drawn in the correlation clustermap (its CSV holds the same matrix).
MAX_CLUSTERMAP = 200
#: Most features drawn by centre.
MAX_DISTRIBUTIONS = 6
#: Most rows of a per-image-type table on the page (their CSV holds every row).
MAX_TABLE_ROWS = 40
#: Features drawn by centre when no model says which matter (readable name, IBSI tag).
DEFAULT_FEATURES = (("morphology_volume", "morph_volume"), ("morphology_sphericity", "morph_sphericity"),
                    ("statistics_mean", "stat_mean"), ("histogram_entropy", "ih_entropy"),
                    ("glcm_joint_entr_3d_avg", "cm_joint_entr_3D_avg"),
                    ("glszm_zone_size_entropy_3d", "szm_zs_entr_3D"))


def _registered() -> frozenset:
    from voxelomics.features.registry import readable_to_ibsi

    table = readable_to_ibsi()
    return frozenset(table) | frozenset(table.values())


def _family_of() -> dict[str, str]:
    """Registered name (readable and IBSI tag) -> family (``morphology``, ``glcm``, ...)."""
    from voxelomics.features.registry import FAMILIES, readable_to_ibsi

    out = {}
    for readable, tag in readable_to_ibsi().items():
        fam = next((f for f in sorted(FAMILIES, key=len, reverse=True) if readable.startswith(f + "_")), "other")
        out[readable] = out[tag] = fam
    return out


def _split(column: str, names: frozenset) -> tuple[str, str] | None:
    """(image type, registered feature name) of a feature column, or None."""
    if column in names:
        return "original", column
    start = column.find("_")
    while start != -1:  # the longest registered suffix: what precedes it is the prefix
        if column[start + 1:] in names:
            return column[:start], column[start + 1:]
        start = column.find("_", start + 1)
    return None


def feature_family(column: str, names: frozenset | None = None) -> str | None:
    """The IBSI family of a feature column (``glcm`` for ``log_s1mm_cm_joint_max_3D_avg``).

    Parameters
    ----------
    column : str
        A feature column, optionally after a response map's prefix.
    names : frozenset or None
        Registered names (see :func:`image_type`).

    Returns
    -------
    str or None
        A key of :data:`voxelomics.features.registry.FAMILIES`, or None when the column is
        not a registered feature.
    """
    split = _split(column, _registered() if names is None else names)
    return None if split is None else _family_of().get(split[1], "other")


def family_counts(columns: list[str], names: frozenset | None = None) -> pd.DataFrame:
    """Number of features per image type (rows) and family (columns).

    Parameters
    ----------
    columns : list of str
        Feature columns.
    names : frozenset or None
        Registered names (see :func:`image_type`).

    Returns
    -------
    pandas.DataFrame
        ``image_type``, one column per family present (IBSI order, ``other`` last for
        columns that are not registered features), ``total``; the original image first,
        then the response maps in table order.
    """
    from voxelomics.features.registry import FAMILIES

    names = _registered() if names is None else names
    fam = _family_of()
    rows = []
    for c in columns:
        split = _split(c, names)
        rows.append(("other", "other") if split is None else (split[0], fam.get(split[1], "other")))
    t = pd.DataFrame(rows, columns=["image_type", "family"])
    order = sorted(pd.unique(t["image_type"]), key=lambda k: (k != "original", k == "other"))
    fams = [f for f in [*FAMILIES, "other"] if f in set(t["family"])]
    counts = pd.crosstab(t["image_type"], t["family"]).reindex(index=order, columns=fams, fill_value=0)
    counts["total"] = counts.sum(axis=1)
    return counts.reset_index().rename_axis(columns=None)


def image_type(column: str, names: frozenset | None = None) -> str | None:
    """The image a feature column describes: ``original`` or the filter prefix.

    Parameters
    ----------
    column : str
        A feature column: a registered feature name (readable or IBSI tag), optionally
        after a response map's prefix (``log_s1.5mm_statistics_mean``).
    names : frozenset or None
        Registered names (default: :func:`voxelomics.features.registry.readable_to_ibsi`).

    Returns
    -------
    str or None
        ``"original"``, the prefix (``"log_s1.5mm"``), or None when no suffix of the
        column is a registered feature name (not a feature column).
    """
    split = _split(column, _registered() if names is None else names)
    return None if split is None else split[0]


def model_features(ctx) -> list[str]:
    """Features the models used: final models' features, then each signature and selection.

    Parameters
    ----------
    ctx : voxelomics.report.sections.Context

    Returns
    -------
    list of str
        Without duplicates, final models first.
    """
    out: list[str] = []
    for m in ctx.res.models:
        if m.selected is not None and "feature" in m.selected:
            out += [str(f) for f in m.selected["feature"]]
    for m in ctx.res.models:
        cv = m.cv or {}
        out += [str(f) for f in (cv.get("safeguards") or {}).get("signature") or []]
        out += [str(f) for f in cv.get("selection_frequency") or {}]
    return list(dict.fromkeys(out))


def clustermap_subset(columns: list[str], first: list[str], cap: int = MAX_CLUSTERMAP,
                      names: frozenset | None = None) -> list[str]:
    """At most ``cap`` features: ``first`` (present ones), then in turn from each image type.

    Parameters
    ----------
    columns : list of str
        Feature columns in table order.
    first : list of str
        Features shown whatever the cap allows for the rest (the models' features).
    cap : int
    names : frozenset or None
        Registered feature names (see :func:`image_type`).

    Returns
    -------
    list of str
        The original image's features and each response map's take turns (one each, in
        table order), so every image type is represented when the cap cuts.
    """
    present = set(columns)
    chosen = [f for f in dict.fromkeys(first) if f in present][:cap]
    taken = set(chosen)
    queues: dict[str, list[str]] = {}
    for c in columns:
        if c not in taken:
            queues.setdefault(image_type(c, names) or "other", []).append(c)
    order = sorted(queues, key=lambda k: k != "original")  # the image's own first, then table order
    pos = dict.fromkeys(order, 0)
    while len(chosen) < cap and any(pos[k] < len(queues[k]) for k in order):
        for k in order:
            if pos[k] < len(queues[k]) and len(chosen) < cap:
                chosen.append(queues[k][pos[k]])
                pos[k] += 1
    return chosen


def _pick_features(ctx, columns: list[str]) -> list[str]:
    present = set(columns)
    chosen = [f for f in model_features(ctx) if f in present]
    if not chosen:
        chosen = [next(n for n in pair if n in present) for pair in DEFAULT_FEATURES
                  if any(n in present for n in pair)]
    return list(dict.fromkeys(chosen))[:MAX_DISTRIBUTIONS] or columns[:MAX_DISTRIBUTIONS]


def _kruskal(table: pd.DataFrame, columns: list[str], group: str) -> pd.DataFrame:
    from scipy import stats

    labels = table[group].astype(str).to_numpy()
    levels = pd.unique(table[group].dropna().astype(str))
    x = table[columns].apply(pd.to_numeric, errors="coerce")
    rows = []
    for f in columns:
        v = x[f].to_numpy(float)
        groups = [v[(labels == g) & np.isfinite(v)] for g in levels]
        groups = [g for g in groups if g.size]
        if len(groups) >= 2 and np.ptp(np.concatenate(groups)) > 0:
            h, p = stats.kruskal(*groups)
            rows.append({"feature": f, "kruskal_h": h, "p_value": p})
    kw = pd.DataFrame(rows, columns=["feature", "kruskal_h", "p_value"])
    if len(kw):
        kw["q_value_bh"] = stats.false_discovery_control(kw["p_value"].to_numpy())
    return kw


def features(ctx) -> Section:
    """Feature distributions by centre or scanner, differences between centres, correlations.

    Parameters
    ----------
    ctx : voxelomics.report.sections.Context

    Returns
    -------
    Section
    """
    sec = Section("features", "Features")
    c = ctx.res.cohort
    if c is None or c.features is None or len(c.features) < 2:
        sec.skipped = "fewer than two extracted cases"
        return sec
    cols = ctx.feature_columns(c)
    table = ctx.joined(c)
    names = _registered()
    kinds = pd.Series([image_type(f, names) or "other" for f in cols], index=cols)
    n_maps = int((kinds.unique() != "original").sum())
    body = []
    counts = family_counts(cols, names)
    if n_maps:
        per = kinds.value_counts()
        body.append(f"<p>{len(cols)} features: {int(per.get('original', 0))} of the original image and "
                    f"{len(cols) - int(per.get('original', 0))} of {n_maps} filter response map(s).</p>")
    else:
        body.append(f"<p>{len(cols)} features of the original image.</p>")
    body.append("<details><summary>Features per image type and family</summary>"
                + table_html(counts, max_rows=MAX_TABLE_ROWS)
                + csv_link(counts, "feature_families", "per image type and family (CSV)") + "</details>")
    group = ctx.group_column(table)
    if group is not None:
        shown = _pick_features(ctx, cols)
        data = table[["case_id", group, *shown]]
        why = ("the models' features" if any(f in model_features(ctx) for f in shown)
               else "a few familiar features (no model recorded its features)")
        body.append(figure_html(FF.distribution_figure(data, shown, group), name="feature_distributions",
                                data=data, caption=f"{len(shown)} features by {esc(group)}: {why}. Where "
                                "centres or scanners differ, harmonisation (ComBat: a batch column "
                                "in the model settings) may be needed."))
        levels = table[group].dropna().astype(str).unique()
        if len(levels) >= 2:
            kw = _kruskal(table, cols, group)
            if len(kw):
                n_sig = int((kw["q_value_bh"] < 0.05).sum())
                kw["image_type"] = kinds.reindex(kw["feature"]).to_numpy()
                body.append(f"<p>{n_sig} of {len(kw)} non-constant features differ between the {len(levels)} "
                            f"levels of <b>{esc(group)}</b> (Kruskal–Wallis, Benjamini–Hochberg "
                            f"q &lt; 0.05). {csv_link(kw.sort_values('p_value'), 'kruskal_wallis', 'per feature (CSV)')}</p>")
                if n_maps:
                    per = kw.assign(differ=kw["q_value_bh"] < 0.05).groupby("image_type", sort=False).agg(
                        features=("feature", "size"), differ=("differ", "sum")).reset_index()
                    body.append("<details><summary>Differing features per image type</summary>"
                                + table_html(per, max_rows=MAX_TABLE_ROWS) + "</details>")
    else:
        body.append('<p class="skipped">Distributions by centre skipped: no centre, scanner or modality column.</p>')
    subset = clustermap_subset(cols, model_features(ctx), names=names)
    corr, tree = FF.correlation_data(table[subset])
    if corr.shape[0] >= 2:
        if len(subset) < len(cols):
            how = (f"{len(subset)} of the {len(cols)} features are shown (at most {MAX_CLUSTERMAP}): the "
                   "models' features first, then features taken in turn from the original image and from "
                   "each filter response map, in table order; the Kruskal–Wallis CSV lists every feature. ")
            body.append(f'<p class="notice">{how}</p>')
        body.append(figure_html(FF.clustermap_figure(corr, tree), name="feature_correlation",
                                data=corr.round(4).reset_index(names="feature"),
                                caption=f"Spearman correlation of {corr.shape[0]} non-constant features, "
                                "ordered by average-linkage clustering on 1 − |ρ|. Dark blocks (red "
                                "or blue) are groups of redundant features."))
    sec.body = "\n".join(body)
    return sec
