r"""Riesz transforms of LoG and Simoncelli responses (IBSI-2 section 2.9; phase-1 9–10).

The Riesz transform of order :math:`\mathbf{l} = (l_x, l_y, l_z)` (:math:`L = l_x + l_y +
l_z`) is a directional, all-pass operator defined by its frequency response, with
:math:`\boldsymbol\omega` the angular frequency (radians per voxel):

.. math::

    \widehat{\mathcal{R}^{\mathbf{l}}}(\boldsymbol\omega) = \sqrt{\frac{L!}{l_x!\,l_y!\,l_z!}}
    \,\frac{(-j\omega_x)^{l_x}(-j\omega_y)^{l_y}(-j\omega_z)^{l_z}}{\lVert\boldsymbol\omega\rVert^{L}}

(0 at :math:`\boldsymbol\omega = 0`). Order 1 behaves like a normalised first derivative
along one axis, order 2 like a second derivative. Applied to a band-limited response (a LoG
or a Simoncelli band) it gives a steerable, multi-scale directional filter. The real part
is the response; the order is given in the order x, y, z like every IBSI kernel name.

The base filter runs on the image padded by its own support plus the margin of the Riesz
transform (its kernel decays slowly), then the transform multiplies the padded response's
spectrum, and the centre is cropped. With the Simoncelli wavelet both frequency responses
are applied in one pass.

Only the plain (unsteered) transforms have IBSI reference maps (9.a, 9.b.1, 10.b.1); the
versions aligned to the local structure tensor (9.b.2, 10.b.2) reached no consensus and are
not implemented.

References
----------
Depeursinge A. et al., arXiv:2006.05470 (IBSI reference manual, chapter 2), section 2.9
"Riesz transform"; Unser M., Van De Ville D., Wavelet steerability and the higher-order
Riesz transform, IEEE TIP 2010;19:636.
"""

from __future__ import annotations

import math

import numpy as np

from voxelomics.errors import SettingsError
from voxelomics.filters._common import ARRAY_AXIS, as_image, check_support, filtered_axes
from voxelomics.filters._fourier import dft_frequency_grid, fourier_filter
from voxelomics.filters.boundary import pad
from voxelomics.filters.log import laplacian_of_gaussian, log_radius
from voxelomics.filters.simoncelli import simoncelli_radius, simoncelli_response

__all__ = ["riesz_response", "riesz_log", "riesz_simoncelli", "check_riesz_order", "riesz_margin"]


def check_riesz_order(order, dimensions: str = "3d") -> tuple[int, ...]:
    """Validate a Riesz order given in the order x, y[, z].

    Parameters
    ----------
    order : sequence of int
        Non-negative orders per axis, at least one positive.
    dimensions : {"3d", "2d"}, default="3d"

    Returns
    -------
    tuple of int

    Raises
    ------
    SettingsError
        Wrong length, negative or non-integer orders, or all zero.
    """
    n = 2 if dimensions == "2d" else 3
    try:
        vals = tuple(int(v) for v in order)
    except (TypeError, ValueError):
        raise SettingsError(f"Riesz order must be {n} integers (x, y" + (", z" if n == 3 else "") + f"), got {order!r}") from None
    if len(vals) != n or any(v < 0 for v in vals) or any(v != o for v, o in zip(vals, order, strict=True)) or sum(vals) == 0:
        raise SettingsError(f"Riesz order must be {n} non-negative integers (x, y" + (", z" if n == 3 else "")
                            + f") with at least one positive, e.g. {'[1, 0, 0]' if n == 3 else '[1, 0]'}; got {order!r}")
    return vals


def riesz_margin(base_radius: int) -> int:
    """Padding (voxels per side) for a Riesz transform of a filter with that radius.

    Parameters
    ----------
    base_radius : int
        Half-width of the base filter's kernel (voxels).

    Returns
    -------
    int
        Twice the base radius: the Riesz kernel of a band-limited response decays with the
        base filter's scale.
    """
    return 2 * int(base_radius)


def riesz_response(lengths, order_xyz, axes) -> np.ndarray:
    """Frequency response of the Riesz transform on a grid (FFT order).

    Parameters
    ----------
    lengths : tuple of int
        Array lengths along ``axes``.
    order_xyz : tuple of int
        Order per kernel position (x, y[, z]).
    axes : tuple of int
        The array axes of ``lengths`` (ascending: z, y, x or y, x).

    Returns
    -------
    ndarray of complex128, shape ``lengths``
    """
    grids = np.meshgrid(*[dft_frequency_grid(n) for n in lengths], indexing="ij", sparse=True)
    norm = np.sqrt(sum(g * g for g in grids))
    total = sum(order_xyz)
    coef = math.sqrt(math.factorial(total) / math.prod(math.factorial(v) for v in order_xyz))
    h = np.full(norm.shape, coef, dtype=np.complex128)
    for pos, l_pos in enumerate(order_xyz):
        if l_pos:
            h = h * (-1j * grids[axes.index(ARRAY_AXIS[pos])]) ** l_pos
    with np.errstate(divide="ignore", invalid="ignore"):
        h = h / norm**total
    h[norm == 0] = 0
    return h


def riesz_log(image, spacing_mm, *, order, sigma_mm: float, truncate: float = 4.0, dimensions: str = "3d",
              padding: str = "mirror") -> np.ndarray:
    """Riesz transform of a Laplacian-of-Gaussian response.

    Parameters
    ----------
    image : ndarray of shape (z, y, x)
        Intensities. float32 is kept, other types become float64.
    spacing_mm : tuple of float
        Voxel size (z, y, x) in mm.
    order : sequence of int
        Riesz order (x, y[, z]), e.g. ``(1, 0, 0)``.
    sigma_mm : float
        LoG scale σ in mm.
    truncate : float, default=4.0
        LoG kernel truncation (σ units).
    dimensions : {"3d", "2d"}, default="3d"
    padding : {"mirror", "constant", "nearest", "periodic"}, default="mirror"

    Returns
    -------
    ndarray of shape (z, y, x)
        Real part of the transformed LoG response.

    Raises
    ------
    SettingsError
        Invalid order or LoG parameters.
    FilterError
        The LoG kernel is larger than the image.

    References
    ----------
    Depeursinge A. et al., arXiv:2006.05470, sections 2.4 and 2.9.
    """
    arr, spacing = as_image(image, spacing_mm)
    order = check_riesz_order(order, dimensions)
    axes = filtered_axes(dimensions)
    radius = log_radius(sigma_mm, spacing, truncate=truncate, dimensions=dimensions)
    check_support(arr.shape, radius, f"the LoG filter (sigma {sigma_mm:g} mm)")
    margin = riesz_margin(max(radius)) if padding != "periodic" else 0
    widths = [(margin, margin) if a in axes else (0, 0) for a in range(3)]
    padded = pad(arr, widths, padding)
    base = laplacian_of_gaussian(padded, spacing, sigma_mm=sigma_mm, truncate=truncate, dimensions=dimensions,
                                 padding=padding)
    del padded
    out = fourier_filter(base, axes, 0, "periodic", lambda lengths: riesz_response(lengths, order, axes))
    keep = tuple(slice(margin, margin + arr.shape[a]) if a in axes else slice(None) for a in range(3))
    return np.ascontiguousarray(out[keep])


def riesz_simoncelli(image, spacing_mm, *, order, level: int = 1, dimensions: str = "3d",
                     padding: str = "mirror") -> np.ndarray:
    """Riesz transform of a Simoncelli wavelet band.

    Parameters
    ----------
    image : ndarray of shape (z, y, x)
        Intensities. float32 is kept, other types become float64.
    spacing_mm : tuple of float
        Voxel size (z, y, x) in mm (only checked).
    order : sequence of int
        Riesz order (x, y[, z]).
    level : int, default=1
        Simoncelli decomposition level.
    dimensions : {"3d", "2d"}, default="3d"
    padding : {"mirror", "constant", "nearest", "periodic"}, default="mirror"

    Returns
    -------
    ndarray of shape (z, y, x)
        Real part of the transformed band.

    Raises
    ------
    SettingsError
        Invalid order or level.
    FilterError
        A 3D filter on a one-slice volume.

    References
    ----------
    Depeursinge A. et al., arXiv:2006.05470, sections 2.8 and 2.9.
    """
    arr, _ = as_image(image, spacing_mm)
    order = check_riesz_order(order, dimensions)
    if isinstance(level, bool) or int(level) != level or level < 1:
        raise SettingsError(f"Simoncelli level must be an integer >= 1, got {level!r}")
    axes = filtered_axes(dimensions)
    check_support(arr.shape, [1 if a in axes else 0 for a in range(3)], "the Riesz-Simoncelli filter")
    margin = min(riesz_margin(simoncelli_radius(int(level), dimensions=dimensions)[2]), max(arr.shape[a] for a in axes))

    def response(lengths):
        return simoncelli_response(lengths, int(level)) * riesz_response(lengths, order, axes)

    return fourier_filter(arr, axes, margin, padding, response)
