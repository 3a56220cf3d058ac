"""Fixed bin number / fixed bin size discretisation (IBSI 2.7)."""

from __future__ import annotations

import numpy as np
import pytest

from voxelomics.errors import EmptyRoiError, GeometryError, SettingsError
from voxelomics.preprocess import discretise, discretise_values


def _vol(values):
    return np.asarray(values, dtype=float).reshape(1, 1, -1)


def test_fbn_hand_example_and_maximum_maps_to_n_bins():
    img = _vol([1.0, 2.0, 3.0, 4.0])
    levels, n_g = discretise(img, img > 0, method="fbn", n_bins=2)
    # floor(2 (X - 1) / 3) + 1 = 1, 1, 2, 3 -> 2 (X_max -> N_g)
    assert levels.ravel().tolist() == [1, 1, 2, 2] and n_g == 2
    levels, n_g = discretise(img, img > 0, method="fbn", n_bins=3)
    assert levels.ravel().tolist() == [1, 2, 3, 3] and n_g == 3


def test_fbn_constant_roi_is_grey_level_one():
    levels, n_g = discretise_values(np.full(5, 7.0), method="fbn", n_bins=32)
    assert levels.tolist() == [1] * 5 and n_g == 32


def test_fbs_from_lower_bound_and_number_of_levels():
    img = _vol([-500.0, -476.0, -475.0, 400.0])
    levels, n_g = discretise(img, np.ones_like(img, bool), method="fbs", bin_width=25.0, lower_bound=-500.0)
    # floor((X + 500) / 25) + 1
    assert levels.ravel().tolist() == [1, 1, 2, 37] and n_g == 37


def test_fbs_default_lower_bound_is_roi_minimum_and_outside_is_zero():
    img = _vol([10.0, 12.0, 20.0, 99.0])
    mask = img < 50
    levels, n_g = discretise(img, mask, method="fbs", bin_width=5.0)
    assert levels.ravel().tolist() == [1, 1, 3, 0] and n_g == 3


def test_fbs_is_robust_to_floating_point_noise():
    # (0.3 - 0) / 0.1 = 2.9999999999999996 in floating point; exactly 3 -> level 4
    levels, _ = discretise_values(np.array([0.0, 0.3]), method="fbs", bin_width=0.1, lower_bound=0.0)
    assert levels.tolist() == [1, 4]


def test_none_uses_integer_levels(digital_phantom):
    image, mask, _ = digital_phantom
    levels, n_g = discretise(image, mask, method="none")
    assert n_g == 6
    np.testing.assert_array_equal(levels[mask], image[mask].astype(int))
    assert (levels[~mask] == 0).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(method="fbn"), "n_bins"),
        (dict(method="fbn", n_bins=8, bin_width=2.0), "ROI range"),
        (dict(method="fbs"), "bin_width"),
        (dict(method="fbs", bin_width=-1.0), "bin_width"),
        (dict(method="fbs", bin_width=1.0, n_bins=4), "n_bins"),
        (dict(method="none", n_bins=4), "takes no"),
        (dict(method="kmeans"), "unknown discretisation method"),
        (dict(method="fbs", bin_width=1.0, lower_bound=5.0), "below lower_bound"),
    ],
)
def test_bad_parameter_combinations(kwargs, match):
    img = _vol([1.0, 2.0, 3.0])
    with pytest.raises(SettingsError, match=match):
        discretise(img, img > 0, **kwargs)


def test_none_rejects_non_integer_or_zero_levels():
    with pytest.raises(SettingsError, match="integer grey levels"):
        discretise_values(np.array([1.0, 2.5]), method="none")
    with pytest.raises(SettingsError, match="integer grey levels"):
        discretise_values(np.array([0.0, 2.0]), method="none")


def test_empty_mask_and_shape_mismatch():
    img = _vol([1.0, 2.0])
    with pytest.raises(EmptyRoiError, match="no voxel"):
        discretise(img, img > 5, method="fbn", n_bins=4)
    with pytest.raises(GeometryError, match="same shape"):
        discretise(img, np.ones((1, 2, 2), bool), method="fbn", n_bins=4)


def test_fbn_treats_interpolation_noise_on_a_constant_roi_as_constant():
    values = np.array([100.0, 100.0 + 1e-12, 100.0 - 3e-13])
    levels, n_g = discretise_values(values, method="fbn", n_bins=32)
    assert n_g == 32 and set(levels.tolist()) == {1}
