"""IBSI-1 reference values, one test per (configuration, tag), read from the bundled table.

Every reference row with a value is a test id ``config-tag``; the value computed by the
full pipeline (``extract_features`` with the configuration's preset) must lie within the
IBSI tolerance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from voxelomics.compliance import config_features, within_tolerance
from voxelomics.io.reference import ibsi1_dir

pytestmark = pytest.mark.ibsi

_REF = pd.read_csv(ibsi1_dir() / "ibsi1_reference_values.csv")
_REF = _REF[_REF["has_reference"]]
_ROWS = list(_REF[["config", "tag", "value", "tolerance"]].itertuples(index=False, name=None))

_cache: dict[str, dict[str, float]] = {}


def _features(config: str) -> dict[str, float]:
    if config not in _cache:
        _cache[config] = config_features(config)
    return _cache[config]


@pytest.mark.parametrize(
    "config, tag, value, tolerance", _ROWS, ids=[f"{c}-{t}" for c, t, _, _ in _ROWS]
)
def test_reference_value(config, tag, value, tolerance):
    feats = _features(config)
    assert tag in feats, f"{tag} not computed for configuration {config}"
    got = feats[tag]
    assert np.isfinite(got), f"{tag} is {got}"
    assert within_tolerance(got, value, tolerance), (
        f"{config} {tag}: got {got:.6g}, expected {value} ± {tolerance}"
    )


def test_reference_table_counts():
    """The bundled table is the full IBSI-1 set: 1,803 values with a reference."""
    counts = _REF.groupby("config").size().to_dict()
    assert counts == {"dig": 482, "A": 346, "B": 346, "C": 209, "D": 210, "E": 210}
