"""Intensity-volume histogram features (IBSI 3.5, family P88C).

The IVH relates a discretised intensity ``i`` to the fraction ``nu_i`` of the ROI volume
(intensity mask) with intensity at least ``i``. Three cases fix the discretised
intensities ``X_{d,gl}``, the total range ``G`` and the interval ``w_d`` (IBSI 3.5):

* ``method="none"``: discrete calibrated intensities (CT in HU). ``X_{d,gl} = X_gl``,
  ``w_d = 1``; ``G`` is the re-segmentation range, its missing upper (lower) end replaced
  by the ROI maximum (minimum); without a range ``G = [min X_gl, max X_gl]``.
* ``method="fbs"``: continuous calibrated intensities (PET, or CT as in configuration C).
  Fixed bin size ``w_b`` from ``X_min`` (``lower_bound``, else ``range_min``, else the ROI
  minimum) up to ``X_max`` (``range_max``, else the ROI maximum); bins are replaced by
  their centres ``X_min + (X_d - 0.5) w_b``, ``G = [X_min + w_b/2, X_max - w_b/2]`` and
  ``w_d = w_b``.
* ``method="fbn"``: arbitrary units. Fixed bin number ``N_g`` over the ROI range (the
  re-segmentation range is not used); ``X_{d,gl} = X_d``, ``G = [1, N_g]``, ``w_d = 1``.

Then, on the grid ``i = min G, min G + w_d, …, max G``:

.. math::

    \\nu_i = 1 - \\frac{1}{N_v}\\sum_k [X_{d,gl,k} < i], \\qquad
    \\gamma_i = \\frac{i - \\min G}{\\max G - \\min G}.

``V_x`` is the largest ``nu`` with ``gamma >= x`` and ``I_x`` the smallest ``i`` with
``nu_i <= x``. If no grid intensity has ``nu_i <= x`` (the top intensity holds more than
``x`` of the volume), ``I_x`` is the next intensity above the grid, ``max G + w_d``, where
``nu = 0``. When ``G`` is a single point (a constant ROI without range), ``gamma`` is
undefined (0/0): the V features are NaN and the AUC is 0 (IBSI).

Fractions ``gamma`` are compared with ``x`` up to 1e-12 so that exact ties (e.g.
``gamma = 90/900``) count as reached, as in exact arithmetic.

Features (readable key, IBSI tag, identifier; definition; undefined case). IBSI defines
the generic features "volume at intensity fraction" (BC2M), "intensity at volume fraction"
(GBPN), "volume fraction difference between intensity fractions" (DDTU) and "intensity
fraction difference between volume fractions" (CNV2), and gives each reported instance
its own identifier; the registry uses the instance identifier, as the IBSI-1 table does:

``ivh_v10`` (``ivh_v10``): volume fraction at 10% intensity, V10 (IBSI: NK6P)
    Instance of BC2M: largest ``nu`` with ``gamma >= 0.10``. NaN for a one-point ``G``.
``ivh_v90`` (``ivh_v90``): volume fraction at 90% intensity, V90 (IBSI: 4279)
    Instance of BC2M: largest ``nu`` with ``gamma >= 0.90``. NaN for a one-point ``G``.
``ivh_i10`` (``ivh_i10``): intensity at 10% volume, I10 (IBSI: PWN1)
    Instance of GBPN: smallest ``i`` with ``nu_i <= 0.10``. Always defined.
``ivh_i90`` (``ivh_i90``): intensity at 90% volume, I90 (IBSI: BOHI)
    Instance of GBPN: smallest ``i`` with ``nu_i <= 0.90``. Always defined.
``ivh_diff_v10_v90`` (``ivh_diff_v10_v90``): volume fraction difference V10 - V90 (IBSI: WITY)
    Instance of DDTU: ``V10 - V90``. NaN when V10 and V90 are (one-point ``G``).
``ivh_diff_i10_i90`` (``ivh_diff_i10_i90``): intensity difference I10 - I90 (IBSI: JXJA)
    Instance of CNV2: ``I10 - I90``. Always defined.
``ivh_auc`` (``ivh_auc``): area under the IVH curve (IBSI: 9CMM)
    Trapezoidal integral of ``nu`` over ``gamma``. 0 for a single grid intensity (IBSI);
    no IBSI reference value (``ibsi_compliant=False``).

References
----------
Zwanenburg A. et al., The Image Biomarker Standardization Initiative, arXiv:1612.07003,
section 3.5 (Intensity-volume histogram features); El Naqa I. et al., Pattern Recognit.
2009;42:1162.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxelomics.errors import EmptyRoiError, InputError, SettingsError
from voxelomics.features.registry import FeatureSpec
from voxelomics.preprocess.discretise import discretise_values

__all__ = ["compute", "intensity_volume_histogram", "IntensityVolumeHistogram", "FEATURES", "grid_size"]

_FAMILY = "ivh"
_TIE = 1e-12


@dataclass(frozen=True)
class IntensityVolumeHistogram:
    """The IVH evaluated on the grid of discretised intensities.

    Attributes
    ----------
    intensity : ndarray of shape (n,)
        Discretised intensities ``i`` (image units for "none"/"fbs", bin index for "fbn").
    gamma : ndarray of shape (n,)
        Intensity fractions ``(i - min G) / (max G - min G)``; NaN when ``G`` is one point.
    nu : ndarray of shape (n,)
        Volume fractions with intensity ``>= i``.
    step : float
        Discretisation interval ``w_d``.
    """

    intensity: np.ndarray
    gamma: np.ndarray
    nu: np.ndarray
    step: float


def grid_size(
    values: np.ndarray,
    *,
    method: str = "none",
    n_bins: int | None = None,
    bin_width: float | None = None,
    lower_bound: float | None = None,
    range_min: float | None = None,
    range_max: float | None = None,
) -> int:
    """Number of grid intensities the IVH will have, without building it (memory pre-flight).

    Parameters are those of :func:`compute`; ``values`` must be finite.

    Returns
    -------
    int
        The length of :attr:`IntensityVolumeHistogram.intensity` that
        :func:`intensity_volume_histogram` would return (0 for an empty ROI or an unknown
        method, which it refuses).
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        return 0
    if method == "fbn":
        return int(n_bins or 0)
    if method == "fbs":
        x_min = lower_bound if lower_bound is not None else range_min
        x_min = float(x.min()) if x_min is None else float(x_min)
        x_max = float(x.max()) if range_max is None else float(range_max)
        return max(1, int(np.floor((x_max - x_min) / float(bin_width) + 1e-9)))
    if method == "none":
        g_min = float(x.min()) if range_min is None else float(range_min)
        g_max = float(x.max()) if range_max is None else float(range_max)
        return int(np.floor(g_max - g_min + 1e-9)) + 1
    return 0


def intensity_volume_histogram(
    values: np.ndarray,
    *,
    method: str = "none",
    n_bins: int | None = None,
    bin_width: float | None = None,
    lower_bound: float | None = None,
    range_min: float | None = None,
    range_max: float | None = None,
) -> IntensityVolumeHistogram:
    """Build the intensity-volume histogram (IBSI: P88C).

    Parameters are those of :func:`compute`.

    Returns
    -------
    IntensityVolumeHistogram

    Raises
    ------
    EmptyRoiError
        ``values`` is empty.
    InputError
        ``values`` holds NaN or infinite intensities.
    SettingsError
        Unknown method, missing ``n_bins``/``bin_width``, ``"none"`` on non-integer
        intensities, or intensities below the FBS lower bound.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise EmptyRoiError("the intensity-volume histogram needs at least one ROI voxel; the intensity mask is empty")
    if not np.all(np.isfinite(x)):
        raise InputError(f"the ROI holds {int(np.sum(~np.isfinite(x)))} non-finite intensities; expected finite values")
    if range_min is not None and range_max is not None and range_min > range_max:
        raise SettingsError(f"range_min ({range_min}) must not exceed range_max ({range_max})")

    if method == "none":
        if n_bins is not None or bin_width is not None or lower_bound is not None:
            raise SettingsError("IVH method 'none' takes no n_bins, bin_width or lower_bound")
        if np.any(x != np.round(x)):
            raise SettingsError(
                "IVH method 'none' needs discrete (integer) intensities, e.g. CT in HU; found "
                "non-integer values. Use method 'fbs' (calibrated, continuous) or 'fbn' (arbitrary units)"
            )
        g_min = float(x.min()) if range_min is None else float(range_min)
        g_max = float(x.max()) if range_max is None else float(range_max)
        # grid i = g_min + j, j = 0 .. floor(g_max - g_min)
        n_grid = int(np.floor(g_max - g_min + 1e-9)) + 1
        grid = g_min + np.arange(n_grid, dtype=np.float64)
        compare_grid, compare_data, step = grid, x, 1.0
    elif method == "fbs":
        x_min = lower_bound if lower_bound is not None else range_min
        x_min = float(x.min()) if x_min is None else float(x_min)
        x_max = float(x.max()) if range_max is None else float(range_max)
        levels, _ = discretise_values(x, method="fbs", bin_width=bin_width, lower_bound=x_min)
        w = float(bin_width)
        g_min, g_max = x_min + 0.5 * w, x_max - 0.5 * w
        k_top = max(1, int(np.floor((x_max - x_min) / w + 1e-9)))
        k = np.arange(1, k_top + 1)
        grid = x_min + (k - 0.5) * w
        compare_grid, compare_data, step = k.astype(np.float64), levels.astype(np.float64), w
    elif method == "fbn":
        levels, n_g = discretise_values(x, method="fbn", n_bins=n_bins)
        g_min, g_max = 1.0, float(n_g)
        grid = np.arange(1, n_g + 1, dtype=np.float64)
        compare_grid, compare_data, step = grid, levels.astype(np.float64), 1.0
    else:
        raise SettingsError(f"unknown IVH discretisation method {method!r} (valid: none, fbs, fbn)")

    sorted_data = np.sort(compare_data)
    below = np.searchsorted(sorted_data, compare_grid, side="left")
    nu = 1.0 - below / sorted_data.size
    span = g_max - g_min
    gamma = (grid - g_min) / span if span > 0 else np.full(grid.shape, np.nan)
    return IntensityVolumeHistogram(grid, gamma, nu, step)


def volume_at_intensity_fraction(h: IntensityVolumeHistogram, fraction: float) -> float:
    """Volume fraction at an intensity fraction, V_x (IBSI: BC2M; V10 NK6P, V90 4279).

    Parameters
    ----------
    h : IntensityVolumeHistogram
    fraction : float
        Intensity fraction ``x`` in [0, 1].

    Returns
    -------
    float
        Largest ``nu`` with ``gamma >= x``; NaN when ``gamma`` is undefined (one-point range).
    """
    ok = h.gamma >= fraction - _TIE
    if not np.any(ok):
        return float("nan")
    return float(np.max(h.nu[ok]))


def intensity_at_volume_fraction(h: IntensityVolumeHistogram, fraction: float) -> float:
    """Intensity at a volume fraction, I_x (IBSI: GBPN; I10 PWN1, I90 BOHI).

    Parameters
    ----------
    h : IntensityVolumeHistogram
    fraction : float
        Volume fraction ``x`` in [0, 1].

    Returns
    -------
    float
        Smallest grid intensity ``i`` with ``nu_i <= x`` (image units, or bin index for
        FBN); ``max G + w_d`` when no grid intensity qualifies.
    """
    ok = np.flatnonzero(h.nu <= fraction + _TIE)
    if ok.size == 0:
        return float(h.intensity[-1] + h.step)
    return float(h.intensity[ok[0]])


def area_under_curve(h: IntensityVolumeHistogram) -> float:
    """Area under the IVH curve, trapezoidal rule over gamma (IBSI: 9CMM).

    Parameters
    ----------
    h : IntensityVolumeHistogram

    Returns
    -------
    float
        Area under ``nu(gamma)``; 0 when the grid has one intensity (IBSI).
    """
    if h.gamma.size < 2 or not np.all(np.isfinite(h.gamma)):
        return 0.0
    return float(np.sum(np.diff(h.gamma) * (h.nu[1:] + h.nu[:-1]) / 2.0))


# (feature, IBSI id (instance id where IBSI gives one), IBSI tag, title, unit, compliant)
_TABLE: tuple[tuple[str, str, str, str, str, bool], ...] = (
    ("v10", "NK6P", "ivh_v10", "Volume fraction at 10% intensity", "", True),
    ("v90", "4279", "ivh_v90", "Volume fraction at 90% intensity", "", True),
    ("i10", "PWN1", "ivh_i10", "Intensity at 10% volume", "image units or grey level", True),
    ("i90", "BOHI", "ivh_i90", "Intensity at 90% volume", "image units or grey level", True),
    ("diff_v10_v90", "WITY", "ivh_diff_v10_v90", "Volume fraction difference between 10% and 90% intensity", "", True),
    ("diff_i10_i90", "JXJA", "ivh_diff_i10_i90", "Intensity difference between 10% and 90% volume",
     "image units or grey level", True),
    ("auc", "9CMM", "ivh_auc", "Area under the IVH curve", "", False),
)

#: The IVH features; ``ibsi_id`` is the IBSI instance identifier where one exists
#: (V10, V90, I10, I90 and the differences), and the AUC has no IBSI reference value.
FEATURES: tuple[FeatureSpec, ...] = tuple(
    FeatureSpec(name=f"{_FAMILY}_{key}", family=_FAMILY, ibsi_id=fid, ibsi_tag=tag, title=title,
                unit=unit, ibsi_compliant=ok)
    for key, fid, tag, title, unit, ok in _TABLE
)


def compute(
    values: np.ndarray,
    *,
    method: str = "none",
    n_bins: int | None = None,
    bin_width: float | None = None,
    lower_bound: float | None = None,
    range_min: float | None = None,
    range_max: float | None = None,
) -> dict[str, float]:
    """Compute the intensity-volume histogram features (IBSI: P88C).

    Parameters
    ----------
    values : ndarray of shape (n,)
        Intensities of the voxels in the ROI intensity mask, in image units (HU, SUV);
        e.g. ``image[intensity_mask]`` with ``image`` in (z, y, x). Not discretised.
    method : {"none", "fbs", "fbn"}, default="none"
        IVH discretisation: none (discrete calibrated, e.g. HU), fixed bin size
        (continuous calibrated) or fixed bin number (arbitrary units, IBSI suggests 1000).
    n_bins : int or None, default=None
        Number of bins for ``"fbn"``.
    bin_width : float or None, default=None
        Bin width ``w_b`` in image units for ``"fbs"``.
    lower_bound : float or None, default=None
        ``X_min`` for ``"fbs"``; ``None``: ``range_min``, else the ROI minimum.
    range_min, range_max : float or None, default=None
        Re-segmentation range in image units, defining ``G`` for ``"none"`` and
        ``"fbs"``; ignored for ``"fbn"`` (IBSI).

    Returns
    -------
    dict of str to float
        ``ivh_v10``, ``ivh_v90`` (volume fractions in [0, 1]), ``ivh_i10``, ``ivh_i90``
        (image units, or bin index for FBN), ``ivh_diff_v10_v90``, ``ivh_diff_i10_i90``
        and ``ivh_auc`` (no IBSI reference). V features are NaN for a one-point range
        ``G`` (``gamma`` is 0/0); the AUC is then 0.

    Raises
    ------
    EmptyRoiError
        ``values`` is empty.
    InputError
        ``values`` holds NaN or infinite intensities.
    SettingsError
        Unknown method, missing or superfluous parameters, ``"none"`` with non-integer
        intensities, or intensities below the FBS lower bound.

    Examples
    --------
    Digital-phantom-like grey levels 1 … 6 (IBSI table of the IVH):

    >>> x = np.repeat([1, 3, 4, 6], [50, 1, 16, 7]).astype(float)
    >>> out = compute(x)
    >>> round(out["ivh_v10"], 3), out["ivh_i10"], out["ivh_i90"]
    (0.324, 5.0, 2.0)

    References
    ----------
    Zwanenburg A. et al., arXiv:1612.07003, section 3.5.
    """
    if method == "fbn" and (bin_width is not None or lower_bound is not None):
        raise SettingsError("IVH method 'fbn' takes no bin_width or lower_bound")
    if method == "fbs" and n_bins is not None:
        raise SettingsError("IVH method 'fbs' takes no n_bins")
    h = intensity_volume_histogram(
        values, method=method, n_bins=n_bins, bin_width=bin_width, lower_bound=lower_bound,
        range_min=range_min, range_max=range_max,
    )
    v10 = volume_at_intensity_fraction(h, 0.10)
    v90 = volume_at_intensity_fraction(h, 0.90)
    i10 = intensity_at_volume_fraction(h, 0.10)
    i90 = intensity_at_volume_fraction(h, 0.90)
    return {
        "ivh_v10": v10,
        "ivh_v90": v90,
        "ivh_i10": i10,
        "ivh_i90": i90,
        "ivh_diff_v10_v90": v10 - v90,
        "ivh_diff_i10_i90": i10 - i90,
        "ivh_auc": area_under_curve(h),
    }
