"""Crops: centred on the ROI, windowed per modality, oriented the same way, cached, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from deep_cases import write_case

from voxelomics.deep.config import CropSettings
from voxelomics.deep.data import build_crops, load_crop, make_crop, window
from voxelomics.errors import EmptyRoiError, GeometryError, SettingsError
from voxelomics.io import Case, read_manifest
from voxelomics.volume import RoiMask, Volume


def _volume(array, spacing=(1.0, 1.0, 1.0), modality="CT", direction=None, origin=(0, 0, 0)):
    kw = {} if direction is None else {"direction": direction}
    return Volume(np.asarray(array, float), spacing, origin_mm=origin, modality=modality, **kw)


def test_crop_is_centred_on_the_roi_box_and_holds_the_mask():
    img = np.full((30, 30, 30), -1000.0)
    mask = np.zeros((30, 30, 30), bool)
    mask[5:9, 20:24, 10:14] = True  # box centre (6.5, 21.5, 11.5) in voxels of 1 mm
    img[mask] = 100.0
    s = CropSettings(size=(8, 8, 8), spacing_mm=1.0)
    arr, meta = make_crop(_volume(img), RoiMask(mask, (1, 1, 1)), s, case_id="c")
    assert arr.shape == (2, 8, 8, 8) and arr.dtype == np.float32
    # the 4^3 ROI sits in the middle of the 8^3 crop: voxels 2..5 on every axis
    inside = arr[1] >= 0.5
    assert inside.sum() == 64
    assert [tuple(np.flatnonzero(inside.any(axis=a))) for a in ((1, 2), (0, 2), (0, 1))] == [(2, 3, 4, 5)] * 3
    # CT window [-1000, 400] HU: 100 HU -> 1100 / 1400
    assert np.allclose(arr[0][inside], 1100 / 1400, atol=1e-5)
    assert np.allclose(arr[0][~(arr[1] > 0)], 0.0)
    assert meta["roi_voxels"] == 64 and not meta["roi_cut"] and meta["outside_fraction"] == 0.0


def test_window_per_modality():
    s = CropSettings(ct_window_hu=(-100, 100), pet_suv_max=10, mr_clip_sd=2)
    assert np.allclose(window(np.array([-200.0, 0.0, 50.0, 300.0]), "CT", s), [0, 0.5, 0.75, 1])
    assert np.allclose(window(np.array([-1.0, 2.5, 20.0]), "PT", s), [0, 0.25, 1])
    # MR: z-score with the body's mean and SD, clipped to +/- 2 SD, mapped to [0, 1]
    assert np.allclose(window(np.array([10.0, 14.0, 100.0]), "MR", s, body=(10.0, 2.0)), [0.5, 1.0, 1.0])
    with pytest.raises(ValueError):
        window(np.zeros(3), "MR", s)


def test_orientation_is_canonical_whatever_the_direction_cosines():
    """A y-flipped copy of an image (same patient space) gives the same crop."""
    rng = np.random.default_rng(0)
    img = rng.normal(0, 100, (12, 16, 16))
    mask = np.zeros(img.shape, bool)
    mask[4:8, 3:7, 6:11] = True
    s = CropSettings(size=(6, 6, 6), spacing_mm=1.0, interpolator="nearest")
    a, _ = make_crop(_volume(img), RoiMask(mask, (1, 1, 1)), s)
    flip = np.diag([1.0, -1.0, 1.0])  # index y runs towards anterior: origin at the far end
    origin = (0.0, 15.0, 0.0)
    b, _ = make_crop(_volume(img[:, ::-1, :], direction=flip, origin=origin),
                     RoiMask(mask[:, ::-1, :], (1, 1, 1), origin_mm=origin, direction=flip), s)
    assert np.allclose(a, b, atol=1e-5)


def test_empty_roi_is_an_error_naming_the_case():
    with pytest.raises(EmptyRoiError, match="case 'empty1'.*no voxel"):
        make_crop(_volume(np.zeros((8, 8, 8))), RoiMask(np.zeros((8, 8, 8), bool), (1, 1, 1)),
                  CropSettings(size=(4, 4, 4)), case_id="empty1")


def test_empty_mask_file_is_an_error_naming_the_case(tmp_path):
    img, msk = write_case(tmp_path, "e", radius_mm=0.1, hu=0, centre=(0.2, 0.2, 0.2))
    import SimpleITK as sitk

    m = sitk.ReadImage(str(msk))
    sitk.WriteImage(m * 0, str(msk))
    case = Case("empty_case", img, msk, modality="CT")
    with pytest.raises(EmptyRoiError, match="case 'empty_case'"):
        load_crop(case, CropSettings(size=(4, 4, 4)))


def test_crop_larger_than_the_image_is_an_error_unless_padding_is_asked(tmp_path):
    img, msk = write_case(tmp_path, "small", radius_mm=3, hu=0, shape=(4, 20, 20))  # 6 mm in z
    case = Case("tiny_z", img, msk, modality="CT")
    s = CropSettings(size=(8, 8, 8), spacing_mm=1.5)  # 12 mm
    with pytest.raises(GeometryError, match=r"case 'tiny_z'.*larger than the image \(z: crop 12.0 mm > image 6.0 mm"):
        load_crop(case, s)
    crop = load_crop(case, s.model_copy(update={"beyond_image": "pad"}))
    assert 0.4 < crop.meta["outside_fraction"] < 0.6  # half the slices lie outside the image
    assert np.all(crop.array[0, 0] == 0.0)  # padded with the image minimum (air, window 0)


def test_roi_larger_than_the_crop_warns_and_is_recorded():
    mask = np.zeros((20, 20, 20), bool)
    mask[2:18, 2:18, 2:18] = True
    with pytest.warns(UserWarning, match="case 'big'.*larger than the crop"):
        _, meta = make_crop(_volume(np.zeros((20, 20, 20))), RoiMask(mask, (1, 1, 1)),
                            CropSettings(size=(8, 8, 8)), case_id="big")
    assert meta["roi_cut"]


def test_crops_are_cached_per_settings_and_reused(cohort_dir, tmp_path):
    cases = read_manifest(cohort_dir / "manifest.csv")[:4]
    s = CropSettings(size=(8, 8, 8), spacing_mm=3.0)
    first = build_crops(cases, s, cache_dir=tmp_path, progress=False)
    again = build_crops(cases, s, cache_dir=tmp_path, progress=False)
    assert first.n_reused == 0 and again.n_reused == 4
    assert np.array_equal(first.arrays, again.arrays) and first.rois == again.rois == ["1"] * 4
    other = build_crops(cases, s.model_copy(update={"mask_channel": False}), cache_dir=tmp_path,
                        progress=False)
    assert other.n_reused == 0 and other.arrays.shape[1] == 1
    assert len(list(tmp_path.iterdir())) == 2  # one folder per crop-settings hash


def test_failed_cases_are_collected_with_their_error(cohort_dir, tmp_path):
    df = pd.read_csv(cohort_dir / "manifest.csv").head(2)
    df.loc[1, "image"] = "missing.nii.gz"
    df["image"] = [str(cohort_dir / p) for p in df["image"]]
    df["mask"] = [str(cohort_dir / p) for p in df["mask"]]
    df.to_csv(tmp_path / "m.csv", index=False)
    res = build_crops(read_manifest(tmp_path / "m.csv"), CropSettings(size=(8, 8, 8), spacing_mm=3.0),
                      progress=False)
    assert res.case_ids == ["c00"] and len(res.errors) == 1
    err = res.errors[0]
    assert err["case_id"] == "c01" and err["error_type"] == "InputError" and "missing.nii.gz" in err["message"]


def test_settings_are_validated_with_did_you_mean():
    from voxelomics.deep.config import load_deep_settings

    with pytest.raises(SettingsError, match="did you mean 'spacing_mm'"):
        load_deep_settings(None, crop__spaceing_mm=2.0)
    with pytest.raises(SettingsError, match="mask_channel: false"):
        load_deep_settings(None, net__arch="fmcib_resnet50")
    with pytest.raises(SettingsError, match="size"):
        load_deep_settings(None, crop__size=(2, 8, 8))
