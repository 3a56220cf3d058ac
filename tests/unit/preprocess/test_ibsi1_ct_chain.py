"""IBSI-1 CT phantom, configurations A–E: preprocessing diagnostics and whole-ROI features.

The chain is the order of ``extract.py``: round the input, crop with a margin, resample
(rounding intensities), morphological mask = resampled mask, intensity mask =
re-segmented mask; statistics on the intensity mask, discretisation for the intensity
histogram, and the IVH with its own discretisation. Settings come from the presets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from testdata import IBSI1, assert_matches_reference
from voxelomics.features import histogram, ivh, statistics
from voxelomics.preprocess import crop_to_roi, discretise, resample, resegment
from voxelomics.settings import PRESETS
from voxelomics.volume import from_sitk, mask_from_sitk

pytestmark = pytest.mark.ibsi

CONFIGS = ["A", "B", "C", "D", "E"]
_TAG = {s.name: s.ibsi_tag for fam in (statistics, histogram, ivh) for s in fam.FEATURES}


@pytest.fixture(scope="module")
def ct_phantom():
    import SimpleITK as sitk

    img = sitk.ReadImage(str(IBSI1 / "ct_phantom/nifti/image/phantom.nii.gz"), sitk.sitkFloat32)
    msk = sitk.ReadImage(str(IBSI1 / "ct_phantom/nifti/mask/mask.nii.gz"))
    vol = from_sitk(img)
    return vol, mask_from_sitk(msk, array=sitk.GetArrayFromImage(msk) > 0)


def _fbs_lower_bound(disc, reseg):
    if disc.method != "fbs":
        return None
    return disc.lower_bound if disc.lower_bound is not None else reseg.range_min


def _run_chain(vol, msk, config: str):
    """Preprocess one configuration; return (image, morph mask, intensity mask, features)."""
    s = PRESETS[f"ibsi-{config.lower()}"]
    if s.round_input:
        vol = vol.with_array(np.round(vol.array.astype(np.float64)))
    rs = s.resampling
    margin = s.crop_margin_mm
    if rs.spacing_mm is not None:  # B-spline support: keep >= 10 original voxels (see resample docs)
        margin = max(margin, 10 * max(vol.spacing_mm))
    vol, msk = crop_to_roi(vol, msk, margin_mm=margin)
    if rs.spacing_mm is not None:
        vol, msk = resample(
            vol, msk, spacing_mm=rs.spacing_mm, interpolator=rs.interpolator,
            mask_interpolator=rs.mask_interpolator, mask_threshold=rs.mask_threshold,
            round_intensities=rs.round_intensities,
        )
    rg = s.resegmentation
    image, morph = vol.array, msk.array
    inten = resegment(image, morph, range_min=rg.range_min, range_max=rg.range_max,
                      outlier_sigma=rg.outlier_sigma)
    values = image[inten]
    d = s.discretisation
    levels, n_g = discretise(image, inten, method=d.method, n_bins=d.n_bins, bin_width=d.bin_width,
                             lower_bound=_fbs_lower_bound(d, rg))
    dv = s.ivh_discretisation
    feats = {
        **statistics.compute(values),
        **histogram.compute(levels[inten], n_g),
        **ivh.compute(values, method=dv.method, n_bins=dv.n_bins, bin_width=dv.bin_width,
                      lower_bound=_fbs_lower_bound(dv, rg), range_min=rg.range_min, range_max=rg.range_max),
    }
    return image, morph, inten, feats


def _as_reported(values: dict[str, float], reference: pd.DataFrame, config: str) -> dict[str, float]:
    """Round values whose reference tolerance is 0 to 3 significant digits.

    Those rows (e.g. A ``ih_qcod`` = 0.0455 for 1/22) are exact values printed to the
    manual's precision of 3 significant digits; comparing them needs the same rounding.
    Rows with a tolerance are compared unrounded.
    """
    ref = reference[reference["config"] == config].set_index("tag")["tolerance"]
    return {
        k: float(f"{v:.3g}") if k in ref.index and ref[k] == 0 and np.isfinite(v) else v
        for k, v in values.items()
    }


_cache: dict = {}


@pytest.fixture(scope="module")
def chain(ct_phantom):
    def get(config):
        if config not in _cache:
            _cache[config] = _run_chain(*ct_phantom, config)
        return _cache[config]
    return get


@pytest.fixture(scope="module")
def diagnostics():
    return pd.read_csv(IBSI1 / "ibsi1_diagnostic_reference_values.csv").set_index(["config", "tag"])


@pytest.mark.parametrize("config", CONFIGS)
def test_diagnostic_voxel_counts_and_roi_intensities(chain, diagnostics, config):
    image, morph, inten, _ = chain(config)
    d = diagnostics.loc[config]
    x = image[inten]
    got = {
        "morph_mask_vox_count_interp_roi": morph.sum(),
        "int_mask_vox_count_interp_roi": morph.sum(),
        "int_mask_mean_int_interp_roi": image[morph].mean(),
        "morph_mask_vox_count_reseg_roi": morph.sum(),
        "int_mask_vox_count_reseg_roi": inten.sum(),
        "int_mask_mean_int_reseg_roi": x.mean(),
        "int_mask_min_int_reseg_roi": x.min(),
        "int_mask_max_int_reseg_roi": x.max(),
    }
    bad = [f"{t}: got {v}, expected {d.loc[t, 'value']} ± {d.loc[t, 'tolerance']}"
           for t, v in got.items() if abs(v - d.loc[t, "value"]) > d.loc[t, "tolerance"]]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("config", CONFIGS)
def test_whole_roi_features_match_ibsi(chain, ibsi_reference, config):
    feats = chain(config)[3]
    values = _as_reported({_TAG[k]: v for k, v in feats.items()}, ibsi_reference, config)
    ref = ibsi_reference[ibsi_reference["config"] == config]
    tags = [t for t in ref["tag"] if t.split("_")[0] in ("stat", "ih", "ivh")]
    assert len(tags) == 18 + 23 + 6
    assert_matches_reference(values, ibsi_reference, config, tags)
