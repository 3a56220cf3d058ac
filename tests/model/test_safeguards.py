"""Comparators and Welch et al. safeguards in every result (issue 15)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from voxelomics.model.cli import model_app
from voxelomics.model.join import find_volume_column
from voxelomics.model.safeguards import nogueira_stability

FAST = ["--folds", "3", "--repeats", "1", "--inner-folds", "3", "--no-plots"]


def _run(*args):
    res = CliRunner().invoke(model_app, [str(a) for a in args])
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res


def _radiomic_table(driver: str, n: int = 150, seed: int = 0) -> pd.DataFrame:
    """A feature table as ``voxelomics extract`` names it: volume, shape and texture.

    ``driver="volume"``: the outcome depends on the tumour volume only (several shape and
    texture features are volume surrogates, as in real tables). ``driver="texture"``: on
    two texture features independent of volume.
    """
    rng = np.random.default_rng(seed)
    log_vol = rng.normal(9.0, 1.0, n)
    cols = {"case_id": [f"P{i:03d}" for i in range(n)],
            "morphology_volume": np.exp(log_vol)}
    for k in range(4):  # volume surrogates (run-length / zone-size non-uniformity ...)
        cols[f"glrlm_rlnu_{k}"] = np.exp(log_vol + rng.normal(0, 0.3, n))
    tex = rng.normal(size=(n, 16))
    for k in range(16):
        cols[f"glcm_feature_{k}"] = tex[:, k]
    lp = (1.6 * (log_vol - 9.0) if driver == "volume" else 1.3 * tex[:, 0] - 1.3 * tex[:, 1])
    cols["outcome"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-lp))).astype(int)
    return pd.DataFrame(cols)


def test_volume_names_are_recognised():
    assert find_volume_column(["glcm_x", "morphology_volume"]) == "morphology_volume"
    assert find_volume_column(["a", "CT_original_shape_MeshVolume",
                               "CT_original_shape_SurfaceVolumeRatio"]) == "CT_original_shape_MeshVolume"
    assert find_volume_column(["a", "b"]) is None


@pytest.mark.parametrize(("driver", "flagged"), [("volume", True), ("texture", False)])
def test_a_signature_that_does_not_beat_volume_is_flagged(tmp_path, driver, flagged):
    _radiomic_table(driver).to_csv(tmp_path / "t.csv", index=False)
    res = _run("cv", tmp_path / "t.csv", "--target", "outcome", "--out", tmp_path / "o", *FAST)
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    vol = m["comparators"]["volume"]
    assert vol["inputs"] == ["morphology_volume"]
    assert "volume       auc" in res.output and "difference" in res.output
    assert m["flags"]["does_not_beat_volume"] is flagged
    assert m["safeguards"]["volume_column"] == "morphology_volume"
    if flagged:
        assert vol["auc"]["ci95"][0] > 0.6  # volume alone predicts it
        assert "does not beat tumour volume alone" in res.output
        assert m["flags"]["signature_mostly_volume"] is True
        assert any(f["volume_surrogate"] for f in m["safeguards"]["features"])
    else:
        assert vol["difference"]["auc"]["ci95"][0] > 0 and vol["model_better"] is True
        assert m["flags"]["signature_mostly_volume"] is False
        assert "does not beat" not in res.output


def test_batch_that_predicts_the_outcome_is_flagged(tmp_path):
    df = _radiomic_table("texture")
    rng = np.random.default_rng(5)
    df["scanner"] = np.where(rng.uniform(size=len(df)) < 0.85, df["outcome"], 1 - df["outcome"])
    df["scanner"] = df["scanner"].map({0: "GE", 1: "Siemens"})
    df.to_csv(tmp_path / "t.csv", index=False)
    res = _run("cv", tmp_path / "t.csv", "--target", "outcome", "--batch", "scanner",
               "--out", tmp_path / "o", *FAST)
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert m["flags"]["batch_predicts_outcome"] is True
    assert m["comparators"]["batch"]["auc"]["ci95"][0] > 0.5
    assert "batch alone predicts the outcome" in res.output


def test_fixed_baselines_run_on_the_same_folds(tmp_path):
    df = _radiomic_table("texture", n=90)
    df.to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "s.yaml").write_text("baselines: [anova16_lr, lasso16_lr, et32_rf]\n")
    _run("cv", tmp_path / "t.csv", "--target", "outcome", "--settings", tmp_path / "s.yaml",
         "--out", tmp_path / "o", *FAST)
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert set(m["comparators"]) == {"anova16_lr", "lasso16_lr", "et32_rf"}
    oof = pd.read_csv(tmp_path / "o" / "oof_predictions.csv")
    assert {"baseline_anova16_lr", "baseline_lasso16_lr", "baseline_et32_rf"} <= set(oof.columns)
    from voxelomics.model.metrics import roc_auc

    y = (oof["observed"] == 1).to_numpy()
    for name in ("anova16_lr", "et32_rf"):
        assert m["comparators"][name]["auc"]["mean"] == pytest.approx(
            roc_auc(y, oof[f"baseline_{name}"].to_numpy()))
        d = m["comparators"][name]["difference"]["auc"]
        assert d["mean"] == pytest.approx(m["auc"]["mean"] - m["comparators"][name]["auc"]["mean"])


def test_selection_stability_and_fold_records(tmp_path):
    _radiomic_table("texture", n=120).to_csv(tmp_path / "t.csv", index=False)
    _run("cv", tmp_path / "t.csv", "--target", "outcome", "--out", tmp_path / "o", *FAST)
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert len(m["folds"]) == 3
    for rec in m["folds"]:
        assert set(rec) >= {"repeat", "fold", "n_train", "n_test", "params", "features"}
        assert set(rec["features"]) == {"linear", "forest", "extra_trees"}
    st = m["selection_stability"]["linear"]
    assert st["frequency"]["glcm_feature_0"] == 1.0 and st["frequency"]["glcm_feature_1"] == 1.0
    assert {"glcm_feature_0", "glcm_feature_1"} <= set(m["safeguards"]["signature"])


def test_nogueira_stability_index():
    assert nogueira_stability([["a", "b"], ["a", "b"], ["a", "b"]], 10) == pytest.approx(1.0)
    # two disjoint halves of 4 features, k = 2 each: s_f^2 = 2/1 * 1/2 * 1/2 = 0.5 for every
    # feature; k/p (1 - k/p) = 1/4; stability 1 - 0.5/0.25 = -1
    assert nogueira_stability([["a", "b"], ["c", "d"]], 4) == pytest.approx(-1.0)
    assert np.isnan(nogueira_stability([["a"]], 4))


def test_clinical_comparator_uses_the_clinical_variables_only(tmp_path):
    df = _radiomic_table("texture", n=90)
    rng = np.random.default_rng(2)
    clin = pd.DataFrame({
        "case_id": df["case_id"], "outcome": df["outcome"],
        "age": rng.normal(60, 10, 90).round(), "sex": rng.choice(["F", "M"], 90),
        "stage": rng.choice(["I", "II", "III"], 90), "os_time": rng.exponential(20, 90)})
    df.drop(columns="outcome").to_csv(tmp_path / "f.csv", index=False)
    clin.to_csv(tmp_path / "c.csv", index=False)
    res = _run("cv", tmp_path / "f.csv", "--clinical", tmp_path / "c.csv", "--on", "case_id",
               "--target", "outcome", "--out", tmp_path / "o", *FAST)
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    c = m["comparators"]["clinical"]
    assert c["inputs"] == ["age", "sex=M", "stage=II", "stage=III"]
    assert c["left_out"] == {"os_time": "named like an outcome"}
    assert "clinical     auc" in res.output
    assert m["n_features"] == 21  # clinical columns are not features of the model


def test_cv_on_an_extracted_feature_table_prints_the_volume_comparator(tmp_path):
    """A features.parquet as ``voxelomics extract`` writes it (provenance metadata kept)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from testdata import IBSI1
    from voxelomics.extract import extract_case
    from voxelomics.io.manifest import Case
    from voxelomics.settings import load_preset

    phantom = IBSI1 / "digital_phantom"
    row = extract_case(Case(case_id="dp0", image=phantom / "image" / "phantom.nii.gz",
                            mask=phantom / "mask" / "mask.nii.gz"), load_preset("ibsi-digital"))
    rng = np.random.default_rng(0)
    n = 60
    rows = pd.DataFrame([row] * n)
    feats = [c for c in rows.columns if c.startswith(("morphology_", "glcm_", "statistics_"))]
    rows[feats] = rows[feats].to_numpy(float) * rng.uniform(0.5, 1.5, (n, len(feats)))
    rows = rows.copy().assign(
        case_id=[f"P{i:02d}" for i in range(n)],
        outcome=(rows["morphology_volume"] > rows["morphology_volume"].median()).astype(int))
    table = pa.Table.from_pandas(rows, preserve_index=False)
    table = table.replace_schema_metadata({b"voxelomics.settings_hash": b"test"})
    pq.write_table(table, tmp_path / "features.parquet")
    res = _run("cv", tmp_path / "features.parquet", "--target", "outcome", "--out",
               tmp_path / "o", *FAST)
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert m["comparators"]["volume"]["inputs"] == ["morphology_volume"]
    assert "volume       auc" in res.output and "difference" in res.output
    assert m["flags"]["does_not_beat_volume"] is True  # the outcome is the volume
