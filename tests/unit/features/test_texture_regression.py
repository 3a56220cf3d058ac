"""Regression guard: the texture and first-order families give today's values.

``texture_regression_ct_phantom.json`` was generated from ``main`` at 374ab1a, before the
texture kernels were rewritten for speed (see ``texture_regression.py``). It is not a
reference (IBSI's are in ``tests/ibsi``): it pins the numbers so that a faster kernel is
shown to compute the same thing, every family and aggregation, on the IBSI-1 CT phantom at
two discretisations and on two response maps. Values must agree to 1e-12 relative (the
summation order may change); NaN must stay NaN.
"""

from __future__ import annotations

import json
import math

import pytest
from texture_regression import FIXTURE, all_values

REL = 1e-12


@pytest.fixture(scope="module")
def current():
    return all_values()


@pytest.fixture(scope="module")
def stored():
    return json.loads(FIXTURE.read_text())["values"]


@pytest.mark.parametrize("name", ["c_fbs25", "b_fbn32", "c_log2mm_fbn32", "c_coif1_hhl_fbn32"])
def test_same_values_as_before_the_kernels(name, current, stored):
    want, got = stored[name], current[name]
    assert list(got) == list(want), "feature names or their order changed"
    bad = []
    for key, ref in want.items():
        ref = float(ref)
        value = got[key]
        if math.isnan(ref):
            ok = math.isnan(value)
        else:
            ok = abs(value - ref) <= REL * max(abs(ref), 1e-300) or value == ref
        if not ok:
            bad.append(f"{key}: {value!r} (before: {ref!r}, rel {abs(value - ref) / max(abs(ref), 1e-300):.1e})")
    assert not bad, f"{len(bad)} of {len(want)} values moved:\n" + "\n".join(bad[:40])


def test_fixture_covers_every_family_and_aggregation(stored):
    from texture_regression import ALL_DIRECTIONAL, ALL_ZONE

    names = stored["c_fbs25"]
    for family, aggs in (("glcm", ALL_DIRECTIONAL), ("glrlm", ALL_DIRECTIONAL), ("glszm", ALL_ZONE),
                         ("gldzm", ALL_ZONE), ("ngtdm", ALL_ZONE), ("ngldm", ALL_ZONE)):
        for agg in aggs:
            assert any(k.startswith(f"{family}_") and k.endswith(f"_{agg}") for k in names), (family, agg)
    assert any(k.startswith("statistics_") for k in names)
    assert any(k.startswith("histogram_") for k in names)
