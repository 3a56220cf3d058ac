"""Intensity histogram features (IBSI 3.4, family ZVCW).

Notation: ``X_d`` are the discretised grey levels (``1 … N_g``) of the ``N_v`` voxels in
the ROI intensity mask; ``H = (n_1, …, n_{N_g})`` is the histogram with ``n_i`` voxels of
grey level ``i`` (empty bins kept) and ``p_i = n_i / N_v``. Features are computed on the
whole 3D ROI (IBSI aggregation DHQ4) and are in grey-level units, not in image units.

Percentiles use linear interpolation (as in :mod:`voxelomics.features.statistics`), which
gives the digital-phantom reference ``P90 = 4``.

The histogram gradient is ``H'_1 = n_2 - n_1``, ``H'_i = (n_{i+1} - n_{i-1}) / 2`` for
``1 < i < N_g`` and ``H'_{N_g} = n_{N_g} - n_{N_g - 1}``.

Undefined cases: skewness and kurtosis are 0 when the variance is 0 (IBSI). The robust
mean absolute deviation is NaN when no level lies in ``[P10, P90]`` (only possible with two
voxels of different levels). With a single
grey level (``N_g = 1``) the gradient is defined as 0. When several bins share the
highest count (mode) or the extreme gradient, IBSI picks the mode closest to the mean (the
lower one when equidistant); for the gradient intensities, the lowest grey level is taken.

Features (readable key, IBSI tag, identifier; definition; undefined case), with ``mu``,
``sigma``, ``M`` and ``P_q`` the mean, standard deviation, median and q-th percentile of
``X_d``. ``mu >= 1`` and ``P_75 + P_25 >= 2`` since grey levels start at 1, so the ratios
are always defined:

``histogram_mean`` (``ih_mean``): mean discretised intensity (IBSI: X6K6)
    ``sum(X_d) / N_v = sum_i i p_i``. Always defined.
``histogram_variance`` (``ih_var``): discretised intensity variance (IBSI: CH89)
    ``sum_i (i - mu)^2 p_i``, no bias correction. Always defined.
``histogram_skewness`` (``ih_skew``): discretised intensity skewness (IBSI: 88K1)
    ``m3 / m2^(3/2)``. 0 when the variance is 0 (IBSI).
``histogram_kurtosis`` (``ih_kurt``): (excess) discretised intensity kurtosis (IBSI: C3I7)
    ``m4 / m2^2 - 3``. 0 when the variance is 0 (IBSI).
``histogram_median`` (``ih_median``): median discretised intensity (IBSI: WIFQ)
    Sample median ``M`` of ``X_d``. Always defined.
``histogram_minimum`` (``ih_min``): minimum discretised intensity (IBSI: 1PR8)
    ``min(X_d)`` (1 for FBN, may exceed 1 for FBS). Always defined.
``histogram_p10`` (``ih_p10``): 10th discretised intensity percentile (IBSI: GPMT)
    ``P_10``, linear interpolation. Always defined.
``histogram_p90`` (``ih_p90``): 90th discretised intensity percentile (IBSI: OZ0C)
    ``P_90``, linear interpolation. Always defined.
``histogram_maximum`` (``ih_max``): maximum discretised intensity (IBSI: 3NCY)
    ``max(X_d)``. Always defined.
``histogram_mode`` (``ih_mode``): intensity histogram mode (IBSI: AMMC)
    Level ``i`` with the highest count ``n_i``; ties as described above. Always defined.
``histogram_interquartile_range`` (``ih_iqr``): discretised interquartile range (IBSI: WR0O)
    ``P_75 - P_25``. Always defined.
``histogram_range`` (``ih_range``): discretised intensity range (IBSI: 5Z3W)
    ``max(X_d) - min(X_d)``. Always defined.
``histogram_mean_absolute_deviation`` (``ih_mad``): mean absolute deviation (IBSI: D2ZX)
    ``sum(|X_d - mu|) / N_v``. Always defined.
``histogram_robust_mean_absolute_deviation`` (``ih_rmad``): robust MAD (IBSI: WRZB)
    Mean absolute deviation from their own mean of the levels in ``[P_10, P_90]``. NaN
    when that set is empty (two voxels of different levels).
``histogram_median_absolute_deviation`` (``ih_medad``): median absolute deviation (IBSI: 4RNL)
    ``sum(|X_d - M|) / N_v``. Always defined.
``histogram_coefficient_of_variation`` (``ih_cov``): coefficient of variation (IBSI: CWYJ)
    ``sigma / mu``. Always defined.
``histogram_quartile_coefficient_of_dispersion`` (``ih_qcod``): QCOD (IBSI: SLWD)
    ``(P_75 - P_25) / (P_75 + P_25)``. Always defined.
``histogram_entropy`` (``ih_entropy``): discretised intensity entropy (IBSI: TLU2)
    ``-sum_i p_i log2 p_i`` over non-empty bins, in bits. Always defined.
``histogram_uniformity`` (``ih_uniformity``): discretised intensity uniformity (IBSI: BJ5W)
    ``sum_i p_i^2``, in ``[1/N_g, 1]``. Always defined.
``histogram_max_gradient`` (``ih_max_grad``): maximum histogram gradient (IBSI: 12CE)
    ``max(H')``. 0 when ``N_g = 1``.
``histogram_max_gradient_grey_level`` (``ih_max_grad_g``): its intensity (IBSI: 8E6O)
    Level ``i`` where ``H'`` is maximal (lowest among ties). 1 when ``N_g = 1``.
``histogram_min_gradient`` (``ih_min_grad``): minimum histogram gradient (IBSI: VQB3)
    ``min(H')``. 0 when ``N_g = 1``.
``histogram_min_gradient_grey_level`` (``ih_min_grad_g``): its intensity (IBSI: RHQZ)
    Level ``i`` where ``H'`` is minimal (lowest among ties). 1 when ``N_g = 1``.

References
----------
Zwanenburg A. et al., The Image Biomarker Standardization Initiative, arXiv:1612.07003,
section 3.4 (Intensity histogram features).
"""

from __future__ import annotations

import numpy as np

from voxelomics.errors import EmptyRoiError, InputError
from voxelomics.features.registry import FeatureSpec

__all__ = ["compute", "histogram_gradient", "histogram_mode", "FEATURES"]

_FAMILY = "histogram"


def histogram_gradient(counts: np.ndarray) -> np.ndarray:
    """Histogram gradient ``H'`` (IBSI: 12CE, VQB3 definition).

    Parameters
    ----------
    counts : ndarray of shape (n_g,)
        Histogram ``n_1 … n_{N_g}`` (empty bins included).

    Returns
    -------
    ndarray of shape (n_g,)
        One-sided differences at both ends, central differences inside; all zeros when
        ``n_g == 1``.

    Examples
    --------
    >>> histogram_gradient(np.array([50, 0, 1, 16, 0, 7])).tolist()
    [-50.0, -24.5, 8.0, -0.5, -4.5, 7.0]
    """
    h = np.asarray(counts, dtype=np.float64)
    if h.size < 2:
        return np.zeros_like(h)
    g = np.empty_like(h)
    g[0] = h[1] - h[0]
    g[-1] = h[-1] - h[-2]
    g[1:-1] = (h[2:] - h[:-2]) / 2.0
    return g


def histogram_mode(counts: np.ndarray, mean_level: float) -> int:
    """Intensity histogram mode (IBSI: AMMC).

    Parameters
    ----------
    counts : ndarray of shape (n_g,)
        Histogram ``n_1 … n_{N_g}``.
    mean_level : float
        Mean discretised intensity, used to break ties.

    Returns
    -------
    int
        Grey level with the highest count; among ties, the one closest to
        ``mean_level``, and the lower one when two are equidistant (IBSI).
    """
    h = np.asarray(counts)
    candidates = np.flatnonzero(h == h.max()) + 1
    dist = np.abs(candidates - mean_level)
    return int(candidates[np.flatnonzero(dist == dist.min())[0]])


def _check(levels: np.ndarray, n_levels: int) -> np.ndarray:
    lv = np.asarray(levels).ravel()
    if lv.size == 0:
        raise EmptyRoiError("the intensity histogram needs at least one ROI voxel; the intensity mask is empty")
    if int(n_levels) != n_levels or n_levels < 1:
        raise InputError(f"n_levels must be an integer >= 1, got {n_levels!r}")
    if not np.all(np.isfinite(lv)) or np.any(lv != np.round(lv)):
        raise InputError("grey levels must be integers (discretise the intensities first)")
    lv = lv.astype(np.int64)
    if lv.min() < 1 or lv.max() > n_levels:
        raise InputError(
            f"grey levels must lie in 1 … n_levels = {n_levels}; found {int(lv.min())} … {int(lv.max())}"
        )
    return lv


def _features(lv: np.ndarray, n_levels: int) -> dict[str, float]:
    n_v = lv.size
    counts = np.bincount(lv, minlength=n_levels + 1)[1:]
    p = counts / n_v
    x = lv.astype(np.float64)
    mu = float(x.mean())
    d = x - mu
    d2 = d * d  # products, not d**3 / d**4: numpy evaluates those with pow(), ~100x slower
    var = float(np.mean(d2))
    skew = float(np.mean(d2 * d) / var**1.5) if var > 0 else 0.0
    kurt = float(np.mean(d2 * d2) / var**2 - 3.0) if var > 0 else 0.0
    p10, p25, med, p75, p90 = (float(v) for v in np.percentile(x, [10, 25, 50, 75, 90]))
    sub = x[(x >= p10) & (x <= p90)]
    grad = histogram_gradient(counts)
    nz = p[p > 0]
    return {
        "mean": mu,
        "variance": var,
        "skewness": skew,
        "kurtosis": kurt,
        "median": med,
        "minimum": float(x.min()),
        "p10": p10,
        "p90": p90,
        "maximum": float(x.max()),
        "mode": float(histogram_mode(counts, mu)),
        "interquartile_range": p75 - p25,
        "range": float(x.max() - x.min()),
        "mean_absolute_deviation": float(np.mean(np.abs(d))),
        "robust_mean_absolute_deviation": (
            float(np.mean(np.abs(sub - sub.mean()))) if sub.size else float("nan")
        ),
        "median_absolute_deviation": float(np.mean(np.abs(x - med))),
        "coefficient_of_variation": float(np.sqrt(var) / mu),
        "quartile_coefficient_of_dispersion": float((p75 - p25) / (p75 + p25)),
        "entropy": float(-np.sum(nz * np.log2(nz))),
        "uniformity": float(np.sum(p**2)),
        "max_gradient": float(grad.max()),
        "max_gradient_grey_level": float(np.argmax(grad) + 1),
        "min_gradient": float(grad.min()),
        "min_gradient_grey_level": float(np.argmin(grad) + 1),
    }


# (feature, IBSI id, IBSI tag, title)
_TABLE: tuple[tuple[str, str, str, str], ...] = (
    ("mean", "X6K6", "ih_mean", "Mean discretised intensity"),
    ("variance", "CH89", "ih_var", "Discretised intensity variance"),
    ("skewness", "88K1", "ih_skew", "Discretised intensity skewness"),
    ("kurtosis", "C3I7", "ih_kurt", "(Excess) discretised intensity kurtosis"),
    ("median", "WIFQ", "ih_median", "Median discretised intensity"),
    ("minimum", "1PR8", "ih_min", "Minimum discretised intensity"),
    ("p10", "GPMT", "ih_p10", "10th discretised intensity percentile"),
    ("p90", "OZ0C", "ih_p90", "90th discretised intensity percentile"),
    ("maximum", "3NCY", "ih_max", "Maximum discretised intensity"),
    ("mode", "AMMC", "ih_mode", "Intensity histogram mode"),
    ("interquartile_range", "WR0O", "ih_iqr", "Discretised intensity interquartile range"),
    ("range", "5Z3W", "ih_range", "Discretised intensity range"),
    ("mean_absolute_deviation", "D2ZX", "ih_mad", "Intensity histogram mean absolute deviation"),
    ("robust_mean_absolute_deviation", "WRZB", "ih_rmad", "Intensity histogram robust mean absolute deviation"),
    ("median_absolute_deviation", "4RNL", "ih_medad", "Intensity histogram median absolute deviation"),
    ("coefficient_of_variation", "CWYJ", "ih_cov", "Intensity histogram coefficient of variation"),
    ("quartile_coefficient_of_dispersion", "SLWD", "ih_qcod",
     "Intensity histogram quartile coefficient of dispersion"),
    ("entropy", "TLU2", "ih_entropy", "Discretised intensity entropy"),
    ("uniformity", "BJ5W", "ih_uniformity", "Discretised intensity uniformity"),
    ("max_gradient", "12CE", "ih_max_grad", "Maximum histogram gradient"),
    ("max_gradient_grey_level", "8E6O", "ih_max_grad_g", "Maximum histogram gradient intensity"),
    ("min_gradient", "VQB3", "ih_min_grad", "Minimum histogram gradient"),
    ("min_gradient_grey_level", "RHQZ", "ih_min_grad_g", "Minimum histogram gradient intensity"),
)

#: The 23 intensity histogram features.
FEATURES: tuple[FeatureSpec, ...] = tuple(
    FeatureSpec(name=f"{_FAMILY}_{key}", family=_FAMILY, ibsi_id=fid, ibsi_tag=tag, title=title)
    for key, fid, tag, title in _TABLE
)


def compute(levels: np.ndarray, n_levels: int) -> dict[str, float]:
    """Compute the 23 intensity histogram features (IBSI: ZVCW).

    Parameters
    ----------
    levels : ndarray of int, shape (n,)
        Discretised grey levels of the voxels in the ROI intensity mask, ``1 … n_levels``;
        e.g. ``levels[intensity_mask]`` from :func:`voxelomics.preprocess.discretise`.
    n_levels : int
        Number of grey levels ``N_g`` (histogram bins ``1 … N_g``, empty ones kept).

    Returns
    -------
    dict of str to float
        Readable names (``histogram_mean``, ...; see :data:`FEATURES`) to values, in
        grey-level units; entropy in bits. Skewness and kurtosis are 0 for a single grey
        level, the gradients are 0 when ``n_levels == 1``, and the robust mean absolute
        deviation is NaN for two voxels of different levels.

    Raises
    ------
    EmptyRoiError
        ``levels`` is empty.
    InputError
        Non-integer grey levels, or levels outside ``1 … n_levels``.

    Examples
    --------
    >>> out = compute(np.array([1, 1, 2, 4]), 4)
    >>> out["histogram_mode"], out["histogram_uniformity"], out["histogram_max_gradient"]
    (1.0, 0.375, 1.0)

    References
    ----------
    Zwanenburg A. et al., arXiv:1612.07003, section 3.4.
    """
    lv = _check(levels, n_levels)
    return {f"{_FAMILY}_{k}": v for k, v in _features(lv, int(n_levels)).items()}
