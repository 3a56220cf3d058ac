"""A score applied unchanged to another cohort: Cox hazard ratios, log-rank, AUC and the
training cut-off, checked against lifelines, scikit-learn and a simulation with a known
hazard ratio."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.statistics import logrank_test
from sklearn.metrics import roc_auc_score

from voxelomics.errors import ModelError
from voxelomics.model.cox import cox_univariable, hazard_ratio
from voxelomics.model.score import binary_association, survival_association, training_score


def _cph(df: pd.DataFrame, time: str, event: str) -> CoxPHFitter:
    """lifelines' Cox fit (Efron ties), converged tightly: its default stopping rule leaves
    the estimate about 1e-5 from the maximum of the partial likelihood."""
    return CoxPHFitter().fit(df, time, event, fit_options={"precision": 1e-12})


def _cohort(n=180, seed=0, beta=0.4, ties=True):
    rng = np.random.default_rng(seed)
    x = rng.normal(3.0, 2.0, n)
    t = rng.exponential(np.exp(-beta * x) * 40)
    if ties:
        t = np.ceil(t)  # whole months: many tied event times
    c = rng.uniform(5, 60, n)
    return x, np.minimum(t, c), (t <= c).astype(int)


@pytest.mark.parametrize("ties", [True, False])
def test_cox_equals_lifelines(ties):
    x, t, e = _cohort(ties=ties)
    ours = cox_univariable(x, t, e)
    cph = _cph(pd.DataFrame({"x": x, "t": t, "e": e}), "t", "e")
    row = cph.summary.loc["x"]
    assert ours["coef"] == pytest.approx(row["coef"], rel=1e-7)
    assert ours["se"] == pytest.approx(row["se(coef)"], rel=1e-7)
    assert ours["p_value"] == pytest.approx(row["p"], rel=1e-6)
    assert ours["ci95"][0] == pytest.approx(row["exp(coef) lower 95%"], rel=1e-7)
    assert ours["ci95"][1] == pytest.approx(row["exp(coef) upper 95%"], rel=1e-7)
    assert ours["lr_p_value"] == pytest.approx(cph.log_likelihood_ratio_test().p_value, rel=1e-6)
    # per SD: the same model on the standardised score
    sd = np.std(x, ddof=1)
    per_sd = hazard_ratio(ours, sd)
    cph_sd = _cph(pd.DataFrame({"z": x / sd, "t": t, "e": e}), "t", "e")
    assert per_sd["hr"] == pytest.approx(cph_sd.hazard_ratios_["z"], rel=1e-7)
    assert per_sd["ci95"][1] == pytest.approx(cph_sd.summary.loc["z", "exp(coef) upper 95%"],
                                              rel=1e-7)


def test_cox_of_a_group_indicator_and_errors():
    x, t, e = _cohort(seed=3)
    g = (x > np.median(x)).astype(float)
    ours = cox_univariable(g, t, e)
    cph = _cph(pd.DataFrame({"g": g, "t": t, "e": e}), "t", "e")
    assert ours["hr"] == pytest.approx(cph.hazard_ratios_["g"], rel=1e-7)
    # a group without events: the hazard ratio is 0, not estimable
    e2 = np.where(g == 1, 0, e)
    assert not cox_univariable(g, t, e2)["converged"]
    with pytest.raises(ModelError, match="at least one event"):
        cox_univariable(x, t, np.zeros_like(e))
    with pytest.raises(ModelError, match="constant"):
        cox_univariable(np.ones_like(x), t, e)


def test_cox_confidence_intervals_cover_the_true_hazard_ratio():
    """1000 simulated cohorts of 120 patients with a true log hazard ratio of 0.4 per unit:
    the Wald 95% CI holds it in about 95% of them (measured: 94.1%; the bounds are about
    three binomial standard errors, 0.007, either side of 95%)."""
    hits = 0
    n_cohorts = 1000
    for seed in range(n_cohorts):
        x, t, e = _cohort(n=120, seed=1000 + seed, beta=0.4, ties=False)
        lo, hi = cox_univariable(x, t, e)["ci95"]
        hits += lo <= np.exp(0.4) <= hi
    assert 0.93 <= hits / n_cohorts <= 0.97


def test_survival_association_against_lifelines_and_by_hand():
    x, t, e = _cohort(seed=5, beta=-0.3)
    cutoff = 3.4  # fixed elsewhere (the training cohort), not the median of this cohort
    res = survival_association(t, e, x, cutoff=cutoff, n_boot=200)
    high = x > cutoff
    lr = logrank_test(t[high], t[~high], e[high], e[~high])
    assert res["logrank"]["p_value"] == pytest.approx(lr.p_value, rel=1e-6)
    assert res["logrank"]["chi2"] == pytest.approx(lr.test_statistic, rel=1e-6)
    assert res["groups"]["high"] == {"n": int(high.sum()), "events": int(e[high].sum()),
                                     "median_survival": res["groups"]["high"]["median_survival"]}
    for k, tk in enumerate(res["at_risk"]["time"]):
        assert res["at_risk"]["high"][k] == int((t[high] >= tk).sum())
        assert res["at_risk"]["low"][k] == int((t[~high] >= tk).sum())
    cph = _cph(pd.DataFrame({"g": high.astype(float), "t": t, "e": e}), "t", "e")
    assert res["hr_high_vs_low"]["hr"] == pytest.approx(cph.hazard_ratios_["g"], rel=1e-7)
    assert res["hr_per_sd"]["sd"] == pytest.approx(np.std(x, ddof=1))
    assert res["hr_per_sd"]["hr"] == pytest.approx(res["hr_per_unit"]["hr"] ** res["hr_per_sd"]["sd"])
    assert res["direction"].startswith("a higher score goes with a lower hazard")
    assert res["c_index"]["mean"] < 0.5 and res["c_index"]["ci95"][1] < 0.5
    # every patient on one side of the cut-off: no group comparison, said so
    res = survival_association(t, e, x, cutoff=x.max() + 1, n_boot=50)
    assert res["logrank"] is None and "every patient" in res["notes"][0]


def test_binary_association_against_sklearn():
    rng = np.random.default_rng(2)
    s = rng.normal(size=150)
    y = (s + rng.normal(size=150) > 0.3).astype(int)
    vol = s + 2 * rng.normal(size=150)
    res = binary_association(y, s, classes=["no", "yes"], n_boot=500, comparators={"volume": vol})
    assert res["auc"]["mean"] == pytest.approx(roc_auc_score(y, s))
    assert res["auc"]["ci95"][0] < res["auc"]["mean"] < res["auc"]["ci95"][1]
    assert res["class_balance"] == {"no": int((y == 0).sum()), "yes": int((y == 1).sum())}
    c = res["comparators"]["volume"]
    assert c["auc"]["mean"] == pytest.approx(roc_auc_score(y, vol))
    assert c["difference"]["auc"]["mean"] == pytest.approx(roc_auc_score(y, s) - roc_auc_score(y, vol))
    assert c["model_better"] is True


def test_training_cutoff():
    s = np.array([1.0, 2.0, 3.0, 10.0])
    sc = training_score(s, task="regression", name="CD8_score")
    assert sc["cutoff"]["value"] == 2.5 and "training" in sc["cutoff"]["rule"]
    assert sc["name"] == "CD8_score" and sc["training"]["median"] == 2.5
    assert training_score(s, task="regression", cutoff="4")["cutoff"]["value"] == 4.0
    assert training_score(s, task="regression")["name"] == "predicted"
    with pytest.raises(ModelError, match="--score-cutoff"):
        training_score(s, task="regression", cutoff="mean")
    with pytest.raises(ModelError, match="clashes"):
        training_score(s, task="regression", name="observed")


# --- end to end: fit a score on one table, validate it unchanged on another ------------------

def _tables(tmp_path, n=110, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for name, k in (("train", n), ("val", n)):
        X = rng.normal(size=(k, 10))
        truth = X[:, 0] + 0.6 * X[:, 1] + 0.5 * rng.normal(size=k)
        feats = pd.DataFrame(X, columns=[f"f{i}" for i in range(10)])
        feats.insert(0, "case_id", [f"{name}{i:03d}" for i in range(k)])
        feats["morphology_volume"] = np.exp(rng.normal(9, 1, k))
        clin = pd.DataFrame({"case_id": feats["case_id"]})
        if name == "train":
            clin["cd8"] = 5 + truth
        else:
            clin["response"] = np.where(truth + rng.normal(size=k) > 0, "yes", "no")
            time = rng.exponential(np.exp(-0.6 * truth) * 20)
            cens = rng.uniform(5, 40, k)
            clin["os"] = np.minimum(time, cens)
            clin["death"] = (time <= cens).astype(int)
        feats.to_csv(tmp_path / f"{name}.csv", index=False)
        clin.to_csv(tmp_path / f"{name}_clin.csv", index=False)
        out[name] = (feats, clin)
    return out


@pytest.fixture(scope="module")
def score_model(tmp_path_factory):
    from voxelomics.model.config import ModelSettings
    from voxelomics.model.workflow import TableSpec, fit_model

    d = tmp_path_factory.mktemp("score")
    _tables(d)
    spec = TableSpec(table=d / "train.csv", clinical=d / "train_clin.csv", on="case_id",
                     target="cd8")
    meta = fit_model(spec, ModelSettings(inner_splits=3, inner_repeats=1, n_boot=200), d / "m",
                     score_name="CD8_score")
    return d, meta


def test_validate_score_end_to_end(score_model):
    from voxelomics.model.workflow import TableSpec, predict_table, validate_model

    d, meta = score_model
    assert meta["task"] == "regression" and meta["score"]["name"] == "CD8_score"
    saved = json.loads((d / "m" / "model.json").read_text())
    cutoff = saved["score"]["cutoff"]["value"]
    spec = TableSpec(table=d / "val.csv", clinical=d / "val_clin.csv", on="case_id",
                     target="response", time="os", event="death")
    m = validate_model(d / "m", spec, d / "v", n_boot=300)
    assert m["schema"] == "voxelomics.model.validate_score/1"
    pred = pd.read_csv(d / "v" / "predictions.csv")
    assert list(pred.columns[:5]) == ["id", "observed", "observed_time", "observed_event", "CD8_score"]
    # the score is the saved model's prediction, unchanged
    alone = predict_table(d / "m", TableSpec(table=d / "val.csv"))
    assert np.allclose(alone["CD8_score"], pred["CD8_score"])
    # the groups use the training cut-off, not this cohort's median
    assert (pred["score_group"] == "high").sum() == int((pred["CD8_score"] > cutoff).sum())
    assert m["survival"]["cutoff"] == cutoff
    y = (pred["observed"] == "yes").astype(int)
    assert m["binary"]["auc"]["mean"] == pytest.approx(roc_auc_score(y, pred["CD8_score"]))
    cph = _cph(pred[["CD8_score", "observed_time", "observed_event"]], "observed_time",
               "observed_event")
    assert m["survival"]["hr_per_unit"]["hr"] == pytest.approx(cph.hazard_ratios_["CD8_score"],
                                                               rel=1e-7)
    # simulated: the hazard grows with the true CD8 value (time ~ Exp(20 e^{-0.6 truth}))
    assert m["survival"]["hr_per_unit"]["ci95"][0] > 1
    assert m["survival"]["direction"].startswith("a higher score goes with a higher hazard")
    assert m["binary"]["auc"]["ci95"][0] > 0.5
    assert set(m["figures"]) == {"roc", "score_by_class", "kaplan_meier"}
    for f in m["figures"].values():
        assert (d / "v" / f).is_file() or (f and __import__("pathlib").Path(f).is_file())
    assert "volume" in m["binary"]["comparators"] and "volume" in m["survival"]["comparators"]


def test_validate_score_cli_with_a_continuous_target(score_model, tmp_path):
    from typer.testing import CliRunner

    from voxelomics.cli import app

    d, _ = score_model
    clin = pd.read_csv(d / "val_clin.csv")
    feats = pd.read_csv(d / "val.csv")
    clin["cd8"] = 5 + feats["f0"] + 0.6 * feats["f1"]
    clin.to_csv(tmp_path / "val_cd8.csv", index=False)
    res = CliRunner().invoke(app, ["model", "validate", str(d / "m"), str(d / "val.csv"),
                                   "--clinical", str(tmp_path / "val_cd8.csv"), "--on", "case_id",
                                   "--target", "cd8", "--out", str(tmp_path / "v"), "--no-plots"])
    assert res.exit_code == 0, res.output
    assert "r2" in res.output and "vs volume" in res.output
    m = json.loads((tmp_path / "v" / "metrics.json").read_text())
    assert m["continuous"]["r2"]["mean"] > 0.5 and m["r2"] == m["continuous"]["r2"]
    assert m["flags"]["does_not_beat_volume"] is False
    # the score needs an outcome
    res = CliRunner().invoke(app, ["model", "validate", str(d / "m"), str(d / "val.csv"),
                                   "--out", str(tmp_path / "v2")])
    assert res.exit_code == 2
