"""Shared test helpers: bundled data locations and the IBSI reference comparison.

Imported by name (``from testdata import ...``); kept out of ``conftest.py`` because several
test folders have a ``conftest.py`` and ``from testdata import`` would pick whichever was
imported first.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from voxelomics.compliance import within_tolerance

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
IBSI1 = DATA / "ibsi1"


def shared_data_dir() -> Path | None:
    """``../shared/data`` beside the checkout (present on developer machines and CI)."""
    env = os.environ.get("VOXELOMICS_SHARED_DATA")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if cand.is_dir():
            return cand
    return None


def assert_matches_reference(values: dict[str, float], reference: pd.DataFrame, config: str, tags) -> None:
    """Compare IBSI-tagged values with the reference table; report every mismatch at once."""
    ref = reference[reference["config"] == config].set_index("tag")
    bad = []
    for tag in tags:
        row = ref.loc[tag]
        got = values.get(tag)
        if got is None or not within_tolerance(got, row["value"], row["tolerance"]):
            bad.append(f"{tag}: got {got}, expected {row['value']} ± {row['tolerance']}")
    assert not bad, f"{len(bad)} of {len(list(tags))} {config} values outside tolerance:\n" + "\n".join(bad)
