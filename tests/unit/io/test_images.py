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
