"""NGTDM family: IBSI reference values, hand-checked matrices, properties and errors.

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
from voxelomics.features import ngtdm
from voxelomics.features._texture import Aggregation


# ----------------------------------------------------------------------------- IBSI values
@pytest.mark.ibsi
@pytest.mark.parametrize("aggregation", ZONE_AGGS, ids=lambda a: a.value)
def test_digital_phantom_matches_ibsi(digital_phantom, ibsi_reference, aggregation):
    levels, mask = phantom_levels(digital_phantom)
    values = ngtdm.compute(levels, mask, 6, aggregations=[aggregation])
    ibsi, tags = as_ibsi(values, ngtdm, aggregation, ibsi_reference, "dig")
    assert len(tags) == 5
    assert_matches_reference(ibsi, ibsi_reference, "dig", tags)


@pytest.mark.ibsi
def test_ct_phantom_config_a_matches_ibsi(ibsi_reference):
    levels, roi, _, n_levels = ct_config_a()
    values = ngtdm.compute(levels, roi, n_levels, aggregations=["2d", "2_5d"])
    for aggregation in (Aggregation.ZONE_2D, Aggregation.ZONE_25D):
        ibsi, tags = as_ibsi(values, ngtdm, aggregation, ibsi_reference, "A")
        assert len(tags) == 5
        assert_matches_reference(ibsi, ibsi_reference, "A", tags)


# ------------------------------------------------------------------------ matrix layer
def test_ibsi_manual_example_neighbourhood():
    """IBSI 3.10 example: centre pixels have neighbour means 19/8, 19/8, 21/8, 17/8, so
    s_2 = |2 - 19/8| + |2 - 21/8| = 1, s_3 = 0.625 and s_4 = 1.875."""
    mean, w = ngtdm.ngtdm_neighbourhood(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, aggregation="2d")
    np.testing.assert_allclose(mean[0, 1:3, 1:3], [[19 / 8, 19 / 8], [21 / 8, 17 / 8]])
    np.testing.assert_array_equal(w[0, 1:3, 1:3], 8)
    np.testing.assert_array_equal(w[0, 0], [3, 5, 5, 3])
    centre = IBSI_EXAMPLE[0, 1:3, 1:3]
    diff = np.abs(centre - mean[0, 1:3, 1:3])
    s = [diff[centre == i].sum() for i in (1, 2, 3, 4)]
    np.testing.assert_allclose(s, [0, 1, 0.625, 1.875])


ROW = np.array([[[1, 2, 2]]])


def test_hand_computed_row():
    """Row 1 2 2: neighbour means 2, 1.5, 2 -> s = (1, 0.5), n = (1, 2), N_vc = 3."""
    (m,) = ngtdm.ngtdm_matrices(ROW, ROW > 0, 2, aggregation="2d")
    np.testing.assert_allclose(m.s, [1.0, 0.5])
    np.testing.assert_array_equal(m.n, [1, 2])
    v = ngtdm.compute(ROW, ROW > 0, 2, aggregations=["3d"])
    assert v["ngtdm_coarseness_3d"] == pytest.approx(1.5)  # 1 / (1/3 + 1/3)
    assert v["ngtdm_contrast_3d"] == pytest.approx(1 / 9)  # (1/2)(2 * 2/9)(1.5 / 3)
    assert v["ngtdm_busyness_3d"] == pytest.approx(1 / 3)  # (2/3) / (2 |1/3 - 4/3|)
    assert v["ngtdm_complexity_3d"] == pytest.approx(4 / 9)  # 2 * (2/3) / 3
    assert v["ngtdm_strength_3d"] == pytest.approx(4 / 3)  # 2 * 1 * 1 / 1.5


def test_distance_two_widens_the_neighbourhood():
    """δ = 2: all three voxels are neighbours; means 2, 1.5, 1.5 -> s = (1, 1)."""
    (m,) = ngtdm.ngtdm_matrices(ROW, ROW > 0, 2, aggregation="3d", distance=2)
    np.testing.assert_allclose(m.s, [1.0, 1.0])


def test_2d_neighbourhood_stays_in_plane():
    """Slices 1 1 / 2 2. In-plane every neighbour equals the voxel: s = 0. In 3D each voxel
    has 3 neighbours: level 1 sees (1, 2, 2), mean 5/3; level 2 sees (2, 1, 1), mean 4/3;
    so s_1 = 2 |1 - 5/3| = 4/3 and s_2 = 2 |2 - 4/3| = 4/3."""
    levels = np.array([[[1, 1]], [[2, 2]]])
    (m2,) = ngtdm.ngtdm_matrices(levels, levels > 0, 2, aggregation="2_5d")
    (m3,) = ngtdm.ngtdm_matrices(levels, levels > 0, 2, aggregation="3d")
    np.testing.assert_allclose(m2.s, [0, 0])
    np.testing.assert_allclose(m3.s, [4 / 3, 4 / 3])


def test_merged_matrix_is_sum_of_slice_matrices(digital_phantom):
    levels, mask = phantom_levels(digital_phantom)
    per_slice = ngtdm.ngtdm_matrices(levels, mask, 6, aggregation="2d")
    (merged,) = ngtdm.ngtdm_matrices(levels, mask, 6, aggregation="2_5d")
    np.testing.assert_allclose(sum(m.s for m in per_slice), merged.s)
    np.testing.assert_array_equal(sum(m.n for m in per_slice), merged.n)
    assert merged.n_voxels == mask.sum()


def test_invariant_to_padding_outside_mask(digital_phantom):
    levels, mask = phantom_levels(digital_phantom)
    rng = np.random.default_rng(0)
    big = rng.integers(-5, 50, size=(8, 9, 11))
    big_mask = np.zeros(big.shape, dtype=bool)
    big[2:6, 3:7, 4:9] = levels
    big_mask[2:6, 3:7, 4:9] = mask
    a = ngtdm.compute(levels, mask, 6, aggregations=ZONE_AGGS, distance=2)
    b = ngtdm.compute(big, big_mask, 6, aggregations=ZONE_AGGS, distance=2)
    assert a.keys() == b.keys()
    for key in a:
        assert b[key] == pytest.approx(a[key], rel=1e-12), key


# ------------------------------------------------------------------------ undefined cases
def test_single_voxel_has_no_valid_neighbourhood():
    levels = np.zeros((3, 3, 3), dtype=np.int64)
    levels[1, 1, 1] = 2
    values = ngtdm.compute(levels, levels > 0, 4, aggregations=ZONE_AGGS)
    assert all(np.isnan(v) for v in values.values())


def test_uniform_roi_uses_ibsi_values():
    levels = np.full((3, 3, 3), 2)
    v = ngtdm.compute(levels, levels > 0, 4)
    assert v["ngtdm_coarseness_3d"] == ngtdm.COARSENESS_MAX == 1e6
    assert v["ngtdm_contrast_3d"] == 0
    assert v["ngtdm_busyness_3d"] == 0
    assert v["ngtdm_complexity_3d"] == 0
    assert v["ngtdm_strength_3d"] == 0


def test_busyness_with_equal_i_times_p_is_nan():
    """Row 1 1 2: p = (2/3, 1/3), so i p = (2/3, 2/3) and the denominator is 0."""
    levels = np.array([[[1, 1, 2]]])
    v = ngtdm.compute(levels, levels > 0, 2)
    assert np.isnan(v["ngtdm_busyness_3d"])
    assert np.isfinite(v["ngtdm_coarseness_3d"]) and np.isfinite(v["ngtdm_strength_3d"])


def test_slices_without_valid_neighbourhood_are_left_out_of_2d_average():
    levels = np.zeros((2, 3, 3), dtype=np.int64)
    levels[0, 0, 0] = 1  # isolated voxel: no valid neighbourhood in its slice
    levels[1, 0] = [1, 2, 2]
    values = ngtdm.compute(levels, levels > 0, 2, aggregations=["2d"])
    alone = ngtdm.compute(levels[1:], levels[1:] > 0, 2, aggregations=["2d"])
    assert values == pytest.approx(alone)


# ----------------------------------------------------------------------- registry/docs
def test_feature_specs_match_ibsi_table(ibsi_reference):
    ids = table_ids(ibsi_reference, "ngt_")
    assert {s.ibsi_tag for s in ngtdm.FEATURES} == set(ids)
    assert len(ngtdm.FEATURES) == 5
    for s in ngtdm.FEATURES:
        assert s.ibsi_id == ids[s.ibsi_tag], s.name
        assert s.name.startswith("ngtdm_") and s.family == "ngtdm"


def test_feature_functions_cite_their_ibsi_id():
    assert_feature_functions_cite_ids(
        (spec, getattr(ngtdm, spec.name.removeprefix("ngtdm_"))) for spec in ngtdm.FEATURES
    )


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("distance", [0, -1, 1.5])
def test_bad_distance(distance):
    with pytest.raises(SettingsError, match="distance must be an integer >= 1"):
        ngtdm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 4, distance=distance)


def test_levels_outside_range():
    with pytest.raises(SettingsError, match="range from 1 to 4; expected values in 1..n_levels"):
        ngtdm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 3)


def test_empty_mask():
    with pytest.raises(EmptyRoiError, match="holds no voxel"):
        ngtdm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 9, 4)


def test_bad_aggregation():
    with pytest.raises(SettingsError, match="unknown aggregation '2_5d_vmrg'.*did you mean '2_5d'"):
        ngtdm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 4, aggregations=["2_5d_vmrg"])


def test_neighbourhood_helper_validates_shapes():
    with pytest.raises(GeometryError, match=r"mask shape \(1, 4, 3\) differs"):
        ngtdm.ngtdm_neighbourhood(IBSI_EXAMPLE, IBSI_EXAMPLE[..., :3] > 0, aggregation="2d")
