"""Shared fixtures: bundled IBSI data, reference table, and the shared-data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from testdata import IBSI1, assert_matches_reference, shared_data_dir  # noqa: F401


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
