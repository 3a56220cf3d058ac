"""IBSI-aligned resampling (IBSI 2.4): grid size and position, interpolation, crop invariance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from testdata import IBSI1
from voxelomics.errors import GeometryError, SettingsError
from voxelomics.preprocess import aligned_grid_positions, crop_to_roi, resample
from voxelomics.volume import RoiMask, Volume, from_sitk, mask_from_sitk


def test_ibsi_example_grid_is_centred():
    # IBSI 2.4: 4 voxels of 3 mm resampled to 2 mm give ceil(12 / 2) = 6 voxels whose
    # centre coincides with the original centre (grid coordinate 1.5), 2/3 apart.
    pos = aligned_grid_positions(4, 3.0, 2.0)
    assert pos.size == 6
    assert pos.mean() == pytest.approx(1.5)
    np.testing.assert_allclose(np.diff(pos), 2.0 / 3.0)


def test_same_spacing_is_the_identity():
    pos = aligned_grid_positions(7, 1.25, 1.25)
    np.testing.assert_allclose(pos, np.arange(7))


def _ramp(shape=(3, 4, 6), spacing=(2.0, 1.0, 1.0)):
    z, y, x = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    img = 10.0 * x + 100.0 * z
    mask = np.zeros(shape, bool)
    mask[1, 1:3, 2:4] = True
    return Volume(img, spacing), RoiMask(mask, spacing)


@pytest.mark.parametrize("interpolator", ["linear", "bspline", "nearest"])
def test_unchanged_spacing_reproduces_the_image(interpolator):
    vol, msk = _ramp()
    rv, rm = resample(vol, msk, spacing_mm=(None, None, None), interpolator=interpolator)
    np.testing.assert_allclose(rv.array, vol.array, atol=1e-9)
    np.testing.assert_array_equal(rm.array, msk.array)
    assert rv.origin_mm == vol.origin_mm and rv.spacing_mm == vol.spacing_mm


def test_linear_interpolation_of_a_ramp_in_plane_only():
    vol, msk = _ramp()
    rv, _ = resample(vol, msk, spacing_mm=(None, 1.0, 2.0), interpolator="linear")
    # x: 6 voxels of 1 mm -> 3 voxels of 2 mm at grid coordinates 0.5, 2.5, 4.5
    assert rv.shape == (3, 4, 3) and rv.spacing_mm == (2.0, 1.0, 2.0)
    np.testing.assert_allclose(rv.array[0, 0], [5.0, 25.0, 45.0])
    np.testing.assert_allclose(rv.array[:, 0, 0], [5.0, 105.0, 205.0])  # z untouched
    # the origin moves by half an original voxel along x
    np.testing.assert_allclose(rv.origin_mm, (0.5, 0.0, 0.0))


def test_points_outside_take_the_boundary_value_and_rounding():
    sp = (1.0, 1.0, 3.0)
    vol, msk = Volume(np.array([[[0.0, 10.0, 20.0, 30.0]]]), sp), RoiMask(np.ones((1, 1, 4), bool), sp)
    rv, rm = resample(vol, msk, spacing_mm=(None, None, 2.0), interpolator="linear", round_intensities=True)
    # positions -1/6, 1/2, 7/6, 11/6, 5/2, 19/6 (IBSI example); outside -> boundary value
    np.testing.assert_allclose(rv.array.ravel(), np.round([0.0, 5.0, 11.666667, 18.333333, 25.0, 30.0]))
    assert rm.array.all()


def test_partial_volume_threshold_keeps_exact_ties():
    # a 2-voxel ROI on 4 voxels of 3 mm; the 2 mm voxel at grid coordinate 0.5 is half in the ROI
    img = np.zeros((1, 1, 4))
    mask = np.array([[[False, True, True, False]]])
    vol, msk = Volume(img, (1.0, 1.0, 3.0)), RoiMask(mask, (1.0, 1.0, 3.0))
    _, rm = resample(vol, msk, spacing_mm=(None, None, 2.0), mask_threshold=0.5)
    # fractions 0, 0.5, 1, 1, 0.5, 0
    assert rm.array.ravel().tolist() == [False, True, True, True, True, False]
    _, rm = resample(vol, msk, spacing_mm=(None, None, 2.0), mask_threshold=0.6)
    assert rm.array.ravel().tolist() == [False, False, True, True, False, False]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(interpolator="bspln"), SettingsError, "did you mean 'bspline'"),
        (dict(mask_interpolator="cubic"), SettingsError, "unknown mask interpolator"),
        (dict(mask_threshold=0.0), SettingsError, "mask_threshold"),
        (dict(spacing_mm=(1.0, -2.0, 2.0)), SettingsError, "positive"),
        (dict(spacing_mm=(1.0, 2.0)), SettingsError, "3 values"),
    ],
)
def test_bad_settings(kwargs, error, match):
    vol, msk = _ramp()
    args = dict(spacing_mm=(2.0, 2.0, 2.0)) | kwargs
    with pytest.raises(error, match=match):
        resample(vol, msk, **args)


def test_mask_on_another_grid_is_rejected():
    vol, msk = _ramp()
    with pytest.raises(GeometryError, match="grids differ"):
        resample(vol, msk.with_array(msk.array, spacing_mm=(1.0, 1.0, 1.0)), spacing_mm=(2.0, 2.0, 2.0))


# ---- CT phantom: IBSI diagnostics of the interpolated image and crop invariance --------
@pytest.fixture(scope="module")
def ct_phantom():
    import SimpleITK as sitk

    img = sitk.ReadImage(str(IBSI1 / "ct_phantom/nifti/image/phantom.nii.gz"), sitk.sitkFloat32)
    msk = sitk.ReadImage(str(IBSI1 / "ct_phantom/nifti/mask/mask.nii.gz"))
    vol = from_sitk(img)
    vol = vol.with_array(np.round(vol.array.astype(np.float64)))
    return vol, mask_from_sitk(msk, array=sitk.GetArrayFromImage(msk) > 0)


@pytest.fixture(scope="module")
def diagnostics():
    return pd.read_csv(IBSI1 / "ibsi1_diagnostic_reference_values.csv").set_index(["config", "tag"])


@pytest.mark.parametrize(
    "config, spacing", [("B", (None, 2.0, 2.0)), ("C", (2.0, 2.0, 2.0))]
)
def test_interpolated_ct_grid_matches_ibsi_diagnostics(ct_phantom, diagnostics, config, spacing):
    vol, msk = ct_phantom
    rv, rm = resample(vol, msk, spacing_mm=spacing, interpolator="linear", round_intensities=True)
    d = diagnostics.loc[config]
    for axis, name in zip(range(3), "zyx", strict=True):
        assert abs(rv.shape[axis] - d.loc[f"img_dim_{name}_interp_img", "value"]) <= d.loc[
            f"img_dim_{name}_interp_img", "tolerance"]
        assert rv.spacing_mm[axis] == pytest.approx(d.loc[f"vox_dim_{name}_interp_img", "value"], abs=1e-3)
    for tag, got in [("mean_int_interp_img", rv.array.mean()),
                     ("morph_mask_vox_count_interp_roi", rm.n_voxels),
                     ("int_mask_mean_int_interp_roi", rv.array[rm.array].mean())]:
        assert abs(got - d.loc[tag, "value"]) <= d.loc[tag, "tolerance"], tag


@pytest.mark.parametrize("interpolator, margin_mm", [("linear", 6.0), ("bspline", 30.0)])
def test_cropping_first_does_not_change_the_roi(ct_phantom, interpolator, margin_mm):
    vol, msk = ct_phantom
    kw = dict(spacing_mm=(2.0, 2.0, 2.0), interpolator=interpolator, round_intensities=True)
    fv, fm = resample(vol, msk, **kw)
    cv, cm = resample(*crop_to_roi(vol, msk, margin_mm=margin_mm), **kw)
    offset = fv.grid.physical_to_index(np.array([cv.origin_mm]))[0]
    np.testing.assert_allclose(offset, np.round(offset), atol=1e-6)  # same grid
    box = tuple(slice(int(round(o)), int(round(o)) + n) for o, n in zip(offset, cv.shape, strict=True))
    np.testing.assert_array_equal(fm.array[box], cm.array)
    assert fm.n_voxels == cm.n_voxels
    np.testing.assert_array_equal(fv.array[box][cm.array], cv.array[cm.array])
