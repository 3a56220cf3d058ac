"""A mask on the image's voxels with flipped or permuted axes is moved onto the image grid exactly."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from voxelomics.errors import GeometryError, GeometryWarning
from voxelomics.io import load_case

SPACING_XYZ = np.array([0.7, 0.9, 2.5])
ORIGIN = np.array([-20.0, 11.0, 40.0])
THETA = np.deg2rad(15)
OBLIQUE = np.array([[np.cos(THETA), 0, np.sin(THETA)], [0, 1, 0], [-np.sin(THETA), 0, np.cos(THETA)]])


def _write(path, array_zyx, spacing_xyz, origin, direction):
    img = sitk.GetImageFromArray(np.ascontiguousarray(array_zyx))
    img.SetSpacing(tuple(float(v) for v in spacing_xyz))
    img.SetOrigin(tuple(float(v) for v in origin))
    img.SetDirection(tuple(float(v) for v in np.asarray(direction).ravel()))
    sitk.WriteImage(img, str(path))
    return path


def _case(tmp_path, direction=None):
    direction = np.eye(3) if direction is None else direction
    rng = np.random.default_rng(0)
    image = rng.integers(0, 100, (5, 6, 7)).astype(np.int16)  # (z, y, x)
    mask = np.zeros(image.shape, np.uint8)
    mask[1:4, 2:5, 1:3] = 1
    mask[2, 1, 5] = 1  # asymmetric, so that any wrong flip shows
    img = _write(tmp_path / "img.nii.gz", image, SPACING_XYZ, ORIGIN, direction)
    return image, mask, img


def _stored(mask, direction, *, flip_xyz=(), order_xyz=(0, 1, 2), shift_voxels=(0, 0, 0)):
    """The mask as another tool stores it: axes permuted (``order_xyz``) and flipped, same voxels."""
    d = np.asarray(direction, float)
    n_xyz = np.array(mask.shape[::-1])
    origin = ORIGIN + d @ (SPACING_XYZ * np.asarray(shift_voxels))
    cols, arr = [], mask
    # flip in the image's axes first, then permute
    for a in flip_xyz:
        arr = np.flip(arr, axis=2 - a)
        origin = origin + d[:, a] * SPACING_XYZ[a] * (n_xyz[a] - 1)
    for a in range(3):
        cols.append(d[:, a] * (-1 if a in flip_xyz else 1))
    # mask axis k is image axis order_xyz[k]
    new_dir = np.stack([cols[order_xyz[k]] for k in range(3)], axis=1)
    new_spacing = SPACING_XYZ[list(order_xyz)]
    arr = np.transpose(arr, [2 - order_xyz[2 - n] for n in range(3)])
    return arr, new_spacing, origin, new_dir


@pytest.mark.parametrize(("flip", "order"), [((0,), (0, 1, 2)), ((1, 2), (0, 1, 2)), ((), (2, 1, 0)),
                                             ((0,), (1, 2, 0))])
@pytest.mark.parametrize("direction", [np.eye(3), OBLIQUE], ids=["axial", "oblique"])
def test_flipped_or_permuted_mask_is_moved_onto_the_image_grid(tmp_path, flip, order, direction):
    """Issue 10, item 7: the same voxels, another axis order: accepted, exactly, with a note."""
    image, mask, img = _case(tmp_path, direction)
    arr, spacing, origin, d = _stored(mask, direction, flip_xyz=flip, order_xyz=order)
    msk = _write(tmp_path / "msk.nii.gz", arr, spacing, origin, d)
    # independent check that the stored file holds the same physical voxels: SimpleITK's
    # nearest-neighbour resampling of the mask file onto the image file's grid
    onto = sitk.Resample(sitk.ReadImage(str(msk)), sitk.ReadImage(str(img)), sitk.Transform(),
                         sitk.sitkNearestNeighbor)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(onto), mask)
    with pytest.warns(GeometryWarning, match="moved onto the image grid without interpolation"):
        vol, roi = load_case(img, msk, case_id="p1")
    np.testing.assert_array_equal(roi.array, mask.astype(bool))
    np.testing.assert_allclose(roi.direction, vol.direction)
    assert roi.spacing_mm == vol.spacing_mm and roi.origin_mm == vol.origin_mm
    assert "reoriented" in roi.metadata and "same voxel centres" in roi.metadata["reoriented"]


def test_reoriented_mask_gives_the_features_of_the_original(tmp_path):
    from voxelomics.extract import extract_features

    image, mask, img = _case(tmp_path)
    plain = _write(tmp_path / "plain.nii.gz", mask, SPACING_XYZ, ORIGIN, np.eye(3))
    arr, spacing, origin, d = _stored(mask, np.eye(3), flip_xyz=(0, 2), order_xyz=(2, 0, 1))
    msk = _write(tmp_path / "msk.nii.gz", arr, spacing, origin, d)
    settings = {"preset": "ibsi-digital", "families": ["morphology", "statistics", "glcm"]}
    settings["discretisation"] = {"method": "fbn", "n_bins": 8}
    with pytest.warns(GeometryWarning):
        moved = extract_features(img, msk, settings)
    assert moved == extract_features(img, plain, settings)


def test_a_flip_onto_other_voxels_stays_an_error_with_a_hint(tmp_path):
    image, mask, img = _case(tmp_path)
    arr, spacing, origin, d = _stored(mask, np.eye(3), flip_xyz=(0,), shift_voxels=(2, 0, 0))
    msk = _write(tmp_path / "msk.nii.gz", arr, spacing, origin, d)
    with pytest.raises(GeometryError, match=r"the mask's axes are the image's with x flipped, but the two "
                                            r"grids do not cover the same voxels"):
        load_case(img, msk)


def test_other_grids_stay_errors_without_a_flip_hint(tmp_path):
    image, mask, img = _case(tmp_path)
    msk = _write(tmp_path / "msk.nii.gz", mask, SPACING_XYZ, ORIGIN + 0.5 * SPACING_XYZ, np.eye(3))
    with pytest.raises(GeometryError) as info:
        load_case(img, msk)
    assert "flipped" not in str(info.value) and "origin offset" in str(info.value)


def test_the_feature_row_records_the_reorientation(tmp_path):
    import json

    from voxelomics.extract import extract_case
    from voxelomics.io.manifest import Case

    image, mask, img = _case(tmp_path)
    arr, spacing, origin, d = _stored(mask, np.eye(3), flip_xyz=(1,))
    msk = _write(tmp_path / "msk.nii.gz", arr, spacing, origin, d)
    settings = {"preset": "ibsi-digital", "families": ["statistics"]}
    from voxelomics.settings import Settings

    row = extract_case(Case(case_id="c1", image=img, mask=msk), Settings.from_dict(settings))
    note = json.loads(row["provenance"])["mask_metadata"]["reoriented"]
    assert "y flipped" in note
    (recorded,) = json.loads(row["warnings"])  # and the case's warning record
    assert recorded["type"] == "GeometryWarning" and recorded["step"] == "read"
    assert "y flipped" in recorded["message"]
