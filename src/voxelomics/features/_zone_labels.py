"""Grey-level zone labelling for GLSZM and GLDZM (IBSI reference manual, sections 3.8-3.9).

Private to :mod:`voxelomics.features`. A *zone* is a set of connected ROI voxels of equal
grey level: 26-connected in 3D, 8-connected within a slice for 2D and 2.5D aggregation.

Two exact methods give the same partition (zone numbering may differ, and no feature
depends on it):

* per grey level, :func:`scipy.ndimage.label` on ``mask & (levels == g)``: cost grows with
  the number of grey levels times the array size; fastest for few grey levels;
* one graph over the ROI voxels, an edge between neighbours of equal grey level (13
  half-neighbourhood offsets in 3D, 4 in-plane), and
  :func:`scipy.sparse.csgraph.connected_components`: cost grows with the ROI voxel count
  and edge count; fastest unless there are very few grey levels (IBSI CT phantom at 25 HU
  bins, 52 levels: ~10x faster).

:func:`label_zones` picks one by the number of grey levels present. :func:`crop_zones`
lets one labelling of the whole preprocessed arrays serve both families after each crops
to its own bounding box.

Arrays are (z, y, x).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

__all__ = ["Zones", "label_zones", "crop_zones"]

#: Above this many grey levels present, the graph method is used (3D, 2D). Measured on a
#: 46k-voxel soft-tissue ROI: 3D per-level 5.5 / 11 / 18 ms for 2 / 5 / 8 levels against
#: graph ~26 / 21 / 8.5 ms (few levels make big zones: many graph edges); 2D per-level
#: 3.4 / 6.7 / 10 ms against graph ~5 ms; 52 levels (CT phantom): 79 / 47 ms against 8 / 5 ms.
_GRAPH_MIN_LEVELS = {False: 6, True: 3}


@dataclass(frozen=True)
class Zones:
    """Grey-level zones of an ROI.

    Attributes
    ----------
    labels : ndarray of int64, shape (z, y, x)
        Zone index 1..n_zones, 0 outside the ROI.
    level : ndarray of int64, shape (n_zones,)
        Grey level of each zone.
    size : ndarray of int64, shape (n_zones,)
        Number of voxels of each zone.
    slice_index : ndarray of int64, shape (n_zones,)
        z index of the zone's (first) voxel; the slice of a 2D zone.
    """

    labels: np.ndarray
    level: np.ndarray
    size: np.ndarray
    slice_index: np.ndarray


def label_zones(
    levels: np.ndarray, mask: np.ndarray, n_levels: int, *, two_d: bool, method: str = "auto"
) -> Zones:
    """Label connected zones of equal grey level (IBSI 3.8).

    Parameters
    ----------
    levels : ndarray of int, shape (z, y, x)
        Grey levels 1..n_levels inside ``mask``.
    mask : ndarray of bool, shape (z, y, x)
        Intensity mask.
    n_levels : int
        Number of grey levels.
    two_d : bool
        8-connectivity within each slice (no linkage across slices) when True,
        26-connectivity in 3D otherwise.
    method : {"auto", "per_level", "graph"}, default="auto"
        Labelling method (module docstring); ``auto`` chooses by the number of grey levels.

    Returns
    -------
    Zones
    """
    present = np.flatnonzero(np.bincount(levels[mask].astype(np.int64, copy=False), minlength=n_levels + 1))
    if method == "auto":
        method = "graph" if present.size > _GRAPH_MIN_LEVELS[two_d] else "per_level"
    if method == "graph":
        return _label_by_graph(levels, mask, two_d)
    return _label_per_level(levels, mask, present, two_d)


def _label_per_level(levels: np.ndarray, mask: np.ndarray, present: np.ndarray, two_d: bool) -> Zones:
    structure = np.ones((3, 3, 3), dtype=bool)
    if two_d:
        structure[0] = False
        structure[2] = False
    labels = np.zeros(levels.shape, dtype=np.int64)
    zone_level = []
    offset = 0
    for g in present:
        lab, n = ndimage.label(mask & (levels == g), structure=structure)
        sel = lab > 0
        labels[sel] = lab[sel] + offset
        zone_level.append(np.full(n, g, dtype=np.int64))
        offset += n
    flat = labels.ravel()
    size = np.bincount(flat, minlength=offset + 1)[1:]
    z = np.broadcast_to(np.arange(levels.shape[0])[:, None, None], levels.shape).ravel()
    slice_index = np.zeros(offset, dtype=np.int64)
    inside = flat > 0
    slice_index[flat[inside] - 1] = z[inside]
    level = np.concatenate(zone_level) if zone_level else np.zeros(0, dtype=np.int64)
    return Zones(labels, level, size.astype(np.int64), slice_index)


def _half_offsets(two_d: bool) -> np.ndarray:
    """Lexicographically positive (dz, dy, dx) offsets of the 26 (or in-plane 8) neighbourhood."""
    r = np.arange(-1, 2)
    rz = np.array([0]) if two_d else r
    grid = np.stack(np.meshgrid(rz, r, r, indexing="ij"), axis=-1).reshape(-1, 3)
    first = grid[np.arange(len(grid)), np.argmax(grid != 0, axis=1)]
    return grid[first > 0]


def _label_by_graph(levels: np.ndarray, mask: np.ndarray, two_d: bool) -> Zones:
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    shape = levels.shape
    idx = np.flatnonzero(mask)  # raster order
    n = idx.size
    lev = levels.ravel()[idx].astype(np.int64, copy=False)
    # zero-padded copies: a neighbour index never leaves the array, and level 0 (outside
    # the mask) never equals a level inside it
    pshape = tuple(d + 2 for d in shape)
    coords = np.unravel_index(idx, shape)
    pidx = np.ravel_multi_index(tuple(c + 1 for c in coords), pshape)
    plev = np.zeros(int(np.prod(pshape)), dtype=np.int64)
    plev[pidx] = lev
    rank = np.zeros(plev.size, dtype=np.int64)
    rank[pidx] = np.arange(n)
    strides = np.array([pshape[1] * pshape[2], pshape[2], 1])
    src, dst = [], []
    for off in _half_offsets(two_d):
        nb = pidx + int(off @ strides)
        s = np.flatnonzero(plev[nb] == lev)
        src.append(s)
        dst.append(rank[nb[s]])
    s, r = np.concatenate(src), np.concatenate(dst)
    graph = csr_matrix((np.ones(s.size, dtype=np.int8), (s, r)), shape=(n, n))
    n_zones, comp = connected_components(graph, directed=False)
    labels = np.zeros(levels.size, dtype=np.int64)
    labels[idx] = comp + 1
    level = np.empty(n_zones, dtype=np.int64)
    level[comp] = lev
    slice_index = np.empty(n_zones, dtype=np.int64)
    slice_index[comp] = coords[0]
    size = np.bincount(comp, minlength=n_zones).astype(np.int64)
    return Zones(labels.reshape(shape), level, size, slice_index)


def crop_zones(zones: Zones, box_mask: np.ndarray, margin: int) -> Zones:
    """Crop zones labelled on a whole array as :func:`~voxelomics.features._zones.crop_to_roi` crops.

    Parameters
    ----------
    zones : Zones
        Labelled on arrays of ``box_mask``'s shape.
    box_mask : ndarray of bool, shape (z, y, x)
        Mask whose bounding box is kept; it must hold every labelled voxel.
    margin : int
        Zero margin added on every side (voxels).

    Returns
    -------
    Zones
        Same zones, ``labels`` cropped and padded, ``slice_index`` in cropped coordinates.
    """
    coords = np.nonzero(box_mask.any(axis=(1, 2)))[0], np.nonzero(box_mask.any(axis=(0, 2)))[0], \
        np.nonzero(box_mask.any(axis=(0, 1)))[0]
    box = tuple(slice(int(c[0]), int(c[-1]) + 1) for c in coords)
    labels = np.pad(zones.labels[box], margin, mode="constant", constant_values=0)
    return replace(zones, labels=labels, slice_index=zones.slice_index - int(coords[0][0]) + margin)
