"""DICOM SEG segments placed on an image grid.

Rules (decisions, applied by :func:`seg_to_mask`):

* A segment is chosen by ``SegmentNumber`` (int, or a string of digits) or by
  ``SegmentLabel`` (exact, then ignoring case and surrounding spaces). An unknown or
  ambiguous choice raises :class:`~voxelomics.errors.InputError` listing the segments.
* Frames are placed by their ``ImagePositionPatient`` (Plane Position functional group),
  **not by frame order**: each frame origin is mapped to voxel indices of the reference
  grid and must fall on a voxel centre (within 0.1 voxel on every axis); the frame
  orientation and pixel spacing must match the reference (else
  :class:`~voxelomics.errors.GeometryError`). Frames partly outside the grid are cropped;
  frames wholly outside raise a ``GeometryError``.
* ``BINARY`` segments: pixel value 1 is in. ``FRACTIONAL`` segments: a pixel is in when its
  value is at least half of ``MaximumFractionalValue`` (probability or occupancy ≥ 0.5).
* Several frames of one segment at the same position are combined by union.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voxelomics.errors import EmptyRoiError, GeometryError, InputError, VoxelomicsError
from voxelomics.volume import RoiMask, Volume

__all__ = ["seg_segments", "seg_to_mask"]

_POSITION_TOL_VOXELS = 0.1


def _read(path: Path):
    import highdicom as hd

    if not path.is_file():
        raise InputError("SEG file does not exist", path=path)
    try:
        return hd.seg.segread(path)
    except Exception as exc:  # highdicom/pydicom raise many types for a non-SEG file
        raise InputError(f"cannot read as a DICOM SEG: {exc}", path=path) from None


def seg_segments(path: str | Path) -> list[tuple[int, str]]:
    """List the segments of a DICOM SEG file.

    Parameters
    ----------
    path : str or Path
        DICOM SEG file.

    Returns
    -------
    list of (int, str)
        ``(SegmentNumber, SegmentLabel)`` for every segment, in file order.

    Raises
    ------
    InputError
        If the file is missing or not a DICOM SEG.
    """
    seg = _read(Path(path))
    return [(int(s.SegmentNumber), str(getattr(s, "SegmentLabel", ""))) for s in seg.SegmentSequence]


def _pick(segments: list[tuple[int, str]], segment: int | str) -> int:
    listing = ", ".join(f"{n}: {label!r}" for n, label in segments)
    numbers = [n for n, _ in segments]
    if isinstance(segment, (int, np.integer)) or (isinstance(segment, str) and segment.strip().isdigit()):
        n = int(segment)
        if n not in numbers:
            raise InputError(f"segment number {n} not found; segments in the file: {listing}")
        return n
    hits = [n for n, label in segments if label == segment]
    if not hits:
        hits = [n for n, label in segments if label.strip().casefold() == str(segment).strip().casefold()]
    if not hits:
        raise InputError(f"segment {segment!r} not found; segments in the file: {listing}")
    if len(hits) > 1:
        raise InputError(f"segment label {segment!r} is ambiguous (segment numbers {hits}); pass the number. "
                         f"Segments in the file: {listing}")
    return hits[0]


def _frame_item(seq, i, name):
    pf = getattr(seq.PerFrameFunctionalGroupsSequence[i], name, None) if "PerFrameFunctionalGroupsSequence" in seq \
        else None
    if pf is None and "SharedFunctionalGroupsSequence" in seq:
        pf = getattr(seq.SharedFunctionalGroupsSequence[0], name, None)
    return pf[0] if pf else None


def seg_to_mask(
    path: str | Path, segment: int | str, reference: Volume, *, case_id: str | None = None
) -> RoiMask:
    """Place one DICOM SEG segment on the grid of a reference image.

    See the module docstring for segment selection, frame placement and the fractional
    threshold.

    Parameters
    ----------
    path : str or Path
        DICOM SEG file.
    segment : int or str
        Segment number, or segment label.
    reference : Volume
        Image whose grid (z, y, x) the mask takes.
    case_id : str or None, default=None
        Case identifier added to error messages.

    Returns
    -------
    RoiMask
        Boolean mask of shape (z, y, x) on ``reference``'s grid, with ``label`` = segment
        number and ``name`` = segment label.

    Raises
    ------
    InputError
        Missing or non-SEG file; segment absent or ambiguous (the message lists them).
    GeometryError
        Frame of reference, orientation or pixel spacing differ from the image; a frame
        lies off the voxel centres or outside the grid.
    EmptyRoiError
        The segment has no foreground pixel on the grid.
    """
    path = Path(path)
    try:
        seg = _read(path)
        segments = [(int(s.SegmentNumber), str(getattr(s, "SegmentLabel", ""))) for s in seg.SegmentSequence]
        number = _pick(segments, segment)
        label = dict(segments)[number]
        seg_for = str(getattr(seg, "FrameOfReferenceUID", "") or "")
        img_for = str(reference.metadata.get("frame_of_reference_uid", "") or "")
        if seg_for and img_for and seg_for != img_for:
            raise GeometryError(f"the SEG is in frame of reference {seg_for}, the image in {img_for}")
        pixels = np.asarray(seg.pixel_array)
        if pixels.ndim == 2:
            pixels = pixels[None]
        fractional = str(getattr(seg, "SegmentationType", "BINARY")) == "FRACTIONAL"
        threshold = 0.5 * float(getattr(seg, "MaximumFractionalValue", 1) or 1) if fractional else 0.5
        grid = reference.grid
        nz, ny, nx = reference.shape
        direction = np.asarray(reference.direction)
        array = np.zeros((nz, ny, nx), dtype=bool)
        for i in range(pixels.shape[0]):
            ident = _frame_item(seg, i, "SegmentIdentificationSequence")
            if ident is None or int(ident.ReferencedSegmentNumber) != number:
                continue
            pos = _frame_item(seg, i, "PlanePositionSequence")
            ori = _frame_item(seg, i, "PlaneOrientationSequence")
            meas = _frame_item(seg, i, "PixelMeasuresSequence")
            if pos is None:
                raise InputError(f"frame {i + 1} has no ImagePositionPatient; cannot place it")
            if ori is not None:
                iop = np.asarray([float(v) for v in ori.ImageOrientationPatient])
                if np.max(np.abs(iop - np.concatenate([direction[:, 0], direction[:, 1]]))) > 1e-4:
                    raise GeometryError(f"frame {i + 1} orientation {iop.tolist()} differs from the image's "
                                        f"{np.concatenate([direction[:, 0], direction[:, 1]]).round(6).tolist()}")
            if meas is not None and "PixelSpacing" in meas:
                ps = np.asarray([float(v) for v in meas.PixelSpacing])
                if np.any(np.abs(ps - np.asarray(reference.spacing_mm[1:])) > 1e-3 * ps):
                    raise GeometryError(f"frame {i + 1} pixel spacing {ps.tolist()} mm differs from the image's "
                                        f"{list(reference.spacing_mm[1:])} mm (y, x)")
            ipp = np.asarray([[float(v) for v in pos.ImagePositionPatient]])
            z, y, x = grid.physical_to_index(ipp)[0]
            kz, ky, kx = (int(np.rint(v)) for v in (z, y, x))
            if max(abs(z - kz), abs(y - ky), abs(x - kx)) > _POSITION_TOL_VOXELS:
                raise GeometryError(f"frame {i + 1} at {ipp[0].round(3).tolist()} mm maps to voxel (z, y, x) = "
                                    f"({z:.3f}, {y:.3f}, {x:.3f}), not onto a voxel centre of the image")
            fr = pixels[i] >= threshold
            ys, xs = slice(max(ky, 0), min(ky + fr.shape[0], ny)), slice(max(kx, 0), min(kx + fr.shape[1], nx))
            if not (0 <= kz < nz) or ys.start >= ys.stop or xs.start >= xs.stop:
                raise GeometryError(f"frame {i + 1} at {ipp[0].round(3).tolist()} mm lies outside the image grid "
                                    f"(voxel ({kz}, {ky}, {kx}) of shape {reference.shape})")
            array[kz, ys, xs] |= fr[ys.start - ky:ys.stop - ky, xs.start - kx:xs.stop - kx]
        if not array.any():
            raise EmptyRoiError(f"segment {number} ({label!r}) has no foreground voxel on the image grid")
        return RoiMask(array, spacing_mm=reference.spacing_mm, origin_mm=reference.origin_mm,
                       direction=reference.direction, label=number, name=label, source=str(path))
    except VoxelomicsError as exc:
        exc.with_context(case_id=case_id, path=path, step="read_mask")
        raise
