"""ROI operations: bounding box, cropping around the ROI, and peritumoral rings.

Cropping is done before any heavy step (resampling, filtering) to save time and
memory. A cropped volume remembers the grid it was cut from in
``volume.metadata["parent_grid"]`` (a :class:`~voxelomics.volume.Grid`), so that
:func:`voxelomics.preprocess.resample` can place the IBSI-aligned interpolation grid
exactly where it would lie on the uncropped image: cropping then does not change the
resampled intensities inside the ROI.

Peritumoral rings (:func:`peritumoral_ring`) are ROIs built from a contour on the physical
grid: the voxels whose centres lie within a distance in mm of the contour (the surface of its
voxels; :func:`distance_to_region_sq`, a Euclidean distance transform with the voxel spacing,
so an anisotropic image gets a ring of the same thickness in mm along every direction),
optionally also the contour's own rim, and optionally clipped to the body
(:func:`body_mask`) or to an intensity range.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from voxelomics.errors import EmptyRoiError, GeometryError, RoiWarning, SettingsError
from voxelomics.volume import Grid, RoiMask, Volume

__all__ = ["bounding_box", "crop_box", "crop_to_roi", "PARENT_GRID_KEY", "peritumoral_ring",
           "ring_suffix", "body_mask", "distance_to_region_sq", "RingReport"]

#: Key of ``Volume.metadata`` holding the :class:`Grid` a volume was cropped from.
PARENT_GRID_KEY = "parent_grid"


def bounding_box(mask_array: np.ndarray) -> tuple[slice, slice, slice]:
    """Smallest box holding every ROI voxel.

    Parameters
    ----------
    mask_array : ndarray of bool, shape (z, y, x)
        ROI mask; non-zero voxels are in the ROI.

    Returns
    -------
    tuple of slice
        ``(z, y, x)`` slices; ``mask_array[box]`` holds every ROI voxel.

    Raises
    ------
    EmptyRoiError
        The mask holds no voxel.
    GeometryError
        The mask is not 3D.

    Examples
    --------
    >>> m = np.zeros((3, 4, 5), bool); m[1, 1:3, 2] = True
    >>> bounding_box(m)
    (slice(1, 2, None), slice(1, 3, None), slice(2, 3, None))
    """
    m = np.asarray(mask_array)
    if m.ndim != 3:
        raise GeometryError(f"the mask must be 3D (z, y, x); got shape {m.shape}")
    if not m.any():
        raise EmptyRoiError(f"the ROI holds no voxel (mask of shape (z, y, x) {m.shape}); expected at least one")
    box = []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        idx = np.flatnonzero(m.any(axis=others))
        box.append(slice(int(idx[0]), int(idx[-1]) + 1))
    return tuple(box)


def crop_box(mask_array: np.ndarray, spacing_mm, margin_mm: float) -> tuple[slice, slice, slice]:
    """The box :func:`crop_to_roi` keeps: ROI bounding box plus a margin, clipped to the array.

    Parameters
    ----------
    mask_array : ndarray of bool, shape (z, y, x)
        ROI mask.
    spacing_mm : tuple of float
        Voxel size (z, y, x) in mm.
    margin_mm : float
        Margin on every side (mm), converted to whole voxels per axis
        (``ceil(margin_mm / spacing)``).

    Returns
    -------
    tuple of slice
        ``(z, y, x)`` slices into ``mask_array``.

    Raises
    ------
    EmptyRoiError
        The mask holds no voxel.
    GeometryError
        The mask is not 3D.
    """
    box = bounding_box(mask_array)
    pad = [int(np.ceil(margin_mm / s - 1e-9)) for s in spacing_mm]
    return tuple(
        slice(max(0, b.start - p), min(n, b.stop + p))
        for b, p, n in zip(box, pad, np.shape(mask_array), strict=True)
    )


def crop_to_roi(volume: Volume, mask: RoiMask, *, margin_mm: float) -> tuple[Volume, RoiMask]:
    """Crop image and mask to the ROI bounding box plus a margin.

    The margin is converted to whole voxels per axis (``ceil(margin_mm / spacing)``)
    and the box is clipped to the image. The origin of both outputs is moved to the
    first kept voxel; spacing and direction are unchanged. The grid of the uncropped
    image is recorded in ``metadata["parent_grid"]`` of the returned volume (kept from
    the input when it was already a crop).

    Parameters
    ----------
    volume : Volume
        Image, array (z, y, x).
    mask : RoiMask
        ROI on the same grid as ``volume``.
    margin_mm : float
        Margin kept on every side of the bounding box, in mm (>= 0). Keep at least one
        voxel (and, before B-spline resampling, a few voxels) so that interpolation near
        the ROI sees the true neighbours.

    Returns
    -------
    volume : Volume
        Cropped image.
    mask : RoiMask
        Cropped ROI, on the grid of the cropped image.

    Raises
    ------
    EmptyRoiError
        The mask holds no voxel.
    GeometryError
        Image and mask grids differ.
    SettingsError
        ``margin_mm`` is negative or not finite.
    """
    if not np.isfinite(margin_mm) or margin_mm < 0:
        raise SettingsError(f"margin_mm must be a finite number >= 0, got {margin_mm!r}")
    same, why = volume.grid.compare(mask.grid)
    if not same:
        raise GeometryError(f"image and mask grids differ: {why}", path=mask.source)
    crop = crop_box(mask.array, volume.spacing_mm, margin_mm)
    start_zyx = np.array([[c.start for c in crop]], dtype=float)
    origin = tuple(float(v) for v in volume.grid.index_to_physical(start_zyx)[0])
    parent = volume.metadata.get(PARENT_GRID_KEY, volume.grid)
    if not isinstance(parent, Grid):
        raise GeometryError(
            f"metadata[{PARENT_GRID_KEY!r}] must be a voxelomics.volume.Grid, got {type(parent).__name__}",
            path=volume.source,
        )
    metadata = {**volume.metadata, PARENT_GRID_KEY: parent}
    out_volume = volume.with_array(np.ascontiguousarray(volume.array[crop]), origin_mm=origin, metadata=metadata)
    out_mask = mask.with_array(np.ascontiguousarray(mask.array[crop]), origin_mm=origin)
    return out_volume, out_mask


# ---- peritumoral rings -----------------------------------------------------------------
#: Distances within this many mm of the ring's thickness count as inside it (float ties:
#: a neighbour exactly one 3 mm slice away belongs to a 3 mm ring).
_TIE_MM = 1e-6
_EDGE_NAMES = ("z", "y", "x")


def _mm(value: float) -> str:
    """``5.0`` -> ``"5"``, ``2.5`` -> ``"2.5"`` (no trailing zeros)."""
    return f"{float(value):.6g}"


def ring_suffix(outside_mm: float, inside_mm: float = 0.0) -> str:
    """Name of a ring, as appended to its contour's name: ``ring{-inside}-{outside}mm``.

    The two numbers are the signed distances from the contour (mm) that bound the ring,
    negative inside: ``ring0-5mm`` is the 5 mm band outside the contour, ``ring-2-5mm``
    runs from 2 mm inside to 5 mm outside, ``ring-3-0mm`` is the 3 mm inner rim.

    Parameters
    ----------
    outside_mm : float
        Thickness outside the contour (mm).
    inside_mm : float, default=0.0
        Thickness inside the contour (mm).

    Returns
    -------
    str
        E.g. ``"ring0-5mm"``.

    Examples
    --------
    >>> ring_suffix(5), ring_suffix(5, 2), ring_suffix(0, 3), ring_suffix(7.5)
    ('ring0-5mm', 'ring-2-5mm', 'ring-3-0mm', 'ring0-7.5mm')
    """
    inner = "0" if inside_mm == 0 else f"-{_mm(inside_mm)}"
    return f"ring{inner}-{_mm(outside_mm)}mm"


@dataclass(frozen=True)
class RingReport:
    """What :func:`peritumoral_ring` built, and what it had to leave out.

    Attributes
    ----------
    name : str
        Ring suffix (:func:`ring_suffix`) or the name given.
    outside_mm, inside_mm : float
        Thickness outside and inside the contour (mm).
    n_voxels : int
        Voxels of the ring returned.
    volume_mm3 : float
        Their volume (voxel count × voxel volume, mm³).
    cut_at_edge_mm3 : float
        Volume of the ring that would lie beyond the image edge (mm³); 0 when the ring is whole.
    cut_fraction : float
        ``cut_at_edge_mm3`` over the ring's volume before the cut.
    cut_edges : tuple of str
        Image faces that cut the ring: ``"z-"`` (first slice side), ``"z+"`` (last),
        ``"y-"``, ``"y+"``, ``"x-"``, ``"x+"`` (array axes, index 0 side is ``-``).
    removed_outside_body_mm3 : float
        Ring volume removed because it lies outside the body (mm³).
    removed_outside_range_mm3 : float
        Ring volume removed because its intensity lies outside ``intensity_range`` (mm³).
    body_threshold : float or None
        Threshold used for the body (image units), when any.
    intensity_range : tuple of (float or None) or None
        Tissue intensity range used (image units), when any.
    """

    name: str
    outside_mm: float
    inside_mm: float
    n_voxels: int
    volume_mm3: float
    cut_at_edge_mm3: float
    cut_fraction: float
    cut_edges: tuple[str, ...]
    removed_outside_body_mm3: float
    removed_outside_range_mm3: float
    body_threshold: float | None
    intensity_range: tuple[float | None, float | None] | None

    def as_dict(self) -> dict:
        """The report as a JSON-ready dict (the ``region`` record of the row's provenance).

        Returns
        -------
        dict
        """
        out = asdict(self)
        out["cut_edges"] = list(self.cut_edges)
        if self.intensity_range is not None:
            out["intensity_range"] = list(self.intensity_range)
        return out


def body_mask(image: np.ndarray, threshold: float, *, roi: np.ndarray | None = None) -> np.ndarray:
    """The body: voxels above a threshold, holes filled slice by slice, connected to the ROI.

    In each slice (first array axis) the voxels with intensity above ``threshold`` are
    taken and their holes filled in 2-D, so air enclosed by tissue in that slice (lungs,
    bowel gas, a trachea) counts as body while the air around the patient does not. Of the
    3-D connected parts of the result (face connectivity) those touching ``roi`` are kept,
    or the largest one when no ROI is given: the couch and other objects apart from the
    patient are left out.

    Parameters
    ----------
    image : ndarray of shape (z, y, x)
        Intensities in image units (HU, SUV, ...).
    threshold : float
        Body threshold in image units (e.g. -300 HU for CT: below fat, above air and the
        couch padding's usual values).
    roi : ndarray of bool, shape (z, y, x), or None, default=None
        Voxels certainly in the body (the tumour); parts touching it are kept.

    Returns
    -------
    ndarray of bool, shape (z, y, x)

    Raises
    ------
    GeometryError
        ``image`` is not 3-D, or ``roi`` has another shape.

    Examples
    --------
    >>> img = np.full((1, 5, 7), -1000.0); img[0, 1:4, 1:4] = 40; img[0, 2, 2] = -900
    >>> img[0, 1:4, 5] = 50  # a separate object (the couch)
    >>> body_mask(img, -300).astype(int)[0]
    array([[0, 0, 0, 0, 0, 0, 0],
           [0, 1, 1, 1, 0, 0, 0],
           [0, 1, 1, 1, 0, 0, 0],
           [0, 1, 1, 1, 0, 0, 0],
           [0, 0, 0, 0, 0, 0, 0]])
    """
    from scipy import ndimage

    image = np.asarray(image)
    if image.ndim != 3:
        raise GeometryError(f"the image must be 3D (z, y, x); got shape {image.shape}")
    if roi is not None and np.shape(roi) != image.shape:
        raise GeometryError(f"the ROI shape {np.shape(roi)} differs from the image shape {image.shape}")
    above = image > threshold
    if roi is not None:
        above |= np.asarray(roi, dtype=bool)
    for k in range(above.shape[0]):  # 2-D hole filling: enclosed air belongs to the body
        above[k] = ndimage.binary_fill_holes(above[k])
    labels, n = ndimage.label(above)
    if n == 0:
        return above
    if roi is not None and np.any(roi):
        keep = np.unique(labels[np.asarray(roi, dtype=bool)])
        keep = keep[keep > 0]
    else:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        keep = np.array([int(np.argmax(sizes))])
    return np.isin(labels, keep)


def _check_ring_args(outside_mm, inside_mm, body_threshold, intensity_range) -> None:
    for what, value in (("outside_mm", outside_mm), ("inside_mm", inside_mm)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.number) \
                or not math.isfinite(value) or value < 0:
            raise SettingsError(f"{what} must be a finite number of mm >= 0, got {value!r}")
    if outside_mm == 0 and inside_mm == 0:
        raise SettingsError("a ring needs outside_mm > 0 or inside_mm > 0 (both are 0)")
    if body_threshold is not None and not math.isfinite(body_threshold):
        raise SettingsError(f"body_threshold must be a finite number, got {body_threshold!r}")
    if intensity_range is not None:
        if len(intensity_range) != 2:
            raise SettingsError(f"intensity_range must be [low, high], got {intensity_range!r}")
        low, high = intensity_range
        if low is not None and high is not None and low > high:
            raise SettingsError(f"intensity_range low ({low}) must not exceed high ({high})")


def distance_to_region_sq(region: np.ndarray, spacing_mm, *, max_mm: float) -> np.ndarray:
    """Squared distance (mm²) from every voxel centre to a region made of whole voxels.

    The region is the union of its voxels as boxes of size ``spacing_mm`` (not a set of
    centre points): a voxel next to it along an axis of spacing ``s`` is ``s / 2`` away, one
    diagonal to it ``sqrt(s_y² + s_x²) / 2``. The distance from a point to that union is
    separable over the axes, ``d² = min over region voxels c of sum_i max(0, |p_i - c_i| - s_i / 2)²``,
    so it is computed exactly by three one-dimensional min-convolutions (along z, then y,
    then x; Felzenszwalb & Huttenlocher's separable scheme with this per-axis cost) limited
    to ``max_mm``.

    Parameters
    ----------
    region : ndarray of bool, shape (z, y, x)
        The region's voxels.
    spacing_mm : tuple of float
        Voxel size (z, y, x) in mm.
    max_mm : float
        Largest distance of interest (mm); larger distances come back as ``inf`` or as any
        value above ``max_mm²``.

    Returns
    -------
    ndarray of float64, shape (z, y, x)
        Squared distance in mm²: 0 inside the region.

    Raises
    ------
    GeometryError
        ``region`` is not 3-D or ``spacing_mm`` does not have three positive values.

    References
    ----------
    Felzenszwalb P.F., Huttenlocher D.P., Distance transforms of sampled functions, Theory
    of Computing 2012;8:415-428.

    Examples
    --------
    >>> r = np.zeros((1, 1, 5), bool); r[0, 0, 0] = True
    >>> distance_to_region_sq(r, (1.0, 1.0, 2.0), max_mm=5.0)[0, 0]
    array([ 0.,  1.,  9., 25., inf])
    """
    region = np.asarray(region, dtype=bool)
    spacing = np.asarray(spacing_mm, dtype=float)
    if region.ndim != 3 or spacing.shape != (3,) or np.any(spacing <= 0):
        raise GeometryError(f"expected a 3D region and three positive spacings (z, y, x); got shape "
                            f"{region.shape} and spacing {tuple(spacing_mm)}")
    limit = (float(max_mm) + _TIE_MM) ** 2
    dist = np.where(region, 0.0, np.inf)
    for axis in range(3):
        out = dist.copy()
        n = dist.shape[axis]
        for k in range(1, n):
            cost = ((k - 0.5) * spacing[axis]) ** 2
            if cost > limit:
                break
            ahead = [slice(None)] * 3
            behind = [slice(None)] * 3
            ahead[axis], behind[axis] = slice(k, None), slice(None, n - k)
            ahead, behind = tuple(ahead), tuple(behind)
            np.minimum(out[ahead], dist[behind] + cost, out=out[ahead])
            np.minimum(out[behind], dist[ahead] + cost, out=out[behind])
        dist = out
    return dist


def peritumoral_ring(
    volume: Volume,
    mask: RoiMask,
    *,
    outside_mm: float,
    inside_mm: float = 0.0,
    body_threshold: float | None = None,
    intensity_range: tuple[float | None, float | None] | None = None,
    name: str | None = None,
    case_id: str | None = None,
) -> tuple[RoiMask, RingReport]:
    """Ring ROI around (and optionally inside) a contour, of a given thickness in mm.

    A voxel outside the contour belongs to the ring when its centre lies within
    ``outside_mm`` of the contour, i.e. of the surface of the contour's voxels; a contour
    voxel belongs to it when its centre lies within ``inside_mm`` of the voxels outside the
    contour. Distances are Euclidean, in mm, on the image's physical grid
    (:func:`distance_to_region_sq`): an image of 1 × 1 × 3 mm voxels gets a ring as thick
    along z as in-plane, never a ring of so many voxels. Sampling the band
    ``0 < distance <= outside_mm`` at voxel centres makes the ring's volume an unbiased
    estimate of the band's (surface area × thickness for a smooth contour).

    The part of the ring beyond the image edge cannot be measured: it is left out and a
    :class:`~voxelomics.errors.RoiWarning` says how much (also recorded in the report).
    ``body_threshold`` removes the ring's outer part outside the body (:func:`body_mask`,
    computed on the slices the ring spans); ``intensity_range`` keeps only ring voxels whose
    intensity lies in that tissue range.

    Parameters
    ----------
    volume : Volume
        Image, array (z, y, x) in image units (HU, SUV, ...).
    mask : RoiMask
        The contour, on the grid of ``volume``.
    outside_mm : float
        Ring thickness outside the contour (mm, >= 0).
    inside_mm : float, default=0.0
        Ring thickness inside the contour (mm, >= 0): the contour's rim. At an image edge the
        contour's cut face is not a boundary (no rim is drawn along it).
    body_threshold : float or None, default=None
        Clip the ring to the body: image units (e.g. -300 HU for CT); ``None``: no clip.
    intensity_range : (float or None, float or None) or None, default=None
        Keep ring voxels with ``low <= intensity <= high`` (image units; ``None`` leaves a
        side open), e.g. ``(-100, 200)`` HU for soft tissue.
    name : str or None, default=None
        Ring name (default :func:`ring_suffix`); the returned mask is named
        ``"{contour}_{name}"``.
    case_id : str or None, default=None
        Case identifier for messages.

    Returns
    -------
    ring : RoiMask
        Boolean mask of shape (z, y, x) on the grid of ``volume``; never overlaps the contour
        when ``inside_mm`` is 0.
    report : RingReport
        Volumes kept, cut at the image edge and clipped.

    Raises
    ------
    SettingsError
        Negative, non-finite or both-zero thicknesses; an inverted intensity range.
    GeometryError
        Image and mask grids differ.
    EmptyRoiError
        The contour is empty, or no ring voxel is left (inside the image, the body and the
        intensity range).

    Notes
    -----
    Along an axis of spacing ``s`` the ring holds the voxel layers whose centres lie within
    ``outside_mm``, i.e. ``floor(outside_mm / s + 1/2)`` layers: a 3 mm ring on 3.27 mm
    slices holds one slice above and below the contour, on 4.69 mm PET pixels one pixel
    in-plane. A dilation by a ball between voxel *centres* (some tools' definition) is half
    a voxel thinner on average and can be empty for a ring thinner than the voxels.

    References
    ----------
    Zwanenburg A. et al., arXiv:1612.07003, section 2.1 (ROI) and 2.4 (physical grid);
    Braman N.M. et al., Breast Cancer Res 2017;19:57 (peritumoral radiomics).
    """

    _check_ring_args(outside_mm, inside_mm, body_threshold, intensity_range)
    same, why = volume.grid.compare(mask.grid)
    if not same:
        raise GeometryError(f"image and mask grids differ: {why}", case_id=case_id, path=mask.source)
    base = mask.name if mask.name else (str(mask.label) if mask.label is not None else "roi")
    suffix = name or ring_suffix(outside_mm, inside_mm)
    where = f"ROI {base!r}, ring {suffix!r}"
    tumour_full = mask.array
    if not tumour_full.any():
        raise EmptyRoiError(f"{where}: the contour holds no voxel", case_id=case_id, path=mask.source)
    spacing = np.asarray(volume.spacing_mm, dtype=float)
    voxel_mm3 = float(np.prod(spacing))
    shape = np.asarray(tumour_full.shape)
    box = bounding_box(tumour_full)
    pad = np.ceil(outside_mm / spacing - 1e-9).astype(int) + 1  # +1: a background layer for the rim
    lo = np.array([b.start for b in box]) - pad
    hi = np.array([b.stop for b in box]) + pad
    src = tuple(slice(int(max(a, 0)), int(min(b, n))) for a, b, n in zip(lo, hi, shape, strict=True))
    dst = tuple(slice(s.start - int(a), s.stop - int(a)) for s, a in zip(src, lo, strict=True))
    local_shape = tuple(int(v) for v in hi - lo)
    tumour = np.zeros(local_shape, bool)
    tumour[dst] = tumour_full[src]
    in_image = np.zeros(local_shape, bool)
    in_image[dst] = True

    outer = np.zeros(local_shape, bool)
    if outside_mm > 0:
        outer = ~tumour & (distance_to_region_sq(tumour, spacing, max_mm=outside_mm)
                           <= (outside_mm + _TIE_MM) ** 2)
    inner = np.zeros(local_shape, bool)
    if inside_mm > 0:  # beyond the image is not background: no rim along a cut face
        background = ~tumour & in_image
        inner = tumour & (distance_to_region_sq(background, spacing, max_mm=inside_mm)
                          <= (inside_mm + _TIE_MM) ** 2)

    lost = outer & ~in_image
    n_lost = int(np.count_nonzero(lost))
    n_whole = int(np.count_nonzero(outer) + np.count_nonzero(inner))
    edges = []
    if n_lost:
        for axis in range(3):
            before = [slice(None)] * 3
            before[axis] = slice(0, dst[axis].start)
            after = [slice(None)] * 3
            after[axis] = slice(dst[axis].stop, None)
            if lost[tuple(before)].any():
                edges.append(f"{_EDGE_NAMES[axis]}-")
            if lost[tuple(after)].any():
                edges.append(f"{_EDGE_NAMES[axis]}+")
    outer &= in_image

    removed_body = 0
    if body_threshold is not None and outer.any():
        body = body_mask(volume.array[src[0]], float(body_threshold), roi=tumour_full[src[0]])
        body_local = np.zeros(local_shape, bool)
        body_local[dst] = body[:, src[1], src[2]]
        removed_body = int(np.count_nonzero(outer & ~body_local))
        outer &= body_local
    ring = outer | inner
    removed_range = 0
    if intensity_range is not None:
        values = np.full(local_shape, np.nan)
        values[dst] = volume.array[src]
        low, high = intensity_range
        keep = in_image.copy()
        if low is not None:
            keep &= values >= low
        if high is not None:
            keep &= values <= high
        removed_range = int(np.count_nonzero(ring & ~keep))
        ring &= keep
    n_ring = int(np.count_nonzero(ring))
    if n_ring == 0:
        reasons = []
        if n_lost:
            reasons.append(f"{n_lost * voxel_mm3:.4g} mm³ beyond the image edge")
        if removed_body:
            reasons.append(f"{removed_body * voxel_mm3:.4g} mm³ outside the body (threshold {body_threshold})")
        if removed_range:
            reasons.append(f"{removed_range * voxel_mm3:.4g} mm³ outside the intensity range {intensity_range}")
        raise EmptyRoiError(
            f"{where}: no ring voxel is left" + (f" ({'; '.join(reasons)})" if reasons else "")
            + "; expected a ring thicker than the voxel spacing "
            f"(z, y, x) {tuple(round(float(s), 4) for s in spacing)} mm",
            case_id=case_id, path=mask.source, step="roi_ring")
    if n_lost:
        who = f"case {case_id!r}, " if case_id else ""
        warnings.warn(
            f"{who}{where}: the ring is cut at the image edge ({', '.join(edges)}): "
            f"{n_lost * voxel_mm3:.1f} mm³ ({100.0 * n_lost / n_whole:.1f} % of the ring) lies outside "
            "the image; its features describe the part inside", RoiWarning, stacklevel=2)
    out = np.zeros(tumour_full.shape, bool)
    out[src] = ring[dst]
    report = RingReport(
        name=suffix, outside_mm=float(outside_mm), inside_mm=float(inside_mm), n_voxels=n_ring,
        volume_mm3=n_ring * voxel_mm3, cut_at_edge_mm3=n_lost * voxel_mm3,
        cut_fraction=n_lost / n_whole if n_whole else 0.0, cut_edges=tuple(edges),
        removed_outside_body_mm3=removed_body * voxel_mm3,
        removed_outside_range_mm3=removed_range * voxel_mm3,
        body_threshold=None if body_threshold is None else float(body_threshold),
        intensity_range=None if intensity_range is None else tuple(
            None if v is None else float(v) for v in intensity_range),
    )
    return mask.with_array(out, name=f"{base}_{suffix}"), report
