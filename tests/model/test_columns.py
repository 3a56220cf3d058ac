"""Which columns become features: identifiers, numbers stored as text, dropped text, ids.

Covers QA findings on ``voxelomics model``: text columns of numbers were silently
dropped, other drops and imputations were silent, ``predict`` wrote row numbers although
the table had an id column, and the tables written by ``voxelomics extract`` (identifier
columns ``case_id, roi, image_type, modality, provenance`` first) must train and predict.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from testdata import IBSI1
from voxelomics.errors import ModelError
from voxelomics.model.cli import model_app
from voxelomics.model.tables import default_id_column, prepare_data

runner = CliRunner()
FAST = ["--folds", "3", "--repeats", "1", "--inner-folds", "3", "--model", "enet_lr",
        "--no-plots"]
EXTRACT_IDS = ["case_id", "roi", "image_type", "modality", "provenance", "warnings"]


def _run(*args):
    return runner.invoke(model_app, [str(a) for a in args])


def _ok(res):
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res


def _table(n=60, seed=3):
    """Features f0..f4, outcome from f0 + age; age stored as text, sex as text."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    age = rng.integers(40, 85, n)
    y = (X[:, 0] + (age - 62) / 10 + 0.3 * rng.normal(size=n) > 0).astype(int)
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    df.insert(0, "case_id", [f"C{i:02d}" for i in range(n)])
    df["age"] = age.astype(str)  # numbers written as text
    df["sex"] = np.where(rng.uniform(size=n) < 0.5, "F", "M")
    df["outcome"] = y
    return df


def test_prepare_data_coerces_numeric_text_and_reports_drops():
    df = pd.DataFrame({
        "case_id": list("abcd"), "roi": ["1", "1", "2", "1"], "ID": [1, 2, 3, 4],
        "age": ["63", "71", "", " 55"], "sex": ["M", "F", "F", "M"],
        "mrn": ["007", "010", "011", "012"], "mixed": ["1", "2", "x", "3"],
        "smoker": [True, False, True, False], "f": [1.0, np.nan, 2, 3], "y": [0, 1, 0, 1]})
    d = prepare_data(df, target="y", id_col="case_id")
    assert d.feature_names == ["age", "smoker", "f"] and d.coerced == ["age", "smoker"]
    assert d.X["age"].tolist()[:2] == [63.0, 71.0] and np.isnan(d.X["age"][2])
    assert d.X["smoker"].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert d.missing == {"age": 1, "f": 1}
    reasons = d.drop_reasons
    assert list(reasons) == ["roi", "ID", "sex", "mrn", "mixed"]  # --id column has a role
    assert reasons["roi"] == reasons["ID"] == "identifier column"
    assert "non-numeric text (2 level(s)" in reasons["sex"]
    assert "leading zeros" in reasons["mrn"] and "'x'" in reasons["mixed"]
    assert d.dropped_report()[2] == {"column": "sex", "reason": reasons["sex"]}
    # a fitted model's feature given as text is converted; non-numbers are refused
    assert prepare_data(df, features=["age"]).X["age"].tolist()[3] == 55.0
    with pytest.raises(ModelError, match=r"model feature column 'sex' is not numeric"):
        prepare_data(df, features=["sex"])
    with pytest.raises(ModelError, match=r"no numeric feature column \(not used: .*sex"):
        prepare_data(df[["case_id", "sex", "y"]], target="y")


def test_default_id_column():
    assert default_id_column(["ID", "case_id", "f"]) == "case_id"
    assert default_id_column(["f", "ID"]) == "ID" and default_id_column(["id"]) == "id"
    assert default_id_column(["f", "patient"]) is None


def test_cv_reports_coerced_dropped_and_missing(tmp_path):
    df = _table()
    df.loc[[3, 7], "f2"] = np.nan
    df.loc[5, "age"] = ""
    df.to_parquet(tmp_path / "t.parquet")
    res = _ok(_run("cv", tmp_path / "t.parquet", "--target", "outcome", "--out", tmp_path / "o",
                   *FAST))
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert m["n_features"] == 6 and m["coerced_columns"] == ["age"]
    assert [d["column"] for d in m["dropped_columns"]] == ["sex"]
    assert m["missing_values"] == {"f2": 2, "age": 1} and m["id_column"] == "case_id"
    assert "warning: 1 column(s) not used as features: sex (non-numeric text" in res.output
    assert "notice: 3 missing feature value(s) in 2 column(s) imputed" in res.output
    assert "f2 (2)" in res.output
    oof = pd.read_csv(tmp_path / "o" / "oof_predictions.csv")
    assert oof["id"].tolist() == df["case_id"].tolist()


def test_fit_sidecar_and_predict_default_ids(tmp_path):
    df = _table()
    df.to_parquet(tmp_path / "t.parquet")
    _ok(_run("fit", tmp_path / "t.parquet", "--target", "outcome", "--model", "enet_lr",
             "--out", tmp_path / "m"))
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert "age" in meta["features"] and "sex" not in meta["features"]
    assert meta["dropped_columns"][0]["column"] == "sex" and meta["coerced_columns"] == ["age"]
    new = df.drop(columns="outcome").iloc[:10].copy()
    new.loc[[0, 1], "f1"] = np.nan
    cases = [  # (table, expected ids, id column message)
        (new, new["case_id"].tolist(), "column 'case_id'"),
        (new.rename(columns={"case_id": "ID"}), new["case_id"].tolist(), "column 'ID'"),
        (new.drop(columns="case_id"), [str(i) for i in range(10)], "row numbers"),
    ]
    for k, (table, ids, msg) in enumerate(cases):
        table.to_csv(tmp_path / f"new{k}.csv", index=False)
        res = _ok(_run("predict", tmp_path / "m", tmp_path / f"new{k}.csv",
                       "--out", tmp_path / f"p{k}.csv"))
        assert f"(ids: {msg})" in res.output
        assert "notice: 2 missing feature value(s) in 1 column(s)" in res.output
        assert pd.read_csv(tmp_path / f"p{k}.csv", dtype={"id": str})["id"].tolist() == ids


@pytest.mark.parametrize(("args", "option"), [
    (["--folds", "1"], "--folds"), (["--repeats", "0"], "--repeats"),
    (["--inner-folds", "1"], "--inner-folds"), (["--folds", "21"], "--folds"),
])
def test_cv_fold_options_validated(tmp_path, args, option):
    _table().to_parquet(tmp_path / "t.parquet")
    res = _run("cv", tmp_path / "t.parquet", "--target", "outcome", "--out", tmp_path / "o", *args)
    assert res.exit_code == 2 and f"Invalid value for '{option}'" in res.output, res.output
    assert "n_splits" not in res.output


@pytest.fixture(scope="module")
def extracted():
    """Rows as ``voxelomics extract`` writes them, for the IBSI digital phantom.

    Built with :func:`voxelomics.extract.extract_case` (the row function of the extract
    command) so that this test does not depend on the cohort runner; the manifest's extra
    column ``age`` is kept as text, as in tables written before extra columns were typed.
    """
    from voxelomics.extract import extract_case
    from voxelomics.io.manifest import Case
    from voxelomics.settings import load_preset

    phantom = IBSI1 / "digital_phantom"
    case = Case(case_id="dp0", image=phantom / "image" / "phantom.nii.gz",
                mask=phantom / "mask" / "mask.nii.gz", extra={"age": "61"})
    row = extract_case(case, load_preset("ibsi-digital"))
    return pd.DataFrame([row]).assign(age="61")


def test_extract_table_identifiers_never_features(extracted, tmp_path):
    assert extracted.columns[:len(EXTRACT_IDS)].tolist() == EXTRACT_IDS
    # 40 rows: the phantom's features scaled per row, so that they vary; random outcome
    rng = np.random.default_rng(0)
    rows = extracted.iloc[np.zeros(40, int)].reset_index(drop=True)
    # identifiers, the study columns lesion_id and region, features, then the manifest's 'age'
    n = len(EXTRACT_IDS)
    assert rows.columns[n:n + 2].tolist() == ["lesion_id", "region"]
    feats = rows.columns[n + 2:-1]
    assert rows["roi"].tolist()[0] == "1"  # numeric text, but an identifier
    rows[feats] = rows[feats].to_numpy(float) * rng.uniform(0.5, 1.5, (40, len(feats)))
    rows = rows.assign(case_id=[f"P{i:02d}" for i in range(40)], outcome=np.arange(40) % 2,
                       age=rng.integers(40, 85, 40).astype(str))
    rows.to_parquet(tmp_path / "features.parquet")
    _ok(_run("cv", tmp_path / "features.parquet", "--id", "case_id", "--target", "outcome",
             "--out", tmp_path / "cv", *FAST))
    m = json.loads((tmp_path / "cv" / "metrics.json").read_text())
    dropped = {d["column"]: d["reason"] for d in m["dropped_columns"]}
    region = dropped.pop("region")  # "roi" or a ring's name: an identifier (issue 14)
    assert region == "identifier column"
    assert dropped == dict.fromkeys([*EXTRACT_IDS[1:], "lesion_id"], "identifier column")
    assert m["n_features"] == len(feats) + 1 and m["coerced_columns"] == ["age"]
    oof = pd.read_csv(tmp_path / "cv" / "oof_predictions.csv")
    assert oof["id"].tolist() == rows["case_id"].tolist()
    _ok(_run("fit", tmp_path / "features.parquet", "--id", "case_id", "--target", "outcome",
             "--model", "enet_lr", "--out", tmp_path / "m"))
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert not set(EXTRACT_IDS) & set(meta["features"])
    _ok(_run("predict", tmp_path / "m", tmp_path / "features.parquet", "--id", "case_id",
             "--out", tmp_path / "p.csv"))
    assert pd.read_csv(tmp_path / "p.csv")["id"].tolist() == rows["case_id"].tolist()
