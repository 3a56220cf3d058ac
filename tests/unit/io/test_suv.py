"""PET SUV: factor from the DICOM tags, checked against the STS_001 SUV crop."""

from __future__ import annotations

import warnings

import numpy as np
import pydicom
import pytest

from voxelomics.errors import GeometryWarning, InputError
from voxelomics.io import read_image, suv_factor


def _pet_raw(shared_data):
    folder = shared_data / "dicom/sts_001/pet_raw/image"
    return folder, pydicom.dcmread(next(iter(sorted(folder.glob("*.dcm")))), stop_before_pixels=True)


def test_sts001_factor_matches_readme(shared_data):
    _, ds = _pet_raw(shared_data)
    factor, record = suv_factor(ds)
    # README (shared/data/dicom): dose decayed to SeriesTime, dt = 2711 s, factor 2.42903e-4 g/Bq
    assert record["delta_t_s"] == pytest.approx(2711.0)
    assert record["reference_time"] == "SeriesTime"
    assert factor == pytest.approx(2.42903e-4, rel=5e-6)


def test_sts001_raw_times_factor_equals_suv_crop(shared_data):
    folder, _ = _pet_raw(shared_data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeometryWarning)  # bed-join gaps are resampled (documented)
        raw = read_image(folder)
    crop = read_image(shared_data / "dicom/sts_001/pet_suv_crop/image")
    assert raw.metadata["suv"]["method"] == "bw" and crop.metadata["suv"]["method"] == "none"
    region = raw.array[:59, 45:45 + 43, 59:59 + 41]  # crop offsets x 59, y 45 (README)
    np.testing.assert_allclose(raw.grid.index_to_physical(
        np.array([[0, 45, 59]]))[0], crop.origin_mm, atol=1e-3)
    # slices 0-43 lie on the uniform grid: README says the crop differs by at most 0.0008 SUV
    assert np.abs(region[:44] - crop.array[:44]).max() <= 1e-3
    # slices after the first bed join (gap 3.19 mm) were interpolated by up to 2.4 %
    assert np.abs(region.mean() - crop.array.mean()) <= 1e-3 * crop.array.mean()


def _pt(**changes):
    ds = pydicom.Dataset()
    ds.Modality, ds.Units, ds.DecayCorrection = "PT", "BQML", "START"
    ds.PatientWeight, ds.SeriesDate, ds.SeriesTime = "70", "20200101", "120000"
    rp = pydicom.Dataset()
    rp.RadiopharmaceuticalStartTime, rp.RadionuclideTotalDose, rp.RadionuclideHalfLife = "110000", "4e8", "6588"
    ds.RadiopharmaceuticalInformationSequence = [rp]
    for key, value in changes.items():
        setattr(rp if key.startswith("Radio") else ds, key, value)
    return ds


def test_hand_computed_factor_and_admin():
    factor, record = suv_factor(_pt())
    assert factor == pytest.approx(70000 / (4e8 * 0.5 ** (3600 / 6588)))
    factor, record = suv_factor(_pt(DecayCorrection="ADMIN"))
    assert factor == pytest.approx(70000 / 4e8) and record["delta_t_s"] == 0.0


def test_gml_is_not_converted():
    factor, record = suv_factor(_pt(Units="GML"))
    assert factor == 1.0 and record["method"] == "none"


@pytest.mark.parametrize(("changes", "message"), [
    ({"PatientWeight": ""}, r"PatientWeight \(0010,1030\)"),
    ({"RadionuclideTotalDose": None}, r"RadionuclideTotalDose \(0018,1074\)"),
    ({"RadionuclideHalfLife": ""}, r"RadionuclideHalfLife \(0018,1075\)"),
    ({"Units": "CNTS"}, "Units .* is 'CNTS'"),
    ({"DecayCorrection": "NONE"}, "DecayCorrection .* is 'NONE'"),
    ({"RadiopharmaceuticalStartTime": "130000"}, "injection time .* is after the reference time"),
])
def test_missing_or_unsupported_tags(changes, message):
    with pytest.raises(InputError, match=message):
        suv_factor(_pt(**changes))


def test_suv_true_on_ct_raises():
    from io_testdata import CT_DICOM

    with pytest.raises(InputError, match="SUV requested but the series is 'CT'"):
        read_image(CT_DICOM, suv=True)
