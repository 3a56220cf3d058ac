"""Shared machinery of the directional texture families: GLCM and GLRLM.

Private to :mod:`voxelomics.features`. It holds what the two families have in common:

* input validation at the family entry point (levels, mask, directions, aggregations),
  with the same error classes as the zone families (:mod:`voxelomics.features._zones`);
* the IBSI aggregation of directional matrices: which matrices are merged (counts summed)
  for each of the six methods BTW3, SUJT, JJUI, ZW7Z, ITBB and IAZD
  (:func:`aggregation_groups`), and the mean of per-matrix feature values
  (:func:`mean_over_matrices`).

Arrays are (z, y, x). Grey levels are integers ``1..n_levels`` inside the ROI.
"""

from __future__ import annotations

import numpy as np

from voxelomics.errors import SettingsError
from voxelomics.features._texture import Aggregation

__all__ = [
    "DIRECTIONAL_AGGREGATIONS",
    "AGGREGATIONS_2D",
    "check_levels_and_mask",
    "check_directions",
    "check_aggregations",
    "aggregation_groups",
    "mean_over_matrices",
    "evaluate_stack",
    "evaluate_groups",
    "CHUNK_ELEMENTS",
    "bounding_box",
]

#: Matrix elements evaluated together: the feature functions run on stacks of matrices (one
#: numpy call per feature for many matrices instead of one per matrix), in chunks of at most
#: this many elements (or one matrix, when a matrix is larger), so that their temporaries stay
#: within a few MiB whatever the number of slices and grey levels.
CHUNK_ELEMENTS = 2**17

#: The six IBSI aggregation methods of the directional families (GLCM, GLRLM).
DIRECTIONAL_AGGREGATIONS: tuple[Aggregation, ...] = (
    Aggregation.D2_AVG,
    Aggregation.D2_SMRG,
    Aggregation.D25_DMRG,
    Aggregation.D25_VMRG,
    Aggregation.D3_AVG,
    Aggregation.D3_MRG,
)
#: The methods built from per-slice 2D matrices (the others use 3D matrices).
AGGREGATIONS_2D: frozenset[Aggregation] = frozenset(
    {Aggregation.D2_AVG, Aggregation.D2_SMRG, Aggregation.D25_DMRG, Aggregation.D25_VMRG}
)


def check_levels_and_mask(
    levels: np.ndarray, mask: np.ndarray, n_levels: int, *, family: str
) -> tuple[np.ndarray, np.ndarray]:
    """Validate discretised grey levels and their ROI mask.

    The directional families' entry point to the checks the zone families use
    (:func:`voxelomics.features._zones.check_inputs`): one set of rules and messages.

    Parameters
    ----------
    levels : ndarray of int of shape (z, y, x)
        Discretised grey levels; values inside ``mask`` must lie in ``1..n_levels``.
        Values outside the mask are ignored.
    mask : ndarray of bool (or 0/1 integers) of shape (z, y, x)
        ROI intensity mask.
    n_levels : int
        Number of grey levels :math:`N_g` of the discretisation.
    family : str
        Family name used in the messages (``"glcm"``, ``"glrlm"``).

    Returns
    -------
    levels : ndarray of int64 of shape (z, y, x)
        Grey levels inside the mask, 0 outside.
    mask : ndarray of bool of shape (z, y, x)

    Raises
    ------
    SettingsError
        ``n_levels`` is not a positive integer, or ``levels`` is not integer-valued or
        holds values outside ``1..n_levels`` in the ROI (not discretised with these
        settings; same class as the zone families).
    GeometryError
        ``levels`` is not 3D or its shape differs from ``mask``.
    MaskError
        ``mask`` holds values other than True/False (0/1).
    EmptyRoiError
        The mask holds no voxel.
    """
    from voxelomics.features._zones import check_inputs  # _zones imports this module

    levels, mask, _ = check_inputs(levels, mask, n_levels, family=family)
    return levels, mask


def check_directions(directions, *, per_slice: bool, family: str) -> np.ndarray:
    """Validate direction vectors ``(dz, dy, dx)``.

    Parameters
    ----------
    directions : array-like of int of shape (n_directions, 3)
        Unit offsets with components in {-1, 0, 1}, none all zero.
    per_slice : bool
        When True the offsets must stay in the slice (``dz == 0``).
    family : str
        Family name used in the messages.

    Returns
    -------
    ndarray of int64 of shape (n_directions, 3)

    Raises
    ------
    SettingsError
        Wrong shape, components outside {-1, 0, 1}, a zero vector, or ``dz != 0`` with
        ``per_slice``.
    """
    d = np.asarray(directions)
    if d.ndim != 2 or d.shape[1] != 3 or d.shape[0] == 0 or not np.issubdtype(d.dtype, np.integer):
        raise SettingsError(
            f"{family}: directions must be integers of shape (n_directions, 3) in (dz, dy, dx) "
            f"order, got {d.dtype} array of shape {d.shape}"
        )
    if np.any(np.abs(d) > 1) or np.any(np.all(d == 0, axis=1)):
        raise SettingsError(
            f"{family}: directions must be non-zero with components in {{-1, 0, 1}}, got {d.tolist()}"
        )
    if per_slice and np.any(d[:, 0] != 0):
        raise SettingsError(
            f"{family}: per-slice (2D) matrices need in-plane directions (dz = 0), got {d.tolist()}"
        )
    return d.astype(np.int64)


def check_aggregations(aggregations, *, family: str) -> list[Aggregation]:
    """Validate requested aggregation methods of a directional family.

    Parameters
    ----------
    aggregations : sequence of Aggregation or str
        Members of :data:`DIRECTIONAL_AGGREGATIONS` (or their values, e.g. ``"3d_avg"``).
    family : str
        Family name used in the messages.

    Returns
    -------
    list of Aggregation

    Raises
    ------
    SettingsError
        Unknown method, a zone-family method (``2d``, ``2_5d``, ``3d``), or none.
    """
    valid = ", ".join(a.value for a in DIRECTIONAL_AGGREGATIONS)
    if isinstance(aggregations, (str, Aggregation)):
        aggregations = [aggregations]
    out = []
    for a in aggregations:
        try:
            agg = Aggregation(a)
        except ValueError:
            raise SettingsError(f"{family}: unknown aggregation {a!r} (valid: {valid})") from None
        if agg not in DIRECTIONAL_AGGREGATIONS:
            raise SettingsError(
                f"{family}: aggregation {agg.value!r} is for the zone families (valid: {valid})"
            )
        out.append(agg)
    if not out:
        raise SettingsError(f"{family}: no aggregation requested; expected one or more of {valid}")
    return out


def aggregation_groups(stack: np.ndarray, aggregation: Aggregation) -> np.ndarray:
    """Merge a stack of directional matrices as an IBSI aggregation method prescribes.

    Parameters
    ----------
    stack : ndarray of shape (n_slices, n_directions, ...)
        Per-slice 2D matrices (2D and 2.5D methods) or one 3D stack with
        ``n_slices == 1`` (3D methods). Trailing axes are the matrix (and may be empty,
        e.g. for per-matrix voxel counts).
    aggregation : Aggregation
        One of :data:`DIRECTIONAL_AGGREGATIONS`.

    Returns
    -------
    ndarray of shape (n_groups, ...)
        Matrices from which features are computed and then averaged: every
        (slice, direction) matrix for the averaged methods (BTW3, ITBB), one per slice
        (SUJT), one per direction (JJUI), or a single merged matrix (ZW7Z, IAZD).
        Merging sums the counts.
    """
    agg = Aggregation(aggregation)
    if agg in (Aggregation.D2_AVG, Aggregation.D3_AVG):
        return stack.reshape((-1,) + stack.shape[2:])
    if agg is Aggregation.D2_SMRG:
        return stack.sum(axis=1)
    if agg is Aggregation.D25_DMRG:
        return stack.sum(axis=0)
    if agg in (Aggregation.D25_VMRG, Aggregation.D3_MRG):
        return stack.sum(axis=(0, 1))[None]
    raise SettingsError(f"aggregation {agg.value!r} does not apply to directional matrices")


def mean_over_matrices(values: np.ndarray) -> np.ndarray:
    """Average feature values over matrices, leaving undefined (NaN) values out.

    Parameters
    ----------
    values : ndarray of shape (n_matrices, n_features)

    Returns
    -------
    ndarray of shape (n_features,)
        NaN for a feature with no defined value (or when ``n_matrices == 0``).
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    ok = np.isfinite(values)
    n = ok.sum(axis=0)
    total = np.where(ok, values, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def evaluate_stack(matrices: np.ndarray, features, n_features: int, *per_matrix: np.ndarray) -> np.ndarray:
    """Feature values of a stack of matrices, evaluated in chunks; NaN rows for empty matrices.

    Parameters
    ----------
    matrices : ndarray of shape (n, ...)
        Count matrices.
    features : callable
        ``features(chunk, *per_matrix_chunks)`` → ndarray (n_chunk, n_features) for a
        sub-stack of non-empty matrices.
    n_features : int
    *per_matrix : ndarray of shape (n,)
        Values that go with each matrix (e.g. GLRLM voxel counts), chunked alike.

    Returns
    -------
    ndarray of float of shape (n, n_features)
        Empty matrices (no count) carry no texture: their row is NaN, which
        :func:`mean_over_matrices` leaves out.
    """
    n = matrices.shape[0]
    out = np.full((n, n_features), np.nan)
    nonempty = np.flatnonzero(matrices.reshape(n, -1).any(axis=1))
    step = max(1, CHUNK_ELEMENTS // max(1, int(np.prod(matrices.shape[1:]))))
    for a in range(0, nonempty.size, step):
        idx = nonempty[a:a + step]
        out[idx] = features(matrices[idx], *(extra[idx] for extra in per_matrix))
    return out


def evaluate_groups(groups, features_of) -> list[np.ndarray]:
    """Mean feature values of each aggregation's matrices.

    Parameters
    ----------
    groups : list of tuple of ndarray
        Per aggregation, the merged matrices (n_a, ...) from :func:`aggregation_groups` and
        any per-matrix arrays (n_a,) that go with them.
    features_of : callable
        ``features_of(matrices, *per_matrix)`` → ndarray (n, n_features), NaN rows for
        empty matrices (see :func:`evaluate_stack`).

    Returns
    -------
    list of ndarray of shape (n_features,)
        :func:`mean_over_matrices` per aggregation. Groups small enough
        (:data:`CHUNK_ELEMENTS` together) are evaluated in one pass.
    """
    if len(groups) > 1 and sum(g[0].size for g in groups) <= CHUNK_ELEMENTS:
        values = features_of(*(np.concatenate(parts) for parts in zip(*groups, strict=True)))
        bounds = np.cumsum([0] + [g[0].shape[0] for g in groups])
        return [mean_over_matrices(values[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return [mean_over_matrices(features_of(*g)) for g in groups]


def bounding_box(mask: np.ndarray) -> tuple[slice, slice, slice]:
    """Smallest box holding every ROI voxel.

    Parameters
    ----------
    mask : ndarray of bool of shape (z, y, x)
        Non-empty ROI mask.

    Returns
    -------
    tuple of slice
        One slice per axis (z, y, x).
    """
    idx = [np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != k))) for k in range(3)]
    return tuple(slice(int(i[0]), int(i[-1]) + 1) for i in idx)  # type: ignore[return-value]
