"""Run lengths by binary lifting agree with walking every line voxel by voxel (tiny random ROIs)."""

import numpy as np
import pytest

from voxelomics.features._texture import DIRECTIONS_2D, DIRECTIONS_3D
from voxelomics.features.glrlm import glrlm_matrices


def _walk(levels, mask, n_levels, directions, per_slice):
    shape = levels.shape
    n_r = max(max(ax) - min(ax) + 1 for ax in np.nonzero(mask))
    out = np.zeros((shape[0] if per_slice else 1, len(directions), n_levels, n_r), dtype=np.int64)
    for k, d in enumerate(directions):
        for v in zip(*np.nonzero(mask), strict=True):
            prev = tuple(int(a) - int(o) for a, o in zip(v, d, strict=True))
            inside = all(0 <= p < n for p, n in zip(prev, shape, strict=True))
            if inside and mask[prev] and levels[prev] == levels[v]:
                continue  # not a run start
            length, cur = 1, tuple(int(a) for a in v)
            while True:
                nxt = tuple(a + int(o) for a, o in zip(cur, d, strict=True))
                if not all(0 <= p < n for p, n in zip(nxt, shape, strict=True)):
                    break
                if not mask[nxt] or levels[nxt] != levels[v]:
                    break
                length, cur = length + 1, nxt
            out[v[0] if per_slice else 0, k, levels[v] - 1, length - 1] += 1
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("directions, per_slice", [(DIRECTIONS_3D, False), (DIRECTIONS_2D, True)])
def test_runs_match_a_voxel_walk(seed, directions, per_slice):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(2, 9, size=3))
    levels = rng.integers(1, 3 + seed % 2, size=shape)
    mask = rng.random(shape) < 0.85
    mask[0, 0, 0] = True
    got = glrlm_matrices(levels, mask, n_levels=3, directions=directions, per_slice=per_slice)
    np.testing.assert_array_equal(got, _walk(levels, mask, 3, directions, per_slice))
