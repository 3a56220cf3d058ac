"""NaN/inf image values: refused inside the ROI, recorded next to it (never dropped silently)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from voxelomics.errors import InputError, NonFiniteWarning
from voxelomics.extract import extract_features
from voxelomics.volume import RoiMask, Volume


def _case(nan_at):
    rng = np.random.default_rng(3)
    img = rng.normal(40.0, 10.0, (12, 20, 20)).round()
    mask = np.zeros(img.shape, bool)
    mask[4:8, 6:14, 6:14] = True
    img[nan_at] = np.nan
    sp = (2.0, 1.0, 1.0)
    return (Volume(img, spacing_mm=sp, modality="CT", source="nan_image.nii.gz"),
            RoiMask(mask, spacing_mm=sp, source="mask.nii.gz"))


@pytest.mark.parametrize("settings", ["default", "ibsi-a"])  # with and without resampling
def test_nan_inside_the_roi_is_an_error_naming_the_file_and_count(settings):
    vol, roi = _case((5, slice(8, 10), 8))
    with pytest.raises(InputError, match=r"2 NaN or infinite value\(s\) inside the ROI") as exc:
        extract_features(vol, roi, settings=settings)
    assert "nan_image.nii.gz" in str(exc.value)


def test_nan_outside_the_roi_is_a_recorded_warning_and_features_are_unchanged():
    clean_vol, roi = _case((0, 0, 0))
    clean_vol = clean_vol.with_array(np.nan_to_num(clean_vol.array, nan=40.0))
    nan_vol = clean_vol.with_array(clean_vol.array.copy())
    nan_vol.array[0, 0, 0] = np.nan  # far from the ROI, inside the crop
    settings = {"resampling": {"spacing_mm": None}, "families": ["statistics", "glcm"],
                "discretisation": {"method": "fbn", "n_bins": 16}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = extract_features(nan_vol, roi, settings=settings)
    assert any(issubclass(w.category, NonFiniteWarning) for w in caught)
    ref = extract_features(clean_vol, roi, settings=settings)
    cols = [c for c in ref if c.startswith(("stat", "cm_", "glcm"))]
    assert cols and np.allclose([got[c] for c in cols], [ref[c] for c in cols])
