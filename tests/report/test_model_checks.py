"""The report's model checks: comparators, safeguard flags, permutation null, signature; wide tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from voxelomics.report import model_checks as MC
from voxelomics.report import model_figures as MF
from voxelomics.report.feature_section import clustermap_subset, image_type


def _metric(mean, lo, hi, **extra):
    return {"mean": mean, "ci95": [lo, hi], "per_repeat": [mean], "n_boot": 100, **extra}


@pytest.fixture
def cv_metrics():
    """A metrics.json of model cv in the issue-15 layout (values made up, not computed)."""
    return {
        "task": "classification", "model": "ensemble", "auc": _metric(0.80, 0.72, 0.87),
        "comparators": {
            "volume": {"description": "tumour volume alone", "inputs": ["morphology_volume"],
                       "auc": _metric(0.78, 0.70, 0.85),
                       "difference": {"auc": _metric(0.02, -0.03, 0.07, p_value=0.41),
                                      "brier": _metric(-0.004, -0.01, 0.003, p_value=0.3)},
                       "model_better": False},
            "batch": {"description": "batch label alone", "inputs": ["centre"], "auc": _metric(0.66, 0.58, 0.74),
                      "difference": {"auc": _metric(0.14, 0.05, 0.22, p_value=0.002)}, "model_better": True},
            "anova16_lr": {"error": "ComBat: batch label(s) ['x'] were not in the training data"},
        },
        "comparators_skipped": {"clinical": "no clinical table (--clinical)"},
        "selection_frequency": {"glcm_a": 1.0, "morph_b": 0.8, "stat_c": 0.2},
        "selection_stability": {"linear": {"nogueira": 0.61, "mean_size": 2.0, "frequency": {}}},
        "safeguards": {"volume_column": "morph_v", "batch_column": "centre", "signature_member": "linear",
                       "signature": ["glcm_a", "morph_b"],
                       "features": [{"feature": "glcm_a", "frequency": 1.0, "spearman_volume": 0.2,
                                     "eta_batch": 0.61, "volume_surrogate": False, "batch_surrogate": True},
                                    {"feature": "morph_b", "frequency": 0.8, "spearman_volume": -0.9,
                                     "eta_batch": 0.7, "volume_surrogate": True, "batch_surrogate": True}],
                       "thresholds": {"volume_rho": 0.7, "batch_eta": 0.5, "signature_frequency": 0.5}},
        "flags": {"does_not_beat_volume": True, "signature_mostly_volume": False,
                  "batch_predicts_outcome": True, "signature_mostly_batch": True},
        "permutation_test": {"p_value": 2 / 6, "n_permutations": 5, "observed_auc": 0.8,
                             "null_auc": [0.5, 0.81, 0.42, 0.55, 0.61]},
    }


def test_comparator_table_is_metrics_json_row_for_row(cv_metrics):
    t = MF.comparator_data(cv_metrics, "auc", cohort="internal (CV)")
    assert list(t["name"]) == ["ensemble", "volume", "batch", "anova16_lr"]
    assert t.loc[0, "role"] == "model" and t.loc[0, "mean"] == 0.80
    vol = t.set_index("name").loc["volume"]
    assert (vol["mean"], vol["ci_low"], vol["ci_high"]) == (0.78, 0.70, 0.85)
    assert (vol["difference"], vol["difference_ci_low"], vol["difference_ci_high"], vol["p_value"]) == \
        (0.02, -0.03, 0.07, 0.41)
    assert vol["brier_difference"] == -0.004 and vol["inputs"] == "morphology_volume"
    assert "not in the training data" in t.set_index("name").loc["anova16_lr", "error"]
    assert MF.comparator_data({"task": "classification", "auc": _metric(0.7, 0.6, 0.8)}, "auc",
                              cohort="x").empty  # a result written before comparators existed
    fig = MF.comparator_figure(t)
    assert len(fig.axes) == 2


def test_flag_states_say_what_was_checked(cv_metrics):
    assert MC.flag_state(cv_metrics, "does_not_beat_volume") == (
        "raised", "auc difference model − volume +0.020 (95% CI -0.030 to +0.070) (volume: morphology_volume)")
    assert MC.flag_state(cv_metrics, "signature_mostly_volume") == (
        "passed", "1 of 2 signature features associated with volume (|ρ| ≥ 0.7)")
    state, detail = MC.flag_state(cv_metrics, "batch_predicts_outcome")
    assert state == "raised" and "0.660 (95% CI 0.580 to 0.740)" in detail
    assert MC.flag_state(cv_metrics, "signature_mostly_batch")[0] == "raised"
    no_batch = {**cv_metrics, "flags": {**cv_metrics["flags"], "batch_predicts_outcome": None},
                "comparators": {"volume": cv_metrics["comparators"]["volume"]},
                "comparators_skipped": {"batch": "no batch column (--batch)"}}
    assert MC.flag_state(no_batch, "batch_predicts_outcome") == ("not checked", "no batch column (--batch)")
    external = {"task": "classification", "model_dir": "final", "flags": {"does_not_beat_volume": False,
                                                                          "signature_mostly_volume": None}}
    assert MC.flag_state(external, "signature_mostly_volume")[0] == "not recorded"  # a CV-only check
    assert MC.flag_state({"task": "classification"}, "does_not_beat_volume")[0] == "not recorded"


def test_permutation_null_recomputes_the_p_value(cv_metrics):
    t = MF.null_distribution_data(cv_metrics["permutation_test"])
    assert list(t["null_auc"]) == [0.42, 0.5, 0.55, 0.61, 0.81]
    assert t.attrs["p_value"] == pytest.approx(cv_metrics["permutation_test"]["p_value"])  # (1 + 1) / (1 + 5)
    MF.null_distribution_figure(t, t.attrs["p_value"])


def test_signature_table_joins_frequency_and_associations(cv_metrics):
    t = MF.signature_data(cv_metrics, extra_rho={"stat_c": 0.75}, final=["glcm_a", "never_in_a_fold"])
    assert list(t["feature"]) == ["glcm_a", "morph_b", "stat_c"]  # by frequency; final-only left out
    row = t.set_index("feature")
    assert row.loc["morph_b", "spearman_volume"] == -0.9 and row.loc["morph_b", "volume_surrogate"]
    assert row.loc["stat_c", "spearman_volume"] == 0.75 and row.loc["stat_c", "volume_surrogate"]
    assert row.loc["stat_c", "source"].startswith("report") and row.loc["glcm_a", "source"] == "metrics.json"
    assert np.isnan(row.loc["stat_c", "eta_batch"]) and row.loc["stat_c", "batch_surrogate"] is None
    assert list(row["in_signature"]) == [True, True, False] and row.loc["glcm_a", "in_final_model"]
    MF.signature_figure(t)
    shown = MC._readable(t).set_index("feature")  # the page's table: words, not True/None/nan
    assert list(shown.loc["morph_b"]) == ["80%", "yes", "no", "-0.90", "0.70", "yes", "yes"]
    assert list(shown.loc["stat_c"]) == ["20%", "no", "no", "+0.75", "—", "yes", "—"]


def test_image_type_and_a_capped_clustermap_subset_of_a_filtered_table():
    names = frozenset({"statistics_mean", "glcm_joint_max_3d_avg", "stat_mean"})
    assert image_type("statistics_mean", names) == "original"
    assert image_type("log_s1.5mm_statistics_mean", names) == "log_s1.5mm"
    assert image_type("wavelet_coif1_llh_glcm_joint_max_3d_avg", names) == "wavelet_coif1_llh"
    assert image_type("age", names) is None
    from voxelomics.features.registry import readable_to_ibsi

    feats = sorted(readable_to_ibsi())[:400]
    cols = feats[:5] + [f"log_s{s}mm_{f}" for s in (1, 2) for f in feats]
    chosen = clustermap_subset(cols, first=["log_s2mm_" + feats[-1], "not_a_column"], cap=9)
    assert chosen[0] == "log_s2mm_" + feats[-1] and len(chosen) == 9
    # then in turn: the original image first, then each response map, in table order
    assert chosen[1:4] == [feats[0], "log_s1mm_" + feats[0], "log_s2mm_" + feats[0]]
    assert chosen[4:7] == [feats[1], "log_s1mm_" + feats[1], "log_s2mm_" + feats[1]]
    assert clustermap_subset(cols[:3], first=[], cap=200) == cols[:3]


def test_flags_overview_lists_each_model_internal_and_external(cv_metrics):
    from voxelomics.report.results import ModelResults

    ext = {"task": "classification", "model_dir": "final", "auc": _metric(0.7, 0.6, 0.8),
           "flags": {"does_not_beat_volume": False, "signature_mostly_volume": None,
                     "batch_predicts_outcome": None, "signature_mostly_batch": None},
           "comparators_skipped": {"batch": "no batch column (--batch)"}}
    m = ModelResults(label="response · ensemble", folder=pd.__path__[0], cv=cv_metrics, external=ext)
    html = MC.flags_overview([m])
    assert html.count('<span class="flag err">⚠ yes') == 3 and html.count('<span class="ok">✓ no') == 2
    assert '<span class="note">not checked' in html
    assert 'href="#model-response_ensemble"' in html and "safeguard_flags.csv" in html
    panel = MC.flags_panel(m)
    assert "3 safeguard check(s) failed" in panel and "made in the cross-validation only" in panel
