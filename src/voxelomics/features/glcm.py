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
    mean_over_matrices,
)
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


def _overlap(n: int, offset: int) -> tuple[slice, slice]:
    """Slices of an axis of length ``n`` for voxels ``p`` and neighbours ``p + offset``."""
    return slice(max(0, -offset), n - max(0, offset)), slice(max(0, offset), n - max(0, -offset))


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
    symmetric and sums to twice the number of pairs.

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
    if isinstance(distance, bool) or not isinstance(distance, (int, np.integer)) or distance < 1:
        raise SettingsError(f"glcm: distance must be a positive integer (voxels), got {distance!r}")
    lv, mask = check_levels_and_mask(levels, mask, n_levels, family="glcm")
    dirs = check_directions(directions, per_slice=per_slice, family="glcm")
    n_g = int(n_levels)
    n_z = lv.shape[0]
    n_s = n_z if per_slice else 1
    box = bounding_box(mask)
    z0 = box[0].start
    lv = lv[box]
    out = np.zeros((n_s, len(dirs), n_g, n_g), dtype=np.int64)
    for k, d in enumerate(dirs * int(distance)):
        pairs = [_overlap(n, int(o)) for n, o in zip(lv.shape, d, strict=True)]
        a = lv[tuple(p[0] for p in pairs)]
        b = lv[tuple(p[1] for p in pairs)]
        valid = (a > 0) & (b > 0)
        idx = (a[valid] - 1) * n_g + (b[valid] - 1)
        if per_slice:  # dz == 0: axis 0 of a and b is the cropped slice index
            z = np.nonzero(valid)[0] + z0
            counts = np.bincount(z * n_g * n_g + idx, minlength=n_z * n_g * n_g)
        else:
            counts = np.bincount(idx, minlength=n_g * n_g)
        counts = counts.reshape(n_s, n_g, n_g)
        out[:, k] = counts + counts.transpose(0, 2, 1)
    return out


# --------------------------------------------------------------------------------------
# Layer 2: one function per feature
# --------------------------------------------------------------------------------------
def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-np.sum(p * np.log2(p)))


@dataclass(frozen=True, eq=False)
class GLCMStats:
    r"""Normalised GLCM and the quantities every feature shares (IBSI notation).

    Attributes
    ----------
    n_g : int
        Number of grey levels :math:`N_g`.
    p_ij : ndarray of float of shape (n_g, n_g)
        Joint probabilities :math:`p_{ij}` (matrix divided by its sum).
    p_i : ndarray of shape (n_g,)
        Row marginal :math:`p_{i.}`.
    p_j : ndarray of shape (n_g,)
        Column marginal :math:`p_{.j}`.
    p_diff : ndarray of shape (n_g,)
        Diagonal probabilities :math:`p_{i-j,k}`, ``k = 0..n_g-1``.
    p_sum : ndarray of shape (2 * n_g - 1,)
        Cross-diagonal probabilities :math:`p_{i+j,k}`, ``k = 2..2 n_g``.
    i, j : ndarray of shape (n_g, 1) and (1, n_g)
        Grey levels 1..n_g, broadcastable against ``p_ij``.
    mu_i, mu_j : float
        Means :math:`\mu_{i.}`, :math:`\mu_{.j}` of the marginals.
    sigma_i, sigma_j : float
        Standard deviations :math:`\sigma_{i.}`, :math:`\sigma_{.j}` of the marginals.
    """

    n_g: int
    p_ij: np.ndarray
    p_i: np.ndarray
    p_j: np.ndarray
    p_diff: np.ndarray
    p_sum: np.ndarray
    i: np.ndarray
    j: np.ndarray
    mu_i: float
    mu_j: float
    sigma_i: float
    sigma_j: float

    @classmethod
    def from_counts(cls, counts: np.ndarray) -> GLCMStats:
        """Normalise a co-occurrence matrix and derive its marginals.

        Parameters
        ----------
        counts : ndarray of shape (n_g, n_g)
            Co-occurrence counts (symmetric for IBSI GLCMs).

        Returns
        -------
        GLCMStats

        Raises
        ------
        FeatureError
            The matrix is not square or holds no co-occurrence.
        """
        m = np.asarray(counts, dtype=np.float64)
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise FeatureError(f"glcm: expected a square (n_g, n_g) matrix, got shape {m.shape}")
        total = m.sum()
        if not total > 0:
            raise FeatureError("glcm: the co-occurrence matrix is empty (no pair of ROI voxels)")
        n_g = m.shape[0]
        p = m / total
        lv = np.arange(1, n_g + 1, dtype=np.float64)
        i, j = lv[:, None], lv[None, :]
        p_i, p_j = p.sum(axis=1), p.sum(axis=0)
        diff = np.abs(i - j).astype(np.int64).ravel()
        summ = (i + j - 2).astype(np.int64).ravel()
        mu_i, mu_j = float(lv @ p_i), float(lv @ p_j)
        return cls(
            n_g=n_g,
            p_ij=p,
            p_i=p_i,
            p_j=p_j,
            p_diff=np.bincount(diff, weights=p.ravel(), minlength=n_g),
            p_sum=np.bincount(summ, weights=p.ravel(), minlength=2 * n_g - 1),
            i=i,
            j=j,
            mu_i=mu_i,
            mu_j=mu_j,
            sigma_i=float(np.sqrt(((lv - mu_i) ** 2) @ p_i)),
            sigma_j=float(np.sqrt(((lv - mu_j) ** 2) @ p_j)),
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
    return float(s.p_ij.max())


def joint_avg(s: GLCMStats) -> float:
    r"""Joint average (IBSI: 60VM).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.joint.avg} = \sum_{i=1}^{N_g}\sum_{j=1}^{N_g} i\, p_{ij}`. Always defined.
    """
    return float(np.sum(s.i * s.p_ij))


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
    return float(np.sum((s.i - mu) ** 2 * s.p_ij))


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
    return _entropy(s.p_ij)


def diff_avg(s: GLCMStats) -> float:
    r"""Difference average (IBSI: TF7R).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.diff.avg} = \sum_{k=0}^{N_g-1} k\, p_{i-j,k}`. Always defined.
    """
    return float(np.arange(s.n_g) @ s.p_diff)


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
    return float(((k - diff_avg(s)) ** 2) @ s.p_diff)


def diff_entr(s: GLCMStats) -> float:
    r"""Difference entropy (IBSI: NTRS).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.diff.entr} = -\sum_{k=0}^{N_g-1} p_{i-j,k} \log_2 p_{i-j,k}`. Always defined.
    """
    return _entropy(s.p_diff)


def sum_avg(s: GLCMStats) -> float:
    r"""Sum average (IBSI: ZGXS).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.sum.avg} = \sum_{k=2}^{2N_g} k\, p_{i+j,k}`. Always defined.
    """
    return float(np.arange(2, 2 * s.n_g + 1) @ s.p_sum)


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
    return float(((k - sum_avg(s)) ** 2) @ s.p_sum)


def sum_entr(s: GLCMStats) -> float:
    r"""Sum entropy (IBSI: P6QZ).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.sum.entr} = -\sum_{k=2}^{2N_g} p_{i+j,k} \log_2 p_{i+j,k}`. Always defined.
    """
    return _entropy(s.p_sum)


def energy(s: GLCMStats) -> float:
    r"""Angular second moment, or energy (IBSI: 8ZQL).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.energy} = \sum_{i}\sum_{j} p_{ij}^2`. Always defined.
    """
    return float(np.sum(s.p_ij**2))


def contrast(s: GLCMStats) -> float:
    r"""Contrast (IBSI: ACUI).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.contrast} = \sum_{i}\sum_{j} (i - j)^2 p_{ij}`. Always defined.
    """
    return float(np.sum((s.i - s.j) ** 2 * s.p_ij))


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
    return float(np.sum(np.abs(s.i - s.j) * s.p_ij))


def inv_diff(s: GLCMStats) -> float:
    r"""Inverse difference (IBSI: IB1Z).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.inv.diff} = \sum_{k=0}^{N_g-1} \frac{p_{i-j,k}}{1 + k}`. Always defined.
    """
    return float(np.sum(s.p_diff / (1.0 + np.arange(s.n_g))))


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
    return float(np.sum(s.p_diff / (1.0 + np.arange(s.n_g) / s.n_g)))


def inv_diff_mom(s: GLCMStats) -> float:
    r"""Inverse difference moment, or homogeneity (IBSI: WF0Z).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.inv.diff.mom} = \sum_{k=0}^{N_g-1} \frac{p_{i-j,k}}{1 + k^2}`. Always defined.
    """
    return float(np.sum(s.p_diff / (1.0 + np.arange(s.n_g) ** 2)))


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
    return float(np.sum(s.p_diff / (1.0 + (np.arange(s.n_g) / s.n_g) ** 2)))


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
    return float(np.sum(s.p_diff[1:] / k**2))


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
    if s.sigma_i == 0.0 or s.sigma_j == 0.0:
        return float("nan")
    cov = np.sum((s.i - s.mu_i) * (s.j - s.mu_j) * s.p_ij)
    return float(cov / (s.sigma_i * s.sigma_j))


def auto_corr(s: GLCMStats) -> float:
    r"""Autocorrelation (IBSI: QWB0).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{cm.auto.corr} = \sum_{i}\sum_{j} i\, j\, p_{ij}`. Always defined.
    """
    return float(np.sum(s.i * s.j * s.p_ij))


def _cluster_moment(s: GLCMStats, power: int) -> float:
    base = s.i + s.j - s.mu_i - s.mu_j
    sq = base * base  # products, not ``** power``: pow() costs ~5x a multiplication
    term = sq if power == 2 else sq * base if power == 3 else sq * sq
    return float(np.sum(term * s.p_ij))


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
    hx = _entropy(s.p_i)
    if hx == 0.0:
        return float("nan")
    nz = s.p_ij > 0
    outer = np.outer(s.p_i, s.p_j)
    hxy1 = float(-np.sum(s.p_ij[nz] * np.log2(outer[nz])))
    return (_entropy(s.p_ij) - hxy1) / hx


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
    hxy2 = _entropy(np.outer(s.p_i, s.p_j))
    gap = max(hxy2 - _entropy(s.p_ij), 0.0)
    return float(np.sqrt(1.0 - np.exp(-2.0 * gap)))


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


def _features_of(matrices: np.ndarray) -> np.ndarray:
    """Feature values (n_nonempty, 25) of a stack of matrices (n, n_g, n_g); empty ones skipped."""
    rows = []
    for m in matrices:
        if m.sum() == 0:
            continue
        s = GLCMStats.from_counts(m)
        rows.append([fn(s) for _, fn in _TABLE])
    return np.asarray(rows, dtype=float).reshape(len(rows), len(_TABLE))


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
    levels, mask = check_levels_and_mask(levels, mask, n_levels, family="glcm")
    box = bounding_box(mask)  # features do not depend on voxels outside the ROI box;
    levels, mask = levels[box], mask[box]  # cropping keeps the per-slice stacks small
    stacks: dict[bool, np.ndarray] = {}
    out: dict[str, float] = {}
    for agg in aggs:
        two_d = agg in AGGREGATIONS_2D
        if two_d not in stacks:
            stacks[two_d] = glcm_matrices(
                levels,
                mask,
                n_levels=n_levels,
                directions=DIRECTIONS_2D if two_d else DIRECTIONS_3D,
                distance=distance,
                per_slice=two_d,
            )
        with np.errstate(all="ignore"):  # thread-local (catch_warnings is not)
            values = mean_over_matrices(_features_of(aggregation_groups(stacks[two_d], agg)))
        for (spec, _), v in zip(_TABLE, values, strict=True):
            out[column_name(spec, agg)] = float(v)
    return out
