"""Shared fixtures: bundled IBSI data, reference table, and the shared-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

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


@pytest.fixture(scope="session")
def shared_data() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("../shared/data is not available")
    return d


@pytest.fixture(scope="session")
def ibsi_reference() -> pd.DataFrame:
    """IBSI-1 reference table (rows with a value only)."""
    ref = pd.read_csv(IBSI1 / "ibsi1_reference_values.csv")
    return ref[ref["has_reference"]].reset_index(drop=True)


@pytest.fixture(scope="session")
def digital_phantom():
    """IBSI-1 digital phantom as (image (z, y, x) float, mask (z, y, x) bool, spacing_mm (z, y, x))."""
    import SimpleITK as sitk

    img = sitk.ReadImage(str(IBSI1 / "digital_phantom/image/phantom.nii.gz"))
    msk = sitk.ReadImage(str(IBSI1 / "digital_phantom/mask/mask.nii.gz"))
    image = sitk.GetArrayFromImage(img).astype(np.float64)
    mask = sitk.GetArrayFromImage(msk) > 0
    spacing = tuple(img.GetSpacing())[::-1]
    return image, mask, spacing


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
