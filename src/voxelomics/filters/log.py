r"""Laplacian of Gaussian (IBSI-2 section 2.4; phase-1 tests 2.a–2.c; phase-2 configuration 3).

IBSI defines the LoG kernel in voxel coordinates :math:`\mathbf{k}`, with the scale
:math:`\sigma` given in mm and divided by the voxel size:

.. math::

    g(\mathbf{k}) = -\frac{1}{\sigma^2}\left(\frac{1}{\sqrt{2\pi}\,\sigma}\right)^N
    \left(N - \frac{\lVert\mathbf{k}\rVert^2}{\sigma^2}\right)
    \exp\left(-\frac{\lVert\mathbf{k}\rVert^2}{2\sigma^2}\right)

with :math:`N` = 2 (slice by slice) or 3. The kernel is truncated at ``truncate`` σ: its
support is :math:`M = 1 + 2\lfloor d\,\sigma + 0.5\rfloor` voxels per axis (:math:`d` = 4 in
the IBSI tests). It is not rescaled to sum to zero (IBSI does not).

It equals :math:`\sum_i \partial^2_i G`: a sum of N separable terms (the second derivative
of a 1-D Gaussian along one axis, the Gaussian along the others), which is how it is
computed (2 N + 2 one-dimensional passes in 3D instead of one pass of :math:`M^3` taps). With
anisotropic voxels each axis has its own :math:`\sigma_i = \sigma / s_i`, and the sum
reduces to the formula above when they are equal.

References
----------
Depeursinge A. et al., arXiv:2006.05470 (IBSI reference manual, chapter 2), section 2.4
"Laplacian of Gaussian filter".
"""

from __future__ import annotations

import math

import numpy as np

from voxelomics.errors import SettingsError
from voxelomics.filters._common import as_image, check_support, correlate_taps, filtered_axes

__all__ = ["laplacian_of_gaussian", "log_radius"]


def log_radius(sigma_mm: float, spacing_mm, *, truncate: float = 4.0, dimensions: str = "3d") -> tuple[int, int, int]:
    """Kernel half-width of the LoG, in voxels per axis (z, y, x).

    Parameters
    ----------
    sigma_mm : float
        Gaussian scale σ in mm.
    spacing_mm : tuple of float
        Voxel size (z, y, x) in mm.
    truncate : float, default=4.0
        Truncation in units of σ.
    dimensions : {"3d", "2d"}, default="3d"

    Returns
    -------
    tuple of int
        ``floor(truncate * sigma_mm / spacing + 0.5)`` on the filtered axes, 0 on the others.
    """
    axes = filtered_axes(dimensions)
    return tuple(int(math.floor(truncate * sigma_mm / s + 0.5)) if a in axes else 0
                 for a, s in enumerate(spacing_mm))


def laplacian_of_gaussian(image, spacing_mm, *, sigma_mm: float, truncate: float = 4.0,
                          dimensions: str = "3d", padding: str = "mirror") -> np.ndarray:
    """Laplacian-of-Gaussian response (blob and edge detector at scale σ).

    Parameters
    ----------
    image : ndarray of shape (z, y, x)
        Intensities (HU, SUV, ...). float32 is kept, other types become float64.
    spacing_mm : tuple of float
        Voxel size (z, y, x) in mm.
    sigma_mm : float
        Gaussian scale σ in mm (> 0).
    truncate : float, default=4.0
        Kernel truncation, in units of σ (IBSI: 4).
    dimensions : {"3d", "2d"}, default="3d"
        ``2d`` filters each axial slice on its own.
    padding : {"mirror", "constant", "nearest", "periodic"}, default="mirror"
        IBSI boundary condition.

    Returns
    -------
    ndarray of shape (z, y, x)
        LoG response in image units per voxel² (negative inside bright blobs of size ~σ).

    Raises
    ------
    SettingsError
        σ or ``truncate`` not positive; unknown ``dimensions`` or ``padding``.
    FilterError
        The kernel is larger than the image, or a 3D filter on a one-slice volume.

    Examples
    --------
    >>> img = np.zeros((9, 9, 9)); img[4, 4, 4] = 1.0
    >>> out = laplacian_of_gaussian(img, (1, 1, 1), sigma_mm=1.0, padding="constant")
    >>> round(float(out[4, 4, 4]), 4)  # -3 / (2 pi)^1.5
    -0.1905

    References
    ----------
    Depeursinge A. et al., arXiv:2006.05470, section 2.4.
    """
    arr, spacing = as_image(image, spacing_mm)
    if not (sigma_mm > 0 and math.isfinite(sigma_mm)):
        raise SettingsError(f"LoG sigma_mm must be a positive number of mm, got {sigma_mm!r}")
    if not (truncate > 0 and math.isfinite(truncate)):
        raise SettingsError(f"LoG truncate must be positive (in units of sigma), got {truncate!r}")
    axes = filtered_axes(dimensions)
    radius = log_radius(sigma_mm, spacing, truncate=truncate, dimensions=dimensions)
    check_support(arr.shape, radius, f"the LoG filter (sigma {sigma_mm:g} mm)")
    gauss, second = {}, {}
    for a in axes:
        s = sigma_mm / spacing[a]
        k = np.arange(-radius[a], radius[a] + 1, dtype=np.float64)
        g = np.exp(-(k * k) / (2 * s * s)) / (math.sqrt(2 * math.pi) * s)
        gauss[a] = list(zip(k.astype(int).tolist(), g.tolist(), strict=True))
        second[a] = list(zip(k.astype(int).tolist(), (g * (k * k / s**4 - 1 / s**2)).tolist(), strict=True))

    def run(x, plan):
        for axis, kind in plan:
            x = correlate_taps(x, (second if kind == "d2" else gauss)[axis], axis, padding)
        return x

    if len(axes) == 2:
        y, x = axes
        out = run(arr, [(x, "d2"), (y, "g")])
        out += run(arr, [(x, "g"), (y, "d2")])
        return out
    z, y, x = axes
    smooth_x = run(arr, [(x, "g")])
    out = run(smooth_x, [(y, "g"), (z, "d2")])
    out += run(smooth_x, [(y, "d2"), (z, "g")])
    del smooth_x
    out += run(arr, [(x, "d2"), (y, "g"), (z, "g")])
    return out
