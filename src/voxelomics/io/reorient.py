"""A mask stored with flipped or permuted axes, on the same voxels as its image.

Two files can hold the very same voxel centres with their index axes in another order or
direction: a label map saved by a tool that writes RAS while the image is LPS, or with
``z`` as the first axis. The grids then differ in direction cosines and origin although
every mask voxel sits exactly on an image voxel. :func:`axes_onto` finds the signed axis
permutation that maps one grid onto the other; :func:`reorient_onto` moves the mask's
voxels onto the image grid with it (a transpose and flips: no interpolation, no voxel
gained or lost). :func:`voxelomics.io.align_mask` applies it with a
:class:`~voxelomics.errors.GeometryWarning` and a provenance note, and names the flip in
its error when the two grids do not cover the same voxels.
"""

from __future__ import annotations

import numpy as np

from voxelomics.volume import Grid, RoiMask

__all__ = ["AxisMap", "axis_map", "axes_onto", "reorient_onto", "describe"]

_AXES = "xyz"


class AxisMap:
    """How the index axes of one grid map onto another's: a signed permutation.

    Attributes
    ----------
    source : tuple of int of length 3
        ``source[r]``: the index axis (0 = x, 1 = y, 2 = z) of the mask that runs along
        image index axis ``r``.
    sign : tuple of int of length 3
        ``sign[r]``: +1 when that axis runs the same way, -1 when it is flipped.
    offset : ndarray of shape (3,)
        Image index (x, y, z) of the mask's voxel (0, 0, 0), rounded.
    exact_box : bool
        True when the mask grid covers exactly the image grid's voxels.
    """

    def __init__(self, source, sign, offset, exact_box):
        self.source = tuple(int(c) for c in source)
        self.sign = tuple(int(s) for s in sign)
        self.offset = np.asarray(offset, dtype=float)
        self.exact_box = bool(exact_box)

    @property
    def identity(self) -> bool:
        """True when no axis is flipped or permuted."""
        return self.source == (0, 1, 2) and self.sign == (1, 1, 1)


def _index_matrix(grid: Grid) -> np.ndarray:
    """Index (x, y, z) -> patient offset (mm): direction columns scaled by the spacing."""
    return np.asarray(grid.direction, float) @ np.diag(np.asarray(grid.spacing_mm, float)[::-1])


def axis_map(image: Grid, mask: Grid, *, tolerance_voxels: float = 1e-3) -> AxisMap | None:
    """The signed axis permutation from the mask grid's indices to the image grid's.

    Parameters
    ----------
    image, mask : Grid
        The two grids.
    tolerance_voxels : float, default=1e-3
        Largest mismatch accepted, in image voxels, anywhere in the mask grid.

    Returns
    -------
    AxisMap or None
        None when the mask's voxel centres are not image voxel centres under a signed
        permutation of the axes (other spacing, rotation, sub-voxel shift).
    """
    a = np.linalg.solve(_index_matrix(image), _index_matrix(mask))  # mask ijk -> image ijk
    b = np.linalg.solve(_index_matrix(image), np.asarray(mask.origin_mm, float) - np.asarray(image.origin_mm, float))
    p = np.rint(a)
    if not (np.all(np.abs(p).sum(axis=0) == 1) and np.all(np.abs(p).sum(axis=1) == 1)):
        return None
    extent = max(mask.shape)
    if np.abs(a - p).max() * extent > tolerance_voxels or np.abs(b - np.rint(b)).max() > tolerance_voxels:
        return None
    source = [int(np.flatnonzero(p[r])[0]) for r in range(3)]
    sign = [int(p[r, source[r]]) for r in range(3)]
    offset = np.rint(b)
    image_n = np.asarray(image.shape)[::-1]  # (x, y, z)
    mask_n = np.asarray(mask.shape)[::-1]
    exact = all(
        mask_n[source[r]] == image_n[r] and offset[r] == (0 if sign[r] > 0 else image_n[r] - 1)
        for r in range(3))
    return AxisMap(source, sign, offset, exact)


def axes_onto(image: Grid, mask: Grid, *, tolerance_voxels: float = 1e-3) -> AxisMap | None:
    """The axis map when the mask holds exactly the image's voxels in another axis order.

    Parameters
    ----------
    image, mask : Grid
    tolerance_voxels : float, default=1e-3

    Returns
    -------
    AxisMap or None
        None unless :func:`axis_map` finds a map that is not the identity and covers the
        image grid exactly.
    """
    m = axis_map(image, mask, tolerance_voxels=tolerance_voxels)
    return m if m is not None and m.exact_box and not m.identity else None


def reorient_onto(mask: RoiMask, image: Grid, axes: AxisMap) -> np.ndarray:
    """The mask's voxels in the image grid's axis order (transpose and flips only).

    Parameters
    ----------
    mask : RoiMask
        Array of shape (z, y, x) in its own axis order.
    image : Grid
        The image grid.
    axes : AxisMap
        From :func:`axes_onto`.

    Returns
    -------
    ndarray of bool, shape ``image.shape`` (z, y, x)
        The same voxels: ``out.sum() == mask.array.sum()``.
    """
    # numpy axis of index axis r is 2 - r; image axis r takes mask axis source[r]
    order = [2 - axes.source[2 - n] for n in range(3)]
    out = np.transpose(mask.array, order)
    flip = [n for n in range(3) if axes.sign[2 - n] < 0]
    out = np.flip(out, axis=flip) if flip else out
    if out.shape != tuple(image.shape):  # pragma: no cover - guarded by exact_box
        raise AssertionError("axis map does not cover the image grid")
    return np.ascontiguousarray(out)


def describe(axes: AxisMap) -> str:
    """Words for an axis map, e.g. ``"x flipped"`` or ``"axes (x, y, z) stored as (z, y, x)"``.

    Parameters
    ----------
    axes : AxisMap

    Returns
    -------
    str
    """
    parts = []
    if axes.source != (0, 1, 2):
        parts.append("image axes (x, y, z) stored as the mask's ("
                     + ", ".join(_AXES[c] for c in axes.source) + ")")
    flipped = [_AXES[r] for r in range(3) if axes.sign[r] < 0]
    if flipped:
        parts.append(f"{', '.join(flipped)} flipped")
    return "; ".join(parts) or "same axes"
