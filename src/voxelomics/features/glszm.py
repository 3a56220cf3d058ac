r"""Grey level size zone matrix (GLSZM) features (IBSI family 9SAK, reference manual 3.8).

A *zone* is a group of linked voxels of the intensity mask that share one discretised grey
level; voxels are linked when they are neighbours at Chebyshev distance 1: 26-connectivity
in 3D, 8-connectivity within a slice in 2D (no linkage across slices).

Notation (IBSI): :math:`\mathbf{M}` is the :math:`N_g \times N_z` GLSZM; element
:math:`s_{ij}` counts the zones with grey level :math:`i` and size :math:`j` (voxels).
:math:`N_s = \sum_{ij} s_{ij}` is the number of zones, :math:`N_v` the number of voxels of the
intensity mask, :math:`s_{i.}` and :math:`s_{.j}` the marginal sums and
:math:`p_{ij} = s_{ij}/N_s`. Rows run over all ``n_levels`` grey levels; rows of absent levels
are zero and change no feature.

Aggregation (IBSI): ``2d`` (8QNN) computes features per slice from 2D zones and averages them
over the slices that hold ROI voxels; ``2_5d`` (62GR) sums the per-slice matrices (and
:math:`N_v`) into one matrix; ``3d`` (KOBO) uses one matrix of 3D zones.

Every feature is defined for a non-empty ROI (:math:`N_s \geq 1`); no value is NaN.

Examples
--------
The 2D example of the IBSI reference manual (3.8):

>>> import numpy as np
>>> from voxelomics.features import glszm
>>> levels = np.array([[[1, 2, 2, 3], [1, 2, 3, 3], [4, 2, 4, 1], [4, 1, 2, 3]]])
>>> (m,) = glszm.glszm_matrices(levels, levels > 0, 4, aggregation="2d")
>>> m.dense().astype(int)
array([[2, 1, 0, 0, 0],
       [0, 0, 0, 0, 1],
       [1, 0, 1, 0, 0],
       [1, 1, 0, 0, 0]])

References
----------
Zwanenburg A. et al., The Image Biomarker Standardisation Initiative, arXiv:1612.07003,
section 3.8. Thibault G. et al., IEEE Trans Biomed Eng 2014;61:630 (original definition).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from voxelomics.features import _zones as _z
from voxelomics.features._texture import Aggregation
from voxelomics.features._zones import MatrixStats, ZoneMatrix, Zones
from voxelomics.features.registry import FeatureSpec

__all__ = [
    "FEATURES",
    "glszm_matrices",
    "compute",
    "small_zone_emphasis",
    "large_zone_emphasis",
    "low_grey_level_zone_emphasis",
    "high_grey_level_zone_emphasis",
    "small_zone_low_grey_level_emphasis",
    "small_zone_high_grey_level_emphasis",
    "large_zone_low_grey_level_emphasis",
    "large_zone_high_grey_level_emphasis",
    "grey_level_non_uniformity",
    "grey_level_non_uniformity_normalised",
    "zone_size_non_uniformity",
    "zone_size_non_uniformity_normalised",
    "zone_percentage",
    "grey_level_variance",
    "zone_size_variance",
    "zone_size_entropy",
]

FAMILY = "glszm"


# ------------------------------------------------------------------------------ layer 1
def glszm_matrices(
    levels: np.ndarray,
    mask: np.ndarray,
    n_levels: int,
    *,
    aggregation: Aggregation | str,
) -> tuple[ZoneMatrix, ...]:
    """Build the grey level size zone matrices of one aggregation method.

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
        per-slice matrices summed; ``3d``: one matrix of 26-connected zones.

    Returns
    -------
    tuple of ZoneMatrix
        Columns are zone sizes in voxels; ``n_voxels`` is :math:`N_v`.

    Raises
    ------
    GeometryError, MaskError, EmptyRoiError, SettingsError
        See :func:`compute`.
    """
    (agg,) = _z.check_aggregations([aggregation], FAMILY)
    levels, mask, _ = _z.check_inputs(levels, mask, n_levels, family=FAMILY)
    mask, levels = _z.crop_to_roi(mask, levels, margin=1)
    zones = _z.label_zones(levels, mask, n_levels, two_d=agg is not Aggregation.ZONE_3D)
    return _matrices(zones, mask, n_levels, agg)


def _matrices(
    zones: Zones, mask: np.ndarray, n_levels: int, agg: Aggregation
) -> tuple[ZoneMatrix, ...]:
    if agg is not Aggregation.ZONE_2D:
        return (_z.count_matrix(zones.level, zones.size, n_levels, int(mask.sum())),)
    n_per_slice = mask.sum(axis=(1, 2))
    return tuple(
        _z.count_matrix(level, size, n_levels, int(n_per_slice[z]))
        for z, (level, size) in _z.split_by_slice(zones.slice_index, zones.level, zones.size)
    )


# ------------------------------------------------------------------------------ layer 2
def small_zone_emphasis(q: MatrixStats) -> float:
    r"""Small zone emphasis (IBSI: 5QRC).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one GLSZM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{szm.sze} = \frac{1}{N_s}\sum_{j=1}^{N_z} s_{.j}/j^2`. Always defined.
    """
    return _z.small_j_emphasis(q)


def large_zone_emphasis(q: MatrixStats) -> float:
    r"""Large zone emphasis (IBSI: 48P8).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one GLSZM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{szm.lze} = \frac{1}{N_s}\sum_{j=1}^{N_z} j^2 s_{.j}`. Always defined.
    """
    return _z.large_j_emphasis(q)


def low_grey_level_zone_emphasis(q: MatrixStats) -> float:
    r"""Low grey level zone emphasis (IBSI: XMSY).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one GLSZM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{szm.lgze} = \frac{1}{N_s}\sum_{i=1}^{N_g} s_{i.}/i^2`. Always defined.
    """
    return _z.low_grey_level_emphasis(q)


def high_grey_level_zone_emphasis(q: MatrixStats) -> float:
    r"""High grey level zone emphasis (IBSI: 5GN9).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one GLSZM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{szm.hgze} = \frac{1}{N_s}\sum_{i=1}^{N_g} i^2 s_{i.}`. Always defined.
    """
    return _z.high_grey_level_emphasis(q)


def small_zone_low_grey_level_emphasis(q: MatrixStats) -> float:
    r"""Small zone low grey level emphasis (IBSI: 5RAI).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one GLSZM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{szm.szlge} = \frac{1}{N_s}\sum_{i,j} s_{ij}/(i^2 j^2)`. Always defined.
    """
    return _z.small_j_low_grey_level_emphasis(q)


def small_zone_high_grey_level_emphasis(q: MatrixStats) -> float:
    r"""Small zone high grey level emphasis (IBSI: HW1V).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one GLSZM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{szm.szhge} = \frac{1}{N_s}\sum_{i,j} i^2 s_{ij}/j^2`. Always defined.
    """
    return _z.small_j_high_grey_level_emphasis(q)


def large_zone_low_grey_level_emphasis(q: MatrixStats) -> float:
    r"""Large zone low grey level emphasis (IBSI: YH51).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one GLSZM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{szm.lzlge} = \frac{1}{N_s}\sum_{i,j} j^2 s_{ij}/i^2`. Always defined.
    """
    return _z.large_j_low_grey_level_emphasis(q)


def large_zone_high_grey_level_emphasis(q: MatrixStats) -> float:
    r"""Large zone high grey level emphasis (IBSI: J17V).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one GLSZM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{szm.lzhge} = \frac{1}{N_s}\sum_{i,j} i^2 j^2 s_{ij}`. Always defined.
    """
    return _z.large_j_high_grey_level_emphasis(q)


def grey_level_non_uniformity(q: MatrixStats) -> float:
    r"""Grey level non-uniformity of the GLSZM (IBSI: JNSA).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one GLSZM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{szm.glnu} = \frac{1}{N_s}\sum_{i} s_{i.}^2`. Always defined.
    """
    return _z.grey_level_non_uniformity(q)


def grey_level_non_uniformity_normalised(q: MatrixStats) -> float:
    r"""Normalised grey level non-uniformity of the GLSZM (IBSI: Y1RO).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one GLSZM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{szm.glnu.norm} = \frac{1}{N_s^2}\sum_{i} s_{i.}^2`. Always defined.
    """
    return _z.grey_level_non_uniformity_normalised(q)


def zone_size_non_uniformity(q: MatrixStats) -> float:
    r"""Zone size non-uniformity (IBSI: 4JP3).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one GLSZM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{szm.zsnu} = \frac{1}{N_s}\sum_{j} s_{.j}^2`. Always defined.
    """
    return _z.j_non_uniformity(q)


def zone_size_non_uniformity_normalised(q: MatrixStats) -> float:
    r"""Normalised zone size non-uniformity (IBSI: VB3A).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one GLSZM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{szm.zsnu.norm} = \frac{1}{N_s^2}\sum_{j} s_{.j}^2`. Always defined.
    """
    return _z.j_non_uniformity_normalised(q)


def zone_percentage(q: MatrixStats) -> float:
    r"""Zone percentage of the GLSZM (IBSI: P30P).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one GLSZM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{szm.z.perc} = N_s / N_v`; for a merged (2.5D) matrix :math:`N_v` is summed
    over slices. Always defined.
    """
    return _z.percentage(q)


def grey_level_variance(q: MatrixStats) -> float:
    r"""Grey level variance of the GLSZM (IBSI: BYLV).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one GLSZM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{szm.gl.var} = \sum_{i,j} (i-\mu)^2 p_{ij}`, :math:`\mu = \sum_{i,j} i\,p_{ij}`.
    0 for a single grey level.
    """
    return _z.grey_level_variance(q)


def zone_size_variance(q: MatrixStats) -> float:
    r"""Zone size variance (IBSI: 3NSA).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one GLSZM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{szm.zs.var} = \sum_{i,j} (j-\mu)^2 p_{ij}`, :math:`\mu = \sum_{i,j} j\,p_{ij}`.
    0 when all zones have one size.
    """
    return _z.j_variance(q)


def zone_size_entropy(q: MatrixStats) -> float:
    r"""Zone size entropy (IBSI: GU8N).

    Parameters
    ----------
    q : MatrixStats
        Precomputed quantities of one GLSZM.

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{szm.zs.entr} = -\sum_{i,j} p_{ij}\log_2 p_{ij}` over :math:`p_{ij} > 0`.
    Always defined.
    """
    return _z.joint_entropy(q)


def _entry(fn, ibsi_id: str, tag: str, title: str) -> tuple[FeatureSpec, Callable]:
    """Registry entry: readable name ``glszm_<function name>``, IBSI tag ``szm_<tag>``."""
    return FeatureSpec(f"glszm_{fn.__name__}", FAMILY, ibsi_id, f"szm_{tag}", title), fn


_KERNELS = (
    _entry(small_zone_emphasis, "5QRC", "sze", "Small zone emphasis"),
    _entry(large_zone_emphasis, "48P8", "lze", "Large zone emphasis"),
    _entry(low_grey_level_zone_emphasis, "XMSY", "lgze", "Low grey level zone emphasis"),
    _entry(high_grey_level_zone_emphasis, "5GN9", "hgze", "High grey level zone emphasis"),
    _entry(
        small_zone_low_grey_level_emphasis, "5RAI", "szlge", "Small zone low grey level emphasis"
    ),
    _entry(
        small_zone_high_grey_level_emphasis, "HW1V", "szhge", "Small zone high grey level emphasis"
    ),
    _entry(
        large_zone_low_grey_level_emphasis, "YH51", "lzlge", "Large zone low grey level emphasis"
    ),
    _entry(
        large_zone_high_grey_level_emphasis, "J17V", "lzhge", "Large zone high grey level emphasis"
    ),
    _entry(grey_level_non_uniformity, "JNSA", "glnu", "Grey level non-uniformity"),
    _entry(
        grey_level_non_uniformity_normalised,
        "Y1RO",
        "glnu_norm",
        "Normalised grey level non-uniformity",
    ),
    _entry(zone_size_non_uniformity, "4JP3", "zsnu", "Zone size non-uniformity"),
    _entry(
        zone_size_non_uniformity_normalised,
        "VB3A",
        "zsnu_norm",
        "Normalised zone size non-uniformity",
    ),
    _entry(zone_percentage, "P30P", "z_perc", "Zone percentage"),
    _entry(grey_level_variance, "BYLV", "gl_var", "Grey level variance"),
    _entry(zone_size_variance, "3NSA", "zs_var", "Zone size variance"),
    _entry(zone_size_entropy, "GU8N", "zs_entr", "Zone size entropy"),
)

#: The 16 GLSZM features, in IBSI order.
FEATURES: tuple[FeatureSpec, ...] = tuple(spec for spec, _ in _KERNELS)


# ------------------------------------------------------------------------------ layer 3
def compute(
    levels: np.ndarray,
    mask: np.ndarray,
    n_levels: int,
    *,
    aggregations: Sequence[Aggregation | str] = (Aggregation.ZONE_3D,),
    _zones: Mapping[bool, _z.Zones] | None = None,
) -> dict[str, float]:
    """Compute every GLSZM feature for the requested aggregation methods.

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
    _zones : mapping of bool to Zones, optional
        Private: zones already labelled on these whole arrays, keyed by ``two_d`` (see
        :func:`voxelomics.features._zone_labels.label_zones`), so that GLSZM and GLDZM
        label once.

    Returns
    -------
    dict of str to float
        ``glszm_<feature>_<aggregation>`` (e.g. ``glszm_small_zone_emphasis_3d``) → value.

    Raises
    ------
    GeometryError
        If ``levels`` or ``mask`` is not 3-D or their shapes differ.
    MaskError
        If ``mask`` holds values other than 0/1.
    EmptyRoiError
        If ``mask`` is empty.
    SettingsError
        If ``n_levels`` is invalid, a level inside the mask is outside ``1..n_levels`` or
        not an integer, or an aggregation is unknown.
    """
    aggs = _z.check_aggregations(aggregations, FAMILY)
    levels, mask, _ = _z.check_inputs(levels, mask, n_levels, family=FAMILY)
    # private: zones labelled once on these whole arrays by the caller (shared with GLDZM)
    cache = {k: _z.crop_zones(v, mask, 1) for k, v in (_zones or {}).items()}
    mask, levels = _z.crop_to_roi(mask, levels, margin=1)
    matrices: dict[Aggregation, tuple[ZoneMatrix, ...]] = {}
    for agg in aggs:
        two_d = agg is not Aggregation.ZONE_3D
        if two_d not in cache:
            cache[two_d] = _z.label_zones(levels, mask, n_levels, two_d=two_d)
        matrices[agg] = _matrices(cache[two_d], mask, n_levels, agg)
    return _z.evaluate(matrices, _KERNELS, _z.matrix_stats)
