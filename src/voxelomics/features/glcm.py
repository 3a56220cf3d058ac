r"""Grey level co-occurrence matrix (GLCM) features (IBSI family LFYI, manual section 3.6).

Matrix
------
For a direction vector :math:`\mathbf{m}` (a Chebyshev-distance-1 offset ``(dz, dy, dx)``
times the distance :math:`\delta`), element :math:`(i, j)` of the
:math:`N_g \times N_g` matrix :math:`\mathbf{M}_{\mathbf{m}}` counts the pairs of voxels
``v`` and ``v + m`` that are *both* inside the ROI intensity mask with grey levels
:math:`i` and :math:`j`. The matrix is made symmetric by counting both orders,
:math:`\mathbf{M}_{\mathbf{m}} = \mathbf{M}_{\mathbf{m}_+} + \mathbf{M}_{\mathbf{m}_+}^T`.

Notation (IBSI): :math:`p_{ij}` is :math:`\mathbf{M}` divided by the sum of its elements;
:math:`p_{i.}` and :math:`p_{.j}` are the row and column marginals (equal, by symmetry),
with means :math:`\mu_{i.}, \mu_{.j}` and standard deviations
:math:`\sigma_{i.}, \sigma_{.j}`; :math:`p_{i-j,k}` (:math:`k = 0..N_g-1`) and
:math:`p_{i+j,k}` (:math:`k = 2..2N_g`) are the diagonal and cross-diagonal
probabilities. :math:`N_g` is ``n_levels``, the number of grey levels of the
discretisation (grey levels ``1..n_levels``), whether or not all of them occur.

Aggregation (IBSI "Aggregating features")
-----------------------------------------
2D matrices are built per slice (axis 0 of the ``(z, y, x)`` array) with the 4 in-plane
directions, 3D matrices over the volume with the 13 directions:

* 2D averaged (BTW3): features of every (slice, direction) matrix, then the mean;
* 2D slice-merged (SUJT): per slice the 4 direction matrices are summed, features per
  slice, then the mean over slices;
* 2.5D direction-merged (JJUI): per direction the slice matrices are summed, features
  per direction, then the mean over directions;
* 2.5D merged (ZW7Z): all 2D matrices summed into one;
* 3D averaged (ITBB): features of each of the 13 directional matrices, then the mean;
* 3D merged (IAZD): the 13 matrices summed into one.

Empty matrices (no pair of ROI voxels along a direction, e.g. a slice holding a single
ROI voxel) carry no co-occurrence and are left out of the averages, as IBSI
implementations do. A feature that is undefined on one matrix (NaN, see the feature's
Notes) is likewise left out of the mean; the result is NaN only when no matrix defines
it (for example a ROI without any pair of neighbouring voxels).

References
----------
.. [1] Zwanenburg A. et al., "The Image Biomarker Standardization Initiative",
   Radiology 295:328-338 (2020); reference manual arXiv:1612.07003, section
   "Grey level co-occurrence based features".
.. [2] Haralick R.M., Shanmugam K., Dinstein I., "Textural features for image
   classification", IEEE Trans. Syst. Man Cybern. SMC-3:610-621 (1973).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from voxelomics.errors import SettingsError
from voxelomics.features._directional import (
    AGGREGATIONS_2D,
    DIRECTIONAL_AGGREGATIONS,
    aggregation_groups,
    bounding_box,
    check_aggregations,
    check_directions,
    check_levels_and_mask,
    evaluate_groups,
    evaluate_stack,
)
from voxelomics.features._grid import LevelGrid, kernels, level_grid
from voxelomics.features._texture import DIRECTIONS_2D, DIRECTIONS_3D, Aggregation
from voxelomics.features.glcm_features import (  # noqa: F401  (layer 2, re-exported)
    GLCMStats,
    auto_corr,
    clust_prom,
    clust_shade,
    clust_tend,
    contrast,
    corr,
    diff_avg,
    diff_entr,
    diff_var,
    dissimilarity,
    energy,
    info_corr_1,
    info_corr_2,
    inv_diff,
    inv_diff_mom,
    inv_diff_mom_norm,
    inv_diff_norm,
    inv_var,
    joint_avg,
    joint_entr,
    joint_max,
    joint_var,
    sum_avg,
    sum_entr,
    sum_var,
)
from voxelomics.features.glcm_features import __all__ as _feature_names
from voxelomics.features.registry import FeatureSpec, column_name

__all__ = [
    "FEATURES",
    "DIRECTIONAL_AGGREGATIONS",
    "glcm_matrices",
    "compute",
    *_feature_names,  # GLCMStats and the 25 feature functions (layer 2)
]


# --------------------------------------------------------------------------------------
# Layer 1: matrices
# --------------------------------------------------------------------------------------
def glcm_matrices(
    levels: np.ndarray,
    mask: np.ndarray,
    *,
    n_levels: int,
    directions: np.ndarray,
    distance: int = 1,
    per_slice: bool,
) -> np.ndarray:
    r"""Count symmetric grey level co-occurrences per direction (IBSI: LFYI).

    Only pairs of voxels that are both inside ``mask`` are counted, in both orders
    (:math:`\mathbf{M}_{\mathbf{m}_+} + \mathbf{M}_{\mathbf{m}_+}^T`), so each matrix is
    symmetric and sums to twice the number of pairs. The pairs are counted by a compiled
    loop over the ROI voxels (:mod:`voxelomics.features._kernels`).

    Parameters
    ----------
    levels : ndarray of int of shape (z, y, x)
        Discretised grey levels, ``1..n_levels`` inside ``mask``.
    mask : ndarray of bool of shape (z, y, x)
        ROI intensity mask.
    n_levels : int
        Number of grey levels :math:`N_g`.
    directions : ndarray of int of shape (n_directions, 3)
        Offsets ``(dz, dy, dx)`` at Chebyshev distance 1, e.g.
        :data:`~voxelomics.features._texture.DIRECTIONS_3D` (13) or ``DIRECTIONS_2D`` (4).
    distance : int, default=1
        Chebyshev distance :math:`\delta` in voxels; the offsets are multiplied by it.
    per_slice : bool
        True: one matrix per slice (axis 0) and direction, for 2D/2.5D aggregation
        (directions must be in-plane). False: one matrix per direction over the volume.

    Returns
    -------
    counts : ndarray of int64 of shape (n_slices, n_directions, n_levels, n_levels)
        ``counts[s, d, i - 1, j - 1]`` is the number of co-occurrences of grey levels
        ``i`` and ``j``; ``n_slices`` is ``z`` when ``per_slice`` else 1.

    Raises
    ------
    SettingsError
        Invalid ``n_levels``, ``distance`` or ``directions``; grey levels outside
        ``1..n_levels``.
    GeometryError, MaskError, EmptyRoiError
        Invalid arrays (see :func:`~voxelomics.features._directional.check_levels_and_mask`).

    Examples
    --------
    The IBSI manual's example image (one slice) along direction :math:`\rightarrow`:

    >>> import numpy as np
    >>> img = np.array([[[1, 2, 2, 3], [1, 2, 3, 3], [4, 2, 4, 1], [4, 1, 2, 3]]])
    >>> m = glcm_matrices(img, img > 0, n_levels=4, directions=np.array([[0, 0, 1]]),
    ...                   per_slice=True)
    >>> m[0, 0]
    array([[0, 3, 0, 2],
           [3, 2, 3, 2],
           [0, 3, 2, 0],
           [2, 2, 0, 0]])
    """
    _check_distance(distance)
    lv, mask = check_levels_and_mask(levels, mask, n_levels, family="glcm")
    dirs = check_directions(directions, per_slice=per_slice, family="glcm")
    grid = level_grid(lv, mask, int(n_levels), margin=int(distance))
    counts = _counts(grid, int(n_levels), dirs, int(distance), per_slice)
    if not per_slice:
        return counts
    out = np.zeros((lv.shape[0],) + counts.shape[1:], dtype=np.int64)
    z0 = bounding_box(mask)[0].start
    out[z0:z0 + counts.shape[0]] = counts
    return out


def _check_distance(distance) -> None:
    if isinstance(distance, bool) or not isinstance(distance, (int, np.integer)) or distance < 1:
        raise SettingsError(f"glcm: distance must be a positive integer (voxels), got {distance!r}")


def _counts(grid: LevelGrid, n_g: int, dirs: np.ndarray, distance: int, per_slice: bool) -> np.ndarray:
    """Symmetric counts (n_slices of the box or 1, n_directions, n_g, n_g) from the kernel."""
    if per_slice:
        slices, n_s = grid.slice_index(), grid.box_shape[0]
    else:
        slices, n_s = np.zeros(grid.roi.size, dtype=np.int64), 1
    m = kernels().cooccurrence(grid.flat, grid.roi, grid.steps(dirs * distance), slices, n_s, n_g)
    return m + m.transpose(0, 1, 3, 2)


# Layer 2, one function per feature, is in voxelomics.features.glcm_features.

def _spec(name: str, ibsi_id: str, tag: str, title: str) -> FeatureSpec:
    return FeatureSpec(
        name=f"glcm_{name}", family="glcm", ibsi_id=ibsi_id, ibsi_tag=tag, title=title
    )


_TABLE: tuple[tuple[FeatureSpec, Callable[[GLCMStats], float]], ...] = (
    (_spec("joint_max", "GYBY", "cm_joint_max", "Joint maximum"), joint_max),
    (_spec("joint_avg", "60VM", "cm_joint_avg", "Joint average"), joint_avg),
    (_spec("joint_var", "UR99", "cm_joint_var", "Joint variance"), joint_var),
    (_spec("joint_entr", "TU9B", "cm_joint_entr", "Joint entropy"), joint_entr),
    (_spec("diff_avg", "TF7R", "cm_diff_avg", "Difference average"), diff_avg),
    (_spec("diff_var", "D3YU", "cm_diff_var", "Difference variance"), diff_var),
    (_spec("diff_entr", "NTRS", "cm_diff_entr", "Difference entropy"), diff_entr),
    (_spec("sum_avg", "ZGXS", "cm_sum_avg", "Sum average"), sum_avg),
    (_spec("sum_var", "OEEB", "cm_sum_var", "Sum variance"), sum_var),
    (_spec("sum_entr", "P6QZ", "cm_sum_entr", "Sum entropy"), sum_entr),
    (_spec("energy", "8ZQL", "cm_energy", "Angular second moment"), energy),
    (_spec("contrast", "ACUI", "cm_contrast", "Contrast"), contrast),
    (_spec("dissimilarity", "8S9J", "cm_dissimilarity", "Dissimilarity"), dissimilarity),
    (_spec("inv_diff", "IB1Z", "cm_inv_diff", "Inverse difference"), inv_diff),
    (
        _spec("inv_diff_norm", "NDRX", "cm_inv_diff_norm", "Normalised inverse difference"),
        inv_diff_norm,
    ),
    (_spec("inv_diff_mom", "WF0Z", "cm_inv_diff_mom", "Inverse difference moment"), inv_diff_mom),
    (
        _spec(
            "inv_diff_mom_norm",
            "1QCO",
            "cm_inv_diff_mom_norm",
            "Normalised inverse difference moment",
        ),
        inv_diff_mom_norm,
    ),
    (_spec("inv_var", "E8JP", "cm_inv_var", "Inverse variance"), inv_var),
    (_spec("corr", "NI2N", "cm_corr", "Correlation"), corr),
    (_spec("auto_corr", "QWB0", "cm_auto_corr", "Autocorrelation"), auto_corr),
    (_spec("clust_tend", "DG8W", "cm_clust_tend", "Cluster tendency"), clust_tend),
    (_spec("clust_shade", "7NFM", "cm_clust_shade", "Cluster shade"), clust_shade),
    (_spec("clust_prom", "AE86", "cm_clust_prom", "Cluster prominence"), clust_prom),
    (_spec("info_corr_1", "R8DG", "cm_info_corr1", "Information correlation 1"), info_corr_1),
    (_spec("info_corr_2", "JN9H", "cm_info_corr2", "Information correlation 2"), info_corr_2),
)

#: The 25 GLCM features, in IBSI order.
FEATURES: tuple[FeatureSpec, ...] = tuple(spec for spec, _ in _TABLE)


def _stack_features(m: np.ndarray) -> np.ndarray:
    """Feature values (n, 25) of a stack (n, n_g, n_g) of non-empty matrices."""
    s = GLCMStats.from_counts(m)
    return np.column_stack([fn(s) for _, fn in _TABLE])


def _features_of(matrices: np.ndarray) -> np.ndarray:
    """Feature values (n, 25) of a stack of matrices (n, n_g, n_g); NaN rows for empty ones."""
    return evaluate_stack(matrices, _stack_features, len(_TABLE))


# --------------------------------------------------------------------------------------
# Layer 3: family entry point
# --------------------------------------------------------------------------------------
def compute(
    levels: np.ndarray,
    mask: np.ndarray,
    n_levels: int,
    *,
    aggregations: Sequence[Aggregation | str] = (Aggregation.D3_AVG, Aggregation.D3_MRG),
    distance: int = 1,
) -> dict[str, float]:
    r"""Compute the 25 GLCM features for each requested aggregation (IBSI: LFYI).

    Matrices are built once per dimension (per-slice 2D for BTW3, SUJT, JJUI, ZW7Z; 3D
    for ITBB, IAZD), then merged and averaged as described in the module docstring.

    Parameters
    ----------
    levels : ndarray of int of shape (z, y, x)
        Discretised grey levels, ``1..n_levels`` inside ``mask`` (values outside ignored).
    mask : ndarray of bool of shape (z, y, x)
        ROI intensity mask.
    n_levels : int
        Number of grey levels :math:`N_g` of the discretisation.
    aggregations : sequence of Aggregation or str, default=(3d_avg, 3d_mrg)
        Any of ``2d_avg``, ``2d_smrg``, ``2_5d_dmrg``, ``2_5d_vmrg``, ``3d_avg``, ``3d_mrg``.
        The default matches the settings default (``texture.dimensions = ["3d"]``).
    distance : int, default=1
        Chebyshev distance :math:`\delta` between neighbours, in voxels.

    Returns
    -------
    dict of str to float
        ``{column_name(spec, aggregation): value}``, e.g. ``glcm_joint_max_3d_avg``.
        NaN only for values that are undefined on every matrix (see the feature Notes,
        and a ROI without any pair of neighbouring voxels).

    Raises
    ------
    SettingsError
        Unknown, zone-family or no aggregation; invalid ``n_levels`` or ``distance``;
        grey levels outside ``1..n_levels``.
    GeometryError, MaskError, EmptyRoiError
        Invalid arrays (see :func:`~voxelomics.features._directional.check_levels_and_mask`).
    """
    aggs = check_aggregations(aggregations, family="glcm")
    _check_distance(distance)
    levels, mask = check_levels_and_mask(levels, mask, n_levels, family="glcm")
    grid = level_grid(levels, mask, int(n_levels), margin=int(distance))
    stacks: dict[bool, np.ndarray] = {}
    for agg in aggs:
        two_d = agg in AGGREGATIONS_2D
        if two_d not in stacks:
            dirs = DIRECTIONS_2D if two_d else DIRECTIONS_3D
            stacks[two_d] = _counts(grid, int(n_levels), dirs, int(distance), per_slice=two_d)
    groups = [(aggregation_groups(stacks[agg in AGGREGATIONS_2D], agg),) for agg in aggs]
    with np.errstate(all="ignore"):  # thread-local (catch_warnings is not)
        values = evaluate_groups(groups, _features_of)
    out: dict[str, float] = {}
    for agg, row in zip(aggs, values, strict=True):
        for (spec, _), v in zip(_TABLE, row, strict=True):
            out[column_name(spec, agg)] = float(v)
    return out
