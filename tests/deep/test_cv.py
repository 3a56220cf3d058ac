"""Cross-validation: the folds, metrics and intervals of ``voxelomics model cv``, and comparators."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from voxelomics.deep.targets import cox_loss, make_target, task_metrics
from voxelomics.deep.workflow import run_cv
from voxelomics.errors import ModelError


@pytest.fixture(scope="module")
def cv_run(cohort_dir, tiny_settings, tmp_path_factory):
    out = tmp_path_factory.mktemp("cv")
    s = tiny_settings.replace(train__epochs=2)
    metrics = run_cv(cohort_dir / "manifest.csv", s, out, target="y", baselines=["size_mm"],
                     progress=False)
    return out, s, metrics


def test_cv_uses_the_outer_folds_of_model_cv_grouped_by_patient(cv_run, cohort_dir):
    from voxelomics.model.splits import outer_folds

    out, s, metrics = cv_run
    m = pd.read_csv(cohort_dir / "manifest.csv")
    folds = outer_folds(m["y"].to_numpy(), n_splits=s.n_splits, n_repeats=s.n_repeats,
                        random_state=s.random_state, groups=m["patient_id"].to_numpy())
    assert metrics["validation"]["groups"] == "patient_id" and metrics["validation"]["n_groups"] == 12
    for r, f, tr, te in folds:
        assert set(m["patient_id"][tr]).isdisjoint(m["patient_id"][te])
        fold = np.load(out / "folds" / f"r{r}f{f}.npz")
        # the network of fold f never saw a test case: it was fitted and stopped on training rows
        assert set(fold["fit"]) | set(fold["val"]) == set(tr)
        assert set(m["patient_id"][fold["fit"]]).isdisjoint(m["patient_id"][fold["val"]])


def test_cv_metrics_have_the_form_and_values_of_model_cv(cv_run, cohort_dir):
    from voxelomics.model.metrics import bootstrap_metrics

    out, s, metrics = cv_run
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["task"] == "classification" and saved["n_samples"] == 24
    for key in ("auc", "balanced_accuracy", "brier", "calibration_slope", "calibration_intercept"):
        assert set(saved[key]) >= {"mean", "ci95", "per_repeat"}
    oof = pd.read_csv(out / "oof_predictions.csv")
    assert list(oof.columns[:3]) == ["id", "roi", "observed"] and "repeat_0" in oof
    # the numbers are those of the model package's bootstrap on the out-of-fold predictions
    from voxelomics.deep.compare import with_groups

    y = (oof["observed"].astype(str) == "1").to_numpy().astype(int)
    groups = pd.read_csv(cohort_dir / "manifest.csv")["patient_id"].to_numpy()
    again = bootstrap_metrics(y, oof[["repeat_0"]].to_numpy().T, n_boot=s.n_boot, seed=s.random_state,
                              **with_groups(bootstrap_metrics, groups))
    assert saved["auc"]["mean"] == pytest.approx(again["auc"]["mean"])
    assert saved["auc"]["ci95"] == pytest.approx(again["auc"]["ci95"])
    # the tiny synthetic cohort is easy (the calibrated folds pool to AUC 1.0), so the
    # interval may be degenerate; it must hold the estimate
    assert saved["auc"]["ci95"][0] <= saved["auc"]["mean"] <= saved["auc"]["ci95"][1]
    for fig in ("roc", "calibration", "roc_comparison", "training_curves"):
        assert (out / f"{fig}.png").is_file()


def test_baseline_and_paired_difference_on_the_same_folds(cv_run):
    out, _, metrics = cv_run
    assert "baseline:size_mm" in metrics["comparison"]
    d = metrics["paired_differences"]["deep - baseline:size_mm"]["auc"]
    a = metrics["auc"]["per_repeat"][0] - metrics["comparison"]["baseline:size_mm"]["auc"]["per_repeat"][0]
    assert d["mean"] == pytest.approx(a)
    assert d["ci95"][0] <= d["mean"] <= d["ci95"][1]
    long = pd.read_csv(out / "comparison_oof.csv")
    assert set(long["model"]) == {"deep", "baseline:size_mm"}


def test_cv_resumes_from_finished_folds(cv_run, cohort_dir, tmp_path):
    import shutil

    out, s, metrics = cv_run
    again = run_cv(cohort_dir / "manifest.csv", s, out, target="y", baselines=["size_mm"],
                   progress=False, plots=False)
    assert all(f["reused"] for f in again["folds"])
    assert again["auc"] == metrics["auc"]
    # one more repeat: the folds of repeat 0 do not depend on the number of repeats
    shutil.copytree(out / "folds", tmp_path / "folds")
    more = run_cv(cohort_dir / "manifest.csv", s.replace(n_repeats=2), tmp_path, target="y",
                  progress=False, plots=False)
    assert [f["reused"] for f in more["folds"]] == [True] * 3 + [False] * 3
    assert more["auc"]["per_repeat"][0] == metrics["auc"]["per_repeat"][0]


def test_cv_with_radiomics_gives_radiomic_and_fused_models(cohort_dir, tiny_settings, tmp_path):
    """A stand-in radiomic table (size and intensity columns) joined on case_id, roi."""
    m = pd.read_csv(cohort_dir / "manifest.csv")
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"case_id": m["case_id"], "roi": "1",
                          "morphology_volume": (m["size_mm"] / 2) ** 3 * 4.19,
                          "statistics_mean": np.where(m["y"] == 1, 60.0, -250.0) + rng.normal(0, 80, len(m)),
                          "noise": rng.normal(size=len(m))})
    table.to_csv(tmp_path / "radiomics.csv", index=False)
    s = tiny_settings.replace(train__epochs=2, n_splits=3)
    metrics = run_cv(cohort_dir / "manifest.csv", s, tmp_path / "out", target="y",
                     radiomics=tmp_path / "radiomics.csv", baselines=["morphology_volume"],
                     progress=False, plots=False)
    assert {"deep", "radiomics", "fused", "baseline:morphology_volume"} <= set(metrics["comparison"])
    assert {"fused - radiomics", "fused - baseline:morphology_volume",
            "radiomics - baseline:morphology_volume"} <= set(metrics["paired_differences"])
    assert all("fusion_weights" in f for f in metrics["folds"])


def test_radiomic_table_missing_cases_is_an_error(cohort_dir, tiny_settings, tmp_path):
    m = pd.read_csv(cohort_dir / "manifest.csv")
    pd.DataFrame({"case_id": m["case_id"][:-2], "f": 1.0}).to_csv(tmp_path / "r.csv", index=False)
    with pytest.raises(ModelError, match="2 case\\(s\\).*no row in the radiomic table.*'c22 \\(roi 1\\)'"):
        run_cv(cohort_dir / "manifest.csv", tiny_settings, tmp_path / "o", target="y",
               radiomics=tmp_path / "r.csv", progress=False)


def test_one_class_target_is_a_clear_error(cohort_dir, tiny_settings, tmp_path):
    m = pd.read_csv(cohort_dir / "manifest.csv")
    m["image"] = [str(cohort_dir / p) for p in m["image"]]
    m["mask"] = [str(cohort_dir / p) for p in m["mask"]]
    m["same"] = 1
    m.to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(ModelError, match="target column 'same' holds one class only"):
        run_cv(tmp_path / "m.csv", tiny_settings, tmp_path / "o", target="same", progress=False)
    with pytest.raises(ModelError, match="'malignant' is not in the manifest"):
        run_cv(tmp_path / "m.csv", tiny_settings, tmp_path / "o", target="malignant", progress=False)


def test_unreadable_case_stops_cv_naming_it_and_lists_it(cohort_dir, tiny_settings, tmp_path):
    from voxelomics.errors import InputError

    m = pd.read_csv(cohort_dir / "manifest.csv")
    m["image"] = [str(cohort_dir / p) for p in m["image"]]
    m["mask"] = [str(cohort_dir / p) for p in m["mask"]]
    m.loc[3, "image"] = str(tmp_path / "gone.nii.gz")
    m.to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(InputError, match="case 'c03'.*gone.nii.gz"):
        run_cv(tmp_path / "m.csv", tiny_settings, tmp_path / "o", target="y", progress=False)
    assert pd.read_csv(tmp_path / "o" / "errors.csv")["case_id"].tolist() == ["c03"]


def test_target_encoding_and_errors():
    t = make_target(["Benign", "Malign", "Benign", "Malign"], columns={"target": "diagnosis"})
    assert t.task == "classification" and t.classes == ["Benign", "Malign"] and t.y.tolist() == [0, 1, 0, 1]
    assert make_target([1, 2, 3, 1, 2, 3]).task == "multiclass"
    assert make_target([0.5, 1.2, 3.3, 2.0]).task == "regression"
    with pytest.raises(ModelError, match="missing for 1 case\\(s\\): 'b'"):
        make_target([1, None, 0], names=["a", "b", "c"], columns={"target": "y"})
    with pytest.raises(ModelError, match="fewer than 2 cases"):
        make_target([0, 0, 1, 2, 2], task="multiclass")
    with pytest.raises(ModelError, match="no event"):
        make_target(time=[1, 2], event=[0, 0])


def test_cox_loss_matches_the_breslow_partial_likelihood():
    """Against a direct sum over risk sets (Breslow ties), written independently."""
    import torch

    rng = np.random.default_rng(0)
    r = rng.normal(size=12)
    t = rng.choice([1.0, 2.0, 3.0, 4.0], size=12)  # many ties
    e = (rng.uniform(size=12) < 0.7).astype(float)
    expected = 0.0
    for i in range(12):
        if e[i]:
            expected += np.log(np.exp(r[t >= t[i]]).sum()) - r[i]
    expected /= e.sum()
    got = cox_loss(torch.tensor(r), torch.tensor(t), torch.tensor(e))
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_multiclass_and_regression_metrics_agree_with_scikit_learn():
    from sklearn.metrics import mean_absolute_error, r2_score, roc_auc_score

    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 60)
    p = rng.dirichlet([1, 1, 1], size=60)
    p[np.arange(60), y] += 0.5
    p /= p.sum(1, keepdims=True)
    m = task_metrics(make_target(list(y), task="multiclass"), p[None], n_boot=50)
    assert m["macro_auc"]["mean"] == pytest.approx(roc_auc_score(y, p, multi_class="ovr", average="macro"))
    v = rng.normal(size=60)
    pred = v + rng.normal(0, 0.5, 60)
    m = task_metrics(make_target(list(v), task="regression"), pred[None], n_boot=50)
    assert m["r2"]["mean"] == pytest.approx(r2_score(v, pred))
    assert m["mae"]["mean"] == pytest.approx(mean_absolute_error(v, pred))
    assert m["r2"]["ci95"][0] < m["r2"]["mean"] < m["r2"]["ci95"][1]
