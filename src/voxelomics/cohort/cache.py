"""Per-case result cache: one Parquet part file per finished case.

Layout inside the output folder::

    OUT/.parts/<settings_hash>[-ibsi]/<case key>.arrow

The folder name is the settings hash (plus the naming scheme when it is not the
default), so changing any setting that affects feature values starts a fresh cache,
while re-running the same command finds the cases already done. Only successes are
cached: a failed case has no part file and is computed again on the next run.

Part files are one-row Arrow IPC files (uncompressed): about ten times faster to write
and read than one-row Parquet files, which matters when thousands of them are merged.
A part file is written to a temporary name in the same folder, flushed to disk, then
renamed over its final name (``os.replace``, atomic on POSIX and Windows), so a run
killed at any moment leaves either a complete part file or none.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["case_key", "PartCache"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def case_key(case) -> str:
    """Stable, file-system-safe key of one manifest entry.

    The key is the case identifier made safe for file names (at most 60 characters),
    then a 10-hex-digit digest of what identifies the task in a manifest: case id,
    label, ROI and modality. Two entries of one case (e.g. two ROIs) get different
    keys. File paths are left out, so a cohort whose data moved to another mount point
    still finds its cached results; after replacing a case's files, use ``force``.

    Parameters
    ----------
    case : voxelomics.io.manifest.Case
        Any object with ``case_id``, ``label``, ``roi`` and ``modality`` attributes.

    Returns
    -------
    str
        E.g. ``"STS_001-3f2a9c01de"``.
    """
    fields = tuple(
        None if getattr(case, name, None) is None else str(getattr(case, name))
        for name in ("case_id", "label", "roi", "modality")
    )
    digest = hashlib.sha1(repr(fields).encode()).hexdigest()[:10]
    safe = _UNSAFE.sub("_", str(case.case_id)).strip("._")[:60] or "case"
    return f"{safe}-{digest}"


class PartCache:
    """The part files of one output folder and one settings hash.

    Parameters
    ----------
    out : Path
        Output folder of the cohort run.
    settings_hash : str
        :meth:`voxelomics.settings.Settings.settings_hash` of the run.
    naming : {"readable", "ibsi"}
        Column naming; a non-default naming gets its own folder.
    """

    def __init__(self, out: Path, settings_hash: str, naming: str = "readable"):
        name = settings_hash if naming == "readable" else f"{settings_hash}-{naming}"
        self.folder = Path(out) / ".parts" / name

    @classmethod
    def at(cls, folder: Path) -> PartCache:
        """The cache of an existing part folder (used inside worker processes).

        Parameters
        ----------
        folder : Path
            ``OUT/.parts/<settings_hash>[-naming]``.

        Returns
        -------
        PartCache
        """
        self = cls.__new__(cls)
        self.folder = Path(folder)
        return self

    def path(self, key: str) -> Path:
        """Part file of one case key.

        Parameters
        ----------
        key : str
            Case key (:func:`case_key`).

        Returns
        -------
        Path
        """
        return self.folder / f"{key}.arrow"

    def done(self, keys: Iterable[str]) -> set[str]:
        """The keys among ``keys`` that have a complete part file.

        Parameters
        ----------
        keys : iterable of str
            Case keys of the manifest.

        Returns
        -------
        set of str
        """
        if not self.folder.is_dir():
            return set()
        present = {p.stem for p in self.folder.glob("*.arrow")}
        return {k for k in keys if k in present}

    def write(self, key: str, row: dict) -> Path:
        """Write one result row atomically; return the part file's path.

        Parameters
        ----------
        key : str
            Case key (:func:`case_key`).
        row : dict
            One feature-table row (identifier columns, features, extra columns).

        Returns
        -------
        Path
        """
        import pyarrow as pa
        import pyarrow.feather as feather

        self.folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist([row])
        final = self.path(key)
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                feather.write_feather(table, fh, compression="uncompressed")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return final

    def read(self, keys: Iterable[str]):
        """Read the part files of ``keys`` (in that order) into one DataFrame.

        Parameters
        ----------
        keys : iterable of str
            Keys with a part file, in the order the rows should have.

        Returns
        -------
        pandas.DataFrame
            One row per key; columns in first-seen order (identifiers first).
        """
        import pandas as pd
        import pyarrow as pa
        import pyarrow.feather as feather

        tables = [feather.read_table(self.path(k)) for k in keys]
        if not tables:
            return pd.DataFrame(columns=["case_id", "roi", "image_type"])
        # "permissive" unifies schemas in first-seen column order (null -> double, ...)
        return pa.concat_tables(tables, promote_options="permissive").to_pandas()

    def clean_temporary(self) -> None:
        """Remove temporary files left by a run that was killed while writing.

        Returns
        -------
        None
        """
        if self.folder.is_dir():
            for tmp in self.folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
