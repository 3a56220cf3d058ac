"""Loading feature and clinical tables and turning them into model inputs.

A feature table has one row per patient (or lesion): identifier columns, then numeric
feature columns (the Parquet written by ``voxelomics extract``, or CSV/Parquet from
elsewhere). A clinical table brings the outcome (binary target, or time and event for
survival) and optionally a batch column (scanner, centre) for ComBat; it is joined on a
shared identifier column.

Every problem is raised as :class:`~voxelomics.errors.ModelError` naming the file and
column: a missing column, a target that is not binary, a join that matches no rows,
features that are entirely missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from voxelomics.errors import ModelError

__all__ = ["ModelData", "read_table", "join_clinical", "prepare_data", "encode_batch"]


@dataclass(frozen=True)
class ModelData:
    """Model inputs taken from a table.

    Attributes
    ----------
    X : pandas.DataFrame of shape (n_samples, n_columns)
        Numeric model input. When a batch column is used, its integer codes are the
        first column (named ``batch``) and the features follow.
    y : ndarray of shape (n_samples,)
        Binary target as 0/1 (classification), or a structured array with fields
        ``event`` (bool) and ``time`` (float) for survival.
    ids : ndarray of shape (n_samples,)
        Row identifiers (the ``--id`` column, or the row number as text).
    feature_names : list of str
        Feature columns (without the batch column).
    task : {"classification", "survival"}
    classes : list
        Original target values mapped to 0 and 1 (classification only).
    batch_levels : list of str or None
        Batch categories in code order (code ``k`` is ``batch_levels[k]``).
    dropped : list of str
        Non-numeric columns that were ignored.
    """

    X: pd.DataFrame
    y: np.ndarray
    ids: np.ndarray
    feature_names: list[str]
    task: str
    classes: list = field(default_factory=list)
    batch_levels: list[str] | None = None
    dropped: list[str] = field(default_factory=list)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV or Parquet table.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.tsv``/``.txt`` (tab separated) or ``.parquet``/``.pq``.

    Returns
    -------
    table : pandas.DataFrame

    Raises
    ------
    ModelError
        If the file does not exist, has an unknown extension or cannot be parsed.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError("table not found", path=path)
    suffix = path.suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in {".tsv", ".txt"}:
            return pd.read_csv(path, sep="\t")
    except Exception as exc:  # parser errors of pandas/pyarrow differ by version
        raise ModelError(f"could not read table: {exc}", path=path) from exc
    raise ModelError(
        f"unknown table format {suffix!r}; expected .csv, .tsv or .parquet", path=path
    )


def join_clinical(
    features: pd.DataFrame, clinical: pd.DataFrame, on: str, *, clinical_path: str | Path | None = None
) -> pd.DataFrame:
    """Inner-join a clinical table onto a feature table by an identifier column.

    Parameters
    ----------
    features, clinical : pandas.DataFrame
        Tables to join; both must hold column ``on``. Identifiers are compared as
        stripped strings, so ``7`` and ``"7"`` match.
    on : str
        Identifier column.
    clinical_path : str or Path or None
        Named in error messages.

    Returns
    -------
    joined : pandas.DataFrame
        Rows present in both tables; clinical columns that clash with a feature
        column take the suffix ``_clinical``.

    Raises
    ------
    ModelError
        If ``on`` is missing from either table, an identifier repeats in the clinical
        table, or no row matches.
    """
    for name, table in (("feature", features), ("clinical", clinical)):
        if on not in table.columns:
            raise ModelError(
                f"join column {on!r} not in the {name} table (columns: {list(table.columns)[:10]}...)",
                path=clinical_path if name == "clinical" else None,
            )
    left = features.assign(**{on: features[on].astype(str).str.strip()})
    right = clinical.assign(**{on: clinical[on].astype(str).str.strip()})
    dup = right[on][right[on].duplicated()]
    if len(dup):
        raise ModelError(
            f"identifier(s) {sorted(set(dup))[:5]} appear more than once in column {on!r} "
            "of the clinical table; expected one row per identifier",
            path=clinical_path,
        )
    joined = left.merge(right, on=on, how="inner", suffixes=("", "_clinical"))
    if joined.empty:
        raise ModelError(
            f"joining on {on!r} matched no rows (feature ids e.g. {left[on].head(3).tolist()}, "
            f"clinical ids e.g. {right[on].head(3).tolist()})",
            path=clinical_path,
        )
    return joined


def encode_batch(values: pd.Series, levels: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Encode batch categories as integer codes.

    Parameters
    ----------
    values : pandas.Series of shape (n_samples,)
        Batch labels (any type, compared as text).
    levels : list of str or None
        Known categories (from a fitted model); new categories get codes from
        ``len(levels)`` upwards so that ComBat reports them as unseen.

    Returns
    -------
    codes : ndarray of shape (n_samples,) of float
    levels : list of str
        Categories in code order (known ones first).

    Raises
    ------
    ModelError
        If a batch label is missing.
    """
    text = values.astype("string")
    if text.isna().any():
        raise ModelError(
            f"batch column {values.name!r} has {int(text.isna().sum())} missing values; "
            "every row needs a batch"
        )
    text = text.astype(str)
    levels = list(levels) if levels is not None else sorted(text.unique())
    extra = sorted(set(text.unique()) - set(levels))
    all_levels = levels + extra
    mapping = {lev: k for k, lev in enumerate(all_levels)}
    return text.map(mapping).to_numpy(dtype=float), all_levels


def _binary_target(col: pd.Series, where: str | None) -> tuple[np.ndarray, list]:
    if col.isna().any():
        raise ModelError(
            f"target column {col.name!r} has {int(col.isna().sum())} missing values; "
            "drop those rows or fill them",
            path=where,
        )
    values = col.to_numpy()
    classes = sorted(pd.unique(values).tolist(), key=lambda v: (str(type(v)), v))
    if len(classes) != 2:
        raise ModelError(
            f"target column {col.name!r} must be binary, found {len(classes)} distinct "
            f"values {classes[:6]}",
            path=where,
        )
    return (values == classes[1]).astype(np.int64), classes


def _survival_target(df, time, event, where):
    from sksurv.util import Surv

    for c in (time, event):
        if c not in df.columns:
            raise ModelError(f"survival column {c!r} not found", path=where)
    t = pd.to_numeric(df[time], errors="coerce")
    if t.isna().any() or (t < 0).any():
        raise ModelError(
            f"time column {time!r} must be non-negative numbers; found "
            f"{int(t.isna().sum())} missing/non-numeric and {int((t < 0).sum())} negative",
            path=where,
        )
    e = df[event]
    vals = set(pd.unique(e.dropna()).tolist())
    if e.isna().any() or not vals <= {0, 1}:
        raise ModelError(
            f"event column {event!r} must hold 0/1 or true/false, found {sorted(map(str, vals))[:6]}",
            path=where,
        )
    if not e.astype(bool).any():
        raise ModelError(f"event column {event!r} holds no event", path=where)
    return Surv.from_arrays(event=e.astype(bool).to_numpy(), time=t.to_numpy(float))


def prepare_data(
    table: pd.DataFrame,
    *,
    target: str | None = None,
    id_col: str | None = None,
    time: str | None = None,
    event: str | None = None,
    batch: str | None = None,
    features: list[str] | None = None,
    batch_levels: list[str] | None = None,
    candidates: list[str] | None = None,
    path: str | Path | None = None,
) -> ModelData:
    """Split a (joined) table into features, outcome, identifiers and batch.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per sample.
    target : str or None
        Binary outcome column (classification). Either ``target`` or both ``time`` and
        ``event`` (survival); ``None`` for all three reads features only (prediction).
    id_col : str or None
        Identifier column, excluded from the features.
    time, event : str or None
        Survival time (any unit, >= 0) and event indicator (1 = event) columns.
    batch : str or None
        Batch column for ComBat; encoded to codes placed first in ``X``.
    features : list of str or None
        Feature columns to use (a fitted model's list); by default every numeric column
        that is not the id, outcome or batch.
    batch_levels : list of str or None
        Batch categories of a fitted model (code order).
    candidates : list of str or None
        Columns that may be features when ``features`` is None (the columns of the
        feature table, so that clinical columns never become features); default: all.
    path : str or Path or None
        File the table came from, named in errors.

    Returns
    -------
    ModelData

    Raises
    ------
    ModelError
        Missing columns, non-binary target, missing features of a fitted model, no
        numeric feature, or features with no value at all.
    """
    where = None if path is None else str(path)
    for c in (target, id_col, batch):
        if c is not None and c not in table.columns:
            raise ModelError(
                f"column {c!r} not found (columns: {list(table.columns)[:10]}...)", path=where
            )
    outcome = {c for c in (target, time, event, id_col, batch) if c}
    if features is not None:
        missing = [c for c in features if c not in table.columns]
        if missing:
            raise ModelError(
                f"{len(missing)} model feature column(s) missing from the table: {missing[:20]}",
                path=where,
            )
        dropped: list[str] = []
        feats = list(features)
    else:
        pool = table.columns if candidates is None else [c for c in candidates if c in table.columns]
        candidates = [c for c in pool if c not in outcome]
        feats = [c for c in candidates if pd.api.types.is_numeric_dtype(table[c])
                 and not pd.api.types.is_bool_dtype(table[c])]
        dropped = [c for c in candidates if c not in feats]
    if not feats:
        raise ModelError("the table holds no numeric feature column", path=where)
    Xf = table[feats].apply(pd.to_numeric, errors="coerce").astype(float)
    empty = Xf.columns[Xf.isna().all()].tolist()
    if empty:
        raise ModelError(
            f"{len(empty)} feature column(s) hold no value at all: {empty[:20]}; drop them",
            path=where,
        )
    levels = None
    if batch is not None:
        codes, levels = encode_batch(table[batch], batch_levels)
        Xf.insert(0, "batch", codes)
    ids = (table[id_col].astype(str).to_numpy() if id_col is not None
           else np.arange(len(table)).astype(str))
    if time is not None or event is not None:
        if time is None or event is None:
            raise ModelError("survival needs both --time and --event", path=where)
        y, task, classes = _survival_target(table, time, event, where), "survival", []
    elif target is not None:
        y, classes = _binary_target(table[target], where)
        task = "classification"
    else:
        y, task, classes = np.full(len(table), -1), "none", []
    return ModelData(
        X=Xf.reset_index(drop=True), y=y, ids=ids, feature_names=feats, task=task,
        classes=classes, batch_levels=levels, dropped=dropped,
    )
