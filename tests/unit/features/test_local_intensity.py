"""Local intensity peaks: IBSI-1 reference values, hand-computable cases, margins, errors."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import read_ct_phantom, to_ibsi

from testdata import assert_matches_reference
from voxelomics.errors import EmptyRoiError, FeatureError, GeometryError, MaskError
from voxelomics.features import local_intensity

TAG = {s.name: s.ibsi_tag for s in local_intensity.FEATURES}


@pytest.fixture(scope="module")
def ct_config_a():
    """CT phantom, IBSI configuration A: no resampling, rounded HU, intensity mask [-500, 400]."""
    hu, mask, spacing = read_ct_phantom()
    image = np.round(hu)
    return image, mask & (image >= -500) & (image <= 400), spacing


def test_digital_phantom_matches_ibsi(digital_phantom, ibsi_reference):
    """The manual prints these two values without tolerance ("—", stored as 0) and to three
    significant digits, so the computed value must round to the printed one."""
    image, mask, spacing = digital_phantom
    values = to_ibsi(local_intensity.compute(image, mask, spacing), local_intensity)
    ref = ibsi_reference[(ibsi_reference["config"] == "dig") & ibsi_reference["tag"].str.startswith("loc_")]
    assert set(ref["tag"]) == set(TAG.values())
    for tag, expected in zip(ref["tag"], ref["value"], strict=True):
        assert float(f"{values[tag]:.3g}") == pytest.approx(expected), tag


@pytest.mark.ibsi
def test_ct_phantom_config_a_matches_ibsi(ct_config_a, ibsi_reference):
    image, mask, spacing = ct_config_a
    values = to_ibsi(local_intensity.compute(image, mask, spacing), local_intensity)
    assert_matches_reference(values, ibsi_reference, "A", list(TAG.values()))


def test_cropping_with_margin_changes_nothing(ct_config_a):
    """The caller may crop the image, as long as it keeps RADIUS_MM around the ROI."""
    image, mask, spacing = ct_config_a
    full = local_intensity.compute(image, mask, spacing)
    idx = np.nonzero(mask)
    margin = [int(np.ceil(local_intensity.RADIUS_MM / s)) for s in spacing]
    box = tuple(slice(max(int(i.min()) - m, 0), int(i.max()) + 1 + m) for i, m in zip(idx, margin, strict=True))
    cropped = local_intensity.compute(image[box], mask[box], spacing)
    assert cropped == pytest.approx(full, rel=1e-12)


def test_kernel_at_2mm_holds_123_voxels():
    """Integer points with x² + y² + z² <= 9 (radius 6.2 mm / 2 mm = 3.1 voxels): 123."""
    assert int(local_intensity.spherical_kernel((2.0, 2.0, 2.0)).sum()) == 123
    assert local_intensity.RADIUS_MM == pytest.approx(10 * (3 / (4 * np.pi)) ** (1 / 3))


def test_image_edge_voxels_are_left_out_of_the_mean():
    """A row of three voxels 5 mm apart (other axes 10 mm): each sphere holds its in-image
    neighbours within 6.2 mm only."""
    image = np.array([[[1.0, 4.0, 10.0]]])
    mask = np.array([[[True, True, False]]])
    v = local_intensity.compute(image, mask, (10.0, 10.0, 5.0))
    # ROI maximum 4 at the middle voxel: mean of 1, 4, 10; global: max(mean(1, 4), 5)
    assert v["local_intensity_local_peak"] == pytest.approx(5.0)
    assert v["local_intensity_global_peak"] == pytest.approx(5.0)
    mask = np.array([[[True, False, False]]])
    v = local_intensity.compute(image, mask, (10.0, 10.0, 5.0))
    assert v["local_intensity_local_peak"] == pytest.approx(2.5)


def test_ties_take_the_highest_local_peak():
    image = np.zeros((1, 1, 7))
    image[0, 0, [1, 5]] = 9.0
    image[0, 0, 6] = 3.0
    mask = np.zeros_like(image, bool)
    mask[0, 0, [1, 5]] = True
    v = local_intensity.compute(image, mask, (10.0, 10.0, 6.0))
    assert v["local_intensity_local_peak"] == pytest.approx(4.0)  # mean(0, 9, 3) at x = 5


def test_constant_image():
    image = np.full((5, 6, 7), -3.0)
    mask = np.zeros(image.shape, bool)
    mask[2, 2:4, 3] = True
    v = local_intensity.compute(image, mask, (1.0, 1.0, 1.0))
    assert v == pytest.approx({"local_intensity_local_peak": -3.0, "local_intensity_global_peak": -3.0})


def test_errors():
    image = np.zeros((3, 4, 5))
    mask = np.zeros(image.shape, bool)
    mask[1, 1, 1] = True
    with pytest.raises(GeometryError, match="expected the image shape"):
        local_intensity.compute(image, mask[:, :, :-1], (1, 1, 1))
    with pytest.raises(GeometryError, match="three positive lengths"):
        local_intensity.compute(image, mask, (1, 1))
    with pytest.raises(EmptyRoiError, match="no voxel"):
        local_intensity.compute(image, np.zeros_like(mask), (1, 1, 1))
    with pytest.raises(MaskError, match="other than 0 and 1"):
        local_intensity.compute(image, mask * 3, (1, 1, 1))
    bad = image.copy()
    bad[1, 1, 2] = np.inf
    with pytest.raises(FeatureError, match="not finite"):
        local_intensity.compute(bad, mask, (1, 1, 1))
