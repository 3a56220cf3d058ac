"""skops persistence: round trip, and refusal of files naming untrusted types."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from voxelomics.errors import ModelError
from voxelomics.model.estimators import make_pipeline
from voxelomics.model.persist import load_model, save_model, training_summary


def test_round_trip_with_our_estimators(tmp_path):
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 2, 60), rng.normal(size=(60, 8))])
    y = (X[:, 1] > 0).astype(int)
    pipe, _ = make_pipeline("enet_lr", batch=True)  # ComBat + CorrelationFilter + selector
    pipe.fit(X, y)
    meta = {"task": "classification", "features": [f"f{i}" for i in range(8)],
            "training": training_summary(X[:, 1:], y, [f"f{i}" for i in range(8)], "classification")}
    save_model(pipe, meta, tmp_path)
    loaded = load_model(tmp_path)
    np.testing.assert_array_equal(loaded.estimator.predict_proba(X), pipe.predict_proba(X))
    side = json.loads((tmp_path / "model.json").read_text())
    assert side["training"]["features"]["f0"]["mean"] == pytest.approx(X[:, 1].mean())
    assert side["training"]["class_balance"] == {"0": int((y == 0).sum()), "1": int(y.sum())}


def test_untrusted_type_is_refused(tmp_path):
    evil = Pipeline([("f", FunctionTransformer(os.system))])
    sio.dump(evil, tmp_path / "model.skops")
    (tmp_path / "model.json").write_text("{}")
    with pytest.raises(ModelError, match="untrusted types .*system"):
        load_model(tmp_path)


def test_bad_sidecar(tmp_path):
    sio.dump(Pipeline([("f", FunctionTransformer())]), tmp_path / "model.skops")
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(ModelError, match="sidecar is not valid JSON"):
        load_model(tmp_path)
