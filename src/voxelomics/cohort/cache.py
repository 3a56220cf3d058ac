"""Per-case result cache: one Arrow part file per finished case.

Layout inside the output folder::

    OUT/.parts/<settings_hash>/<case key>.<input fingerprint>.arrow

The folder name is the settings hash, so changing any setting that affects feature
values starts a fresh cache, while re-running the same command finds the cases already
done. Only successes are cached: a failed case has no part file and is computed again
on the next run.

A part file holds what the case's *inputs* determine: the identifier columns, the
modality and provenance, and the features under their readable names. The manifest's
extra columns (outcomes, clinical data) and the column naming are applied when the
parts are merged, so editing the manifest or switching ``naming`` never needs a
recomputation and never shows stale values.

The file name carries :func:`input_fingerprint` of the case's image and mask (size and
modification time of each file, or of every file of a DICOM folder). A part whose
fingerprint differs from the files' current one is stale: the case is computed again
(and counted as "inputs changed"), and the stale part is removed once the new one is
written.

Part files are one-row Arrow IPC files (uncompressed): about ten times faster to write
and read than one-row Parquet files, which matters when thousands of them are merged.
A part file is written to a temporary name in the same folder, flushed to disk, then
renamed over its final name (``os.replace``, atomic on POSIX and Windows), so a run
killed at any moment leaves either a complete part file or none.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

__all__ = ["case_key", "input_fingerprint", "fingerprints", "PartCache", "INPUT_EXTRA_COLUMNS"]

#: Manifest extra columns that choose the input (a DICOM folder's series): they go to the
#: case function and into the case key, unlike the other extra columns.
INPUT_EXTRA_COLUMNS = ("series_uid",)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: ``<case key>.<16 hex digits>``: the stem of a part file.
_PART = re.compile(r"(?P<key>.+-[0-9a-f]{10})\.(?P<fp>[0-9a-f]{16})")


def case_key(case) -> str:
    """Stable, file-system-safe key of one manifest entry.

    The key is the case identifier made safe for file names (at most 60 characters),
    then a 10-hex-digit digest of what identifies the task in a manifest: case id,
    label, ROI and modality, the extra columns that choose the input
    (:data:`INPUT_EXTRA_COLUMNS`: ``series_uid``) when given, and the peritumoral ring
    (every one of its settings) when the task extracts one. Two entries of one case
    (e.g. two ROIs, or two series of one DICOM folder) get different keys. File paths are left out, so a cohort whose data moved to another mount point
    still finds its cached results; the files' contents are checked separately, by
    :func:`input_fingerprint`.

    Parameters
    ----------
    case : voxelomics.io.manifest.Case
        Any object with ``case_id``, ``label``, ``roi`` and ``modality`` attributes
        (``extra`` optional).

    Returns
    -------
    str
        E.g. ``"STS_001-3f2a9c01de"``.
    """
    fields = tuple(
        None if getattr(case, name, None) is None else str(getattr(case, name))
        for name in ("case_id", "label", "roi", "modality")
    )
    extra = getattr(case, "extra", None) or {}
    chosen = tuple((k, str(extra[k])) for k in INPUT_EXTRA_COLUMNS if extra.get(k) not in (None, ""))
    if chosen:  # only then: keys of manifests without such columns stay as they were
        fields += chosen
    ring = getattr(case, "ring", None)
    if ring is not None:  # a peritumoral ring of the ROI: its own task, keyed by its full spec
        fields += (("ring", json.dumps(ring.model_dump(mode="json"), sort_keys=True)),)
    digest = hashlib.sha1(repr(fields).encode()).hexdigest()[:10]
    safe = _UNSAFE.sub("_", str(case.case_id)).strip("._")[:60] or "case"
    return f"{safe}-{digest}"


def _path_state(path) -> tuple:
    """What identifies the current contents of one input path, without reading it."""
    if path is None:
        return ("none",)
    try:
        st = os.stat(path)
    except OSError:
        return ("missing",)
    if not stat.S_ISDIR(st.st_mode):
        return ("file", st.st_size, st.st_mtime_ns)
    entries = []
    try:
        with os.scandir(path) as it:
            for entry in it:
                try:
                    if entry.is_file():  # the files of the series (sub-folders are not read)
                        est = entry.stat()
                        entries.append((entry.name, est.st_size, est.st_mtime_ns))
                except OSError:  # removed while listing
                    continue
    except OSError:
        return ("unreadable folder",)
    entries.sort()
    return ("folder", hashlib.sha1(repr(entries).encode()).hexdigest())


def input_fingerprint(case) -> str:
    """Fingerprint of a case's input files: changes when the image or mask is replaced.

    For a file: its size and modification time (ns). For a folder (a DICOM series):
    the sorted ``(name, size, mtime_ns)`` of the files directly in it, hashed. A
    missing path has a fingerprint of its own. Nothing is read, so this costs one
    ``stat`` per file. Paths are left out: data moved elsewhere with its modification
    times kept (``mv``, ``cp -p``, ``rsync -a``) keeps its fingerprint.

    Parameters
    ----------
    case : voxelomics.io.manifest.Case
        Any object with ``image`` and ``mask`` attributes (paths).

    Returns
    -------
    str
        16 hexadecimal digits.
    """
    state = (_path_state(getattr(case, "image", None)), _path_state(getattr(case, "mask", None)))
    return hashlib.sha1(repr(state).encode()).hexdigest()[:16]


def fingerprints(cases: Sequence) -> list[str]:
    """:func:`input_fingerprint` of many cases, with threads (a network file system's
    ``stat`` calls are slow one by one, fast together).

    Parameters
    ----------
    cases : sequence of Case

    Returns
    -------
    list of str
        In the order of ``cases``.
    """
    if len(cases) < 64:
        return [input_fingerprint(c) for c in cases]
    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(input_fingerprint, cases, chunksize=16))


class PartCache:
    """The part files of one output folder and one settings hash.

    Parameters
    ----------
    out : Path
        Output folder of the cohort run.
    settings_hash : str
        :meth:`voxelomics.settings.Settings.settings_hash` of the run.
    """

    def __init__(self, out: Path, settings_hash: str):
        self.folder = Path(out) / ".parts" / settings_hash

    @classmethod
    def at(cls, folder: Path) -> PartCache:
        """The cache of an existing part folder (used inside worker processes).

        Parameters
        ----------
        folder : Path
            ``OUT/.parts/<settings_hash>``.

        Returns
        -------
        PartCache
        """
        self = cls.__new__(cls)
        self.folder = Path(folder)
        return self

    @staticmethod
    def stem(key: str, fingerprint: str) -> str:
        """Name (without ``.arrow``) of the part file of a case key and input fingerprint.

        Parameters
        ----------
        key : str
            Case key (:func:`case_key`).
        fingerprint : str
            :func:`input_fingerprint` of the case.

        Returns
        -------
        str
        """
        return f"{key}.{fingerprint}"

    def path(self, stem: str) -> Path:
        """Part file of one stem (:meth:`stem`).

        Parameters
        ----------
        stem : str

        Returns
        -------
        Path
        """
        return self.folder / f"{stem}.arrow"

    def entries(self) -> dict[str, list[str]]:
        """Complete part files present, by case key (one directory listing).

        Returns
        -------
        dict of str to list of str
            Case key to the stems of its part files (normally one).
        """
        out: dict[str, list[str]] = {}
        if self.folder.is_dir():
            for p in self.folder.glob("*.arrow"):
                m = _PART.fullmatch(p.stem)
                if m is not None:
                    out.setdefault(m["key"], []).append(p.stem)
        return out

    def write(self, stem: str, row: dict) -> Path:
        """Write one result row atomically; return the part file's path.

        Parameters
        ----------
        stem : str
            :meth:`stem` of the case.
        row : dict
            One row: identifier columns and features (no manifest extra column).

        Returns
        -------
        Path
        """
        import pyarrow as pa
        import pyarrow.feather as feather

        from voxelomics.cohort.outputs import new_temporary

        self.folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist([row])
        final = self.path(stem)
        fd, tmp = new_temporary(final)
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

    def remove(self, stems: Iterable[str]) -> None:
        """Remove part files (stale entries of a case that was computed again).

        Parameters
        ----------
        stems : iterable of str
        """
        for stem in stems:
            self.path(stem).unlink(missing_ok=True)

    def read(self, stems: Iterable[str]):
        """Read part files (in the given order) into one DataFrame.

        Parameters
        ----------
        stems : iterable of str
            Stems of existing part files, in the order the rows should have.

        Returns
        -------
        pandas.DataFrame
            One row per part; columns in first-seen order (identifiers first). With no
            part (every case failed): no row, and the identifier and provenance columns
            of an extracted row (``case_id, roi, image_type, modality, provenance``, str).
        """
        import pandas as pd
        import pyarrow as pa
        import pyarrow.feather as feather

        from voxelomics.cohort.outputs import RESERVED_COLUMNS

        tables = [feather.read_table(self.path(k)) for k in stems]
        if not tables:
            return pd.DataFrame({c: pd.Series([], dtype=object) for c in RESERVED_COLUMNS})
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
