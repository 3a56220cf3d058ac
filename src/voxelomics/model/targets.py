"""The outcome of a model: a binary, continuous or survival target taken from a column.

Split out of :mod:`voxelomics.model.tables` (which re-exports these): a binary target is
coded 0/1 with its two original labels; a continuous target is a float array; survival
is a scikit-survival structured array (``event``, ``time``). Every problem is a
:class:`~voxelomics.errors.ModelError` naming the column and what was found.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from voxelomics.errors import ModelError
from voxelomics.model.columns import _as_number, _column_missing

__all__ = ["MAX_INTEGER_LEVELS"]


def _positive_first(classes: list, col: pd.Series, positive, where: str | None) -> list:
    """The two classes ordered (negative, positive): ``positive`` last, matched as text."""
    from voxelomics.model.columns import did_you_mean

    match = [c for c in classes if str(c) == str(positive).strip()]
    if not match:
        raise ModelError(f"--positive {positive!r} is not a value of target column {col.name!r} "
                         f"(values: {', '.join(repr(str(c)) for c in classes)})"
                         f"{did_you_mean(str(positive), [str(c) for c in classes])}", path=where)
    return [c for c in classes if c is not match[0]] + match


def _binary_target(col: pd.Series, where: str | None, positive=None) -> tuple[np.ndarray, list]:
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
    if positive is not None:
        classes = _positive_first(classes, col, positive, where)
    return (values == classes[1]).astype(np.int64), classes


#: Integer targets with at most this many distinct values are not taken as continuous
#: without ``--task regression`` (a grade or a class code is not a measurement).
MAX_INTEGER_LEVELS = 10


def _target(col: pd.Series, where: str | None, task: str | None, positive=None
            ) -> tuple[np.ndarray, list, str]:
    """Binary (0/1 + classes) or continuous (float) target, by ``task`` or by its values.

    A binary target's classes are sorted and the second is the positive class (coded 1),
    unless ``positive`` names one of the two values (``--positive``).
    """
    if task not in (None, "auto", "classification", "regression"):
        raise ModelError(f"--task must be 'auto', 'classification' or 'regression', got {task!r}")
    if col.isna().any():
        raise ModelError(
            f"target column {col.name!r} has {int(col.isna().sum())} missing values; "
            "drop those rows or fill them", path=where)
    n_levels = col.nunique()
    if task == "classification" or (task in (None, "auto") and n_levels == 2):
        y, classes = _binary_target(col, where, positive)
        return y, classes, "classification"
    if positive is not None:
        raise ModelError(f"--positive applies to a binary target; target column {col.name!r} holds "
                         f"{n_levels} distinct values", path=where)
    values, reason = _as_number(col)
    if values is None or values.isna().any():
        if task == "regression":
            raise ModelError(f"target column {col.name!r} is not numeric ({reason}); a "
                             "continuous target needs numbers", path=where)
        _binary_target(col, where)  # raises the binary error with the values found
    v = values.to_numpy(float)
    if not np.isfinite(v).all():
        raise ModelError(f"target column {col.name!r} holds inf/-inf values", path=where)
    if n_levels < 3:
        raise ModelError(f"target column {col.name!r} holds {n_levels} distinct value(s); a "
                         "continuous target needs more than two", path=where)
    if task != "regression" and np.all(v == np.round(v)) and n_levels <= MAX_INTEGER_LEVELS:
        raise ModelError(
            f"target column {col.name!r} must be binary, found {n_levels} distinct values "
            f"{sorted(pd.unique(v).tolist())[:10]}; whole numbers with at most "
            f"{MAX_INTEGER_LEVELS} values are not taken as a continuous target (a grade or a "
            "class code?): pass --task regression to model it as continuous, or recode it into "
            "two classes", path=where)
    return v, [], "regression"


def _survival_target(df, time, event, where):
    from sksurv.util import Surv

    for c, opt in ((time, "--time"), (event, "--event")):
        if c not in df.columns:
            raise _column_missing(c, df.columns, f"{opt} column", where)
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
        raise ModelError(f"event column {event!r} holds no event (every row is censored); "
                         "survival models need events", path=where)
    if t.nunique() < 2:
        raise ModelError(
            f"time column {time!r} holds the same value ({t.iloc[0]:g}) in all {len(t)} rows; "
            "survival models need different follow-up times (is it the right column?)",
            path=where)
    if t[e.astype(bool)].nunique() < 2 and t[e.astype(bool)].min() >= t.max():
        raise ModelError(
            f"time column {time!r}: every event happens at the longest follow-up time, so no "
            "pair of rows can be ordered; survival models need events at different times",
            path=where)
    return Surv.from_arrays(event=e.astype(bool).to_numpy(), time=t.to_numpy(float))
