"""The ``model`` Typer sub-application: outputs, persistence across processes, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from voxelomics.model.cli import model_app

runner = CliRunner()
FAST = ["--folds", "3", "--repeats", "1", "--inner-folds", "3"]


def _run(*args):
    return runner.invoke(model_app, [str(a) for a in args])


def _ok(res):
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res


def test_cv_classification_with_clinical_join_and_batch(tables, tmp_path):
    out = tmp_path / "cv"
    res = _ok(_run("cv", tables / "features.parquet", "--clinical", tables / "clinical.csv",
                   "--on", "case_id", "--id", "case_id", "--target", "outcome",
                   "--batch", "site", "--model", "enet_lr", "--out", out, *FAST))
    assert "auc" in res.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["n_samples"] == 90 and m["n_features"] == 12
    assert m["auc"]["ci95"][0] <= m["auc"]["mean"] <= m["auc"]["ci95"][1]
    assert m["auc"]["mean"] > 0.75
    assert m["batch_levels"] == ["A", "B"] and m["id_column"] == "case_id"
    assert m["dropped_columns"] == [{"column": "roi", "reason": "identifier column"}]
    assert {"roc.png", "calibration.png", "oof_predictions.csv"} <= {p.name for p in out.iterdir()}


def test_cv_survival(tables, tmp_path):
    out = tmp_path / "surv"
    _ok(_run("cv", tables / "features.parquet", "--clinical", tables / "clinical.csv",
             "--on", "case_id", "--time", "time", "--event", "event", "--batch", "site",
             "--out", out, *FAST))
    m = json.loads((out / "metrics.json").read_text())
    assert m["task"] == "survival" and m["model"] == "coxnet"
    # the fixture's survival signal is weak: C-index 0.54-0.66 over seeds with these folds
    assert set(m["c_index"]) >= {"mean", "ci95"} and m["c_index"]["mean"] > 0.52
    assert m["comparators"]["cox16"]["c_index"]["mean"] > 0.5
    assert "difference" in m["comparators"]["batch"]
    assert (out / "kaplan_meier.png").is_file() and 0 <= m["figures"]["logrank_p"] <= 1


def test_fit_reload_in_fresh_process_predicts_same(tables, tmp_path):
    model = tmp_path / "model"
    _ok(_run("fit", tables / "features.parquet", "--clinical", tables / "clinical.csv",
             "--on", "case_id", "--id", "case_id", "--target", "outcome", "--batch", "site",
             "--model", "enet_lr", "--out", model))
    meta = json.loads((model / "model.json").read_text())
    assert meta["features"] == [f"f{i}" for i in range(12)]
    assert meta["training"]["n"] == 90 and set(meta["training"]["class_balance"]) == {"benign", "malignant"}
    assert "scikit-learn" in meta["versions"] and meta["format"]["serialiser"] == "skops"
    # prediction needs the batch column: join the clinical table to get 'site'
    table = pd.read_parquet(tables / "features.parquet").merge(
        pd.read_csv(tables / "clinical.csv")[["case_id", "site"]], on="case_id")
    table.to_csv(tmp_path / "new.csv", index=False)
    here = tmp_path / "here.csv"
    _ok(_run("predict", model, tmp_path / "new.csv", "--id", "case_id", "--out", here))
    there = tmp_path / "there.csv"
    code = ("from typer.testing import CliRunner; from voxelomics.model.cli import model_app; "
            f"r = CliRunner().invoke(model_app, ['predict', {str(model)!r}, "
            f"{str(tmp_path / 'new.csv')!r}, '--id', 'case_id', '--out', {str(there)!r}]); "
            "import sys; sys.exit(r.exit_code)")
    subprocess.run([sys.executable, "-c", code], check=True)
    a, b = pd.read_csv(here), pd.read_csv(there)
    assert list(a.columns) == ["id", "probability", "predicted_class"]
    np.testing.assert_array_equal(a["probability"].to_numpy(), b["probability"].to_numpy())
    assert set(a["predicted_class"]) <= {"benign", "malignant"}
    # external validation on the same table: metrics and figures written
    out = tmp_path / "val"
    _ok(_run("validate", model, tmp_path / "new.csv", "--clinical", tables / "clinical.csv",
             "--on", "case_id", "--id", "case_id", "--target", "outcome", "--out", out))
    m = json.loads((out / "metrics.json").read_text())
    assert m["auc"]["mean"] > 0.8 and (out / "roc.png").is_file()


def test_predict_unseen_batch_and_wrong_classes(tables, tmp_path):
    model = tmp_path / "mb"
    _ok(_run("fit", tables / "features.parquet", "--clinical", tables / "clinical.csv",
             "--on", "case_id", "--id", "case_id", "--target", "outcome", "--batch", "site",
             "--model", "enet_lr", "--out", model))
    table = pd.read_parquet(tables / "features.parquet").assign(site="C", outcome="yes")
    table.loc[:5, "outcome"] = "no"
    table.to_csv(tmp_path / "ext.csv", index=False)
    res = _run("predict", model, tmp_path / "ext.csv", "--out", tmp_path / "p.csv")
    assert res.exit_code == 2 and "categories ['C']" in res.output
    res = _run("validate", model, tmp_path / "ext.csv", "--target", "outcome",
               "--out", tmp_path / "v")
    assert res.exit_code == 2


def test_predict_refuses_missing_features(tables, tmp_path):
    model = tmp_path / "m"
    _ok(_run("fit", tables / "features.parquet", "--clinical", tables / "clinical.csv",
             "--on", "case_id", "--id", "case_id", "--target", "outcome", "--model", "enet_lr",
             "--out", model))
    pd.read_parquet(tables / "features.parquet").drop(columns=["f3", "f7"]).to_csv(
        tmp_path / "partial.csv", index=False)
    res = _run("predict", model, tmp_path / "partial.csv", "--out", tmp_path / "p.csv")
    assert res.exit_code == 2
    assert "2 model feature column(s) missing" in res.output and "'f3', 'f7'" in res.output


def test_corrupt_and_missing_model(tables, tmp_path):
    res = _run("predict", tmp_path / "nothing", tables / "features.parquet", "--out", tmp_path / "p.csv")
    assert res.exit_code == 2 and "model.skops not found" in res.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.skops").write_bytes(b"not a zip")
    (bad / "model.json").write_text("{}")
    res = _run("predict", bad, tables / "features.parquet", "--out", tmp_path / "p.csv")
    assert res.exit_code == 2 and "corrupt" in res.output


@pytest.mark.parametrize(
    ("edit", "args", "message"),
    [
        (None, ["--target", "nope"], "column 'nope' not found"),
        (lambda c: c.assign(outcome=np.arange(len(c)) % 3), ["--target", "outcome"],
         "must be binary, found 3 distinct values"),
        (lambda c: c.assign(case_id="X" + c["case_id"]), ["--target", "outcome"],
         "matched no rows"),
    ],
    ids=["missing-target", "non-binary", "no-join"],
)
def test_errors_exit_2(tables, tmp_path, edit, args, message):
    clin = pd.read_csv(tables / "clinical.csv")
    if edit is not None:
        clin = edit(clin)
    clin.to_csv(tmp_path / "clin.csv", index=False)
    res = _run("cv", tables / "features.parquet", "--clinical", tmp_path / "clin.csv",
               "--on", "case_id", "--id", "case_id", *args, "--out", tmp_path / "o", *FAST)
    assert res.exit_code == 2, res.output
    assert pytest.importorskip("re").search(message, res.output), res.output


def test_nan_only_feature(tables, tmp_path):
    pd.read_parquet(tables / "features.parquet").assign(f_empty=np.nan).to_parquet(
        tmp_path / "f.parquet")
    res = _run("cv", tmp_path / "f.parquet", "--clinical", tables / "clinical.csv", "--on",
               "case_id", "--target", "outcome", "--out", tmp_path / "o", *FAST)
    assert res.exit_code == 2 and "hold no value at all: ['f_empty']" in res.output


def test_bad_settings_file(tables, tmp_path):
    (tmp_path / "s.yaml").write_text("model:\n  n_splits: 1\n  colour: red\n")
    res = _run("cv", tables / "features.parquet", "--target", "x", "--settings",
               tmp_path / "s.yaml", "--out", tmp_path / "o")
    assert res.exit_code == 2 and "n_splits" in res.output and "colour" in res.output


def test_a_numerical_failure_of_the_fit_is_a_clear_error(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import voxelomics.model.workflow as workflow
    from voxelomics.model.cli import model_app

    def failing(*args, **kwargs):
        raise ArithmeticError("Numerical error, because weights are too large.")

    monkeypatch.setattr(workflow, "run_cv", failing)
    table = tmp_path / "t.csv"
    table.write_text("ID,Target,f1\n" + "".join(f"{i},{i % 2},{i * 0.5}\n" for i in range(20)))
    res = CliRunner().invoke(model_app, ["cv", str(table), "--target", "Target", "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "could not be fitted" in res.output and "weights are too large" in res.output


def _small_table(tmp_path, n=12, p=20):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"f{i}" for i in range(p)])
    df.insert(0, "case_id", [f"c{i}" for i in range(n)])
    df["response"] = [0, 1] * (n // 2)
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    return path


def test_too_few_rows_for_the_inner_folds_names_the_option(tmp_path):
    from typer.testing import CliRunner

    from voxelomics.model.cli import model_app

    table = _small_table(tmp_path)
    res = CliRunner().invoke(model_app, ["cv", str(table), "--target", "response", "--out",
                                         str(tmp_path / "o"), "--folds", "4", "--no-plots"])
    assert res.exit_code == 2 and "--inner-folds" in res.output


def test_default_linear_model_is_reproducible_with_a_seed(tmp_path):
    import json

    from typer.testing import CliRunner

    from voxelomics.model.cli import model_app

    table = _small_table(tmp_path)
    aucs = []
    for run in ("a", "b"):
        res = CliRunner().invoke(model_app, [
            "cv", str(table), "--target", "response", "--out", str(tmp_path / run), "--folds", "2",
            "--inner-folds", "2", "--repeats", "1", "--model", "enet_lr", "--no-plots", "--seed", "3"])
        assert res.exit_code == 0, res.output
        aucs.append(json.loads((tmp_path / run / "metrics.json").read_text())["auc"]["mean"])
    assert aucs[0] == aucs[1]


def test_negative_confidence_intervals_print_readably():
    """Issue 10, item 12: not '-1.254--1.188'."""
    from voxelomics.model.cli import _fmt

    assert _fmt({"mean": -1.22, "ci95": [-1.254, -1.188]}) == "-1.220 (95% CI -1.254 to -1.188)"


def test_validate_a_classifier_with_absent_survival_columns_says_it_takes_target(tables, tmp_path):
    model = tmp_path / "model"
    _ok(_run("fit", tables / "features.parquet", "--clinical", tables / "clinical.csv", "--on", "case_id",
             "--target", "outcome", "--model", "enet_lr", "--inner-folds", "3", "--out", model))
    res = _run("validate", model, tables / "features.parquet", "--time", "a", "--event", "b",
               "--out", tmp_path / "v")
    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert "this model was fitted for a binary target (--target 'outcome'): validate it with --target COL, " \
           "not --time/--event" in text, text
    assert "--time column 'a' not found" in text


def test_positive_class_is_printed_and_can_be_chosen(tables, tmp_path):
    from voxelomics.errors import ModelError
    from voxelomics.model.tables import prepare_data

    df = pd.read_parquet(tables / "features.parquet").merge(pd.read_csv(tables / "clinical.csv"), on="case_id")
    default = prepare_data(df, target="outcome", id_col="case_id")
    chosen = prepare_data(df, target="outcome", id_col="case_id", positive="benign")
    assert default.classes == ["benign", "malignant"] and chosen.classes == ["malignant", "benign"]
    assert np.array_equal(chosen.y, 1 - default.y)
    assert chosen.y.sum() == (df["outcome"] == "benign").sum()
    with pytest.raises(ModelError, match=r"--positive 'Benign' is not a value of target column 'outcome' "
                                         r"\(values: 'benign', 'malignant'\) \(did you mean 'benign'\?\)"):
        prepare_data(df, target="outcome", id_col="case_id", positive="Benign")
    base = ["--clinical", tables / "clinical.csv", "--on", "case_id", "--target", "outcome",
            "--model", "enet_lr"]
    res = _ok(_run("cv", tables / "features.parquet", *base, "--out", tmp_path / "cv", "--no-plots", *FAST))
    assert "positive class: 'malignant' (of 'benign', 'malignant'); --positive VALUE to change" in res.output
    res = _ok(_run("fit", tables / "features.parquet", *base, "--positive", "benign", "--inner-folds", "3",
                   "--out", tmp_path / "m"))
    assert "positive class: 'benign' (of 'malignant', 'benign')" in res.output
    assert json.loads((tmp_path / "m" / "model.json").read_text())["classes"] == ["malignant", "benign"]
    # validate keeps the fitted positive class: the outcome is coded as in training
    res = _ok(_run("validate", tmp_path / "m", tables / "features.parquet", *base[:-2], "--out", tmp_path / "v",
                   "--no-plots"))
    assert "positive class: 'benign' (of 'malignant', 'benign'); the fitted model's" in res.output
    m = json.loads((tmp_path / "v" / "metrics.json").read_text())
    assert m["classes"] == ["malignant", "benign"] and m["auc"]["mean"] > 0.75
    res = _run("validate", tmp_path / "m", tables / "features.parquet", *base[:-2], "--positive", "malignant",
               "--out", tmp_path / "v2", "--no-plots")
    assert res.exit_code == 2 and "differs from the class the model was fitted with as positive" in res.output
