"""Local intensity features (IBSI family 9ST6, reference manual section 3.2).

The local mean around a voxel is the mean intensity of every image voxel whose centre lies
within :math:`r = (3 / (4\\pi))^{1/3}` cm :math:`\\approx 6.2035` mm of that voxel's centre (a
1 cm³ sphere in world units), the centre voxel included. Neighbours are taken from the whole
image, inside or outside the ROI: only the centre voxels are restricted to the intensity mask.
The caller must therefore keep enough image around the ROI (a crop margin of at least ``r``).

Image edge: voxels outside the image do not exist and are left out of the mean (it is taken
over the in-image voxels of the sphere only; no padding value enters). This is the handling
that reproduces the IBSI digital-phantom reference values, whose spheres reach beyond the
5×4×4 image.

Means are computed with one FFT convolution of the image and one of the in-image indicator
with the spherical kernel, both restricted to the ROI bounding box grown by the kernel
half-width, and read at the ROI voxels only. Features are 3D by definition (IBSI: DHQ4).
"""

from __future__ import annotations

import numpy as np
from scipy import fft

from voxelomics.errors import EmptyRoiError, FeatureError, GeometryError, MaskError
from voxelomics.features.registry import FeatureSpec

__all__ = ["FEATURES", "RADIUS_MM", "spherical_kernel", "local_means", "compute"]

#: Radius of a 1 cm³ sphere, in mm.
RADIUS_MM: float = float((3.0 / (4.0 * np.pi)) ** (1.0 / 3.0) * 10.0)

FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("local_intensity_local_peak", "local_intensity", "VJGA", "loc_peak_loc",
                "Local intensity peak", "image units"),
    FeatureSpec("local_intensity_global_peak", "local_intensity", "0F91", "loc_peak_glob",
                "Global intensity peak", "image units"),
)


def spherical_kernel(spacing_mm, radius_mm: float = RADIUS_MM) -> np.ndarray:
    """Voxels whose centres lie within a sphere around the central voxel (IBSI: 9ST6).

    Parameters
    ----------
    spacing_mm : tuple of float
        Voxel spacing (z, y, x) in mm.
    radius_mm : float, default=RADIUS_MM
        Sphere radius in mm (default: 1 cm³ sphere, about 6.2 mm).

    Returns
    -------
    ndarray of bool of shape (2 h_z + 1, 2 h_y + 1, 2 h_x + 1)
        True where the Euclidean distance (mm) between voxel centres is at most
        ``radius_mm``; ``h_i = floor(radius_mm / spacing_i)``.

    Examples
    --------
    >>> int(spherical_kernel((2.0, 2.0, 2.0)).sum())
    123
    """
    spacing = np.asarray(spacing_mm, dtype=np.float64)
    half = np.floor(radius_mm / spacing).astype(int)
    axes = [np.arange(-h, h + 1) * s for h, s in zip(half, spacing, strict=True)]
    dist2 = axes[0][:, None, None] ** 2 + axes[1][None, :, None] ** 2 + axes[2][None, None, :] ** 2
    return dist2 <= radius_mm**2 * (1.0 + 1e-12)


def local_means(image: np.ndarray, mask: np.ndarray, spacing_mm) -> np.ndarray:
    """Mean intensity of the 1 cm³ sphere around every ROI voxel.

    Parameters
    ----------
    image : ndarray of float of shape (z, y, x)
        Whole image (the neighbourhood may leave the ROI).
    mask : ndarray of bool of shape (z, y, x)
        Centre voxels (intensity mask), at least one voxel.
    spacing_mm : tuple of float
        Voxel spacing (z, y, x) in mm.

    Returns
    -------
    ndarray of float of shape (n_roi_voxels,)
        Local means in the order of ``image[mask]``; image voxels outside the array are
        excluded from each mean (see the module docstring).

    Raises
    ------
    FeatureError
        A non-finite image value near the ROI (it would spread through the FFT).
    """
    kernel = spherical_kernel(spacing_mm).astype(np.float64)
    half = [k // 2 for k in kernel.shape]
    idx = np.nonzero(mask)
    lo = [max(int(i.min()) - h, 0) for i, h in zip(idx, half, strict=True)]
    hi = [min(int(i.max()) + 1 + h, n) for i, h, n in zip(idx, half, image.shape, strict=True)]
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    sub = image[box].astype(np.float64)
    if not np.all(np.isfinite(sub)):
        raise FeatureError(
            f"{int((~np.isfinite(sub)).sum())} image values within {RADIUS_MM:.2f} mm of the ROI "
            "bounding box are not finite; expected finite intensities around every ROI voxel"
        )
    sums, counts = _convolve_same(sub, np.ones_like(sub), kernel=kernel)
    counts = np.rint(counts)
    local = tuple(i - a for i, a in zip(idx, lo, strict=True))
    return sums[local] / counts[local]


def _convolve_same(*arrays: np.ndarray, kernel: np.ndarray) -> list[np.ndarray]:
    """Linear convolutions of same-shape arrays with one kernel, cropped to the input shape.

    The arithmetic of :func:`scipy.signal.fftconvolve` (``mode="same"``: real FFTs of fast
    lengths >= full size, product, inverse, centred crop), with the kernel transformed
    once and without importing :mod:`scipy.signal` (which loads :mod:`scipy.stats`: ~1 s
    and ~30 MiB at start-up).
    """
    s1 = np.array(arrays[0].shape)
    full = [int(a + b - 1) for a, b in zip(s1, kernel.shape, strict=True)]
    fshape = [fft.next_fast_len(n, True) for n in full]
    spk = fft.rfftn(kernel, fshape)
    start = (np.array(full) - s1) // 2
    crop = tuple(slice(int(a), int(a + n)) for a, n in zip(start, s1, strict=True))
    return [fft.irfftn(fft.rfftn(a, fshape) * spk, fshape)[crop].copy() for a in arrays]


def _validate(image, intensity_mask, spacing_mm):
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 3:
        raise GeometryError(f"image has {img.ndim} dimensions; expected a 3D array (z, y, x)")
    spacing = tuple(float(s) for s in np.ravel(spacing_mm))
    if len(spacing) != 3 or not all(np.isfinite(s) and s > 0 for s in spacing):
        raise GeometryError(f"spacing_mm is {spacing_mm!r}; expected three positive lengths (z, y, x) in mm")
    mask = np.asarray(intensity_mask)
    if mask.shape != img.shape:
        raise GeometryError(f"intensity mask has shape {mask.shape}; expected the image shape {img.shape} (z, y, x)")
    if mask.dtype != bool:
        if not np.isin(np.unique(mask), (0, 1)).all():
            raise MaskError("intensity mask holds values other than 0 and 1; expected a boolean mask")
        mask = mask.astype(bool)
    if not mask.any():
        raise EmptyRoiError("intensity mask holds no voxel; expected at least one ROI voxel")
    return img, mask, spacing


def compute(image: np.ndarray, intensity_mask: np.ndarray, spacing_mm) -> dict[str, float]:
    """Compute the local and global intensity peaks (IBSI: VJGA, 0F91).

    Parameters
    ----------
    image : ndarray of float of shape (z, y, x)
        Intensities (e.g. HU) of the whole image or of a crop that keeps at least
        :data:`RADIUS_MM` around the ROI; not re-segmented.
    intensity_mask : ndarray of bool of shape (z, y, x)
        Intensity mask; only its voxels serve as sphere centres.
    spacing_mm : tuple of float
        Voxel spacing (z, y, x) in mm.

    Returns
    -------
    dict of str to float
        ``local_intensity_local_peak``: the highest local mean among the ROI voxels that
        hold the maximum ROI intensity (IBSI: VJGA); ``local_intensity_global_peak``: the
        highest local mean over all ROI voxels (IBSI: 0F91). Same unit as the image.

    Raises
    ------
    GeometryError
        Mask and image shapes differ, or the spacing is not three positive numbers.
    MaskError
        The mask holds values other than 0/1.
    EmptyRoiError
        The intensity mask is empty.
    FeatureError
        A non-finite image value within the ROI bounding box grown by :data:`RADIUS_MM`.

    Notes
    -----
    Both features are always defined for a non-empty ROI (a sphere holds at least its centre).

    References
    ----------
    IBSI reference manual (arXiv:1612.07003), section 3.2; Frings et al. (2014); Wahl et al.
    (2009).
    """
    img, mask, spacing = _validate(image, intensity_mask, spacing_mm)
    means = local_means(img, mask, spacing)
    values = img[mask]
    at_max = values == values.max()
    return {
        "local_intensity_local_peak": float(means[at_max].max()),
        "local_intensity_global_peak": float(means.max()),
    }
