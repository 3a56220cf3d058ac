import numpy as np
import pytest
import SimpleITK as sitk

from voxelomics.errors import GeometryError
from voxelomics.volume import Grid, RoiMask, Volume, from_sitk, to_sitk


def _img():
    arr = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)  # (z, y, x)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.5, 0.7, 3.0))  # (x, y, z)
    img.SetOrigin((10.0, -5.0, 100.0))
    img.SetDirection((0, 1, 0, 1, 0, 0, 0, 0, 1))
    return arr, img


def test_sitk_roundtrip_keeps_axes_and_geometry():
    arr, img = _img()
    vol = from_sitk(img, modality="CT")
    assert vol.shape == (2, 3, 4)
    assert vol.spacing_mm == (3.0, 0.7, 0.5)
    np.testing.assert_array_equal(vol.array, arr)
    back = to_sitk(vol)
    assert back.GetSpacing() == img.GetSpacing()
    assert back.GetOrigin() == img.GetOrigin()
    assert back.GetDirection() == img.GetDirection()


def test_index_to_physical_matches_simpleitk():
    _, img = _img()
    grid = from_sitk(img).grid
    idx_zyx = np.array([[1, 2, 3], [0, 1, 2]])
    got = grid.index_to_physical(idx_zyx)
    want = [img.TransformIndexToPhysicalPoint(tuple(int(v) for v in i[::-1])) for i in idx_zyx]
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(grid.physical_to_index(got), idx_zyx, atol=1e-9)


def test_grid_compare_reports_offsets_in_mm_and_voxels():
    g = Grid((2, 3, 4), (3.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    same, _ = g.compare(Grid((2, 3, 4), (3.0, 1.0, 1.0), (1e-5, 0.0, 0.0)))
    assert same
    same, msg = g.compare(Grid((2, 3, 4), (3.0, 1.0, 1.0), (0.5, 0.0, 1.5)))
    assert not same
    assert "0.5, 0, 1.5) mm" in msg and "0.5, 0, 0.5) voxels" in msg


def test_invalid_volumes_raise():
    with pytest.raises(GeometryError, match="3D"):
        Volume(np.zeros((3, 3)), (1.0, 1.0, 1.0))
    with pytest.raises(GeometryError, match="positive"):
        Volume(np.zeros((1, 3, 3)), (0.0, 1.0, 1.0))
    m = RoiMask(np.ones((1, 2, 2), dtype=np.uint8), (1.0, 1.0, 1.0))
    assert m.array.dtype == bool and m.n_voxels == 4
