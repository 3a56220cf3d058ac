"""NGLDM family: IBSI reference values, hand-checked matrices, properties and errors.

Reference values come from ``data/ibsi1/ibsi1_reference_values.csv``. The digital phantom
rows carry tolerance 0 because the manual prints them to three significant figures without a
tolerance; computed values are rounded to three significant figures for those rows.
"""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import (
    IBSI_EXAMPLE,
    ZONE_AGGS,
    as_ibsi,
    assert_feature_functions_cite_ids,
    ct_config_a,
    phantom_levels,
    table_ids,
)

from testdata import assert_matches_reference
from voxelomics.errors import EmptyRoiError, GeometryError, SettingsError
from voxelomics.features import ngldm
from voxelomics.features._texture import Aggregation


# ----------------------------------------------------------------------------- IBSI values
@pytest.mark.ibsi
@pytest.mark.parametrize("aggregation", ZONE_AGGS, ids=lambda a: a.value)
def test_digital_phantom_matches_ibsi(digital_phantom, ibsi_reference, aggregation):
    levels, mask = phantom_levels(digital_phantom)
    values = ngldm.compute(levels, mask, 6, aggregations=[aggregation])
    ibsi, tags = as_ibsi(values, ngldm, aggregation, ibsi_reference, "dig")
    assert len(tags) == 17
    assert_matches_reference(ibsi, ibsi_reference, "dig", tags)


@pytest.mark.ibsi
def test_ct_phantom_config_a_matches_ibsi(ibsi_reference):
    levels, roi, _, n_levels = ct_config_a()
    values = ngldm.compute(levels, roi, n_levels, aggregations=["2d", "2_5d"])
    for aggregation in (Aggregation.ZONE_2D, Aggregation.ZONE_25D):
        ibsi, tags = as_ibsi(values, ngldm, aggregation, ibsi_reference, "A")
        assert len(tags) == 17
        assert_matches_reference(ibsi, ibsi_reference, "A", tags)


# ------------------------------------------------------------------------ matrix layer
def test_ibsi_manual_example_dependence():
    """IBSI 3.11 example (dependence k counted without the centre voxel, centre pixels only):
    level 2 has k = 3 and k = 2, level 3 has k = 2, level 4 has k = 0."""
    j = ngldm.ngldm_dependence(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, aggregation="2d")
    k = j[0, 1:3, 1:3] - 1
    centre = IBSI_EXAMPLE[0, 1:3, 1:3]
    table = np.zeros((4, 4), dtype=int)
    np.add.at(table, (centre.ravel() - 1, k.ravel()), 1)
    expected = [[0, 0, 0, 0], [0, 0, 1, 1], [0, 0, 1, 0], [1, 0, 0, 0]]
    np.testing.assert_array_equal(table, expected)


ROW = np.array([[[1, 2, 4]]])


@pytest.mark.parametrize(
    "distance, alpha, expected",
    [(1, 0, [1, 1, 1]), (1, 1, [2, 2, 1]), (1, 2, [2, 3, 2]), (2, 2, [2, 3, 2]), (2, 3, [3, 3, 3])],
)
def test_hand_computed_dependence(distance, alpha, expected):
    j = ngldm.ngldm_dependence(ROW, ROW > 0, aggregation="3d", distance=distance, alpha=alpha)
    np.testing.assert_array_equal(j[0, 0], expected)


def test_hand_computed_matrix_and_features():
    """Row 1 2 4 with alpha = 1: (level, j) = (1, 2), (2, 2), (4, 1)."""
    (m,) = ngldm.ngldm_matrices(ROW, ROW > 0, 4, aggregation="2d", alpha=1)
    np.testing.assert_array_equal(m.dense(), [[0, 1], [0, 1], [0, 0], [1, 0]])
    v = ngldm.compute(ROW, ROW > 0, 4, alpha=1)
    assert v["ngldm_low_dependence_emphasis_3d"] == pytest.approx((1 + 2 / 4) / 3)
    assert v["ngldm_high_dependence_emphasis_3d"] == pytest.approx((1 + 2 * 4) / 3)
    assert v["ngldm_dependence_count_percentage_3d"] == 1.0
    assert v["ngldm_dependence_count_energy_3d"] == pytest.approx(3 / 9)
    assert v["ngldm_dependence_count_entropy_3d"] == pytest.approx(np.log2(3))


def test_2d_neighbourhood_stays_in_plane():
    levels = np.ones((2, 1, 2), dtype=np.int64)
    j2 = ngldm.ngldm_dependence(levels, levels > 0, aggregation="2d")
    j3 = ngldm.ngldm_dependence(levels, levels > 0, aggregation="3d")
    np.testing.assert_array_equal(j2, 2)
    np.testing.assert_array_equal(j3, 4)


def test_merged_matrix_is_sum_of_slice_matrices(digital_phantom):
    levels, mask = phantom_levels(digital_phantom)
    per_slice = ngldm.ngldm_matrices(levels, mask, 6, aggregation="2d")
    (merged,) = ngldm.ngldm_matrices(levels, mask, 6, aggregation="2_5d")
    width = merged.dense().shape[1]
    summed = sum(np.pad(m.dense(), ((0, 0), (0, width - m.dense().shape[1]))) for m in per_slice)
    np.testing.assert_array_equal(summed, merged.dense())
    assert merged.n_voxels == merged.counts.sum() == mask.sum()


def test_invariant_to_padding_outside_mask(digital_phantom):
    levels, mask = phantom_levels(digital_phantom)
    rng = np.random.default_rng(0)
    big = rng.integers(-5, 50, size=(8, 9, 11))
    big_mask = np.zeros(big.shape, dtype=bool)
    big[2:6, 3:7, 4:9] = levels
    big_mask[2:6, 3:7, 4:9] = mask
    for kw in ({}, {"distance": 2, "alpha": 1}):
        a = ngldm.compute(levels, mask, 6, aggregations=ZONE_AGGS, **kw)
        b = ngldm.compute(big, big_mask, 6, aggregations=ZONE_AGGS, **kw)
        assert a.keys() == b.keys()
        for key in a:
            assert b[key] == pytest.approx(a[key], rel=1e-12), key


def test_single_voxel_is_defined():
    levels = np.zeros((3, 3, 3), dtype=np.int64)
    levels[1, 1, 1] = 2
    values = ngldm.compute(levels, levels > 0, 4, aggregations=ZONE_AGGS)
    assert all(np.isfinite(v) for v in values.values())
    assert values["ngldm_low_dependence_emphasis_3d"] == 1.0


# ----------------------------------------------------------------------- registry/docs
def test_feature_specs_match_ibsi_table(ibsi_reference):
    ids = table_ids(ibsi_reference, "ngl_")
    assert {s.ibsi_tag for s in ngldm.FEATURES} == set(ids)
    assert len(ngldm.FEATURES) == 17
    for s in ngldm.FEATURES:
        assert s.ibsi_id == ids[s.ibsi_tag], s.name
        assert s.name.startswith("ngldm_") and s.family == "ngldm"


def test_feature_functions_cite_their_ibsi_id():
    assert_feature_functions_cite_ids(
        (spec, getattr(ngldm, spec.name.removeprefix("ngldm_"))) for spec in ngldm.FEATURES
    )


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("alpha", [-1, 0.5])
def test_bad_alpha(alpha):
    with pytest.raises(SettingsError, match="alpha must be an integer >= 0"):
        ngldm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 4, alpha=alpha)


@pytest.mark.parametrize("distance", [0, 2.0])
def test_bad_distance(distance):
    with pytest.raises(SettingsError, match="distance must be an integer >= 1"):
        ngldm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 4, distance=distance)


def test_shape_mismatch():
    with pytest.raises(GeometryError, match=r"mask shape \(1, 4, 3\) differs"):
        ngldm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE[..., :3] > 0, 4)


def test_empty_mask():
    with pytest.raises(EmptyRoiError, match="holds no voxel"):
        ngldm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 9, 4)


def test_bad_aggregation():
    with pytest.raises(SettingsError, match="unknown aggregation '3D'"):
        ngldm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 4, aggregations=["3D"])


def test_dependence_helper_rejects_levels_below_one():
    with pytest.raises(SettingsError, match="range from 0 to 3; expected values >= 1"):
        ngldm.ngldm_dependence(IBSI_EXAMPLE - 1, IBSI_EXAMPLE > 0, aggregation="2d")
