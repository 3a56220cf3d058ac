"""DICOM SEG: segments by number or label, frames placed by position."""

from __future__ import annotations

import pytest
from io_testdata import LIVER

from voxelomics.errors import InputError
from voxelomics.io import read_image, read_mask, seg_segments, seg_to_mask


@pytest.fixture(scope="module")
def liver_ct():
    return read_image(LIVER / "ct")


def test_liver_segment(liver_ct):
    mask = seg_to_mask(LIVER / "seg/liver.dcm", "Liver", liver_ct)
    assert mask.n_voxels == 107098 and mask.label == 1  # README: 107 098 foreground pixels


@pytest.mark.parametrize(("segment", "count"), [
    ("GREEN", 9602), ("ORANGE", 11888), (3, 10743), ("LIGHT_BLUE", 6693), ("5", 4713)])
def test_partial_overlaps_counts(liver_ct, segment, count):
    assert seg_to_mask(LIVER / "seg/partial_overlaps.dcm", segment, liver_ct).n_voxels == count


def test_unknown_segment_lists_segments(liver_ct):
    with pytest.raises(InputError, match=r"segment 'RED' not found; segments in the file: 1: 'GREEN', 2: 'ORANGE'"):
        seg_to_mask(LIVER / "seg/partial_overlaps.dcm", "RED", liver_ct)
    with pytest.raises(InputError, match="segment number 9 not found"):
        seg_to_mask(LIVER / "seg/partial_overlaps.dcm", 9, liver_ct)
    with pytest.raises(InputError, match="needs roi="):
        read_mask(LIVER / "seg/partial_overlaps.dcm", reference=liver_ct)


def test_read_mask_dispatches_seg(liver_ct):
    assert read_mask(LIVER / "seg/liver.dcm", reference=liver_ct).n_voxels == 107098
    assert read_mask(LIVER / "seg/partial_overlaps.dcm", label=2, reference=liver_ct).name == "ORANGE"


def test_qin_headneck_segment_4(shared_data):
    folder = shared_data / "dicom/qin_headneck_01_0139"
    pet = read_image(folder / "pet", suv=False)
    assert seg_to_mask(folder / "seg/mask.dcm", 4, pet).n_voxels == 4230  # README table
    assert len(seg_segments(folder / "seg/mask.dcm")) == 11
    with pytest.raises(InputError, match="'Neoplasm, Secondary' is ambiguous"):
        seg_to_mask(folder / "seg/mask.dcm", "Neoplasm, Secondary", pet)
