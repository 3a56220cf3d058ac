"""Zone labelling: the skimage, graph and per-level methods give the same zones; shared zones give the same features."""

import numpy as np
import pytest

from voxelomics.features import gldzm, glszm
from voxelomics.features._zone_labels import crop_zones, label_zones


def _partition(zones, mask):
    """Zones as a set of (level, frozenset of flat voxel indices)."""
    flat = zones.labels.ravel()
    idx = np.flatnonzero(mask)
    groups = {}
    for i in idx:
        groups.setdefault(int(flat[i]), []).append(int(i))
    return {(int(zones.level[k - 1]), int(zones.size[k - 1]), int(zones.slice_index[k - 1]), frozenset(v))
            for k, v in groups.items()}


@pytest.mark.parametrize("two_d", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_skimage_graph_and_per_level_labelling_agree(two_d, seed):
    rng = np.random.default_rng(seed)
    shape = (5, 6, 7)  # no zero margin: zones touch the array border
    levels = rng.integers(1, 4 + 30 * (seed % 2), size=shape)  # few and many grey levels
    mask = rng.random(shape) < 0.8
    n = int(levels.max())
    a = label_zones(levels, mask, n, two_d=two_d, method="per_level")
    b = label_zones(levels, mask, n, two_d=two_d, method="graph")
    c = label_zones(levels, mask, n, two_d=two_d, method="skimage")
    assert a.level.size == b.level.size == c.level.size
    assert _partition(a, mask) == _partition(b, mask) == _partition(c, mask)


def test_hand_example_diagonal_connectivity():
    # two voxels of level 1 touching by a corner: one 3D zone (26-connectivity), two 2D zones
    levels = np.ones((2, 2, 2), dtype=np.int64)
    mask = np.zeros((2, 2, 2), dtype=bool)
    mask[0, 0, 0] = mask[1, 1, 1] = True
    for method in ("per_level", "graph", "skimage"):
        assert label_zones(levels, mask, 1, two_d=False, method=method).size.tolist() == [2]
        assert sorted(label_zones(levels, mask, 1, two_d=True, method=method).size.tolist()) == [1, 1]


def test_shared_zones_give_the_same_features():
    rng = np.random.default_rng(7)
    shape = (8, 9, 10)
    levels = rng.integers(1, 5, size=shape)
    morph = np.zeros(shape, dtype=bool)
    morph[1:7, 2:8, 1:9] = True
    mask = morph & (rng.random(shape) < 0.9)
    zones = {td: label_zones(levels, mask, 4, two_d=td) for td in (False, True)}
    aggs = ("2d", "2_5d", "3d")
    assert glszm.compute(levels, mask, 4, aggregations=aggs, _zones=zones) == glszm.compute(
        levels, mask, 4, aggregations=aggs)
    assert gldzm.compute(levels, mask, 4, aggregations=aggs, morph_mask=morph, _zones=zones) == gldzm.compute(
        levels, mask, 4, aggregations=aggs, morph_mask=morph)


def test_crop_zones_shifts_slice_index():
    levels = np.ones((6, 3, 3), dtype=np.int64)
    mask = np.zeros((6, 3, 3), dtype=bool)
    mask[3, 1, 1] = True
    cropped = crop_zones(label_zones(levels, mask, 1, two_d=True), mask, 1)
    assert cropped.labels.shape == (3, 3, 3)
    assert cropped.slice_index.tolist() == [1]
    assert cropped.labels[1, 1, 1] == 1
