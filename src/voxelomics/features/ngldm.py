r"""Neighbouring grey level dependence matrix (NGLDM) features (IBSI family REK0, manual 3.11).

For every voxel :math:`k` of the intensity mask, the dependence count :math:`j_k` is the
number of voxels within Chebyshev distance :math:`\delta` (the voxel itself included, so
:math:`j_k \geq 1`) that lie in the ROI and whose grey level differs from
:math:`X_d(\mathbf{k})` by at most the coarseness parameter :math:`\alpha`. Neighbours outside
the ROI never count (IBSI's deviation from Sun and Wee), so every ROI voxel contributes one
neighbourhood and :math:`N_s = N_v`. In 2D the neighbourhood lies within the slice.

Notation (IBSI): :math:`s_{ij}` counts the voxels of grey level :math:`i` with dependence
count :math:`j`; :math:`N_n` is the largest count, :math:`N_s = \sum_{ij} s_{ij}`,
:math:`s_{i.}`, :math:`s_{.j}` are the marginal sums and :math:`p_{ij} = s_{ij}/N_s`.

Aggregation (IBSI): ``2d`` (8QNN) computes features per slice and averages them over slices
holding ROI voxels; ``2_5d`` (62GR) sums the per-slice matrices (and :math:`N_v`, :math:`N_s`);
``3d`` (KOBO) uses 3D neighbourhoods.

Every feature is defined for a non-empty ROI; no value is NaN.

Examples
--------
The 2D example of the IBSI reference manual (3.11) counts dependence without the centre
voxel (:math:`j_k - 1`) for the four centre pixels of a 4×4 image:

>>> import numpy as np
>>> from voxelomics.features import ngldm
>>> levels = np.array([[[1, 2, 2, 3], [1, 2, 3, 3], [4, 2, 4, 1], [4, 1, 2, 3]]])
>>> j = ngldm.ngldm_dependence(levels, levels > 0, aggregation="2d")
>>> j[0, 1:3, 1:3] - 1
array([[3, 2],
       [2, 0]])

References
----------
Zwanenburg A. et al., The Image Biomarker Standardisation Initiative, arXiv:1612.07003,
section 3.11. Sun C., Wee W.G., Comput Vision Graph Image Process 1983;23:341.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from voxelomics.features import _zones as _z
from voxelomics.features._grid import LevelGrid, kernels, level_grid
from voxelomics.features._texture import Aggregation
from voxelomics.features._zones import MatrixStats, ZoneMatrix
from voxelomics.features.registry import FeatureSpec

__all__ = [
    "FEATURES",
    "ngldm_dependence",
    "ngldm_matrices",
    "compute",
    "low_dependence_emphasis",
    "high_dependence_emphasis",
    "low_grey_level_count_emphasis",
    "high_grey_level_count_emphasis",
    "low_dependence_low_grey_level_emphasis",
    "low_dependence_high_grey_level_emphasis",
    "high_dependence_low_grey_level_emphasis",
    "high_dependence_high_grey_level_emphasis",
    "grey_level_non_uniformity",
    "grey_level_non_uniformity_normalised",
    "dependence_count_non_uniformity",
    "dependence_count_non_uniformity_normalised",
    "dependence_count_percentage",
    "grey_level_variance",
    "dependence_count_variance",
    "dependence_count_entropy",
    "dependence_count_energy",
]

FAMILY = "ngldm"


# ------------------------------------------------------------------------------ layer 1
def _dependence(grid: LevelGrid, distance: int, alpha: int, two_d: bool) -> np.ndarray:
    """Dependence count of every ROI voxel of the grid, in its order (compiled)."""
    steps = grid.steps(_z.neighbour_offsets(distance, two_d))
    return kernels().dependence(grid.flat, grid.roi, steps, alpha)


def _check_params(distance: int, alpha: int) -> tuple[int, int]:
    return (
        _z.check_positive_int(distance, "distance", FAMILY),
        _z.check_positive_int(alpha, "alpha", FAMILY, minimum=0),
    )


def ngldm_dependence(
    levels: np.ndarray,
    mask: np.ndarray,
    *,
    aggregation: Aggregation | str,
    distance: int = 1,
    alpha: int = 0,
) -> np.ndarray:
    """Dependence count :math:`j_k` of every ROI voxel (IBSI 3.11).

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
    alpha : int, default=0
        Coarseness parameter α: largest grey-level difference counted as dependent.

    Returns
    -------
    ndarray of int64, shape (z, y, x)
        :math:`j_k` (centre voxel included, so >= 1) inside the mask, 0 outside.

    Raises
    ------
    GeometryError, MaskError, EmptyRoiError, SettingsError
        See :func:`compute`.
    """
    (agg,) = _z.check_aggregations([aggregation], FAMILY)
    distance, alpha = _check_params(distance, alpha)
    levels, mask, _ = _z.check_inputs(levels, mask, None, family=FAMILY)
    grid = level_grid(levels, mask, int(levels.max()), margin=distance)
    count = _dependence(grid, distance, alpha, agg is not Aggregation.ZONE_3D)
    out = np.zeros(levels.shape, dtype=np.int64)
    out.ravel()[np.flatnonzero(mask)] = count  # the grid's ROI voxels, in the same (C) order
    return out


def _matrices(grid: LevelGrid, n_levels, distance, alpha, agg) -> tuple[ZoneMatrix, ...]:
    count = _dependence(grid, distance, alpha, agg is not Aggregation.ZONE_3D)
    centre = grid.levels()
    if agg is not Aggregation.ZONE_2D:
        return (_z.count_matrix(centre, count, n_levels, centre.size),)
    return tuple(
        _z.count_matrix(lv, j, n_levels, lv.size)
        for _, (lv, j) in _z.split_by_slice(grid.slice_index(), centre, count)
    )


def ngldm_matrices(
    levels: np.ndarray,
    mask: np.ndarray,
    n_levels: int,
    *,
    aggregation: Aggregation | str,
    distance: int = 1,
    alpha: int = 0,
) -> tuple[ZoneMatrix, ...]:
    """Build the neighbouring grey level dependence matrices of one aggregation method.

    Parameters
    ----------
    levels : ndarray of int, shape (z, y, x)
        Discretised grey levels, ``1..n_levels`` inside ``mask``.
    mask : ndarray of bool, shape (z, y, x)
        Intensity mask of the ROI.
    n_levels : int
        Number of grey levels :math:`N_g` (matrix rows).
    aggregation : {"2d", "2_5d", "3d"} or Aggregation
        ``2d``: one matrix per slice holding ROI voxels (by increasing z); ``2_5d``: the
        per-slice matrices summed; ``3d``: one matrix with 3D neighbourhoods.
    distance : int, default=1
        Chebyshev distance δ (voxels).
    alpha : int, default=0
        Coarseness parameter α.

    Returns
    -------
    tuple of ZoneMatrix
        Columns are dependence counts :math:`j \\geq 1`; ``n_voxels`` is :math:`N_v`.

    Raises
    ------
    GeometryError, MaskError, EmptyRoiError, SettingsError
        See :func:`compute`.
    """
    (agg,) = _z.check_aggregations([aggregation], FAMILY)
    distance, alpha = _check_params(distance, alpha)
    levels, mask, _ = _z.check_inputs(levels, mask, n_levels, family=FAMILY)
    return _matrices(level_grid(levels, mask, n_levels, margin=distance), n_levels, distance, alpha, agg)


# ------------------------------------------------------------------------------ layer 2
def low_dependence_emphasis(q: MatrixStats) -> float:
    r"""Low dependence emphasis (IBSI: SODN).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one NGLDM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{ngl.lde} = \frac{1}{N_s}\sum_{j=1}^{N_n} s_{.j}/j^2`. Always defined.
    """
    return _z.small_j_emphasis(q)


def high_dependence_emphasis(q: MatrixStats) -> float:
    r"""High dependence emphasis (IBSI: IMOQ).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one NGLDM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{ngl.hde} = \frac{1}{N_s}\sum_{j=1}^{N_n} j^2 s_{.j}`. Always defined.
    """
    return _z.large_j_emphasis(q)


def low_grey_level_count_emphasis(q: MatrixStats) -> float:
    r"""Low grey level count emphasis (IBSI: TL9H).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one NGLDM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{ngl.lgce} = \frac{1}{N_s}\sum_{i=1}^{N_g} s_{i.}/i^2`. Always defined.
    """
    return _z.low_grey_level_emphasis(q)


def high_grey_level_count_emphasis(q: MatrixStats) -> float:
    r"""High grey level count emphasis (IBSI: OAE7).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one NGLDM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{ngl.hgce} = \frac{1}{N_s}\sum_{i=1}^{N_g} i^2 s_{i.}`. Always defined.
    """
    return _z.high_grey_level_emphasis(q)


def low_dependence_low_grey_level_emphasis(q: MatrixStats) -> float:
    r"""Low dependence low grey level emphasis (IBSI: EQ3F).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one NGLDM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{ngl.ldlge} = \frac{1}{N_s}\sum_{i,j} s_{ij}/(i^2 j^2)`. Always defined.
    """
    return _z.small_j_low_grey_level_emphasis(q)


def low_dependence_high_grey_level_emphasis(q: MatrixStats) -> float:
    r"""Low dependence high grey level emphasis (IBSI: JA6D).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one NGLDM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{ngl.ldhge} = \frac{1}{N_s}\sum_{i,j} i^2 s_{ij}/j^2`. Always defined.
    """
    return _z.small_j_high_grey_level_emphasis(q)


def high_dependence_low_grey_level_emphasis(q: MatrixStats) -> float:
    r"""High dependence low grey level emphasis (IBSI: NBZI).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one NGLDM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{ngl.hdlge} = \frac{1}{N_s}\sum_{i,j} j^2 s_{ij}/i^2`. Always defined.
    """
    return _z.large_j_low_grey_level_emphasis(q)


def high_dependence_high_grey_level_emphasis(q: MatrixStats) -> float:
    r"""High dependence high grey level emphasis (IBSI: 9QMG).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one NGLDM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{ngl.hdhge} = \frac{1}{N_s}\sum_{i,j} i^2 j^2 s_{ij}`. Always defined.
    """
    return _z.large_j_high_grey_level_emphasis(q)


def grey_level_non_uniformity(q: MatrixStats) -> float:
    r"""Grey level non-uniformity of the NGLDM (IBSI: FP8K).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one NGLDM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{ngl.glnu} = \frac{1}{N_s}\sum_{i} s_{i.}^2`. Always defined.
    """
    return _z.grey_level_non_uniformity(q)


def grey_level_non_uniformity_normalised(q: MatrixStats) -> float:
    r"""Normalised grey level non-uniformity of the NGLDM (IBSI: 5SPA).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one NGLDM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{ngl.glnu.norm} = \frac{1}{N_s^2}\sum_{i} s_{i.}^2`. Always defined.
    """
    return _z.grey_level_non_uniformity_normalised(q)


def dependence_count_non_uniformity(q: MatrixStats) -> float:
    r"""Dependence count non-uniformity (IBSI: Z87G).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one NGLDM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{ngl.dcnu} = \frac{1}{N_s}\sum_{j} s_{.j}^2`. Always defined.
    """
    return _z.j_non_uniformity(q)


def dependence_count_non_uniformity_normalised(q: MatrixStats) -> float:
    r"""Normalised dependence count non-uniformity (IBSI: OKJI).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one NGLDM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{ngl.dcnu.norm} = \frac{1}{N_s^2}\sum_{j} s_{.j}^2`. Always defined.
    """
    return _z.j_non_uniformity_normalised(q)


def dependence_count_percentage(q: MatrixStats) -> float:
    r"""Dependence count percentage (IBSI: 6XV8).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one NGLDM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{ngl.dc.perc} = N_s / N_v`, which is 1 under IBSI's definition (every ROI voxel
    has a neighbourhood). Always defined.
    """
    return _z.percentage(q)


def grey_level_variance(q: MatrixStats) -> float:
    r"""Grey level variance of the NGLDM (IBSI: 1PFV).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one NGLDM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{ngl.gl.var} = \sum_{i,j} (i-\mu)^2 p_{ij}`, :math:`\mu = \sum_{i,j} i\,p_{ij}`.
    0 for a single grey level.
    """
    return _z.grey_level_variance(q)


def dependence_count_variance(q: MatrixStats) -> float:
    r"""Dependence count variance (IBSI: DNX2).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one NGLDM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{ngl.dc.var} = \sum_{i,j} (j-\mu)^2 p_{ij}`, :math:`\mu = \sum_{i,j} j\,p_{ij}`.
    0 when every voxel has the same dependence count.
    """
    return _z.j_variance(q)


def dependence_count_entropy(q: MatrixStats) -> float:
    r"""Dependence count entropy (IBSI: FCBV).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one NGLDM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{ngl.dc.entr} = -\sum_{i,j} p_{ij}\log_2 p_{ij}` over :math:`p_{ij} > 0`.
    Always defined.
    """
    return _z.joint_entropy(q)


def dependence_count_energy(q: MatrixStats) -> float:
    r"""Dependence count energy (IBSI: CAS9).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one NGLDM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{ngl.dc.energy} = \sum_{i,j} p_{ij}^2`. Always defined.
    """
    return _z.joint_energy(q)


def _entry(fn, ibsi_id: str, tag: str, title: str) -> tuple[FeatureSpec, Callable]:
    """Registry entry: readable name ``ngldm_<function name>``, IBSI tag ``ngl_<tag>``."""
    return FeatureSpec(f"ngldm_{fn.__name__}", FAMILY, ibsi_id, f"ngl_{tag}", title), fn


_KERNELS = (
    _entry(low_dependence_emphasis, "SODN", "lde", "Low dependence emphasis"),
    _entry(high_dependence_emphasis, "IMOQ", "hde", "High dependence emphasis"),
    _entry(low_grey_level_count_emphasis, "TL9H", "lgce", "Low grey level count emphasis"),
    _entry(high_grey_level_count_emphasis, "OAE7", "hgce", "High grey level count emphasis"),
    _entry(
        low_dependence_low_grey_level_emphasis,
        "EQ3F",
        "ldlge",
        "Low dependence low grey level emphasis",
    ),
    _entry(
        low_dependence_high_grey_level_emphasis,
        "JA6D",
        "ldhge",
        "Low dependence high grey level emphasis",
    ),
    _entry(
        high_dependence_low_grey_level_emphasis,
        "NBZI",
        "hdlge",
        "High dependence low grey level emphasis",
    ),
    _entry(
        high_dependence_high_grey_level_emphasis,
        "9QMG",
        "hdhge",
        "High dependence high grey level emphasis",
    ),
    _entry(grey_level_non_uniformity, "FP8K", "glnu", "Grey level non-uniformity"),
    _entry(
        grey_level_non_uniformity_normalised,
        "5SPA",
        "glnu_norm",
        "Normalised grey level non-uniformity",
    ),
    _entry(dependence_count_non_uniformity, "Z87G", "dcnu", "Dependence count non-uniformity"),
    _entry(
        dependence_count_non_uniformity_normalised,
        "OKJI",
        "dcnu_norm",
        "Normalised dependence count non-uniformity",
    ),
    _entry(dependence_count_percentage, "6XV8", "dc_perc", "Dependence count percentage"),
    _entry(grey_level_variance, "1PFV", "gl_var", "Grey level variance"),
    _entry(dependence_count_variance, "DNX2", "dc_var", "Dependence count variance"),
    _entry(dependence_count_entropy, "FCBV", "dc_entr", "Dependence count entropy"),
    _entry(dependence_count_energy, "CAS9", "dc_energy", "Dependence count energy"),
)

#: The 17 NGLDM features, in IBSI order.
FEATURES: tuple[FeatureSpec, ...] = tuple(spec for spec, _ in _KERNELS)


# ------------------------------------------------------------------------------ layer 3
def compute(
    levels: np.ndarray,
    mask: np.ndarray,
    n_levels: int,
    *,
    aggregations: Sequence[Aggregation | str] = (Aggregation.ZONE_3D,),
    distance: int = 1,
    alpha: int = 0,
) -> dict[str, float]:
    """Compute every NGLDM feature for the requested aggregation methods.

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
        Chebyshev distance δ (voxels); default of ``TextureSettings.ngldm_distance``.
    alpha : int, default=0
        Coarseness parameter α; default of ``TextureSettings.ngldm_alpha``.

    Returns
    -------
    dict of str to float
        ``ngldm_<feature>_<aggregation>`` (e.g. ``ngldm_low_dependence_emphasis_3d``) → value.

    Raises
    ------
    GeometryError
        If ``levels`` or ``mask`` is not 3-D or their shapes differ.
    MaskError
        If ``mask`` holds values other than 0/1.
    EmptyRoiError
        If ``mask`` is empty.
    SettingsError
        If ``n_levels``, ``distance`` or ``alpha`` is invalid, a level inside the mask is
        outside ``1..n_levels`` or not an integer, or an aggregation is unknown.
    """
    aggs = _z.check_aggregations(aggregations, FAMILY)
    distance, alpha = _check_params(distance, alpha)
    levels, mask, _ = _z.check_inputs(levels, mask, n_levels, family=FAMILY)
    grid = level_grid(levels, mask, n_levels, margin=distance)
    matrices = {agg: _matrices(grid, n_levels, distance, alpha, agg) for agg in aggs}
    return _z.evaluate(matrices, _KERNELS, _z.matrix_stats)
