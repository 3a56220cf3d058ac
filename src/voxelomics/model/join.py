"""Several feature tables joined on the case (fusion), and the clinical-only inputs.

Fusion
------
``voxelomics model cv A.parquet B.parquet`` (or ``--features A --features B``) joins
radiomic, deep and clinical feature tables into one model input:

* the join keys are ``case_id`` (plus ``roi`` when every table has it), else the
  identifier column (``--id``, default ``ID``/``id``) when every table has it;
* an inner join: rows missing from a table are left out and reported per table
  (``tables`` in ``metrics.json``), with examples;
* columns present in several tables keep their name when their values agree (an
  ``outcome`` copied into each table) and are otherwise prefixed with the table's file
  stem (``deep.mean``); identifier columns are taken from the first table;
* each table's own rules apply before the join (for a ``features.parquet`` of
  ``voxelomics extract``, only its radiomic feature columns are features).

Selection, harmonisation and every other data-driven step still happen inside the
folds, on the joined table.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from voxelomics.errors import ModelError
from voxelomics.model.columns import extraction_features
from voxelomics.model.tables import (
    IDENTIFIER_COLUMNS,
    default_id_column,
    feature_columns,
    read_table,
)

__all__ = ["NOT_EXTRACTED", "VOLUME_NAMES", "read_feature_tables", "find_volume_column",
           "clinical_matrix"]

#: Reason recorded for the manifest columns of a ``voxelomics extract`` table.
NOT_EXTRACTED = "not a radiomic feature of the extraction (a manifest column)"

#: Column names recognised as the tumour volume (case-insensitive; also as the end of a
#: longer name, e.g. ``CT_original_shape_MeshVolume``), in order of preference.
VOLUME_NAMES = ("morphology_volume", "morph_volume", "original_shape_meshvolume",
                "original_shape_voxelvolume", "original_shape_volume", "shape_volume",
                "volume")

#: Text columns of a clinical table with at most this many levels are one-hot coded.
MAX_LEVELS = 10


def _stem(path: Path) -> str:
    name = Path(path).name
    for suffix in (".parquet", ".pq", ".csv", ".tsv", ".txt"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return re.sub(r"\W+", "_", name) or "table"


def _keys(tables: list[pd.DataFrame], id_col: str | None, paths) -> list[str]:
    if all("case_id" in t.columns for t in tables):
        return ["case_id"] + (["roi"] if all("roi" in t.columns for t in tables) else [])
    col = id_col or default_id_column(tables[0].columns)
    if col is not None and all(col in t.columns for t in tables):
        return [col]
    raise ModelError(
        "cannot join the feature tables: they need a common case_id column (voxelomics "
        "tables) or a common identifier column (--id COL); columns of "
        + "; ".join(f"{Path(p).name}: {list(t.columns[:6])}" for p, t in zip(paths, tables,
                                                                                strict=True)))


def read_feature_tables(paths, *, id_col: str | None = None
                        ) -> tuple[pd.DataFrame, dict[str, str], list[dict]]:
    """Read one or several feature tables and join them on the case.

    Parameters
    ----------
    paths : sequence of str or Path
        Feature tables (CSV, TSV, Parquet); one table is returned as read.
    id_col : str or None
        Identifier column to join on when the tables have no ``case_id``.

    Returns
    -------
    table : pandas.DataFrame
        Joined table (rows present in every table, in the first table's order).
    not_features : dict of str to str
        Columns that are not features, with the reason (manifest columns of an extraction).
    report : list of dict
        Per table: ``path``, ``name`` (file stem), ``n_rows``, ``n_columns``,
        ``n_unmatched`` (rows with no partner in another table) and ``unmatched``
        (up to 10 of their keys), ``renamed`` (column -> prefixed name).

    Raises
    ------
    ModelError
        Unreadable or empty tables, no common key, duplicated keys, or no common row.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ModelError("no feature table given")
    frames, not_features = [], {}
    for p in paths:
        df = read_table(p)
        if len(df) == 0:
            raise ModelError("the table has no rows", path=p)
        frames.append(df)
    report = [{"path": str(p), "name": _stem(p), "n_rows": len(df), "n_columns": df.shape[1],
               "n_unmatched": 0, "unmatched": [], "renamed": {}}
              for p, df in zip(paths, frames, strict=True)]
    for p, df in zip(paths, frames, strict=True):
        extracted = extraction_features(p, df.columns)
        if extracted is not None:
            keep = set(extracted)
            not_features.update({c: NOT_EXTRACTED for c in df.columns if c not in keep
                                 and str(c).lower() not in IDENTIFIER_COLUMNS})
    if len(frames) == 1:
        return frames[0], not_features, report
    keys = _keys(frames, id_col, paths)
    stems = [r["name"] for r in report]
    if len(set(stems)) < len(stems):
        stems = [f"{s}{i}" for i, s in enumerate(stems)]
    keyed = []
    for p, df in zip(paths, frames, strict=True):
        k = df[keys].astype(str).apply(lambda c: c.str.strip())
        dup = k.duplicated(keep=False)
        if dup.any():
            raise ModelError(f"{int(dup.sum())} rows share a {'/'.join(keys)} key (e.g. "
                             f"{k[dup].iloc[0].tolist()}); expected one row per case",
                             path=p)
        keyed.append(df.assign(**{c: k[c] for c in keys}))
    merged = keyed[0]
    owner = {c: 0 for c in merged.columns if c not in keys}  # unprefixed column -> table
    prefixed: set[str] = set()
    for i, df in enumerate(keyed[1:], start=1):
        drop = [c for c in df.columns if c not in keys and str(c).lower() in IDENTIFIER_COLUMNS
                and c in merged.columns]
        clash = [c for c in df.columns if c not in keys and c not in drop and c in owner]
        direct = {c: f"{stems[i]}.{c}" for c in df.columns if c in prefixed}
        part = df.drop(columns=drop).rename(columns={**direct, **{c: f"__new__{c}" for c in clash}})
        merged = merged.merge(part, on=keys, how="inner")
        for c, b in direct.items():
            report[i]["renamed"][c] = b
        for c in clash:
            new = merged.pop(f"__new__{c}")
            if merged[c].astype(str).equals(new.astype(str)):
                continue  # the same values (e.g. an outcome copied into each table)
            a, b = f"{stems[owner[c]]}.{c}", f"{stems[i]}.{c}"
            merged = merged.rename(columns={c: a})
            merged[b] = new
            report[owner.pop(c)]["renamed"][c] = a
            report[i]["renamed"][c] = b
            prefixed.add(c)
            if c in not_features:
                not_features[a] = not_features[b] = not_features[c]
        for c in df.columns:
            if c not in keys and c not in drop and c not in clash and c not in direct:
                owner[c] = i
    if merged.empty:
        raise ModelError("joining the feature tables on " + "/".join(keys) + " matched no rows")
    joined = set(map(tuple, merged[keys].to_numpy().tolist()))
    for r, df in zip(report, keyed, strict=True):
        rows = [tuple(v) for v in df[keys].to_numpy().tolist()]
        missing = [v for v in rows if v not in joined]
        r["n_unmatched"] = len(missing)
        r["unmatched"] = ["/".join(map(str, v)) for v in missing[:10]]
    return merged.reset_index(drop=True), not_features, report


def find_volume_column(columns, explicit: str | None = None) -> str | None:
    """The tumour-volume column of a feature table.

    Parameters
    ----------
    columns : iterable of str
        Feature columns.
    explicit : str or None
        Column named by the user (``--volume``); must be among ``columns``.

    Returns
    -------
    name : str or None
        The first column matching :data:`VOLUME_NAMES` (exact name first, then as the
        end of a longer name, in preference order); None when none does.

    Raises
    ------
    ModelError
        ``explicit`` is not a feature column.
    """
    cols = [str(c) for c in columns]
    if explicit is not None:
        if explicit not in cols:
            from voxelomics.model.columns import did_you_mean

            raise ModelError(f"--volume column {explicit!r} is not a feature column"
                             f"{did_you_mean(explicit, cols)}")
        return explicit
    lower = [c.lower() for c in cols]
    for name in VOLUME_NAMES:
        if name in lower:
            return cols[lower.index(name)]
    for name in VOLUME_NAMES[:-1]:
        for c, low in zip(cols, lower, strict=True):
            if low.endswith("_" + name) or low.endswith("." + name):
                return c
    return None


def clinical_matrix(table: pd.DataFrame, columns: list[str]
                    ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Numeric input of the clinical-only comparator.

    Numeric columns (and text holding numbers) are used as they are; text columns with
    at most :data:`MAX_LEVELS` levels are one-hot coded (first level dropped; missing as
    its own level); other text columns are left out with the reason.

    Parameters
    ----------
    table : pandas.DataFrame
        Joined table.
    columns : list of str
        Clinical columns that have no role (not id, outcome, batch, group).

    Returns
    -------
    X : pandas.DataFrame of float of shape (n_samples, n_inputs)
    dropped : dict of str to str
        Clinical columns not used, with the reason.
    """
    X, dropped, _ = feature_columns(table, columns)
    parts = [X]
    for c in list(dropped):
        if str(c).lower() in IDENTIFIER_COLUMNS:
            continue
        values = table[c].astype("string").fillna("(missing)")
        if 1 < values.nunique() <= MAX_LEVELS:
            dummies = pd.get_dummies(values, prefix=c, prefix_sep="=", drop_first=True,
                                     dtype=float)
            parts.append(dummies)
            del dropped[c]
    out = pd.concat(parts, axis=1)
    return out.replace([np.inf, -np.inf], np.nan), dropped
