r"""Gabor filter (IBSI-2 section 2.6; phase-1 tests 4.a, 4.b; phase-2 configuration 5).

A Gabor filter is a 2-D complex kernel: a Gaussian envelope modulated by a plane wave.
In the plane's coordinates :math:`(x, y)` in mm, rotated by :math:`\theta`
(:math:`\tilde x = x\cos\theta + y\sin\theta`, :math:`\tilde y = -x\sin\theta + y\cos\theta`):

.. math::

    h(x, y) = \exp\left(-\frac{\tilde x^2 + \gamma^2 \tilde y^2}{2\sigma^2}\right)
    \exp\left(j\,\frac{2\pi \tilde x}{\lambda}\right)

σ (mm) is the width of the envelope along :math:`\tilde x`, :math:`\sigma/\gamma` across
it, λ (mm) the wavelength. The envelope is not normalised (its peak is 1), as in the IBSI
reference response maps. The kernel is truncated at ``truncate`` times the larger of σ and
σ/γ. The response is the modulus (default), real or imaginary part of the convolution.

Rotation invariance pools the responses for θ = θ₀ + kΔθ over a full turn. In 2D the filter
runs in every axial slice; in 3D it runs in the three orthogonal planes (axial: rows y,
columns x; coronal: z, x; sagittal: z, y) and the three pooled maps are pooled again with
the same method (IBSI: "averaged over the three orthogonal planes").

The kernels are applied with FFTs over each plane: the padded slices are transformed once,
and each θ costs one multiplication and one inverse transform. For the modulus and the real
part θ and θ + π give the same response, so only half a turn is computed when Δθ divides π.

References
----------
Depeursinge A. et al., arXiv:2006.05470 (IBSI reference manual, chapter 2), section 2.6
"Gabor filter"; Gabor D., Theory of communication, J. IEE 1946;93:429.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import fft as sfft

from voxelomics.errors import SettingsError
from voxelomics.filters._common import Pool, as_image, check_support
from voxelomics.filters.boundary import pad

__all__ = ["gabor_filter", "gabor_kernel", "gabor_radius", "gabor_angles"]

#: (row axis, column axis) of the planes: axial, coronal, sagittal.
PLANES = ((1, 2), (0, 2), (0, 1))


def gabor_radius(sigma_mm: float, gamma: float, spacing_mm, *, truncate: float = 4.0,
                 dimensions: str = "2d") -> tuple[int, int, int]:
    """Kernel half-width of the Gabor filter, in voxels per axis (z, y, x).

    Parameters
    ----------
    sigma_mm : float
        Envelope width σ in mm.
    gamma : float
        Spatial aspect ratio γ.
    spacing_mm : tuple of float
        Voxel size (z, y, x) in mm.
    truncate : float, default=4.0
        Truncation in units of the larger of σ and σ/γ.
    dimensions : {"2d", "3d"}, default="2d"
        ``2d``: axial planes only (z gets 0); ``3d``: the three orthogonal planes.

    Returns
    -------
    tuple of int
    """
    reach = truncate * max(sigma_mm, sigma_mm / gamma)
    axes = (1, 2) if dimensions == "2d" else (0, 1, 2)
    return tuple(int(math.floor(reach / s + 0.5)) if a in axes else 0 for a, s in enumerate(spacing_mm))


def gabor_angles(theta_deg: float, rotation_invariance: bool, theta_step_deg: float | None) -> list[float]:
    """Orientations (degrees) a Gabor filter is evaluated at.

    Parameters
    ----------
    theta_deg : float
        Orientation θ₀ in degrees (counter-clockwise from the x axis towards y).
    rotation_invariance : bool
        Whether to turn the kernel through a full turn.
    theta_step_deg : float or None
        Step Δθ in degrees; must divide 360. Required with rotation invariance.

    Returns
    -------
    list of float
        ``[θ₀]``, or ``θ₀ + k Δθ`` for ``k = 0 … 360/Δθ - 1``.

    Raises
    ------
    SettingsError
        Missing step, or a step that does not divide 360 degrees.
    """
    if not rotation_invariance:
        return [float(theta_deg)]
    if theta_step_deg is None or not theta_step_deg > 0:
        raise SettingsError("a rotation-invariant Gabor filter needs theta_step_deg > 0 (e.g. 22.5)")
    n = round(360.0 / theta_step_deg)
    if n < 1 or abs(n * theta_step_deg - 360.0) > 1e-6:
        raise SettingsError(f"Gabor theta_step_deg must divide 360 degrees, got {theta_step_deg!r}")
    return [float(theta_deg) + k * float(theta_step_deg) for k in range(n)]


def gabor_kernel(sigma_mm: float, lambda_mm: float, gamma: float, theta_deg: float,
                 spacing_rows_cols_mm, radius_rows_cols) -> np.ndarray:
    """Complex Gabor kernel sampled on a plane's voxel grid.

    Parameters
    ----------
    sigma_mm, lambda_mm : float
        Envelope width σ and wavelength λ in mm.
    gamma : float
        Aspect ratio γ.
    theta_deg : float
        Orientation in degrees, from the column (x) axis towards the row (y) axis.
    spacing_rows_cols_mm : tuple of float
        Voxel size along the plane's rows and columns (mm).
    radius_rows_cols : tuple of int
        Half-width in voxels along rows and columns.

    Returns
    -------
    ndarray of complex128, shape (2 r_rows + 1, 2 r_cols + 1)
        Kernel values, centre at the middle element.
    """
    (sr, sc), (rr, rc) = spacing_rows_cols_mm, radius_rows_cols
    y = np.arange(-rr, rr + 1)[:, None] * sr
    x = np.arange(-rc, rc + 1)[None, :] * sc
    t = math.radians(theta_deg)
    xr = x * math.cos(t) + y * math.sin(t)
    yr = -x * math.sin(t) + y * math.cos(t)
    return np.exp(-(xr**2 + gamma**2 * yr**2) / (2 * sigma_mm**2)) * np.exp(1j * 2 * math.pi * xr / lambda_mm)


def gabor_filter(image, spacing_mm, *, sigma_mm: float, lambda_mm: float, gamma: float = 1.0,
                 theta_deg: float = 0.0, rotation_invariance: bool = False,
                 theta_step_deg: float | None = None, pooling: str = "average",
                 response: str = "modulus", truncate: float = 4.0, dimensions: str = "2d",
                 padding: str = "mirror") -> np.ndarray:
    """Gabor response in the axial planes (2D) or pooled over the three orthogonal planes (3D).

    Parameters
    ----------
    image : ndarray of shape (z, y, x)
        Intensities. float32 is kept (complex64 FFTs), other types become float64.
    spacing_mm : tuple of float
        Voxel size (z, y, x) in mm.
    sigma_mm : float
        Envelope width σ in mm.
    lambda_mm : float
        Wavelength λ in mm.
    gamma : float, default=1.0
        Spatial aspect ratio γ (envelope width across the wave is σ/γ).
    theta_deg : float, default=0.0
        Orientation θ (degrees), or the first orientation with rotation invariance.
    rotation_invariance : bool, default=False
        Pool over θ₀ + kΔθ, a full turn.
    theta_step_deg : float or None, default=None
        Δθ in degrees (must divide 360); required with rotation invariance.
    pooling : {"average", "max", "min"}, default="average"
        Pooling over orientations, then over the three planes (3D).
    response : {"modulus", "real", "imaginary"}, default="modulus"
        Part of the complex response kept.
    truncate : float, default=4.0
        Kernel truncation in units of max(σ, σ/γ).
    dimensions : {"2d", "3d"}, default="2d"
        ``2d``: axial slices; ``3d``: the three orthogonal planes, pooled.
    padding : {"mirror", "constant", "nearest", "periodic"}, default="mirror"

    Returns
    -------
    ndarray of shape (z, y, x)
        Response in image units.

    Raises
    ------
    SettingsError
        Non-positive σ, λ, γ or truncation; bad θ step; unknown pooling, response,
        dimensions or padding.
    FilterError
        The kernel is larger than the image (in a filtered plane).

    Examples
    --------
    >>> img = np.zeros((1, 9, 9)); img[0, 4, 4] = 1.0
    >>> out = gabor_filter(img, (1, 1, 1), sigma_mm=1.0, lambda_mm=2.0, truncate=2.0, padding="constant")
    >>> float(out[0, 4, 4]), round(float(out[0, 4, 5]), 4)    # |kernel|: the envelope exp(-1/2)
    (1.0, 0.6065)

    References
    ----------
    Depeursinge A. et al., arXiv:2006.05470, section 2.6.
    """
    arr, spacing = as_image(image, spacing_mm)
    for name, v in (("sigma_mm", sigma_mm), ("lambda_mm", lambda_mm), ("gamma", gamma), ("truncate", truncate)):
        if not (v > 0 and math.isfinite(v)):
            raise SettingsError(f"Gabor {name} must be positive, got {v!r}")
    if response not in ("modulus", "real", "imaginary"):
        raise SettingsError(f"Gabor response must be 'modulus', 'real' or 'imaginary', got {response!r}")
    if dimensions not in ("2d", "3d"):
        raise SettingsError(f"dimensions must be '2d' or '3d', got {dimensions!r}")
    angles = gabor_angles(theta_deg, rotation_invariance, theta_step_deg)
    if response in ("modulus", "real") and len(angles) % 2 == 0 and len(angles) > 1:
        angles = angles[: len(angles) // 2]  # theta and theta + pi give the same map
    radius = gabor_radius(sigma_mm, gamma, spacing, truncate=truncate, dimensions=dimensions)
    check_support(arr.shape, radius, f"the Gabor filter (sigma {sigma_mm:g} mm, gamma {gamma:g})")
    planes = PLANES[:1] if dimensions == "2d" else PLANES
    outer = Pool(pooling)
    for rows, cols in planes:
        pooled = _plane_response(arr, spacing, rows, cols, radius, angles, sigma_mm, lambda_mm, gamma,
                                 response, pooling, padding)
        outer.add(pooled)
        del pooled
    return outer.result()


def _plane_response(arr, spacing, rows, cols, radius, angles, sigma, lam, gamma, response, pooling, padding):
    rr, rc = radius[rows], radius[cols]
    widths = [(0, 0)] * 3
    widths[rows], widths[cols] = (rr, rr), (rc, rc)
    padded = pad(arr, widths, padding)
    shape = (sfft.next_fast_len(padded.shape[rows], real=False), sfft.next_fast_len(padded.shape[cols], real=False))
    spectrum = sfft.fft2(padded, s=shape, axes=(rows, cols))
    del padded
    complex_dtype = np.complex64 if arr.dtype == np.float32 else np.complex128
    pool = Pool(pooling)
    keep = [slice(None)] * 3
    keep[rows] = slice(2 * rr, 2 * rr + arr.shape[rows])
    keep[cols] = slice(2 * rc, 2 * rc + arr.shape[cols])
    keep = tuple(keep)
    bshape = [1, 1, 1]
    bshape[rows], bshape[cols] = shape
    for theta in angles:
        kernel = gabor_kernel(sigma, lam, gamma, theta, (spacing[rows], spacing[cols]), (rr, rc))
        kspec = sfft.fft2(kernel, s=shape).astype(complex_dtype, copy=False).reshape(bshape)
        resp = sfft.ifft2(spectrum * kspec, axes=(rows, cols))[keep]
        if response == "modulus":
            part = np.abs(resp)
        elif response == "real":
            part = np.ascontiguousarray(resp.real)
        else:
            part = np.ascontiguousarray(resp.imag)
        del resp
        pool.add(part)
    return pool.result()
