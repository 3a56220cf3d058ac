"""Memory pre-flight: what each family's matrices would need, known before they are built.

Every texture matrix and the histograms grow with the number of grey levels ``N_g``, and the
GLCM with its square: a huge ``n_bins``, or FBS with a tiny bin width on raw PET activity
(Bq/ml), asks for terabytes. The extraction orchestrator estimates each family from ``N_g``
and the ROI box before building anything (:func:`family_bytes`, :func:`ivh_bytes`) and
refuses a family whose estimate exceeds :func:`memory_budget_bytes`, with a message that
names the setting and the size.

The estimates are upper bounds of the peak memory of each family's kernel, written from
the kernels' allocations (8-byte counts; ``n_s`` per-slice matrices for 2D/2.5D, one per
direction; working copies for the merged and normalised matrices) and checked against
``tracemalloc`` peaks in ``tests/unit/features/test_memory.py``.
"""

from __future__ import annotations

import math
import os

__all__ = ["family_bytes", "ivh_bytes", "memory_budget_bytes", "format_bytes"]

_B = 8  # int64 counts and float64 probabilities
_DIRS_2D, _DIRS_3D = 4, 13
_WORK = 8  # working copies of one matrix (merge, normalisation, marginals, feature terms)


def family_bytes(
    family: str,
    n_levels: int,
    *,
    box_shape: tuple[int, int, int],
    n_voxels: int,
    two_d: bool,
    three_d: bool,
    distance: int = 1,
) -> int:
    """Upper bound of the peak memory of one texture family or the intensity histogram.

    Parameters
    ----------
    family : {"histogram", "glcm", "glrlm", "glszm", "gldzm", "ngtdm", "ngldm"}
        Family.
    n_levels : int
        ``N_g``, the number of grey levels after discretisation.
    box_shape : tuple of int
        Shape (z, y, x) of the intensity mask's bounding box, in voxels.
    n_voxels : int
        Voxels in the intensity mask.
    two_d, three_d : bool
        Whether per-slice (2D, 2.5D) and whole-volume (3D) matrices are built.
    distance : int, default=1
        NGLDM neighbourhood distance (its matrix has up to ``(2 distance + 1)^3`` columns).

    Returns
    -------
    int
        Bytes.

    Raises
    ------
    ValueError
        Unknown family.
    """
    n_g = int(n_levels)
    n_z = int(box_shape[0])
    extent = int(max(box_shape))
    per_slice = n_z if two_d else 0
    whole = 1 if three_d else 0
    if family == "histogram":
        return _B * n_g * 6
    if family == "glcm":  # the count stacks, and their float copies while they are merged
        return _B * n_g * n_g * (2 * (per_slice * _DIRS_2D + whole * _DIRS_3D) + _WORK)
    if family == "glrlm":  # an aggregation's matrices are evaluated as one stack: its copies
        return _B * n_g * extent * (per_slice * _DIRS_2D + whole * _DIRS_3D) * (1 + _WORK)
    if family in ("glszm", "gldzm"):
        # columns: distinct zone sizes (their sum is at most N_v, so at most sqrt(2 N_v) of
        # them) or distances to the border (at most half the largest extent, plus one)
        columns = (min(n_voxels, math.isqrt(2 * max(n_voxels, 1)) + 1) if family == "glszm"
                   else extent // 2 + 2)
        return _B * n_g * (1 + columns * (per_slice + whole + _WORK))
    if family == "ngtdm":  # plus busyness and complexity: pairs of the grey levels present
        n_present = min(n_g, int(n_voxels))
        return _B * (2 * n_g * (per_slice + whole + _WORK) + 4 * n_present * n_present)
    if family == "ngldm":
        columns = (2 * int(distance) + 1) ** 3
        return _B * n_g * columns * (per_slice + whole + _WORK)
    raise ValueError(f"no memory estimate for family {family!r}")


def ivh_bytes(n_grid: int, n_voxels: int) -> int:
    """Upper bound of the peak memory of the intensity-volume histogram.

    Parameters
    ----------
    n_grid : int
        Points of the IVH grid (:func:`voxelomics.features.ivh.grid_size`).
    n_voxels : int
        Voxels in the intensity mask.

    Returns
    -------
    int
        Bytes: nine float64 arrays over the grid, four over the voxels.
    """
    return _B * (9 * int(n_grid) + 4 * int(n_voxels))


def memory_budget_bytes() -> int:
    """The most one family may need: half of this process' memory.

    Half of the smaller of the physical memory and the address-space limit of the process
    (``RLIMIT_AS``, which ``extract_cohort(memory_limit=...)`` sets in its workers).

    Returns
    -------
    int
        Bytes.
    """
    limits = []
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft not in (resource.RLIM_INFINITY, -1) and soft > 0:
            limits.append(soft)
    except (ImportError, OSError, ValueError):  # pragma: no cover - Windows
        pass
    return (min(limits) if limits else 16 * 2**30) // 2


def format_bytes(n: float) -> str:
    """``n`` bytes for people: ``"512 MiB"``, ``"1.2 TiB"``.

    Parameters
    ----------
    n : float
        Bytes.

    Returns
    -------
    str

    Examples
    --------
    >>> format_bytes(3 * 2**40)
    '3 TiB'
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} TiB"  # pragma: no cover
