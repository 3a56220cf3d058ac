"""Small synthetic feature + clinical tables for the modelling tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """A feature table (Parquet) and a clinical table (CSV) joined on ``case_id``.

    Two sites shift all features (a batch effect for ComBat); the outcome depends on
    ``f0`` and ``f1``; survival times depend on ``f0``.
    """
    d = tmp_path_factory.mktemp("tables")
    rng = np.random.default_rng(7)
    n, p = 90, 12
    X = rng.normal(size=(n, p))
    site = np.where(np.arange(n) % 3 == 0, "B", "A")
    lp = X[:, 0] + X[:, 1]
    y = (lp + 0.5 * rng.normal(size=n) > 0).astype(int)
    X[site == "B"] += 1.5  # scanner shift
    ids = [f"P{i:03d}" for i in range(n)]
    feats = pd.DataFrame(X, columns=[f"f{i}" for i in range(p)])
    feats.insert(0, "case_id", ids)
    feats.insert(1, "roi", "GTV")
    time = rng.exponential(np.exp(-X[:, 0] + 1.5 * (site == "B")) * 100)
    event = rng.uniform(size=n) < 0.7
    clin = pd.DataFrame({"case_id": ids, "outcome": np.where(y == 1, "malignant", "benign"),
                         "site": site, "time": time, "event": event.astype(int)})
    feats.to_parquet(d / "features.parquet")
    clin.to_csv(d / "clinical.csv", index=False)
    return d
