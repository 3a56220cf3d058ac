r"""Grey level run length matrix (GLRLM) features (IBSI family TP0I, manual section 3.7).

Matrix
------
A run is a maximal sequence of consecutive ROI voxels with the same grey level along a
direction :math:`\mathbf{m}` (a Chebyshev-distance-1 offset ``(dz, dy, dx)``); a voxel
outside the ROI intensity mask ends a run. Element :math:`r_{ij}` of the
:math:`N_g \times N_r` matrix counts the runs of grey level :math:`i` and length
:math:`j`. A direction and its opposite give the same runs, so the 13 (3D) or 4 (2D)
unique directions are used.

Notation (IBSI): :math:`N_g` is ``n_levels``; :math:`N_r` the longest possible run
(here the largest extent of the ROI bounding box); :math:`N_s = \sum_{ij} r_{ij}` the
number of runs; :math:`N_v` the number of ROI voxels the matrix was built from;
:math:`r_{i.} = \sum_j r_{ij}` and :math:`r_{.j} = \sum_i r_{ij}` the marginal sums;
:math:`p_{ij} = r_{ij}/N_s`.

Aggregation
-----------
As for the GLCM (see :mod:`voxelomics.features.glcm`): BTW3 and ITBB average the
features of every directional matrix (2D: every slice and direction); SUJT merges the
directions of each slice, JJUI the slices of each direction, ZW7Z all 2D matrices, IAZD
all 3D matrices, by summing the run counts. :math:`N_v` is summed with the matrices, as
IBSI prescribes: a 2D matrix has the voxel count of its slice, a 3D matrix that of the
volume, and a merged matrix the sum over the matrices merged (e.g. 13 times the ROI
volume for IAZD), so the run percentage stays a fraction. Slices without ROI voxels
give empty matrices, which are skipped.

References
----------
.. [1] Zwanenburg A. et al., "The Image Biomarker Standardization Initiative",
   Radiology 295:328-338 (2020); reference manual arXiv:1612.07003, section
   "Grey level run length based features".
.. [2] Galloway M.M., "Texture analysis using gray level run lengths", Computer
   Graphics and Image Processing 4:172-179 (1975).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from voxelomics.errors import FeatureError
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
    "GLRLMStats",
    "glrlm_matrices",
    "voxel_counts",
    "compute",
    "sre",
    "lre",
    "lgre",
    "hgre",
    "srlge",
    "srhge",
    "lrlge",
    "lrhge",
    "glnu",
    "glnu_norm",
    "rlnu",
    "rlnu_norm",
    "run_perc",
    "gl_var",
    "rl_var",
    "run_entr",
]


# --------------------------------------------------------------------------------------
# Layer 1: matrices
# --------------------------------------------------------------------------------------
def glrlm_matrices(
    levels: np.ndarray,
    mask: np.ndarray,
    *,
    n_levels: int,
    directions: np.ndarray,
    per_slice: bool,
) -> np.ndarray:
    r"""Count grey level runs per direction (IBSI: TP0I).

    A voxel starts a run when its predecessor along the direction is outside the ROI or
    has another grey level; a compiled loop over the ROI voxels
    (:mod:`voxelomics.features._kernels`) follows each run from its start, :math:`O(N)`
    per direction.

    Parameters
    ----------
    levels : ndarray of int of shape (z, y, x)
        Discretised grey levels, ``1..n_levels`` inside ``mask``.
    mask : ndarray of bool of shape (z, y, x)
        ROI intensity mask.
    n_levels : int
        Number of grey levels :math:`N_g`.
    directions : ndarray of int of shape (n_directions, 3)
        Offsets ``(dz, dy, dx)`` with components in {-1, 0, 1}, e.g.
        :data:`~voxelomics.features._texture.DIRECTIONS_3D` or ``DIRECTIONS_2D``.
    per_slice : bool
        True: one matrix per slice (axis 0) and direction (in-plane directions only).
        False: one matrix per direction over the volume.

    Returns
    -------
    counts : ndarray of int64 of shape (n_slices, n_directions, n_levels, n_r)
        ``counts[s, d, i - 1, j - 1]`` is the number of runs of grey level ``i`` and
        length ``j``; ``n_slices`` is ``z`` when ``per_slice`` else 1, and ``n_r`` the
        largest extent (in voxels) of the mask's bounding box.

    Raises
    ------
    SettingsError
        Invalid ``n_levels`` or ``directions``; grey levels outside ``1..n_levels``.
    GeometryError, MaskError, EmptyRoiError
        Invalid arrays (see :func:`~voxelomics.features._directional.check_levels_and_mask`).

    Examples
    --------
    The IBSI manual's example image (one slice), runs along :math:`\rightarrow`:

    >>> import numpy as np
    >>> img = np.array([[[1, 2, 2, 3], [1, 2, 3, 3], [4, 2, 4, 1], [4, 1, 2, 3]]])
    >>> r = glrlm_matrices(img, img > 0, n_levels=4, directions=np.array([[0, 0, 1]]),
    ...                    per_slice=True)
    >>> r[0, 0]
    array([[4, 0, 0, 0],
           [3, 1, 0, 0],
           [2, 1, 0, 0],
           [3, 0, 0, 0]])
    """
    lv, mask = check_levels_and_mask(levels, mask, n_levels, family="glrlm")
    dirs = check_directions(directions, per_slice=per_slice, family="glrlm")
    grid = level_grid(lv, mask, int(n_levels), margin=1)
    counts = _counts(grid, int(n_levels), dirs, per_slice)
    if not per_slice:
        return counts
    out = np.zeros((lv.shape[0],) + counts.shape[1:], dtype=np.int64)
    z0 = bounding_box(mask)[0].start
    out[z0:z0 + counts.shape[0]] = counts
    return out


def _counts(grid: LevelGrid, n_g: int, dirs: np.ndarray, per_slice: bool) -> np.ndarray:
    """Run counts (n_slices of the box or 1, n_directions, n_g, n_r) from the kernel."""
    if per_slice:
        slices, n_s = grid.slice_index(), grid.box_shape[0]
    else:
        slices, n_s = np.zeros(grid.roi.size, dtype=np.int64), 1
    steps = np.abs(grid.steps(dirs))  # a direction and its opposite give the same runs
    return kernels().runs(grid.flat, grid.roi, steps, slices, n_s, n_g, max(grid.box_shape))


def voxel_counts(mask: np.ndarray, *, n_directions: int, per_slice: bool) -> np.ndarray:
    r"""Number of ROI voxels :math:`N_v` behind each directional matrix.

    Parameters
    ----------
    mask : ndarray of bool of shape (z, y, x)
        ROI intensity mask.
    n_directions : int
        Number of directions of the matrix stack.
    per_slice : bool
        True for per-slice (2D) matrices, False for 3D matrices.

    Returns
    -------
    ndarray of float of shape (n_slices, n_directions)
        Voxels per slice (2D) or in the volume (3D, ``n_slices == 1``); merged through
        :func:`~voxelomics.features._directional.aggregation_groups` exactly like the matrices.
    """
    per = mask.sum(axis=(1, 2)) if per_slice else np.array([mask.sum()])
    return np.repeat(per.astype(np.float64)[:, None], n_directions, axis=1)


# --------------------------------------------------------------------------------------
# Layer 2: one function per feature
# --------------------------------------------------------------------------------------
# Every feature function takes the statistics of one matrix (and returns a float) or of a
# stack of matrices (leading axis; returns one value per matrix): the family evaluates the
# matrices of an aggregation together.
_M = (-2, -1)  # the matrix axes


def _e(x) -> np.ndarray:
    """Per-matrix scalars, broadcastable against (..., n_g, n_r)."""
    return np.asarray(x)[..., None, None]


def _out(x):
    """A float for one matrix, an array of float for a stack."""
    x = np.asarray(x, dtype=np.float64)
    return float(x) if x.ndim == 0 else x


@dataclass(frozen=True, eq=False)
class GLRLMStats:
    r"""Run length matrix and the sums every feature shares (IBSI notation).

    Attributes
    ----------
    r_ij : ndarray of float of shape (n_g, n_r), or (n, n_g, n_r) for a stack
        Run counts :math:`r_{ij}`.
    r_i : ndarray of shape ([n,] n_g)
        Runs per grey level, :math:`r_{i.}`.
    r_j : ndarray of shape ([n,] n_r)
        Runs per run length, :math:`r_{.j}`.
    n_s : float, or ndarray of shape (n,) for a stack
        Number of runs :math:`N_s`.
    n_v : float, or ndarray of shape (n,) for a stack
        Number of voxels :math:`N_v` (summed over merged matrices).
    i : ndarray of shape (n_g, 1)
        Grey levels 1..n_g.
    j : ndarray of shape (1, n_r)
        Run lengths 1..n_r.
    p_ij : ndarray of shape ([n,] n_g, n_r)
        Joint probabilities :math:`r_{ij} / N_s`.

    Notes
    -----
    Built from one matrix, every feature function returns a float; built from a stack
    (a leading axis), each returns an ndarray with one value per matrix.
    """

    r_ij: np.ndarray
    r_i: np.ndarray
    r_j: np.ndarray
    n_s: float | np.ndarray
    n_v: float | np.ndarray
    i: np.ndarray
    j: np.ndarray
    p_ij: np.ndarray

    @classmethod
    def from_counts(cls, counts: np.ndarray, n_v: float) -> GLRLMStats:
        """Derive marginal sums from a run length matrix.

        Parameters
        ----------
        counts : ndarray of shape (n_g, n_r), or (n, n_g, n_r) for a stack
            Run counts.
        n_v : float, or ndarray of shape (n,) for a stack
            Number of ROI voxels the matrix was built from (summed when merged).

        Returns
        -------
        GLRLMStats

        Raises
        ------
        FeatureError
            The matrix is not 2D (or a stack of 2D matrices), holds no run, or ``n_v`` is
            not positive (any matrix of a stack).
        """
        r = np.asarray(counts, dtype=np.float64)
        if r.ndim not in (2, 3):
            raise FeatureError(f"glrlm: expected an (n_g, n_r) matrix or a stack of them, got shape {r.shape}")
        n_s = r.sum(axis=_M)
        if not np.all(n_s > 0):
            raise FeatureError("glrlm: the run length matrix is empty (no ROI voxel)")
        n_v = np.asarray(n_v, dtype=np.float64)
        if not np.all(n_v > 0):
            raise FeatureError(f"glrlm: the voxel count N_v must be positive, got {n_v}")
        return cls(
            r_ij=r,
            r_i=r.sum(axis=-1),
            r_j=r.sum(axis=-2),
            n_s=_out(n_s),
            n_v=_out(n_v),
            i=np.arange(1, r.shape[-2] + 1, dtype=np.float64)[:, None],
            j=np.arange(1, r.shape[-1] + 1, dtype=np.float64)[None, :],
            p_ij=r / _e(n_s),
        )


def sre(s: GLRLMStats) -> float:
    r"""Short runs emphasis (IBSI: 22OV).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{rlm.sre} = \frac{1}{N_s}\sum_{j=1}^{N_r} \frac{r_{.j}}{j^2}`. Always defined.
    """
    return _out((s.r_j / s.j[0] ** 2).sum(axis=-1) / s.n_s)


def lre(s: GLRLMStats) -> float:
    r"""Long runs emphasis (IBSI: W4KF).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{rlm.lre} = \frac{1}{N_s}\sum_{j=1}^{N_r} j^2 r_{.j}`. Always defined.
    """
    return _out((s.r_j * s.j[0] ** 2).sum(axis=-1) / s.n_s)


def lgre(s: GLRLMStats) -> float:
    r"""Low grey level run emphasis (IBSI: V3SW).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{rlm.lgre} = \frac{1}{N_s}\sum_{i=1}^{N_g} \frac{r_{i.}}{i^2}`. Always defined.
    """
    return _out((s.r_i / s.i[:, 0] ** 2).sum(axis=-1) / s.n_s)


def hgre(s: GLRLMStats) -> float:
    r"""High grey level run emphasis (IBSI: G3QZ).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{rlm.hgre} = \frac{1}{N_s}\sum_{i=1}^{N_g} i^2 r_{i.}`. Always defined.
    """
    return _out((s.r_i * s.i[:, 0] ** 2).sum(axis=-1) / s.n_s)


def srlge(s: GLRLMStats) -> float:
    r"""Short run low grey level emphasis (IBSI: HTZT).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{rlm.srlge} = \frac{1}{N_s}\sum_{i}\sum_{j} \frac{r_{ij}}{i^2 j^2}`.
    Always defined.
    """
    return _out((s.r_ij / (s.i**2 * s.j**2)).sum(axis=_M) / s.n_s)


def srhge(s: GLRLMStats) -> float:
    r"""Short run high grey level emphasis (IBSI: GD3A).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{rlm.srhge} = \frac{1}{N_s}\sum_{i}\sum_{j} \frac{i^2 r_{ij}}{j^2}`.
    Always defined.
    """
    return _out((s.r_ij * s.i**2 / s.j**2).sum(axis=_M) / s.n_s)


def lrlge(s: GLRLMStats) -> float:
    r"""Long run low grey level emphasis (IBSI: IVPO).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{rlm.lrlge} = \frac{1}{N_s}\sum_{i}\sum_{j} \frac{j^2 r_{ij}}{i^2}`.
    Always defined.
    """
    return _out((s.r_ij * s.j**2 / s.i**2).sum(axis=_M) / s.n_s)


def lrhge(s: GLRLMStats) -> float:
    r"""Long run high grey level emphasis (IBSI: 3KUM).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{rlm.lrhge} = \frac{1}{N_s}\sum_{i}\sum_{j} i^2 j^2 r_{ij}`. Always defined.
    """
    return _out((s.r_ij * s.i**2 * s.j**2).sum(axis=_M) / s.n_s)


def glnu(s: GLRLMStats) -> float:
    r"""Grey level non-uniformity (IBSI: R5YN).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{rlm.glnu} = \frac{1}{N_s}\sum_{i=1}^{N_g} r_{i.}^2`. Always defined.
    """
    return _out((s.r_i**2).sum(axis=-1) / s.n_s)


def glnu_norm(s: GLRLMStats) -> float:
    r"""Normalised grey level non-uniformity (IBSI: OVBL).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{rlm.glnu.norm} = \frac{1}{N_s^2}\sum_{i=1}^{N_g} r_{i.}^2`. Always defined.
    """
    return _out((s.r_i**2).sum(axis=-1) / np.asarray(s.n_s) ** 2)


def rlnu(s: GLRLMStats) -> float:
    r"""Run length non-uniformity (IBSI: W92Y).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{rlm.rlnu} = \frac{1}{N_s}\sum_{j=1}^{N_r} r_{.j}^2`. Always defined.
    """
    return _out((s.r_j**2).sum(axis=-1) / s.n_s)


def rlnu_norm(s: GLRLMStats) -> float:
    r"""Normalised run length non-uniformity (IBSI: IC23).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{rlm.rlnu.norm} = \frac{1}{N_s^2}\sum_{j=1}^{N_r} r_{.j}^2`. Always defined.
    """
    return _out((s.r_j**2).sum(axis=-1) / np.asarray(s.n_s) ** 2)


def run_perc(s: GLRLMStats) -> float:
    r"""Run percentage (IBSI: 9ZK5).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{rlm.r.perc} = N_s / N_v`, with :math:`N_v` summed over merged matrices
    (IBSI) so that the value stays in :math:`(0, 1]`. Always defined.
    """
    return _out(np.asarray(s.n_s) / s.n_v)


def gl_var(s: GLRLMStats) -> float:
    r"""Grey level variance (IBSI: 8CE5).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{rlm.gl.var} = \sum_{i}\sum_{j} (i - \mu)^2 p_{ij}`,
    :math:`\mu = \sum_{i}\sum_{j} i\, p_{ij}`. Always defined (0 for one grey level).
    """
    mu = (s.i * s.p_ij).sum(axis=_M)
    return _out(((s.i - _e(mu)) ** 2 * s.p_ij).sum(axis=_M))


def rl_var(s: GLRLMStats) -> float:
    r"""Run length variance (IBSI: SXLW).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{rlm.rl.var} = \sum_{i}\sum_{j} (j - \mu)^2 p_{ij}`,
    :math:`\mu = \sum_{i}\sum_{j} j\, p_{ij}`. Always defined.
    """
    mu = (s.j * s.p_ij).sum(axis=_M)
    return _out(((s.j - _e(mu)) ** 2 * s.p_ij).sum(axis=_M))


def run_entr(s: GLRLMStats) -> float:
    r"""Run entropy (IBSI: HJ9O).

    Returns
    -------
    float

    Notes
    -----
    :math:`F_{rlm.rl.entr} = -\sum_{i}\sum_{j} p_{ij}\log_2 p_{ij}`, with
    :math:`0 \log_2 0 = 0`. Always defined.
    """
    return _out(-(s.p_ij * np.log2(np.where(s.p_ij > 0, s.p_ij, 1.0))).sum(axis=_M))


def _spec(name: str, ibsi_id: str, tag: str, title: str) -> FeatureSpec:
    return FeatureSpec(
        name=f"glrlm_{name}", family="glrlm", ibsi_id=ibsi_id, ibsi_tag=tag, title=title
    )


_TABLE: tuple[tuple[FeatureSpec, Callable[[GLRLMStats], float]], ...] = (
    (_spec("short_runs_emphasis", "22OV", "rlm_sre", "Short runs emphasis"), sre),
    (_spec("long_runs_emphasis", "W4KF", "rlm_lre", "Long runs emphasis"), lre),
    (_spec("low_grey_level_run_emphasis", "V3SW", "rlm_lgre", "Low grey level run emphasis"), lgre),
    (_spec("high_grey_level_run_emphasis", "G3QZ", "rlm_hgre", "High grey level run emphasis"), hgre),
    (_spec("short_run_low_grey_level_emphasis", "HTZT", "rlm_srlge", "Short run low grey level emphasis"), srlge),
    (_spec("short_run_high_grey_level_emphasis", "GD3A", "rlm_srhge", "Short run high grey level emphasis"), srhge),
    (_spec("long_run_low_grey_level_emphasis", "IVPO", "rlm_lrlge", "Long run low grey level emphasis"), lrlge),
    (_spec("long_run_high_grey_level_emphasis", "3KUM", "rlm_lrhge", "Long run high grey level emphasis"), lrhge),
    (_spec("grey_level_non_uniformity", "R5YN", "rlm_glnu", "Grey level non-uniformity"), glnu),
    (
        _spec("grey_level_non_uniformity_normalised", "OVBL", "rlm_glnu_norm", "Normalised grey level non-uniformity"),
        glnu_norm,
    ),
    (_spec("run_length_non_uniformity", "W92Y", "rlm_rlnu", "Run length non-uniformity"), rlnu),
    (
        _spec("run_length_non_uniformity_normalised", "IC23", "rlm_rlnu_norm", "Normalised run length non-uniformity"),
        rlnu_norm,
    ),
    (_spec("run_percentage", "9ZK5", "rlm_r_perc", "Run percentage"), run_perc),
    (_spec("grey_level_variance", "8CE5", "rlm_gl_var", "Grey level variance"), gl_var),
    (_spec("run_length_variance", "SXLW", "rlm_rl_var", "Run length variance"), rl_var),
    (_spec("run_entropy", "HJ9O", "rlm_rl_entr", "Run entropy"), run_entr),
)

#: The 16 GLRLM features, in IBSI order.
FEATURES: tuple[FeatureSpec, ...] = tuple(spec for spec, _ in _TABLE)


def _stack_features(m: np.ndarray, n_v: np.ndarray) -> np.ndarray:
    """Feature values (n, 16) of a stack (n, n_g, n_r) of non-empty matrices."""
    s = GLRLMStats.from_counts(m, n_v)
    return np.column_stack([fn(s) for _, fn in _TABLE])


def _features_of(matrices: np.ndarray, n_v: np.ndarray) -> np.ndarray:
    """Feature values (n, 16) of matrices (n, n_g, n_r) with voxel counts (n,); NaN rows for empty ones."""
    return evaluate_stack(matrices, _stack_features, len(_TABLE), n_v)


# --------------------------------------------------------------------------------------
# Layer 3: family entry point
# --------------------------------------------------------------------------------------
def compute(
    levels: np.ndarray,
    mask: np.ndarray,
    n_levels: int,
    *,
    aggregations: Sequence[Aggregation | str] = (Aggregation.D3_AVG, Aggregation.D3_MRG),
) -> dict[str, float]:
    r"""Compute the 16 GLRLM features for each requested aggregation (IBSI: TP0I).

    Matrices are built once per dimension (per-slice 2D for BTW3, SUJT, JJUI, ZW7Z; 3D
    for ITBB, IAZD), then merged (run counts and :math:`N_v` summed) and averaged as
    described in the module docstring.

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

    Returns
    -------
    dict of str to float
        ``{column_name(spec, aggregation): value}``, e.g. ``glrlm_sre_3d_avg``. Every
        value is defined for a non-empty ROI.

    Raises
    ------
    SettingsError
        Unknown, zone-family or no aggregation; invalid ``n_levels``; grey levels outside
        ``1..n_levels``.
    GeometryError, MaskError, EmptyRoiError
        Invalid arrays (see :func:`~voxelomics.features._directional.check_levels_and_mask`).
    """
    aggs = check_aggregations(aggregations, family="glrlm")
    levels, mask = check_levels_and_mask(levels, mask, n_levels, family="glrlm")
    box = bounding_box(mask)  # N_v per slice counts the box's slices only
    grid = level_grid(levels, mask, int(n_levels), margin=1)
    stacks: dict[bool, tuple[np.ndarray, np.ndarray]] = {}
    for agg in aggs:
        two_d = agg in AGGREGATIONS_2D
        if two_d not in stacks:
            dirs = DIRECTIONS_2D if two_d else DIRECTIONS_3D
            stacks[two_d] = (_counts(grid, int(n_levels), dirs, per_slice=two_d),
                             voxel_counts(mask[box], n_directions=len(dirs), per_slice=two_d))
    groups = []
    for agg in aggs:
        counts, n_v = stacks[agg in AGGREGATIONS_2D]
        groups.append((aggregation_groups(counts, agg), aggregation_groups(n_v, agg)))
    with np.errstate(all="ignore"):  # thread-local (catch_warnings is not)
        values = evaluate_groups(groups, _features_of)
    out: dict[str, float] = {}
    for agg, row in zip(aggs, values, strict=True):
        for (spec, _), v in zip(_TABLE, row, strict=True):
            out[column_name(spec, agg)] = float(v)
    return out
