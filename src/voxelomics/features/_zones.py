"""Shared machinery of the zone and neighbourhood families: GLSZM, GLDZM, NGTDM, NGLDM.

Private to :mod:`voxelomics.features`. It holds what the four families have in common:

* input validation at the family entry point (levels, masks, parameters, aggregations);
* cropping to the ROI bounding box with a zero margin (features are invariant to it);
* grey-level zone labelling (26-connected in 3D, 8-connected in-plane for 2D and 2.5D);
* neighbourhood offsets at Chebyshev distance δ;
* :class:`ZoneMatrix`, the grey level × column count matrix shared by GLSZM (column: zone
  size), GLDZM (zone distance) and NGLDM (dependence count), its precomputed quantities
  (:class:`MatrixStats`) and the feature kernels that the three families share, since IBSI
  defines their features with the same formulas over :math:`s_{ij}` (or :math:`d_{ij}`);
* the IBSI aggregation of per-matrix feature values (8QNN: mean over slices; 62GR, KOBO:
  one matrix).

Arrays are (z, y, x). Grey levels are integers ``1..n_levels`` inside the ROI.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from voxelomics.errors import EmptyRoiError, GeometryError, MaskError, SettingsError
from voxelomics.features._directional import bounding_box
from voxelomics.features._texture import Aggregation
from voxelomics.features._zone_labels import Zones, crop_zones, label_zones
from voxelomics.features.registry import FeatureSpec, column_name

__all__ = [
    "ZONE_AGGREGATIONS",
    "ZoneMatrix",
    "MatrixStats",
    "check_inputs",
    "check_aggregations",
    "check_positive_int",
    "crop_to_roi",
    "Zones",
    "label_zones",
    "crop_zones",
    "neighbour_offsets",
    "count_matrix",
    "split_by_slice",
    "matrix_stats",
    "evaluate",
]

#: Aggregation methods of the zone and neighbourhood families (IBSI 8QNN, 62GR, KOBO).
ZONE_AGGREGATIONS: tuple[Aggregation, ...] = (
    Aggregation.ZONE_2D,
    Aggregation.ZONE_25D,
    Aggregation.ZONE_3D,
)


# --------------------------------------------------------------------------- validation
def check_inputs(
    levels: np.ndarray,
    mask: np.ndarray,
    n_levels: int | None,
    *,
    family: str,
    morph_mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate discretised levels and masks; return them as int64 / bool arrays.

    Parameters
    ----------
    levels : ndarray of int, shape (z, y, x)
        Discretised grey levels; values inside ``mask`` must lie in ``1..n_levels``.
    mask : ndarray of bool or {0, 1}, shape (z, y, x)
        Intensity mask of the ROI.
    n_levels : int or None
        Number of grey levels :math:`N_g` of the discretisation; None accepts any level
        >= 1 (for helpers that do not build a matrix).
    family : str
        Family name, used in messages.
    morph_mask : ndarray of bool or {0, 1}, shape (z, y, x), optional
        Morphological mask of the ROI.

    Returns
    -------
    levels : ndarray of int64, shape (z, y, x)
        Copy with 0 outside the mask.
    mask : ndarray of bool, shape (z, y, x)
    morph_mask : ndarray of bool, shape (z, y, x), or None

    Raises
    ------
    GeometryError
        If an array is not 3-D or the shapes differ.
    MaskError
        If a mask holds values other than 0 and 1, or the intensity mask is not inside the
        morphological mask.
    EmptyRoiError
        If the intensity mask holds no voxel.
    SettingsError
        If ``n_levels`` is not a positive integer, or ``levels`` are not integers in
        ``1..n_levels`` inside the mask.
    """
    levels = np.asarray(levels)
    mask = _as_bool_mask(mask, "mask", family)
    if levels.ndim != 3:
        raise GeometryError(
            f"{family}: levels must be a 3-D array (z, y, x); got {levels.ndim} dimension(s) "
            f"with shape {levels.shape} (use shape (1, y, x) for a single slice)"
        )
    if mask.shape != levels.shape:
        raise GeometryError(
            f"{family}: mask shape {mask.shape} differs from levels shape {levels.shape}; "
            "expected identical (z, y, x) grids"
        )
    if n_levels is not None and (
        isinstance(n_levels, bool) or not isinstance(n_levels, (int, np.integer)) or n_levels < 1
    ):
        raise SettingsError(f"{family}: n_levels must be a positive integer; got {n_levels!r}")
    if not mask.any():
        raise EmptyRoiError(
            f"{family}: the intensity mask holds no voxel (shape {mask.shape}); "
            "expected at least one ROI voxel"
        )
    if not np.issubdtype(levels.dtype, np.integer):
        inside = levels[mask]
        if not (np.issubdtype(levels.dtype, np.floating) and np.all(inside == np.round(inside))):
            raise SettingsError(
                f"{family}: levels must hold discretised integer grey levels; got dtype "
                f"{levels.dtype} with non-integer values inside the mask (discretise first)"
            )
    inside = levels[mask]
    lo, hi = inside.min(), inside.max()
    if n_levels is None and lo < 1:
        raise SettingsError(
            f"{family}: grey levels inside the mask range from {lo} to {hi}; expected values >= 1"
        )
    if n_levels is not None and (lo < 1 or hi > n_levels):
        raise SettingsError(
            f"{family}: grey levels inside the mask range from {lo} to {hi}; expected values "
            f"in 1..n_levels = 1..{n_levels}"
        )
    out = np.zeros(levels.shape, dtype=np.int64)
    out[mask] = inside.astype(np.int64)
    morph = None
    if morph_mask is not None:
        morph = _as_bool_mask(morph_mask, "morph_mask", family)
        if morph.shape != levels.shape:
            raise GeometryError(
                f"{family}: morph_mask shape {morph.shape} differs from levels shape "
                f"{levels.shape}; expected identical (z, y, x) grids"
            )
        outside = int(np.count_nonzero(mask & ~morph))
        if outside:
            raise MaskError(
                f"{family}: {outside} intensity-mask voxel(s) lie outside the morphological "
                "mask; expected the intensity mask to be a subset (re-segmentation only "
                "removes voxels)"
            )
    return out, mask, morph


def _as_bool_mask(mask: np.ndarray, name: str, family: str) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype == bool:
        return mask
    values = np.unique(mask)
    if not np.all(np.isin(values, (0, 1))):
        shown = ", ".join(str(v) for v in values[:5]) + (" ..." if values.size > 5 else "")
        raise MaskError(
            f"{family}: {name} must be boolean or hold only 0 and 1; found values {shown}"
        )
    return mask.astype(bool)


def check_aggregations(
    aggregations: Iterable[Aggregation | str], family: str
) -> tuple[Aggregation, ...]:
    """Validate aggregation methods of a zone family.

    Parameters
    ----------
    aggregations : iterable of Aggregation or str
        Any of ``Aggregation.ZONE_2D`` ("2d", IBSI 8QNN), ``ZONE_25D`` ("2_5d", 62GR) and
        ``ZONE_3D`` ("3d", KOBO).
    family : str
        Family name, used in messages.

    Returns
    -------
    tuple of Aggregation
        Unique methods in the order given.

    Raises
    ------
    SettingsError
        If a method is unknown or belongs to GLCM/GLRLM, or none is given.
    """
    if isinstance(aggregations, (str, Aggregation)):
        aggregations = [aggregations]
    valid = [a.value for a in ZONE_AGGREGATIONS]
    out: list[Aggregation] = []
    for agg in aggregations:
        value = agg.value if isinstance(agg, Aggregation) else str(agg)
        if value not in valid:
            directional = {a.value for a in Aggregation} - set(valid)
            if value in directional:  # a GLCM/GLRLM method: name the zone-family counterpart
                close = [next(v for v in ("2_5d", "2d", "3d") if value.startswith(v))]
            else:
                close = difflib.get_close_matches(value, valid, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise SettingsError(
                f"{family}: unknown aggregation {value!r}; expected one of {valid} "
                f"(IBSI 8QNN, 62GR, KOBO){hint}"
            )
        if Aggregation(value) not in out:
            out.append(Aggregation(value))
    if not out:
        raise SettingsError(f"{family}: no aggregation requested; expected one or more of {valid}")
    return tuple(out)


def check_positive_int(value: int, name: str, family: str, *, minimum: int = 1) -> int:
    """Return ``value`` as int if it is an integer ``>= minimum``.

    Raises
    ------
    SettingsError
        Otherwise.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise SettingsError(f"{family}: {name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


# ------------------------------------------------------------------------------ geometry
def crop_to_roi(
    mask: np.ndarray, *arrays: np.ndarray | None, margin: int
) -> tuple[np.ndarray | None, ...]:
    """Crop ``mask`` and ``arrays`` to the bounding box of ``mask`` plus a zero margin.

    Parameters
    ----------
    mask : ndarray of bool, shape (z, y, x)
        Mask whose bounding box is kept (pass the union of masks when several matter).
    *arrays : ndarray of shape (z, y, x) or None
        Arrays cropped the same way; ``None`` is passed through.
    margin : int
        Voxels of zeros (False) added on every side, also beyond the image border, so
        neighbourhood and distance computations see "outside the ROI" there.

    Returns
    -------
    tuple of ndarray or None
        ``(mask, *arrays)`` cropped and padded.
    """
    box = bounding_box(mask)  # projections (any), not np.nonzero of every ROI voxel
    out = []
    for arr in (mask, *arrays):
        if arr is None:
            out.append(None)
            continue
        out.append(np.pad(arr[box], margin, mode="constant", constant_values=0))
    return tuple(out)


def neighbour_offsets(distance: int, two_d: bool) -> np.ndarray:
    """Offsets of the Chebyshev neighbourhood, centre excluded.

    Parameters
    ----------
    distance : int
        Chebyshev distance δ (voxels).
    two_d : bool
        In-plane offsets only (dz = 0).

    Returns
    -------
    ndarray of int64, shape (n, 3)
        (dz, dy, dx); ``n = (2δ+1)^3 - 1`` in 3D, ``(2δ+1)^2 - 1`` in 2D.
    """
    r = np.arange(-distance, distance + 1)
    rz = np.array([0]) if two_d else r
    grid = np.stack(np.meshgrid(rz, r, r, indexing="ij"), axis=-1).reshape(-1, 3)
    return grid[np.any(grid != 0, axis=1)].astype(np.int64)


def split_by_slice(
    slice_index: np.ndarray, *arrays: np.ndarray
) -> list[tuple[int, tuple[np.ndarray, ...]]]:
    """Group per-item arrays by slice.

    Parameters
    ----------
    slice_index : ndarray of int, shape (n,)
        Slice (z index) of each item.
    *arrays : ndarray of shape (n,)

    Returns
    -------
    list of (int, tuple of ndarray)
        ``(z, arrays restricted to slice z)`` for each slice that holds items, by increasing z.
    """
    order = np.argsort(slice_index, kind="stable")
    zs = slice_index[order]
    uniq, starts = np.unique(zs, return_index=True)
    bounds = list(starts[1:]) + [zs.size]
    out = []
    for z, a, b in zip(uniq, starts, bounds, strict=True):
        idx = order[a:b]
        out.append((int(z), tuple(arr[idx] for arr in arrays)))
    return out


# -------------------------------------------------------------------------------- matrix
@dataclass(frozen=True)
class ZoneMatrix:
    """A grey level × column count matrix (GLSZM, GLDZM or NGLDM), stored column-compressed.

    Only the columns that occur are stored, so a 3D GLSZM with one zone of 50,000 voxels
    stays small. :meth:`dense` returns the IBSI layout.

    Attributes
    ----------
    counts : ndarray of float64, shape (n_levels, n_columns)
        :math:`s_{ij}` (or :math:`d_{ij}`): number of zones (or neighbourhoods) with grey
        level ``i = row + 1`` and column value ``columns[col]``.
    columns : ndarray of int64, shape (n_columns,)
        Increasing column values :math:`j` (zone size in voxels, distance in voxels, or
        dependence count).
    n_voxels : int
        :math:`N_v`, number of voxels of the intensity mask the matrix was built from
        (summed over slices for a merged matrix).
    """

    counts: np.ndarray
    columns: np.ndarray
    n_voxels: int

    def dense(self) -> np.ndarray:
        """IBSI layout: ndarray of float64, shape (n_levels, max(columns)); column j-1 is j."""
        out = np.zeros((self.counts.shape[0], int(self.columns.max())))
        out[:, self.columns - 1] = self.counts
        return out


def _unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""``np.unique(values, return_inverse=True)`` for integers >= 1, without sorting.

    The column values of the zone matrices (zone sizes, distances, dependence counts) are
    small positive integers (at most the voxel count): their presence is counted in
    :math:`O(n + \max)` instead of sorted in :math:`O(n \log n)`; same result.
    """
    values = np.asarray(values).ravel().astype(np.int64, copy=False)
    if values.size == 0 or values.max() > max(1 << 20, 8 * values.size):
        columns, inv = np.unique(values, return_inverse=True)
        return columns, inv.ravel()
    present = np.bincount(values) > 0
    columns = np.flatnonzero(present)
    rank = np.cumsum(present) - 1
    return columns, rank[values]


def count_matrix(
    row_levels: np.ndarray, values: np.ndarray, n_levels: int, n_voxels: int
) -> ZoneMatrix:
    """Count items by (grey level, column value).

    Parameters
    ----------
    row_levels : ndarray of int, shape (n,)
        Grey level 1..n_levels of each item (zone or voxel).
    values : ndarray of int, shape (n,)
        Column value j >= 1 of each item.
    n_levels : int
        Number of grey levels (matrix rows).
    n_voxels : int
        :math:`N_v` to store with the matrix.

    Returns
    -------
    ZoneMatrix
    """
    columns, inv = _unique_inverse(values)
    flat = (row_levels.astype(np.int64) - 1) * columns.size + inv
    counts = np.bincount(flat, minlength=n_levels * columns.size).astype(np.float64)
    return ZoneMatrix(
        counts.reshape(n_levels, columns.size), columns.astype(np.int64), int(n_voxels)
    )


@dataclass(frozen=True)
class MatrixStats:
    """Quantities of a :class:`ZoneMatrix` used by the features (computed once).

    Attributes
    ----------
    p : ndarray of float64, shape (n_levels, n_columns)
        Joint probability :math:`p_{ij} = s_{ij} / N_s`.
    i : ndarray of float64, shape (n_levels, 1)
        Grey levels 1..n_levels.
    j : ndarray of float64, shape (1, n_columns)
        Column values.
    p_i : ndarray of float64, shape (n_levels,)
        Row marginal :math:`s_{i.} / N_s`.
    p_j : ndarray of float64, shape (n_columns,)
        Column marginal :math:`s_{.j} / N_s`.
    n_s : float
        :math:`N_s`, total count.
    n_v : float
        :math:`N_v`, number of voxels.
    """

    p: np.ndarray
    i: np.ndarray
    j: np.ndarray
    p_i: np.ndarray
    p_j: np.ndarray
    n_s: float
    n_v: float


def matrix_stats(matrix: ZoneMatrix) -> MatrixStats:
    """Precompute :class:`MatrixStats` of a non-empty :class:`ZoneMatrix`."""
    n_s = float(matrix.counts.sum())
    p = matrix.counts / n_s
    i = np.arange(1, p.shape[0] + 1, dtype=np.float64)[:, None]
    j = matrix.columns.astype(np.float64)[None, :]
    return MatrixStats(p, i, j, p.sum(axis=1), p.sum(axis=0), n_s, float(matrix.n_voxels))


# Kernels shared by GLSZM, GLDZM and NGLDM (IBSI defines them with identical formulas).
def small_j_emphasis(q: MatrixStats) -> float:
    r""":math:`\sum_j p_{.j} / j^2`."""
    return float(np.sum(q.p_j / q.j[0] ** 2))


def large_j_emphasis(q: MatrixStats) -> float:
    r""":math:`\sum_j j^2 p_{.j}`."""
    return float(np.sum(q.p_j * q.j[0] ** 2))


def low_grey_level_emphasis(q: MatrixStats) -> float:
    r""":math:`\sum_i p_{i.} / i^2`."""
    return float(np.sum(q.p_i / q.i[:, 0] ** 2))


def high_grey_level_emphasis(q: MatrixStats) -> float:
    r""":math:`\sum_i i^2 p_{i.}`."""
    return float(np.sum(q.p_i * q.i[:, 0] ** 2))


def small_j_low_grey_level_emphasis(q: MatrixStats) -> float:
    r""":math:`\sum_{ij} p_{ij} / (i^2 j^2)`."""
    return float(np.sum(q.p / (q.i**2 * q.j**2)))


def small_j_high_grey_level_emphasis(q: MatrixStats) -> float:
    r""":math:`\sum_{ij} i^2 p_{ij} / j^2`."""
    return float(np.sum(q.p * q.i**2 / q.j**2))


def large_j_low_grey_level_emphasis(q: MatrixStats) -> float:
    r""":math:`\sum_{ij} j^2 p_{ij} / i^2`."""
    return float(np.sum(q.p * q.j**2 / q.i**2))


def large_j_high_grey_level_emphasis(q: MatrixStats) -> float:
    r""":math:`\sum_{ij} i^2 j^2 p_{ij}`."""
    return float(np.sum(q.p * q.i**2 * q.j**2))


def grey_level_non_uniformity(q: MatrixStats) -> float:
    r""":math:`N_s^{-1} \sum_i s_{i.}^2 = N_s \sum_i p_{i.}^2`."""
    return float(q.n_s * np.sum(q.p_i**2))


def grey_level_non_uniformity_normalised(q: MatrixStats) -> float:
    r""":math:`N_s^{-2} \sum_i s_{i.}^2 = \sum_i p_{i.}^2`."""
    return float(np.sum(q.p_i**2))


def j_non_uniformity(q: MatrixStats) -> float:
    r""":math:`N_s^{-1} \sum_j s_{.j}^2`."""
    return float(q.n_s * np.sum(q.p_j**2))


def j_non_uniformity_normalised(q: MatrixStats) -> float:
    r""":math:`N_s^{-2} \sum_j s_{.j}^2`."""
    return float(np.sum(q.p_j**2))


def percentage(q: MatrixStats) -> float:
    r""":math:`N_s / N_v`."""
    return float(q.n_s / q.n_v)


def grey_level_variance(q: MatrixStats) -> float:
    r""":math:`\sum_{ij} (i-\mu)^2 p_{ij}`, :math:`\mu = \sum_{ij} i p_{ij}`."""
    i = q.i[:, 0]
    mu = np.sum(i * q.p_i)
    return float(np.sum((i - mu) ** 2 * q.p_i))


def j_variance(q: MatrixStats) -> float:
    r""":math:`\sum_{ij} (j-\mu)^2 p_{ij}`, :math:`\mu = \sum_{ij} j p_{ij}`."""
    j = q.j[0]
    mu = np.sum(j * q.p_j)
    return float(np.sum((j - mu) ** 2 * q.p_j))


def joint_entropy(q: MatrixStats) -> float:
    r""":math:`-\sum_{ij} p_{ij} \log_2 p_{ij}` over :math:`p_{ij} > 0`."""
    p = q.p[q.p > 0]
    return float(-np.sum(p * np.log2(p)))


def joint_energy(q: MatrixStats) -> float:
    r""":math:`\sum_{ij} p_{ij}^2`."""
    return float(np.sum(q.p**2))


# --------------------------------------------------------------------------- aggregation
def evaluate(
    matrices: Mapping[Aggregation, Sequence[object]],
    kernels: Sequence[tuple[FeatureSpec, Callable[[object], float]]],
    prepare: Callable[[object], object | None],
) -> dict[str, float]:
    """Apply feature kernels to matrices and aggregate as IBSI prescribes.

    Parameters
    ----------
    matrices : mapping of Aggregation to sequence of matrices
        ``ZONE_2D``: one matrix per slice; ``ZONE_25D`` and ``ZONE_3D``: one matrix.
    kernels : sequence of (FeatureSpec, callable)
        Feature functions of the prepared quantities.
    prepare : callable
        Builds the quantities of one matrix; returns None for a matrix on which every
        feature is undefined (e.g. an NGTDM without any valid neighbourhood).

    Returns
    -------
    dict of str to float
        ``column_name(spec, aggregation)`` → value. For ``ZONE_2D`` the mean over slices
        whose matrix is defined (IBSI 8QNN); NaN when no matrix is defined.
    """
    out: dict[str, float] = {}
    for agg, mats in matrices.items():
        prepared = [q for q in (prepare(m) for m in mats) if q is not None]
        for spec, fn in kernels:
            values = [fn(q) for q in prepared]
            out[column_name(spec, agg)] = float(np.mean(values)) if values else float("nan")
    return out
