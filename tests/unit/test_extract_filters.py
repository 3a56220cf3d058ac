"""Filters in the extraction pipeline: order, names, one row per case, margins, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from voxelomics import extract_features
from voxelomics.errors import FilterError, SettingsError
from voxelomics.extract import preprocess_case
from voxelomics.extract.case import crop_margin_mm
from voxelomics.extract.families import FILTER_DTYPE, compute_features, response_settings
from voxelomics.features import statistics
from voxelomics.filters import apply_filter
from voxelomics.io import read_image, read_mask
from voxelomics.io.reference import bundled_data_dir, ibsi1_dir
from voxelomics.settings import Settings
from voxelomics.volume import RoiMask, Volume

CT = ibsi1_dir() / "ct_phantom" / "nifti"
IMAGE, MASK = CT / "image" / "phantom.nii.gz", CT / "mask" / "mask.nii.gz"
LIGHT = {"families": ["statistics"], "response_maps": {"families": ["statistics", "histogram", "glcm"]}}


def _settings(filters, **extra):
    return Settings.from_dict({"preset": "ibsi-c", **LIGHT, "filters": filters, **extra})


def test_filtered_features_are_prefixed_after_the_image_features():
    s = _settings([{"type": "log", "sigma_mm": 1.5}, {"type": "wavelet", "wavelet": "coif1", "subbands": ["LLH", "HHH"]}])
    feats = extract_features(IMAGE, MASK, s)
    names = list(feats)
    assert names[0] == "statistics_mean"
    first = names.index("log_s1.5mm_statistics_mean")
    assert all(not n.startswith(("log_", "wavelet_")) for n in names[:first])
    for prefix in ("log_s1.5mm", "wavelet_coif1_llh", "wavelet_coif1_hhh"):
        assert f"{prefix}_statistics_mean" in feats
        assert f"{prefix}_glcm_joint_max_3d_avg" in feats
        assert f"{prefix}_histogram_mean" in feats
    assert not any(n.startswith("log_s1.5mm_morphology") for n in names)
    ibsi = extract_features(IMAGE, MASK, s, naming="ibsi")
    assert "log_s1.5mm_stat_mean" in ibsi and "wavelet_coif1_llh_cm_joint_max_3D_avg" in ibsi
    assert ibsi["log_s1.5mm_stat_mean"] == feats["log_s1.5mm_statistics_mean"]


def test_filter_runs_after_resampling_and_before_resegmentation():
    """The response statistics equal filtering the resampled crop, then masking with the
    intensity mask re-segmented on the image (IBSI-2 order), computed here step by step."""
    s = _settings([{"type": "mean", "support_voxels": 3}]).for_modality("CT")
    vol = read_image(IMAGE)
    pre = preprocess_case(vol, read_mask(MASK, reference=vol), s)
    response = apply_filter(pre.image.astype(FILTER_DTYPE), pre.spacing_mm, {"type": "mean", "support_voxels": 3})
    expected = statistics.compute(response.astype(np.float64)[pre.intensity_mask])
    feats = extract_features(IMAGE, MASK, s)
    for k, v in expected.items():
        assert feats[f"mean_3vox_{k}"] == pytest.approx(v, rel=1e-12)
    # the response map is not re-segmented on its own values (which lie outside [-1000, 400])
    assert feats["mean_3vox_statistics_minimum"] < 400


def test_response_maps_use_their_own_discretisation():
    s = _settings([]).for_modality("CT")
    per = response_settings(s)
    assert s.discretisation.method == "fbs" and per.discretisation.method == "fbn"
    assert per.discretisation.n_bins == 32 and per.resegmentation.range_min is None
    assert per.families == ["statistics", "histogram", "glcm"] and per.filters == []


def test_crop_margin_covers_the_largest_filter_and_interpolation():
    base = Settings.from_dict({"preset": "ibsi-c"})
    spacing = (3.0, 0.98, 0.98)
    plain = crop_margin_mm(base, spacing)
    with_log = crop_margin_mm(Settings.from_dict({"preset": "ibsi-c", "filters": [{"type": "log", "sigma_mm": 5}]}),
                              spacing)
    # LoG 5 mm on the 2 mm grid: floor(4 * 2.5 + 0.5) = 10 voxels = 20 mm, + 2 original voxels + 1 new voxel
    assert with_log == pytest.approx(max(plain, 20 + 2 * 3.0 + 2.0))


def test_cropping_with_the_margin_gives_the_whole_image_result():
    """Filtering the crop equals filtering the whole (resampled) image inside the ROI."""
    vol = read_image(IMAGE)
    roi = read_mask(MASK, reference=vol)
    spec = {"type": "log", "sigma_mm": 3.0, "dimensions": "2d"}
    s = Settings.from_dict({"preset": "ibsi-2a".replace("ibsi-2a", "ibsi2-1a"), "filters": [spec]})
    crop = preprocess_case(vol, roi, s)
    whole = preprocess_case(vol, roi, s.model_copy(update={"crop_margin_mm": 1000.0}))
    got = apply_filter(crop.image, crop.spacing_mm, spec)[crop.intensity_mask]
    ref = apply_filter(whole.image, whole.spacing_mm, spec)[whole.intensity_mask]
    np.testing.assert_allclose(np.sort(got), np.sort(ref), atol=1e-9)


def test_one_row_per_case_with_provenance_of_the_response_maps(tmp_path):
    from voxelomics.extract import extract_case
    from voxelomics.io.manifest import Case

    s = _settings([{"type": "log", "sigma_mm": 2.0}])
    row = extract_case(Case(case_id="ct", image=str(IMAGE), mask=str(MASK), label=None, roi=None, modality=None,
                            extra={}), s)
    assert row["image_type"] == "original+filtered"
    assert json.loads(row["provenance"])["response_maps"] == ["log_s2mm"]
    assert "log_s2mm_statistics_mean" in row


@pytest.mark.parametrize(
    "image, mask",
    [
        ("cases/sts_001_ct_image.nii.gz", "cases/sts_001_ct_mask.nii.gz"),
        ("cases/sts_001_pet_suv_image.nii.gz", "cases/sts_001_pet_suv_mask.nii.gz"),
        ("cases/brain2_image.nrrd", "cases/brain2_label.nrrd"),
    ],
)
def test_bundled_ct_pet_and_mr_cases_extract_with_filters(image, mask):
    data = bundled_data_dir()
    s = Settings.from_dict({"families": ["statistics"], "filters": [
        {"type": "log", "sigma_mm": 2.0}, {"type": "wavelet", "wavelet": "db1", "subbands": ["HHH"]}]})
    feats = extract_features(data / image, data / mask, s)
    assert np.isfinite(feats["log_s2mm_statistics_variance"]) and feats["log_s2mm_statistics_variance"] > 0
    assert np.isfinite(feats["wavelet_db1_hhh_statistics_mean"])


def test_dicom_rtstruct_case_extracts_with_filters():
    dicom = ibsi1_dir() / "ct_phantom" / "dicom"
    s = _settings([{"type": "laws", "kernel": "L5E5E5", "energy_distance": 2}])
    feats = extract_features(dicom / "image", dicom / "mask" / "DCM_RS_00060.dcm", s)
    assert feats["laws_l5e5e5_e2_statistics_mean"] > 0


def test_kernel_larger_than_the_image_is_a_case_error_naming_the_filter():
    img = np.zeros((4, 12, 12))
    img[1:3, 4:8, 4:8] = 100.0
    mask = np.zeros(img.shape, bool)
    mask[1:3, 4:8, 4:8] = True
    vol = Volume(img, (2.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    roi = RoiMask(mask, (2.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    s = Settings.from_dict({"preset": "ibsi-digital", "families": ["statistics"],
                            "filters": [{"type": "log", "sigma_mm": 3.0}]})
    with pytest.raises(FilterError, match="larger than the image") as err:
        extract_features(vol, roi, s, case_id="tiny")
    assert err.value.case_id == "tiny" and err.value.step == "filter:log_s3mm"
    flat = Settings.from_dict({"preset": "ibsi-digital", "families": ["statistics"],
                               "filters": [{"type": "log", "sigma_mm": 1.0, "dimensions": "2d"}]})
    assert "log_s1mm_2d_statistics_mean" in extract_features(vol, roi, flat)


def test_3d_filter_on_a_one_slice_volume_is_a_case_error():
    img = np.random.default_rng(0).normal(size=(1, 20, 20))
    mask = np.zeros(img.shape, bool)
    mask[0, 5:15, 5:15] = True
    vol, roi = Volume(img, (1.0, 1.0, 1.0), (0, 0, 0)), RoiMask(mask, (1.0, 1.0, 1.0), (0, 0, 0))
    s = Settings.from_dict({"preset": "ibsi-digital", "families": ["statistics"],
                            "filters": [{"type": "mean", "support_voxels": 3}]})
    with pytest.raises(FilterError, match="dimensions '2d'"):
        extract_features(vol, roi, s)


def test_unknown_wavelet_and_family_are_settings_errors():
    with pytest.raises(SettingsError, match="did you mean 'db3'"):
        Settings.from_dict({"filters": [{"type": "wavelet", "wavelet": "db3x", "subbands": "all"}]})
    with pytest.raises(SettingsError, match="did you mean 'glcm'"):
        Settings.from_dict({"response_maps": {"families": ["glmc"]}})
    with pytest.raises(SettingsError, match="morphology"):
        Settings.from_dict({"response_maps": {"families": ["morphology"]}})


def test_without_filters_the_row_is_unchanged():
    s = Settings.from_dict({"preset": "ibsi-c", "families": ["statistics", "glcm"]})
    assert s.filters == []
    vol = read_image(IMAGE)
    pre = preprocess_case(vol, read_mask(MASK, reference=vol), s.for_modality("CT"))
    assert extract_features(IMAGE, MASK, s) == compute_features(pre, s.for_modality("CT"))


def test_documented_yaml_examples_are_valid_settings():
    """The YAML blocks of docs/filters.md (the PyRadiomics-like example included) validate."""
    import re

    text = (bundled_data_dir().parent / "docs" / "filters.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert len(blocks) >= 2
    for block in blocks:
        s = Settings.from_yaml(block)
        assert s.filters
    pyrad = Settings.from_yaml(blocks[1])
    prefixes = [p for f in pyrad.filters for p in f.prefixes()]
    assert prefixes[:5] == [f"log_s{s}mm" for s in (1, 2, 3, 4, 5)] and len(prefixes) == 13


@pytest.mark.parametrize("spec, prefix", [
    ({"type": "log", "sigma_mm": 2.0}, "log_s2mm"),
    ({"type": "gabor", "sigma_mm": 3.0, "lambda_mm": 4.0, "gamma": 1.5, "dimensions": "2d"}, "gabor_s3mm_l4mm_g1.5_t0deg_2d"),
])
def test_response_families_on_the_roi_box_equal_the_whole_crop(spec, prefix):
    """Maps are cut to the ROI box (+ the local-intensity sphere) before their families, and
    a 2D filter only filters the box's slices: every family gives the values it gives on
    the whole preprocessed crop."""
    from voxelomics.extract.families import compute_response_features

    fams = ["local_intensity", "statistics", "histogram", "glcm", "glrlm", "glszm", "gldzm", "ngtdm", "ngldm"]
    s = _settings([spec], response_maps={"families": fams}).for_modality("CT")
    vol = read_image(IMAGE)
    pre = preprocess_case(vol, read_mask(MASK, reference=vol), s)
    ((got_prefix, got),) = list(compute_response_features(pre, s, n_threads=1))
    response = apply_filter(pre.image.astype(FILTER_DTYPE), pre.spacing_mm, s.filters[0]).astype(np.float64)
    expected = compute_features(pre.with_image(response), response_settings(s), n_threads=1)
    assert got_prefix == prefix and list(got) == list(expected)
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, rel=1e-12, nan_ok=True), k


def test_response_maps_in_threads_give_the_serial_values_in_order():
    """The phantom's ROI (46k voxels) takes the threaded path: same names, same values."""
    s = _settings([{"type": "log", "sigma_mm": 1.0}, {"type": "wavelet", "wavelet": "haar", "subbands": "all"}])
    serial = extract_features(IMAGE, MASK, s, n_threads=1)
    threaded = extract_features(IMAGE, MASK, s, n_threads=2)
    assert list(serial) == list(threaded)
    assert all(serial[k] == threaded[k] or (np.isnan(serial[k]) and np.isnan(threaded[k])) for k in serial)
