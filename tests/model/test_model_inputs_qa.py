"""QA findings on the inputs of ``voxelomics model``: inf values, batch columns, duplicate
ids, partial clinical joins, which columns are features, outcome options, validation
warnings, messages, settings keys and prediction files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from voxelomics.errors import ModelError, SettingsError
from voxelomics.model.cli import model_app
from voxelomics.model.config import load_model_settings
from voxelomics.model.harmonise import ComBat
from voxelomics.model.tables import prepare_data
from voxelomics.model.validation import check_cv_target

runner = CliRunner()
FAST = ["--folds", "3", "--repeats", "1", "--inner-folds", "3", "--model", "enet_lr",
        "--no-plots"]


def _run(*args):
    return runner.invoke(model_app, [str(a) for a in args])


def _ok(res):
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res


def _fail(res, pattern):
    assert res.exit_code == 2, res.output + repr(res.exception)
    assert pytest.importorskip("re").search(pattern, res.output), res.output
    return res


def _table(n=60, p=6, seed=0):
    """ID, Target (yes/no, from f0), site (3 levels), features f0..f{p-1}."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(p)])
    df.insert(0, "ID", [f"P{i:03d}" for i in range(n)])
    df.insert(1, "Target", np.where(X[:, 0] + 0.5 * rng.normal(size=n) > 0, "yes", "no"))
    df["site"] = np.arange(n) % 3
    return df


# 1. inf values ------------------------------------------------------------------------

def test_inf_is_missing_and_reported(tmp_path):
    df = _table()
    df.loc[2, "f1"], df.loc[5, "f2"], df.loc[7, "f2"] = np.inf, -np.inf, np.nan
    d = prepare_data(df, target="Target", id_col="ID", batch=None)
    assert d.infinite == {"f1": 1, "f2": 1} and d.missing == {"f2": 1}
    assert np.isnan(d.X.loc[2, "f1"]) and np.isnan(d.X.loc[5, "f2"])
    df.to_parquet(tmp_path / "t.parquet")
    res = _ok(_run("cv", tmp_path / "t.parquet", "--target", "Target", "--exclude", "site",
                   "--out", tmp_path / "o", *FAST))
    assert "notice: 2 infinite feature value(s) (inf/-inf) in 2 column(s) treated as missing" in res.output
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert m["infinite_values"] == {"f1": 1, "f2": 1} and m["missing_values"] == {"f2": 1}
    _ok(_run("fit", tmp_path / "t.parquet", "--target", "Target", "--exclude", "site",
             "--model", "enet_lr", "--out", tmp_path / "m"))
    res = _ok(_run("predict", tmp_path / "m", tmp_path / "t.parquet", "--out", tmp_path / "p.csv"))
    assert "2 infinite feature value(s)" in res.output
    res = _ok(_run("validate", tmp_path / "m", tmp_path / "t.parquet", "--target", "Target",
                   "--out", tmp_path / "v", "--no-plots"))
    assert json.loads((tmp_path / "v" / "metrics.json").read_text())["infinite_values"] == {
        "f1": 1, "f2": 1}
    with pytest.raises(ModelError, match=r"hold no value at all: \['f3'\] \(only inf/-inf\)"):
        prepare_data(df.assign(f3=np.inf), target="Target", id_col="ID")


# 2. batch columns -----------------------------------------------------------------------

def test_continuous_batch_is_refused(tmp_path):
    df = _table()
    df.to_parquet(tmp_path / "t.parquet")
    _fail(_run("cv", tmp_path / "t.parquet", "--target", "Target", "--batch", "f3",
               "--out", tmp_path / "o", *FAST),
          r"batch column 'f3' has 60 distinct values for 60 rows; 60 level\(s\) hold fewer "
          r"than 2 rows.*scanner or centre label")
    with pytest.raises(ModelError, match=r"1 level\(s\) hold fewer than 2 rows: '9' \(1\)"):
        prepare_data(df.assign(site=[9] + [0, 1] * 29 + [1]), target="Target", batch="site")


def test_unseen_batch_names_user_labels_and_pooled_is_reachable(tmp_path):
    rng = np.random.default_rng(0)
    X = np.column_stack([np.repeat([0.0, 1.0, 2.0], 10), rng.normal(size=(30, 3))])
    cb = ComBat(0, batch_labels=["GE", "Siemens", "Philips"]).fit(X[:20])
    with pytest.raises(ModelError, match=r"\['Philips'\] were not in the training data "
                                         r"\(known: \['GE', 'Siemens'\]\).*unseen_batch: pooled"):
        cb.transform(X[20:])
    assert load_model_settings(None, unseen_batch="pooled").unseen_batch == "pooled"
    df = _table()
    df.assign(site=np.where(df["site"] == 2, "C", "A")).to_csv(tmp_path / "t.csv", index=False)
    _ok(_run("fit", tmp_path / "t.csv", "--target", "Target", "--batch", "site",
             "--model", "enet_lr", "--out", tmp_path / "m"))
    df.assign(site="Z").to_csv(tmp_path / "new.csv", index=False)
    _fail(_run("predict", tmp_path / "m", tmp_path / "new.csv", "--out", tmp_path / "p.csv"),
          r"categories \['Z'\].*--unseen-batch pooled")
    res = _ok(_run("predict", tmp_path / "m", tmp_path / "new.csv", "--out", tmp_path / "p.csv",
                   "--unseen-batch", "pooled"))
    assert "batch level(s) ['Z'] were not in the training data" in res.output
    _fail(_run("predict", tmp_path / "m", tmp_path / "new.csv", "--out", tmp_path / "p.csv",
               "--unseen-batch", "maybe"), "--unseen-batch must be 'error' or 'pooled'")


# 3. duplicate ids -----------------------------------------------------------------------

def test_duplicate_ids_are_refused(tmp_path):
    df = _table()
    df.loc[[1, 2, 3], "ID"] = "P000"
    df.to_csv(tmp_path / "t.csv", index=False)
    _fail(_run("cv", tmp_path / "t.csv", "--target", "Target", "--out", tmp_path / "o", *FAST),
          r"identifier column 'ID' holds 1 duplicated identifier\(s\) in 4 rows, e.g. \['P000'\]")
    # prediction does not need unique ids
    assert len(prepare_data(df, id_col="ID", features=["f0"]).ids) == 60


# 4. partial clinical join ---------------------------------------------------------------

def test_feature_rows_without_clinical_data_are_counted(tables, tmp_path):
    clin = pd.read_csv(tables / "clinical.csv").iloc[:60]
    clin.to_csv(tmp_path / "clin.csv", index=False)
    res = _ok(_run("cv", tables / "features.parquet", "--clinical", tmp_path / "clin.csv",
                   "--on", "case_id", "--target", "outcome", "--out", tmp_path / "o", *FAST))
    assert "warning: 30 feature row(s) have no row in the clinical table" in res.output
    assert "P060" in res.output
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert m["n_rows_without_clinical"] == 30 and m["n_samples"] == 60


# 5. which columns are features ----------------------------------------------------------

def _extraction_table(path, n=40, filtered=False):
    """A features.parquet as 'voxelomics extract' writes it (provenance metadata, extras)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from voxelomics.features.registry import readable_to_ibsi

    names = [c for c in readable_to_ibsi() if c.startswith("statistics_")][:5]
    if filtered:  # response-map features carry their filter's prefix
        names += [f"log_s1.5mm_{names[0]}", f"wavelet_coif1_llh_{names[1]}"]
    rng = np.random.default_rng(1)
    df = pd.DataFrame(rng.normal(size=(n, len(names))), columns=names)
    df.insert(0, "case_id", [f"c{i}" for i in range(n)])
    df.insert(1, "roi", "1")
    df.insert(2, "image_type", "original")
    df["outcome"] = (df[names[0]] > 0).astype(int)  # manifest extra columns come last
    df["centre"] = np.arange(n) % 2
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = {**(table.schema.metadata or {}), b"voxelomics.settings_hash": b"abc",
            b"voxelomics.naming": b"readable"}
    pq.write_table(table.replace_schema_metadata(meta), path)
    return names


def test_extraction_table_uses_only_its_feature_columns(tmp_path):
    names = _extraction_table(tmp_path / "features.parquet")
    res = _ok(_run("cv", tmp_path / "features.parquet", "--target", "outcome",
                   "--out", tmp_path / "o", *FAST))
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert m["n_features"] == len(names)
    dropped = {d["column"]: d["reason"] for d in m["dropped_columns"]}
    assert dropped["centre"].startswith("not a radiomic feature of the extraction")
    assert "centre (not a radiomic feature" in res.output


def test_extraction_table_with_filtered_features_uses_them(tmp_path):
    names = _extraction_table(tmp_path / "features.parquet", filtered=True)
    _ok(_run("cv", tmp_path / "features.parquet", "--target", "outcome", "--out", tmp_path / "o", *FAST))
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert m["n_features"] == len(names) == 7


def test_role_and_excluded_columns_are_never_features(tables, tmp_path):
    df = _table()
    df["os_months"] = np.linspace(1, 60, len(df))
    df["death"] = np.arange(len(df)) % 2
    df["pid"] = np.arange(len(df))  # a numeric join column
    df.to_csv(tmp_path / "t.csv", index=False)
    res = _ok(_run("fit", tmp_path / "t.csv", "--time", "os_months", "--event", "death",
                   "--model", "coxnet", "--out", tmp_path / "m0"))
    assert "['Target'] are named like an outcome" not in res.output  # text: not a feature
    df.assign(Target=(df["Target"] == "yes").astype(int)).to_csv(tmp_path / "t1.csv", index=False)
    res = _ok(_run("fit", tmp_path / "t1.csv", "--time", "os_months", "--event", "death",
                   "--model", "coxnet", "--out", tmp_path / "m1"))
    assert "column(s) ['Target'] are named like an outcome" in res.output
    pd.DataFrame({"pid": df["pid"], "y": df["Target"]}).to_csv(tmp_path / "clin.csv", index=False)
    res = _ok(_run("fit", tmp_path / "t1.csv", "--clinical", tmp_path / "clin.csv", "--on", "pid",
                   "--target", "y", "--exclude", "Target", "--exclude", "os_months",
                   "--exclude", "death", "--model", "enet_lr", "--out", tmp_path / "m2"))
    meta = json.loads((tmp_path / "m2" / "model.json").read_text())
    assert meta["features"] == [f"f{i}" for i in range(6)] + ["site"]
    assert "not used as features" not in res.output  # --exclude is not warned about
    _fail(_run("fit", tmp_path / "t1.csv", "--target", "Target", "--exclude", "Death",
               "--out", tmp_path / "m3"), r"--exclude column 'Death' not found \(did you mean 'death'\?\)")


# 6. outcome options ---------------------------------------------------------------------

def test_target_with_survival_and_degenerate_time(tmp_path):
    df = _table().assign(t=5.0, e=[1, 0] * 30)
    df.to_csv(tmp_path / "t.csv", index=False)
    _fail(_run("cv", tmp_path / "t.csv", "--target", "Target", "--time", "t", "--event", "e",
               "--out", tmp_path / "o"), r"give either --target \(classification\) or --time")
    _fail(_run("cv", tmp_path / "t.csv", "--time", "t", "--event", "e", "--out", tmp_path / "o"),
          r"time column 't' holds the same value \(5\) in all 60 rows")
    with pytest.raises(ModelError, match="every event happens at the longest follow-up time"):
        prepare_data(df.assign(t=np.where(df["e"] == 1, 9.0, 2.0)), time="t", event="e")
    with pytest.raises(ModelError, match="holds no event"):
        prepare_data(df.assign(e=0, t=np.arange(60.0)), time="t", event="e")


# 7. validation warnings ------------------------------------------------------------------

def test_validate_warns_about_meaningless_checks(tmp_path):
    df = _table(n=80)
    train, ext = df.iloc[:60], df.iloc[60:]
    train.to_csv(tmp_path / "train.csv", index=False)
    _ok(_run("fit", tmp_path / "train.csv", "--target", "Target", "--model", "enet_lr",
             "--out", tmp_path / "m"))
    res = _ok(_run("validate", tmp_path / "m", tmp_path / "train.csv", "--target", "Target",
                   "--out", tmp_path / "v1", "--no-plots"))
    assert "validation table is the table the model was trained on" in res.output
    small = pd.concat([ext[ext["Target"] == "yes"].iloc[:1], ext[ext["Target"] == "no"].iloc[:5]])
    small.to_csv(tmp_path / "small.csv", index=False)
    res = _ok(_run("validate", tmp_path / "m", tmp_path / "small.csv", "--target", "Target",
                   "--out", tmp_path / "v2", "--no-plots"))
    m = json.loads((tmp_path / "v2" / "metrics.json").read_text())
    assert any("only 1 row(s) of class 'yes' (6 rows in all)" in w for w in m["warnings"])
    assert "warning: the validation table has only 1 row(s)" in res.output
    pd.concat([ext, train.iloc[:4]]).to_csv(tmp_path / "overlap.csv", index=False)
    res = _ok(_run("validate", tmp_path / "m", tmp_path / "overlap.csv", "--target", "Target",
                   "--out", tmp_path / "v3", "--no-plots"))
    assert "4 of the 24 validation identifier(s) (column 'ID') were also in the training" in res.output
    pred = pd.read_csv(tmp_path / "v3" / "predictions.csv")
    assert list(pred.columns) == ["id", "observed", "probability", "predicted_class",
                                  "baseline_anova16_lr"]
    assert pred["observed"].tolist() == pd.concat([ext, train.iloc[:4]])["Target"].tolist()


# 8. messages ------------------------------------------------------------------------------

def test_clearer_messages(tmp_path):
    df = _table()
    df.iloc[:0].to_parquet(tmp_path / "empty.parquet")
    _fail(_run("cv", tmp_path / "empty.parquet", "--target", "Target", "--out", tmp_path / "o"),
          "the table has no rows")
    df.to_csv(tmp_path / "t.csv", index=False)
    for opt in ("--target", "--id", "--batch"):
        _fail(_run("cv", tmp_path / "t.csv", opt, "target" if opt != "--batch" else "Site",
                   *(["--target", "Target"] if opt != "--target" else []), "--out", tmp_path / "o"),
              rf"{opt} column '\w+' not found \(did you mean '(Target|site)'\?\)")
    with pytest.raises(ModelError, match=r"--time column 'os' not found \(columns: "):
        prepare_data(df, time="os", event="Target")
    _fail(_run("cv", tmp_path / "t.csv", "--clinical", tmp_path / "t.csv", "--on", "id",
               "--target", "Target", "--out", tmp_path / "o"), r"did you mean 'ID'\?")
    with pytest.raises(ModelError, match=r"too few members of the minority class \(3\) for "
                                         r"nested cross-validation with 2 outer folds.*--folds 3"):
        check_cv_target(np.array([1] * 3 + [0] * 20), "classification", 2, inner_splits=2)
    _ok(_run("fit", tmp_path / "t.csv", "--target", "Target", "--model", "enet_lr",
             "--out", tmp_path / "m"))
    _fail(_run("validate", tmp_path / "m", tmp_path / "t.csv", "--out", tmp_path / "v"),
          r"this model was trained for classification: give --target COL")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["training"]["class_balance"].keys() == {"no", "yes"}


# 9. settings and prediction files ----------------------------------------------------------

def test_unknown_settings_key_lists_valid_keys(tmp_path):
    (tmp_path / "s.yaml").write_text("model:\n  n_split: 3\n  n_boot: 10\n")
    with pytest.raises(SettingsError, match=r"unknown key\(s\) 'n_split' \(did you mean "
                                            r"'n_splits'\?\); valid keys: model, selector.*"
                                            r"unseen_batch, baselines, n_jobs; also n_boot"):
        load_model_settings(tmp_path / "s.yaml")


def test_oof_predictions_hold_the_observed_outcome(tmp_path):
    df = _table()
    df.to_csv(tmp_path / "t.csv", index=False)
    _ok(_run("cv", tmp_path / "t.csv", "--target", "Target", "--out", tmp_path / "o", *FAST))
    oof = pd.read_csv(tmp_path / "o" / "oof_predictions.csv")
    assert list(oof.columns) == ["id", "repeat", "fold", "observed", "predicted",
                                 "baseline_anova16_lr"]
    assert oof["observed"].tolist() == df["Target"].tolist()
    assert set(oof["fold"]) == {0, 1, 2} and set(oof["repeat"]) == {0}
    from voxelomics.model.results import oof_wide

    wide = oof_wide(oof)
    assert list(wide.columns) == ["id", "observed", "repeat_0"]
    assert wide["repeat_0"].tolist() == oof["predicted"].tolist()
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert m["classes"] == ["no", "yes"] and set(m["class_balance"]) == {"no", "yes"}
