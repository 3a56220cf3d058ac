"""``voxelomics run`` on the small bundled study: outputs, skipping unchanged steps, agreement with metrics.json."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from voxelomics.cli import app
from voxelomics.report import figures as F
from voxelomics.study import run_study

STEPS = ["cohort", "extract", "qc", "external/cohort", "external/extract", "external/qc",
         "cv response · enet_lr", "fit response · enet_lr", "validate response · enet_lr",
         "cv survival · coxnet", "fit survival · coxnet", "validate survival · coxnet", "report"]


def test_one_command_gives_features_models_and_report(study_run):
    _, out = study_run
    features = pd.read_parquet(out / "extraction" / "features.parquet")
    assert len(features) == 8  # 10 rows, the two thin dcmqi segments fail
    errors = pd.read_csv(out / "extraction" / "errors.csv")
    assert sorted(errors["case_id"]) == ["99000_CT_GREEN", "99000_CT_ORANGE"]
    assert len(pd.read_csv(out / "cohort" / "manifest.csv")) == 10
    assert len(pd.read_csv(out / "qc" / "qc.csv")) == 10
    for outcome, model in (("response", "enet_lr"), ("survival", "coxnet")):
        folder = out / "models" / outcome / model
        for path in ("cv/metrics.json", "cv/oof_predictions.csv", "final/model.json",
                     "external/metrics.json", "external/predictions.csv", "study_model.json"):
            assert (folder / path).is_file(), path
    log = json.loads((out / "run_log.json").read_text())
    assert [s["step"] for s in log["steps"]] == STEPS
    assert all(s["last_run_seconds"] >= 0 and s["last_run"] for s in log["steps"])
    assert (out / "report.html").stat().st_size > 100_000
    study = json.loads((out / "study.json").read_text())
    assert study["name"] == "test study"


def test_figures_agree_with_metrics_json(study_run):
    """The ROC and Kaplan-Meier drawn from the predictions give the numbers of metrics.json."""
    _, out = study_run
    cv = out / "models" / "response" / "enet_lr" / "cv"
    metrics = json.loads((cv / "metrics.json").read_text())
    oof = pd.read_csv(cv / "oof_predictions.csv")
    y = (oof["observed"].astype(str) == metrics["classes"][1]).to_numpy(int)
    p = oof.filter(like="repeat_").to_numpy(float).T
    _, auc = F.roc_data(y, p, n_boot=20)
    assert auc == pytest.approx(metrics["auc"]["mean"], abs=1e-12)
    cv = out / "models" / "survival" / "coxnet" / "cv"
    metrics = json.loads((cv / "metrics.json").read_text())
    oof = pd.read_csv(cv / "oof_predictions.csv")
    risk = oof.filter(like="repeat_").to_numpy(float).T
    _, _, p_value = F.km_data(oof["observed_time"], oof["observed_event"], F.risk_groups(risk))
    assert p_value == pytest.approx(metrics["figures"]["logrank_p"], rel=1e-12)


def test_running_again_recomputes_nothing_and_says_so(study_copy):
    study, out = study_copy
    before = {p: p.stat().st_mtime_ns for p in (out / "extraction" / "features.parquet",
                                                out / "models" / "response" / "enet_lr" / "cv" / "metrics.json",
                                                out / "qc" / "qc.csv")}
    first = run_study(study, progress=False)
    # the copy lives in another folder, which the report names: only the report is drawn again
    assert {s.step: s.status for s in first.steps if s.status != "unchanged"} == {"report": "ran"}
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())
    res = CliRunner().invoke(app, ["run", str(study), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "nothing recomputed" in res.output
    log = json.loads((out / "run_log.json").read_text())
    assert [s["status"] for s in log["steps"]] == ["unchanged"] * len(STEPS)
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())


def test_changed_clinical_table_reruns_only_the_models(study_copy):
    study, out = study_copy
    clinical = study.parent / "clinical.csv"
    table = pd.read_csv(clinical)
    table.loc[table["case_id"] == "brain2_mr", "months"] = 36.0  # one follow-up corrected
    table.to_csv(clinical, index=False)
    res = run_study(study, progress=False)
    status = {s.step: s.status for s in res.steps}
    for step in ("cohort", "extract", "qc", "external/cohort", "external/extract", "external/qc"):
        assert status[step] == "unchanged", step
    for step in STEPS[6:]:
        assert status[step] == "ran", step
    oof = pd.read_csv(out / "models" / "survival" / "coxnet" / "cv" / "oof_predictions.csv")
    assert oof.loc[oof["id"] == "brain2_mr", "observed_time"].item() == 36.0


def test_force_runs_every_step(study_copy):
    study, out = study_copy
    res = run_study(study, progress=False, force=True)
    assert [s.status for s in res.steps] == ["ran"] * len(STEPS)
    assert np.isfinite(res.steps[1].seconds)
