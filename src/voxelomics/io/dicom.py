"""DICOM image series: discovery, slice order, geometry, rescaling and SUV.

A folder is read as follows.

1. Every file directly inside the folder is parsed (header only); files that are not
   DICOM, and non-image objects (RTSTRUCT, SEG, RTPLAN, RTDOSE, SR ...), are ignored.
   A file that looks like DICOM (``.dcm``/``.dicom``/``.ima`` ending or the ``DICM``
   marker) but cannot be parsed, or an image-storage object whose header lacks the
   geometry tags (a truncated file), raises :class:`~voxelomics.errors.InputError`
   naming the files: skipping it would turn a broken slice into a "slice gap".
2. Images are grouped by ``SeriesInstanceUID``. With several series the caller must pick
   one by ``series_uid``; otherwise :class:`~voxelomics.errors.InputError` lists them
   (UID, modality, description, number of files).
3. Slices are ordered by their position along the slice normal
   :math:`n = r \\times c` (``ImagePositionPatient · n``, with ``r``/``c`` the row and
   column cosines of ``ImageOrientationPatient``), never by file name or InstanceNumber.
4. ``RescaleSlope``/``RescaleIntercept`` are applied **per slice** (PET series carry a
   different slope on every slice).
5. Geometry: origin = position of the first slice, direction columns = ``(r, c, n)``,
   spacing ``(z, y, x)`` = (mean gap, ``PixelSpacing[0]``, ``PixelSpacing[1]``).

Slice gaps (decision)
    Let ``g`` be the gaps between consecutive positions and ``ḡ`` their mean.

    * all ``|g - ḡ| <= 1e-3 ḡ`` (:data:`GAP_UNIFORM_RTOL`): uniform, nothing done;
    * all ``|g - ḡ| <= 5e-2 ḡ`` (:data:`GAP_RESAMPLE_RTOL`; e.g. the PET bed joins of
      STS_001, 3.19/3.29 mm among 3.27 mm): the slices are **resampled onto a uniform grid**
      (first to last slice position, spacing ``ḡ``) by linear interpolation along the
      normal. A :class:`~voxelomics.errors.GeometryWarning` is emitted and
      ``Volume.metadata["slice_resampling"]`` records the original positions and the
      largest displacement. Slices that already lie on the uniform grid are unchanged.
    * larger deviations (a missing slice, mixed spacings): :class:`~voxelomics.errors.GeometryError`
      listing only the gaps that differ from the typical (median) gap, with that expected
      spacing and, for whole multiples of it, the number of slices that seem missing.

    The resampling warning is emitted once per series and process (the record in
    ``metadata`` is always written), at the first call site outside voxelomics.

Gantry tilt
    When the stack direction (last minus first position) is not parallel to ``n`` by more
    than :data:`TILT_TOLERANCE_DEG`, a :class:`~voxelomics.errors.GeometryError` gives the
    tilt angle; tilted stacks are not de-sheared.

SUV
    ``suv=None`` (default) converts PT series with ``Units = BQML`` to body-weight SUV and
    leaves every other series in its stored units; ``suv=True`` requires a conversion (or
    an image already in ``GML``); ``suv=False`` never converts. ``Volume.metadata["suv"]``
    records what was done (see :mod:`voxelomics.io.suv`).

Only single-frame image storage is supported (one slice per file); enhanced multi-frame
objects raise :class:`~voxelomics.errors.InputError`.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voxelomics.errors import GeometryError, GeometryWarning, InputError
from voxelomics.io.header import header_covariates
from voxelomics.io.suv import parse_dicom_datetime, suv_factor
from voxelomics.volume import Volume

__all__ = ["SeriesInfo", "list_series", "read_dicom_series", "is_dicom_file", "read_header", "warn_once",
           "unreadable_message",
           "GAP_UNIFORM_RTOL", "GAP_RESAMPLE_RTOL", "TILT_TOLERANCE_DEG"]

GAP_UNIFORM_RTOL = 1e-3
"""Relative gap deviation below which a series counts as uniformly spaced."""
GAP_RESAMPLE_RTOL = 5e-2
"""Relative gap deviation up to which a series is resampled onto a uniform grid."""
TILT_TOLERANCE_DEG = 0.05
"""Largest accepted angle (degrees) between the stack direction and the slice normal."""

NON_IMAGE_MODALITIES = {"RTSTRUCT", "SEG", "RTPLAN", "RTDOSE", "RTRECORD", "SR", "PR", "KO", "REG"}


@dataclass(frozen=True)
class SeriesInfo:
    """One image series found in a folder.

    Parameters
    ----------
    series_uid : str
        SeriesInstanceUID.
    modality : str
        DICOM Modality (``"CT"``, ``"PT"``, ``"MR"`` ...).
    description : str
        SeriesDescription (empty when absent).
    files : tuple of Path
        The image files of the series, unordered.
    """

    series_uid: str
    modality: str
    description: str
    files: tuple[Path, ...] = field(default=())

    @property
    def n_files(self) -> int:
        """Number of files in the series."""
        return len(self.files)

    def __str__(self) -> str:
        return f"{self.series_uid} ({self.modality}, {self.description!r}, {self.n_files} files)"


def is_dicom_file(path: str | Path) -> bool:
    """Tell whether a file starts with the DICOM preamble (``DICM`` at byte 128).

    Parameters
    ----------
    path : str or Path
        File to test.

    Returns
    -------
    bool
        True for a Part-10 DICOM file.
    """
    try:
        with open(path, "rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


_DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")
_GEOMETRY_TAGS = ("SeriesInstanceUID", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "Rows",
                  "Columns")
_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])
_WARNED: set = set()


def _user_stacklevel() -> int:
    """``stacklevel`` for a warning issued by the caller: the first frame outside voxelomics."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


def warn_once(key, message: str, category: type[Warning]) -> None:
    """Issue ``message`` once per ``key`` and process, pointing at the user's call site.

    Python's "default" warning filter shows a warning once per source line only until the
    filters change (``catch_warnings`` resets that memory), so a series read for several
    ROIs would repeat the same warning with a voxelomics source line each time.

    Parameters
    ----------
    key : hashable
        What the warning is about (e.g. ``("slice_resampling", folder, series_uid)``).
    message : str
        Warning text.
    category : type of Warning
        Warning class.
    """
    if key in _WARNED:
        return
    _WARNED.add(key)
    warnings.warn(message, category, stacklevel=_user_stacklevel())


def _looks_dicom(path: Path) -> bool:
    return path.suffix.lower() in _DICOM_SUFFIXES or is_dicom_file(path)


def _is_image_storage(ds) -> bool:
    uid = getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", None) or getattr(ds, "SOPClassUID", None)
    name = str(getattr(uid, "name", "") or "")
    return "Image Storage" in name and "Secondary Capture" not in name


def read_header(path: Path):
    """Parse one file's DICOM header (no pixel data).

    Parameters
    ----------
    path : Path
        Any file.

    Returns
    -------
    dataset : pydicom.Dataset or None
        The header; None when the file is not DICOM or cannot be used.
    problem : str or None
        Why a file that looks like DICOM (ending ``.dcm``/``.dicom``/``.ima`` or the
        ``DICM`` marker) cannot be used: it does not parse, or it is an image-storage
        object lacking geometry tags (truncated). None otherwise.
    """
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as exc:  # pydicom raises many types for broken files
        if not _looks_dicom(path):
            return None, None
        text = str(exc).strip().splitlines()
        return None, f"cannot be parsed ({type(exc).__name__}: {text[0].split('. ')[0][:160] if text else ''})"
    modality = str(getattr(ds, "Modality", "") or "")
    if modality not in NON_IMAGE_MODALITIES and _is_image_storage(ds):
        missing = [tag for tag in _GEOMETRY_TAGS if tag not in ds]
        if missing:
            return None, f"image header lacks {', '.join(missing)} (truncated or incomplete file?)"
    return ds, None


def unreadable_message(bad: list[tuple[Path, str]], limit: int = 5) -> str:
    """One line naming unreadable DICOM files and why.

    Parameters
    ----------
    bad : list of (Path, str)
        Files and the problem found by :func:`read_header`.
    limit : int, default=5
        Files named; the rest are counted.

    Returns
    -------
    str
        E.g. ``"2 DICOM file(s) cannot be read: a.dcm: ...; b.dcm: ..."``.
    """
    shown = "; ".join(f"{p.name}: {why}" for p, why in bad[:limit])
    more = f"; and {len(bad) - limit} more" if len(bad) > limit else ""
    return f"{len(bad)} DICOM file(s) cannot be read: {shown}{more}"


def _read_headers(folder: Path) -> list[tuple[Path, object]]:
    out, bad = [], []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        ds, problem = read_header(path)
        if problem is not None:
            bad.append((path, problem))
        if ds is None:
            continue
        modality = str(getattr(ds, "Modality", "") or "")
        if modality in NON_IMAGE_MODALITIES or "ImagePositionPatient" not in ds or "Rows" not in ds:
            continue
        out.append((path, ds))
    if bad:
        raise InputError(unreadable_message(bad) + "; replace or remove them (a slice left out would show as a "
                         "slice gap)", path=folder)
    return out


def list_series(folder: str | Path) -> list[SeriesInfo]:
    """List the image series stored directly in a folder.

    Parameters
    ----------
    folder : str or Path
        Folder holding DICOM files (not searched recursively).

    Returns
    -------
    list of SeriesInfo
        One entry per SeriesInstanceUID, sorted by UID.

    Raises
    ------
    InputError
        If the folder does not exist, or holds DICOM files that cannot be read (named).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("DICOM folder does not exist or is not a folder", path=folder)
    groups: dict[str, list] = {}
    for path, ds in _read_headers(folder):
        groups.setdefault(str(getattr(ds, "SeriesInstanceUID", "")), []).append((path, ds))
    return [
        SeriesInfo(uid, str(getattr(items[0][1], "Modality", "") or ""),
                   str(getattr(items[0][1], "SeriesDescription", "") or ""),
                   tuple(p for p, _ in items))
        for uid, items in sorted(groups.items())
    ]


def _select(folder: Path, headers, series_uid: str | None):
    groups: dict[str, list] = {}
    for path, ds in headers:
        groups.setdefault(str(getattr(ds, "SeriesInstanceUID", "")), []).append((path, ds))
    if not groups:
        raise InputError("no DICOM image files found in the folder", path=folder)
    infos = [SeriesInfo(uid, str(getattr(v[0][1], "Modality", "") or ""),
                        str(getattr(v[0][1], "SeriesDescription", "") or ""), tuple(p for p, _ in v))
             for uid, v in sorted(groups.items())]
    if series_uid is not None:
        if series_uid not in groups:
            raise InputError(
                f"series {series_uid} not found; the folder holds: " + "; ".join(map(str, infos)), path=folder)
        return groups[series_uid]
    if len(groups) > 1:
        raise InputError(
            f"the folder holds {len(groups)} image series; pass series_uid= to pick one of: "
            + "; ".join(map(str, infos)), path=folder)
    return next(iter(groups.values()))


def _check_consistent(folder: Path, items) -> tuple[np.ndarray, np.ndarray, tuple[int, int], np.ndarray]:
    first = items[0][1]
    if int(getattr(first, "NumberOfFrames", 1) or 1) > 1:
        raise InputError("enhanced multi-frame DICOM images are not supported (one slice per file expected)",
                         path=items[0][0])
    iop = np.asarray([float(v) for v in first.ImageOrientationPatient])
    ps = np.asarray([float(v) for v in first.PixelSpacing])
    size = (int(first.Rows), int(first.Columns))
    for path, ds in items[1:]:
        other = np.asarray([float(v) for v in ds.ImageOrientationPatient])
        if np.max(np.abs(other - iop)) > 1e-4:
            raise GeometryError(f"ImageOrientationPatient {other.tolist()} differs from the first slice's "
                                f"{iop.tolist()}", path=path)
        if (int(ds.Rows), int(ds.Columns)) != size:
            raise InputError(f"slice size {(int(ds.Rows), int(ds.Columns))} differs from the first slice's {size}",
                             path=path)
        if np.max(np.abs(np.asarray([float(v) for v in ds.PixelSpacing]) - ps)) > 1e-4 * ps.max():
            raise GeometryError(f"PixelSpacing {list(ds.PixelSpacing)} differs from the first slice's {ps.tolist()}",
                                path=path)
    return iop[:3], iop[3:], size, ps


def _check_gaps(folder: Path, positions: np.ndarray) -> tuple[float, bool]:
    """Return (mean gap, needs_resampling) or raise GeometryError."""
    gaps = np.diff(positions)
    if np.any(gaps < 1e-6 * max(1.0, float(np.abs(gaps).max()))):
        dup = positions[1:][gaps < 1e-6 * max(1.0, float(np.abs(gaps).max()))]
        raise InputError(
            f"{len(dup)} slices share a position with another slice (e.g. at {np.round(dup[:5], 3).tolist()} mm "
            "along the normal); several acquisitions or time frames in one series are not supported", path=folder)
    mean = float((positions[-1] - positions[0]) / (len(positions) - 1))
    dev = np.abs(gaps - mean) / mean
    if dev.max() <= GAP_UNIFORM_RTOL:
        return mean, False
    if dev.max() <= GAP_RESAMPLE_RTOL:
        return mean, True
    typical = float(np.median(gaps))
    off = np.abs(gaps - typical) / typical
    bad = np.flatnonzero(off > GAP_RESAMPLE_RTOL)
    small = int(np.count_nonzero((off > GAP_UNIFORM_RTOL) & (off <= GAP_RESAMPLE_RTOL))) if bad.size else 0
    if not bad.size:  # no single outlier: spacings are mixed around the median
        bad = np.flatnonzero(off > GAP_UNIFORM_RTOL)

    def one(i: int) -> str:
        ratio = gaps[i] / typical
        k = int(round(ratio))
        hint = f" ({k - 1} slice(s) missing?)" if k >= 2 and abs(ratio - k) < 0.1 else ""
        return f"{gaps[i]:.4g} mm between slices {i}/{i + 1}{hint}"

    listed = ", ".join(one(i) for i in bad[:10])
    more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
    small_text = f" (plus {small} gap(s) within {GAP_RESAMPLE_RTOL:.0%}, which alone would be resampled)" if small else ""
    raise GeometryError(
        f"non-uniform slice spacing: expected {typical:.4g} mm (the median of {len(gaps)} gaps), found "
        f"{len(bad)} gap(s) that differ: {listed}{more}{small_text}; gaps deviating by up to "
        f"{GAP_RESAMPLE_RTOL:.0%} from the mean are resampled, these deviate by up to {dev.max():.1%}", path=folder)


def _resample_uniform(array: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, float]:
    """Linear interpolation along axis 0 onto a uniform grid from first to last position."""
    n = len(positions)
    target = positions[0] + (positions[-1] - positions[0]) * np.arange(n) / (n - 1)
    hi = np.clip(np.searchsorted(positions, target, side="right"), 1, n - 1)
    lo = hi - 1
    w = (target - positions[lo]) / (positions[hi] - positions[lo])
    w = np.clip(w, 0.0, 1.0)[:, None, None]
    out = (1.0 - w) * array[lo].astype(np.float64) + w * array[hi].astype(np.float64)
    return out.astype(np.float32), float(np.max(np.abs(target - positions)))


def _pixels(items_sorted) -> tuple[np.ndarray, list[float], list[float]]:
    import pydicom

    slopes, intercepts, planes = [], [], []
    for path, _ in items_sorted:
        try:
            ds = pydicom.dcmread(path)
            px = ds.pixel_array
        except Exception as exc:  # pydicom raises many types for broken pixel data
            raise InputError(f"cannot decode pixel data: {exc}", path=path) from None
        slopes.append(float(getattr(ds, "RescaleSlope", 1.0) or 1.0))
        intercepts.append(float(getattr(ds, "RescaleIntercept", 0.0) or 0.0))
        planes.append(px)
    raw = np.stack(planes)
    integral = all(float(s).is_integer() for s in slopes) and all(float(i).is_integer() for i in intercepts)
    s = np.asarray(slopes)[:, None, None]
    b = np.asarray(intercepts)[:, None, None]
    if integral:
        out = raw.astype(np.int64) * s.astype(np.int64) + b.astype(np.int64)
        dtype = np.int16 if out.min() >= -32768 and out.max() <= 32767 else np.int32
        return out.astype(dtype), slopes, intercepts
    return (raw.astype(np.float64) * s + b).astype(np.float32), slopes, intercepts


def read_dicom_series(
    folder: str | Path,
    *,
    series_uid: str | None = None,
    suv: bool | None = None,
    case_id: str | None = None,
) -> Volume:
    """Read one DICOM image series from a folder into a :class:`Volume`.

    See the module docstring for slice ordering, rescaling, the slice-gap and tilt rules
    and the SUV default.

    Parameters
    ----------
    folder : str or Path
        Folder holding the series' files (other series and non-image files may be present).
    series_uid : str or None, default=None
        SeriesInstanceUID to read; required when the folder holds several image series.
    suv : bool or None, default=None
        ``None``: PT series with ``Units = BQML`` become SUVbw; ``True``: SUV required;
        ``False``: stored units (e.g. Bq/ml).
    case_id : str or None, default=None
        Case identifier added to error messages.

    Returns
    -------
    Volume
        Array of shape (z, y, x) in stored units after rescale (HU for CT; int16/int32
        when every slope and intercept is integral, float32 otherwise), or SUV (float32).
        ``metadata`` holds ``series_uid``, ``study_uid``, ``patient_id``,
        ``frame_of_reference_uid``, ``sop_instance_uids`` (slice order), ``rescale``,
        ``covariates`` (header fields for the table's ``dicom_*`` columns,
        :func:`voxelomics.io.header.header_covariates`) and, when applicable,
        ``slice_resampling`` and ``suv``.

    Raises
    ------
    InputError
        Missing folder, unreadable or truncated DICOM files (named), no image, several
        series without ``series_uid``, undecodable pixels, duplicate slice positions, SUV impossible with ``suv=True``.
    GeometryError
        Inconsistent orientation or pixel spacing, irregular slice gaps, gantry tilt.
    """
    folder = Path(folder)
    try:
        if not folder.is_dir():
            raise InputError("DICOM folder does not exist or is not a folder", path=folder)
        items = _select(folder, _read_headers(folder), series_uid)
        row, col, size, ps = _check_consistent(folder, items)
        normal = np.cross(row, col)
        if np.linalg.norm(normal) < 1e-3:
            raise GeometryError(f"ImageOrientationPatient row {row.tolist()} and column {col.tolist()} cosines "
                                "are parallel", path=folder)
        normal /= np.linalg.norm(normal)
        ipp = np.asarray([[float(v) for v in ds.ImagePositionPatient] for _, ds in items])
        order = np.argsort(ipp @ normal, kind="stable")
        items = [items[i] for i in order]
        ipp = ipp[order]
        positions = ipp @ normal
        meta: dict = {}
        if len(items) > 1:
            stack = ipp[-1] - ipp[0]
            cosang = abs(float(stack @ normal)) / float(np.linalg.norm(stack))
            tilt = float(np.degrees(np.arccos(min(1.0, cosang))))
            if tilt > TILT_TOLERANCE_DEG:
                raise GeometryError(
                    f"gantry tilt: the slice stack runs at {tilt:.3f} degrees to the slice normal "
                    f"(tolerance {TILT_TOLERANCE_DEG} degrees); tilted series are not supported", path=folder)
            gap, resample = _check_gaps(folder, positions)
        else:
            gap = float(getattr(items[0][1], "SpacingBetweenSlices", 0) or getattr(items[0][1], "SliceThickness", 0)
                        or 1.0)
            resample = False
        array, slopes, intercepts = _pixels(items)
        if resample:
            array, shift = _resample_uniform(array, positions)
            gaps = np.diff(positions)
            meta["slice_resampling"] = {
                "method": "linear interpolation along the slice normal onto a uniform grid",
                "mean_gap_mm": gap, "gaps_mm": np.round(gaps, 6).tolist(),
                "original_positions_mm": np.round(positions, 6).tolist(), "max_shift_mm": shift}
            warn_once(
                ("slice_resampling", str(folder.resolve()), str(getattr(items[0][1], "SeriesInstanceUID", ""))),
                f"{folder}: slice gaps vary from {gaps.min():.4g} to {gaps.max():.4g} mm; slices resampled onto a "
                f"uniform {gap:.4g} mm grid (largest shift {shift:.3g} mm)", GeometryWarning)
        first = items[0][1]
        modality = str(getattr(first, "Modality", "") or "") or None
        meta.update(
            series_uid=str(first.SeriesInstanceUID), study_uid=str(getattr(first, "StudyInstanceUID", "")),
            patient_id=str(getattr(first, "PatientID", "")),
            frame_of_reference_uid=str(getattr(first, "FrameOfReferenceUID", "")),
            series_description=str(getattr(first, "SeriesDescription", "") or ""),
            sop_instance_uids=[str(ds.SOPInstanceUID) for _, ds in items],
            covariates=header_covariates([ds for _, ds in items]),  # dicom_* columns of the table
            rescale={"per_slice": True, "n_distinct_slopes": len(set(slopes)),
                     "n_distinct_intercepts": len(set(intercepts))},
        )
        if suv is not False and modality == "PT":
            units = str(getattr(first, "Units", "") or "").upper()
            if suv or units in ("BQML", "GML"):
                acq = [parse_dicom_datetime(getattr(ds, "AcquisitionDate", None) or getattr(ds, "SeriesDate", None),
                                            getattr(ds, "AcquisitionTime", None)) for _, ds in items]
                acq = [a for a in acq if a is not None]
                factor, record = suv_factor(first, earliest_acquisition=min(acq) if acq else None)
                if factor != 1.0:
                    array = (array.astype(np.float64) * factor).astype(np.float32)
                meta["suv"] = record
        elif suv:
            raise InputError(f"SUV requested but the series is {modality!r}, not PT", path=folder)
        direction = np.column_stack([row, col, normal])
        return Volume(array, spacing_mm=(gap, float(ps[0]), float(ps[1])), origin_mm=tuple(ipp[0]),
                      direction=direction, modality=modality, source=str(folder), metadata=meta)
    except (InputError, GeometryError) as exc:
        exc.with_context(case_id=case_id, path=folder, step="read_image")
        raise
