"""Several lesions of one mask file: label 'all' / lists, ROI patterns, clear errors."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from io_testdata import CT_DICOM, CT_RTSTRUCT, LIVER

from voxelomics.errors import EmptyRoiError, InputError, MaskError
from voxelomics.io.lesions import (
    expand_case,
    is_roi_pattern,
    label_map_labels,
    match_roi_names,
    needs_expansion,
)
from voxelomics.io.manifest import Case, parse_labels, read_manifest, write_manifest


def _label_map(path, values):
    import SimpleITK as sitk

    arr = np.zeros((4, 6, 6), np.int16)
    for i, v in enumerate(values):
        arr[1:3, i, 1:3] = v
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((1.0, 1.0, 2.0))
    sitk.WriteImage(img, str(path))
    return path


@pytest.fixture
def rtstruct_three(tmp_path):
    """The IBSI phantom RTSTRUCT with two more ROIs (copies of GTV-1): GTV-2 and CTV."""
    import pydicom

    ds = pydicom.dcmread(CT_RTSTRUCT)
    roi, contour = ds.StructureSetROISequence[0], ds.ROIContourSequence[0]
    for number, name in ((91, "GTV-2"), (92, "CTV")):
        new_roi, new_contour = copy.deepcopy(roi), copy.deepcopy(contour)
        new_roi.ROINumber, new_roi.ROIName = number, name
        new_contour.ReferencedROINumber = number
        ds.StructureSetROISequence.append(new_roi)
        ds.ROIContourSequence.append(new_contour)
    path = tmp_path / "rs3.dcm"
    ds.save_as(path)
    return path


def test_patterns_are_globs_or_regular_expressions():
    assert is_roi_pattern("GTV*") and is_roi_pattern("GTV-?") and is_roi_pattern("re:GTV.*")
    assert not is_roi_pattern("GTV-1") and not is_roi_pattern(None)
    names = ["GTV-1", "gtv-2", "GTV_nodal", "CTV"]
    assert match_roi_names(names, "GTV*") == ["GTV-1", "gtv-2", "GTV_nodal"]  # letter case ignored
    assert match_roi_names(names, "GTV-?") == ["GTV-1", "gtv-2"]
    assert match_roi_names(names, r"re:GTV-\d") == ["GTV-1"]  # full match, case-sensitive
    assert match_roi_names(names, r"re:(?i)gtv-\d") == ["GTV-1", "gtv-2"]
    with pytest.raises(InputError, match="not a valid regular expression"):
        match_roi_names(names, "re:GTV(")


def test_manifest_label_cells_all_and_lists(tmp_path):
    assert parse_labels("all") == "all" and parse_labels("4") == 4
    assert parse_labels("3;1") == (1, 3) and parse_labels("1, 2 |5") == (1, 2, 5)
    with pytest.raises(ValueError, match="'x' is not an integer"):
        parse_labels("1;x")
    (tmp_path / "m.csv").write_text('case_id,image,mask,label,roi\na,i,m,all,\nb,i,m,"1,2",\nc,i,m,3,\nd,i,m,,GTV*\n')
    a, b, c, d = read_manifest(tmp_path / "m.csv")
    assert (a.label, a.labels) == (None, "all") and (b.label, b.labels) == (None, (1, 2))
    assert (c.label, c.labels) == (3, None) and d.roi == "GTV*"
    assert [needs_expansion(x) for x in (a, b, c, d)] == [True, True, False, True]
    back = read_manifest(write_manifest([a, b, c, d], tmp_path / "back.csv"))
    assert [(x.label, x.labels, x.roi) for x in back] == [(x.label, x.labels, x.roi) for x in (a, b, c, d)]


def test_label_all_is_every_label_of_the_map_one_case_each(tmp_path):
    mask = _label_map(tmp_path / "m.nii.gz", [3, 1, 7])
    case = Case("P1", tmp_path / "img.nii.gz", mask, labels="all", extra={"patient_id": "P1"})
    out = expand_case(case)
    assert [(c.label, c.labels, c.roi) for c in out] == [(1, None, None), (3, None, None), (7, None, None)]
    assert all(c.extra == {"patient_id": "P1"} and c.case_id == "P1" for c in out)
    assert label_map_labels(mask) == [1, 3, 7]


def test_label_list_is_split_without_reading_and_absent_labels_fail_their_own_row(tmp_path):
    case = Case("P1", tmp_path / "i.nii.gz", tmp_path / "missing.nii.gz", labels=(2, 5))
    assert [c.label for c in expand_case(case)] == [2, 5]  # the file is read by each row later


def test_label_all_on_an_empty_map_and_on_an_image(tmp_path):
    empty = _label_map(tmp_path / "e.nii.gz", [])
    with pytest.raises(EmptyRoiError, match=r"case 'P1', file .*e.nii.gz: label 'all' selects no ROI"):
        expand_case(Case("P1", tmp_path / "i.nii.gz", empty, labels="all"))
    import SimpleITK as sitk

    image = tmp_path / "image.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.arange(4 * 6 * 12, dtype=np.int16).reshape(4, 6, 12)), str(image))
    with pytest.raises(MaskError, match="looks like an image"):
        expand_case(Case("P1", tmp_path / "i.nii.gz", image, labels="all"))


def test_a_pattern_on_a_label_map_says_what_to_use(tmp_path):
    mask = _label_map(tmp_path / "m.nii.gz", [1, 2])
    with pytest.raises(InputError, match="file is a label map; use label: all"):
        expand_case(Case("P1", tmp_path / "i.nii.gz", mask, roi="GTV*"))


def test_rtstruct_pattern_selects_matching_rois_in_file_order(rtstruct_three):
    case = Case("PAT1", CT_DICOM, rtstruct_three, roi="gtv*")
    assert [(c.roi, c.label) for c in expand_case(case)] == [("GTV-1", None), ("GTV-2", None)]
    assert [c.roi for c in expand_case(Case("PAT1", CT_DICOM, rtstruct_three, labels="all"))] == [
        "GTV-1", "GTV-2", "CTV"]


def test_nothing_matching_names_the_pattern_and_the_rois_of_the_file(rtstruct_three):
    with pytest.raises(InputError, match=r"case 'PAT1', file .*rs3.dcm: no ROI of the RTSTRUCT matches "
                                         r"'PTV\*'; ROIs in the file: \['GTV-1', 'GTV-2', 'CTV'\]") as err:
        expand_case(Case("PAT1", CT_DICOM, rtstruct_three, roi="PTV*"))
    assert err.value.step == "select_roi"


def test_seg_segments_by_label_pattern_or_all_become_segment_numbers():
    seg = LIVER / "seg/partial_overlaps.dcm"  # GREEN, ORANGE, PURPLE, LIGHT_BLUE, DARK_BLUE
    out = expand_case(Case("liver", LIVER / "ct", seg, roi="*blue"))
    assert [(c.label, c.roi) for c in out] == [(4, None), (5, None)]
    assert [c.label for c in expand_case(Case("liver", LIVER / "ct", seg, labels="all"))] == [1, 2, 3, 4, 5]
    with pytest.raises(InputError, match=r"no segment of the SEG matches 're:RED'; segments in the file: 1: 'GREEN'"):
        expand_case(Case("liver", LIVER / "ct", seg, roi="re:RED"))


def test_roi_and_label_both_selecting_is_refused(rtstruct_three):
    with pytest.raises(InputError, match="both select ROIs"):
        expand_case(Case("PAT1", CT_DICOM, rtstruct_three, roi="GTV*", labels="all"))


def test_a_row_that_selects_one_roi_is_returned_as_it_is(tmp_path):
    case = Case("P1", tmp_path / "i.nii.gz", tmp_path / "m.nii.gz", label=2)
    assert expand_case(case) == [case]


def test_the_sarcoma_pet_rtstruct_mass_and_oedema(shared_data):
    folder = shared_data / "dicom/sts_001/pet_raw"
    out = expand_case(Case("STS_001", folder / "image", folder / "rtstruct/1-1.dcm", roi="GTV*"))
    assert [c.roi for c in out] == ["GTV_Mass", "GTV_Edema"]


def test_the_head_and_neck_seg_eleven_lesions(shared_data):
    folder = shared_data / "dicom/qin_headneck_01_0139"
    out = expand_case(Case("QIN", folder / "pet", folder / "seg/mask.dcm", labels="all"))
    assert [c.label for c in out] == list(range(1, 12))
    primary = expand_case(Case("QIN", folder / "pet", folder / "seg/mask.dcm", roi="*primary*"))
    assert [c.label for c in primary] == [1]
