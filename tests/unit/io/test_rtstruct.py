"""RTSTRUCT rasterisation: hand-checked polygons and the IBSI CT phantom / STS_001 masks."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from io_testdata import CT_DICOM, CT_NIFTI_MASK, CT_RTSTRUCT, dice

from voxelomics.errors import InputError
from voxelomics.io import read_image, read_mask, rtstruct_roi_names, rtstruct_to_mask
from voxelomics.io.rtstruct import rasterise_polygons


def test_square_includes_centres_inside():
    square = np.array([[0.5, 0.5], [0.5, 2.5], [2.5, 2.5], [2.5, 0.5]])
    expected = np.zeros((4, 4), bool)
    expected[1:3, 1:3] = True
    np.testing.assert_array_equal(rasterise_polygons([square], (4, 4)), expected)


def test_hole_stays_hole_even_odd():
    outer = np.array([[-0.5, -0.5], [-0.5, 4.5], [4.5, 4.5], [4.5, -0.5]])
    inner = np.array([[1.5, 1.5], [1.5, 2.5], [2.5, 2.5], [2.5, 1.5]])
    got = rasterise_polygons([outer, inner], (5, 5))
    assert got.sum() == 24 and not got[2, 2]


def test_centre_on_edge_half_open_rule():
    # edges through voxel centres: left/top edges included, right/bottom excluded
    square = np.array([[1.0, 1.0], [1.0, 3.0], [3.0, 3.0], [3.0, 1.0]])
    got = rasterise_polygons([square], (5, 5))
    expected = np.zeros((5, 5), bool)
    expected[1:3, 1:3] = True
    np.testing.assert_array_equal(got, expected)


@pytest.fixture(scope="module")
def ct_phantom():
    return read_image(CT_DICOM)


def test_ibsi_ct_phantom_matches_nifti_mask(ct_phantom):
    mask = rtstruct_to_mask(CT_RTSTRUCT, "GTV-1", ct_phantom)
    ref = sitk.GetArrayFromImage(sitk.ReadImage(str(CT_NIFTI_MASK))) > 0
    assert dice(mask.array, ref) >= 0.98
    assert mask.name == "GTV-1"


def test_missing_roi_lists_names(ct_phantom):
    assert rtstruct_roi_names(CT_RTSTRUCT) == ["GTV-1"]
    with pytest.raises(InputError, match=r"case 'p1'.*ROI 'GTV-2' not found; ROIs in the file: \['GTV-1'\]"):
        rtstruct_to_mask(CT_RTSTRUCT, "GTV-2", ct_phantom, case_id="p1")


def test_single_roi_is_the_default_like_a_label_maps_only_label(ct_phantom):
    named = read_mask(CT_RTSTRUCT, roi="GTV-1", reference=ct_phantom)
    default = read_mask(CT_RTSTRUCT, reference=ct_phantom)
    assert default.name == "GTV-1"
    np.testing.assert_array_equal(default.array, named.array)


def test_several_rois_need_roi_and_the_message_lists_them(ct_phantom, tmp_path):
    import copy

    import pydicom

    ds = pydicom.dcmread(CT_RTSTRUCT)
    roi = copy.deepcopy(ds.StructureSetROISequence[0])
    roi.ROINumber, roi.ROIName = 99, "GTV-copy"
    contours = copy.deepcopy(ds.ROIContourSequence[0])
    contours.ReferencedROINumber = 99
    ds.StructureSetROISequence.append(roi)
    ds.ROIContourSequence.append(contours)
    two = tmp_path / "two_rois.dcm"
    ds.save_as(two)
    with pytest.raises(InputError, match=r"case 'p1', file .*two_rois.dcm: an RTSTRUCT with 2 ROIs needs roi= "
                                         r"\(an ROI name\); ROIs in the file: \['GTV-1', 'GTV-copy'\]"):
        read_mask(two, reference=ct_phantom, case_id="p1")
    assert read_mask(two, roi="GTV-copy", reference=ct_phantom).name == "GTV-copy"


def test_read_mask_dispatches_rtstruct(ct_phantom):
    assert read_mask(CT_RTSTRUCT, roi="gtv-1", reference=ct_phantom).n_voxels > 0


def test_sts001_ct_crop_matches_nifti_mask(shared_data):
    image = read_image(shared_data / "dicom/sts_001/ct_crop/image")
    mask = rtstruct_to_mask(shared_data / "dicom/sts_001/ct_crop/rtstruct/RS.dcm", "GTV_Mass_CT", image)
    ref = sitk.GetArrayFromImage(sitk.ReadImage(str(shared_data / "cases/sts_001_ct_mask.nii.gz"))) > 0
    assert dice(mask.array, ref) >= 0.98


def test_polygon_area_and_clipping_are_exact_on_a_square():
    from voxelomics.io.rtstruct import _clip_to_box, polygon_area

    square = np.array([[-2.5, 1.5], [-2.5, 3.5], [1.5, 3.5], [1.5, 1.5]])  # 4 x 2, half above row -0.5
    assert polygon_area(square) == 8.0
    assert polygon_area(_clip_to_box(square, (5, 5))) == 4.0
    assert polygon_area(_clip_to_box(square + 10, (5, 5))) == 0.0


def test_contour_beyond_the_image_edge_warns_with_the_area_lost(ct_phantom):
    """Issue 10, item 8: clipped silently before; now the warning gives the area fraction lost."""
    import re
    import warnings

    from voxelomics.errors import GeometryWarning
    from voxelomics.volume import Volume

    full = rtstruct_to_mask(CT_RTSTRUCT, "GTV-1", ct_phantom).array
    cols = np.flatnonzero(full.any(axis=(0, 1)))
    cut = int(cols[0] + 0.3 * (cols[-1] - cols[0]))  # keep the columns left of about 30 % of the ROI
    cropped = Volume(ct_phantom.array[:, :, :cut], ct_phantom.spacing_mm, ct_phantom.origin_mm,
                     ct_phantom.direction, modality="CT", metadata=dict(ct_phantom.metadata))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        part = rtstruct_to_mask(CT_RTSTRUCT, "GTV-1", cropped)
    np.testing.assert_array_equal(part.array, full[:, :, :cut])  # what is inside is unchanged
    messages = [str(w.message) for w in caught if issubclass(w.category, GeometryWarning)]
    assert len(messages) == 1 and "reaches outside the image" in messages[0], messages
    lost = float(re.search(r"([\d.]+) % of its contour area is lost", messages[0])[1])
    by_voxels = 100.0 * (1 - part.array.sum() / full.sum())  # independent estimate: voxel counts
    assert abs(lost - by_voxels) < 3.0, (lost, by_voxels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # wholly inside: no warning
        rtstruct_to_mask(CT_RTSTRUCT, "GTV-1", ct_phantom)


def test_a_damaged_rtstruct_says_it_is_damaged(ct_phantom, tmp_path):
    """Issue 10, item 8: not 'unsupported mask file type' or 'the file is a label map'."""
    data = CT_RTSTRUCT.read_bytes()
    for n in (300, len(data) // 2, len(data) - 100):
        cut = tmp_path / f"rs_{n}.dcm"
        cut.write_bytes(data[:n])
        with pytest.raises(InputError, match="the DICOM file is damaged") as info:
            read_mask(cut, roi="GTV-1", reference=ct_phantom, case_id="p1")
        assert info.value.case_id == "p1" and info.value.path == str(cut)
        with pytest.raises(InputError, match="damaged"):
            read_mask(cut, reference=ct_phantom)
    stub = tmp_path / "stub.dcm"
    stub.write_bytes(data[:100])  # not even the DICM prefix
    with pytest.raises(InputError, match="not readable DICOM"):
        read_mask(stub, reference=ct_phantom)


def test_a_4d_mask_gets_the_4d_image_error(tmp_path):
    from voxelomics.errors import GeometryError

    arr = np.zeros((2, 3, 4, 5), np.uint8)
    arr[0, 1, 1, 1] = 1
    sitk.WriteImage(sitk.GetImageFromArray(arr, isVector=False), str(tmp_path / "m4.nii.gz"))
    sitk.WriteImage(sitk.GetImageFromArray(arr.astype(np.int16), isVector=False), str(tmp_path / "i4.nii.gz"))
    with pytest.raises(GeometryError, match="expected a 3D image, found 4D") as image_error:
        read_image(tmp_path / "i4.nii.gz")
    with pytest.raises(GeometryError, match="expected a 3D image, found 4D") as mask_error:
        read_mask(tmp_path / "m4.nii.gz", reference=None, case_id="p1")
    assert image_error.value.message == mask_error.value.message
    assert mask_error.value.step == "read_mask" and mask_error.value.case_id == "p1"
