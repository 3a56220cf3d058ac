"""Bounding box and cropping around the ROI."""

from __future__ import annotations

import numpy as np
import pytest

from voxelomics.errors import EmptyRoiError, GeometryError, SettingsError
from voxelomics.preprocess import bounding_box, crop_to_roi
from voxelomics.preprocess.roi import PARENT_GRID_KEY
from voxelomics.volume import RoiMask, Volume


def _case(shape=(6, 8, 10), spacing=(3.0, 1.0, 0.5), roi=(slice(2, 4), slice(3, 5), slice(4, 7))):
    img = np.arange(np.prod(shape), dtype=float).reshape(shape)
    m = np.zeros(shape, bool)
    m[roi] = True
    origin = (-10.0, 20.0, 5.0)
    return Volume(img, spacing, origin), RoiMask(m, spacing, origin)


def test_bounding_box_of_small_mask():
    m = np.zeros((3, 4, 5), bool)
    m[1, 1:3, 2] = True
    m[2, 3, 4] = True
    assert bounding_box(m) == (slice(1, 3), slice(1, 4), slice(2, 5))


def test_bounding_box_of_empty_mask_raises():
    with pytest.raises(EmptyRoiError, match="no voxel"):
        bounding_box(np.zeros((2, 2, 2), bool))


def test_bounding_box_needs_3d():
    with pytest.raises(GeometryError, match="3D"):
        bounding_box(np.ones((2, 2), bool))


def test_crop_margin_in_mm_per_axis_and_origin_moved():
    vol, msk = _case()
    cv, cm = crop_to_roi(vol, msk, margin_mm=1.0)
    # margin 1 mm = 1 slice of 3 mm (ceil), 1 row of 1 mm, 2 columns of 0.5 mm
    assert cv.shape == (2 + 2, 2 + 2, 3 + 4)
    assert cm.n_voxels == msk.n_voxels
    # same voxel, same physical position and value
    assert cv.array[0, 0, 0] == vol.array[1, 2, 2]
    expected_origin = vol.grid.index_to_physical(np.array([[1, 2, 2]]))[0]
    np.testing.assert_allclose(cv.origin_mm, expected_origin)
    np.testing.assert_allclose(cm.origin_mm, expected_origin)
    assert cv.spacing_mm == vol.spacing_mm


def test_crop_is_clipped_to_the_image_and_records_parent_grid():
    vol, msk = _case()
    cv, cm = crop_to_roi(vol, msk, margin_mm=100.0)
    assert cv.shape == vol.shape
    np.testing.assert_array_equal(cv.array, vol.array)
    parent = cv.metadata[PARENT_GRID_KEY]
    assert parent.shape == vol.shape and parent.origin_mm == vol.origin_mm
    # a second crop keeps the outermost parent
    cv2, _ = crop_to_roi(cv, cm, margin_mm=0.0)
    assert cv2.metadata[PARENT_GRID_KEY].shape == vol.shape
    assert cv2.shape == (2, 2, 3)


def test_crop_rejects_negative_margin_empty_roi_and_other_grid():
    vol, msk = _case()
    with pytest.raises(SettingsError, match="margin_mm"):
        crop_to_roi(vol, msk, margin_mm=-1.0)
    with pytest.raises(EmptyRoiError, match="no voxel"):
        crop_to_roi(vol, msk.with_array(np.zeros(vol.shape, bool)), margin_mm=1.0)
    with pytest.raises(GeometryError, match="grids differ"):
        crop_to_roi(vol, msk.with_array(msk.array, origin_mm=(0.0, 0.0, 0.0)), margin_mm=1.0)
