"""ROI operations: bounding box and cropping around the ROI.

Cropping is done before any heavy step (resampling, filtering) to save time and
memory. A cropped volume remembers the grid it was cut from in
``volume.metadata["parent_grid"]`` (a :class:`~voxelomics.volume.Grid`), so that
:func:`voxelomics.preprocess.resample` can place the IBSI-aligned interpolation grid
exactly where it would lie on the uncropped image: cropping then does not change the
resampled intensities inside the ROI.
"""

from __future__ import annotations

import numpy as np

from voxelomics.errors import EmptyRoiError, GeometryError, SettingsError
from voxelomics.volume import Grid, RoiMask, Volume

__all__ = ["bounding_box", "crop_box", "crop_to_roi", "PARENT_GRID_KEY"]

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
