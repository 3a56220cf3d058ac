"""Intensity histogram features (IBSI 3.4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _helpers import to_ibsi

from testdata import IBSI1, assert_matches_reference
from voxelomics.errors import EmptyRoiError, InputError
from voxelomics.features import histogram
from voxelomics.preprocess import discretise

TAG = {s.name: s.ibsi_tag for s in histogram.FEATURES}


def test_registry_entries_match_reference_table():
    ref = pd.read_csv(IBSI1 / "ibsi1_reference_values.csv")
    ref = ref[ref["tag"].str.startswith("ih_")].drop_duplicates("tag").set_index("tag")
    assert len(histogram.FEATURES) == 23
    assert sorted(TAG.values()) == sorted(ref.index)
    for spec in histogram.FEATURES:
        assert spec.name.startswith("histogram_") and spec.family == "histogram"
        assert spec.ibsi_id == ref.loc[spec.ibsi_tag, "ibsi_code"]


def test_digital_phantom_matches_ibsi(digital_phantom, ibsi_reference):
    image, mask, _ = digital_phantom
    levels, n_g = discretise(image, mask, method="none")
    out = histogram.compute(levels[mask], n_g)
    assert set(out) == set(TAG)
    assert_matches_reference(to_ibsi(out, histogram), ibsi_reference, "dig", TAG.values())


def test_gradient_follows_ibsi_edges():
    # digital phantom histogram n_1..n_6 = 50, 0, 1, 16, 0, 7
    g = histogram.histogram_gradient(np.array([50, 0, 1, 16, 0, 7]))
    np.testing.assert_allclose(g, [-50, -24.5, 8, -0.5, -4.5, 7])
    np.testing.assert_array_equal(histogram.histogram_gradient(np.array([9])), [0.0])


def test_mode_ties_go_to_the_bin_closest_to_the_mean_then_left():
    assert histogram.histogram_mode(np.array([3, 0, 3, 1]), mean_level=2.8) == 3
    assert histogram.histogram_mode(np.array([2, 0, 2]), mean_level=2.0) == 1


def test_hand_computed_values_and_empty_bins_are_kept():
    out = histogram.compute(np.array([1, 1, 2, 4]), 5)
    assert out["histogram_mean"] == 2.0
    assert out["histogram_uniformity"] == pytest.approx(0.375)
    assert out["histogram_entropy"] == pytest.approx(1.5)
    assert out["histogram_mode"] == 1.0
    # counts 2, 1, 0, 1, 0 -> gradient -1, -1, 0, 0, -1
    assert out["histogram_max_gradient"] == 0.0 and out["histogram_max_gradient_grey_level"] == 3.0
    assert out["histogram_min_gradient"] == -1.0 and out["histogram_min_gradient_grey_level"] == 1.0


def test_single_grey_level():
    out = histogram.compute(np.array([1, 1, 1]), 1)
    assert out["histogram_skewness"] == 0.0 and out["histogram_kurtosis"] == 0.0
    assert out["histogram_max_gradient"] == 0.0 and out["histogram_entropy"] == 0.0
    assert out["histogram_uniformity"] == 1.0


def test_two_voxels_have_no_robust_deviation():
    out = histogram.compute(np.array([1, 2]), 2)  # [P10, P90] = [1.1, 1.9] holds no level
    assert np.isnan(out["histogram_robust_mean_absolute_deviation"])


def test_errors():
    with pytest.raises(EmptyRoiError, match="empty"):
        histogram.compute(np.array([], dtype=int), 4)
    with pytest.raises(InputError, match="1 … n_levels = 4"):
        histogram.compute(np.array([1, 5]), 4)
    with pytest.raises(InputError, match="1 … n_levels"):
        histogram.compute(np.array([0, 2]), 4)
    with pytest.raises(InputError, match="integers"):
        histogram.compute(np.array([1.5, 2.0]), 4)
