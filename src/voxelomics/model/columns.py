"""Column helpers of the modelling tables: name hints, outcome-like names, extraction features.

Split out of :mod:`voxelomics.model.tables`, which re-exports them.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pandas as pd

from voxelomics.errors import ModelError

__all__ = ["EXCLUDED", "IDENTIFIER_COLUMNS", "IDENTIFIER_PREFIXES", "OUTCOME_LIKE",
           "did_you_mean", "extraction_features", "feature_columns", "identifier_reason"]

#: Column names (lower case) that are identifiers, never features: those of a
#: ``features.parquet`` (``case_id, roi, image_type, modality, provenance, warnings``, the study
#: columns ``patient_id, timepoint, lesion_id, region``) and of a delta table
#: (``baseline_timepoint`` ...), so that a CSV export of either cannot turn them into
#: features (a numeric time point would otherwise be one).
IDENTIFIER_COLUMNS = ("case_id", "roi", "image_type", "modality", "provenance", "warnings",
                      "id", "patient_id", "subject_id", "lesion_id", "series_uid", "study_uid",
                      "image", "mask", "label", "timepoint", "region", "baseline_timepoint",
                      "followup_timepoint", "baseline_case_id", "followup_case_id",
                      "baseline_date", "followup_date")
#: Name prefixes (lower case) of columns that are never features unless named with
#: ``--covariates``: the DICOM header covariates of a ``features.parquet`` (``dicom_kvp``,
#: ``dicom_manufacturer`` ...), technical variables rather than radiomic features.
IDENTIFIER_PREFIXES = ("dicom_",)


def identifier_reason(name) -> str | None:
    """Why a column is never a feature, or None.

    Parameters
    ----------
    name : str
        Column name (compared case-insensitively).

    Returns
    -------
    reason : str or None
        ``"identifier column"`` (:data:`IDENTIFIER_COLUMNS`), ``"DICOM header covariate
        ..."`` (:data:`IDENTIFIER_PREFIXES`), else None.
    """
    low = str(name).lower()
    if low in IDENTIFIER_COLUMNS:
        return "identifier column"
    if low.startswith(IDENTIFIER_PREFIXES):
        return "DICOM header covariate (a model input only when named with --covariates)"
    return None
_LEADING_ZERO = re.compile(r"^[+-]?0\d")

#: Column names (lower case) that usually hold an outcome; used as features only with a warning.
OUTCOME_LIKE = ("target", "outcome", "y", "class", "response", "status", "event", "death",
                "dead", "time", "survival", "os", "pfs", "dfs", "recurrence", "progression")
#: Reason recorded for columns removed with ``--exclude``.
EXCLUDED = "excluded with --exclude"


def did_you_mean(name: str, columns) -> str:
    """A "did you mean" hint for a column name that is not in a table.

    Parameters
    ----------
    name : str
        Column asked for.
    columns : iterable of str
        Columns of the table.

    Returns
    -------
    hint : str
        ``" (did you mean 'Target'?)"`` when a column matches case-insensitively or
        closely (:func:`difflib.get_close_matches`), else ``""``.
    """
    cols = [str(c) for c in columns]
    lower = {c.lower(): c for c in cols}
    hit = lower.get(str(name).lower())
    if hit is None:
        close = difflib.get_close_matches(str(name).lower(), list(lower), n=1, cutoff=0.75)
        hit = lower[close[0]] if close else None
    return f" (did you mean {hit!r}?)" if hit is not None else ""


def _column_missing(name: str, columns, what: str, where=None, place: str = "found") -> ModelError:
    cols = [str(c) for c in columns]
    hint = did_you_mean(name, cols)
    listing = "" if hint else f" (columns: {cols[:10]}{'...' if len(cols) > 10 else ''})"
    return ModelError(f"{what} {name!r} not {place}{hint}{listing}", path=where)


def extraction_features(path: str | Path, columns) -> list[str] | None:
    """Radiomic feature columns of a ``features.parquet`` written by ``voxelomics extract``.

    Such a file carries provenance metadata (``voxelomics.settings_hash``, ``voxelomics.naming``,
    see :mod:`voxelomics.cohort.outputs`) and holds identifier columns first, then the
    features, then the manifest's extra columns (``outcome``, ``centre``, ...). The
    features are the columns named like a registered feature
    (:func:`voxelomics.features.registry.readable_to_ibsi`, readable names or IBSI tags),
    including the features of filter response maps, which carry the filter's prefix
    (``log_s1.5mm_statistics_mean``, :func:`~voxelomics.features.registry.split_feature_column`).

    Parameters
    ----------
    path : str or Path
        Table file.
    columns : iterable of str
        Its columns.

    Returns
    -------
    features : list of str or None
        Feature columns in table order; None when the file is not a voxelomics
        extraction (no provenance metadata) or no column has a registered feature name
        (a custom case function), so that the generic rules apply.
    """
    if Path(path).suffix.lower() not in {".parquet", ".pq"}:
        return None
    try:
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
    except (OSError, ValueError):
        return None
    if b"voxelomics.settings_hash" not in meta:
        return None
    from voxelomics.features.registry import split_feature_column

    feats = [c for c in columns if split_feature_column(str(c)) is not None]
    return feats or None


def _as_number(col: pd.Series) -> tuple[pd.Series | None, str]:
    """Column as float, or (None, reason it is not a feature)."""
    if pd.api.types.is_bool_dtype(col):
        return col.astype("float"), ""
    if pd.api.types.is_numeric_dtype(col):
        return col.astype(float), ""
    if not (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)
            or isinstance(col.dtype, pd.CategoricalDtype)):
        return None, f"not numeric (dtype {col.dtype})"
    text = col.astype("string").str.strip()
    text = text.mask(text == "")
    values = text.dropna()
    num = pd.to_numeric(values, errors="coerce")
    bad = values[num.isna() & values.str.lower().ne("nan")]
    if len(bad):
        levels = values.nunique()
        if len(bad) < len(values):
            return None, (f"text with {len(bad)} non-numeric value(s), e.g. {bad.iloc[0]!r}; "
                          "fix them to use the column")
        if levels == len(values) and levels > 10:
            return None, "identifier-like text (a different value in every row)"
        return None, (f"non-numeric text ({levels} level(s), e.g. {sorted(values.unique())[:3]}); "
                      "categories are not encoded: code them as numbers to use them")
    if values.str.match(_LEADING_ZERO).any():
        return None, "identifier-like numbers written with leading zeros"
    return pd.to_numeric(text, errors="coerce").astype(float), ""


def feature_columns(table: pd.DataFrame, candidates) -> tuple[pd.DataFrame, dict[str, str], list[str]]:
    """Numeric feature matrix from candidate columns; the others with reasons.

    Parameters
    ----------
    table : pandas.DataFrame
    candidates : list of str
        Columns that may be features (id, outcome and batch already removed).

    Returns
    -------
    X : pandas.DataFrame of float
        Feature columns in table order.
    dropped : dict of str to str
        Column -> reason it is not a feature (identifier, non-numeric text, ...).
    coerced : list of str
        Text or boolean columns converted to numbers.
    """
    cols: dict[str, pd.Series] = {}
    dropped: dict[str, str] = {}
    coerced: list[str] = []
    for c in candidates:
        why = identifier_reason(c)
        if why is not None:
            dropped[c] = why
            continue
        values, reason = _as_number(table[c])
        if values is None:
            dropped[c] = reason
            continue
        if not pd.api.types.is_numeric_dtype(table[c]) or pd.api.types.is_bool_dtype(table[c]):
            coerced.append(c)
        cols[c] = values
    X = pd.DataFrame(cols, index=table.index, columns=list(cols))
    return X, dropped, coerced
