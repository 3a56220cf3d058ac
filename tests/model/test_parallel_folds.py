"""Outer folds in parallel (--jobs), solver warnings summarised once, features traced."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from voxelomics.model.cli import model_app
from voxelomics.model.estimators import make_pipeline
from voxelomics.model.runner import run_tasks, summarise_warnings, used_features
from voxelomics.model.validation import nested_cv


def _xy(n=80, p=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = (X[:, 0] - X[:, 1] + rng.normal(size=n) > 0).astype(int)
    return X, y


def _square(job):
    warnings.warn(f"solver stopped after {job['k'] * 10} iterations", UserWarning, stacklevel=1)
    return {"k": job["k"], "sq": job["k"] ** 2}


def test_parallel_folds_give_the_same_predictions_as_serial():
    X, y = _xy()
    pipe, grid = make_pipeline("ensemble")
    pipe.set_params(clf__n_trees=30)
    kw = dict(n_splits=3, n_repeats=2, inner_splits=3, n_boot=50)
    serial = nested_cv(X, y, pipe, grid, **kw)
    seen = []
    parallel = nested_cv(X, y, pipe, grid, n_jobs=2, progress=lambda d, t: seen.append((d, t)),
                         **kw)
    np.testing.assert_array_equal(serial.oof, parallel.oof)
    assert serial.best_params == parallel.best_params
    assert seen[-1] == (6, 6) and [d for d, _ in seen] == list(range(1, 7))


def test_run_tasks_keeps_order_and_limits_threads():
    jobs = [{"k": k} for k in range(5)]
    assert [r["sq"] for r in run_tasks(_square, jobs, n_jobs=2)] == [0, 1, 4, 9, 16]


def test_solver_warnings_are_summarised_once_with_their_meaning():
    records = [("FitFailedWarning", "\n3 fits failed out of a total of 9.\nBelow are more "
                "details about the failures:\n---\nTraceback (most recent call last):\n  File "
                "x.py\nArithmeticError: Numerical error, because weights are too large. "
                "Consider increasing alpha.\n")] * 4
    records += [("ConvergenceWarning", "lbfgs failed to converge after 100 iteration(s)")] * 2
    records += [("ConvergenceWarning", "lbfgs failed to converge after 200 iteration(s)")]
    out = summarise_warnings(records)
    assert [w["count"] for w in out] == [4, 3]
    assert out[0]["message"].startswith("ArithmeticError: Numerical error")
    assert "stronger penalty was used" in out[0]["meaning"]
    assert "iteration limit" in out[1]["meaning"]


def test_used_features_trace_filters_and_selectors():
    X, y = _xy(p=12)
    X[:, 5] = 1.0  # constant: dropped by the variance filter
    X[:, 6] = X[:, 0] * 2 + 1e-9  # duplicate of f0: dropped by the correlation filter
    names = [f"f{i}" for i in range(12)]
    pipe, _ = make_pipeline("enet_lr")
    pipe.set_params(select__k=4, clf__C=10.0)
    pipe.fit(X, y)
    used = used_features(pipe, names)["model"]
    assert "f5" not in used and not {"f0", "f6"} <= set(used)
    assert set(used) & {"f0", "f6"} and "f1" in used


def test_cv_with_jobs_on_the_command_line(tmp_path):
    X, y = _xy(n=60, p=10)
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(10)]).assign(y=y)
    df.to_csv(tmp_path / "t.csv", index=False)
    out = {}
    for jobs in ("1", "2"):
        res = CliRunner().invoke(model_app, [
            "cv", str(tmp_path / "t.csv"), "--target", "y", "--out", str(tmp_path / jobs),
            "--folds", "3", "--repeats", "1", "--inner-folds", "3", "--jobs", jobs,
            "--no-plots"])
        assert res.exit_code == 0, res.output
        out[jobs] = json.loads((tmp_path / jobs / "metrics.json").read_text())
    assert out["1"]["auc"] == out["2"]["auc"]
    assert out["2"]["settings"]["n_jobs"] == 2


def test_run_cv_takes_progress_as_a_flag_or_a_callback(tmp_path):
    from voxelomics.model.config import ModelSettings
    from voxelomics.model.workflow import TableSpec, run_cv

    X, y = _xy(n=60, p=10)
    pd.DataFrame(X, columns=[f"f{i}" for i in range(10)]).assign(y=y).to_csv(
        tmp_path / "t.csv", index=False)
    s = ModelSettings(n_splits=3, n_repeats=1, inner_splits=3, baselines=[], n_boot=100)
    seen = []
    a = run_cv(TableSpec(table=tmp_path / "t.csv", target="y"), s, tmp_path / "a", plots=False,
               progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert seen == [("cv", 1, 3), ("cv", 2, 3), ("cv", 3, 3)]
    b = run_cv(TableSpec(table=tmp_path / "t.csv", target="y"), s, tmp_path / "b", plots=False,
               progress=True)  # no terminal here: nothing drawn, same result
    assert a["auc"] == b["auc"]
    assert a["selection_frequency"] == a["selection_stability"]["linear"]["frequency"]
