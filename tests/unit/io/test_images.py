"""Label maps, grid alignment and load_case, on files built in tmp_path."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from voxelomics.errors import EmptyRoiError, GeometryError, GeometryWarning, InputError, MaskError
from voxelomics.io import align_mask, load_case, read_image, read_mask

SPACING_XYZ = (0.8, 0.8, 2.0)
ORIGIN = (-10.0, 5.0, 30.0)


def _write(path, array, origin=ORIGIN, spacing=SPACING_XYZ):
    img = sitk.GetImageFromArray(array)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    sitk.WriteImage(img, str(path))
    return path


@pytest.fixture
def image(tmp_path):
    return read_image(_write(tmp_path / "img.nii.gz", np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)),
                      modality="MR")


def _labels():
    lab = np.zeros((4, 5, 6), np.int16)
    lab[1:3, 1:3, 1:3] = 1
    lab[0, 0, 0] = 7
    return lab


def test_nifti_geometry_and_modality(image, tmp_path):
    assert image.shape == (4, 5, 6) and image.modality == "MR"
    assert image.spacing_mm == pytest.approx((2.0, 0.8, 0.8)) and image.origin_mm == pytest.approx(ORIGIN)
    assert image.source == str(tmp_path / "img.nii.gz")


@pytest.mark.parametrize("suffix", [".nrrd", ".mha"])
def test_other_formats(tmp_path, suffix):
    vol = read_image(_write(tmp_path / f"img{suffix}", np.ones((2, 3, 4), np.float32)))
    assert vol.shape == (2, 3, 4)


def test_label_selection(image, tmp_path):
    path = _write(tmp_path / "lab.nii.gz", _labels())
    assert read_mask(path, reference=image).n_voxels == 8  # default label 1
    assert read_mask(path, label=7, reference=image).n_voxels == 1
    assert read_mask(path, roi="7", reference=image).label == 7
    only7 = _labels()
    only7[only7 == 1] = 0
    assert read_mask(_write(tmp_path / "only7.nii.gz", only7), reference=image).label == 7


def test_wrong_label_lists_labels(image, tmp_path):
    path = _write(tmp_path / "lab.nii.gz", _labels())
    with pytest.raises(EmptyRoiError, match=r"case 'c9', file .*lab.nii.gz: label 3 is not in the mask; "
                                            r"labels present: \[1, 7\]"):
        read_mask(path, label=3, reference=image, case_id="c9")


def test_ambiguous_default_label(image, tmp_path):
    lab = _labels()
    lab[lab == 1] = 2
    with pytest.raises(MaskError, match=r"several labels without 1: \[2, 7\]"):
        read_mask(_write(tmp_path / "lab.nii.gz", lab), reference=image)


def test_float_mask(image, tmp_path):
    ok = _labels().astype(np.float32) + np.float32(1e-7) * (_labels() > 0)
    assert read_mask(_write(tmp_path / "ok.nii.gz", ok), reference=image).n_voxels == 8
    bad = _labels().astype(np.float32)
    bad[3, 4, 5] = 0.5
    with pytest.raises(MaskError, match=r"non-integer values 0.5 among 4 distinct values"):
        read_mask(_write(tmp_path / "bad.nii.gz", bad), reference=image)


def test_empty_mask(image, tmp_path):
    path = _write(tmp_path / "empty.nii.gz", np.zeros((4, 5, 6), np.uint8))
    with pytest.raises(EmptyRoiError, match=r"case 'c1', file .*empty.nii.gz: label 1 \(default\) selects no voxel"):
        read_mask(path, reference=image, case_id="c1")


def test_half_voxel_shift_raises_with_mm_and_voxels(image, tmp_path):
    shifted = (ORIGIN[0] + 0.4, ORIGIN[1], ORIGIN[2])  # 0.5 voxel along x
    mask = read_mask(_write(tmp_path / "lab.nii.gz", _labels(), origin=shifted), reference=image)
    with pytest.raises(GeometryError, match=r"origin offset \(x, y, z\) = \(0.4, 0, 0\) mm = \(0.5, 0, 0\) voxels"):
        align_mask(image, mask, case_id="c1")


def test_tiny_shift_is_absorbed_with_warning(image, tmp_path):
    shifted = (ORIGIN[0] + 0.8e-5, ORIGIN[1], ORIGIN[2])  # 1e-5 voxel
    mask = read_mask(_write(tmp_path / "lab.nii.gz", _labels(), origin=shifted), reference=image)
    with pytest.warns(GeometryWarning, match="takes the image geometry"):
        aligned = align_mask(image, mask)
    assert aligned.origin_mm == image.origin_mm and aligned.n_voxels == 8


def test_tiny_difference_warning_names_what_differs(image, tmp_path):
    mask = read_mask(_write(tmp_path / "lab.nii.gz", _labels()), reference=image)
    zyx = tuple(float(v) for v in image.spacing_mm)
    spacing = (zyx[0], zyx[1], zyx[2] * (1 + 2e-5))  # 2e-5 voxel along x
    with pytest.warns(GeometryWarning) as caught:
        aligned = align_mask(image, mask.with_array(mask.array, spacing_mm=spacing), case_id="c1")
    text = str(caught[0].message)
    assert f"spacing (z, y, x) {spacing} mm vs image {zyx} mm (up to 1.6e-05 mm)" in text
    assert "origin" not in text and "direction" not in text
    assert aligned.spacing_mm == image.spacing_mm and aligned.n_voxels == 8

    direction = np.array(image.direction, float).reshape(3, 3)
    direction[0, 1] = 3e-5
    with pytest.warns(GeometryWarning, match=r"\(direction cosines differ by up to 3e-05\); the mask takes") as caught:
        align_mask(image, mask.with_array(mask.array, direction=direction))
    assert "origin" not in str(caught[0].message) and "spacing" not in str(caught[0].message)

    shifted = mask.with_array(mask.array, origin_mm=(ORIGIN[0] + 8e-6, ORIGIN[1], ORIGIN[2] - 4e-6),
                              spacing_mm=spacing)
    with pytest.warns(GeometryWarning, match=r"\(origin offset \(x, y, z\) \(8e-06, 0, -4e-06\) mm; spacing "):
        align_mask(image, shifted)


def test_size_mismatch(image, tmp_path):
    mask = read_mask(_write(tmp_path / "lab.nii.gz", np.ones((4, 5, 7), np.uint8)), reference=image)
    with pytest.raises(GeometryError, match=r"size \(z, y, x\) \(4, 5, 7\) != image \(4, 5, 6\)"):
        align_mask(image, mask)


def test_load_case_adds_context(tmp_path):
    img = _write(tmp_path / "img.nii.gz", np.zeros((4, 5, 6), np.int16))
    lab = _write(tmp_path / "lab.nii.gz", _labels())
    image, mask = load_case(img, lab, case_id="p7")
    assert mask.n_voxels == 8
    with pytest.raises(InputError, match=r"case 'p7', file .*missing.nrrd: mask file does not exist") as info:
        load_case(img, tmp_path / "missing.nrrd", case_id="p7")
    assert info.value.step == "read_mask"
    shifted = _write(tmp_path / "shift.nii.gz", _labels(), origin=(ORIGIN[0], ORIGIN[1], ORIGIN[2] + 1.0))
    with pytest.raises(GeometryError, match=r"case .p7.*shift.nii.gz.*= \(0, 0, 0.5\) voxels along") as info:
        load_case(img, shifted, case_id="p7")
    assert info.value.step == "align_mask"


def test_2d_file_is_one_slice_with_warning(tmp_path):
    img = _write(tmp_path / "slice.nrrd", np.arange(20, dtype=np.int16).reshape(4, 5), origin=(1.0, 2.0),
                 spacing=(0.5, 0.5))
    lab = _write(tmp_path / "slice_mask.nrrd", (np.arange(20).reshape(4, 5) > 5).astype(np.uint8), origin=(1.0, 2.0),
                 spacing=(0.5, 0.5))
    with pytest.warns(GeometryWarning, match=r"slice.nrrd: 2-D image read as a 3-D volume of one slice \(z spacing "
                                             r"set to 1 mm\); 3-D morphological features .* are not meaningful"):
        image, mask = load_case(img, lab)
    assert image.shape == (1, 4, 5) and mask.n_voxels == 14
    assert image.spacing_mm == pytest.approx((1.0, 0.5, 0.5)) and "single_slice" in image.metadata


def test_3d_file_of_one_slice_warns(tmp_path):
    img = _write(tmp_path / "one.nii.gz", np.arange(20, dtype=np.int16).reshape(1, 4, 5))
    with pytest.warns(GeometryWarning, match=r"one.nii.gz: the 3-D image holds one slice; 3-D morphological"):
        image = read_image(img)
    assert image.shape == (1, 4, 5) and image.metadata["single_slice"] == "3-D file of one slice"


def test_spacing_mismatch_shows_plain_numbers(image, tmp_path):
    mask = read_mask(_write(tmp_path / "lab.nii.gz", _labels(), spacing=(0.8, 0.8, 2.1)), reference=image)
    with pytest.raises(GeometryError, match=r"spacing \(z, y, x\) \(2\.1, 0\.8, 0\.8\) mm != image "
                                            r"\(2\.0, 0\.8, 0\.8\) mm") as info:
        align_mask(image, mask)
    assert "np." not in str(info.value)


@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_image_given_as_mask(image, tmp_path, dtype):
    values = (np.arange(4 * 5 * 6).reshape(4, 5, 6) * 3 + 2).astype(dtype)  # 120 values, no 1
    values = np.concatenate([values, values + 1000], axis=0)  # 240 distinct values
    path = _write(tmp_path / "ct_as_mask.nii.gz", values if dtype == np.int16 else values + 0.25)
    with pytest.raises(MaskError, match=r"this looks like an image, not a label map: 240 distinct values \(first ten: "
                                        r"2\.?\d*, 5") as info:
        read_mask(path, reference=image)
    assert "1007" not in str(info.value)  # not every value listed


def test_image_given_as_mask_with_missing_label(image, tmp_path):
    values = np.concatenate([np.arange(120).reshape(4, 5, 6)] * 2, axis=0).astype(np.int16) * 2
    values[4:] += 1000
    with pytest.raises(MaskError, match=r"label 3 is not in the mask; this looks like an image, not a label map"):
        read_mask(_write(tmp_path / "img.nii.gz", values), label=3, reference=image)


def test_many_labels_listed_shortly(image, tmp_path):
    lab = (np.arange(4 * 5 * 6).reshape(4, 5, 6) % 60 + 2).astype(np.int16)  # 60 labels, no 1
    with pytest.raises(MaskError, match=r"several labels without 1: \[2, 3, .*, 21, \.\.\.\] \(60 labels\)"):
        read_mask(_write(tmp_path / "lab.nii.gz", lab), reference=image)


def test_folder_as_mask_says_so(image, tmp_path):
    import shutil

    from io_testdata import CT_RTSTRUCT

    folder = tmp_path / "masks"
    folder.mkdir()
    with pytest.raises(InputError, match=r"masks: the mask path is a folder; expected a mask file: a label map "
                                         r"\(.nii, .*\), an RTSTRUCT or a SEG file$"):
        read_mask(folder, reference=image)
    shutil.copy(CT_RTSTRUCT, folder / "rs.dcm")
    with pytest.raises(InputError, match=r"is a folder;.*\(the folder holds rs.dcm\)"):
        load_case(tmp_path / "img.nii.gz", folder)
