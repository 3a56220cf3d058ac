"""DICOM index: RTSTRUCT/SEG paired with their series, written as a manifest."""

from __future__ import annotations

import shutil

import pytest
from io_testdata import CT_DICOM, CT_RTSTRUCT, LIVER

from voxelomics.errors import GeometryWarning
from voxelomics.io import index_dicom, load_case, read_manifest, write_manifest


def test_index_bundled_data_round_trip(tmp_path):
    root = tmp_path / "dicom"
    shutil.copytree(LIVER / "ct", root / "liver/ct")
    shutil.copytree(LIVER / "seg", root / "liver/seg")
    shutil.copy(CT_RTSTRUCT, root / "rs.dcm")
    with pytest.warns(GeometryWarning, match=r"1 ROI\(s\) match no image series.*rs.dcm \(GTV-1\)"):
        df = index_dicom(root)
    assert len(df) == 6 and df["case_id"].is_unique  # 1 + 5 SEG segments; no series for the RTSTRUCT
    assert set(df["roi"]) == {"Liver", "GREEN", "ORANGE", "PURPLE", "LIGHT_BLUE", "DARK_BLUE"}
    assert set(df["match"]) == {"series_uid"}
    cases = read_manifest(write_manifest(df, root / "manifest.csv"))
    liver = next(c for c in cases if c.roi == "Liver")
    assert liver.extra["mask_type"] == "SEG"
    _, mask = load_case(liver.image, liver.mask, roi=liver.roi, case_id=liver.case_id)
    assert mask.n_voxels == 107098


def test_index_ct_phantom():
    df = index_dicom(CT_DICOM.parent)
    assert df[["roi", "modality", "match"]].values.tolist() == [["GTV-1", "CT", "series_uid"]]


def test_sts001_crops_match_by_frame_of_reference_and_geometry(shared_data):
    df = index_dicom(shared_data / "dicom/sts_001").set_index("roi")
    # README: the crop RTSTRUCTs reference uncropped series that are not included
    for roi, folder in [("GTV_Mass_CT", "ct_crop"), ("GTV_Mass_MR_T1", "mr_t1_crop")]:
        assert df.loc[roi, "image"].endswith(f"{folder}/image")
        assert df.loc[roi, "match"] == "frame_of_reference+geometry"
    assert df.loc["GTV_Edema", "match"] == "series_uid"
    assert df.loc["GTV_Edema", "image"].endswith("pet_raw/image")
