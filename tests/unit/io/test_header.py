"""DICOM header covariates (kVp, kernel, slice thickness, scanner, date ...) of image series."""

from __future__ import annotations

import datetime as dt

import pytest
from io_testdata import CT_DICOM, LIVER

from voxelomics.io import read_image
from voxelomics.io.header import COLUMN_TYPES, HEADER_COLUMNS, header_covariates


def test_liver_ct_header_values_as_written_in_its_files():
    cov = read_image(LIVER / "ct").metadata["covariates"]
    assert list(cov) == list(HEADER_COLUMNS)
    assert cov["dicom_kvp"] == 120.0 and cov["dicom_tube_current_ma"] == 300.0
    assert cov["dicom_exposure_mas"] == 5100.0
    assert cov["dicom_convolution_kernel"] == "STANDARD"
    assert cov["dicom_slice_thickness_mm"] == 1.25
    assert cov["dicom_manufacturer"] == "GE MEDICAL SYSTEMS"
    assert cov["dicom_manufacturer_model"] == "LightSpeed Ultra"
    assert cov["dicom_acquisition_date"] == dt.date(2003, 4, 17)
    assert cov["dicom_acquisition_date_source"] == "AcquisitionDate"
    assert cov["dicom_pixel_spacing_y_mm"] == cov["dicom_pixel_spacing_x_mm"] == 0.810547
    assert cov["dicom_contrast_agent"] is None and cov["dicom_institution"] is None  # absent: unknown
    assert cov["dicom_magnetic_field_strength_t"] is None  # an MR field on a CT


def test_ibsi_phantom_without_dates_or_kvp():
    cov = read_image(CT_DICOM).metadata["covariates"]
    assert cov["dicom_institution"] == "CERR" and cov["dicom_manufacturer_model"] == "CERR"
    assert cov["dicom_kvp"] is None and cov["dicom_acquisition_date"] is None
    assert cov["dicom_acquisition_date_source"] is None and cov["dicom_slice_thickness_mm"] == 3.0


def test_the_sarcoma_ct_mr_and_pet_series(shared_data):
    sts = shared_data / "dicom/sts_001"
    ct = read_image(sts / "ct_crop/image").metadata["covariates"]
    assert (ct["dicom_kvp"], ct["dicom_convolution_kernel"], ct["dicom_manufacturer_model"]) == (
        140.0, "SOFT", "Discovery ST")
    # no AcquisitionDate in the crop: the series date, and the column says so
    assert (ct["dicom_acquisition_date"], ct["dicom_acquisition_date_source"]) == (dt.date(2000, 9, 7), "SeriesDate")
    mr = read_image(sts / "mr_t1_crop/image").metadata["covariates"]
    assert mr["dicom_manufacturer_model"] == "Avanto" and mr["dicom_kvp"] is None
    assert mr["dicom_acquisition_date"] == dt.date(2000, 9, 3)  # the slices' own date, not the series'
    pet = read_image(sts / "pet_suv_crop/image").metadata["covariates"]
    assert pet["dicom_reconstruction_method"] == "OSEM" and pet["dicom_pixel_spacing_x_mm"] == 4.6875


def test_earliest_acquisition_date_of_all_slices_and_multi_valued_kernels():
    from pydicom import Dataset

    a, b = Dataset(), Dataset()
    a.AcquisitionDate, b.AcquisitionDate = "20200302", "20200301"
    a.ConvolutionKernel = ["FC13", "AXIAL"]
    a.KVP = ""  # empty: missing, not 0
    cov = header_covariates([a, b])
    assert cov["dicom_acquisition_date"] == dt.date(2020, 3, 1)
    assert cov["dicom_convolution_kernel"] == "FC13\\AXIAL"
    assert cov["dicom_kvp"] is None and cov["dicom_slice_thickness_mm"] is None  # absent
    with pytest.raises(ValueError, match="at least one"):
        header_covariates([])


def test_every_column_has_an_arrow_type():
    assert set(COLUMN_TYPES) == set(HEADER_COLUMNS)
    assert set(COLUMN_TYPES.values()) <= {"float64", "string", "date32"}


def test_a_broken_value_in_a_file_is_missing_not_a_failure(tmp_path):
    import pydicom

    src = sorted(CT_DICOM.glob("*.dcm"))[0]
    ds = pydicom.dcmread(src)
    ds["SliceThickness"]._value = "3.0mm"  # not a decimal string; read back lazily from the file
    ds.KVP = "120"
    ds.save_as(tmp_path / "s.dcm")
    back = pydicom.dcmread(tmp_path / "s.dcm")
    cov = header_covariates([back])
    assert cov["dicom_slice_thickness_mm"] is None and cov["dicom_kvp"] == 120.0
