"""Intensity-based statistical features (IBSI 3.3, family UHIW).

Notation: ``X_gl`` is the set of the ``N_v`` intensities in the ROI intensity mask, in
image units (HU for CT, SUV for PET); ``mu`` is their mean and ``sigma`` their standard
deviation without bias correction. Features are computed on the whole 3D ROI (IBSI
aggregation DHQ4); no discretisation is needed.

Percentiles ``P_q`` use linear interpolation between order statistics (Hyndman and Fan
type 7, :func:`numpy.percentile` default). The manual notes that other valid definitions
give ``P90 = 4.2`` on the digital phantom; this one gives the reference value 4.

Undefined cases: skewness and kurtosis are 0 when the variance is 0 (IBSI); the
coefficient of variation is NaN when ``mu = 0`` and the quartile coefficient of
dispersion is NaN when ``P75 + P25 = 0`` (division by zero); the robust mean absolute
deviation is NaN when no intensity lies in ``[P10, P90]`` (only for two distinct values).

Features (readable key, IBSI tag, identifier; definition; undefined case), with ``M`` the
median and ``P_q`` the q-th percentile of ``X_gl``:

``statistics_mean`` (``stat_mean``): mean intensity (IBSI: Q4LE)
    ``mu = sum(X_gl) / N_v``. Always defined.
``statistics_variance`` (``stat_var``): intensity variance (IBSI: ECT3)
    ``sum((X_gl - mu)^2) / N_v``, no bias correction. Always defined.
``statistics_skewness`` (``stat_skew``): intensity skewness (IBSI: KE2A)
    ``m3 / m2^(3/2)`` with central moments ``m_k``. 0 when the variance is 0 (IBSI).
``statistics_kurtosis`` (``stat_kurt``): (excess) intensity kurtosis (IBSI: IPH6)
    ``m4 / m2^2 - 3``. 0 when the variance is 0 (IBSI).
``statistics_median`` (``stat_median``): median intensity (IBSI: Y12H)
    Sample median ``M`` of ``X_gl``. Always defined.
``statistics_minimum`` (``stat_min``): minimum intensity (IBSI: 1GSF)
    ``min(X_gl)``. Always defined.
``statistics_p10`` (``stat_p10``): 10th intensity percentile (IBSI: QG58)
    ``P_10``, linear interpolation. Always defined.
``statistics_p90`` (``stat_p90``): 90th intensity percentile (IBSI: 8DWT)
    ``P_90``, linear interpolation. Always defined.
``statistics_maximum`` (``stat_max``): maximum intensity (IBSI: 84IY)
    ``max(X_gl)``. Always defined.
``statistics_interquartile_range`` (``stat_iqr``): intensity interquartile range (IBSI: SALO)
    ``P_75 - P_25``. Always defined.
``statistics_range`` (``stat_range``): intensity range (IBSI: 2OJQ)
    ``max(X_gl) - min(X_gl)``. Always defined.
``statistics_mean_absolute_deviation`` (``stat_mad``): mean absolute deviation (IBSI: 4FUA)
    ``sum(|X_gl - mu|) / N_v``. Always defined.
``statistics_robust_mean_absolute_deviation`` (``stat_rmad``): robust MAD (IBSI: 1128)
    Mean absolute deviation from their own mean of the intensities in ``[P_10, P_90]``.
    NaN when that set is empty (two distinct intensities only).
``statistics_median_absolute_deviation`` (``stat_medad``): median absolute deviation (IBSI: N72L)
    ``sum(|X_gl - M|) / N_v``: mean distance to the median. Always defined.
``statistics_coefficient_of_variation`` (``stat_cov``): coefficient of variation (IBSI: 7TET)
    ``sigma / mu``. NaN when ``mu = 0``.
``statistics_quartile_coefficient_of_dispersion`` (``stat_qcod``): QCOD (IBSI: 9S40)
    ``(P_75 - P_25) / (P_75 + P_25)``. NaN when ``P_75 + P_25 = 0``.
``statistics_energy`` (``stat_energy``): intensity-based energy (IBSI: N8CA)
    ``sum(X_gl^2)``, image units squared. Always defined.
``statistics_root_mean_square`` (``stat_rms``): root mean square intensity (IBSI: 5ZWQ)
    ``sqrt(sum(X_gl^2) / N_v)``. Always defined.

References
----------
Zwanenburg A. et al., The Image Biomarker Standardization Initiative, arXiv:1612.07003,
section 3.3 (Intensity-based statistical features).
"""

from __future__ import annotations

import numpy as np

from voxelomics.errors import EmptyRoiError, InputError
from voxelomics.features.registry import FeatureSpec

__all__ = ["compute", "FEATURES"]

_FAMILY = "statistics"


def _check(values: np.ndarray) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise EmptyRoiError("intensity statistics need at least one ROI voxel; the intensity mask is empty")
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if bad:
        raise InputError(f"the ROI holds {bad} non-finite intensities (NaN or inf); expected finite values")
    return x


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den != 0 else float("nan")


def mean(x: np.ndarray) -> float:
    """Mean intensity (IBSI: Q4LE).

    Parameters
    ----------
    x : ndarray of shape (n,)
        ROI intensities, image units.

    Returns
    -------
    float
        ``mean(X_gl)``, image units.
    """
    return float(x.mean())


def variance(x: np.ndarray) -> float:
    """Intensity variance, without bias correction (IBSI: ECT3).

    Parameters
    ----------
    x : ndarray of shape (n,)
        ROI intensities, image units.

    Returns
    -------
    float
        ``mean((X_gl - mu)^2)``, image units squared.
    """
    return float(np.mean((x - x.mean()) ** 2))


def _central_moment_ratio(x: np.ndarray, k: int) -> float:
    d = x - x.mean()
    d2 = d * d
    m2 = float(np.mean(d2))
    if m2 == 0.0:
        return 0.0
    # products, not d**k: numpy evaluates integer powers other than 2 with pow(), ~100x slower
    dk = d2 * d if k == 3 else d2 * d2 if k == 4 else d**k
    return float(np.mean(dk) / m2 ** (k / 2))


def skewness(x: np.ndarray) -> float:
    """Intensity skewness (IBSI: KE2A).

    Parameters
    ----------
    x : ndarray of shape (n,)
        ROI intensities, image units.

    Returns
    -------
    float
        ``m3 / m2^(3/2)`` with central moments ``m_k``; 0 when the variance is 0 (IBSI).
    """
    return _central_moment_ratio(x, 3)


def kurtosis(x: np.ndarray) -> float:
    """(Excess) intensity kurtosis (IBSI: IPH6).

    Parameters
    ----------
    x : ndarray of shape (n,)
        ROI intensities, image units.

    Returns
    -------
    float
        ``m4 / m2^2 - 3``; 0 when the variance is 0 (IBSI).
    """
    d = x - x.mean()
    if float(np.mean(d**2)) == 0.0:
        return 0.0
    return _central_moment_ratio(x, 4) - 3.0


def percentile(x: np.ndarray, q: float) -> float:
    """q-th intensity percentile, linear interpolation (IBSI: QG58 for q = 10, 8DWT for q = 90).

    Parameters
    ----------
    x : ndarray of shape (n,)
        ROI intensities, image units.
    q : float
        Percentile in [0, 100].

    Returns
    -------
    float
        Image units.
    """
    return float(np.percentile(x, q))


def robust_mean_absolute_deviation(x: np.ndarray) -> float:
    """Intensity-based robust mean absolute deviation (IBSI: 1128).

    Parameters
    ----------
    x : ndarray of shape (n,)
        ROI intensities, image units.

    Returns
    -------
    float
        Mean absolute deviation from their mean of the intensities within
        ``[P10, P90]``, image units. NaN when no intensity lies in that interval, which
        happens only for two distinct intensities (with three or more voxels, an order
        statistic always lies between the interpolated P10 and P90).
    """
    p10, p90 = np.percentile(x, [10, 90])
    return _robust_mad(x, p10, p90)


def _robust_mad(x: np.ndarray, p10: float, p90: float) -> float:
    sub = x[(x >= p10) & (x <= p90)]
    if sub.size == 0:
        return float("nan")
    return float(np.mean(np.abs(sub - sub.mean())))


def _features(x: np.ndarray) -> dict[str, float]:
    mu = mean(x)
    var = variance(x)
    p10, p25, med, p75, p90 = (float(v) for v in np.percentile(x, [10, 25, 50, 75, 90]))
    energy = float(np.sum(x**2))
    return {
        "mean": mu,
        "variance": var,
        "skewness": skewness(x),
        "kurtosis": kurtosis(x),
        "median": med,
        "minimum": float(x.min()),
        "p10": p10,
        "p90": p90,
        "maximum": float(x.max()),
        "interquartile_range": p75 - p25,
        "range": float(x.max() - x.min()),
        "mean_absolute_deviation": float(np.mean(np.abs(x - mu))),
        "robust_mean_absolute_deviation": _robust_mad(x, p10, p90),
        "median_absolute_deviation": float(np.mean(np.abs(x - med))),
        "coefficient_of_variation": _ratio(np.sqrt(var), mu),
        "quartile_coefficient_of_dispersion": _ratio(p75 - p25, p75 + p25),
        "energy": energy,
        "root_mean_square": float(np.sqrt(energy / x.size)),
    }


# (feature, IBSI id, IBSI tag, title, unit)
_TABLE: tuple[tuple[str, str, str, str, str], ...] = (
    ("mean", "Q4LE", "stat_mean", "Mean intensity", "image units"),
    ("variance", "ECT3", "stat_var", "Intensity variance", "image units^2"),
    ("skewness", "KE2A", "stat_skew", "Intensity skewness", ""),
    ("kurtosis", "IPH6", "stat_kurt", "(Excess) intensity kurtosis", ""),
    ("median", "Y12H", "stat_median", "Median intensity", "image units"),
    ("minimum", "1GSF", "stat_min", "Minimum intensity", "image units"),
    ("p10", "QG58", "stat_p10", "10th intensity percentile", "image units"),
    ("p90", "8DWT", "stat_p90", "90th intensity percentile", "image units"),
    ("maximum", "84IY", "stat_max", "Maximum intensity", "image units"),
    ("interquartile_range", "SALO", "stat_iqr", "Intensity interquartile range", "image units"),
    ("range", "2OJQ", "stat_range", "Intensity range", "image units"),
    ("mean_absolute_deviation", "4FUA", "stat_mad", "Intensity-based mean absolute deviation", "image units"),
    ("robust_mean_absolute_deviation", "1128", "stat_rmad",
     "Intensity-based robust mean absolute deviation", "image units"),
    ("median_absolute_deviation", "N72L", "stat_medad", "Intensity-based median absolute deviation", "image units"),
    ("coefficient_of_variation", "7TET", "stat_cov", "Intensity-based coefficient of variation", ""),
    ("quartile_coefficient_of_dispersion", "9S40", "stat_qcod",
     "Intensity-based quartile coefficient of dispersion", ""),
    ("energy", "N8CA", "stat_energy", "Intensity-based energy", "image units^2"),
    ("root_mean_square", "5ZWQ", "stat_rms", "Root mean square intensity", "image units"),
)

#: The 18 intensity-based statistical features.
FEATURES: tuple[FeatureSpec, ...] = tuple(
    FeatureSpec(name=f"{_FAMILY}_{key}", family=_FAMILY, ibsi_id=fid, ibsi_tag=tag, title=title, unit=unit)
    for key, fid, tag, title, unit in _TABLE
)


def compute(values: np.ndarray) -> dict[str, float]:
    """Compute the 18 intensity-based statistical features (IBSI: UHIW).

    Parameters
    ----------
    values : ndarray of shape (n,)
        Intensities of the voxels in the ROI intensity mask, in image units (HU, SUV);
        e.g. ``image[intensity_mask]`` with ``image`` in (z, y, x).

    Returns
    -------
    dict of str to float
        Readable names (``statistics_mean``, ...; see :data:`FEATURES`) to values. Units:
        image units (variance and energy squared), ratios dimensionless. Skewness and
        kurtosis are 0 for a constant ROI; the coefficient of variation (``mu = 0``) and
        the quartile coefficient of dispersion (``P75 + P25 = 0``) are NaN where their
        denominators vanish; the robust mean absolute deviation is NaN for two distinct
        intensities (empty ``[P10, P90]`` set).

    Raises
    ------
    EmptyRoiError
        ``values`` is empty.
    InputError
        ``values`` holds NaN or infinite intensities.

    Examples
    --------
    >>> out = compute(np.array([1.0, 2.0, 3.0, 4.0]))
    >>> out["statistics_mean"], out["statistics_variance"], out["statistics_energy"]
    (2.5, 1.25, 30.0)

    References
    ----------
    Zwanenburg A. et al., arXiv:1612.07003, section 3.3.
    """
    x = _check(values)
    feats = _features(x)
    return {f"{_FAMILY}_{k}": v for k, v in feats.items()}

