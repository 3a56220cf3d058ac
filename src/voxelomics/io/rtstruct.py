"""DICOM RTSTRUCT contours rasterised onto an image grid.

Rules (decisions, applied by :func:`rtstruct_to_mask`):

* Only ``CLOSED_PLANAR`` contours are rasterised; ``POINT`` and ``OPEN_*`` contours of
  the ROI are ignored with a :class:`~voxelomics.errors.GeometryWarning`.
* Contour points (patient mm, LPS) are mapped to fractional voxel indices with
  :meth:`voxelomics.volume.Grid.physical_to_index`. A contour must be parallel to the
  image slices (its points may spread by at most 0.5 voxel along z, otherwise
  :class:`~voxelomics.errors.GeometryError`) and goes to the **nearest slice**. Contours
  more than half a slice outside the grid are skipped, and contours reaching beyond the
  image's in-plane edge are clipped to it, with one ``GeometryWarning`` that gives the
  percentage of the ROI's contour area lost (in-plane area, by the shoelace formula).
* **Inclusion rule**: a voxel belongs to the ROI when its centre is inside the polygon by
  the even-odd (crossing-number) test with half-open edges: edges are closed at their
  lower row end and open at the upper one; horizontal edges never cross. A centre exactly
  on a left edge is in, on a right edge out, so two polygons sharing an edge never both
  claim a voxel.
* Several contours on one slice combine by the **even-odd rule** over all their edges,
  which is their XOR: a contour inside another is a hole, and holes stay holes.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from voxelomics.errors import (
    EmptyRoiError,
    GeometryError,
    GeometryWarning,
    InputError,
    VoxelomicsError,
)
from voxelomics.volume import RoiMask, Volume

__all__ = ["rtstruct_roi_names", "rtstruct_to_mask", "rasterise_polygons", "polygon_area"]


def _read(path: Path):
    import pydicom
    from pydicom.errors import InvalidDicomError

    if not path.is_file():
        raise InputError("RTSTRUCT file does not exist", path=path)
    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError as exc:
        raise InputError(f"cannot read as DICOM: {exc}", path=path) from None
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"the RTSTRUCT file is damaged: it cannot be read to its end ({type(exc).__name__}: "
                         f"{exc}); truncated or incompletely copied?", path=path) from None
    modality = str(getattr(ds, "Modality", "") or "")
    if modality != "RTSTRUCT":
        raise InputError(f"expected an RTSTRUCT, found Modality {modality!r}", path=path)
    return ds


def rtstruct_roi_names(path: str | Path) -> list[str]:
    """List the ROI names of an RTSTRUCT file.

    Parameters
    ----------
    path : str or Path
        RTSTRUCT file.

    Returns
    -------
    list of str
        ``ROIName`` of every item of the StructureSetROISequence, in file order.

    Raises
    ------
    InputError
        If the file is missing, not DICOM, or not an RTSTRUCT.
    """
    ds = _read(Path(path))
    return [str(r.ROIName) for r in getattr(ds, "StructureSetROISequence", [])]


def rasterise_polygons(polygons: list[np.ndarray], shape_yx: tuple[int, int]) -> np.ndarray:
    """Fill polygons on one slice by the even-odd rule on voxel centres.

    Parameters
    ----------
    polygons : list of ndarray of shape (n_points, 2)
        Closed polygons in fractional voxel indices (row y, column x); the last point
        connects back to the first.
    shape_yx : tuple of int
        Slice shape (y, x).

    Returns
    -------
    ndarray of bool, shape (y, x)
        True where the voxel centre is inside an odd number of polygons.

    Examples
    --------
    >>> square = np.array([[0.5, 0.5], [0.5, 2.5], [2.5, 2.5], [2.5, 0.5]])
    >>> rasterise_polygons([square], (4, 4)).astype(int)
    array([[0, 0, 0, 0],
           [0, 1, 1, 0],
           [0, 1, 1, 0],
           [0, 0, 0, 0]])
    """
    ny, nx = shape_yx
    acc = np.zeros((ny, nx + 1), dtype=np.int32)
    for poly in polygons:
        p = np.asarray(poly, dtype=float)
        if len(p) < 3:
            continue
        y0, x0 = p[:, 0], p[:, 1]
        y1, x1 = np.roll(y0, -1), np.roll(x0, -1)
        ylo, yhi = np.minimum(y0, y1), np.maximum(y0, y1)
        r_first = np.ceil(ylo).astype(np.int64)  # first row centre with y >= ylo
        r_stop = np.ceil(yhi).astype(np.int64)  # rows with y < yhi
        r_first = np.clip(r_first, 0, ny)
        r_stop = np.clip(r_stop, 0, ny)
        counts = np.maximum(r_stop - r_first, 0)
        counts[ylo == yhi] = 0
        if counts.sum() == 0:
            continue
        edge = np.repeat(np.arange(len(p)), counts)
        offsets = np.cumsum(counts) - counts
        rows = r_first[edge] + (np.arange(counts.sum()) - offsets[edge])
        t = (rows - y0[edge]) / (y1[edge] - y0[edge])
        x_int = x0[edge] + t * (x1[edge] - x0[edge])
        col = np.clip(np.ceil(x_int).astype(np.int64), 0, nx)  # first centre at or right of x_int
        np.add.at(acc, (rows, col), 1)
    return (np.cumsum(acc, axis=1)[:, :nx] % 2) == 1


def polygon_area(polygon: np.ndarray) -> float:
    """Area of a closed polygon by the shoelace formula.

    Parameters
    ----------
    polygon : ndarray of shape (n_points, 2)
        Vertices (any 2-D units); the last connects back to the first.

    Returns
    -------
    float
        Absolute area, in the units of the vertices squared (0 for fewer than 3 points).

    Examples
    --------
    >>> polygon_area(np.array([[0.0, 0.0], [0.0, 2.0], [3.0, 2.0], [3.0, 0.0]]))
    6.0
    """
    p = np.asarray(polygon, dtype=float)
    if len(p) < 3:
        return 0.0
    y, x = p[:, 0], p[:, 1]
    return float(abs(np.dot(y, np.roll(x, -1)) - np.dot(x, np.roll(y, -1))) / 2.0)


def _clip_to_box(polygon: np.ndarray, shape_yx: tuple[int, int]) -> np.ndarray:
    """The polygon clipped to the slice's extent (voxel edges at -0.5 and n - 0.5), Sutherland–Hodgman."""
    p = [tuple(v) for v in np.asarray(polygon, dtype=float)]
    ny, nx = shape_yx
    for axis, bound, keep_below in ((0, -0.5, False), (0, ny - 0.5, True), (1, -0.5, False), (1, nx - 0.5, True)):
        if not p:
            break

        def inside(v, axis=axis, bound=bound, keep_below=keep_below):
            return v[axis] <= bound if keep_below else v[axis] >= bound

        out = []
        for i, cur in enumerate(p):
            prev = p[i - 1]
            if inside(cur) != inside(prev):
                t = (bound - prev[axis]) / (cur[axis] - prev[axis])
                out.append(tuple(prev[a] + t * (cur[a] - prev[a]) for a in range(2)))
            if inside(cur):
                out.append(cur)
        p = out
    return np.asarray(p, dtype=float).reshape(-1, 2)


def rtstruct_to_mask(
    path: str | Path, roi_name: str, reference: Volume, *, case_id: str | None = None
) -> RoiMask:
    """Rasterise one RTSTRUCT ROI onto the grid of a reference image.

    See the module docstring for the slice matching, the voxel-centre inclusion rule and
    the even-odd combination of contours.

    Parameters
    ----------
    path : str or Path
        RTSTRUCT file.
    roi_name : str
        ``ROIName`` to rasterise; an exact match is preferred, then a unique match ignoring
        case and surrounding spaces.
    reference : Volume
        Image whose grid (z, y, x) the mask takes.
    case_id : str or None, default=None
        Case identifier added to error messages.

    Returns
    -------
    RoiMask
        Boolean mask of shape (z, y, x) on ``reference``'s grid, ``name=roi_name``.

    Raises
    ------
    InputError
        Missing or non-RTSTRUCT file; ROI name absent (the message lists the names that
        exist) or ambiguous; ROI without contour data.
    GeometryError
        Frame of reference differs from the image's; a contour is not parallel to the slices.
    EmptyRoiError
        No voxel centre falls inside the contours.
    """
    path = Path(path)
    try:
        ds = _read(path)
        rois = list(getattr(ds, "StructureSetROISequence", []))
        names = [str(r.ROIName) for r in rois]
        hits = [r for r in rois if str(r.ROIName) == roi_name]
        if not hits:
            hits = [r for r in rois if str(r.ROIName).strip().casefold() == str(roi_name).strip().casefold()]
        if not hits:
            raise InputError(f"ROI {roi_name!r} not found; ROIs in the file: {names}")
        if len(hits) > 1:
            raise InputError(f"ROI name {roi_name!r} is ambiguous: it matches ROI numbers "
                             f"{[int(r.ROINumber) for r in hits]} (names: {names})")
        roi = hits[0]
        number = int(roi.ROINumber)
        ref_for = str(getattr(roi, "ReferencedFrameOfReferenceUID", "") or "")
        img_for = str(reference.metadata.get("frame_of_reference_uid", "") or "")
        if ref_for and img_for and ref_for != img_for:
            raise GeometryError(f"ROI {roi_name!r} is in frame of reference {ref_for}, the image in {img_for}")
        items = [c for c in getattr(ds, "ROIContourSequence", []) if int(c.ReferencedROINumber) == number]
        contours = [c for item in items for c in getattr(item, "ContourSequence", [])]
        if not contours:
            raise InputError(f"ROI {roi_name!r} (number {number}) has no contour data")
        grid = reference.grid
        nz, ny, nx = reference.shape
        per_slice: dict[int, list[np.ndarray]] = {}
        ignored, outside = 0, []
        area_total = area_lost = 0.0  # in-plane contour area (voxel units), and the part outside
        n_clipped = 0
        for contour in contours:
            if str(getattr(contour, "ContourGeometricType", "CLOSED_PLANAR")) != "CLOSED_PLANAR":
                ignored += 1
                continue
            pts = np.asarray([float(v) for v in contour.ContourData], dtype=float).reshape(-1, 3)
            idx = grid.physical_to_index(pts)
            z = idx[:, 0]
            if np.ptp(z) > 0.5:
                raise GeometryError(f"a contour of ROI {roi_name!r} spans {np.ptp(z):.3g} slices along z; only "
                                    "contours parallel to the image slices are supported")
            k = int(np.rint(z.mean()))
            area = polygon_area(idx[:, 1:])
            area_total += area
            if k < 0 or k >= nz:
                outside.append(round(float(pts[:, 2].mean()), 3))
                area_lost += area
                continue
            inside = polygon_area(_clip_to_box(idx[:, 1:], (ny, nx)))
            if area - inside > 1e-9 * max(area, 1.0):
                n_clipped += 1
                area_lost += area - inside
            per_slice.setdefault(k, []).append(idx[:, 1:])
        if ignored:
            warnings.warn(f"{path}: {ignored} non-CLOSED_PLANAR contours of ROI {roi_name!r} ignored",
                          GeometryWarning, stacklevel=2)
        if outside or n_clipped:
            parts = []
            if outside:
                parts.append(f"{len(outside)} contours lie beyond the first or last slice (patient z "
                             f"{outside[:5]} mm) and were skipped")
            if n_clipped:
                parts.append(f"{n_clipped} contours reach beyond the image's in-plane edge and were clipped")
            lost = 100.0 * area_lost / area_total if area_total > 0 else 100.0
            warnings.warn(f"{path}: ROI {roi_name!r} reaches outside the image: {' and '.join(parts)}; "
                          f"{lost:.3g} % of its contour area is lost (the mask holds only the part inside "
                          "the image)", GeometryWarning, stacklevel=2)
        array = np.zeros((nz, ny, nx), dtype=bool)
        for k, polys in per_slice.items():
            array[k] = rasterise_polygons(polys, (ny, nx))
        if not array.any():
            raise EmptyRoiError(f"ROI {roi_name!r} covers no voxel centre of the image grid")
        return RoiMask(array, spacing_mm=reference.spacing_mm, origin_mm=reference.origin_mm,
                       direction=reference.direction, name=str(roi.ROIName), source=str(path))
    except VoxelomicsError as exc:
        exc.with_context(case_id=case_id, path=path, step="read_mask")
        raise
