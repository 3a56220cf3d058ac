"""IBSI-2 phase 2: the 323 reference values of the CT phantom's filtered images.

Every reference row with a value is a test id ``config-tag``: the full pipeline
(``extract_features`` with the preset ``ibsi2-<config>``: resampling, filtering, then
re-segmentation) must give a value within the reference's own tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

from voxelomics.compliance import within_tolerance
from voxelomics.compliance_ibsi2 import PHASE2_CONFIGS, phase2_features
from voxelomics.io.reference import read_ibsi2_phase2_reference

pytestmark = pytest.mark.ibsi

_REF = read_ibsi2_phase2_reference()
_ROWS = list(_REF[["filter_id", "tag", "value", "tolerance"]].itertuples(index=False, name=None))
_cache: dict[str, dict[str, float]] = {}


def _features(config: str) -> dict[str, float]:
    if config not in _cache:
        _cache[config] = phase2_features(config)
    return _cache[config]


@pytest.mark.parametrize("config, tag, value, tolerance", _ROWS, ids=[f"{c}-{t}" for c, t, _, _ in _ROWS])
def test_reference_value(config, tag, value, tolerance):
    feats = _features(config)
    assert tag in feats, f"{tag} not computed for configuration {config}"
    got = feats[tag]
    assert np.isfinite(got), f"{tag} is {got}"
    assert within_tolerance(got, value, tolerance), f"{config} {tag}: got {got:.6g}, expected {value} ± {tolerance}"


def test_reference_table_counts():
    """The bundled table is the full IBSI-2 phase-2 set: 18 configurations, 323 values."""
    assert len(_REF) == 323
    assert set(_REF["filter_id"]) == set(PHASE2_CONFIGS)
    counts = _REF.groupby("filter_id").size()
    assert counts.drop("8.B").eq(18).all() and counts["8.B"] == 17
