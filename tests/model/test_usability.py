"""Issue 10 item 11: what a user sees from the model commands."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from voxelomics.model.cli import model_app

FAST = ["--folds", "3", "--repeats", "1", "--inner-folds", "3", "--no-plots"]


def _run(*args):
    return CliRunner().invoke(model_app, [str(a) for a in args])


def _table(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
    df["y"] = (X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)
    return df


def test_all_constant_features_are_a_one_line_error(tmp_path):
    df = _table()
    df[[f"f{i}" for i in range(8)]] = 3.0
    df.to_csv(tmp_path / "t.csv", index=False)
    for cmd in ("cv", "fit"):
        res = _run(cmd, tmp_path / "t.csv", "--target", "y", "--out", tmp_path / cmd)
        assert res.exit_code == 2, res.output
        assert "all 8 feature column(s) are constant" in res.output
        assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1


def test_fit_prints_the_chosen_model_and_its_inner_cv_score(tmp_path):
    _table(n=80).to_csv(tmp_path / "t.csv", index=False)
    res = _run("fit", tmp_path / "t.csv", "--target", "y", "--out", tmp_path / "m",
               "--inner-folds", "3")
    assert res.exit_code == 0, res.output
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert "superlearner: " in res.output and " x L2 logistic regression (top" in res.output
    assert f"C={meta['best_params']['C']:g}" in res.output
    assert "inner-CV auc of the chosen model: " in res.output
    assert set(meta["inner_cv_scores"]) == {"linear", "forest", "extra_trees", "ensemble"}
    assert 0.5 < meta["inner_cv_score"] <= 1
    res = _run("fit", tmp_path / "t.csv", "--target", "y", "--model", "enet_lr",
               "--out", tmp_path / "m2", "--inner-folds", "3")
    assert "enet_lr (" in res.output and "select__k=" in res.output


def test_external_validation_figures_are_titled_as_such(tmp_path, monkeypatch):
    from voxelomics.model import plots

    titles = []
    real_roc, real_cal = plots.plot_roc, plots.plot_calibration

    def roc(*a, **kw):
        titles.append(kw.get("title"))
        return real_roc(*a, **kw)

    def cal(*a, **kw):
        titles.append(kw.get("title"))
        return real_cal(*a, **kw)

    monkeypatch.setattr(plots, "plot_roc", roc)
    monkeypatch.setattr(plots, "plot_calibration", cal)
    _table(n=80).to_csv(tmp_path / "t.csv", index=False)
    _table(n=50, seed=1).to_csv(tmp_path / "ext.csv", index=False)
    assert _run("fit", tmp_path / "t.csv", "--target", "y", "--out", tmp_path / "m",
                "--inner-folds", "3").exit_code == 0
    res = _run("validate", tmp_path / "m", tmp_path / "ext.csv", "--target", "y",
               "--out", tmp_path / "v")
    assert res.exit_code == 0, res.output
    assert titles == ["ROC (external validation)", "Calibration (external validation)"]
    titles.clear()
    assert _run("cv", tmp_path / "t.csv", "--target", "y", "--out", tmp_path / "c",
                "--folds", "3", "--repeats", "1", "--inner-folds", "3").exit_code == 0
    assert titles == ["ROC (out-of-fold)", "Calibration (out-of-fold)"]


def test_survival_solver_warnings_are_summarised_once(tmp_path, monkeypatch):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sksurv.linear_model import CoxnetSurvivalAnalysis

    real = CoxnetSurvivalAnalysis.fit

    def noisy(self, X, y):
        warnings.warn("Optimization terminated early, you might want to increase the number "
                      f"of iterations (max_iter={self.max_iter}).", ConvergenceWarning,
                      stacklevel=1)
        return real(self, X, y)

    monkeypatch.setattr(CoxnetSurvivalAnalysis, "fit", noisy)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 6))
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    df["time"] = rng.exponential(np.exp(-X[:, 0]) * 10)
    df["event"] = (rng.uniform(size=60) < 0.7).astype(int)
    df.to_csv(tmp_path / "s.csv", index=False)
    res = _run("cv", tmp_path / "s.csv", "--time", "time", "--event", "event",
               "--out", tmp_path / "o", *FAST)
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if "solver warning" in ln]
    assert len(lines) == 1 and "iteration limit" in lines[0]
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    (w,) = m["fit_warnings"]
    assert w["category"] == "ConvergenceWarning" and w["count"] >= 3 * 3 * 3
    assert "Optimization terminated early" not in res.output.replace(w["message"], "")
