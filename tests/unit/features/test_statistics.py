"""Intensity-based statistical features (IBSI 3.3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _helpers import to_ibsi

from testdata import IBSI1, assert_matches_reference
from voxelomics.errors import EmptyRoiError, InputError
from voxelomics.features import statistics

TAG = {s.name: s.ibsi_tag for s in statistics.FEATURES}


def test_registry_entries_match_reference_table():
    ref = pd.read_csv(IBSI1 / "ibsi1_reference_values.csv")
    ref = ref[ref["tag"].str.startswith("stat_")].drop_duplicates("tag").set_index("tag")
    assert len(statistics.FEATURES) == 18
    assert sorted(TAG.values()) == sorted(ref.index)
    for spec in statistics.FEATURES:
        assert spec.name.startswith("statistics_") and spec.family == "statistics"
        assert spec.ibsi_id == ref.loc[spec.ibsi_tag, "ibsi_code"]


def test_digital_phantom_matches_ibsi(digital_phantom, ibsi_reference):
    image, mask, _ = digital_phantom
    out = statistics.compute(image[mask])
    assert set(out) == set(TAG)
    assert_matches_reference(to_ibsi(out, statistics), ibsi_reference, "dig", TAG.values())


def test_hand_computed_values():
    out = statistics.compute(np.array([1.0, 2.0, 3.0, 4.0]))
    assert out["statistics_mean"] == 2.5
    assert out["statistics_variance"] == 1.25  # no bias correction
    assert out["statistics_skewness"] == 0.0
    assert out["statistics_kurtosis"] == pytest.approx(2.5625 / 1.25**2 - 3)
    assert out["statistics_median"] == 2.5
    assert out["statistics_p10"] == pytest.approx(1.3)  # linear interpolation
    assert out["statistics_p90"] == pytest.approx(3.7)
    assert out["statistics_interquartile_range"] == pytest.approx(1.5)
    assert out["statistics_range"] == 3.0
    assert out["statistics_mean_absolute_deviation"] == 1.0
    assert out["statistics_robust_mean_absolute_deviation"] == 0.5  # {2, 3}
    assert out["statistics_median_absolute_deviation"] == 1.0
    assert out["statistics_coefficient_of_variation"] == pytest.approx(np.sqrt(1.25) / 2.5)
    assert out["statistics_quartile_coefficient_of_dispersion"] == pytest.approx(1.5 / 5.0)
    assert out["statistics_energy"] == 30.0
    assert out["statistics_root_mean_square"] == pytest.approx(np.sqrt(7.5))


def test_undefined_cases():
    out = statistics.compute(np.full(5, 3.0))
    assert out["statistics_skewness"] == 0.0 and out["statistics_kurtosis"] == 0.0  # IBSI
    assert out["statistics_coefficient_of_variation"] == 0.0
    zero = statistics.compute(np.array([-1.0, 1.0]))
    assert np.isnan(zero["statistics_coefficient_of_variation"])  # mean 0
    assert np.isnan(zero["statistics_quartile_coefficient_of_dispersion"])  # P75 + P25 = 0
    assert np.isnan(zero["statistics_robust_mean_absolute_deviation"])  # [P10, P90] = [-0.8, 0.8] is empty
    one = statistics.compute(np.array([7.0]))
    assert all(np.isfinite(v) for v in one.values())


def test_errors():
    with pytest.raises(EmptyRoiError, match="empty"):
        statistics.compute(np.array([]))
    with pytest.raises(InputError, match="non-finite"):
        statistics.compute(np.array([1.0, np.nan]))
