"""Helpers shared by the filter families: input checks, 1-D passes, rotations, pooling.

Axis conventions. Arrays are (z, y, x). IBSI names separable kernels and sub-bands in the
order x, y, z (``E5L5S5``: E5 along x, L5 along y, S5 along z; ``LHL``: low-pass along x,
high-pass along y, low-pass along z); :data:`ARRAY_AXIS` maps that position to the array
axis. A 2D filter works slice by slice in the axial plane (array axes 1 and 2).

Kernels are applied by convolution, as IBSI defines them. A 1-D kernel ``w`` of length
``L`` (its taps as listed, ``w[0]`` first) is centred like ``scipy.ndimage.convolve1d``
centres it: tap ``j`` multiplies the input at offset ``L // 2 - j``. :func:`taps` writes a
kernel as (offset, weight) pairs, so flipping (a rotation) negates the offsets and the
*à trous* upsampling of the wavelets multiplies them; :func:`correlate_taps` applies any such
set with one ``scipy.ndimage.correlate1d`` pass.
"""

from __future__ import annotations

import itertools
from typing import Literal

import numpy as np
from scipy import ndimage as ndi

from voxelomics.errors import FilterError, SettingsError
from voxelomics.filters.boundary import scipy_mode

__all__ = [
    "ARRAY_AXIS",
    "Dimensions",
    "Pooling",
    "as_image",
    "filtered_axes",
    "check_support",
    "taps",
    "correlate_taps",
    "proper_rotations",
    "Pool",
]

Dimensions = Literal["2d", "3d"]
Pooling = Literal["average", "max", "min"]

#: IBSI kernel position (0 = x, 1 = y, 2 = z) → array axis of a (z, y, x) array.
ARRAY_AXIS = (2, 1, 0)


def as_image(image, spacing_mm) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Check a filter's input; float32 stays float32, anything else becomes float64."""
    arr = np.asarray(image)
    if arr.ndim != 3:
        raise FilterError(f"a filter needs a 3D image (z, y, x); got shape {arr.shape}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if arr.size == 0:
        raise FilterError(f"the image is empty (shape {arr.shape})")
    sp = tuple(float(s) for s in np.ravel(spacing_mm))
    if len(sp) != 3 or not all(np.isfinite(s) and s > 0 for s in sp):
        raise FilterError(f"spacing_mm must be three positive numbers (z, y, x) in mm; got {spacing_mm!r}")
    return arr, sp


def filtered_axes(dimensions: str) -> tuple[int, ...]:
    """Array axes a filter runs along: ``(1, 2)`` slice by slice (2D), ``(0, 1, 2)`` (3D)."""
    if dimensions == "2d":
        return (1, 2)
    if dimensions == "3d":
        return (0, 1, 2)
    raise SettingsError(f"dimensions must be '2d' or '3d', got {dimensions!r}")


def check_support(shape, radius, what: str) -> None:
    """Refuse a kernel whose radius (voxels, per array axis) reaches past the image.

    A kernel of radius ``r`` needs ``r`` voxels of the image on each side of the voxel it
    filters; with ``r`` equal to or larger than the image it would mostly see the padding.
    """
    for axis, (n, r) in enumerate(zip(shape, radius, strict=True)):
        if r <= 0:
            continue
        if n == 1:
            raise FilterError(
                f"{what} is 3D but the image has a single {'zyx'[axis]}-plane (shape (z, y, x) "
                f"{tuple(shape)}); use dimensions '2d' (slice by slice) for a one-slice volume"
            )
        if r >= n:
            raise FilterError(
                f"{what} is larger than the image: its kernel reaches {r} voxels along "
                f"{'zyx'[axis]} but the image has only {n} (shape (z, y, x) {tuple(shape)})"
            )


def taps(kernel) -> list[tuple[int, float]]:
    """(offset, weight) pairs of a 1-D convolution kernel, centred as scipy centres it."""
    w = np.asarray(kernel, dtype=np.float64)
    centre = len(w) // 2
    return [(centre - j, float(v)) for j, v in enumerate(w)]


def correlate_taps(array: np.ndarray, tap_list, axis: int, padding: str, out=None) -> np.ndarray:
    """Apply ``sum_k w_k * a[i + o_k]`` along one axis with an IBSI boundary condition."""
    reach = max(abs(o) for o, _ in tap_list)
    weights = np.zeros(2 * reach + 1)
    for o, v in tap_list:
        weights[reach + o] += v
    return ndi.correlate1d(array, weights, axis=axis, mode=scipy_mode(padding), cval=0.0, output=out)


def proper_rotations(ndim: int) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """The right-angle rotations of an ``ndim``-D kernel (4 in 2D, 24 in 3D).

    Each is ``(perm, flips)`` over IBSI kernel positions (x, y[, z]): the rotated kernel has,
    along position ``i``, the original kernel of position ``perm[i]``, reversed when
    ``flips[i]`` is -1. Only rotations (determinant +1) are listed, not reflections.
    """
    out = []
    for perm in itertools.permutations(range(ndim)):
        parity = round(np.linalg.det(np.eye(ndim)[list(perm)]))
        for flips in itertools.product((1, -1), repeat=ndim):
            if parity * int(np.prod(flips)) == 1:
                out.append((perm, flips))
    return out


class Pool:
    """Running average, maximum or minimum of response maps (rotation invariance)."""

    def __init__(self, pooling: str):
        if pooling not in ("average", "max", "min"):
            raise SettingsError(f"pooling must be 'average', 'max' or 'min', got {pooling!r}")
        self.pooling = pooling
        self.value: np.ndarray | None = None
        self.weight = 0.0

    def add(self, response: np.ndarray, weight: float = 1.0, owned: bool = False) -> None:
        """Pool one response (``weight`` counts it several times in the average).

        ``owned=True``: nobody else holds ``response``, the pool may keep and modify it.
        """
        if self.value is None:
            if owned and weight == 1.0:
                self.value = response
            else:
                self.value = response * weight if self.pooling == "average" else response.copy()
        elif self.pooling == "average":
            if weight == 1.0:
                self.value += response
            else:
                self.value += response * weight
        elif self.pooling == "max":
            np.maximum(self.value, response, out=self.value)
        else:
            np.minimum(self.value, response, out=self.value)
        self.weight += weight

    def result(self) -> np.ndarray:
        """The pooled map."""
        if self.value is None:
            raise ValueError("nothing pooled")
        if self.pooling == "average":
            self.value /= self.weight
        return self.value

