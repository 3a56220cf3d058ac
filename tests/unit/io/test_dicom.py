"""DICOM series: ordering, rescale, geometry checks, series selection."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import SimpleITK as sitk
from io_testdata import CT_DICOM, CT_NIFTI_IMAGE, save

from voxelomics.errors import GeometryError, GeometryWarning, InputError
from voxelomics.io import list_series, read_image


def test_ct_phantom_dicom_equals_nifti():
    vol = read_image(CT_DICOM)
    ref = sitk.ReadImage(str(CT_NIFTI_IMAGE))
    assert vol.modality == "CT" and vol.source == str(CT_DICOM)
    np.testing.assert_array_equal(vol.array, sitk.GetArrayFromImage(ref))
    np.testing.assert_allclose(vol.spacing_mm, ref.GetSpacing()[::-1], atol=1e-5)
    np.testing.assert_allclose(vol.origin_mm, ref.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(vol.direction.ravel(), ref.GetDirection(), atol=1e-6)


def test_order_by_position_not_file_name(ct_slices):
    folder, datasets = ct_slices
    vol = read_image(folder)
    expected = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in datasets])
    np.testing.assert_array_equal(vol.array, expected)
    assert vol.origin_mm[2] == pytest.approx(float(datasets[0].ImagePositionPatient[2]))


def test_rescale_applied_per_slice(ct_slices):
    folder, datasets = ct_slices
    datasets[2].RescaleSlope = "2.5"
    datasets[2].RescaleIntercept = "-7"
    save(folder, datasets)
    vol = read_image(folder)
    np.testing.assert_allclose(vol.array[2], datasets[2].pixel_array * 2.5 - 7)
    np.testing.assert_allclose(vol.array[1], datasets[1].pixel_array - 1000.0)


def test_single_file_reads_its_series(ct_slices):
    folder, _ = ct_slices
    assert read_image(sorted(folder.iterdir())[0]).shape[0] == 6


def test_two_series_listed_then_selected(ct_slices):
    folder, datasets = ct_slices
    for d in datasets[3:]:
        d.SeriesInstanceUID = "1.2.3.4.5"
        d.SeriesDescription = "second"
    save(folder, datasets)
    with pytest.raises(InputError, match=r"2 image series.*1\.2\.3\.4\.5 \(CT, 'second', 3 files\)"):
        read_image(folder)
    assert {s.n_files for s in list_series(folder)} == {3}
    assert read_image(folder, series_uid="1.2.3.4.5").shape == (3, 201, 204)
    with pytest.raises(InputError, match="series 9.9 not found"):
        read_image(folder, series_uid="9.9")


def test_missing_slice_raises_with_gaps(ct_slices):
    folder, datasets = ct_slices
    save(folder, datasets[:2] + datasets[3:])
    with pytest.raises(GeometryError, match=r"non-uniform slice spacing.*6 mm between slices 1/2"):
        read_image(folder)


def test_small_gap_variation_is_resampled(ct_slices):
    folder, datasets = ct_slices
    z = [float(d.ImagePositionPatient[2]) for d in datasets]
    # gaps 3, 3, 2.94, 3.06, 3 (2 % irregularity, like PET bed joins); first and last stay put
    datasets[3].ImagePositionPatient = [*datasets[3].ImagePositionPatient[:2], z[3] - 0.06]
    save(folder, datasets)
    with pytest.warns(GeometryWarning, match="resampled onto a uniform 3 mm grid"):
        vol = read_image(folder)
    assert vol.spacing_mm[0] == pytest.approx(3.0)
    record = vol.metadata["slice_resampling"]
    assert record["max_shift_mm"] == pytest.approx(0.06, abs=1e-6)
    # slices on the uniform grid keep their values; slice 3 is interpolated 2 % towards slice 4
    np.testing.assert_allclose(vol.array[2], datasets[2].pixel_array - 1000.0, atol=1e-3)
    w = 0.06 / 3.06
    expected = (1 - w) * datasets[3].pixel_array + w * datasets[4].pixel_array - 1000.0
    np.testing.assert_allclose(vol.array[3], expected, atol=1e-2)


def test_gantry_tilt_raises_with_angle(ct_slices):
    folder, datasets = ct_slices
    for i, d in enumerate(datasets):
        x, y, z = (float(v) for v in d.ImagePositionPatient)
        d.ImagePositionPatient = [x, y + i * 3.0 * np.tan(np.radians(10.0)), z]
    save(folder, datasets)
    with pytest.raises(GeometryError, match=r"gantry tilt.*10\.000 degrees"):
        read_image(folder)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="nope.nii.gz.*does not exist"):
        read_image(tmp_path / "nope.nii.gz", case_id="c1")
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(InputError, match="broken.nii.gz: cannot read image") as info:
        read_image(bad, case_id="c1")
    assert info.value.case_id == "c1" and info.value.path == str(bad)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no DICOM image files"):
        read_image(empty)
    with pytest.raises(InputError, match="unsupported image file type '.txt'"):
        (tmp_path / "a.txt").write_text("x")
        read_image(tmp_path / "a.txt")


@pytest.mark.parametrize("keep_bytes", [50, 600])
def test_truncated_slice_is_named_not_a_gap(ct_slices, keep_bytes):
    # 50 bytes: no DICM marker, does not parse; 600 bytes: parses, but the header stops
    # before the geometry tags. Either way the file is named, not skipped into a "gap".
    folder, _ = ct_slices
    victim = sorted(folder.iterdir())[2]
    victim.write_bytes(victim.read_bytes()[:keep_bytes])
    (folder / "README.txt").write_text("not DICOM, ignored")
    with pytest.raises(InputError, match=rf"1 DICOM file\(s\) cannot be read: {victim.name}: .*slice gap"):
        read_image(folder)
    with pytest.raises(InputError, match=victim.name):
        list_series(folder)


def test_truncated_pixel_data_is_named(ct_slices):
    folder, _ = ct_slices
    victim = sorted(folder.iterdir())[2]
    victim.write_bytes(victim.read_bytes()[:-5000])
    with pytest.raises(InputError, match=rf"{victim.name}: cannot decode pixel data"):
        read_image(folder)


def test_missing_slice_lists_only_the_irregular_gap(tmp_path):
    import pydicom

    # 40 slices 3 mm apart, slice 12 deleted: one 6 mm gap, the 38 regular gaps not listed
    src = pydicom.dcmread(sorted(CT_DICOM.glob("*.dcm"))[0])
    folder = tmp_path / "series"
    folder.mkdir()
    for i in [k for k in range(40) if k != 12]:
        src.ImagePositionPatient = [*src.ImagePositionPatient[:2], 3.0 * i]
        src.SOPInstanceUID = f"1.2.3.{i}"
        src.save_as(folder / f"{i:02d}.dcm")
    with pytest.raises(GeometryError, match=r"expected 3 mm \(the median of 38 gaps\), found 1 gap\(s\) that differ: "
                                            r"6 mm between slices 11/12 \(1 slice\(s\) missing\?\);") as info:
        read_image(folder)
    assert "3 mm between" not in str(info.value)


def test_resampling_warned_once_at_the_callers_line(ct_slices):
    folder, datasets = ct_slices
    z = float(datasets[3].ImagePositionPatient[2])
    datasets[3].ImagePositionPatient = [*datasets[3].ImagePositionPatient[:2], z - 0.06]
    save(folder, datasets)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_image(folder)
        read_image(folder)  # same series again (e.g. a second ROI): no second warning
    assert len(caught) == 1 and issubclass(caught[0].category, GeometryWarning)
    assert caught[0].filename == __file__
    assert read_image(folder).metadata["slice_resampling"]["max_shift_mm"] == pytest.approx(0.06, abs=1e-6)


def test_modality_contradicting_the_header(ct_slices):
    folder, _ = ct_slices
    with pytest.raises(InputError, match=r"modality 'PT' was given, but the DICOM header of series [0-9.]+ says "
                                         r"Modality 'CT'"):
        read_image(folder, modality="PT")
    with pytest.raises(InputError, match=r"modality 'CAT' was given.*'CT'.*did you mean 'CT'"):
        read_image(folder, modality="CAT")
    assert read_image(folder, modality="ct").modality == "CT"


def test_single_slice_series_warns(ct_slices):
    folder, datasets = ct_slices
    save(folder, datasets[:1])
    with pytest.warns(GeometryWarning, match="the DICOM series holds one slice; 3-D morphological features"):
        vol = read_image(folder)
    assert vol.shape[0] == 1 and "single_slice" in vol.metadata
