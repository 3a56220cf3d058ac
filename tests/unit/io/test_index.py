"""DICOM index: RTSTRUCT/SEG paired with their series, written as a manifest."""

from __future__ import annotations

import shutil
import warnings

import pytest
from io_testdata import CT_DICOM, CT_RTSTRUCT, LIVER

from voxelomics.errors import GeometryWarning, VoxelomicsWarning
from voxelomics.io import index_dicom, load_case, read_manifest, write_manifest


def test_index_bundled_data_round_trip(tmp_path):
    root = tmp_path / "dicom"
    shutil.copytree(LIVER / "ct", root / "liver/ct")
    shutil.copytree(LIVER / "seg", root / "liver/seg")
    shutil.copy(CT_RTSTRUCT, root / "rs.dcm")
    with pytest.warns(GeometryWarning, match=r"RTSTRUCT rs.dcm: 1 ROI\(s\) match no image series and are left out "
                                             r"\(GTV-1\): it references series [0-9.]+, which is not in the tree; "
                                             r"no series in the tree shares its frame of reference"):
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


def _index(root):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = index_dicom(root)
    assert [str(w.message) for w in caught] == df.attrs["warnings"]
    return df, "\n".join(df.attrs["warnings"])


@pytest.mark.filterwarnings("ignore::voxelomics.errors.VoxelomicsWarning")
def test_series_without_mask_is_explained(tmp_path):
    shutil.copytree(LIVER / "ct", tmp_path / "liver/ct")
    df, text = _index(tmp_path)
    assert len(df) == 0
    with pytest.warns(VoxelomicsWarning, match=r"series [0-9.]+ \(CT, 3 files in liver/ct\) has no RTSTRUCT/SEG "
                                                r"paired with it.*no row written"):
        index_dicom(tmp_path)
    assert "0 rows: 1 image series and 0 RTSTRUCT/SEG file(s)" in text


def test_empty_tree_is_explained(tmp_path):
    (tmp_path / "notes.txt").write_text("no DICOM here")
    with pytest.warns(VoxelomicsWarning, match="no DICOM image series and no RTSTRUCT/SEG found"):
        assert len(index_dicom(tmp_path)) == 0


@pytest.mark.filterwarnings("ignore::voxelomics.errors.VoxelomicsWarning")
def test_uid_collision_and_unreadable_file_warned(tmp_path):
    import pydicom

    shutil.copytree(LIVER / "ct", tmp_path / "ct")
    shutil.copy(LIVER / "seg/liver.dcm", tmp_path / "a.dcm")
    other = pydicom.dcmread(LIVER / "seg/liver.dcm")
    other.SeriesDescription = "edited copy"
    other.save_as(tmp_path / "b.dcm")
    shutil.copy(LIVER / "seg/liver.dcm", tmp_path / "same.dcm")  # identical copy
    (tmp_path / "broken.dcm").write_bytes(b"\0" * 50)
    df, text = _index(tmp_path)
    assert len(df) == 3  # the three SEG files are still indexed
    assert ("UID collision: 2 different files share SOPInstanceUID" in text
            and "a.dcm, b.dcm (plus 1 identical copy)" in text)
    with pytest.warns(VoxelomicsWarning, match=r"1 DICOM file\(s\) cannot be read: broken.dcm: cannot be parsed"):
        index_dicom(tmp_path)


def test_sts001_crops_match_by_frame_of_reference_and_geometry(shared_data):
    df, text = _index(shared_data / "dicom/sts_001")
    # every image series gets rows; pet_suv_crop through the RTSTRUCT beside it (rule 4)
    assert {p.split("sts_001/")[1] for p in df["image"]} == {"ct_crop/image", "mr_t1_crop/image", "pet_raw/image",
                                                             "pet_suv_crop/image"}
    crop = df[df["image"].str.endswith("pet_suv_crop/image")]
    assert crop[["roi", "match"]].values.tolist() == [["GTV_Mass_PET", "folder+geometry"]]
    # README: pet_suv_crop/rtstruct/RS.dcm and pet_raw/rtstruct/1-1.dcm share the SOPInstanceUID, contents differ
    assert ("UID collision: 2 different files share SOPInstanceUID" in text and "pet_raw/rtstruct/1-1.dcm, "
            "pet_suv_crop/rtstruct/RS.dcm" in text)
    df = df[~df["image"].str.endswith("pet_suv_crop/image")].set_index("roi")
    # README: the crop RTSTRUCTs reference uncropped series that are not included
    for roi, folder in [("GTV_Mass_CT", "ct_crop"), ("GTV_Mass_MR_T1", "mr_t1_crop")]:
        assert df.loc[roi, "image"].endswith(f"{folder}/image")
        assert df.loc[roi, "match"] == "frame_of_reference+geometry"
    assert df.loc["GTV_Edema", "match"] == "series_uid"
    assert df.loc["GTV_Edema", "image"].endswith("pet_raw/image")


def test_case_ids_do_not_depend_on_the_rest_of_the_tree(tmp_path):
    """A case keeps its id when other masks of the same patient are added to the tree."""
    import shutil

    from voxelomics.io import index_dicom

    alone = tmp_path / "liver"
    shutil.copytree(LIVER / "ct", alone / "ct")
    (alone / "seg").mkdir()
    shutil.copy(LIVER / "seg/liver.dcm", alone / "seg/liver.dcm")  # one row for this patient
    one = index_dicom(alone)
    full = index_dicom(LIVER)  # the same patient with five more segments
    assert len(one) == 1 and len(full) > 1
    liver_id = one["case_id"].iloc[0]
    assert liver_id in set(full["case_id"]) and "_CT_" in liver_id
