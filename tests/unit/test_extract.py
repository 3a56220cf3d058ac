"""The single-case orchestrator: API forms, naming, modality overrides, bad input."""

import numpy as np
import pytest
import SimpleITK as sitk

from voxelomics import extract_features
from voxelomics.errors import EmptyRoiError, GeometryError, SettingsError
from voxelomics.features.registry import all_features, readable_to_ibsi
from voxelomics.io.reference import ibsi1_dir
from voxelomics.settings import Settings, load_preset
from voxelomics.volume import RoiMask, from_sitk

CT = ibsi1_dir() / "ct_phantom"
DIG = ibsi1_dir() / "digital_phantom"
LIGHT = {"families": ["morphology", "statistics", "histogram", "glcm"]}


def test_every_registered_feature_is_computed_and_named_once():
    feats = extract_features(DIG / "image/phantom.nii.gz", DIG / "mask/mask.nii.gz", "ibsi-digital")
    assert set(feats) == set(readable_to_ibsi())
    assert len({s.name for s in all_features()}) == len(all_features())


def test_paths_and_loaded_volumes_give_the_same_features():
    img, msk = CT / "nifti/image/phantom.nii.gz", CT / "nifti/mask/mask.nii.gz"
    settings = Settings.from_dict({"preset": "ibsi-c", **LIGHT})
    by_path = extract_features(img, msk, settings)
    vol = from_sitk(sitk.ReadImage(str(img)))
    roi = RoiMask(sitk.GetArrayFromImage(sitk.ReadImage(str(msk))) > 0, vol.spacing_mm, vol.origin_mm, vol.direction)
    by_object = extract_features(vol, roi, settings)
    assert by_path.keys() == by_object.keys()
    np.testing.assert_allclose(list(by_path.values()), list(by_object.values()))


def test_ibsi_naming_uses_reference_tags():
    feats = extract_features(DIG / "image/phantom.nii.gz", DIG / "mask/mask.nii.gz", "ibsi-digital", naming="ibsi")
    assert "morph_volume" in feats and "cm_joint_max_3D_avg" in feats and "szm_sze_2_5D" in feats
    with pytest.raises(SettingsError, match="unknown naming"):
        extract_features(DIG / "image/phantom.nii.gz", DIG / "mask/mask.nii.gz", "ibsi-digital", naming="short")


def test_dicom_rtstruct_phantom_matches_nifti_volume():
    """Issue acceptance: the CT phantom from DICOM + RTSTRUCT gives the same morph_volume within 1 %."""
    settings = Settings.from_dict({"preset": "ibsi-a", "families": ["morphology"]})
    nifti = extract_features(CT / "nifti/image/phantom.nii.gz", CT / "nifti/mask/mask.nii.gz", settings)
    dicom = extract_features(CT / "dicom/image", CT / "dicom/mask/DCM_RS_00060.dcm", settings, roi="GTV-1")
    assert abs(dicom["morphology_volume"] / nifti["morphology_volume"] - 1) < 0.01


def test_modality_overrides_change_the_processing():
    img, msk = CT / "nifti/image/phantom.nii.gz", CT / "nifti/mask/mask.nii.gz"
    settings = Settings.from_dict({"preset": "default", "families": ["statistics"]})
    ct = extract_features(img, msk, settings, modality="CT")
    generic = extract_features(img, msk, settings, modality="MR")
    # CT: re-segmented to [-1000, 400] HU and rounded; MR: no range, so the maximum is above 400.
    assert ct["statistics_maximum"] <= 400 < generic["statistics_maximum"]


def test_empty_after_resegmentation_names_the_step():
    settings = Settings.from_dict({"preset": "ibsi-a", "resegmentation": {"range_min": 5000, "range_max": 6000}})
    with pytest.raises(EmptyRoiError, match="re-segmentation") as info:
        extract_features(CT / "nifti/image/phantom.nii.gz", CT / "nifti/mask/mask.nii.gz", settings, case_id="p1")
    assert info.value.case_id == "p1" and info.value.step == "preprocess"


def test_misaligned_mask_is_refused(tmp_path):
    msk = sitk.ReadImage(str(DIG / "mask/mask.nii.gz"))
    msk.SetOrigin((1.0, 0.0, 0.0))  # half a 2 mm voxel
    sitk.WriteImage(msk, str(tmp_path / "shifted.nii.gz"))
    with pytest.raises(GeometryError, match="mm"):
        extract_features(DIG / "image/phantom.nii.gz", tmp_path / "shifted.nii.gz", load_preset("ibsi-digital"))


def test_unknown_modality_is_an_error_not_a_silent_fallback():
    with pytest.raises(SettingsError, match="did you mean 'PT'") as info:
        extract_features(DIG / "image/phantom.nii.gz", DIG / "mask/mask.nii.gz", modality="PET", case_id="p1")
    assert info.value.case_id == "p1"


def test_case_rows_record_modality_and_provenance():
    import json

    from voxelomics.extract import extract_case
    from voxelomics.io.manifest import Case

    case = Case(case_id="ct", image=CT / "nifti/image/phantom.nii.gz", mask=CT / "nifti/mask/mask.nii.gz",
                modality="ct", extra={"outcome": 1})
    row = extract_case(case, Settings.from_dict({"preset": "default", "families": ["statistics"]}))
    assert list(row)[:5] == ["case_id", "roi", "image_type", "modality", "provenance"]
    prov = json.loads(row["provenance"])
    assert row["modality"] == "CT" and prov["settings"] == "default[CT]" and row["outcome"] == 1


def test_settings_given_as_a_dict_or_a_wrong_type():
    feats = extract_features(DIG / "image/phantom.nii.gz", DIG / "mask/mask.nii.gz",
                             {"preset": "ibsi-digital", "families": ["statistics"]})
    assert len(feats) == 18
    with pytest.raises(SettingsError, match="settings must be"):
        extract_features(DIG / "image/phantom.nii.gz", DIG / "mask/mask.nii.gz", 42)
    with pytest.raises(SettingsError, match="label must be an integer"):
        extract_features(DIG / "image/phantom.nii.gz", DIG / "mask/mask.nii.gz", label=1.5)
    with pytest.raises(SettingsError, match="file path or a voxelomics Volume"):
        extract_features(np.zeros((2, 2, 2)), DIG / "mask/mask.nii.gz")


def test_provenance_summarises_per_slice_lists():
    from voxelomics.extract.pipeline import _compact

    meta = {"sop_instance_uids": [str(i) for i in range(267)], "suv": {"factor_g_per_bq": 2.4e-4}}
    assert _compact(meta) == {"sop_instance_uids": "<267 values>", "suv": {"factor_g_per_bq": 2.4e-4}}
