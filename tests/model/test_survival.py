"""Survival on scikit-survival's bundled GBSG2 breast-cancer data (no download)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from voxelomics.model.estimators import make_pipeline
from voxelomics.model.survival import (
    event_field,
    harrell_c,
    logrank_split,
    time_dependent_auc,
    time_field,
    uno_c,
)
from voxelomics.model.validation import nested_cv


@pytest.fixture(scope="module")
def gbsg2():
    from sksurv.datasets import load_gbsg2
    from sksurv.preprocessing import OneHotEncoder

    X, y = load_gbsg2()
    X = OneHotEncoder().fit_transform(X).astype(float)
    return X, y


def test_cox_c_index_agrees_with_lifelines(gbsg2):
    lifelines_utils = pytest.importorskip("lifelines.utils")
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    X, y = gbsg2
    cox = CoxPHSurvivalAnalysis().fit(X, y)
    risk = cox.predict(X)
    ours = harrell_c(y, risk)
    theirs = lifelines_utils.concordance_index(time_field(y), -risk, event_field(y))
    assert ours == pytest.approx(theirs, abs=1e-9)
    assert ours == pytest.approx(cox.score(X, y), abs=1e-12)
    assert 0.65 < ours < 0.75  # GBSG2 Cox models reach about 0.69 (apparent)


def test_cox_coefficients_agree_with_lifelines(gbsg2):
    lifelines = pytest.importorskip("lifelines")
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    X, y = gbsg2
    ours = CoxPHSurvivalAnalysis(ties="breslow").fit(X, y).coef_
    df = X.assign(T=time_field(y), E=event_field(y).astype(int))
    ref = lifelines.CoxPHFitter().fit(df, "T", "E").params_[X.columns].to_numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("model", ["coxnet", "rsf"])
def test_nested_cv_survival(gbsg2, model):
    X, y = gbsg2
    pipe, grid = make_pipeline(model)
    if model == "rsf":  # keep the test fast: fewer trees, one candidate
        pipe.set_params(clf__n_estimators=40)
        grid = [{"clf__max_features": ["sqrt"]}]
    res = nested_cv(X, y, pipe, grid, task="survival", n_splits=3, n_repeats=1,
                    inner_splits=3, n_boot=50)
    for key in ("c_index", "uno_c_index", "td_auc"):
        m = res.metrics[key]
        assert m["ci95"][0] <= m["mean"] <= m["ci95"][1]
    assert 0.6 < res.metrics["c_index"]["mean"] < 0.8
    assert res.metrics["c_index"]["ci95"][0] > 0.5


def test_metrics_on_perfect_and_random_risk(gbsg2):
    _, y = gbsg2
    perfect = -time_field(y)
    assert harrell_c(y, perfect) == pytest.approx(1.0, abs=1e-3)  # tied times count one half
    assert uno_c(y, perfect) == pytest.approx(1.0, abs=1e-3)  # tied times count one half
    rng = np.random.default_rng(0)
    mean_auc, times, auc = time_dependent_auc(y, rng.normal(size=len(y)))
    assert times.size == 3 and abs(mean_auc - 0.5) < 0.1
    high, p = logrank_split(y, perfect)
    assert high.sum() in (len(y) // 2, len(y) - len(y) // 2) and p < 1e-6
    assert pd.notna(p)
