"""Re-segmentation of the ROI intensity mask (IBSI 2.5, IF9H).

Re-segmentation removes voxels from the *intensity* mask (SEFI) by their intensity; the
*morphological* mask (G5KJ) is left as it is. Two methods exist:

* range re-segmentation (USB3): keep ``range_min <= X <= range_max``;
* intensity outlier filtering (7ACA): keep ``mu - n sigma <= X <= mu + n sigma``, with the
  mean ``mu`` and the (population) standard deviation ``sigma`` of the intensities in
  the ROI as given.

When both are set, IBSI keeps the intersection of the two intensity ranges; both ranges
are computed from the ROI as given (the outlier statistics are not recomputed after the
range is applied). This reproduces the IBSI-1 diagnostic voxel counts of configuration E.
"""

from __future__ import annotations

import numpy as np

from voxelomics.errors import EmptyRoiError, GeometryError, SettingsError

__all__ = ["resegment", "resegmentation_range"]


def resegmentation_range(
    values: np.ndarray,
    *,
    range_min: float | None = None,
    range_max: float | None = None,
    outlier_sigma: float | None = None,
) -> tuple[float, float]:
    """Closed intensity interval kept by re-segmentation (IBSI: USB3, 7ACA).

    Parameters
    ----------
    values : ndarray of shape (n,)
        Intensities of the ROI voxels, in image units (HU, SUV, ...).
    range_min, range_max : float or None, default=None
        Range re-segmentation bounds in image units; ``None`` leaves that side open.
    outlier_sigma : float or None, default=None
        Keep ``mean ± outlier_sigma × SD`` of ``values`` (SD without bias correction);
        IBSI uses 3.

    Returns
    -------
    low, high : float
        The interval (``-inf``/``inf`` for open sides).

    Raises
    ------
    SettingsError
        ``range_min > range_max`` or a non-positive ``outlier_sigma``.
    EmptyRoiError
        ``outlier_sigma`` is set and ``values`` is empty.
    """
    low = -np.inf if range_min is None else float(range_min)
    high = np.inf if range_max is None else float(range_max)
    if low > high:
        raise SettingsError(f"range_min ({range_min}) must not exceed range_max ({range_max})")
    if outlier_sigma is not None:
        if not (np.isfinite(outlier_sigma) and outlier_sigma > 0):
            raise SettingsError(f"outlier_sigma must be a positive number, got {outlier_sigma!r}")
        v = np.asarray(values, dtype=np.float64)
        if v.size == 0:
            raise EmptyRoiError("outlier filtering needs at least one ROI voxel; the ROI is empty")
        mu, sd = float(v.mean()), float(v.std())
        low = max(low, mu - outlier_sigma * sd)
        high = min(high, mu + outlier_sigma * sd)
    return low, high


def resegment(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    range_min: float | None = None,
    range_max: float | None = None,
    outlier_sigma: float | None = None,
) -> np.ndarray:
    """Intensity mask after range re-segmentation and outlier filtering (IBSI: IF9H).

    Parameters
    ----------
    image : ndarray of shape (z, y, x)
        Intensities in image units (HU, SUV, ...), after interpolation.
    mask : ndarray of bool, shape (z, y, x)
        ROI mask (the morphological mask after interpolation).
    range_min, range_max : float or None, default=None
        Keep voxels with ``range_min <= X <= range_max`` (IBSI USB3); ``None`` leaves
        that side open.
    outlier_sigma : float or None, default=None
        Remove voxels outside ``mean ± outlier_sigma × SD`` of the ROI intensities
        (IBSI 7ACA, with 3). Mean and SD are computed on ``mask`` before the range is
        applied; the kept interval is the intersection of both ranges (IBSI IF9H).

    Returns
    -------
    ndarray of bool, shape (z, y, x)
        Intensity mask, a subset of ``mask``. It may be empty: the caller decides
        whether that is an error.

    Raises
    ------
    GeometryError
        ``image`` and ``mask`` differ in shape or are not 3D.
    SettingsError
        ``range_min > range_max`` or a non-positive ``outlier_sigma``.
    EmptyRoiError
        ``mask`` is empty while outlier filtering is requested.

    Examples
    --------
    >>> img = np.arange(8.0).reshape(2, 2, 2)
    >>> int(resegment(img, img >= 0, range_min=2, range_max=5).sum())
    4
    """
    img = np.asarray(image)
    m = np.asarray(mask, dtype=bool)
    if img.ndim != 3 or img.shape != m.shape:
        raise GeometryError(
            f"image and mask must be 3D arrays of the same shape (z, y, x); got {img.shape} and {m.shape}"
        )
    values = img[m]
    low, high = resegmentation_range(
        values, range_min=range_min, range_max=range_max, outlier_sigma=outlier_sigma
    )
    out = np.zeros_like(m)
    out[m] = (values >= low) & (values <= high)
    return out
