"""GLSZM family: IBSI reference values, hand-checked matrices, properties and errors.

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
from voxelomics.errors import EmptyRoiError, GeometryError, MaskError, SettingsError
from voxelomics.features import glszm
from voxelomics.features._texture import Aggregation
from voxelomics.features.registry import column_name


# ----------------------------------------------------------------------------- IBSI values
@pytest.mark.ibsi
@pytest.mark.parametrize("aggregation", ZONE_AGGS, ids=lambda a: a.value)
def test_digital_phantom_matches_ibsi(digital_phantom, ibsi_reference, aggregation):
    levels, mask = phantom_levels(digital_phantom)
    values = glszm.compute(levels, mask, 6, aggregations=[aggregation])
    ibsi, tags = as_ibsi(values, glszm, aggregation, ibsi_reference, "dig")
    assert len(tags) == 16
    assert_matches_reference(ibsi, ibsi_reference, "dig", tags)


@pytest.mark.ibsi
def test_ct_phantom_config_a_matches_ibsi(ibsi_reference):
    levels, roi, _, n_levels = ct_config_a()
    values = glszm.compute(levels, roi, n_levels, aggregations=["2d", "2_5d"])
    for aggregation in (Aggregation.ZONE_2D, Aggregation.ZONE_25D):
        ibsi, tags = as_ibsi(values, glszm, aggregation, ibsi_reference, "A")
        assert len(tags) == 16
        assert_matches_reference(ibsi, ibsi_reference, "A", tags)


# ------------------------------------------------------------------------ matrix layer
def test_ibsi_manual_example_matrix():
    """GLSZM of the manual's 2D example (IBSI 3.8, table 'Grey level size zone matrix')."""
    (m,) = glszm.glszm_matrices(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 4, aggregation="2d")
    expected = [[2, 1, 0, 0, 0], [0, 0, 0, 0, 1], [1, 0, 1, 0, 0], [1, 1, 0, 0, 0]]
    np.testing.assert_array_equal(m.dense(), expected)
    assert m.n_voxels == 16


def test_two_zones_in_4x4():
    levels = np.array([[[1, 1, 2, 2], [1, 1, 2, 2], [1, 1, 2, 2], [1, 1, 2, 2]]])
    (m,) = glszm.glszm_matrices(levels, levels > 0, 2, aggregation="3d")
    np.testing.assert_array_equal(m.columns, [8])
    np.testing.assert_array_equal(m.counts, [[1], [1]])
    values = glszm.compute(levels, levels > 0, 2, aggregations=["3d"])
    assert values["glszm_small_zone_emphasis_3d"] == pytest.approx(1 / 64)
    assert values["glszm_large_zone_emphasis_3d"] == pytest.approx(64)
    assert values["glszm_zone_percentage_3d"] == pytest.approx(2 / 16)
    assert values["glszm_grey_level_variance_3d"] == pytest.approx(0.25)
    assert values["glszm_zone_size_variance_3d"] == 0
    assert values["glszm_zone_size_entropy_3d"] == pytest.approx(1.0)


def test_diagonal_link_across_slices_only_in_3d():
    levels = np.zeros((2, 2, 2), dtype=np.int64)
    levels[0, 0, 0] = levels[1, 1, 1] = 1
    mask = levels > 0
    (m3,) = glszm.glszm_matrices(levels, mask, 1, aggregation="3d")
    np.testing.assert_array_equal(m3.dense(), [[0, 1]])
    per_slice = glszm.glszm_matrices(levels, mask, 1, aggregation="2d")
    assert [m.dense().tolist() for m in per_slice] == [[[1]], [[1]]]
    assert [m.n_voxels for m in per_slice] == [1, 1]


def test_merged_matrix_is_sum_of_slice_matrices(digital_phantom):
    levels, mask = phantom_levels(digital_phantom)
    per_slice = glszm.glszm_matrices(levels, mask, 6, aggregation="2d")
    (merged,) = glszm.glszm_matrices(levels, mask, 6, aggregation="2_5d")
    width = merged.dense().shape[1]
    summed = sum(np.pad(m.dense(), ((0, 0), (0, width - m.dense().shape[1]))) for m in per_slice)
    np.testing.assert_array_equal(summed, merged.dense())
    assert merged.n_voxels == sum(m.n_voxels for m in per_slice) == mask.sum()


def test_invariant_to_padding_outside_mask(digital_phantom):
    levels, mask = phantom_levels(digital_phantom)
    rng = np.random.default_rng(0)
    big = rng.integers(-5, 50, size=(8, 9, 11))
    big_mask = np.zeros(big.shape, dtype=bool)
    big[2:6, 3:7, 4:9] = levels
    big_mask[2:6, 3:7, 4:9] = mask
    big[2:6, 3:7, 4:9][~mask] = 3  # junk outside the ROI, inside the box
    a = glszm.compute(levels, mask, 6, aggregations=ZONE_AGGS)
    b = glszm.compute(big, big_mask, 6, aggregations=ZONE_AGGS)
    assert a.keys() == b.keys()
    for key in a:
        assert b[key] == pytest.approx(a[key], rel=1e-12), key


def test_single_voxel_and_single_level_are_defined():
    levels = np.zeros((3, 3, 3), dtype=np.int64)
    levels[1, 1, 1] = 2
    values = glszm.compute(levels, levels > 0, 4, aggregations=ZONE_AGGS)
    assert all(np.isfinite(v) for v in values.values())
    assert values["glszm_zone_percentage_3d"] == 1.0
    assert values["glszm_grey_level_variance_2d"] == 0.0


def test_empty_slices_are_skipped_in_2d_average():
    levels = np.zeros((3, 2, 2), dtype=np.int64)
    levels[0] = [[1, 1], [1, 2]]
    levels[2] = [[1, 1], [1, 2]]
    values = glszm.compute(levels, levels > 0, 2, aggregations=["2d"])
    one = glszm.compute(levels[:1], levels[:1] > 0, 2, aggregations=["2d"])
    assert values == pytest.approx(one)


# ----------------------------------------------------------------------- registry/docs
def test_feature_specs_match_ibsi_table(ibsi_reference):
    ids = table_ids(ibsi_reference, "szm_")
    assert {s.ibsi_tag for s in glszm.FEATURES} == set(ids)
    assert len(glszm.FEATURES) == 16
    for s in glszm.FEATURES:
        assert s.ibsi_id == ids[s.ibsi_tag], s.name
        assert s.name.startswith("glszm_") and s.family == "glszm"


def test_feature_functions_cite_their_ibsi_id():
    assert_feature_functions_cite_ids(
        (spec, getattr(glszm, spec.name.removeprefix("glszm_"))) for spec in glszm.FEATURES
    )


def test_compute_returns_requested_columns_only():
    values = glszm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 4, aggregations=["2_5d"])
    assert set(values) == {column_name(s, "2_5d") for s in glszm.FEATURES}


# ------------------------------------------------------------------------------ errors
def test_levels_outside_range():
    with pytest.raises(SettingsError, match="range from 1 to 4; expected values in 1..n_levels"):
        glszm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 3)


def test_non_integer_levels():
    with pytest.raises(SettingsError, match="non-integer values inside the mask"):
        glszm.compute(IBSI_EXAMPLE + 0.5, IBSI_EXAMPLE > 0, 5)


def test_mask_not_boolean():
    with pytest.raises(MaskError, match="must be boolean or hold only 0 and 1; found values 0, 2"):
        glszm.compute(IBSI_EXAMPLE, (IBSI_EXAMPLE > 2) * 2, 4)


def test_shape_mismatch():
    with pytest.raises(GeometryError, match=r"mask shape \(1, 4, 3\) differs"):
        glszm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE[..., :3] > 0, 4)


def test_not_3d():
    with pytest.raises(GeometryError, match="must be a 3-D array"):
        glszm.compute(IBSI_EXAMPLE[0], IBSI_EXAMPLE[0] > 0, 4)


def test_empty_mask():
    with pytest.raises(EmptyRoiError, match="holds no voxel"):
        glszm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 9, 4)


@pytest.mark.parametrize(
    "agg, message",
    [
        ("3d_avg", "unknown aggregation '3d_avg'.*did you mean '3d'"),
        ("volume", "unknown aggregation"),
    ],
)
def test_bad_aggregation(agg, message):
    with pytest.raises(SettingsError, match=message):
        glszm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 4, aggregations=[agg])


@pytest.mark.parametrize("n_levels", [0, 2.5, True])
def test_bad_n_levels(n_levels):
    with pytest.raises(SettingsError, match="n_levels must be a positive integer"):
        glszm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, n_levels)
