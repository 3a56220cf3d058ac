"""GLCM family: IBSI reference values, hand-checked matrices, properties and errors.

Reference values come from ``data/ibsi1/ibsi1_reference_values.csv``. The digital
phantom rows carry tolerance 0 because the manual prints them to three significant
figures without a tolerance; computed values are rounded to three significant figures
before the comparison for those rows.
"""

from __future__ import annotations

import inspect
import itertools

import numpy as np
import pytest
from _helpers import (
    AGGS_2D,
    IBSI_EXAMPLE,
    as_ibsi,
    assert_feature_functions_cite_ids,
    ct_config_a,
    table_ids,
)

from testdata import assert_matches_reference
from voxelomics.errors import EmptyRoiError, GeometryError, MaskError, SettingsError
from voxelomics.features import glcm
from voxelomics.features._texture import DIRECTIONS_2D, DIRECTIONS_3D, Aggregation
from voxelomics.features.registry import column_name


# ------------------------------------------------------------------ IBSI reference values
@pytest.mark.ibsi
@pytest.mark.parametrize("aggregation", glcm.DIRECTIONAL_AGGREGATIONS, ids=lambda a: a.value)
def test_digital_phantom_matches_ibsi(digital_phantom, ibsi_reference, aggregation):
    image, mask, _ = digital_phantom
    values = glcm.compute(image.astype(np.int64), mask, 6, aggregations=[aggregation])
    ibsi, tags = as_ibsi(values, glcm, aggregation, ibsi_reference, "dig")
    assert len(tags) == 25
    assert_matches_reference(ibsi, ibsi_reference, "dig", tags)


@pytest.fixture(scope="module")
def config_a_values():
    levels, roi, _, n_levels = ct_config_a()
    assert levels[roi].min() >= 1 and levels[roi].max() <= n_levels
    return glcm.compute(levels, roi, n_levels, aggregations=AGGS_2D)


@pytest.mark.ibsi
@pytest.mark.parametrize("aggregation", AGGS_2D, ids=lambda a: a.value)
def test_ct_phantom_config_a_matches_ibsi(config_a_values, ibsi_reference, aggregation):
    ibsi, tags = as_ibsi(config_a_values, glcm, aggregation, ibsi_reference, "A")
    assert len(tags) == 25
    assert_matches_reference(ibsi, ibsi_reference, "A", tags)


# ------------------------------------------------------------------ matrix layer
def test_ibsi_manual_example_right():
    """IBSI manual: M for m+ = (0, 1) ('→') and its symmetric sum with the transpose."""
    m_plus = np.array([[0, 3, 0, 0], [0, 1, 3, 1], [0, 0, 1, 0], [2, 1, 0, 0]])
    m = glcm.glcm_matrices(
        IBSI_EXAMPLE, IBSI_EXAMPLE > 0, n_levels=4, directions=np.array([[0, 0, 1]]), per_slice=True
    )
    assert m.shape == (1, 1, 4, 4)
    np.testing.assert_array_equal(m[0, 0], m_plus + m_plus.T)
    np.testing.assert_array_equal(m[0, 0], [[0, 3, 0, 2], [3, 2, 3, 2], [0, 3, 2, 0], [2, 2, 0, 0]])


def test_hand_computed_vertical_direction():
    # Columns of the example read top to bottom: (1,1,4,4), (2,2,2,1), (2,3,4,2), (3,3,1,3).
    expected = np.array([[2, 1, 2, 1], [1, 4, 1, 1], [2, 1, 2, 1], [1, 1, 1, 2]])
    m = glcm.glcm_matrices(
        IBSI_EXAMPLE,
        IBSI_EXAMPLE > 0,
        n_levels=4,
        directions=np.array([[0, 1, 0]]),
        per_slice=False,
    )
    np.testing.assert_array_equal(m[0, 0], expected)


def test_hand_computed_3d_pair_and_mask():
    levels = np.array([[[1, 2]], [[2, 2]]])  # (z, y, x) = (2, 1, 2)
    mask = np.array([[[True, True]], [[True, False]]])
    m = glcm.glcm_matrices(
        levels, mask, n_levels=2, directions=np.array([[1, 0, 0]]), per_slice=False
    )
    # Only the pair (z0, x0)=1 -> (z1, x0)=2 has both voxels in the mask.
    np.testing.assert_array_equal(m[0, 0], [[0, 1], [1, 0]])


def _brute_force(levels, mask, n_levels, directions, distance, per_slice):
    """Oracle: visit every voxel and its neighbour one by one."""
    n_s = levels.shape[0] if per_slice else 1
    out = np.zeros((n_s, len(directions), n_levels, n_levels), dtype=np.int64)
    for k, d in enumerate(directions):
        for v in itertools.product(*(range(n) for n in levels.shape)):
            w = tuple(int(a + distance * b) for a, b in zip(v, d, strict=True))
            if not all(0 <= a < n for a, n in zip(w, levels.shape, strict=True)):
                continue
            if mask[v] and mask[w]:
                s = v[0] if per_slice else 0
                out[s, k, levels[v] - 1, levels[w] - 1] += 1
                out[s, k, levels[w] - 1, levels[v] - 1] += 1
    return out


@pytest.mark.parametrize("distance", [1, 2])
@pytest.mark.parametrize("per_slice", [True, False])
def test_matrices_match_brute_force(per_slice, distance):
    rng = np.random.default_rng(7)
    levels = rng.integers(1, 5, size=(4, 5, 6))
    mask = rng.random(levels.shape) < 0.7
    dirs = DIRECTIONS_2D if per_slice else DIRECTIONS_3D
    got = glcm.glcm_matrices(
        levels, mask, n_levels=4, directions=dirs, distance=distance, per_slice=per_slice
    )
    np.testing.assert_array_equal(got, _brute_force(levels, mask, 4, dirs, distance, per_slice))


def test_matrices_are_symmetric():
    rng = np.random.default_rng(1)
    levels = rng.integers(1, 7, size=(5, 6, 7))
    mask = rng.random(levels.shape) < 0.6
    m = glcm.glcm_matrices(levels, mask, n_levels=6, directions=DIRECTIONS_3D, per_slice=False)
    np.testing.assert_array_equal(m, m.transpose(0, 1, 3, 2))
    assert np.all(m.sum(axis=(2, 3)) % 2 == 0)


def test_invariant_to_padding_outside_mask(digital_phantom):
    image, mask, _ = digital_phantom
    levels = image.astype(np.int64)
    ref = glcm.compute(levels, mask, 6, aggregations=glcm.DIRECTIONAL_AGGREGATIONS)
    rng = np.random.default_rng(3)
    big = rng.integers(-5, 50, size=tuple(n + 6 for n in levels.shape))  # junk outside the ROI
    big_mask = np.zeros(big.shape, dtype=bool)
    inner = (
        slice(2, 2 + levels.shape[0]),
        slice(3, 3 + levels.shape[1]),
        slice(1, 1 + levels.shape[2]),
    )
    big[inner] = levels
    big_mask[inner] = mask
    got = glcm.compute(big, big_mask, 6, aggregations=glcm.DIRECTIONAL_AGGREGATIONS)
    assert got.keys() == ref.keys()
    np.testing.assert_allclose([got[k] for k in ref], [ref[k] for k in ref], rtol=1e-12)


def test_direction_order_does_not_change_3d_features():
    rng = np.random.default_rng(5)
    levels = rng.integers(1, 5, size=(4, 5, 6))
    mask = rng.random(levels.shape) < 0.8
    a = glcm.glcm_matrices(levels, mask, n_levels=4, directions=DIRECTIONS_3D, per_slice=False)
    b = glcm.glcm_matrices(
        levels, mask, n_levels=4, directions=-DIRECTIONS_3D[::-1], per_slice=False
    )
    np.testing.assert_array_equal(
        a[0], b[0, ::-1]
    )  # opposite directions give the same symmetric matrix


# ------------------------------------------------------------------ feature layer and undefined cases
def test_single_grey_level_undefined_values():
    levels = np.ones((1, 2, 2), dtype=np.int64)
    out = glcm.compute(levels, levels > 0, 3, aggregations=[Aggregation.D3_MRG])
    assert out["glcm_joint_max_3d_mrg"] == 1.0
    assert out["glcm_joint_entr_3d_mrg"] == 0.0
    assert out["glcm_info_corr_2_3d_mrg"] == 0.0
    assert out["glcm_inv_var_3d_mrg"] == 0.0
    assert np.isnan(out["glcm_corr_3d_mrg"])  # sigma = 0: documented NaN
    assert np.isnan(out["glcm_info_corr_1_3d_mrg"])  # HX = 0: documented NaN


def test_single_voxel_roi_has_no_cooccurrence():
    levels = np.full((3, 3, 3), 2)
    mask = np.zeros(levels.shape, dtype=bool)
    mask[1, 1, 1] = True
    out = glcm.compute(levels, mask, 2, aggregations=glcm.DIRECTIONAL_AGGREGATIONS)
    assert len(out) == 25 * 6
    assert all(np.isnan(v) for v in out.values())


def test_empty_slices_are_skipped_in_2d_average():
    """A slice with one ROI voxel has no pair: the 2D average equals that of the other slices."""
    rng = np.random.default_rng(11)
    levels = rng.integers(1, 4, size=(2, 4, 4))
    mask = np.ones(levels.shape, dtype=bool)
    only = glcm.compute(levels[:1], mask[:1], 3, aggregations=AGGS_2D[:2])
    mask[1] = False
    mask[1, 2, 2] = True
    both = glcm.compute(levels, mask, 3, aggregations=AGGS_2D[:2])
    np.testing.assert_allclose([both[k] for k in only], [only[k] for k in only], rtol=1e-12)


def test_stats_marginals_on_manual_example():
    m = np.array([[0, 3, 0, 2], [3, 2, 3, 2], [0, 3, 2, 0], [2, 2, 0, 0]])
    s = glcm.GLCMStats.from_counts(m)
    np.testing.assert_allclose(s.p_i, np.array([5, 10, 5, 4]) / 24)  # margins printed in the manual
    np.testing.assert_allclose(s.p_j, s.p_i)
    assert s.p_diff.shape == (4,) and s.p_sum.shape == (7,)
    assert np.isclose(s.p_diff.sum(), 1.0) and np.isclose(s.p_sum.sum(), 1.0)
    assert glcm.joint_max(s) == pytest.approx(3 / 24)


# ------------------------------------------------------------------ registry contract
def test_feature_specs_match_ibsi_table(ibsi_reference):
    ids = table_ids(ibsi_reference, "cm_")
    specs = glcm.FEATURES
    assert len(specs) == 25 and len({s.name for s in specs}) == 25
    assert {s.ibsi_tag for s in specs} == set(ids)
    for s in specs:
        assert s.family == "glcm" and s.name.startswith("glcm_")
        assert s.ibsi_id == ids[s.ibsi_tag], s.name


def test_feature_functions_cite_their_ibsi_id():
    assert_feature_functions_cite_ids(glcm._TABLE)


def test_compute_returns_requested_columns_only():
    levels = IBSI_EXAMPLE
    out = glcm.compute(levels, levels > 0, 4, aggregations=[Aggregation.D2_AVG, "3d_mrg"])
    assert set(out) == {column_name(s, a) for s in glcm.FEATURES for a in ("2d_avg", "3d_mrg")}


# ------------------------------------------------------------------ errors
def test_levels_outside_range():
    with pytest.raises(SettingsError, match=r"range from 1 to 4; expected values in 1\.\.n_levels = 1\.\.3"):
        glcm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 3)


def test_non_integer_levels():
    with pytest.raises(SettingsError, match="non-integer"):
        glcm.compute(IBSI_EXAMPLE + 0.5, IBSI_EXAMPLE > 0, 5)


def test_mask_not_boolean():
    with pytest.raises(MaskError, match="boolean or hold only 0 and 1; found values"):
        glcm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE.astype(int), 4)


def test_shape_mismatch():
    with pytest.raises(GeometryError, match=r"mask shape .* differs"):
        glcm.compute(IBSI_EXAMPLE, np.ones((1, 4, 5), dtype=bool), 4)


def test_not_3d():
    with pytest.raises(GeometryError, match="3-D array"):
        glcm.compute(IBSI_EXAMPLE[0], IBSI_EXAMPLE[0] > 0, 4)


def test_empty_mask():
    with pytest.raises(EmptyRoiError, match="no voxel"):
        glcm.compute(IBSI_EXAMPLE, np.zeros(IBSI_EXAMPLE.shape, dtype=bool), 4)


@pytest.mark.parametrize(
    "agg, message", [("4d_avg", "unknown aggregation"), ("3d", "zone families")]
)
def test_bad_aggregation(agg, message):
    with pytest.raises(SettingsError, match=message):
        glcm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 4, aggregations=[agg])


@pytest.mark.parametrize("distance", [0, -1, 1.5])
def test_bad_distance(distance):
    with pytest.raises(SettingsError, match="distance must be a positive integer"):
        glcm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 4, distance=distance)


def test_per_slice_needs_in_plane_directions():
    with pytest.raises(SettingsError, match="in-plane"):
        glcm.glcm_matrices(
            IBSI_EXAMPLE, IBSI_EXAMPLE > 0, n_levels=4, directions=DIRECTIONS_3D, per_slice=True
        )


def test_bad_n_levels():
    with pytest.raises(SettingsError, match="n_levels must be a positive integer"):
        glcm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 0)


def test_integer_zero_one_mask_is_accepted():
    a = glcm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 1, 4)
    b = glcm.compute(IBSI_EXAMPLE, (IBSI_EXAMPLE > 1).astype(np.uint8), 4)
    np.testing.assert_array_equal([a[k] for k in a], [b[k] for k in a])


def test_no_aggregation_requested():
    with pytest.raises(SettingsError, match="no aggregation requested"):
        glcm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 4, aggregations=[])


def test_default_aggregations_follow_settings_default():
    from voxelomics.features._texture import directional_aggregations
    from voxelomics.settings import Settings

    default = inspect.signature(glcm.compute).parameters["aggregations"].default
    assert list(default) == directional_aggregations(Settings().texture.dimensions)
