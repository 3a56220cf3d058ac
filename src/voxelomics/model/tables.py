"""Loading feature and clinical tables and turning them into model inputs.

A feature table has one row per patient (or lesion): identifier columns, then numeric
feature columns (the Parquet written by ``voxelomics extract``, or CSV/Parquet from
elsewhere).

Which columns become features (:func:`prepare_data`, :func:`feature_columns`):

- columns with a role never are: ``--id``, ``--target``, ``--time``, ``--event``,
  ``--batch``, the clinical join column ``--on``, and those given to ``--exclude``;
- identifier columns never are: :data:`IDENTIFIER_COLUMNS` (the ``case_id, roi,
  image_type, modality, provenance, warnings`` written by ``voxelomics extract``, plus ``id``,
  ``patient_id``, ``series_uid`` ...; names compared case-insensitively);
- in a ``features.parquet`` written by ``voxelomics extract`` (provenance metadata)
  only the radiomic feature columns are features (:func:`extraction_features`); the
  manifest's extra columns (``outcome``, ``centre``) are dropped and reported;
- numeric columns are features; boolean columns become 0/1; text columns whose
  non-empty values all parse as numbers are converted, unless a value has a leading
  zero (``'007'``: an identifier); every other text column is dropped and reported with
  its reason in :attr:`ModelData.drop_reasons` (categories are not one-hot encoded);
- ``inf``/``-inf`` values are set to missing and imputed like NaN (counted per column).

A clinical table brings the outcome (binary target, or time and event for survival)
and optionally a batch column (scanner, centre) for ComBat; it is inner-joined on a
shared identifier column, and feature rows without a clinical row are counted.

Every problem is raised as :class:`~voxelomics.errors.ModelError` naming the file and
column: an empty table, a missing column (with a "did you mean"), a target that is not
binary, a degenerate survival outcome, duplicated identifiers, a batch level with one
row, a join that matches no rows, features that are entirely missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from voxelomics.errors import ModelError
from voxelomics.model.columns import (  # re-exported: part of this module's API
    EXCLUDED,
    IDENTIFIER_COLUMNS,
    OUTCOME_LIKE,
    _as_number,
    _column_missing,
    did_you_mean,
    extraction_features,
    feature_columns,
)
from voxelomics.model.targets import (  # noqa: F401 - re-exported
    MAX_INTEGER_LEVELS,
    _binary_target,
    _survival_target,
    _target,
)

__all__ = [
    "EXCLUDED",
    "IDENTIFIER_COLUMNS",
    "OUTCOME_LIKE",
    "ModelData",
    "default_id_column",
    "did_you_mean",
    "encode_batch",
    "extraction_features",
    "feature_columns",
    "join_clinical",
    "prepare_data",
    "read_table",
]



@dataclass(frozen=True)
class ModelData:
    """Model inputs taken from a table.

    Attributes
    ----------
    X : pandas.DataFrame of shape (n_samples, n_columns)
        Numeric model input. When a batch column is used, its integer codes are the
        first column (named ``batch``) and the features follow.
    y : ndarray of shape (n_samples,)
        Binary target as 0/1 (classification), the continuous target as float
        (regression), or a structured array with fields ``event`` (bool) and ``time``
        (float) for survival.
    ids : ndarray of shape (n_samples,)
        Row identifiers (the ``--id`` column, or the row number as text).
    feature_names : list of str
        Feature columns (without the batch column and the covariates).
    task : {"classification", "survival", "regression", "none"}
    classes : list
        Original target values mapped to 0 and 1 (classification only).
    batch_levels : list of str or None
        Batch categories in code order (code ``k`` is ``batch_levels[k]``).
    dropped : list of str
        Columns of the table with no role (not id, outcome or batch) that are not
        features, in table order.
    drop_reasons : dict of str to str
        Why each dropped column is not a feature.
    coerced : list of str
        Text or boolean columns converted to numbers.
    missing : dict of str to int
        Missing values per feature column (only columns with at least one); the model
        pipelines impute them (median of the training rows).
    infinite : dict of str to int
        ``inf``/``-inf`` values per feature column (only columns with at least one); they
        are set to missing (NaN) in ``X`` and imputed like missing values.
    id_col : str or None
        Column the identifiers came from (None: row numbers).
    without_clinical : list of str or None
        Identifiers of feature-table rows that had no row in the clinical table and were
        left out (None: no clinical table was joined).
    outcome_like : list of str
        Feature columns whose name suggests an outcome (e.g. ``Target``), for a warning.
    groups : ndarray of shape (n_samples,) or None
        Patient of each row (the ``--group`` column, as text): cross-validation never
        splits a patient and the bootstrap resamples whole patients. None: each row is
        its own patient.
    group_col : str or None
        Column the groups came from.
    clinical : pandas.DataFrame or None
        Inputs of the clinical-only comparator (clinical-table columns without a role,
        numeric or one-hot coded; see :func:`voxelomics.model.join.clinical_matrix`).
    tables : list of dict
        The feature tables joined (see :func:`voxelomics.model.join.read_feature_tables`).
    covariates : list of str
        Columns of ``X`` (the last ones) that are covariates (``--covariates``; text
        covariates one-hot coded as ``name=level``), see :mod:`voxelomics.model.covariates`.
    covariate_levels : dict of str to list of str
        Levels of the text covariates (reference first).
    lesions : dict or None
        How several rows of a patient were aggregated (:mod:`voxelomics.model.lesions`).
    notes : list of str
        Warnings about the inputs (e.g. covariate levels the model has not seen).
    """

    X: pd.DataFrame
    y: np.ndarray
    ids: np.ndarray
    feature_names: list[str]
    task: str
    classes: list = field(default_factory=list)
    batch_levels: list[str] | None = None
    dropped: list[str] = field(default_factory=list)
    drop_reasons: dict[str, str] = field(default_factory=dict)
    coerced: list[str] = field(default_factory=list)
    missing: dict[str, int] = field(default_factory=dict)
    infinite: dict[str, int] = field(default_factory=dict)
    id_col: str | None = None
    without_clinical: list[str] | None = None
    outcome_like: list[str] = field(default_factory=list)
    groups: np.ndarray | None = None
    group_col: str | None = None
    clinical: pd.DataFrame | None = None
    tables: list[dict] = field(default_factory=list)
    covariates: list[str] = field(default_factory=list)
    covariate_levels: dict = field(default_factory=dict)
    lesions: dict | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def features_only(self) -> pd.DataFrame:
        """``X`` without the covariate columns (batch codes, then the radiomic features)."""
        return self.X.drop(columns=list(self.covariates)) if self.covariates else self.X

    def dropped_report(self) -> list[dict[str, str]]:
        """Dropped columns with their reasons, for ``metrics.json`` and ``model.json``.

        Returns
        -------
        report : list of dict
            ``{"column": name, "reason": text}`` in table order.
        """
        return [{"column": c, "reason": self.drop_reasons.get(c, "")} for c in self.dropped]


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
        column take the suffix ``_clinical``. ``joined.attrs["without_clinical"]`` lists
        the identifiers of feature rows left out because the clinical table has no row
        for them.

    Raises
    ------
    ModelError
        If ``on`` is missing from either table (with a "did you mean" hint), an
        identifier repeats in the clinical table, or no row matches.
    """
    for name, table in (("feature", features), ("clinical", clinical)):
        if on not in table.columns:
            raise _column_missing(on, table.columns, "--on join column",
                                  where=clinical_path if name == "clinical" else None,
                                  place=f"in the {name} table")
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
    known = set(right[on])
    joined.attrs["without_clinical"] = [v for v in left[on] if v not in known]
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


def default_id_column(columns) -> str | None:
    """Identifier column used when none is given: ``case_id``, else ``ID``/``id``.

    Parameters
    ----------
    columns : iterable of str
        Column names of the table.

    Returns
    -------
    name : str or None
        ``"case_id"`` if present, else the first column named ``id`` in any case
        (``ID``, ``Id``, ``id``), else None (row numbers are used).
    """
    cols = [str(c) for c in columns]
    if "case_id" in cols:
        return "case_id"
    return next((c for c in cols if c.lower() == "id"), None)


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
    exclude: dict[str, str] | None = None,
    roles: tuple[str, ...] = (),
    path: str | Path | None = None,
    group: str | None = None,
    task: str | None = None,
    positive: str | None = None,
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
        Identifier column, excluded from the features. With an outcome, its values must
        be unique (one row per patient).
    time, event : str or None
        Survival time (any unit, >= 0) and event indicator (1 = event) columns.
    batch : str or None
        Batch column for ComBat; encoded to codes placed first in ``X``.
    features : list of str or None
        Feature columns to use (a fitted model's list; text holding numbers is converted,
        other text is an error); by default the columns chosen by
        :func:`feature_columns` among those that are not the id, outcome or batch.
    batch_levels : list of str or None
        Batch categories of a fitted model (code order).
    candidates : list of str or None
        Columns that may be features when ``features`` is None (the columns of the
        feature table, so that clinical columns never become features); default: all.
    exclude : dict of str to str or None
        Columns that are not features, with the reason recorded in the dropped-columns
        report (``--exclude``, manifest columns of an extraction).
    roles : tuple of str
        Further columns with a role (the clinical join column): never features, not
        reported as dropped.
    path : str or Path or None
        File the table came from, named in errors.
    group : str or None
        Patient column (``--group``): rows of one patient stay on one side of every split.
    task : {"auto", "classification", "regression"} or None
        What ``target`` is (``--task``). None/``"auto"``: two distinct values are a binary
        target; numbers with more than two values a continuous one, except whole numbers
        with at most :data:`MAX_INTEGER_LEVELS` values (a grade?), which are refused with
        a hint to pass ``"regression"``.
    positive : str or None
        The positive class (coded 1) of a binary target, matched as text (``--positive``);
        None: the second of the two values in sort order (``yes`` of ``no``/``yes``).

    Returns
    -------
    ModelData

    Raises
    ------
    ModelError
        An empty table; missing columns (with a "did you mean" hint); both a target and
        survival columns; a non-binary target or degenerate survival outcome;
        duplicated identifiers; a batch level with fewer than 2 rows; missing or
        non-numeric features of a fitted model; no numeric feature; features with no
        finite value at all; every feature constant (with an outcome); a missing group.
    """
    where = None if path is None else str(path)
    if len(table) == 0:
        raise ModelError("the table has no rows", path=where)
    if target is not None and (time is not None or event is not None):
        raise ModelError("give either --target (classification) or --time and --event "
                         "(survival), not both", path=where)
    for c, opt in ((target, "--target"), (id_col, "--id"), (batch, "--batch"),
                   (group, "--group")):
        if c is not None and c not in table.columns:
            raise _column_missing(c, table.columns, f"{opt} column", where)
    outcome = {c for c in (target, time, event, id_col, batch, group, *roles) if c}
    reasons: dict[str, str] = {}
    coerced: list[str] = []
    if features is not None:
        missing = [c for c in features if c not in table.columns]
        if missing:
            raise ModelError(
                f"{len(missing)} model feature column(s) missing from the table: {missing[:20]}",
                path=where,
            )
        cols = {}
        for c in features:
            values, reason = _as_number(table[c])
            if values is None:
                raise ModelError(f"model feature column {c!r} is not numeric: {reason}",
                                 path=where)
            cols[c] = values
        Xf = pd.DataFrame(cols, index=table.index, columns=list(features))
        feats = list(features)
    else:
        pool = table.columns if candidates is None else [c for c in candidates if c in table.columns]
        pool = [c for c in pool if c not in outcome]
        excluded = {c: r for c, r in (exclude or {}).items() if c in pool}
        Xf, reasons, coerced = feature_columns(table, [c for c in pool if c not in excluded])
        reasons = {c: excluded.get(c) or reasons[c] for c in pool if c in excluded or c in reasons}
        feats = list(Xf.columns)
    if not feats:
        raise ModelError(
            "the table holds no numeric feature column"
            + (f" (not used: {_describe(reasons)})" if reasons else ""), path=where)
    Xf = Xf.astype(float)
    inf = np.isinf(Xf.to_numpy())
    infinite = {c: int(k) for c, k in zip(Xf.columns, inf.sum(axis=0), strict=True) if k}
    if infinite:
        Xf = Xf.mask(inf)
    empty = Xf.columns[Xf.isna().all()].tolist()
    if empty:
        raise ModelError(
            f"{len(empty)} feature column(s) hold no value at all: {empty[:20]}"
            + (" (only inf/-inf)" if set(empty) & set(infinite) else "")
            + "; drop them or pass --exclude COL",
            path=where,
        )
    n_missing = Xf.isna().sum()
    missing_counts = {c: int(k) - infinite.get(c, 0) for c, k in n_missing.items()
                      if int(k) - infinite.get(c, 0)}
    has_outcome = target is not None or time is not None or event is not None
    if has_outcome:
        _check_not_all_constant(Xf, where)
    if id_col is not None and has_outcome:
        _check_unique_ids(table[id_col], where, group)
    groups = None
    if group is not None:
        g = table[group].astype("string").str.strip()
        if g.isna().any() or (g == "").any():
            raise ModelError(f"group column {group!r} has {int((g.isna() | (g == '')).sum())} "
                             "missing values; every row needs its patient", path=where)
        groups = g.astype(str).to_numpy()
    levels = None
    if batch is not None:
        codes, levels = encode_batch(table[batch], batch_levels)
        if batch_levels is None:
            _check_batch_levels(table[batch], where)
        Xf.insert(0, "batch", codes)
    ids = (table[id_col].astype(str).to_numpy() if id_col is not None
           else np.arange(len(table)).astype(str))
    if time is not None or event is not None:
        if time is None or event is None:
            raise ModelError("survival needs both --time and --event", path=where)
        if positive is not None and target is None:
            raise ModelError("--positive names a class of a binary --target; survival has none", path=where)
        y, task, classes = _survival_target(table, time, event, where), "survival", []
    elif target is not None:
        y, classes, task = _target(table[target], where, task, positive)
    else:
        y, task, classes = np.full(len(table), -1), "none", []
    suspects = ([c for c in feats if str(c).lower() in OUTCOME_LIKE]
                if features is None else [])
    return ModelData(
        X=Xf.reset_index(drop=True), y=y, ids=ids, feature_names=feats, task=task,
        classes=classes, batch_levels=levels, dropped=list(reasons), drop_reasons=reasons,
        coerced=coerced, missing=missing_counts, infinite=infinite, id_col=id_col,
        outcome_like=suspects, groups=groups, group_col=group,
    )


def _check_not_all_constant(X: pd.DataFrame, where) -> None:
    """Refuse a table in which no feature varies (nothing to learn; the filters would fail)."""
    lo, hi = X.min(skipna=True), X.max(skipna=True)
    if bool((lo == hi).all()):
        raise ModelError(
            f"all {X.shape[1]} feature column(s) are constant (each holds one value in every "
            f"row, e.g. {X.columns[0]!r} = {lo.iloc[0]:g}); there is nothing to learn from. "
            "Check the extraction (an empty or identical ROI?) or the --exclude options",
            path=where)


def _check_unique_ids(ids: pd.Series, where, group: str | None = None) -> None:
    text = ids.astype(str).str.strip()
    dup = text[text.duplicated(keep=False)]
    if len(dup):
        names = list(dict.fromkeys(dup))
        raise ModelError(
            f"identifier column {ids.name!r} holds {len(names)} duplicated identifier(s) "
            f"in {len(dup)} rows, e.g. {names[:10]}; expected one row per patient (copies "
            "of a patient in both training and test folds leak). Keep one row per "
            "patient (e.g. one ROI), or give --id a column that is unique"
            + ("" if group else " (with several lesions per patient: a lesion id for --id "
               "and the patient column for --group)"),
            path=where,
        )


def _check_batch_levels(values: pd.Series, where) -> None:
    counts = values.astype("string").value_counts()
    rare = counts[counts < 2]
    if len(rare):
        shown = ", ".join(f"{k!r} ({v})" for k, v in list(rare.items())[:5])
        raise ModelError(
            f"batch column {values.name!r} has {len(counts)} distinct values for "
            f"{len(values)} rows; {len(rare)} level(s) hold fewer than 2 rows: {shown}"
            f"{' ...' if len(rare) > 5 else ''}. A batch is a scanner or centre label with "
            "a few levels, each holding several rows (ComBat estimates each level's shift "
            "and scale from its rows and cannot adjust a level seen once); merge rare "
            "levels or leave out --batch",
            path=where,
        )


def _describe(reasons: dict[str, str], limit: int = 8) -> str:
    items = [f"{c} ({r})" for c, r in list(reasons.items())[:limit]]
    more = len(reasons) - limit
    return "; ".join(items) + (f"; and {more} more" if more > 0 else "")
