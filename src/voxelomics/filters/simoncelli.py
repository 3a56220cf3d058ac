r"""Simoncelli non-separable wavelet (IBSI-2 section 2.8; phase-1 test 8; phase-2 8–9).

An isotropic band-pass filter defined by its frequency response, a raised cosine in
log-frequency. With :math:`\nu` the frequency normalised so that 1 is the Nyquist frequency
and :math:`\nu_j = 2^{-(j-1)}` at decomposition level :math:`j`:

.. math::

    \psi_j(\boldsymbol\nu) = \begin{cases}
    \cos\left(\frac{\pi}{2}\log_2\frac{2\lVert\boldsymbol\nu\rVert}{\nu_j}\right) &
    \nu_j/4 < \lVert\boldsymbol\nu\rVert < \nu_j \\
    0 & \text{otherwise}
    \end{cases}

Level 1 keeps the octave just below Nyquist, each further level the octave below.
The response is computed with FFTs: the image is padded (``margin`` voxels per side, none
with periodic padding), :math:`\psi_j` is sampled on the IBSI consensus frequency grid of
the padded size (:func:`~voxelomics.filters._fourier.ibsi_frequency_grid`), and the real
part of the filtered image is kept; the zero-frequency (DC) term is always zeroed, since
the consensus grid would put it half a bin off zero on even axes, where the band of a high
level could pick up the image's mean. In 2D the filter is the same formula in the axial
plane, slice by slice.

The filter has no finite support; its kernel falls below 5e-4 of its peak beyond
``12 · 2^(j-1)`` voxels, which is the default padding and the crop margin the extraction
keeps around the ROI.

References
----------
Depeursinge A. et al., arXiv:2006.05470 (IBSI reference manual, chapter 2), section 2.8
"Non-separable wavelets"; Portilla J., Simoncelli E.P., A parametric texture model based on
joint statistics of complex wavelet coefficients, IJCV 2000;40:49.
"""

from __future__ import annotations

import numpy as np

from voxelomics.errors import SettingsError
from voxelomics.filters._common import as_image, check_support, filtered_axes
from voxelomics.filters._fourier import fourier_filter, ibsi_frequency_grid

__all__ = ["simoncelli_wavelet", "simoncelli_response", "simoncelli_radius"]

#: Effective kernel half-width at level 1 (voxels); doubles with every level.
_REACH_LEVEL_1 = 12


def simoncelli_radius(level: int = 1, *, dimensions: str = "3d") -> tuple[int, int, int]:
    """Effective half-width of the Simoncelli kernel, in voxels per axis (z, y, x).

    Parameters
    ----------
    level : int, default=1
        Decomposition level.
    dimensions : {"3d", "2d"}, default="3d"

    Returns
    -------
    tuple of int
        ``12 * 2**(level - 1)`` on the filtered axes (the kernel is below 5e-4 of its peak
        there), 0 on the others.
    """
    reach = _REACH_LEVEL_1 * 2 ** (int(level) - 1)
    axes = filtered_axes(dimensions)
    return tuple(reach if a in axes else 0 for a in range(3))


def simoncelli_response(lengths, level: int) -> np.ndarray:
    """Frequency response of the level-``level`` Simoncelli wavelet on a padded grid.

    Parameters
    ----------
    lengths : tuple of int
        Array lengths along the filtered axes.
    level : int
        Decomposition level (>= 1).

    Returns
    -------
    ndarray of float64, shape ``lengths``
        :math:`\\psi_j` in FFT order.
    """
    grids = np.meshgrid(*[ibsi_frequency_grid(n) for n in lengths], indexing="ij", sparse=True)
    radius = np.sqrt(sum(g * g for g in grids))
    top = 2.0 ** (-(level - 1))
    inside = (radius > top / 4) & (radius < top)
    out = np.zeros(radius.shape)
    out[inside] = np.cos(np.pi / 2 * np.log2(2 * radius[inside] / top))
    # the DC term is outside every band; on an even axis the consensus grid puts it half a
    # bin off zero, where a high level's band could reach it: zero it explicitly
    out[(0,) * out.ndim] = 0.0
    return out


def simoncelli_wavelet(image, spacing_mm, *, level: int = 1, dimensions: str = "3d",
                       padding: str = "mirror", margin_voxels: int | None = None) -> np.ndarray:
    """Simoncelli wavelet band at one decomposition level.

    Parameters
    ----------
    image : ndarray of shape (z, y, x)
        Intensities. float32 is kept (complex64 FFTs), other types become float64.
    spacing_mm : tuple of float
        Voxel size (z, y, x) in mm (the filter works in voxels; only checked).
    level : int, default=1
        Decomposition level (1 = the highest octave).
    dimensions : {"3d", "2d"}, default="3d"
    padding : {"mirror", "constant", "nearest", "periodic"}, default="mirror"
        Boundary condition; ``periodic`` filters the image as it is (the DFT is periodic).
    margin_voxels : int or None, default=None
        Padding per side for the other boundary conditions; ``None``:
        :func:`simoncelli_radius`, capped at the image size.

    Returns
    -------
    ndarray of shape (z, y, x)
        Band-pass response (image units).

    Raises
    ------
    SettingsError
        Level not an integer >= 1; unknown dimensions or padding.
    FilterError
        A 3D filter on a one-slice volume.

    Examples
    --------
    >>> img = np.full((8, 8, 8), 5.0)
    >>> float(np.abs(simoncelli_wavelet(img, (1, 1, 1), level=1)).max()) < 1e-12   # no DC
    True

    References
    ----------
    Depeursinge A. et al., arXiv:2006.05470, section 2.8.
    """
    arr, _ = as_image(image, spacing_mm)
    if isinstance(level, bool) or int(level) != level or level < 1:
        raise SettingsError(f"Simoncelli level must be an integer >= 1, got {level!r}")
    level = int(level)
    axes = filtered_axes(dimensions)
    check_support(arr.shape, [1 if a in axes else 0 for a in range(3)], "the Simoncelli wavelet")
    margin = simoncelli_radius(level, dimensions=dimensions)[2] if margin_voxels is None else int(margin_voxels)
    margin = min(margin, max(arr.shape[a] for a in axes))
    return fourier_filter(arr, axes, margin, padding, lambda lengths: simoncelli_response(lengths, level))
