"""Reading only the crop box of an image file equals reading it whole and cropping."""

import numpy as np
import pytest
import SimpleITK as sitk

from testdata import DATA, IBSI1
from voxelomics import extract_features
from voxelomics.io import align_mask, read_image, read_mask
from voxelomics.io.images import read_image_around_roi
from voxelomics.preprocess import crop_to_roi
from voxelomics.preprocess.roi import PARENT_GRID_KEY

PAIRS = [
    (DATA / "cases/sts_001_ct_image.nii.gz", DATA / "cases/sts_001_ct_mask.nii.gz"),  # NIfTI (streamed)
    (DATA / "cases/breast1_image.nrrd", DATA / "cases/breast1_label.nrrd"),  # NRRD (read whole by ITK)
    (IBSI1 / "ct_phantom/nifti/image/phantom.nii.gz", IBSI1 / "ct_phantom/nifti/mask/mask.nii.gz"),
]


@pytest.mark.parametrize(("image", "mask"), PAIRS, ids=lambda p: p.name)
@pytest.mark.parametrize("margin_mm", [0.0, 6.0, 1000.0])
def test_equals_whole_read_then_crop(image, mask, margin_mm):
    roi = read_mask(mask, reference=None)
    got = read_image_around_roi(image, roi, margin_mm=margin_mm, modality="CT")
    assert got is not None
    volume, cropped = got
    full = read_image(image, modality="CT")
    want_v, want_m = crop_to_roi(full, align_mask(full, roi), margin_mm=margin_mm)
    np.testing.assert_array_equal(volume.array, want_v.array)
    assert volume.array.dtype == want_v.array.dtype
    np.testing.assert_array_equal(cropped.array, want_m.array)
    assert volume.origin_mm == want_v.origin_mm == cropped.origin_mm == want_m.origin_mm
    assert volume.spacing_mm == want_v.spacing_mm
    np.testing.assert_array_equal(volume.direction, want_v.direction)
    got_parent, want_parent = volume.metadata[PARENT_GRID_KEY], want_v.metadata[PARENT_GRID_KEY]
    for attr in ("shape", "spacing_mm", "origin_mm", "direction"):
        np.testing.assert_array_equal(getattr(got_parent, attr), getattr(want_parent, attr))
    assert volume.modality == "CT" and volume.source == str(image)


def test_not_applicable_returns_none(tmp_path):
    image, mask = PAIRS[0]
    roi = read_mask(mask, reference=None)
    # grid differs (shifted origin): the ordinary path decides (warning or GeometryError)
    shifted = roi.with_array(roi.array, origin_mm=tuple(v + 0.5 for v in roi.origin_mm))
    assert read_image_around_roi(image, shifted, margin_mm=5.0) is None
    # empty ROI: the ordinary path raises EmptyRoiError with its message
    assert read_image_around_roi(image, roi.with_array(np.zeros_like(roi.array)), margin_mm=5.0) is None
    # not an image file / missing / unreadable
    assert read_image_around_roi(tmp_path / "missing.nii.gz", roi, margin_mm=5.0) is None
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"not a nifti file")
    assert read_image_around_roi(bad, roi, margin_mm=5.0) is None
    # a 3-D file of one slice (warned about on the ordinary path)
    one = tmp_path / "one.nii.gz"
    img = sitk.ReadImage(str(image))[:, :, 20:21]
    sitk.WriteImage(img, str(one))
    one_mask = tmp_path / "one_mask.nii.gz"
    sitk.WriteImage(sitk.ReadImage(str(mask))[:, :, 20:21], str(one_mask))
    assert read_image_around_roi(one, read_mask(one_mask, reference=None), margin_mm=5.0) is None


def test_provenance_does_not_carry_the_file_grid():
    image, mask = PAIRS[2]
    from voxelomics.extract import _extract

    _, prov = _extract(image, mask, "ibsi-c", label=None, roi=None, modality=None, case_id="c", n_threads=2)
    assert PARENT_GRID_KEY not in str(prov["image_metadata"])
    serial = extract_features(image, mask, "ibsi-c", n_threads=1)
    assert serial == extract_features(image, mask, "ibsi-c", n_threads=2)
