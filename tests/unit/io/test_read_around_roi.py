"""Reading only the crop box of an image file equals reading it whole and cropping."""

import numpy as np
import pytest
import SimpleITK as sitk

from testdata import DATA, IBSI1
from voxelomics import extract_features
from voxelomics.io import align_mask, read_image, read_mask
from voxelomics.io.around_roi import read_image_around_roi
from voxelomics.preprocess import crop_to_roi
from voxelomics.preprocess.roi import PARENT_GRID_KEY

PAIRS = [
    (DATA / "cases/sts_001_ct_image.nii.gz", DATA / "cases/sts_001_ct_mask.nii.gz"),  # NIfTI (streamed)
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
    # NRRD: SimpleITK reads it whole anyway, so the ordinary path reads it
    nrrd = (DATA / "cases/breast1_image.nrrd", DATA / "cases/breast1_label.nrrd")
    assert read_image_around_roi(nrrd[0], read_mask(nrrd[1], reference=None), margin_mm=5.0) is None
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
    image, mask = PAIRS[1]
    from voxelomics.extract.pipeline import _extract

    _, prov, _ = _extract(image, mask, "ibsi-c", label=None, roi=None, modality=None, case_id="c", n_threads=2)
    assert PARENT_GRID_KEY not in str(prov["image_metadata"])
    serial = extract_features(image, mask, "ibsi-c", n_threads=1)
    assert serial == extract_features(image, mask, "ibsi-c", n_threads=2)


def _truncated(src, dst, fraction):
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_truncated_nifti_is_an_error_not_zeros(tmp_path, suffix, n_threads):
    """SimpleITK zero-fills a truncated NIfTI silently; voxelomics refuses it, naming the file."""
    from voxelomics.errors import InputError

    image, mask = PAIRS[0]
    whole = tmp_path / f"whole{suffix}"
    sitk.WriteImage(sitk.ReadImage(str(image)), str(whole))
    bad = _truncated(whole, tmp_path / f"bad{suffix}", 0.8)
    with pytest.raises(InputError, match=r"cannot read image: .*(truncated|damaged)") as info:
        extract_features(bad, mask, "ibsi-c", n_threads=n_threads, case_id="c1")
    assert "bad" in str(info.value) and "c1" in str(info.value)
    bad_mask = _truncated(mask, tmp_path / "bad_mask.nii.gz", 0.8)
    with pytest.raises(InputError, match="cannot read image"):
        extract_features(image, bad_mask, "ibsi-c", n_threads=n_threads)


def test_multi_member_gzip_nifti_is_read(tmp_path):
    """A valid .nii.gz of several gzip members (trailer size of the last member only)."""
    import gzip

    image, mask = PAIRS[0]
    raw = gzip.decompress(image.read_bytes())
    half = len(raw) // 2
    multi = tmp_path / "multi.nii.gz"
    multi.write_bytes(gzip.compress(raw[:half]) + gzip.compress(raw[half:]))
    np.testing.assert_array_equal(read_image(multi).array, read_image(image).array)
    assert extract_features(multi, mask, "ibsi-c") == extract_features(image, mask, "ibsi-c")


def test_truncated_metaimage_takes_the_ordinary_path(tmp_path):
    """A truncated .mha can stream a box from its intact part: never read around the ROI."""
    from voxelomics.errors import InputError

    image, mask = PAIRS[0]
    whole, whole_mask = tmp_path / "img.mha", tmp_path / "msk.mha"
    sitk.WriteImage(sitk.ReadImage(str(image)), str(whole))
    sitk.WriteImage(sitk.ReadImage(str(mask)), str(whole_mask))
    assert read_image_around_roi(whole, read_mask(whole_mask, reference=None), margin_mm=5.0) is None
    bad = _truncated(whole, tmp_path / "bad.mha", 0.8)
    for n in (1, 2):
        with pytest.raises(InputError, match="cannot read image"):
            extract_features(bad, whole_mask, "ibsi-c", n_threads=n)


def test_non_finite_margin_is_refused():
    from voxelomics.errors import SettingsError

    image, mask = PAIRS[0]
    with pytest.raises(SettingsError, match="crop_margin_mm.*finite"):
        extract_features(image, mask, {"preset": "ibsi-a", "crop_margin_mm": float("inf")})
    assert read_image_around_roi(image, read_mask(mask, reference=None), margin_mm=float("inf")) is None


def test_unreadable_nifti_files_say_what_is_wrong(tmp_path):
    """SimpleITK only says "Unable to determine ImageIO reader": the bytes say why."""
    import gzip

    from voxelomics.errors import InputError

    image, _ = PAIRS[0]
    raw = gzip.decompress(image.read_bytes())
    cases = {
        "head.nii.gz": (image.read_bytes()[:100], "the gzip stream is truncated"),
        "half.nii.gz": (image.read_bytes()[: image.stat().st_size // 2], "the gzip stream is truncated"),
        "text.nii.gz": (b"hello, this is text\n", "the file is not gzip-compressed (as its name .nii.gz says), "
                                                  "and holds 20 bytes, fewer than a NIfTI header (348)"),
        "words.nii.gz": (gzip.compress(b"x" * 600), "the decompressed data does not start with a NIfTI-1 or "
                                                    "NIfTI-2 header"),
        "short.nii": (raw[:200], "the file holds 200 bytes, fewer than a NIfTI header"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InputError) as info:
            read_image(tmp_path / name)
        assert f"{name}: cannot read image: {message}" in str(info.value), str(info.value)
        assert "sitk::ERROR" not in str(info.value)
    plain = tmp_path / "plain.nii.gz"  # uncompressed under a .nii.gz name: SimpleITK reads it
    plain.write_bytes(raw)
    np.testing.assert_array_equal(read_image(plain).array, read_image(image).array)
