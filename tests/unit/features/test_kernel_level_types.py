"""The compiled counting kernels read grey levels stored in 1, 2 or 4 bytes alike.

``features/_grid.py`` lays the levels out in the smallest unsigned type holding ``N_g``
(uint8 up to 255 grey levels, uint16 up to 65,535, uint32 above). The brute-force tests of
each family use a few grey levels (uint8); here the same random volume is relabelled with
levels far apart ({1, 2, 3} -> {1, N_g - 1, N_g}) so that the uint16 and uint32 paths are
used, and the counts must be those of the uint8 path moved to the new rows. NGTDM's
neighbour means are checked against an independent ``scipy.ndimage`` correlation.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from voxelomics.features import ngldm, ngtdm
from voxelomics.features._grid import level_dtype
from voxelomics.features._texture import DIRECTIONS_2D, DIRECTIONS_3D
from voxelomics.features.glcm import glcm_matrices
from voxelomics.features.glrlm import glrlm_matrices


def _volume(seed):
    rng = np.random.default_rng(seed)
    levels = rng.integers(1, 4, size=(5, 7, 6))
    mask = rng.random(levels.shape) < 0.8
    mask[2, 3, 3] = True
    return levels, mask


def _relabel(levels, n_g):
    rows = np.array([0, 1, n_g - 1, n_g])  # level 1 -> 1, 2 -> n_g - 1, 3 -> n_g
    return rows[levels], rows[1:] - 1


def test_level_types():
    assert [level_dtype(n) for n in (3, 255, 256, 65535, 65536)] == [
        np.uint8, np.uint8, np.uint16, np.uint16, np.uint32]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("directions, per_slice", [(DIRECTIONS_3D, False), (DIRECTIONS_2D, True)])
def test_glcm_uint16_equals_uint8(seed, directions, per_slice):
    levels, mask = _volume(seed)
    small = glcm_matrices(levels, mask, n_levels=3, directions=directions, per_slice=per_slice)
    n_g = 300
    big_levels, rows = _relabel(levels, n_g)
    big = glcm_matrices(big_levels, mask, n_levels=n_g, directions=directions, per_slice=per_slice)
    want = np.zeros(small.shape[:2] + (n_g, n_g), dtype=np.int64)
    want[..., rows[:, None], rows[None, :]] = small
    np.testing.assert_array_equal(big, want)


@pytest.mark.parametrize("n_g, directions, per_slice, n_slices", [
    (300, DIRECTIONS_3D, False, 5), (300, DIRECTIONS_2D, True, 5),
    (70_000, DIRECTIONS_2D, True, 1),  # one slice: the (70,000 x n_r) matrices stay small
])
def test_glrlm_wide_types_equal_uint8(n_g, directions, per_slice, n_slices):
    levels, mask = _volume(7)
    levels, mask = levels[:n_slices], mask[:n_slices]
    mask[0, 3, 3] = True
    small = glrlm_matrices(levels, mask, n_levels=3, directions=directions, per_slice=per_slice)
    big_levels, rows = _relabel(levels, n_g)
    big = glrlm_matrices(big_levels, mask, n_levels=n_g, directions=directions, per_slice=per_slice)
    want = np.zeros(small.shape[:2] + (n_g, small.shape[3]), dtype=np.int64)
    want[:, :, rows, :] = small
    np.testing.assert_array_equal(big, want)


@pytest.mark.parametrize("n_g", [300, 70_000])
@pytest.mark.parametrize("aggregation", ["2d", "3d"])
def test_ngldm_wide_types_equal_uint8(n_g, aggregation):
    levels, mask = _volume(11)
    small = ngldm.ngldm_dependence(levels, mask, aggregation=aggregation)
    big_levels, _ = _relabel(levels, n_g)
    big = ngldm.ngldm_dependence(big_levels, mask, aggregation=aggregation)
    np.testing.assert_array_equal(big, small)  # alpha 0: dependence is equality of levels


@pytest.mark.parametrize("n_g", [3, 300, 70_000])
@pytest.mark.parametrize("aggregation", ["2d", "3d"])
def test_ngtdm_means_match_a_correlation(n_g, aggregation):
    levels, mask = _volume(13)
    levels, _ = _relabel(levels, n_g)
    levels = np.where(mask, levels, 0)
    mean, w = ngtdm.ngtdm_neighbourhood(levels, mask, aggregation=aggregation)
    kernel = np.ones((1, 3, 3) if aggregation == "2d" else (3, 3, 3))
    kernel[tuple(k // 2 for k in kernel.shape)] = 0
    total = ndimage.correlate(levels.astype(np.float64), kernel, mode="constant")
    count = ndimage.correlate(mask.astype(np.float64), kernel, mode="constant")
    np.testing.assert_array_equal(w, np.where(mask, count, 0).astype(np.int64))
    valid = mask & (count > 0)
    np.testing.assert_allclose(mean[valid], total[valid] / count[valid], rtol=1e-15, atol=0)
    assert np.isnan(mean[~valid]).all()
