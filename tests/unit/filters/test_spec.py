"""Filter specs: validation with hints, column prefixes, margins and the dispatcher."""

from __future__ import annotations

import numpy as np
import pytest

from voxelomics.errors import SettingsError
from voxelomics.filters import (
    apply_filter,
    iter_responses,
    laplacian_of_gaussian,
    parse_filter,
    parse_filters,
)
from voxelomics.filters.spec import FILTER_TYPES

IMG = np.random.default_rng(3).normal(size=(10, 24, 24))


@pytest.mark.parametrize(
    "spec, prefixes",
    [
        ({"type": "mean", "support_voxels": 5}, ["mean_5vox"]),
        ({"type": "log", "sigma_mm": 1.5}, ["log_s1.5mm"]),
        ({"type": "log", "sigma_mm": 2.0, "dimensions": "2d"}, ["log_s2mm_2d"]),
        ({"type": "laws", "kernel": "l5e5e5", "rotation_invariance": True, "energy_distance": 7},
         ["laws_l5e5e5_rimax_e7"]),
        ({"type": "gabor", "sigma_mm": 5, "lambda_mm": 2, "gamma": 1.5, "rotation_invariance": True,
          "theta_step_deg": 22.5, "dimensions": "2d"}, ["gabor_s5mm_l2mm_g1.5_ri22.5deg_2d"]),
        ({"type": "gabor", "sigma_mm": 5, "lambda_mm": 2, "theta_deg": 60}, ["gabor_s5mm_l2mm_g1_t60deg"]),
        ({"type": "wavelet", "wavelet": "Coif1", "subbands": "llh"}, ["wavelet_coif1_llh"]),
        ({"type": "wavelet", "wavelet": "db3", "subbands": ["HHH"], "level": 2, "rotation_invariance": True},
         ["wavelet_db3_hhh_lvl2_ri"]),
        ({"type": "simoncelli", "level": 2}, ["simoncelli_lvl2"]),
        ({"type": "riesz", "base": "log", "sigma_mm": 3, "order": [1, 0, 0]}, ["riesz100_log_s3mm"]),
        ({"type": "riesz", "base": "simoncelli", "order": [0, 2, 0]}, ["riesz020_simoncelli_lvl1"]),
        ({"type": "log", "sigma_mm": 1, "name": "my_log"}, ["my_log"]),
    ],
)
def test_prefixes_are_readable_and_stable(spec, prefixes):
    assert parse_filter(spec).prefixes() == prefixes


def test_all_wavelet_subbands_expand_in_a_fixed_order():
    spec = parse_filter({"type": "wavelet", "wavelet": "haar", "subbands": "all"})
    assert spec.prefixes() == [f"wavelet_haar_{b}" for b in ("lll", "hll", "lhl", "hhl", "llh", "hlh", "lhh", "hhh")]


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"type": "lgo", "sigma_mm": 1}, "did you mean 'log'"),
        ({"sigma_mm": 1}, "needs a 'type'"),
        ({"type": "log", "sigma": 1}, "did you mean 'sigma_mm'"),
        ({"type": "log", "sigma_mm": -1}, "sigma_mm"),
        ({"type": "log", "sigma_mm": 1, "padding": "reflect"}, "did you mean 'mirror'"),
        ({"type": "wavelet", "wavelet": "coif", "subbands": "all"}, "did you mean 'coif1'"),
        ({"type": "wavelet", "wavelet": "db2", "subbands": ["LLH", "LLH"]}, "distinct"),
        ({"type": "wavelet", "wavelet": "db2", "subbands": "LL"}, "3 letters"),
        ({"type": "laws", "kernel": "L5E5"}, "needs 3"),
        ({"type": "gabor", "sigma_mm": 5, "lambda_mm": 2, "rotation_invariance": True}, "theta_step_deg"),
        ({"type": "mean", "support_voxels": 4}, "odd"),
        ({"type": "riesz", "base": "log", "order": [1, 0, 0]}, "needs sigma_mm"),
        ({"type": "riesz", "base": "log", "sigma_mm": 1, "order": [0, 0, 0]}, "at least one positive"),
    ],
)
def test_invalid_specs_are_settings_errors_with_hints(spec, message):
    with pytest.raises(SettingsError, match=message):
        parse_filter(spec)


def test_every_type_is_listed_in_errors():
    with pytest.raises(SettingsError) as err:
        parse_filter({"type": "nope"})
    for kind in FILTER_TYPES:
        assert kind in str(err.value)


def test_duplicate_response_maps_are_refused():
    with pytest.raises(SettingsError, match=r"filters\[0\] and filters\[1\]"):
        parse_filters([{"type": "log", "sigma_mm": 1}, {"type": "log", "sigma_mm": 1.0, "padding": "nearest"}])
    ok = parse_filters([{"type": "log", "sigma_mm": 1}, {"type": "log", "sigma_mm": 1.0, "name": "log_edge"}])
    assert [s.prefixes()[0] for s in ok] == ["log_s1mm", "log_edge"]


def test_specs_are_frozen():
    spec = parse_filter({"type": "log", "sigma_mm": 1})
    with pytest.raises(Exception, match="frozen"):
        spec.sigma_mm = 2.0


def test_margin_is_the_kernel_reach_in_mm():
    spec = parse_filter({"type": "log", "sigma_mm": 2.0})
    assert spec.radius_voxels((2.0, 1.0, 1.0)) == (4, 8, 8)
    assert spec.margin_mm((2.0, 1.0, 1.0)) == 8.0
    flat = parse_filter({"type": "log", "sigma_mm": 2.0, "dimensions": "2d"})
    assert flat.radius_voxels((2.0, 1.0, 1.0)) == (0, 8, 8)


def test_apply_filter_dispatches_to_the_family_function():
    out = apply_filter(IMG, (2.0, 1.0, 1.0), {"type": "log", "sigma_mm": 1.0, "dimensions": "2d"})
    np.testing.assert_array_equal(out, laplacian_of_gaussian(IMG, (2.0, 1.0, 1.0), sigma_mm=1.0, dimensions="2d"))


def test_multi_band_specs_go_through_iter_responses():
    spec = {"type": "wavelet", "wavelet": "haar", "subbands": ["LLH", "HHH"]}
    with pytest.raises(SettingsError, match="iter_responses"):
        apply_filter(IMG, (1, 1, 1), spec)
    names = [name for name, _ in iter_responses(IMG, (1, 1, 1), spec)]
    assert names == ["wavelet_haar_llh", "wavelet_haar_hhh"]
