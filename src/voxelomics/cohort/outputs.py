"""Files of a cohort run: feature table, error table, run record, failure logs.

``OUT/features.parquet``
    One row per case and region: identifier columns ``case_id``, ``roi``, ``image_type``
    first, then ``modality`` and ``provenance``, then the study columns
    (:data:`STUDY_COLUMNS`: ``patient_id``, which is the ``case_id`` when the manifest has
    no such column or an empty cell; ``timepoint`` when the manifest has one;
    ``lesion_id``; ``region``), then the DICOM header covariates (``dicom_*``, for DICOM
    images), then features, then the manifest's other extra columns. When every case
    failed it is still written, with no row and the columns ``case_id, roi, image_type,
    modality, provenance, patient_id, lesion_id, region`` plus the extra columns (no
    feature column: the features are known only from a computed case). Its Parquet
    key-value metadata holds the provenance: ``voxelomics.settings_yaml``,
    ``voxelomics.settings_hash``, ``voxelomics.versions`` (JSON), ``voxelomics.created``
    (ISO 8601, UTC) and ``voxelomics.naming``. Read it back with :func:`read_provenance`.
``OUT/errors.csv``
    ``case_id, step, error_type, message, roi, log``; the header is written even when
    no case failed.
``OUT/run.json``
    Start and end times, back-end, worker count, versions, settings hash, counts.
``OUT/logs/<case key>.log``
    The traceback (or the crash description) of each failed case.

Every file is written to a temporary name and renamed into place, so readers never see
a half-written table. Files get the ordinary mode of a new file (``0o666`` less the
process umask, e.g. ``rw-r--r--``), like any other program's output, not the owner-only
mode of :func:`tempfile.mkstemp`.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import secrets
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

__all__ = [
    "ERROR_COLUMNS",
    "ID_COLUMNS",
    "RESERVED_COLUMNS",
    "STUDY_COLUMNS",
    "check_extra_columns",
    "merge_table",
    "new_temporary",
    "package_versions",
    "read_provenance",
    "write_errors",
    "write_features",
    "write_json",
    "write_log",
    "utc_now",
]

ID_COLUMNS = ("case_id", "roi", "image_type")
#: Columns of a part file that are not features; no manifest extra column may take them.
RESERVED_COLUMNS = ("case_id", "roi", "image_type", "modality", "provenance", "lesion_id", "region")
#: Columns placed after the identifiers and before the covariates and features: the patient
#: (a manifest column, else the case), the time point (a manifest column), the lesion and region.
STUDY_COLUMNS = ("patient_id", "timepoint", "lesion_id", "region")
ERROR_COLUMNS = ("case_id", "step", "error_type", "message", "roi", "log")
_PACKAGES = ("voxelomics", "numpy", "scipy", "SimpleITK", "pandas", "pyarrow", "pydantic",
             "scikit-image", "pydicom", "dask", "distributed")
_META = "voxelomics."


def utc_now() -> str:
    """Current time as an ISO 8601 string in UTC, to the second.

    Returns
    -------
    str
        E.g. ``"2026-01-31T09:15:02+00:00"``.
    """
    return datetime.now(UTC).isoformat(timespec="seconds")


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the results.

    Returns
    -------
    dict of str to str
        Package name to version (``"not installed"`` when absent).
    """
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def new_temporary(final: Path) -> tuple[int, Path]:
    """Create a new, empty temporary file beside ``final`` (for an atomic replace).

    The file is created with mode ``0o666``, which the operating system reduces by the
    process umask: the mode any program's new file gets (``tempfile.mkstemp`` would
    give ``0o600``, unreadable for the rest of a project group). Its name,
    ``.<final name>.<pid>.<random>.tmp``, is hidden and unique.

    Parameters
    ----------
    final : Path
        The file that will be replaced by the temporary one.

    Returns
    -------
    tuple of (int, Path)
        Open file descriptor (write-only, binary) and the temporary file's path.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = final.parent / f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # pragma: no cover - 32 random bits taken
            continue


def _atomic_path(final: Path):
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = new_temporary(final)
    os.close(fd)
    return tmp


def _replace(tmp: Path, final: Path) -> None:
    try:
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def check_extra_columns(cases, source=None) -> list[str]:
    """The manifest's extra column names; refuse one that a feature table column has.

    An extra column named like an identifier (``case_id``, ``image_type``,
    ``provenance`` ...) or like a feature, under either naming (``statistics_mean``,
    ``stat_mean``), would be silently shadowed in the table, so it is an input error.

    Parameters
    ----------
    cases : sequence of Case
        The manifest's cases (``extra`` dicts).
    source : str or Path or None, default=None
        The manifest file, for the message.

    Returns
    -------
    list of str
        Extra column names in first-seen order.

    Raises
    ------
    InputError
        An extra column has the name of an identifier or feature column.
    """
    from voxelomics.errors import InputError

    names = list(dict.fromkeys(k for c in cases for k in (getattr(c, "extra", None) or {})))
    if not names:
        return names
    from voxelomics.features.registry import readable_to_ibsi
    from voxelomics.io.header import HEADER_COLUMNS

    table = readable_to_ibsi()
    for name in names:
        what = ("an identifier" if name in RESERVED_COLUMNS
                else "a DICOM header covariate" if name in HEADER_COLUMNS
                else "a feature" if name in table or name in table.values() else None)
        if what is not None:
            raise InputError(
                f"the manifest's extra column {name!r} has the name of {what} column of the "
                "feature table, so one of them would be lost; expected other names for "
                f"extra columns (rename it, e.g. to '{name}_clinical')", path=source)
    return names


def _extra_column(values: list):
    """One extra column, typed: int64 (nullable Int64 with gaps), float64, or object."""
    import numpy as np
    import pandas as pd

    present = [v for v in values if not (v is None or (isinstance(v, float) and v != v))]
    if present and all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in present):
        try:
            if len(present) == len(values):
                return pd.array(values, dtype="int64")
            return pd.array([pd.NA if v is None else v for v in values], dtype="Int64")
        except (OverflowError, TypeError, ValueError):  # beyond int64: keep as objects
            return pd.array(values, dtype=object)
    if present and all(isinstance(v, int | float | np.number) and not isinstance(v, bool)
                       for v in present):
        return pd.array([np.nan if v is None else float(v) for v in values], dtype="float64")
    return pd.array(values, dtype=object)


def merge_table(parts, extras: list[dict], names: list[str], naming: str):
    """The feature table: part rows renamed to ``naming``, then the extra columns.

    Parameters
    ----------
    parts : pandas.DataFrame
        Rows read from the part files (identifiers, features under readable names).
    extras : list of dict
        The current manifest ``extra`` of each row of ``parts``, in the same order.
    names : list of str
        Extra column names (:func:`check_extra_columns`), in output order.
    naming : {"readable", "ibsi"}
        Feature column naming (:func:`voxelomics.extract.rename`).

    Returns
    -------
    pandas.DataFrame
        ``parts`` columns and one typed column per extra name, ordered: identifiers,
        ``modality``, ``provenance``, :data:`STUDY_COLUMNS` (``patient_id`` filled with
        ``case_id`` where the manifest gives none), ``dicom_*`` covariates, the rest (features,
        then the other extra columns).

    Raises
    ------
    InputError
        An extra column has the name of a column of the part rows (a custom case
        function's column, not known before the run).
    """
    import pandas as pd

    from voxelomics.cohort.cache import INPUT_EXTRA_COLUMNS
    from voxelomics.errors import InputError
    from voxelomics.extract import rename

    # series_uid & co. went to the case function, which may have copied them into its
    # row: the manifest's value is joined below like any extra column
    parts = parts.drop(columns=[c for c in INPUT_EXTRA_COLUMNS if c in parts.columns and c in names])
    if naming != "readable":
        renamed = rename({c: c for c in parts.columns}, naming)  # new name -> old name
        parts = parts.rename(columns={old: new for new, old in renamed.items()})
    clash = [n for n in names if n in parts.columns]
    if clash:
        raise InputError(f"the manifest's extra column {clash[0]!r} has the name of a column "
                         "the case function returned; expected other names for extra columns")
    parts = parts.reset_index(drop=True)
    if names:
        extra = pd.DataFrame({n: _extra_column([e.get(n) for e in extras]) for n in names},
                             index=parts.index)
        parts = pd.concat([parts, extra], axis=1)
    # every row names its patient: one patient per case unless the manifest says otherwise
    given = parts["patient_id"] if "patient_id" in parts.columns else [None] * len(parts)
    parts["patient_id"] = pd.array(
        [str(c) if p is None or (isinstance(p, float) and p != p) else p
         for p, c in zip(given, parts["case_id"], strict=True)], dtype=object)
    return _ordered(parts)


def _ordered(df):
    """Identifiers, study columns, DICOM covariates, then the rest in their order."""
    from voxelomics.io.header import HEADER_COLUMNS

    first = [c for c in (*ID_COLUMNS, "modality", "provenance", *STUDY_COLUMNS) if c in df.columns]
    first += [c for c in HEADER_COLUMNS if c in df.columns]
    return df[first + [c for c in df.columns if c not in first]]


def write_features(df, path: Path, *, settings, naming: str, versions: dict, created: str) -> Path:
    """Write the feature table with its provenance, atomically.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per case, identifier columns first.
    path : Path
        Target file (``OUT/features.parquet``).
    settings : voxelomics.settings.Settings
        Settings of the run (YAML and hash go in the metadata).
    naming : str
        Column naming used.
    versions : dict of str to str
        :func:`package_versions`.
    created : str
        Timestamp (ISO 8601, UTC).

    Returns
    -------
    Path
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = [c for c in ID_COLUMNS if c in df.columns]
    df = df[ids + [c for c in df.columns if c not in ids]]
    from voxelomics.io.header import COLUMN_TYPES

    table = pa.Table.from_pandas(df, preserve_index=False)
    for i, f in enumerate(table.schema):  # no value (every case failed, a tag never set): typed
        if pa.types.is_null(f.type) and (f.name in RESERVED_COLUMNS or f.name == "patient_id"
                                         or f.name in COLUMN_TYPES):
            kind = pa.type_for_alias(COLUMN_TYPES.get(f.name, "string"))
            table = table.set_column(i, pa.field(f.name, kind), table.column(i).cast(kind))
    meta = dict(table.schema.metadata or {})
    meta.update({
        f"{_META}settings_yaml".encode(): settings.to_yaml().encode(),
        f"{_META}settings_hash".encode(): settings.settings_hash().encode(),
        f"{_META}versions".encode(): json.dumps(versions, sort_keys=True).encode(),
        f"{_META}created".encode(): created.encode(),
        f"{_META}naming".encode(): naming.encode(),
    })
    table = table.replace_schema_metadata(meta)
    tmp = _atomic_path(path)
    pq.write_table(table, tmp)
    _replace(tmp, path)
    return path


def read_provenance(path: str | Path) -> dict[str, object]:
    """Read the provenance stored in a ``features.parquet`` written by a cohort run.

    Parameters
    ----------
    path : str or Path
        A ``features.parquet`` file.

    Returns
    -------
    dict
        ``settings_yaml`` (str), ``settings_hash`` (str), ``versions`` (dict),
        ``created`` (str, ISO 8601 UTC), ``naming`` (str).

    Raises
    ------
    InputError
        The file is not readable Parquet or holds no voxelomics provenance.
    """
    import pyarrow.parquet as pq

    from voxelomics.errors import InputError

    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, ValueError) as exc:
        raise InputError(f"not a readable Parquet file ({exc})", path=path) from None
    out: dict[str, object] = {}
    for key, value in meta.items():
        k = key.decode()
        if k.startswith(_META):
            out[k[len(_META):]] = value.decode()
    if "settings_hash" not in out:
        raise InputError("the file holds no voxelomics provenance metadata; expected a "
                         "features.parquet written by extract_cohort", path=path)
    out["versions"] = json.loads(out.get("versions", "{}"))
    return out


def write_errors(records: list[dict], path: Path) -> Path:
    """Write the error table (header even when empty), atomically.

    Parameters
    ----------
    records : list of dict
        One dict per failed case with the keys of :data:`ERROR_COLUMNS`.
    path : Path
        Target file (``OUT/errors.csv``).

    Returns
    -------
    Path
    """
    tmp = _atomic_path(path)
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(ERROR_COLUMNS), extrasaction="ignore")
        writer.writeheader()
        for rec in records:
            writer.writerow({k: ("" if rec.get(k) is None else rec.get(k)) for k in ERROR_COLUMNS})
    _replace(tmp, path)
    return path


def write_json(data: dict, path: Path) -> Path:
    """Write a JSON record (``run.json``) atomically, indented, keys in insertion order.

    Parameters
    ----------
    data : dict
        JSON-serialisable record (other values are written with ``str``).
    path : Path
        Target file.

    Returns
    -------
    Path
    """
    tmp = _atomic_path(path)
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    _replace(tmp, path)
    return path


def write_log(logs: Path, key: str, case_id: str, outcome: dict, attempts: int) -> Path:
    """Write the log file of one failed case: what failed, where, and the traceback.

    Parameters
    ----------
    logs : Path
        Folder of the log files (``OUT/logs``).
    key : str
        Case key (file name).
    case_id : str
        Case identifier.
    outcome : dict
        Failure outcome (``step``, ``error_type``, ``message``, ``traceback``, ...).
    attempts : int
        How many times the case was tried.

    Returns
    -------
    Path
    """
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / f"{key}.log"
    lines = [
        f"case_id: {case_id}",
        f"time: {utc_now()}",
        f"step: {outcome.get('step')}",
        f"error_type: {outcome.get('error_type')}",
        f"message: {outcome.get('message')}",
        f"attempts: {attempts}",
        f"seconds: {outcome.get('seconds', float('nan')):.3f}",
        f"worker pid: {outcome.get('pid')}",
        "",
        outcome.get("traceback") or "(no Python traceback: the worker process did not return)",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
