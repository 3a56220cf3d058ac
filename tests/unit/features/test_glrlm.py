"""GLRLM family: IBSI reference values, hand-checked matrices, properties and errors.

Digital phantom rows of the reference table carry tolerance 0 (printed to three
significant figures without a tolerance); computed values are rounded to three
significant figures before the comparison for those rows.
"""

from __future__ import annotations

import inspect

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
from voxelomics.errors import EmptyRoiError, SettingsError
from voxelomics.features import glrlm
from voxelomics.features._texture import DIRECTIONS_2D, DIRECTIONS_3D, Aggregation
from voxelomics.features.registry import column_name


# ------------------------------------------------------------------ IBSI reference values
@pytest.mark.ibsi
@pytest.mark.parametrize("aggregation", glrlm.DIRECTIONAL_AGGREGATIONS, ids=lambda a: a.value)
def test_digital_phantom_matches_ibsi(digital_phantom, ibsi_reference, aggregation):
    image, mask, _ = digital_phantom
    values = glrlm.compute(image.astype(np.int64), mask, 6, aggregations=[aggregation])
    ibsi, tags = as_ibsi(values, glrlm, aggregation, ibsi_reference, "dig")
    assert len(tags) == 16
    assert_matches_reference(ibsi, ibsi_reference, "dig", tags)


@pytest.fixture(scope="module")
def config_a_values():
    """CT phantom, IBSI configuration A: no resampling, [-500, 400] HU, FBS 25 HU from -500."""
    levels, roi, _, n_levels = ct_config_a()
    assert levels[roi].max() <= 36
    return glrlm.compute(levels, roi, n_levels, aggregations=AGGS_2D)


@pytest.mark.ibsi
@pytest.mark.parametrize("aggregation", AGGS_2D, ids=lambda a: a.value)
def test_ct_phantom_config_a_matches_ibsi(config_a_values, ibsi_reference, aggregation):
    ibsi, tags = as_ibsi(config_a_values, glrlm, aggregation, ibsi_reference, "A")
    assert len(tags) == 16
    assert_matches_reference(ibsi, ibsi_reference, "A", tags)


# ------------------------------------------------------------------ matrix layer
def test_hand_computed_rows():
    # Rows: 1|22|3, 1|2|33, 4|2|4|1, 4|1|2|3 -> (level, length) counts.
    expected = np.array([[4, 0, 0, 0], [3, 1, 0, 0], [2, 1, 0, 0], [3, 0, 0, 0]])
    r = glrlm.glrlm_matrices(
        IBSI_EXAMPLE, IBSI_EXAMPLE > 0, n_levels=4, directions=np.array([[0, 0, 1]]), per_slice=True
    )
    assert r.shape == (1, 1, 4, 4)
    np.testing.assert_array_equal(r[0, 0], expected)


def test_hand_computed_columns():
    # Columns: 11|44, 222|1, 2|3|4|2, 33|1|3.
    expected = np.array([[2, 1, 0, 0], [2, 0, 1, 0], [2, 1, 0, 0], [1, 1, 0, 0]])
    r = glrlm.glrlm_matrices(
        IBSI_EXAMPLE,
        IBSI_EXAMPLE > 0,
        n_levels=4,
        directions=np.array([[0, 1, 0]]),
        per_slice=False,
    )
    np.testing.assert_array_equal(r[0, 0], expected)


def test_voxel_outside_mask_breaks_a_run():
    levels = np.full((1, 1, 5), 2)
    mask = np.array([[[True, True, False, True, True]]])
    r = glrlm.glrlm_matrices(
        levels, mask, n_levels=2, directions=np.array([[0, 0, 1]]), per_slice=False
    )
    np.testing.assert_array_equal(
        r[0, 0], [[0, 0, 0, 0, 0], [0, 2, 0, 0, 0]]
    )  # two runs of length 2, level 2


def _brute_force(levels, mask, n_levels, directions, per_slice):
    """Oracle: walk every run voxel by voxel from its first voxel."""
    n_s = levels.shape[0] if per_slice else 1
    n_r = max(levels.shape)
    out = np.zeros((n_s, len(directions), n_levels, n_r), dtype=np.int64)

    def same(v, w):
        return (
            all(0 <= a < n for a, n in zip(w, levels.shape, strict=True))
            and mask[w]
            and levels[w] == levels[v]
        )

    for k, d in enumerate(directions):
        for v in zip(*np.nonzero(mask), strict=True):
            before = tuple(int(a - b) for a, b in zip(v, d, strict=True))
            if same(v, before):
                continue  # not the first voxel of its run
            length, w = 1, tuple(int(a + b) for a, b in zip(v, d, strict=True))
            while same(v, w):
                length += 1
                w = tuple(int(a + b) for a, b in zip(w, d, strict=True))
            out[v[0] if per_slice else 0, k, levels[v] - 1, length - 1] += 1
    return out


@pytest.mark.parametrize("per_slice", [True, False])
@pytest.mark.parametrize("fill", [0.5, 0.95])
def test_matrices_match_brute_force(per_slice, fill):
    rng = np.random.default_rng(42)
    levels = rng.integers(1, 3, size=(5, 6, 7))  # few levels: long runs
    mask = rng.random(levels.shape) < fill
    dirs = DIRECTIONS_2D if per_slice else DIRECTIONS_3D
    got = glrlm.glrlm_matrices(levels, mask, n_levels=2, directions=dirs, per_slice=per_slice)
    want = _brute_force(levels, mask, 2, dirs, per_slice)
    n_r = got.shape[-1]  # bounding-box extent; runs cannot be longer
    assert not want[..., n_r:].any()
    np.testing.assert_array_equal(got, want[..., :n_r])


def test_every_voxel_is_in_one_run_per_direction():
    rng = np.random.default_rng(2)
    levels = rng.integers(1, 4, size=(4, 5, 6))
    mask = rng.random(levels.shape) < 0.7
    r = glrlm.glrlm_matrices(levels, mask, n_levels=3, directions=DIRECTIONS_3D, per_slice=False)
    lengths = np.arange(1, r.shape[-1] + 1)
    np.testing.assert_array_equal((r * lengths).sum(axis=(2, 3))[0], np.full(13, mask.sum()))


def test_invariant_to_padding_outside_mask(digital_phantom):
    image, mask, _ = digital_phantom
    levels = image.astype(np.int64)
    ref = glrlm.compute(levels, mask, 6, aggregations=glrlm.DIRECTIONAL_AGGREGATIONS)
    rng = np.random.default_rng(3)
    big = rng.integers(-5, 50, size=tuple(n + 5 for n in levels.shape))
    big_mask = np.zeros(big.shape, dtype=bool)
    inner = (
        slice(1, 1 + levels.shape[0]),
        slice(4, 4 + levels.shape[1]),
        slice(2, 2 + levels.shape[2]),
    )
    big[inner] = levels
    big_mask[inner] = mask
    got = glrlm.compute(big, big_mask, 6, aggregations=glrlm.DIRECTIONAL_AGGREGATIONS)
    np.testing.assert_allclose([got[k] for k in ref], [ref[k] for k in ref], rtol=1e-12)


# ------------------------------------------------------------------ aggregation and N_v
def test_run_percentage_merged_equals_averaged_in_3d():
    """IBSI sums N_v on merging, so the merged run percentage is the mean over directions."""
    rng = np.random.default_rng(9)
    levels = rng.integers(1, 4, size=(5, 6, 7))
    mask = rng.random(levels.shape) < 0.8
    out = glrlm.compute(levels, mask, 3, aggregations=[Aggregation.D3_AVG, Aggregation.D3_MRG])
    assert out["glrlm_run_percentage_3d_mrg"] == pytest.approx(out["glrlm_run_percentage_3d_avg"], rel=1e-12)
    assert 0 < out["glrlm_run_percentage_3d_mrg"] <= 1


def test_voxel_counts_per_slice_and_volume():
    mask = np.zeros((3, 2, 2), dtype=bool)
    mask[0] = True
    mask[2, 0, 0] = True
    np.testing.assert_array_equal(
        glrlm.voxel_counts(mask, n_directions=4, per_slice=True),
        np.repeat([[4.0], [0.0], [1.0]], 4, axis=1),
    )
    np.testing.assert_array_equal(
        glrlm.voxel_counts(mask, n_directions=13, per_slice=False), np.full((1, 13), 5.0)
    )


def test_single_voxel_roi_hand_values():
    levels = np.full((3, 3, 3), 2)
    mask = np.zeros(levels.shape, dtype=bool)
    mask[1, 1, 1] = True
    out = glrlm.compute(levels, mask, 3, aggregations=glrlm.DIRECTIONAL_AGGREGATIONS)
    n_merged = {
        "2d_avg": 1,
        "2d_smrg": 4,
        "2_5d_dmrg": 1,
        "2_5d_vmrg": 4,
        "3d_avg": 1,
        "3d_mrg": 13,
    }
    for agg in glrlm.DIRECTIONAL_AGGREGATIONS:
        got = {s.name: out[column_name(s, agg)] for s in glrlm.FEATURES}
        # One run of length 1 at grey level 2, from one voxel.
        assert got["glrlm_short_runs_emphasis"] == got["glrlm_long_runs_emphasis"] == 1.0
        assert got["glrlm_low_grey_level_run_emphasis"] == pytest.approx(1 / 4) and got["glrlm_high_grey_level_run_emphasis"] == 4.0
        assert got["glrlm_short_run_low_grey_level_emphasis"] == pytest.approx(1 / 4) and got["glrlm_long_run_high_grey_level_emphasis"] == 4.0
        assert got["glrlm_grey_level_non_uniformity_normalised"] == got["glrlm_run_length_non_uniformity_normalised"] == 1.0
        # Non-normalised non-uniformities equal N_s: the number of matrices merged.
        assert got["glrlm_grey_level_non_uniformity"] == got["glrlm_run_length_non_uniformity"] == n_merged[agg]
        assert got["glrlm_run_percentage"] == 1.0
        assert got["glrlm_grey_level_variance"] == got["glrlm_run_length_variance"] == got["glrlm_run_entropy"] == 0.0


# ------------------------------------------------------------------ registry contract
def test_feature_specs_match_ibsi_table(ibsi_reference):
    ids = table_ids(ibsi_reference, "rlm_")
    specs = glrlm.FEATURES
    assert len(specs) == 16 and len({s.name for s in specs}) == 16
    assert {s.ibsi_tag for s in specs} == set(ids)
    for s in specs:
        assert s.family == "glrlm" and s.name.startswith("glrlm_")
        assert s.ibsi_id == ids[s.ibsi_tag], s.name


def test_feature_functions_cite_their_ibsi_id():
    assert_feature_functions_cite_ids(glrlm._TABLE)


# ------------------------------------------------------------------ errors
def test_levels_outside_range():
    with pytest.raises(SettingsError, match=r"glrlm: grey levels inside the mask range from 1 to \d+; expected values in 1\.\.n_levels = 1\.\.2"):
        glrlm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 2)


def test_empty_mask():
    with pytest.raises(EmptyRoiError, match="glrlm: the intensity mask holds no voxel"):
        glrlm.compute(IBSI_EXAMPLE, np.zeros(IBSI_EXAMPLE.shape, dtype=bool), 4)


def test_zone_aggregation_rejected():
    with pytest.raises(SettingsError, match="zone families"):
        glrlm.compute(IBSI_EXAMPLE, IBSI_EXAMPLE > 0, 4, aggregations=[Aggregation.ZONE_3D])


@pytest.mark.parametrize(
    "directions", [np.array([[0, 0, 2]]), np.array([[0, 0, 0]]), np.array([0, 0, 1])]
)
def test_bad_directions(directions):
    with pytest.raises(SettingsError, match="directions"):
        glrlm.glrlm_matrices(
            IBSI_EXAMPLE, IBSI_EXAMPLE > 0, n_levels=4, directions=directions, per_slice=False
        )


def test_default_aggregations_follow_settings_default():
    from voxelomics.features._texture import directional_aggregations
    from voxelomics.settings import Settings

    default = inspect.signature(glrlm.compute).parameters["aggregations"].default
    assert list(default) == directional_aggregations(Settings().texture.dimensions)
