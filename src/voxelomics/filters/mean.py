"""Mean filter (IBSI-2 section 2.3; phase-1 tests 1.a, 1.b; phase-2 configuration 2).

The response at each voxel is the mean intensity of the ``M × M`` (2D) or ``M × M × M``
(3D) voxels centred on it. It is separable: one running mean of length ``M`` per axis.

References
----------
Depeursinge A. et al., arXiv:2006.05470 (IBSI reference manual, chapter 2), section 2.3
"Mean filter".
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from voxelomics.errors import SettingsError
from voxelomics.filters._common import as_image, check_support, filtered_axes
from voxelomics.filters.boundary import scipy_mode

__all__ = ["mean_filter"]


def mean_filter(image, spacing_mm, *, support_voxels: int, dimensions: str = "3d",
                padding: str = "mirror") -> np.ndarray:
    """Mean over a cubic (3D) or square (2D, slice by slice) neighbourhood.

    Parameters
    ----------
    image : ndarray of shape (z, y, x)
        Intensities (HU, SUV, ...). float32 is kept, other types become float64.
    spacing_mm : tuple of float
        Voxel size (z, y, x) in mm (the support is in voxels, so it is only checked).
    support_voxels : int
        Filter support ``M`` in voxels along each filtered axis; odd, so the neighbourhood
        is centred on the voxel.
    dimensions : {"3d", "2d"}, default="3d"
        ``2d`` filters each axial slice on its own (axes y, x).
    padding : {"mirror", "constant", "nearest", "periodic"}, default="mirror"
        IBSI boundary condition (:mod:`voxelomics.filters.boundary`).

    Returns
    -------
    ndarray of shape (z, y, x)
        Mean intensity, in image units, same dtype as the (converted) input.

    Raises
    ------
    SettingsError
        ``support_voxels`` is not an odd positive integer; unknown ``dimensions`` or
        ``padding``.
    FilterError
        The support is larger than the image, or a 3D filter on a one-slice volume.

    Examples
    --------
    >>> img = np.zeros((1, 1, 5)); img[0, 0, 2] = 3.0
    >>> mean_filter(img, (1, 1, 1), support_voxels=3, dimensions="2d", padding="constant")[0, 0]
    array([0., 1., 1., 1., 0.])

    References
    ----------
    Depeursinge A. et al., arXiv:2006.05470, section 2.3.
    """
    arr, _ = as_image(image, spacing_mm)
    m = support_voxels
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1 or m % 2 == 0:
        raise SettingsError(f"mean filter support_voxels must be an odd positive integer, got {m!r}")
    axes = filtered_axes(dimensions)
    mode = scipy_mode(padding)
    check_support(arr.shape, [m // 2 if a in axes else 0 for a in range(3)], f"the mean filter (support {m})")
    out = arr
    for axis in axes:
        out = ndi.uniform_filter1d(out, int(m), axis=axis, mode=mode, cval=0.0)
    return out if out is not arr else arr.copy()
