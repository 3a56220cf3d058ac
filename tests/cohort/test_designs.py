"""Study designs in a cohort run: several lesions, rings, time points, DICOM covariates.

Real bundled data: the breast case (a label map split into two lesions, scanned at two
"time points" that differ by a known intensity change) and the liver CT (DICOM, with a SEG
of five segments), run through ``extract_cohort`` and ``voxelomics delta``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from cohort_standin import BREAST

from voxelomics.cohort import extract_cohort
from voxelomics.delta import delta_features
from voxelomics.errors import RoiWarning, SettingsError
from voxelomics.io.manifest import Case, read_manifest
from voxelomics.settings import Settings

LIVER = BREAST.parent / "dicom/dcmqi_ct3slice_liver"


def _two_lesions(folder):
    """breast1 with its ROI split in two labels, at two time points (+100 in the follow-up)."""
    import SimpleITK as sitk

    img = sitk.ReadImage(str(BREAST / "breast1_image.nrrd"))
    lab = sitk.ReadImage(str(BREAST / "breast1_label.nrrd"))
    arr = sitk.GetArrayFromImage(lab)
    ys = np.nonzero(arr)[1]
    two = np.where(arr > 0, np.where(np.indices(arr.shape)[1] <= np.median(ys), 1, 2), 0).astype(np.int16)
    out = sitk.GetImageFromArray(two)
    out.CopyInformation(lab)
    sitk.WriteImage(out, str(folder / "lesions.nrrd"))
    later = sitk.GetImageFromArray(sitk.GetArrayFromImage(img).astype(np.int16) + 100)
    later.CopyInformation(img)
    sitk.WriteImage(later, str(folder / "followup.nrrd"))
    return folder / "lesions.nrrd", BREAST / "breast1_image.nrrd", folder / "followup.nrrd"


@pytest.fixture(scope="module")
def design_manifest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("designs")
    lesions, t0, t1 = _two_lesions(folder)
    path = folder / "manifest.csv"
    path.write_text(
        "case_id,image,mask,label,roi,patient_id,timepoint,outcome\n"
        f"B_t0,{t0},{lesions},all,,P1,0,1\n"
        f"B_t1,{t1},{lesions},all,,P1,1,1\n"
        f"liver,{LIVER / 'ct'},{LIVER / 'seg/partial_overlaps.dcm'},,*BLUE,,0,0\n"
        f"liver_none,{LIVER / 'ct'},{LIVER / 'seg/partial_overlaps.dcm'},,TUMOUR*,P9,0,0\n")
    return path


SETTINGS = {"families": ["statistics", "morphology"], "resampling": {"spacing_mm": None},
            "rois": {"rings": [{"outside_mm": 2}]}}


@pytest.fixture(scope="module")
def design_run(design_manifest, tmp_path_factory):
    out = tmp_path_factory.mktemp("design_out")
    # the liver rings pass the 3-slice CT's first slice: warned about and recorded
    with pytest.warns(RoiWarning, match=r"case 'liver', ROI '(LIGHT|DARK)_BLUE', ring 'ring0-2mm': the ring is cut"):
        result = extract_cohort(design_manifest, out=out, settings=SETTINGS, scheduler="in-process",
                                progress=False)
    return result, out


def test_one_row_per_lesion_and_region_with_patient_and_timepoint(design_run):
    result, _ = design_run
    table = result.features
    rows = list(zip(table["case_id"], table["roi"], table["lesion_id"], table["region"], strict=True))
    assert rows == [
        ("B_t0", "1", "1", "roi"), ("B_t0", "1_ring0-2mm", "1", "ring0-2mm"),
        ("B_t0", "2", "2", "roi"), ("B_t0", "2_ring0-2mm", "2", "ring0-2mm"),
        ("B_t1", "1", "1", "roi"), ("B_t1", "1_ring0-2mm", "1", "ring0-2mm"),
        ("B_t1", "2", "2", "roi"), ("B_t1", "2_ring0-2mm", "2", "ring0-2mm"),
        ("liver", "4", "4", "roi"), ("liver", "4_ring0-2mm", "4", "ring0-2mm"),
        ("liver", "5", "5", "roi"), ("liver", "5_ring0-2mm", "5", "ring0-2mm"),
    ]
    # an empty patient_id cell is the case itself: every row names its patient
    assert list(table["patient_id"]) == ["P1"] * 8 + ["liver"] * 4
    assert list(table["timepoint"]) == [0] * 4 + [1] * 4 + [0] * 4
    cols = list(table.columns)
    assert cols[:9] == ["case_id", "roi", "image_type", "modality", "provenance", "patient_id", "timepoint",
                        "lesion_id", "region"]
    assert cols.index("dicom_kvp") < cols.index("statistics_mean") < cols.index("outcome")
    # the two lesions partition the original ROI (143 voxels of 0.664 x 0.664 x 2.1 mm)
    vol = table.set_index(["case_id", "roi"])["morphology_volume_voxel"]
    assert vol[("B_t0", "1")] + vol[("B_t0", "2")] == pytest.approx(143 * 0.664062 ** 2 * 2.1, rel=1e-5)


def test_rings_are_rows_whose_volume_is_the_ring_record(design_run):
    table = design_run[0].features.set_index(["case_id", "roi"])
    prov = json.loads(table.loc[("B_t0", "1_ring0-2mm"), "provenance"])
    region = prov["region"]
    assert (region["name"], region["outside_mm"], prov["contour"]) == ("ring0-2mm", 2.0, "1")
    assert table.loc[("B_t0", "1_ring0-2mm"), "morphology_volume_voxel"] == pytest.approx(region["volume_mm3"])
    liver = json.loads(table.loc[("liver", "4_ring0-2mm"), "provenance"])["region"]
    assert liver["cut_edges"] == ["z-"] and liver["cut_at_edge_mm3"] > 0  # its first of 3 slices
    assert liver["volume_mm3"] == pytest.approx(table.loc[("liver", "4_ring0-2mm"), "morphology_volume_voxel"])


def test_dicom_header_covariates_are_typed_columns(design_run):
    import pyarrow.parquet as pq

    result, _ = design_run
    table = result.features.set_index(["case_id", "roi"])
    assert table.loc[("liver", "4"), "dicom_kvp"] == 120.0
    assert table.loc[("liver", "4"), "dicom_convolution_kernel"] == "STANDARD"
    assert table.loc[("liver", "4"), "dicom_manufacturer_model"] == "LightSpeed Ultra"
    assert table.loc[("liver", "4"), "dicom_slice_thickness_mm"] == 1.25
    assert str(table.loc[("liver", "4"), "dicom_acquisition_date"]) == "2003-04-17"
    assert np.isnan(table.loc[("B_t0", "1"), "dicom_kvp"])  # NRRD: no header, missing
    schema = pq.read_schema(result.features_path)
    assert str(schema.field("dicom_kvp").type) == "double"
    assert str(schema.field("dicom_acquisition_date").type) == "date32[day]"
    assert str(schema.field("dicom_contrast_agent").type) == "string"  # never set: still typed


def test_a_row_whose_pattern_matches_nothing_is_an_error_row(design_run):
    result, out = design_run
    assert result.exit_code == 1 and result.n_failed == 1 and result.n_cases == 13
    err = result.errors.set_index("case_id").loc["liver_none"]
    assert err["step"] == "select_roi" and err["roi"] == "TUMOUR*"
    assert "no segment of the SEG matches 'TUMOUR*'" in err["message"] and "DARK_BLUE" in err["message"]
    assert (out / err["log"]).is_file()


def test_adding_a_ring_computes_only_its_rows(design_run, design_manifest, tmp_path):
    import shutil

    result, out = design_run
    again = tmp_path / "again"
    shutil.copytree(out, again)
    more = {**SETTINGS, "rois": {"rings": [{"outside_mm": 2}, {"outside_mm": 4}]}}
    assert Settings.from_dict(more).settings_hash() == Settings.from_dict(SETTINGS).settings_hash()
    with pytest.warns(RoiWarning, match="ring0-4mm"):
        rerun = extract_cohort(design_manifest, out=again, settings=more, scheduler="in-process",
                               progress=False)
    assert (rerun.n_reused, rerun.n_done) == (12, 6)  # 6 lesions x one new ring
    assert (rerun.features["region"] == "ring0-4mm").sum() == 6


def test_delta_between_the_two_time_points(design_run):
    table = design_run[0].features
    delta = delta_features(table[table["patient_id"] == "P1"])
    assert list(delta["roi"]) == ["1", "1_ring0-2mm", "2", "2_ring0-2mm"]
    # the follow-up is the baseline + 100 everywhere: the mean rises by exactly 100, shape is unchanged
    np.testing.assert_allclose(delta["statistics_mean_delta"], 100.0)
    np.testing.assert_allclose(delta["morphology_volume_voxel_delta"], 0.0)
    base = table[(table["case_id"] == "B_t0")].set_index("roi")["statistics_mean"]
    np.testing.assert_allclose(delta.set_index("roi")["statistics_mean_delta_rel"], 100.0 / base.abs().loc[delta["roi"]])
    assert list(delta["outcome"]) == [1] * 4


def test_extract_case_needs_an_expanded_row_and_extract_features_takes_a_ring():
    import voxelomics as vx
    from voxelomics.extract import extract_case

    case = Case("B", BREAST / "breast1_image.nrrd", BREAST / "breast1_label.nrrd", labels="all")
    with pytest.raises(SettingsError, match="selects several ROIs.*extract_cohort expands it"):
        extract_case(case, Settings())
    feats = vx.extract_features(BREAST / "breast1_image.nrrd", BREAST / "breast1_label.nrrd",
                                {"families": ["morphology"], "resampling": {"spacing_mm": None}},
                                ring={"outside_mm": 2})
    from voxelomics.io import load_case
    from voxelomics.preprocess.roi import peritumoral_ring

    image, mask = load_case(BREAST / "breast1_image.nrrd", BREAST / "breast1_label.nrrd")
    assert feats["morphology_volume_voxel"] == pytest.approx(peritumoral_ring(image, mask, outside_mm=2)[1].volume_mm3)
    with pytest.raises(SettingsError, match="ring"):
        vx.extract_features(BREAST / "breast1_image.nrrd", BREAST / "breast1_label.nrrd", ring={"outsid_mm": 2})


def test_rois_settings_are_validated():
    with pytest.raises(SettingsError, match="did you mean 'inside_mm'"):
        Settings.from_dict({"rois": {"rings": [{"outside_mm": 5, "insid_mm": 1}]}})
    with pytest.raises(SettingsError, match="same name"):
        Settings.from_dict({"rois": {"rings": [{"outside_mm": 5}, {"outside_mm": 5.0}]}})
    with pytest.raises(SettingsError, match="nothing to extract"):
        Settings.from_dict({"rois": {"original": False}})
    with pytest.raises(SettingsError, match="cannot set 'rois'"):
        Settings.from_dict({"modality_overrides": {"CT": {"rois": {"original": False}}}})
    with pytest.raises(SettingsError, match="did you mean 'PT'"):
        Settings.from_dict({"rois": {"rings": [{"outside_mm": 5, "body_threshold": {"PET": 0.1}}]}})
    ring = Settings.from_dict({"rois": {"rings": [{"outside_mm": 5, "body_threshold": {"ct": -300}}]}}).rois.rings[0]
    assert ring.clip_for("CT") == (-300.0, None) and ring.clip_for("MR") == (None, None)


def test_manifest_rows_of_one_patient_read_back(design_manifest):
    cases = read_manifest(design_manifest)
    assert [c.labels for c in cases] == ["all", "all", None, None]
    assert cases[0].extra["patient_id"] == "P1" and cases[2].extra["patient_id"] is None
    assert isinstance(pd.Series([c.extra["timepoint"] for c in cases]).iloc[0], np.integer | int)
