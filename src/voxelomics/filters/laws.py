"""Laws kernels (IBSI-2 section 2.5; phase-1 tests 3.a–3.c; phase-2 configuration 4).

A Laws kernel is the outer product of 1-D kernels named by their letter and length,
written in the order x, y, z: ``E5L5S5`` is E5 along x, L5 along y, S5 along z (3D);
``L5S5`` is L5 along x and S5 along y (2D, slice by slice). Every 1-D kernel is normalised
to unit Euclidean norm, as IBSI does:

======  ===================  =================  ======  ======================
name    kernel (× 1/norm)    kind               name    kernel (× 1/norm)
======  ===================  =================  ======  ======================
``L3``  1, 2, 1              level              ``L5``  1, 4, 6, 4, 1
``E3``  -1, 0, 1             edge               ``E5``  -1, -2, 0, 2, 1
``S3``  -1, 2, -1            spot               ``S5``  -1, 0, 2, 0, -1
                                                ``W5``  -1, 2, 0, -2, 1 (wave)
                                                ``R5``  1, -4, 6, -4, 1 (ripple)
======  ===================  =================  ======  ======================

Options, applied in this order:

* rotation invariance: the kernel is turned through every right-angle rotation (24 in 3D,
  4 in 2D) and the responses are pooled (max, average or min). Each 1-D Laws kernel is
  symmetric or antisymmetric, so a rotated response is ``±`` the response of one of the
  6 (3D) or 2 (2D) axis permutations: only those are convolved.
* energy map: the mean of the absolute response over the ``(2δ + 1)^N`` neighbourhood
  (δ in voxels), with the same boundary condition.

References
----------
Depeursinge A. et al., arXiv:2006.05470 (IBSI reference manual, chapter 2), section 2.5
"Laws kernels"; Laws K.I., Textured image segmentation, PhD thesis, USC, 1980.
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np
from scipy import ndimage as ndi

from voxelomics.errors import SettingsError
from voxelomics.filters._common import (
    ARRAY_AXIS,
    Pool,
    as_image,
    check_support,
    correlate_taps,
    filtered_axes,
    proper_rotations,
    taps,
)
from voxelomics.filters.boundary import scipy_mode

__all__ = ["LAWS_KERNELS", "parse_laws_kernel", "laws_filter", "laws_radius"]

_RAW = {
    "L3": (1, 2, 1), "E3": (-1, 0, 1), "S3": (-1, 2, -1),
    "L5": (1, 4, 6, 4, 1), "E5": (-1, -2, 0, 2, 1), "S5": (-1, 0, 2, 0, -1),
    "W5": (-1, 2, 0, -2, 1), "R5": (1, -4, 6, -4, 1),
}
#: The normalised 1-D Laws kernels by name.
LAWS_KERNELS: dict[str, np.ndarray] = {k: np.asarray(v, float) / np.linalg.norm(v) for k, v in _RAW.items()}


def parse_laws_kernel(kernel: str, dimensions: str = "3d") -> tuple[str, ...]:
    """Split a Laws kernel name into its 1-D kernels, in the order x, y[, z].

    Parameters
    ----------
    kernel : str
        E.g. ``"E5L5S5"`` (3D) or ``"L5S5"`` (2D); case-insensitive.
    dimensions : {"3d", "2d"}, default="3d"
        3 names for 3D, 2 for 2D.

    Returns
    -------
    tuple of str
        Upper-case 1-D kernel names.

    Raises
    ------
    SettingsError
        Unknown 1-D kernel or the wrong number for the dimensions.

    Examples
    --------
    >>> parse_laws_kernel("l5e5e5")
    ('L5', 'E5', 'E5')
    """
    text = str(kernel).upper()
    parts = re.findall(r"[A-Z]\d", text)
    n = 2 if dimensions == "2d" else 3
    if "".join(parts) != text or not parts:
        raise SettingsError(f"Laws kernel {kernel!r} is not a sequence of 1-D kernel names "
                            f"({', '.join(LAWS_KERNELS)}), e.g. 'L5E5E5'")
    unknown = [p for p in parts if p not in LAWS_KERNELS]
    if unknown:
        raise SettingsError(f"unknown 1-D Laws kernel {unknown[0]!r} in {kernel!r}; valid: {', '.join(LAWS_KERNELS)}")
    if len(parts) != n:
        raise SettingsError(f"Laws kernel {kernel!r} has {len(parts)} 1-D kernels; a {dimensions} filter needs {n} "
                            "(x, y" + (", z)" if n == 3 else ")"))
    return tuple(parts)


def laws_radius(kernel: str, *, energy_distance: int | None = None, dimensions: str = "3d") -> tuple[int, int, int]:
    """Half-width (voxels, per array axis z, y, x) of a Laws filter and its energy window.

    Parameters
    ----------
    kernel : str
        Laws kernel name (``"L5E5E5"``).
    energy_distance : int or None, default=None
        Energy-map distance δ in voxels.
    dimensions : {"3d", "2d"}, default="3d"

    Returns
    -------
    tuple of int
        Half-width along (z, y, x); 0 on axes that are not filtered.
    """
    names = parse_laws_kernel(kernel, dimensions)
    half = max(len(LAWS_KERNELS[n]) // 2 for n in names) + (energy_distance or 0)
    axes = filtered_axes(dimensions)
    return tuple(half if a in axes else 0 for a in range(3))


def laws_filter(image, spacing_mm, *, kernel: str, rotation_invariance: bool = False, pooling: str = "max",
                energy_distance: int | None = None, dimensions: str = "3d",
                padding: str = "mirror") -> np.ndarray:
    """Laws kernel response, optionally rotation-invariant and as an energy map.

    Parameters
    ----------
    image : ndarray of shape (z, y, x)
        Intensities. float32 is kept, other types become float64.
    spacing_mm : tuple of float
        Voxel size (z, y, x) in mm (Laws kernels are in voxels; only checked).
    kernel : str
        1-D kernel names in the order x, y[, z], e.g. ``"L5E5E5"`` or ``"L5S5"``.
    rotation_invariance : bool, default=False
        Pool the responses of every right-angle rotation of the kernel.
    pooling : {"max", "average", "min"}, default="max"
        How rotated responses are pooled.
    energy_distance : int or None, default=None
        δ (voxels) of the energy map, the mean absolute response over ``(2δ + 1)^N``
        voxels; ``None``: no energy map.
    dimensions : {"3d", "2d"}, default="3d"
    padding : {"mirror", "constant", "nearest", "periodic"}, default="mirror"

    Returns
    -------
    ndarray of shape (z, y, x)
        Response (image units; non-negative for an energy map).

    Raises
    ------
    SettingsError
        Unknown kernel, pooling, dimensions or padding; δ negative.
    FilterError
        The kernel (with its energy window) is larger than the image.

    Examples
    --------
    >>> img = np.zeros((1, 5, 5)); img[0, 2, 2] = 1.0
    >>> out = laws_filter(img, (1, 1, 1), kernel="L3E3", dimensions="2d", padding="constant")
    >>> np.round(out[0, 1:4, 1:4] * np.sqrt(6) * np.sqrt(2), 6) + 0.0   # L3 along x, E3 along y
    array([[ 1.,  2.,  1.],
           [ 0.,  0.,  0.],
           [-1., -2., -1.]])

    References
    ----------
    Depeursinge A. et al., arXiv:2006.05470, section 2.5.
    """
    arr, _ = as_image(image, spacing_mm)
    names = parse_laws_kernel(kernel, dimensions)
    if energy_distance is not None and (isinstance(energy_distance, bool) or int(energy_distance) != energy_distance
                                        or energy_distance < 0):
        raise SettingsError(f"Laws energy_distance must be a non-negative integer (voxels), got {energy_distance!r}")
    check_support(arr.shape, laws_radius(kernel, energy_distance=energy_distance, dimensions=dimensions),
                  f"the Laws filter {''.join(names)}")
    ndim = len(names)
    if rotation_invariance:
        # A flipped 1-D Laws kernel is +-itself, so each rotation's response is +-the
        # response of its axis permutation: coefficient[perm][factor] counts the rotations.
        coefficient: dict[tuple, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        rotations = proper_rotations(ndim)
        for perm, flips in rotations:
            factor = 1
            for pos in range(ndim):
                if flips[pos] == -1 and _antisymmetric(names[perm[pos]]):
                    factor = -factor
            coefficient[perm][factor] += 1
        pool = Pool(pooling)
        for perm, counts in coefficient.items():
            if pooling == "average":
                net = counts[1] - counts[-1]
                if net:
                    resp = _separable(arr, [names[perm[pos]] for pos in range(ndim)], padding)
                    pool.add(resp, weight=float(net))
                continue
            resp = _separable(arr, [names[perm[pos]] for pos in range(ndim)], padding)
            for factor in counts:
                pool.add(resp if factor == 1 else -resp)
            del resp
        if pool.value is None:  # average of responses that cancel pairwise: zero
            out = np.zeros_like(arr)
        else:
            pool.weight = float(len(rotations))
            out = pool.result()
    else:
        out = _separable(arr, list(names), padding)
    if energy_distance is not None:
        size = 2 * int(energy_distance) + 1
        np.abs(out, out=out)
        for axis in filtered_axes(dimensions):
            out = ndi.uniform_filter1d(out, size, axis=axis, mode=scipy_mode(padding), cval=0.0)
    return out


def _antisymmetric(name: str) -> bool:
    k = LAWS_KERNELS[name]
    return bool(np.allclose(k[::-1], -k))


def _separable(arr: np.ndarray, names_xyz: list[str], padding: str) -> np.ndarray:
    """Convolve with the outer product of 1-D kernels given in the order x, y[, z]."""
    out = arr
    for pos, name in enumerate(names_xyz):
        out = correlate_taps(out, taps(LAWS_KERNELS[name]), ARRAY_AXIS[pos], padding)
    return out
