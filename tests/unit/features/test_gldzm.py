"""GLDZM family: IBSI reference values, hand-checked matrices, properties and errors.

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
from voxelomics.features import gldzm
from voxelomics.features._texture import Aggregation


# ----------------------------------------------------------------------------- IBSI values
@pytest.mark.ibsi
@pytest.mark.parametrize("aggregation", ZONE_AGGS, ids=lambda a: a.value)
def test_digital_phantom_matches_ibsi(digital_phantom, ibsi_reference, aggregation):
    levels, mask = phantom_levels(digital_phantom)
    values = gldzm.compute(levels, mask, 6, aggregations=[aggregation])
    ibsi, tags = as_ibsi(values, gldzm, aggregation, ibsi_reference, "dig")
    assert len(tags) == 16
    assert_matches_reference(ibsi, ibsi_reference, "dig", tags)


@pytest.fixture(scope="module")
def config_a():
    return ct_config_a()


@pytest.mark.ibsi
def test_ct_phantom_config_a_matches_ibsi(config_a, ibsi_reference):
    """Distances from the morphological mask (GTV), zones from the re-segmented mask."""
    levels, roi, morph, n_levels = config_a
    values = gldzm.compute(levels, roi, n_levels, aggregations=["2d", "2_5d"], morph_mask=morph)
    for aggregation in (Aggregation.ZONE_2D, Aggregation.ZONE_25D):
        ibsi, tags = as_ibsi(values, gldzm, aggregation, ibsi_reference, "A")
        assert len(tags) == 16
        assert_matches_reference(ibsi, ibsi_reference, "A", tags)


@pytest.mark.ibsi
def test_ct_phantom_config_a_needs_the_morphological_mask(config_a, ibsi_reference):
    """Taking distances from the intensity mask instead moves values off the IBSI table."""
    levels, roi, _, n_levels = config_a
    values = gldzm.compute(levels, roi, n_levels, aggregations=["2d"])
    ref = ibsi_reference[ibsi_reference["config"] == "A"].set_index("tag")
    row = ref.loc["dzm_sde_2D"]
    assert abs(values["gldzm_small_distance_emphasis_2d"] - row["value"]) > 10 * row["tolerance"]


# ------------------------------------------------------------------------ matrix layer
def test_ibsi_manual_example_distance_map():
    """Distance map of the manual's 2D example (IBSI 3.9, table 'Distance map')."""
    dist = gldzm.gldzm_distance_map(IBSI_EXAMPLE > 0, aggregation="2d")
    expected = [[1, 1, 1, 1], [1, 2, 2, 1], [1, 2, 2, 1], [1, 1, 1, 1]]
    np.testing.assert_array_equal(dist[0], expected)


def test_ibsi_manual_example_matrix():
    """GLDZM of the manual's 2D example.

    The manual's table lists two zones of grey level 2, but its own GLSZM of the same image
    (3.8) has a single 8-connected zone of five voxels for level 2 (rows: 3, 1, 2, 2 zones).
    Counted by hand with the manual's distance map: level 1 zones {(0,0),(1,0)}, {(2,3)},
    {(3,1)} at distance 1; level 2 one zone touching the edge, distance 1; level 3 zones
    {(0,3),(1,2),(1,3)} and {(3,3)} at distance 1; level 4 {(2,0),(3,0)} at 1 and {(2,2)} at 2.
    """
    (m,) = gldzm.gldzm_matrices(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 4, aggregation="2d")
    np.testing.assert_array_equal(m.dense(), [[3, 0], [1, 0], [2, 0], [1, 1]])
    assert m.n_voxels == 16


def test_distance_map_2d_is_in_plane_and_3d_is_6_connected():
    block = np.ones((3, 5, 5), dtype=bool)
    ring = [[1, 1, 1, 1, 1], [1, 2, 2, 2, 1], [1, 2, 3, 2, 1], [1, 2, 2, 2, 1], [1, 1, 1, 1, 1]]
    d2 = gldzm.gldzm_distance_map(block, aggregation="2d")
    for z in range(3):
        np.testing.assert_array_equal(d2[z], ring)
    d3 = gldzm.gldzm_distance_map(block, aggregation="3d")
    np.testing.assert_array_equal(d3[0], np.ones((5, 5)))
    np.testing.assert_array_equal(d3[1], np.minimum(ring, 2))
    np.testing.assert_array_equal(d3[2], np.ones((5, 5)))


def test_distance_comes_from_the_morphological_mask():
    morph = np.ones((1, 5, 5), dtype=bool)
    levels = np.zeros((1, 5, 5), dtype=np.int64)
    levels[0, 1:4, 1:4] = 1
    roi = levels > 0
    (with_morph,) = gldzm.gldzm_matrices(levels, roi, 1, aggregation="2d", morph_mask=morph)
    (without,) = gldzm.gldzm_matrices(levels, roi, 1, aggregation="2d")
    np.testing.assert_array_equal(with_morph.dense(), [[0, 1]])
    np.testing.assert_array_equal(without.dense(), [[1]])
    assert with_morph.n_voxels == 9


def test_merged_matrix_is_sum_of_slice_matrices(digital_phantom):
    levels, mask = phantom_levels(digital_phantom)
    per_slice = gldzm.gldzm_matrices(levels, mask, 6, aggregation="2d")
    (merged,) = gldzm.gldzm_matrices(levels, mask, 6, aggregation="2_5d")
    width = merged.dense().shape[1]
    summed = sum(np.pad(m.dense(), ((0, 0), (0, width - m.dense().shape[1]))) for m in per_slice)
    np.testing.assert_array_equal(summed, merged.dense())
    assert merged.n_voxels == mask.sum()


def test_invariant_to_padding_outside_mask(digital_phantom):
    levels, mask = phantom_levels(digital_phantom)
    rng = np.random.default_rng(0)
    big = rng.integers(-5, 50, size=(8, 9, 11))
    big_mask = np.zeros(big.shape, dtype=bool)
    big[2:6, 3:7, 4:9] = levels
    big_mask[2:6, 3:7, 4:9] = mask
    a = gldzm.compute(levels, mask, 6, aggregations=ZONE_AGGS)
    b = gldzm.compute(big, big_mask, 6, aggregations=ZONE_AGGS, morph_mask=big_mask)
    assert a.keys() == b.keys()
    for key in a:
        assert b[key] == pytest.approx(a[key], rel=1e-12), key


def test_single_voxel_is_defined():
    levels = np.zeros((3, 3, 3), dtype=np.int64)
    levels[1, 1, 1] = 2
    values = gldzm.compute(levels, levels > 0, 4, aggregations=ZONE_AGGS)
    assert all(np.isfinite(v) for v in values.values())
    assert values["gldzm_small_distance_emphasis_3d"] == 1.0


# ----------------------------------------------------------------------- registry/docs
def test_feature_specs_match_ibsi_table(ibsi_reference):
    ids = table_ids(ibsi_reference, "dzm_")
    assert {s.ibsi_tag for s in gldzm.FEATURES} == set(ids)
    assert len(gldzm.FEATURES) == 16
    for s in gldzm.FEATURES:
        assert s.ibsi_id == ids[s.ibsi_tag], s.name
        assert s.name.startswith("gldzm_") and s.family == "gldzm"


def test_feature_functions_cite_their_ibsi_id():
    assert_feature_functions_cite_ids(
        (spec, getattr(gldzm, spec.name.removeprefix("gldzm_"))) for spec in gldzm.FEATURES
    )


# ------------------------------------------------------------------------------ errors
def test_intensity_mask_outside_morphological_mask():
    morph = IBSI_EXAMPLE > 1
    with pytest.raises(MaskError, match="4 intensity-mask voxel.*outside the morphological mask"):
        gldzm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 4, morph_mask=morph)


def test_morph_mask_shape_mismatch():
    with pytest.raises(GeometryError, match=r"morph_mask shape \(1, 4, 3\) differs"):
        gldzm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 4, morph_mask=IBSI_EXAMPLE[..., :3] > 0)


def test_morph_mask_not_boolean():
    with pytest.raises(MaskError, match="morph_mask must be boolean"):
        gldzm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 4, morph_mask=IBSI_EXAMPLE)


def test_levels_outside_range():
    with pytest.raises(SettingsError, match="range from 1 to 4; expected values in 1..n_levels"):
        gldzm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 3)


def test_empty_mask():
    with pytest.raises(EmptyRoiError, match="holds no voxel"):
        gldzm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 9, 4)


def test_bad_aggregation():
    with pytest.raises(SettingsError, match="unknown aggregation '2d_avg'.*did you mean '2d'"):
        gldzm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 4, aggregations=["2d_avg"])
