"""Degraded results are recorded per case (issue 10, item 4); presets refuse other modalities (item 5)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from voxelomics.errors import DiscretisationWarning, RoundingWarning, SettingsError
from voxelomics.extract import extract_case, extract_features
from voxelomics.io import align_mask, read_image, read_mask
from voxelomics.io.reference import bundled_data_dir, ibsi1_dir
from voxelomics.settings import Settings
from voxelomics.volume import RoiMask, Volume

CASES = bundled_data_dir() / "cases"
CT = ibsi1_dir() / "ct_phantom/nifti"
LIGHT = ["statistics", "histogram", "glcm"]


def _adc(tmp_path):
    """An apparent-diffusion-coefficient-like map in mm²/s (1e-4 .. 3e-3) from the MR brain case."""
    import SimpleITK as sitk

    img = sitk.ReadImage(str(CASES / "brain2_image.nrrd"))
    arr = sitk.GetArrayFromImage(img).astype(np.float64)
    adc = 1e-4 + 2.9e-3 * (arr - arr.min()) / (arr.max() - arr.min())
    out = sitk.GetImageFromArray(adc)
    out.CopyInformation(img)
    sitk.WriteImage(out, str(tmp_path / "adc.nii.gz"))
    # the label too, so both carry NIfTI's single-precision geometry (no alignment warning)
    sitk.WriteImage(sitk.ReadImage(str(CASES / "brain2_label.nrrd")), str(tmp_path / "adc_mask.nii.gz"))
    return tmp_path / "adc.nii.gz", tmp_path / "adc_mask.nii.gz"


def _case(case_id, image, mask, modality=None):
    from voxelomics.io.manifest import Case

    return Case(case_id=case_id, image=image, mask=mask, modality=modality)


def test_rounding_an_adc_map_is_recorded_with_the_collapse_it_causes(tmp_path):
    """round_input on mm²/s turns the map into zeros: one grey level, constant texture."""
    image, mask = _adc(tmp_path)
    settings = Settings.from_dict({"preset": "default", "round_input": True, "families": LIGHT})
    row = extract_case(_case("adc1", image, mask, "MR"), settings)
    records = json.loads(row["warnings"])
    kinds = {(r["step"], r["type"]) for r in records}
    assert kinds == {("preprocess", "RoundingWarning"), ("features", "DiscretisationWarning")}, records
    rounding = next(r for r in records if r["type"] == "RoundingWarning")["message"]
    assert "round_input rounds intensities that are not integers: 100 % of the ROI's values change" in rounding
    few = next(r for r in records if r["type"] == "DiscretisationWarning")["message"]
    assert few.startswith("only 1 grey level after discretisation (FBN with n_bins = 32): the ROI is constant")


def test_a_narrow_map_under_fbs_is_recorded(tmp_path):
    image, mask = _adc(tmp_path)
    settings = Settings.from_dict({"preset": "default", "families": LIGHT,
                                   "discretisation": {"method": "fbs", "bin_width": 25}})
    row = extract_case(_case("adc2", image, mask, "MR"), settings)
    (record,) = json.loads(row["warnings"])
    assert record["type"] == "DiscretisationWarning"
    assert "FBS with bin_width = 25" in record["message"] and "narrow for this bin width" in record["message"]


def test_a_normal_case_records_no_warning_and_the_api_reissues_them(tmp_path):
    settings = Settings.from_dict({"preset": "default", "families": LIGHT})
    row = extract_case(_case("ct", CT / "image/phantom.nii.gz", CT / "mask/mask.nii.gz", "CT"), settings)
    assert row["warnings"] == "[]"
    assert list(row)[:6] == ["case_id", "roi", "image_type", "modality", "provenance", "warnings"]
    image, mask = _adc(tmp_path)
    with pytest.warns(DiscretisationWarning, match="only 1 grey level"), \
            pytest.warns(RoundingWarning, match="round_input"):
        extract_features(image, mask, {"preset": "default", "round_input": True, "families": LIGHT})


def test_a_warning_issued_once_per_process_is_recorded_for_every_case(tmp_path):
    """io's warn_once (e.g. a one-slice image) warns per case while cases record."""
    import SimpleITK as sitk

    img = sitk.ReadImage(str(CT / "image/phantom.nii.gz"))
    msk = sitk.ReadImage(str(CT / "mask/mask.nii.gz"))
    k = int(np.argmax(sitk.GetArrayFromImage(msk).sum(axis=(1, 2))))
    sitk.WriteImage(img[:, :, k:k + 1], str(tmp_path / "slice.nii.gz"))
    sitk.WriteImage(msk[:, :, k:k + 1], str(tmp_path / "slice_mask.nii.gz"))
    settings = Settings.from_dict({"preset": "ibsi-a", "families": ["statistics"]})
    rows = [extract_case(_case(f"s{i}", tmp_path / "slice.nii.gz", tmp_path / "slice_mask.nii.gz"),
                         settings) for i in range(2)]
    for row in rows:
        assert any("one slice" in r["message"] for r in json.loads(row["warnings"])), row["warnings"]


def test_cohort_outputs_carry_the_warnings(tmp_path, capfd):
    """features.parquet's warnings column, warnings.csv, run.json and the summary line."""
    from voxelomics.cohort import extract_cohort

    image, mask = _adc(tmp_path)
    cases = [_case("ct", CT / "image/phantom.nii.gz", CT / "mask/mask.nii.gz", "CT"),
             _case("adc", image, mask, "MR")]
    settings = Settings.from_dict({"preset": "default", "round_input": True, "families": LIGHT,
                                   "modality_overrides": {"CT": {"families": ["statistics"]}}})
    r = extract_cohort(cases, out=tmp_path / "out", settings=settings, progress=False)
    table = r.features
    assert list(table.columns[:6]) == ["case_id", "roi", "image_type", "modality", "provenance", "warnings"]
    assert json.loads(table.loc[0, "warnings"]) == []
    assert {w["type"] for w in json.loads(table.loc[1, "warnings"])} == {"RoundingWarning", "DiscretisationWarning"}
    warned = r.warnings
    assert list(warned.columns) == ["case_id", "roi", "image_type", "step", "type", "message"]
    assert list(warned["case_id"]) == ["adc", "adc"] and r.n_warned == 1
    assert json.loads(r.run_path.read_text())["n_warned"] == 1
    assert b"\r\n" not in r.warnings_path.read_bytes()
    err = capfd.readouterr().err
    assert "warnings: 1 case with degraded results" in err and "1 RoundingWarning" in err
    assert str(r.warnings_path) in err
    pytest.importorskip("jinja2")
    from voxelomics.report.html import build_report

    html = build_report(r.out, qc=False)  # the report lists them (from warnings.csv)
    assert "Warnings recorded during extraction" in html and "only 1 grey level" in html


def test_a_ct_preset_refuses_pet_and_mr_cases():
    """Issue 10, item 5 (decision: refuse): ibsi-c's [-1000, 400] HU and rounding spoil SUV and MR."""
    rng = np.random.default_rng(0)
    suv = Volume(rng.gamma(2.0, 1.5, (10, 12, 12)), (2.0, 2.0, 2.0), modality="PT")
    roi = RoiMask(np.pad(np.ones((6, 8, 8), bool), 2), (2.0, 2.0, 2.0))
    with pytest.raises(SettingsError, match=r"settings 'ibsi-c' are made for CT \(re-segmentation to "
                                            r"\[-1000.0, 400.0\], rounding to integers, FBS bin width 25\), "
                                            r"and this case is PT") as info:
        extract_features(suv, roi, "ibsi-c", modality="PT", case_id="pet1")
    assert info.value.case_id == "pet1" and info.value.step == "settings"
    with pytest.raises(SettingsError, match="this case is MR"):
        extract_features(suv, roi, "ibsi-c", modality="MR")
    feats = {"families": ["statistics"]}
    unknown = Volume(suv.array, suv.spacing_mm)  # e.g. a NIfTI file without a manifest modality
    with pytest.warns(RoundingWarning):  # applied as they are: the rounding is recorded
        assert extract_features(unknown, roi, {"preset": "ibsi-c", **feats})  # not known: not refused
    with pytest.warns(RoundingWarning):
        assert extract_features(suv, roi, {"preset": "ibsi-c", "modalities": ["CT", "PT"], **feats},
                                modality="PT")
    own = {"preset": "ibsi-c", **feats, "modality_overrides": {"PT": {"round_input": False}}}
    with pytest.warns(RoundingWarning, match="resampling.round_intensities rounds"):
        assert extract_features(suv, roi, own, modality="PT")  # an override for PT: the user decided
    ct = extract_features(suv.with_array(np.round(suv.array * 100)), roi, {"preset": "ibsi-c", **feats},
                          modality="CT")
    assert ct["statistics_mean"] > 0


def test_a_mixed_cohort_under_a_ct_preset_fails_only_the_other_modalities(tmp_path):
    from voxelomics.cohort import extract_cohort

    cases = [_case("ct", CT / "image/phantom.nii.gz", CT / "mask/mask.nii.gz", "CT"),
             _case("mr", CASES / "brain2_image.nrrd", CASES / "brain2_label.nrrd", "MR")]
    settings = Settings.from_dict({"preset": "ibsi-c", "families": ["statistics"]})
    r = extract_cohort(cases, out=tmp_path / "out", settings=settings, progress=False)
    assert list(r.features["case_id"]) == ["ct"]
    err = r.errors.iloc[0]
    assert (err["case_id"], err["error_type"], err["step"]) == ("mr", "SettingsError", "settings")
    assert "made for CT" in err["message"]
    image = read_image(CASES / "brain2_image.nrrd")
    assert align_mask(image, read_mask(CASES / "brain2_label.nrrd", reference=image)).n_voxels > 0


def test_label_1_of_a_map_with_other_labels_is_a_recorded_roi_warning(tmp_path):
    """Without a manifest 'label' column label 1 is used; the labels left out are said, with the way to choose."""
    import SimpleITK as sitk

    from voxelomics.cohort import extract_cohort

    msk = sitk.ReadImage(str(CT / "mask/mask.nii.gz"))
    arr = sitk.GetArrayFromImage(msk).astype(np.uint8)
    arr[0, :4, :4] = 2  # a second structure, away from the ROI
    two = sitk.GetImageFromArray(arr)
    two.CopyInformation(msk)
    sitk.WriteImage(two, str(tmp_path / "two.nii.gz"))
    settings = Settings.from_dict({"preset": "default", "families": ["statistics"]})
    r = extract_cohort([_case("ct", CT / "image/phantom.nii.gz", tmp_path / "two.nii.gz", "CT")],
                       out=tmp_path / "out", settings=settings, progress=False)
    assert r.n_warned == 1
    (w,) = r.warnings.to_dict("records")
    assert w["type"] == "RoiWarning" and w["step"] == "read"
    assert "holds labels [1, 2]; label 1 (the default) was used and [2] left out" in w["message"]
    assert "'label' column in the manifest" in w["message"]
    # a label given explicitly, or a map of label 1 only, warns of nothing
    assert json.loads(extract_case(_case("ct", CT / "image/phantom.nii.gz", CT / "mask/mask.nii.gz", "CT"),
                                   settings)["warnings"]) == []
