r"""The 25 GLCM features of one matrix or a stack of matrices (IBSI family LFYI, section 3.6).

Layer 2 of :mod:`voxelomics.features.glcm` (which builds the matrices, aggregates them and
re-exports every name here): :class:`GLCMStats` holds the normalised matrix and the
quantities the features share (IBSI notation, see :mod:`voxelomics.features.glcm`), and one
function per feature returns its value, a float for one ``(n_g, n_g)`` matrix or an array for
a stack ``(n, n_g, n_g)``. Each function's docstring gives its IBSI identifier and formula.

References
----------
.. [1] Zwanenburg A. et al., "The Image Biomarker Standardization Initiative",
   Radiology 295:328-338 (2020); reference manual arXiv:1612.07003, section
   "Grey level co-occurrence based features".
.. [2] Haralick R.M., Shanmugam K., Dinstein I., "Textural features for image
   classification", IEEE Trans. Syst. Man Cybern. SMC-3:610-621 (1973).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxelomics.errors import FeatureError

__all__ = [
    "GLCMStats",
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
