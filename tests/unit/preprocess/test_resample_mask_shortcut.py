"""The surface-only trilinear mask interpolation equals interpolating the whole grid, and the
separable (axis by axis) trilinear image interpolation equals ``map_coordinates``."""

import numpy as np
import pytest
from scipy import ndimage

from voxelomics.preprocess.resample import _linear_image, _linear_mask


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("threshold", [0.5 - 1e-9, 1e-12 - 1e-9, 1.0 - 1e-9, 0.25])
def test_linear_mask_equals_full_interpolation(seed, threshold):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(3, 12, size=3))
    mask = ndimage.binary_opening(rng.random(shape) < 0.6) if seed % 2 else rng.random(shape) < 0.5
    # output positions in input-index units, reaching past both borders (mode "nearest")
    axes = [np.arange(-0.7, n + 0.2, rng.uniform(0.3, 1.7)) for n in shape]
    axes[seed % 3] = np.arange(shape[seed % 3], dtype=np.float64)  # integer positions too
    coords = np.stack(np.meshgrid(*axes, indexing="ij"), axis=0)
    want = ndimage.map_coordinates(mask.astype(np.float64), coords, order=1, mode="nearest",
                                   prefilter=False) >= threshold
    np.testing.assert_array_equal(_linear_mask(mask, axes, threshold), want)


@pytest.mark.parametrize("seed", range(8))
def test_separable_linear_image_equals_map_coordinates(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(1, 14, size=3))  # single-voxel axes too
    image = rng.normal(0.0, 500.0, size=shape)
    axes = [np.arange(-0.7, n + 0.2, rng.uniform(0.3, 1.7)) for n in shape]
    axes[seed % 3] = np.arange(shape[seed % 3], dtype=np.float64)
    coords = np.stack(np.meshgrid(*axes, indexing="ij"), axis=0)
    want = ndimage.map_coordinates(image, coords, order=1, mode="nearest", prefilter=False)
    got = _linear_image(image, axes)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(image).max())
