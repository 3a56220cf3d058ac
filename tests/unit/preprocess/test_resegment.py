"""Range re-segmentation and outlier filtering (IBSI 2.5)."""

from __future__ import annotations

import numpy as np
import pytest

from voxelomics.errors import EmptyRoiError, GeometryError, SettingsError
from voxelomics.preprocess import resegment


def test_range_is_closed_and_stays_inside_the_mask():
    img = np.arange(8.0).reshape(2, 2, 2)
    mask = np.ones_like(img, bool)
    mask[0, 0, 0] = False  # value 0, outside the ROI
    out = resegment(img, mask, range_min=0, range_max=5)
    assert out.dtype == bool
    assert sorted(img[out].tolist()) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert not out[0, 0, 0]


def test_half_open_ranges():
    img = np.arange(8.0).reshape(2, 2, 2)
    mask = np.ones_like(img, bool)
    assert resegment(img, mask, range_min=6).sum() == 2
    assert resegment(img, mask, range_max=1).sum() == 2
    assert resegment(img, mask).sum() == 8


def test_outlier_filter_removes_values_beyond_three_sd():
    # 20 zeros and one 100: mean 4.76, SD 21.3, so the kept range is about [-59, 69]
    img = np.zeros((1, 3, 7))
    img[0, 1, 3] = 100.0
    out = resegment(img, np.ones_like(img, bool), outlier_sigma=3.0)
    assert out.sum() == 20 and not out[0, 1, 3]


def test_range_and_outliers_combine_as_intersection():
    rng = np.random.default_rng(0)
    img = rng.normal(0, 100, size=(4, 10, 10))
    img[0, 0, :3] = [900, -900, 2000]
    mask = np.ones_like(img, bool)
    both = resegment(img, mask, range_min=-150, range_max=400, outlier_sigma=3.0)
    rng_only = resegment(img, mask, range_min=-150, range_max=400)
    out_only = resegment(img, mask, outlier_sigma=3.0)
    np.testing.assert_array_equal(both, rng_only & out_only)


def test_errors():
    img = np.zeros((2, 2, 2))
    with pytest.raises(SettingsError, match="range_min"):
        resegment(img, img == 0, range_min=5, range_max=1)
    with pytest.raises(SettingsError, match="outlier_sigma"):
        resegment(img, img == 0, outlier_sigma=-3)
    with pytest.raises(GeometryError, match="same shape"):
        resegment(img, np.ones((2, 2, 3), bool))
    with pytest.raises(EmptyRoiError, match="empty"):
        resegment(img, img != 0, outlier_sigma=3.0)
