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
from dataclasses import dataclass

import numpy as np

from voxelomics.errors import FeatureError, SettingsError
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
from voxelomics.features.registry import FeatureSpec, column_name

__all__ = [
    "FEATURES",
    "DIRECTIONAL_AGGREGATIONS",
    "GLCMStats",
    "glcm_matrices",
    "compute",
    "joint_max",
    "joint_avg",
    "joint_var",
    "joint_entr",
    "diff_avg",
    "diff_var",
    "diff_entr",
    "sum_avg",
    "sum_var",
    "sum_entr",
    "energy",
    "contrast",
    "dissimilarity",
    "inv_diff",
    "inv_diff_norm",
    "inv_diff_mom",
    "inv_diff_mom_norm",
    "inv_var",
    "corr",
    "auto_corr",
    "clust_tend",
    "clust_shade",
    "clust_prom",
    "info_corr_1",
    "info_corr_2",
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


# --------------------------------------------------------------------------------------
# Layer 2: one function per feature
# --------------------------------------------------------------------------------------
# Every feature function takes the statistics of one matrix (and returns a float) or of a
# stack of matrices (leading axis; returns one value per matrix): the family evaluates the
# matrices of an aggregation together.
_M = (-2, -1)  # the matrix axes


def _e(x) -> np.ndarray:
    """Per-matrix scalars, broadcastable against (..., n_g, n_g)."""
    return np.asarray(x)[..., None, None]


def _k(x) -> np.ndarray:
    """Per-matrix scalars, broadcastable against (..., n)."""
    return np.asarray(x)[..., None]


def _out(x):
    """A float for one matrix, an array of float for a stack."""
    x = np.asarray(x, dtype=np.float64)
    return float(x) if x.ndim == 0 else x


def _entropy(p: np.ndarray, axes) -> np.ndarray:
    """-sum p log2 p over ``axes``, with 0 log2 0 = 0."""
    return -(p * np.log2(np.where(p > 0, p, 1.0))).sum(axis=axes)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot products over the last axis, matrix by matrix (BLAS ``dot``, as for one matrix).

    The marginal means feed the cluster moments, whose terms cancel: one dot product per
    matrix keeps them to the last bit of a single-matrix evaluation.
    """
    if b.ndim == 1:
        return np.asarray(a @ b)
    a = np.broadcast_to(a, b.shape)
    return np.fromiter((x @ y for x, y in zip(a, b, strict=True)), dtype=np.float64, count=b.shape[0])


def _grouped_sums(p: np.ndarray, key: np.ndarray, width: int) -> np.ndarray:
    """Sums of ``p`` (..., n_g, n_g) over the cells of each ``key`` value (0..width-1)."""
    flat = p.reshape(-1, p.shape[-2] * p.shape[-1])
    idx = (np.arange(flat.shape[0])[:, None] * width + key.ravel()[None, :]).ravel()
    sums = np.bincount(idx, weights=flat.ravel(), minlength=flat.shape[0] * width)
    return sums.reshape(p.shape[:-2] + (width,))


@dataclass(frozen=True, eq=False)
class GLCMStats:
    r"""Normalised GLCM and the quantities every feature shares (IBSI notation).

    Attributes
    ----------
    n_g : int
        Number of grey levels :math:`N_g`.
    p_ij : ndarray of float of shape (n_g, n_g), or (n, n_g, n_g) for a stack
        Joint probabilities :math:`p_{ij}` (matrix divided by its sum).
    p_i : ndarray of shape ([n,] n_g)
        Row marginal :math:`p_{i.}`.
    p_j : ndarray of shape ([n,] n_g)
        Column marginal :math:`p_{.j}`.
    p_diff : ndarray of shape ([n,] n_g)
        Diagonal probabilities :math:`p_{i-j,k}`, ``k = 0..n_g-1``.
    p_sum : ndarray of shape ([n,] 2 * n_g - 1)
        Cross-diagonal probabilities :math:`p_{i+j,k}`, ``k = 2..2 n_g``.
    i, j : ndarray of shape (n_g, 1) and (1, n_g)
        Grey levels 1..n_g, broadcastable against ``p_ij``.
    mu_i, mu_j : float, or ndarray of shape (n,) for a stack
        Means :math:`\mu_{i.}`, :math:`\mu_{.j}` of the marginals.
    sigma_i, sigma_j : float, or ndarray of shape (n,) for a stack
        Standard deviations :math:`\sigma_{i.}`, :math:`\sigma_{.j}` of the marginals.

    Notes
    -----
    Built from one matrix, every feature function returns a float; built from a stack
    (a leading axis), each returns an ndarray with one value per matrix.
    """

    n_g: int
    p_ij: np.ndarray
    p_i: np.ndarray
    p_j: np.ndarray
    p_diff: np.ndarray
    p_sum: np.ndarray
    i: np.ndarray
    j: np.ndarray
    mu_i: float | np.ndarray
    mu_j: float | np.ndarray
    sigma_i: float | np.ndarray
    sigma_j: float | np.ndarray

    @classmethod
    def from_counts(cls, counts: np.ndarray) -> GLCMStats:
        """Normalise a co-occurrence matrix and derive its marginals.

        Parameters
        ----------
        counts : ndarray of shape (n_g, n_g), or (n, n_g, n_g) for a stack
            Co-occurrence counts (symmetric for IBSI GLCMs).

        Returns
        -------
        GLCMStats

        Raises
        ------
        FeatureError
            The matrix is not square or holds no co-occurrence (any matrix of a stack).
        """
        m = np.asarray(counts, dtype=np.float64)
        if m.ndim not in (2, 3) or m.shape[-1] != m.shape[-2]:
            raise FeatureError(
                f"glcm: expected a square (n_g, n_g) matrix or a stack of them, got shape {m.shape}"
            )
        total = m.sum(axis=_M)
        if not np.all(total > 0):
            raise FeatureError("glcm: the co-occurrence matrix is empty (no pair of ROI voxels)")
        n_g = m.shape[-1]
        p = m / _e(total)
        lv = np.arange(1, n_g + 1, dtype=np.float64)
        i, j = lv[:, None], lv[None, :]
        p_i, p_j = p.sum(axis=-1), p.sum(axis=-2)
        mu_i, mu_j = _dot(lv, p_i), _dot(lv, p_j)
        return cls(
            n_g=n_g,
            p_ij=p,
            p_i=p_i,
            p_j=p_j,
            p_diff=_grouped_sums(p, np.abs(i - j).astype(np.int64), n_g),
            p_sum=_grouped_sums(p, (i + j - 2).astype(np.int64), 2 * n_g - 1),
            i=i,
            j=j,
            mu_i=_out(mu_i),
            mu_j=_out(mu_j),
            sigma_i=_out(np.sqrt(_dot((lv - _k(mu_i)) ** 2, p_i))),
            sigma_j=_out(np.sqrt(_dot((lv - _k(mu_j)) ** 2, p_j))),
        )


def joint_max(s: GLCMStats) -> float:
    r"""Joint maximum (IBSI: GYBY).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.joint.max} = \max(p_{ij})`. Always defined.
    """
    return _out(s.p_ij.max(axis=_M))


def joint_avg(s: GLCMStats) -> float:
    r"""Joint average (IBSI: 60VM).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.joint.avg} = \sum_{i=1}^{N_g}\sum_{j=1}^{N_g} i\, p_{ij}`. Always defined.
    """
    return _out((s.i * s.p_ij).sum(axis=_M))


def joint_var(s: GLCMStats) -> float:
    r"""Joint variance (IBSI: UR99).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.joint.var} = \sum_{i}\sum_{j} (i - \mu)^2 p_{ij}` with :math:`\mu` the
    joint average. Always defined (0 for a single grey level).
    """
    mu = joint_avg(s)
    return _out(((s.i - _e(mu)) ** 2 * s.p_ij).sum(axis=_M))


def joint_entr(s: GLCMStats) -> float:
    r"""Joint entropy (IBSI: TU9B).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.joint.entr} = -\sum_{i}\sum_{j} p_{ij} \log_2 p_{ij}`, with
    :math:`0 \log_2 0 = 0`. Always defined.
    """
    return _out(_entropy(s.p_ij, _M))


def diff_avg(s: GLCMStats) -> float:
    r"""Difference average (IBSI: TF7R).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.diff.avg} = \sum_{k=0}^{N_g-1} k\, p_{i-j,k}`. Always defined.
    """
    return _out((np.arange(s.n_g) * s.p_diff).sum(axis=-1))


def diff_var(s: GLCMStats) -> float:
    r"""Difference variance (IBSI: D3YU).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.diff.var} = \sum_{k=0}^{N_g-1} (k - \mu)^2 p_{i-j,k}` with :math:`\mu`
    the difference average. Always defined.
    """
    k = np.arange(s.n_g)
    return _out(((k - _k(diff_avg(s))) ** 2 * s.p_diff).sum(axis=-1))


def diff_entr(s: GLCMStats) -> float:
    r"""Difference entropy (IBSI: NTRS).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.diff.entr} = -\sum_{k=0}^{N_g-1} p_{i-j,k} \log_2 p_{i-j,k}`. Always defined.
    """
    return _out(_entropy(s.p_diff, -1))


def sum_avg(s: GLCMStats) -> float:
    r"""Sum average (IBSI: ZGXS).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.sum.avg} = \sum_{k=2}^{2N_g} k\, p_{i+j,k}`. Always defined.
    """
    return _out((np.arange(2, 2 * s.n_g + 1) * s.p_sum).sum(axis=-1))


def sum_var(s: GLCMStats) -> float:
    r"""Sum variance (IBSI: OEEB).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.sum.var} = \sum_{k=2}^{2N_g} (k - \mu)^2 p_{i+j,k}` with :math:`\mu` the
    sum average. Always defined.
    """
    k = np.arange(2, 2 * s.n_g + 1)
    return _out(((k - _k(sum_avg(s))) ** 2 * s.p_sum).sum(axis=-1))


def sum_entr(s: GLCMStats) -> float:
    r"""Sum entropy (IBSI: P6QZ).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.sum.entr} = -\sum_{k=2}^{2N_g} p_{i+j,k} \log_2 p_{i+j,k}`. Always defined.
    """
    return _out(_entropy(s.p_sum, -1))


def energy(s: GLCMStats) -> float:
    r"""Angular second moment, or energy (IBSI: 8ZQL).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.energy} = \sum_{i}\sum_{j} p_{ij}^2`. Always defined.
    """
    return _out((s.p_ij * s.p_ij).sum(axis=_M))


def contrast(s: GLCMStats) -> float:
    r"""Contrast (IBSI: ACUI).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.contrast} = \sum_{i}\sum_{j} (i - j)^2 p_{ij}`. Always defined.
    """
    return _out(((s.i - s.j) ** 2 * s.p_ij).sum(axis=_M))


def dissimilarity(s: GLCMStats) -> float:
    r"""Dissimilarity (IBSI: 8S9J).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.dissimilarity} = \sum_{i}\sum_{j} |i - j|\, p_{ij}` (equal to the
    difference average). Always defined.
    """
    return _out((np.abs(s.i - s.j) * s.p_ij).sum(axis=_M))


def inv_diff(s: GLCMStats) -> float:
    r"""Inverse difference (IBSI: IB1Z).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.inv.diff} = \sum_{k=0}^{N_g-1} \frac{p_{i-j,k}}{1 + k}`. Always defined.
    """
    return _out((s.p_diff / (1.0 + np.arange(s.n_g))).sum(axis=-1))


def inv_diff_norm(s: GLCMStats) -> float:
    r"""Normalised inverse difference (IBSI: NDRX).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.inv.diff.norm} = \sum_{k=0}^{N_g-1} \frac{p_{i-j,k}}{1 + k/N_g}`.
    Always defined.
    """
    return _out((s.p_diff / (1.0 + np.arange(s.n_g) / s.n_g)).sum(axis=-1))


def inv_diff_mom(s: GLCMStats) -> float:
    r"""Inverse difference moment, or homogeneity (IBSI: WF0Z).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.inv.diff.mom} = \sum_{k=0}^{N_g-1} \frac{p_{i-j,k}}{1 + k^2}`. Always defined.
    """
    return _out((s.p_diff / (1.0 + np.arange(s.n_g) ** 2)).sum(axis=-1))


def inv_diff_mom_norm(s: GLCMStats) -> float:
    r"""Normalised inverse difference moment (IBSI: 1QCO).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.inv.diff.mom.norm} = \sum_{k=0}^{N_g-1} \frac{p_{i-j,k}}{1 + (k/N_g)^2}`.
    Always defined.
    """
    return _out((s.p_diff / (1.0 + (np.arange(s.n_g) / s.n_g) ** 2)).sum(axis=-1))


def inv_var(s: GLCMStats) -> float:
    r"""Inverse variance (IBSI: E8JP).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.inv.var} = \sum_{k=1}^{N_g-1} \frac{p_{i-j,k}}{k^2}`. The sum starts at
    :math:`k = 1`, so a matrix with only diagonal co-occurrences gives 0 (defined).
    """
    k = np.arange(1, s.n_g)
    return _out((s.p_diff[..., 1:] / k**2).sum(axis=-1))


def corr(s: GLCMStats) -> float:
    r"""Correlation (IBSI: NI2N).

    Returns
    -------
    float

    Notes
    -----
    .. math:: F_{cm.corr} = \frac{1}{\sigma_{i.}\sigma_{.j}}
              \sum_{i}\sum_{j} (i - \mu_{i.})(j - \mu_{.j})\, p_{ij}

    When the matrix holds a single grey level, :math:`\sigma_{i.} = \sigma_{.j} = 0` and
    the correlation is 0/0: mathematically undefined, returned as NaN (IBSI gives no
    convention).
    """
    sigma = np.asarray(s.sigma_i) * np.asarray(s.sigma_j)
    cov = ((s.i - _e(s.mu_i)) * (s.j - _e(s.mu_j)) * s.p_ij).sum(axis=_M)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = cov / sigma
    undefined = (np.asarray(s.sigma_i) == 0.0) | (np.asarray(s.sigma_j) == 0.0)
    return _out(np.where(undefined, np.nan, value))


def auto_corr(s: GLCMStats) -> float:
    r"""Autocorrelation (IBSI: QWB0).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.auto.corr} = \sum_{i}\sum_{j} i\, j\, p_{ij}`. Always defined.
    """
    return _out((s.i * s.j * s.p_ij).sum(axis=_M))


def _cluster_moment(s: GLCMStats, power: int) -> float:
    base = s.i + s.j - _e(s.mu_i) - _e(s.mu_j)
    sq = base * base  # products, not ``** power``: pow() costs ~5x a multiplication
    term = sq if power == 2 else sq * base if power == 3 else sq * sq
    return _out((term * s.p_ij).sum(axis=_M))


def clust_tend(s: GLCMStats) -> float:
    r"""Cluster tendency (IBSI: DG8W).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.clust.tend} = \sum_{i}\sum_{j} (i + j - \mu_{i.} - \mu_{.j})^2 p_{ij}`
    (equal to the sum variance). Always defined.
    """
    return _cluster_moment(s, 2)


def clust_shade(s: GLCMStats) -> float:
    r"""Cluster shade (IBSI: 7NFM).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.clust.shade} = \sum_{i}\sum_{j} (i + j - \mu_{i.} - \mu_{.j})^3 p_{ij}`.
    Always defined.
    """
    return _cluster_moment(s, 3)


def clust_prom(s: GLCMStats) -> float:
    r"""Cluster prominence (IBSI: AE86).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.clust.prom} = \sum_{i}\sum_{j} (i + j - \mu_{i.} - \mu_{.j})^4 p_{ij}`.
    Always defined.
    """
    return _cluster_moment(s, 4)


def info_corr_1(s: GLCMStats) -> float:
    r"""Information correlation 1 (IBSI: R8DG).

    Returns
    -------
    float

    Notes
    -----
    .. math:: F_{cm.info.corr.1} = \frac{HXY - HXY_1}{HX}

    with :math:`HXY = -\sum_{ij} p_{ij}\log_2 p_{ij}`,
    :math:`HX = -\sum_i p_{i.}\log_2 p_{i.}` and
    :math:`HXY_1 = -\sum_{ij} p_{ij}\log_2(p_{i.}p_{.j})`. For a single grey level
    :math:`HX = 0` and the numerator is 0 as well: undefined, returned as NaN.
    """
    hx = _entropy(s.p_i, -1)
    nz = s.p_ij > 0
    outer = s.p_i[..., :, None] * s.p_j[..., None, :]
    hxy1 = -np.where(nz, s.p_ij * np.log2(np.where(nz, outer, 1.0)), 0.0).sum(axis=_M)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = (_entropy(s.p_ij, _M) - hxy1) / hx
    return _out(np.where(hx == 0.0, np.nan, value))


def info_corr_2(s: GLCMStats) -> float:
    r"""Information correlation 2 (IBSI: JN9H).

    Returns
    -------
    float

    Notes
    -----
    .. math:: F_{cm.info.corr.2} = \sqrt{1 - \exp\left(-2\,(HXY_2 - HXY)\right)}

    with :math:`HXY_2 = -\sum_{ij} p_{i.}p_{.j}\log_2(p_{i.}p_{.j})` (base-2 entropies
    inside a natural exponential, as in IBSI). :math:`HXY_2 \ge HXY` always holds; a
    negative difference from rounding is clipped to 0. A single grey level gives 0.
    """
    hxy2 = _entropy(s.p_i[..., :, None] * s.p_j[..., None, :], _M)
    gap = np.maximum(hxy2 - _entropy(s.p_ij, _M), 0.0)
    return _out(np.sqrt(1.0 - np.exp(-2.0 * gap)))


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
