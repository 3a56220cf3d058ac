"""Reading images and masks from files, and checking that they share a grid.

Supported images: NIfTI (``.nii``, ``.nii.gz``), NRRD (``.nrrd``, ``.nhdr``), MetaImage
(``.mha``, ``.mhd``) read with SimpleITK, and DICOM series (a folder, or one file of the
series) read by :mod:`voxelomics.io.dicom`.

Masks (:func:`read_mask`) are label maps in any of those file formats, DICOM RTSTRUCT
files or DICOM SEG files; the DICOM kind is decided by the file's ``Modality``.

Single-slice images (decision)
    A 2-D file (e.g. a one-slice NRRD or a PNG-like NIfTI) and a DICOM series of one slice
    are read as a 3-D volume of one slice (z spacing: 1 mm for 2-D files, the DICOM
    ``SpacingBetweenSlices``/``SliceThickness`` otherwise) with a
    :class:`~voxelomics.errors.GeometryWarning`: texture features can be aggregated per
    slice, but 3-D morphological features (volume, surface, sphericity ...) of a single
    slice are not meaningful. They are not refused, because 2-D texture analysis of one
    slice is a legitimate use. ``Volume.metadata["single_slice"]`` records the case.

Label-map rules (decisions)
    * Integer maps are used as they are. Float maps are accepted when every value is within
      1e-6 of an integer (they are rounded); otherwise :class:`~voxelomics.errors.MaskError`
      lists the values found (up to 10).
    * ``label=None``: label 1 when present, else the only non-zero value when there is
      exactly one; several labels without 1 is ambiguous (``MaskError`` listing them).
      Label 1 taken from a map holding other labels too issues a
      :class:`~voxelomics.errors.RoiWarning` naming the labels present and how to choose
      (the manifest's ``label`` column), recorded in the case's row and ``warnings.csv``.
    * A requested label that is absent, or an all-zero map, raises
      :class:`~voxelomics.errors.EmptyRoiError` naming the case, the file and the label, and
      listing the labels present (the first 20).
    * A file with more than :data:`MAX_LABELS` distinct values is an image, not a label
      map: with ``label=None``, or when the selection fails, :class:`~voxelomics.errors.MaskError`
      says so and shows the first ten values. An explicit ``label=`` that is present is
      used (large atlases exist).

Direction cosines (decision, :mod:`voxelomics.io.direction`)
    Every file's direction matrix is made exactly orthonormal: deviations up to 1e-6 silently,
    up to 1e-3 (rounding of the stored matrix by converters; SimpleITK itself refuses NIfTI
    sforms beyond about 1e-4) with a :class:`~voxelomics.errors.GeometryWarning`; larger ones
    are a sheared grid and raise :class:`~voxelomics.errors.GeometryError`.

Geometry (:func:`align_mask`)
    Grids are compared with :meth:`voxelomics.volume.Grid.compare` at 1e-3 of a voxel.
    A mask whose grid differs by less is given the image geometry with a
    :class:`~voxelomics.errors.GeometryWarning`; a larger difference raises
    :class:`~voxelomics.errors.GeometryError` stating the offsets in mm and in voxels, and
    any size, spacing or direction mismatch.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from voxelomics.errors import (
    EmptyRoiError,
    GeometryError,
    GeometryWarning,
    InputError,
    MaskError,
    RoiWarning,
    VoxelomicsError,
)
from voxelomics.io.dicom import _DICOM_SUFFIXES, is_dicom_file, read_dicom_series, warn_once
from voxelomics.io.direction import orthonormal_direction
from voxelomics.io.nifti import nifti_data_problem, nifti_read_problem, read_nifti_orthonormalised
from voxelomics.volume import RoiMask, Volume, from_sitk, mask_from_sitk

__all__ = ["read_image", "read_mask", "align_mask", "load_case", "IMAGE_SUFFIXES", "MAX_LABELS"]

IMAGE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")
"""File endings read with SimpleITK."""

MAX_LABELS = 200
"""More distinct non-zero values than this: the file is taken for an image, not a label map
(whole-body atlases such as TotalSegmentator have ~120 labels)."""

_TOL_VOXELS = 1e-3
_SINGLE_SLICE = ("3-D morphological features (volume, surface, sphericity ...) of a single slice are not "
                 "meaningful; use per-slice (2-D) aggregation for texture")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suf in IMAGE_SUFFIXES:
        if name.endswith(suf):
            return suf
    return path.suffix.lower()


def _read_sitk(path: Path):
    import SimpleITK as sitk

    try:
        img = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        img = None
        if "orthonormal direction cosines" in str(exc) and _suffix(path) in (".nii", ".nii.gz"):
            img = read_nifti_orthonormalised(path)  # within the tolerance, else GeometryError
        if img is None:
            why = nifti_read_problem(path)  # SimpleITK only says it found no reader
            raise InputError(f"cannot read image: {why or (first[-1] if first else exc)}", path=path) from None
    problem = nifti_data_problem(path)
    if problem:
        raise InputError(f"cannot read image: {problem}", path=path)
    if img.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"expected a scalar image, found {img.GetNumberOfComponentsPerPixel()} components per "
                         "voxel", path=path)
    if img.GetDimension() not in (2, 3):  # images and label maps alike
        size = " x ".join(str(n) for n in img.GetSize())
        raise GeometryError(f"expected a 3D image, found {img.GetDimension()}D (size {size}, x first): a time "
                            "series or several volumes in one file; save the volume to use as its own 3-D file")
    if img.GetDimension() == 3:  # a 2-D file's 2x2 direction is checked once it is 3-D
        _set_orthonormal_direction(img, path)
    if img.GetDimension() == 2:
        img = sitk.JoinSeries(img)
        _set_orthonormal_direction(img, path)
        img.voxelomics_from_2d = True  # read_image warns (the mask of a 2-D image need not)
    return img


def _set_orthonormal_direction(img, path: Path) -> None:
    """Give ``img`` orthonormal direction cosines (rule in :mod:`voxelomics.io.direction`)."""
    d = np.asarray(img.GetDirection(), dtype=float)
    q = orthonormal_direction(d, path=path)
    if not np.array_equal(q.ravel(), d):
        img.SetDirection(tuple(float(v) for v in q.ravel()))


def _check_modality(modality: str | None, vol: Volume) -> None:
    """Raise InputError when ``modality`` contradicts the DICOM header's Modality."""
    if modality is None or vol.modality is None:
        return
    given, header = str(modality).strip().upper(), vol.modality.strip().upper()
    if given == header:
        return
    hint = ""
    from voxelomics.errors import SettingsError
    from voxelomics.settings import normalise_modality

    try:
        if normalise_modality(given) == header:
            return
    except SettingsError as exc:
        hint = f" ({exc.message})"
    series = vol.metadata.get("series_uid", "")
    raise InputError(f"modality {modality!r} was given, but the DICOM header of series {series} says Modality "
                     f"{vol.modality!r}{hint}; leave modality out for DICOM images (it is read from the header) "
                     "or check that this is the intended series")


def read_image(
    path: str | Path,
    *,
    modality: str | None = None,
    series_uid: str | None = None,
    suv: bool | None = None,
    case_id: str | None = None,
) -> Volume:
    """Read an image file or a DICOM series into a :class:`Volume`.

    Parameters
    ----------
    path : str or Path
        NIfTI, NRRD or MetaImage file; a folder holding a DICOM series; or one DICOM file
        of a series (the whole series of that file is read from its folder).
    modality : str or None, default=None
        Modality to record (``"CT"``, ``"PT"``, ``"MR"``). DICOM files carry their own;
        a different value given here raises :class:`InputError`.
    series_uid : str or None, default=None
        SeriesInstanceUID to read when a DICOM folder holds several series.
    suv : bool or None, default=None
        DICOM PET only: ``None`` converts ``Units = BQML`` series to SUVbw, ``True``
        requires SUV, ``False`` keeps Bq/ml (see :mod:`voxelomics.io.dicom`). ``True`` for
        a non-DICOM file raises :class:`InputError` (the SUV tags are missing).
    case_id : str or None, default=None
        Case identifier added to error messages.

    Returns
    -------
    Volume
        Array of shape (z, y, x) (HU for CT, SUV or Bq/ml for PET), with ``source`` = path
        and ``modality`` set. 2-D files become one slice.

    Warns
    -----
    GeometryWarning
        A 2-D file or a one-slice DICOM series (3-D morphology not meaningful); DICOM
        slices resampled onto uniform gaps. Each once per file or series and process.

    Raises
    ------
    InputError
        Missing, unreadable or unsupported file; several DICOM series without
        ``series_uid``; ``modality`` contradicting the DICOM header (both named).
    GeometryError
        DICOM geometry problems (irregular slice gaps, gantry tilt), non-3-D images.
    """
    path = Path(path)
    try:
        if not path.exists():
            raise InputError("image file or folder does not exist", path=path)
        if path.is_dir() or (_suffix(path) not in IMAGE_SUFFIXES and is_dicom_file(path)):
            if path.is_file():
                import pydicom

                series_uid = series_uid or str(pydicom.dcmread(path, stop_before_pixels=True).SeriesInstanceUID)
                path = path.parent
            vol = read_dicom_series(path, series_uid=series_uid, suv=suv, case_id=case_id)
            _check_modality(modality, vol)
            if vol.shape[0] == 1:
                vol.metadata["single_slice"] = "DICOM series of one slice"
                warn_once(("single_slice", str(path.resolve()), vol.metadata.get("series_uid")),
                          f"{path}: the DICOM series holds one slice; {_SINGLE_SLICE}", GeometryWarning)
            return vol
        if _suffix(path) not in IMAGE_SUFFIXES:
            raise InputError(f"unsupported image file type {_suffix(path)!r}; expected one of "
                             f"{', '.join(IMAGE_SUFFIXES)} or a DICOM series folder")
        if suv:
            raise InputError("suv=True needs a DICOM PET series (SUV tags); this file has none")
        img = _read_sitk(path)
        meta = {}
        if getattr(img, "voxelomics_from_2d", False):
            meta["single_slice"] = "2-D file read as one slice (z spacing 1 mm)"
            warn_once(("single_slice", str(path.resolve())),
                      f"{path}: 2-D image read as a 3-D volume of one slice (z spacing set to 1 mm); {_SINGLE_SLICE}",
                      GeometryWarning)
        elif img.GetSize()[2] == 1:
            meta["single_slice"] = "3-D file of one slice"
            warn_once(("single_slice", str(path.resolve())),
                      f"{path}: the 3-D image holds one slice; {_SINGLE_SLICE}", GeometryWarning)
        return from_sitk(img, modality=modality, source=str(path), metadata=meta)
    except VoxelomicsError as exc:
        exc.with_context(case_id=case_id, path=path, step="read_image")
        raise


def _dicom_modality(path: Path, *, strict: bool = False) -> str | None:
    """The DICOM ``Modality`` of a file; None when it is not DICOM.

    With ``strict``, a file that is DICOM by its ``DICM`` prefix or its ending
    (``.dcm``, ``.dicom``, ``.ima``) but whose header cannot be parsed raises
    :class:`~voxelomics.errors.InputError` saying the file is damaged (rather than being
    taken for an unsupported label-map type).
    """
    prefixed = is_dicom_file(path)
    if not prefixed and not (strict and path.suffix.lower() in _DICOM_SUFFIXES):
        return None
    import pydicom

    try:
        return str(pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["Modality"],
                                   force=not prefixed).Modality)
    except Exception as exc:
        if not strict:
            return None
        why = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, AttributeError):
            why = "no Modality in its header"
        what = ("the DICOM file is damaged: its header cannot be read" if prefixed else
                f"the file ends in {path.suffix!r} but is not readable DICOM (no 'DICM' prefix at byte 128)")
        raise InputError(f"{what} ({why}); expected a complete RTSTRUCT or SEG file (truncated or "
                         "incompletely copied? compare it with the original)") from None


def _image_like(values) -> str:
    """Message part for a 'mask' that holds image intensities."""
    first = ", ".join(f"{float(v):.6g}" for v in list(values)[:10])
    return (f"this looks like an image, not a label map: {len(values)} distinct values (first ten: {first}); "
            "expected a label map (a few integer labels), an RTSTRUCT or a SEG file")


def _shown(present: list[int], limit: int = 20) -> str:
    if len(present) <= limit:
        return str(present)
    return f"[{', '.join(map(str, present[:limit]))}, ...] ({len(present)} labels)"


def _select_label(values: np.ndarray, label: int | None, path: Path) -> int:
    present = [int(v) for v in values if v != 0]
    if label is None:
        if len(present) > MAX_LABELS:
            raise MaskError(_image_like(values))
        if 1 in present:
            if len(present) > 1:  # the others are dropped: say so, and how to choose
                others = [v for v in present if v != 1]
                warnings.warn(f"mask {path} holds labels {_shown(present)}; label 1 (the default) was used "
                              f"and {_shown(others)} left out: give a 'label' column in the manifest "
                              "(a label, a list such as 1;2, or 'all' for one row per label) or label= "
                              "to choose", RoiWarning, stacklevel=2)
            return 1
        if len(present) == 1:
            return present[0]
        if not present:
            raise EmptyRoiError("label 1 (default) selects no voxel: the mask is empty (all voxels are 0)")
        raise MaskError(f"no label given and the mask holds several labels without 1: {_shown(present)}; "
                        "pick one with label=")
    if int(label) not in present:
        if len(present) > MAX_LABELS:
            raise MaskError(f"label {int(label)} is not in the mask; {_image_like(values)}")
        raise EmptyRoiError(f"label {int(label)} is not in the mask; labels present: "
                            f"{_shown(present) if present else 'none (all 0)'}")
    return int(label)


def _label_values(arr: np.ndarray) -> np.ndarray:
    """Sorted distinct values of a label map, as ``np.unique`` but without sorting when it can.

    Integer label maps hold few labels: the minimum and maximum are present by definition,
    so a range of at most two values needs no further pass, and a small range needs one
    comparison pass per inner value instead of a sort of the whole (z, y, x) array (a
    512 x 512 x N CT label map: ~100 ms for ``np.unique``, ~2 ms for min/max).
    """
    if arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        return np.unique(arr)
    lo, hi = arr.min(), arr.max()
    span = int(hi) - int(lo)
    if span > 8:
        return np.unique(arr)
    inner = [v for v in range(int(lo) + 1, int(hi)) if (arr == v).any()]
    return np.array([int(lo), *inner, int(hi)] if span else [int(lo)], dtype=arr.dtype)


def _label_map(path: Path, label: int | None) -> RoiMask:
    import SimpleITK as sitk

    img = _read_sitk(path)
    # a read-only view of the label map (no copy of a 512 x 512 x N array); only the
    # boolean mask built from it is kept, while ``img`` is alive
    arr = sitk.GetArrayViewFromImage(img)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    values = _label_values(arr)
    if np.issubdtype(arr.dtype, np.floating):
        bad = values[~np.isfinite(values) | (np.abs(values - np.rint(values)) > 1e-6)]
        if bad.size:
            shown = ", ".join(f"{v:.6g}" for v in bad[:10]) + (f" (and {bad.size - 10} more)" if bad.size > 10 else "")
            if values.size > MAX_LABELS:
                raise MaskError(f"mask values must be integer labels; {_image_like(values)}")
            raise MaskError(f"mask values must be integer labels (within 1e-6); found non-integer values {shown} "
                            f"among {values.size} distinct values")
        arr = np.rint(arr).astype(np.int64)
        values = np.unique(arr)
    chosen = _select_label(values, label, path)
    return mask_from_sitk(img, label=chosen, source=str(path), array=arr == chosen)


def _masks_in(folder: Path, limit: int = 200) -> str:
    """Hint naming the RTSTRUCT/SEG files directly inside ``folder`` (first ``limit`` files looked at)."""
    found = []
    for i, p in enumerate(sorted(folder.iterdir())):
        if i >= limit:
            break
        if p.is_file() and _dicom_modality(p) in ("RTSTRUCT", "SEG"):
            found.append(p.name)
    return f" (the folder holds {', '.join(found[:5])}{' ...' if len(found) > 5 else ''})" if found else ""


def read_mask(
    path: str | Path,
    *,
    label: int | None = None,
    roi: str | None = None,
    reference: Volume,
    case_id: str | None = None,
) -> RoiMask:
    """Read a region of interest from a label map, an RTSTRUCT or a DICOM SEG.

    The file type is decided by the DICOM ``Modality`` (``RTSTRUCT``, ``SEG``) for DICOM
    files, by the file ending otherwise. Label-map rules are in the module docstring.

    Parameters
    ----------
    path : str or Path
        Mask file.
    label : int or None, default=None
        Label map: the label value (default rule in the module docstring). SEG: the
        segment number, when ``roi`` is not given.
    roi : str or None, default=None
        RTSTRUCT: the ROI name (``None``: the only ROI of a file that holds one; the mask's
        ``name`` records it). SEG: the segment label or number (``None``: the only
        segment). Label map: a string of digits is read as ``label``.
    reference : Volume
        Image the mask belongs to; RTSTRUCT and SEG masks are built on its grid.
    case_id : str or None, default=None
        Case identifier added to error messages.

    Returns
    -------
    RoiMask
        Boolean mask of shape (z, y, x). Label-map masks keep the file's geometry (use
        :func:`align_mask`); DICOM masks take ``reference``'s.

    Raises
    ------
    InputError
        Missing or unreadable file, or a folder; RTSTRUCT or SEG without ``roi`` that
        holds several ROIs or segments (the message lists them); ROI or segment not found.
    MaskError
        Non-integer label values; ambiguous default label; an image given as a mask (more
        than :data:`MAX_LABELS` distinct values).
    EmptyRoiError
        The selected label, ROI or segment holds no voxel.
    GeometryError
        RTSTRUCT or SEG not placeable on the reference grid.
    """
    from voxelomics.io.rtstruct import rtstruct_to_mask
    from voxelomics.io.seg import seg_to_mask

    path = Path(path)
    try:
        if path.is_dir():
            raise InputError(f"the mask path is a folder; expected a mask file: a label map "
                             f"({', '.join(IMAGE_SUFFIXES)}), an RTSTRUCT or a SEG file{_masks_in(path)}", path=path)
        if not path.is_file():
            raise InputError("mask file does not exist", path=path)
        kind = _dicom_modality(path, strict=True) if _suffix(path) not in IMAGE_SUFFIXES else None
        if kind == "RTSTRUCT":
            if roi is None:  # like a label map's only label: an RTSTRUCT's only ROI
                from voxelomics.io.rtstruct import rtstruct_roi_names

                names = rtstruct_roi_names(path)
                if len(names) != 1:
                    raise InputError(f"an RTSTRUCT with {len(names)} ROIs needs roi= (an ROI name); "
                                     f"ROIs in the file: {names}")
                roi = names[0]
            return rtstruct_to_mask(path, roi, reference, case_id=case_id)
        if kind == "SEG":
            if roi is None and label is None:
                from voxelomics.io.seg import seg_segments

                segs = seg_segments(path)
                if len(segs) != 1:
                    raise InputError(f"a SEG with {len(segs)} segments needs roi= (label) or label= (number); "
                                     f"segments: {segs}")
                return seg_to_mask(path, segs[0][0], reference, case_id=case_id)
            return seg_to_mask(path, roi if roi is not None else int(label), reference, case_id=case_id)
        if kind is not None:
            raise InputError(f"DICOM Modality {kind!r} is not a mask; expected RTSTRUCT or SEG")
        if roi is not None:
            if label is None and str(roi).strip().lstrip("-").isdigit():
                label = int(roi)
            elif label is None or str(roi).strip() != str(label):
                raise InputError(f"roi={roi!r} names a structure, but the file is a label map; use label=")
        if _suffix(path) not in IMAGE_SUFFIXES:
            raise InputError(f"unsupported mask file type {_suffix(path)!r}; expected a label map "
                             f"({', '.join(IMAGE_SUFFIXES)}), an RTSTRUCT or a SEG")
        return _label_map(path, label)
    except VoxelomicsError as exc:
        exc.with_context(case_id=case_id, path=path, step="read_mask")
        raise


def align_mask(image: Volume, mask: RoiMask, *, case_id: str | None = None) -> RoiMask:
    """Check that a mask lies on the image grid; absorb negligible differences.

    Parameters
    ----------
    image : Volume
        The image, shape (z, y, x).
    mask : RoiMask
        Its mask.
    case_id : str or None, default=None
        Case identifier added to messages.

    Returns
    -------
    RoiMask
        ``mask`` itself when the geometries are identical; a copy with the image's
        spacing, origin and direction when they differ by less than 1e-3 voxel (with a
        :class:`~voxelomics.errors.GeometryWarning` that names which of origin, spacing
        and direction differ, and by how much); the mask's voxels moved onto the image
        grid by a transpose and flips when the mask file stores the same voxel centres
        with its axes flipped or permuted (a ``GeometryWarning`` and
        ``metadata["reoriented"]`` say so; :mod:`voxelomics.io.reorient`).

    Raises
    ------
    GeometryError
        Size differs, or spacing, origin (given in mm and voxels per axis) or direction
        differ by more than 1e-3 voxel, and the grids are not the same voxels in another
        axis order; when the axes differ by a flip or permutation, the message says so.
    """
    same, description = image.grid.compare(mask.grid, tolerance_voxels=_TOL_VOXELS)
    description = re.sub(r"np\.(?:float|int)\d*\(([^()]*)\)", r"\1", description)  # plain numbers
    if not same:
        from voxelomics.io.reorient import axis_map, describe, reorient_onto

        axes = axis_map(image.grid, mask.grid, tolerance_voxels=_TOL_VOXELS)
        if axes is not None and axes.exact_box and not axes.identity:  # the same voxels
            note = (f"mask stored with {describe(axes)} relative to the image; its voxels were moved onto "
                    "the image grid without interpolation (same voxel centres)")
            where = f"case {case_id!r}, " if case_id else ""
            warnings.warn(f"{where}mask {mask.source}: {note}", GeometryWarning, stacklevel=2)
            return mask.with_array(reorient_onto(mask, image.grid, axes), spacing_mm=image.spacing_mm,
                                   origin_mm=image.origin_mm, direction=image.direction,
                                   metadata={**mask.metadata, "reoriented": note})
        hint = ""
        if axes is not None and not axes.identity:
            hint = (f"; the mask's axes are the image's with {describe(axes)}, but the two grids do not "
                    "cover the same voxels (mask voxel (0, 0, 0) is image voxel (x, y, z) "
                    f"({', '.join(str(int(v)) for v in axes.offset)})): check how the mask was "
                    "converted or cropped")
        raise GeometryError(f"mask grid does not match the image grid: {description}{hint}", case_id=case_id,
                            path=mask.source, step="align_mask")
    exact = (np.array_equal(image.spacing_mm, mask.spacing_mm) and np.array_equal(image.origin_mm, mask.origin_mm)
             and np.array_equal(image.direction, mask.direction))
    if exact:
        return mask
    what, g = [], "{:.3g}".format  # only the parts that differ, with their sizes
    off = np.asarray(mask.origin_mm, float) - np.asarray(image.origin_mm, float)
    if off.any():
        what.append(f"origin offset (x, y, z) ({', '.join(g(v) for v in off)}) mm")
    dsp = np.asarray(mask.spacing_mm, float) - np.asarray(image.spacing_mm, float)
    if dsp.any():
        what.append(f"spacing (z, y, x) {tuple(float(v) for v in mask.spacing_mm)} mm vs image "
                    f"{tuple(float(v) for v in image.spacing_mm)} mm (up to {g(np.abs(dsp).max())} mm)")
    ddir = np.abs(np.asarray(mask.direction, float) - np.asarray(image.direction, float)).max()
    if ddir:
        what.append(f"direction cosines differ by up to {g(ddir)}")
    where = f"case {case_id!r}, " if case_id else ""
    warnings.warn(
        f"{where}mask {mask.source}: geometry differs from the image by less than {_TOL_VOXELS} voxel "
        f"({'; '.join(what)}); the mask takes the image geometry", GeometryWarning, stacklevel=2)
    return mask.with_array(mask.array, spacing_mm=image.spacing_mm, origin_mm=image.origin_mm,
                           direction=image.direction)


def load_case(
    image_path: str | Path,
    mask_path: str | Path,
    *,
    label: int | None = None,
    roi: str | None = None,
    modality: str | None = None,
    series_uid: str | None = None,
    case_id: str | None = None,
) -> tuple[Volume, RoiMask]:
    """Read an image and its mask, and check that they share a grid.

    Runs :func:`read_image`, :func:`read_mask` and :func:`align_mask`.

    Parameters
    ----------
    image_path : str or Path
        Image file or DICOM series folder.
    mask_path : str or Path
        Label map, RTSTRUCT or SEG file.
    label, roi
        Which ROI, as in :func:`read_mask`.
    modality : str or None, default=None
        Modality to record for non-DICOM images.
    series_uid : str or None, default=None
        SeriesInstanceUID to read when the image folder holds several DICOM series.
    case_id : str or None, default=None
        Case identifier recorded on every error.

    Returns
    -------
    image : Volume
        Shape (z, y, x).
    mask : RoiMask
        On the image grid.

    Raises
    ------
    InputError, MaskError, EmptyRoiError, GeometryError
        As raised by the three steps, with ``case_id``, the file and the step filled in.
    """
    image = read_image(image_path, modality=modality, series_uid=series_uid, case_id=case_id)
    mask = read_mask(mask_path, label=label, roi=roi, reference=image, case_id=case_id)
    try:
        return image, align_mask(image, mask, case_id=case_id)
    except VoxelomicsError as exc:
        exc.with_context(case_id=case_id, path=mask_path, step="align_mask")
        raise
