"""``voxelomics deep``: every command end to end on the tiny cohort, and its errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from voxelomics.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def settings_file(tiny_settings, tmp_path_factory):
    path = tmp_path_factory.mktemp("settings") / "deep.yaml"
    data = tiny_settings.replace(train__epochs=2).model_dump(mode="json")
    path.write_text(yaml.safe_dump({"deep": data}))
    return path


def _run(*args):
    res = runner.invoke(app, [str(a) for a in args])
    return res


def test_cv_train_predict_features_explain(cohort_dir, settings_file, tmp_path):
    manifest = cohort_dir / "manifest.csv"
    cache = tmp_path / "crops"
    res = _run("deep", "cv", manifest, "--target", "y", "--out", tmp_path / "cv", "--settings",
               settings_file, "--baseline", "size_mm", "--cache", cache, "--no-progress")
    assert res.exit_code == 0, res.output
    assert "baseline:size_mm" in res.output and "deep - baseline:size_mm" in res.output
    metrics = json.loads((tmp_path / "cv" / "metrics.json").read_text())
    assert metrics["settings"]["train"]["epochs"] == 2 and metrics["crops"]["n_reused"] == 0

    res = _run("deep", "train", manifest, "--target", "y", "--out", tmp_path / "model", "--settings",
               settings_file, "--cache", cache, "--epochs", "3", "--no-progress")
    assert res.exit_code == 0, res.output
    meta = json.loads((tmp_path / "model" / "model.json").read_text())
    assert meta["task"] == "classification" and meta["settings"]["train"]["epochs"] == 3
    assert not (tmp_path / "model" / "checkpoint.pt").exists()

    res = _run("deep", "predict", tmp_path / "model", manifest, "--out", tmp_path / "pred.csv",
               "--cache", cache, "--no-progress")
    assert res.exit_code == 0, res.output
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert list(pred.columns) == ["case_id", "roi", "probability", "predicted_class"] and len(pred) == 24

    res = _run("deep", "features", manifest, "--model", tmp_path / "model", "--out",
               tmp_path / "f" / "deep.parquet", "--cache", cache, "--no-progress")
    assert res.exit_code == 0, res.output
    assert "were in the training set" in res.output  # the honest warning
    assert pd.read_parquet(tmp_path / "f" / "deep.parquet").shape[0] == 24

    for method in ("gradcam", "occlusion"):
        res = _run("deep", "explain", tmp_path / "model", manifest, "--out", tmp_path / "sal",
                   "--case", "c01", "--method", method, "--cache", cache, "--no-progress")
        assert res.exit_code == 0, res.output
        assert (tmp_path / "sal" / f"c01_1_{method}.png").stat().st_size > 1000


def test_settings_command_and_bad_settings(tmp_path):
    res = _run("deep", "settings")
    assert res.exit_code == 0 and "crop:" in res.output and "# crop hash:" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epoch: 3\n")
    res = _run("deep", "cv", tmp_path / "m.csv", "--target", "y", "--out", tmp_path / "o", "--settings", bad)
    assert res.exit_code == 2 and "did you mean 'epochs'" in res.output


def test_bad_checkpoint_exits_2_with_the_reason(cohort_dir, tmp_path):
    import torch

    torch.save({"conv.weight": torch.zeros(2, 2)}, tmp_path / "w.pt")
    res = _run("deep", "features", cohort_dir / "manifest.csv", "--weights", tmp_path / "w.pt",
               "--arch", "small_cnn", "--out", tmp_path / "f.parquet")
    assert res.exit_code == 2 and "does not fit architecture 'small_cnn'" in res.output


def test_saliency_explains_both_sides_of_a_binary_output(cohort_dir, tiny_settings, tmp_path):
    """Grad-CAM of class 1 and of class 0 (the logit's two signs): one of them is never all 0."""
    import numpy as np

    from voxelomics.deep.persist import load_deep_model
    from voxelomics.deep.saliency import saliency_map
    from voxelomics.deep.workflow import load_cohort, train_model

    train_model(cohort_dir / "manifest.csv", tiny_settings.replace(train__epochs=4), tmp_path / "m",
                target="y", progress=False)
    saved = load_deep_model(tmp_path / "m")
    crops = load_cohort(cohort_dir / "manifest.csv", saved.settings, progress=False).arrays
    for crop in crops[:4]:
        maps = [saliency_map(saved.net, crop, class_idx=k) for k in (0, 1)]
        assert all(m.shape == crop.shape[1:] and m.min() >= 0 and m.max() <= 1 for m in maps)
        assert max(m.max() for m in maps) == 1.0
        predicted = saliency_map(saved.net, crop)  # the predicted side by default
        assert predicted.max() == 1.0 and np.isfinite(predicted).all()
