"""Several feature tables joined on the case (fusion) and patient-grouped folds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from voxelomics.errors import ModelError
from voxelomics.model.cli import model_app
from voxelomics.model.join import read_feature_tables

FAST = ["--folds", "3", "--repeats", "1", "--inner-folds", "3", "--no-plots"]


def _run(*args, code=0):
    res = CliRunner().invoke(model_app, [str(a) for a in args])
    assert res.exit_code == code, res.output + repr(res.exception)
    return res


@pytest.fixture
def fused(tmp_path):
    """Radiomic and deep-feature tables of the same cases; the outcome needs both."""
    rng = np.random.default_rng(0)
    n = 90
    ids = [f"C{i:03d}" for i in range(n)]
    rad = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"glcm_{k}" for k in range(6)])
    deep = pd.DataFrame(rng.normal(size=(n, 5)), columns=[f"emb_{k}" for k in range(5)])
    deep["mean"] = rng.normal(size=n)
    rad["mean"] = rng.normal(size=n)  # same name, different values: prefixed
    y = (rad["glcm_0"] + deep["emb_0"] + 0.5 * rng.normal(size=n) > 0).astype(int)
    rad.insert(0, "case_id", ids)
    rad.insert(1, "roi", "GTV")
    rad["outcome"] = y  # the same outcome in both tables: kept once, unprefixed
    deep.insert(0, "case_id", ids)
    deep.insert(1, "roi", "GTV")
    deep["outcome"] = y
    rad.to_csv(tmp_path / "radiomics.csv", index=False)
    deep.iloc[:-3].to_csv(tmp_path / "deep.csv", index=False)  # 3 cases without deep features
    return tmp_path


def test_tables_are_joined_on_the_case_with_prefixes_where_names_collide(fused):
    df, _, report = read_feature_tables([fused / "radiomics.csv", fused / "deep.csv"])
    assert len(df) == 87
    assert {"radiomics.mean", "deep.mean", "outcome", "emb_0", "glcm_0"} <= set(df.columns)
    assert "mean" not in df.columns and list(df.columns).count("roi") == 1
    assert report[0]["n_unmatched"] == 3 and report[0]["unmatched"][0] == "C087/GTV"
    assert report[1]["n_unmatched"] == 0
    assert report[0]["renamed"] == {"mean": "radiomics.mean"}


def test_duplicated_keys_and_no_common_key_are_errors(fused, tmp_path):
    pd.read_csv(fused / "deep.csv").pipe(lambda d: pd.concat([d, d.iloc[:1]])).to_csv(
        tmp_path / "dup.csv", index=False)
    with pytest.raises(ModelError, match="rows share a case_id/roi key"):
        read_feature_tables([fused / "radiomics.csv", tmp_path / "dup.csv"])
    pd.DataFrame({"x": [1, 2]}).to_csv(tmp_path / "nokey.csv", index=False)
    with pytest.raises(ModelError, match="cannot join the feature tables"):
        read_feature_tables([fused / "radiomics.csv", tmp_path / "nokey.csv"])


def test_cv_fit_predict_validate_on_fused_tables(fused):
    out = fused / "cv"
    _run("cv", fused / "radiomics.csv", "--features", fused / "deep.csv", "--target", "outcome",
         "--out", out, *FAST)
    m = json.loads((out / "metrics.json").read_text())
    assert m["n_samples"] == 87 and m["n_features"] == 13
    assert [t["name"] for t in m["tables"]] == ["radiomics", "deep"]
    assert m["tables"][0]["n_unmatched"] == 3
    assert m["auc"]["mean"] > 0.7
    used = set(m["selection_stability"]["linear"]["frequency"])
    assert {"glcm_0", "emb_0"} <= used
    # the same two tables given as positional arguments
    _run("fit", fused / "radiomics.csv", fused / "deep.csv", "--target", "outcome",
         "--out", fused / "m")
    meta = json.loads((fused / "m" / "model.json").read_text())
    assert meta["feature_tables"] == ["radiomics", "deep"] and "deep.mean" in meta["features"]
    _run("predict", fused / "m", fused / "radiomics.csv", fused / "deep.csv",
         "--out", fused / "p.csv")
    assert len(pd.read_csv(fused / "p.csv")) == 87
    res = _run("validate", fused / "m", fused / "radiomics.csv", "--features", fused / "deep.csv",
               "--target", "outcome", "--out", fused / "v")
    assert "is the table the model was trained on" in res.output


def test_patients_with_several_lesions_are_never_split(tmp_path):
    rng = np.random.default_rng(1)
    patients = np.repeat([f"P{i:02d}" for i in range(40)], 2)
    y = np.repeat(rng.integers(0, 2, 40), 2)
    X = rng.normal(size=(80, 8)) + y[:, None] * 0.8
    df = pd.DataFrame(X, columns=[f"f{k}" for k in range(8)])
    df.insert(0, "case_id", [f"{p}_L{k % 2}" for k, p in enumerate(patients)])
    df.insert(1, "patient_id", patients)
    df["y"] = y
    df.to_csv(tmp_path / "t.csv", index=False)
    _run("cv", tmp_path / "t.csv", "--target", "y", "--out", tmp_path / "o",
         "--repeats", "2", *[a for a in FAST if a != "--no-plots"][:2], "--inner-folds", "3",
         "--no-plots")
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert m["groups"] == {"column": "patient_id", "n_groups": 40}
    assert "patient" in m["validation"]["ci95_method"] and "grouped" in m["validation"]["outer"]
    oof = pd.read_csv(tmp_path / "o" / "oof_predictions.csv")
    assert list(oof.columns[:4]) == ["id", "group", "repeat", "fold"]
    assert (oof.groupby(["repeat", "group"])["fold"].nunique() == 1).all()
    # switched off: lesions of one patient may fall in different folds
    _run("cv", tmp_path / "t.csv", "--target", "y", "--group", "none", "--out", tmp_path / "n",
         "--folds", "3", "--repeats", "2", "--inner-folds", "3", "--no-plots")
    assert json.loads((tmp_path / "n" / "metrics.json").read_text())["groups"] is None


def test_duplicate_ids_suggest_group(tmp_path):
    df = pd.DataFrame({"patient_id": ["a", "a", "b", "b"] * 5, "f": np.arange(20.0),
                       "y": [0, 1] * 10})
    df.to_csv(tmp_path / "t.csv", index=False)
    res = _run("cv", tmp_path / "t.csv", "--id", "patient_id", "--target", "y",
               "--out", tmp_path / "o", code=2)
    assert "--group" in res.output


def test_too_few_patients_for_grouped_folds_is_a_clear_error(tmp_path):
    # 8 rows of 5 patients, one patient with 4 lesions (as the dcmqi SEG case): whole
    # patients cannot fill 2 outer x 2 inner folds with both classes
    df = pd.DataFrame({
        "case_id": [f"c{i}" for i in range(8)],
        "patient_id": ["a", "b", "c", "d", "e", "e", "e", "e"],
        "f1": np.arange(8.0), "f2": np.arange(8.0) ** 2 % 5,
        "y": [1, 1, 0, 0, 1, 0, 1, 0]})
    df.to_csv(tmp_path / "t.csv", index=False)
    res = _run("cv", tmp_path / "t.csv", "--target", "y", "--folds", "2", "--inner-folds", "2",
               "--repeats", "1", "--model", "enet_lr", "--out", tmp_path / "o", code=2)
    assert "whole patients" in res.output and "8 rows belong to 5 patients" in res.output
    assert "--group none" in res.output and "Traceback" not in res.output
