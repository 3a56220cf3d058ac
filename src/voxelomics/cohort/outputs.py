"""Files of a cohort run: feature table, error table, run record, failure logs.

``OUT/features.parquet``
    One row per case (identifier columns ``case_id``, ``roi``, ``image_type`` first,
    then features, then the manifest's extra columns). Its Parquet key-value metadata
    holds the provenance: ``voxelomics.settings_yaml``, ``voxelomics.settings_hash``,
    ``voxelomics.versions`` (JSON), ``voxelomics.created`` (ISO 8601, UTC) and
    ``voxelomics.naming``. Read it back with :func:`read_provenance`.
``OUT/errors.csv``
    ``case_id, step, error_type, message, roi, log``; the header is written even when
    no case failed.
``OUT/run.json``
    Start and end times, back-end, worker count, versions, settings hash, counts.
``OUT/logs/<case key>.log``
    The traceback (or the crash description) of each failed case.

Every file is written to a temporary name and renamed into place, so readers never see
a half-written table.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

__all__ = [
    "ERROR_COLUMNS",
    "ID_COLUMNS",
    "package_versions",
    "read_provenance",
    "write_errors",
    "write_features",
    "write_json",
    "write_log",
    "utc_now",
]

ID_COLUMNS = ("case_id", "roi", "image_type")
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


def _atomic_path(final: Path):
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    return Path(tmp)


def _replace(tmp: Path, final: Path) -> None:
    try:
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


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
    table = pa.Table.from_pandas(df, preserve_index=False)
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
