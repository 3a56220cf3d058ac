r"""Neighbourhood grey tone difference matrix (NGTDM) features (IBSI family IPET, manual 3.10).

For every voxel :math:`k` of the intensity mask, :math:`\overline{X}_k` is the mean grey level
of its neighbours at Chebyshev distance :math:`\le \delta` that lie in the ROI, the voxel
itself excluded; :math:`W_k` is their number. IBSI (deviating from Amadasun and King) calls
a neighbourhood *valid* when :math:`W_k > 0`. In 2D the neighbourhood lies within the slice.

Notation (IBSI): :math:`n_i` is the number of voxels of grey level :math:`i` with a valid
neighbourhood, :math:`s_i = \sum_k |i - \overline{X}_k|` over those voxels,
:math:`N_{v,c} = \sum_i n_i`, :math:`p_i = n_i / N_{v,c}` and :math:`N_{g,p}` the number of grey
levels with :math:`p_i > 0`. Sums over pairs :math:`(i_1, i_2)` run over levels with
:math:`p > 0`.

Aggregation (IBSI): ``2d`` (8QNN) computes features per slice and averages them; ``2_5d``
(62GR) sums :math:`s_i` and :math:`n_i` over slices into one NGTDM; ``3d`` (KOBO) uses the
3D neighbourhood.

Undefined cases: an NGTDM without any valid neighbourhood (:math:`N_{v,c} = 0`, e.g. a
one-voxel ROI or a slice of isolated voxels) has no :math:`p_i`; all five features are NaN
for it, and in 2D such slices are left out of the average (NaN only if no slice has one).
Coarseness is capped at :math:`10^6` (IBSI), contrast and busyness are 0 when
:math:`N_{g,p} = 1`, strength is 0 when :math:`\sum_i s_i = 0` (IBSI).

Examples
--------
The 2D example of the IBSI reference manual (3.10): mean neighbour level of the four centre
pixels of a 4×4 image (all 16 pixels in the ROI):

>>> import numpy as np
>>> from voxelomics.features import ngtdm
>>> levels = np.array([[[1, 2, 2, 3], [1, 2, 3, 3], [4, 2, 4, 1], [4, 1, 2, 3]]])
>>> mean, w = ngtdm.ngtdm_neighbourhood(levels, levels > 0, aggregation="2d")
>>> mean[0, 1:3, 1:3] * 8
array([[19., 19.],
       [21., 17.]])

References
----------
Zwanenburg A. et al., The Image Biomarker Standardisation Initiative, arXiv:1612.07003,
section 3.10. Amadasun M., King R., IEEE Trans Syst Man Cybern 1989;19:1264.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from voxelomics.features import _zones as _z
from voxelomics.features._grid import LevelGrid, kernels, level_grid
from voxelomics.features._texture import Aggregation
from voxelomics.features.registry import FeatureSpec

__all__ = [
    "FEATURES",
    "NGTDM",
    "NGTDMStats",
    "COARSENESS_MAX",
    "ngtdm_neighbourhood",
    "ngtdm_matrices",
    "ngtdm_stats",
    "compute",
    "coarseness",
    "contrast",
    "busyness",
    "complexity",
    "strength",
]

FAMILY = "ngtdm"

#: Maximum coarseness, used when :math:`\sum_i p_i s_i` is 0 (IBSI 3.10).
COARSENESS_MAX = 1.0e6


@dataclass(frozen=True)
class NGTDM:
    """One neighbourhood grey tone difference matrix.

    Attributes
    ----------
    s : ndarray of float64, shape (n_levels,)
        :math:`s_i`, row ``i - 1``.
    n : ndarray of float64, shape (n_levels,)
        :math:`n_i`, voxels of level ``i`` with a valid neighbourhood.
    n_voxels : int
        :math:`N_v`, voxels of the intensity mask (summed over slices when merged).
    """

    s: np.ndarray
    n: np.ndarray
    n_voxels: int


@dataclass(frozen=True)
class NGTDMStats:
    """Quantities of a non-empty NGTDM restricted to levels with :math:`p_i > 0`.

    Attributes
    ----------
    i : ndarray of float64, shape (n_gp,)
        Grey levels with :math:`p_i > 0`.
    p : ndarray of float64, shape (n_gp,)
        :math:`p_i`.
    s : ndarray of float64, shape (n_gp,)
        :math:`s_i`.
    n_vc : float
        :math:`N_{v,c}`.
    n_gp : int
        :math:`N_{g,p}`.
    """

    i: np.ndarray
    p: np.ndarray
    s: np.ndarray
    n_vc: float
    n_gp: int


# ------------------------------------------------------------------------------ layer 1
def _sums(grid: LevelGrid, distance: int, two_d: bool) -> tuple[np.ndarray, np.ndarray]:
    """Sum of the ROI neighbours' grey levels and their number, per ROI voxel (compiled)."""
    steps = grid.steps(_z.neighbour_offsets(distance, two_d))
    return kernels().neighbour_sums(grid.flat, grid.roi, steps)


def ngtdm_neighbourhood(
    levels: np.ndarray,
    mask: np.ndarray,
    *,
    aggregation: Aggregation | str,
    distance: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean neighbour grey level :math:`\\overline{X}_k` and neighbourhood size :math:`W_k`.

    Parameters
    ----------
    levels : ndarray of int, shape (z, y, x)
        Discretised grey levels (>= 1 inside ``mask``).
    mask : ndarray of bool, shape (z, y, x)
        Intensity mask; only neighbours inside it count.
    aggregation : {"2d", "2_5d", "3d"} or Aggregation
        In-plane neighbourhood for ``2d``/``2_5d``, 3D otherwise.
    distance : int, default=1
        Chebyshev distance δ (voxels).

    Returns
    -------
    mean : ndarray of float64, shape (z, y, x)
        :math:`\\overline{X}_k`; NaN outside the mask and where :math:`W_k = 0`.
    w : ndarray of int64, shape (z, y, x)
        :math:`W_k`; 0 outside the mask.

    Raises
    ------
    GeometryError, MaskError, EmptyRoiError, SettingsError
        See :func:`compute`.
    """
    (agg,) = _z.check_aggregations([aggregation], FAMILY)
    distance = _z.check_positive_int(distance, "distance", FAMILY)
    levels, mask, _ = _z.check_inputs(levels, mask, None, family=FAMILY)
    grid = level_grid(levels, mask, int(levels.max()), margin=distance)
    total, count = _sums(grid, distance, agg is not Aggregation.ZONE_3D)
    idx = np.flatnonzero(mask)  # the grid's ROI voxels, in the same (C) order
    valid = count > 0
    mean = np.full(levels.shape, np.nan)
    mean.ravel()[idx[valid]] = total[valid] / count[valid]
    w = np.zeros(levels.shape, dtype=np.int64)
    w.ravel()[idx] = count
    return mean, w


def _matrices(grid: LevelGrid, n_levels, distance, agg) -> tuple[NGTDM, ...]:
    total, w = _sums(grid, distance, agg is not Aggregation.ZONE_3D)
    lv = grid.levels()
    valid = w > 0
    diff = np.abs(lv[valid] - total[valid] / w[valid])
    if agg is not Aggregation.ZONE_2D:
        s = np.bincount(lv[valid] - 1, weights=diff, minlength=n_levels)
        n = np.bincount(lv[valid] - 1, minlength=n_levels).astype(np.float64)
        return (NGTDM(s, n, int(lv.size)),)
    n_z = grid.box_shape[0]
    z_all = grid.slice_index()
    flat = z_all[valid] * n_levels + lv[valid] - 1
    s = np.bincount(flat, weights=diff, minlength=n_z * n_levels).reshape(n_z, n_levels)
    n = np.bincount(flat, minlength=n_z * n_levels).reshape(n_z, n_levels).astype(np.float64)
    n_per_slice = np.bincount(z_all, minlength=n_z)
    return tuple(NGTDM(s[z], n[z], int(n_per_slice[z])) for z in np.nonzero(n_per_slice)[0])


def ngtdm_matrices(
    levels: np.ndarray,
    mask: np.ndarray,
    n_levels: int,
    *,
    aggregation: Aggregation | str,
    distance: int = 1,
) -> tuple[NGTDM, ...]:
    """Build the NGTDMs of one aggregation method.

    Parameters
    ----------
    levels : ndarray of int, shape (z, y, x)
        Discretised grey levels, ``1..n_levels`` inside ``mask``.
    mask : ndarray of bool, shape (z, y, x)
        Intensity mask of the ROI.
    n_levels : int
        Number of grey levels :math:`N_g`.
    aggregation : {"2d", "2_5d", "3d"} or Aggregation
        ``2d``: one NGTDM per slice holding ROI voxels (by increasing z); ``2_5d``: the
        per-slice NGTDMs summed; ``3d``: one NGTDM with 3D neighbourhoods.
    distance : int, default=1
        Chebyshev distance δ of the neighbourhood (voxels).

    Returns
    -------
    tuple of NGTDM

    Raises
    ------
    GeometryError, MaskError, EmptyRoiError, SettingsError
        See :func:`compute`.
    """
    (agg,) = _z.check_aggregations([aggregation], FAMILY)
    distance = _z.check_positive_int(distance, "distance", FAMILY)
    levels, mask, _ = _z.check_inputs(levels, mask, n_levels, family=FAMILY)
    return _matrices(level_grid(levels, mask, n_levels, margin=distance), n_levels, distance, agg)


def ngtdm_stats(matrix: NGTDM) -> NGTDMStats | None:
    """Precompute :class:`NGTDMStats`; None when no voxel has a valid neighbourhood.

    Parameters
    ----------
    matrix : NGTDM

    Returns
    -------
    NGTDMStats or None
    """
    n_vc = float(matrix.n.sum())
    if n_vc == 0:
        return None
    present = matrix.n > 0
    i = np.nonzero(present)[0].astype(np.float64) + 1.0
    return NGTDMStats(i, matrix.n[present] / n_vc, matrix.s[present], n_vc, int(present.sum()))


# ------------------------------------------------------------------------------ layer 2
def coarseness(q: NGTDMStats) -> float:
    r"""Coarseness (IBSI: QCDE).

    Parameters
    ----------
    q : NGTDMStats
        Quantities of one non-empty NGTDM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{ngt.coarseness} = 1 / \sum_i p_i s_i`, capped at :math:`10^6`
    (:data:`COARSENESS_MAX`), the value IBSI sets when :math:`\sum_i p_i s_i = 0`
    (a uniform ROI).
    """
    ps = float(np.sum(q.p * q.s))
    return COARSENESS_MAX if ps * COARSENESS_MAX <= 1.0 else 1.0 / ps


def contrast(q: NGTDMStats) -> float:
    r"""Contrast of the NGTDM (IBSI: 65HE).

    Parameters
    ----------
    q : NGTDMStats
        Quantities of one non-empty NGTDM.

    Returns
    -------
    float

    Notes
    -----
    .. math:: F_{ngt.contrast} = \left(\frac{1}{N_{g,p}(N_{g,p}-1)} \sum_{i_1}\sum_{i_2}
       p_{i_1} p_{i_2} (i_1-i_2)^2\right) \left(\frac{1}{N_{v,c}}\sum_i s_i\right)

    0 when :math:`N_{g,p} = 1` (IBSI).
    """
    if q.n_gp == 1:
        return 0.0
    d2 = (q.i[:, None] - q.i[None, :]) ** 2
    dyn = np.sum(q.p[:, None] * q.p[None, :] * d2) / (q.n_gp * (q.n_gp - 1))
    return float(dyn * np.sum(q.s) / q.n_vc)


def busyness(q: NGTDMStats) -> float:
    r"""Busyness (IBSI: NQ30).

    Parameters
    ----------
    q : NGTDMStats
        Quantities of one non-empty NGTDM.

    Returns
    -------
    float

    Notes
    -----
    .. math:: F_{ngt.busyness} = \frac{\sum_i p_i s_i}
       {\sum_{i_1}\sum_{i_2} |i_1 p_{i_1} - i_2 p_{i_2}|}

    (IBSI's corrected form after Hatt et al.). 0 when :math:`N_{g,p} = 1` (IBSI). NaN when
    :math:`N_{g,p} > 1` but every :math:`i\,p_i` is equal (zero denominator; IBSI gives no
    value for this case).
    """
    if q.n_gp == 1:
        return 0.0
    ip = q.i * q.p
    denom = float(np.sum(np.abs(ip[:, None] - ip[None, :])))
    if denom == 0.0:
        return float("nan")
    return float(np.sum(q.p * q.s) / denom)


def complexity(q: NGTDMStats) -> float:
    r"""Complexity (IBSI: HDEZ).

    Parameters
    ----------
    q : NGTDMStats
        Quantities of one non-empty NGTDM.

    Returns
    -------
    float

    Notes
    -----
    .. math:: F_{ngt.complexity} = \frac{1}{N_{v,c}} \sum_{i_1}\sum_{i_2} |i_1 - i_2|
       \frac{p_{i_1} s_{i_1} + p_{i_2} s_{i_2}}{p_{i_1} + p_{i_2}}

    Always defined (0 for a single grey level).
    """
    ps = q.p * q.s
    term = np.abs(q.i[:, None] - q.i[None, :]) * (ps[:, None] + ps[None, :])
    return float(np.sum(term / (q.p[:, None] + q.p[None, :])) / q.n_vc)


def strength(q: NGTDMStats) -> float:
    r"""Strength (IBSI: 1X9X).

    Parameters
    ----------
    q : NGTDMStats
        Quantities of one non-empty NGTDM.

    Returns
    -------
    float

    Notes
    -----
    .. math:: F_{ngt.strength} = \frac{\sum_{i_1}\sum_{i_2} (p_{i_1} + p_{i_2})(i_1-i_2)^2}
       {\sum_i s_i}

    0 when :math:`\sum_i s_i = 0` (IBSI).
    """
    total = float(np.sum(q.s))
    if total == 0.0:
        return 0.0
    num = np.sum((q.p[:, None] + q.p[None, :]) * (q.i[:, None] - q.i[None, :]) ** 2)
    return float(num / total)


def _entry(fn, ibsi_id: str, tag: str, title: str) -> tuple[FeatureSpec, Callable]:
    """Registry entry: readable name ``ngtdm_<function name>``, IBSI tag ``ngt_<tag>``."""
    return FeatureSpec(f"ngtdm_{fn.__name__}", FAMILY, ibsi_id, f"ngt_{tag}", title), fn


_KERNELS = (
    _entry(coarseness, "QCDE", "coarseness", "Coarseness"),
    _entry(contrast, "65HE", "contrast", "Contrast"),
    _entry(busyness, "NQ30", "busyness", "Busyness"),
    _entry(complexity, "HDEZ", "complexity", "Complexity"),
    _entry(strength, "1X9X", "strength", "Strength"),
)

#: The 5 NGTDM features, in IBSI order.
FEATURES: tuple[FeatureSpec, ...] = tuple(spec for spec, _ in _KERNELS)


# ------------------------------------------------------------------------------ layer 3
def compute(
    levels: np.ndarray,
    mask: np.ndarray,
    n_levels: int,
    *,
    aggregations: Sequence[Aggregation | str] = (Aggregation.ZONE_3D,),
    distance: int = 1,
) -> dict[str, float]:
    """Compute every NGTDM feature for the requested aggregation methods.

    Parameters
    ----------
    levels : ndarray of int, shape (z, y, x)
        Discretised grey levels, ``1..n_levels`` inside ``mask``; values outside are ignored.
    mask : ndarray of bool, shape (z, y, x)
        Intensity mask of the ROI.
    n_levels : int
        Number of grey levels of the discretisation.
    aggregations : sequence of {"2d", "2_5d", "3d"} or Aggregation, default=("3d",)
        IBSI 8QNN, 62GR, KOBO.
    distance : int, default=1
        Chebyshev distance δ of the neighbourhood (voxels); the default of
        ``TextureSettings.ngtdm_distance``.

    Returns
    -------
    dict of str to float
        ``ngtdm_<feature>_<aggregation>`` (e.g. ``ngtdm_coarseness_3d``) → value; NaN only
        in the documented undefined cases (module docstring).

    Raises
    ------
    GeometryError
        If ``levels`` or ``mask`` is not 3-D or their shapes differ.
    MaskError
        If ``mask`` holds values other than 0/1.
    EmptyRoiError
        If ``mask`` is empty.
    SettingsError
        If ``n_levels`` or ``distance`` is invalid, a level inside the mask is outside
        ``1..n_levels`` or not an integer, or an aggregation is unknown.
    """
    aggs = _z.check_aggregations(aggregations, FAMILY)
    distance = _z.check_positive_int(distance, "distance", FAMILY)
    levels, mask, _ = _z.check_inputs(levels, mask, n_levels, family=FAMILY)
    grid = level_grid(levels, mask, n_levels, margin=distance)
    matrices = {agg: _matrices(grid, n_levels, distance, agg) for agg in aggs}
    return _z.evaluate(matrices, _KERNELS, ngtdm_stats)
