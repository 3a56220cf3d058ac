"""OMBB face-flush search: pruning by rotating-caliper lower bounds picks the exhaustive search's box."""

import numpy as np
import pytest
from scipy.spatial import ConvexHull

from voxelomics.features import _mesh


def _clouds():
    rng = np.random.default_rng(3)
    yield rng.normal(size=(300, 3)) * [3.0, 2.0, 1.0]
    # a voxel-grid block: coplanar hull faces, collinear silhouette edges (degenerate ties)
    g = np.stack(np.meshgrid(*[np.arange(4.0)] * 3, indexing="ij"), -1).reshape(-1, 3)
    yield g * [2.0, 1.0, 1.5]
    yield rng.random((60, 3)) @ rng.normal(size=(3, 3))
    ball = rng.normal(size=(400, 3))
    yield np.round(4 * ball / np.linalg.norm(ball, axis=1, keepdims=True))  # lattice points


@pytest.mark.parametrize("first", [1, 3, 32])
@pytest.mark.parametrize("points", list(_clouds()))
def test_pruned_search_equals_exhaustive(points, first, monkeypatch):
    hull = ConvexHull(points)
    pts = points[hull.vertices] - points[hull.vertices].mean(axis=0)
    normals = hull.equations[:, :3]
    sign = np.sign(normals[np.arange(len(normals)), np.argmax(np.abs(normals), axis=1)])
    normals = np.unique(np.round(normals * sign[:, None], 10), axis=0)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    monkeypatch.setattr(_mesh, "_OMBB_FIRST", first)  # small: most candidates in the second pass
    pruned = _mesh._face_flush_boxes(pts, normals)
    monkeypatch.setattr(_mesh, "_OMBB_FIRST", 10**9)
    full = _mesh._face_flush_boxes(pts, normals)
    assert pruned[0] == full[0]
    np.testing.assert_array_equal(pruned[1], full[1])
    # the returned axes give the returned volume, and the box encloses the hull
    assert _mesh._box_of(pts, pruned[1])[0] == pytest.approx(pruned[0], rel=1e-12)
    assert pruned[0] >= hull.volume * (1 - 1e-12)
