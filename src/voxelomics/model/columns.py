"""Column helpers of the modelling tables: name hints, outcome-like names, extraction features.

Split out of :mod:`voxelomics.model.tables`, which re-exports them.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from voxelomics.errors import ModelError

__all__ = ["EXCLUDED", "OUTCOME_LIKE", "did_you_mean", "extraction_features"]

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
