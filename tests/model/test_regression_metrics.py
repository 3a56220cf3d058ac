"""Metrics of continuous predictions: against scikit-learn/scipy, and the coverage of their
bootstrap intervals on simulated cohorts with a known population value."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from voxelomics.model.metrics import bootstrap_weights
from voxelomics.model.regression_metrics import (
    bootstrap_regression_metrics,
    paired_regression_differences,
    regression_metrics,
    weighted_regression_metrics,
    weighted_spearman,
)


def test_point_metrics_equal_sklearn_and_scipy():
    rng = np.random.default_rng(0)
    y = rng.normal(size=80)
    p = 0.6 * y + rng.normal(size=80)
    m = regression_metrics(y, p)
    assert m["r2"] == pytest.approx(r2_score(y, p), rel=1e-12)
    assert m["mae"] == pytest.approx(mean_absolute_error(y, p), rel=1e-12)
    assert m["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, p)), rel=1e-12)
    assert m["spearman"] == pytest.approx(stats.spearmanr(y, p).statistic, rel=1e-12)
    assert np.isnan(regression_metrics(np.ones(5), np.arange(5.0))["r2"])


def test_weighted_metrics_equal_the_expanded_resample():
    """Every resample's metrics, computed from multiplicities, equal scipy/sklearn on the
    rows repeated (ties included: a drawn row repeated, and tied values in y and p)."""
    rng = np.random.default_rng(1)
    y = np.round(rng.normal(size=40), 1)          # ties in y
    p = np.round(y + rng.normal(size=40), 1)      # ties in p
    w = bootstrap_weights(40, 60, seed=3)
    m = weighted_regression_metrics(y, p, w)
    for b in range(60):
        idx = np.repeat(np.arange(40), w[b].astype(int))
        assert m["spearman"][b] == pytest.approx(stats.spearmanr(y[idx], p[idx]).statistic,
                                                 abs=1e-12)
        assert m["r2"][b] == pytest.approx(r2_score(y[idx], p[idx]), abs=1e-12)
        assert m["mae"][b] == pytest.approx(mean_absolute_error(y[idx], p[idx]), abs=1e-12)
    assert np.allclose(weighted_spearman(y, p, w), m["spearman"])


def _population(a: float, b: float, sigma: float) -> dict:
    """Population values of predictions p ~ N(0, 1) of y = a + b p + N(0, sigma^2)."""
    var_y = b ** 2 + sigma ** 2
    r2 = 1 - (a ** 2 + (b - 1) ** 2 + sigma ** 2) / var_y
    s = np.sqrt((b - 1) ** 2 + sigma ** 2)           # y - p ~ N(a, s^2)
    mae = s * np.sqrt(2 / np.pi) * np.exp(-a ** 2 / (2 * s ** 2)) + a * (1 - 2 * stats.norm.cdf(-a / s))
    r = b / np.sqrt(var_y)
    return {"r2": r2, "mae": mae, "spearman": 6 / np.pi * np.arcsin(r / 2)}


def test_interval_coverage_on_simulated_cohorts():
    """400 cohorts of 100 patients, predictions biased (a = 0.3) and too flat (b = 0.8):
    the 95% intervals contain the population R², MAE and Spearman's rho about 95% of the
    time (measured: 92.3%, 94.0% and 93.5%; see docs/modelling.md)."""
    a, b, sigma = 0.3, 0.8, 0.9
    truth = _population(a, b, sigma)
    rng = np.random.default_rng(2024)
    hits = {k: 0 for k in truth}
    n_cohorts = 400
    for i in range(n_cohorts):
        p = rng.normal(size=100)
        y = a + b * p + rng.normal(0, sigma, 100)
        res = bootstrap_regression_metrics(y, p, n_boot=500, seed=i)
        for k in truth:
            lo, hi = res[k]["ci95"]
            hits[k] += lo <= truth[k] <= hi
    coverage = {k: v / n_cohorts for k, v in hits.items()}
    for k, c in coverage.items():
        assert 0.90 <= c <= 0.99, (k, coverage)


def test_population_values_by_monte_carlo():
    """The closed forms used above, checked on one very large sample."""
    a, b, sigma = 0.3, 0.8, 0.9
    truth = _population(a, b, sigma)
    rng = np.random.default_rng(5)
    p = rng.normal(size=400_000)
    y = a + b * p + rng.normal(0, sigma, p.size)
    m = regression_metrics(y, p)
    assert m["r2"] == pytest.approx(truth["r2"], abs=0.005)
    assert m["mae"] == pytest.approx(truth["mae"], abs=0.005)
    assert m["spearman"] == pytest.approx(truth["spearman"], abs=0.005)


def test_paired_difference_is_zero_for_identical_predictions_and_signed():
    rng = np.random.default_rng(3)
    y = rng.normal(size=60)
    good = y + 0.3 * rng.normal(size=60)
    bad = y + 1.5 * rng.normal(size=60)
    d = paired_regression_differences(y, good, {"same": good, "bad": bad}, n_boot=300)
    assert d["same"]["r2"]["mean"] == 0 and d["same"]["r2"]["ci95"] == [0.0, 0.0]
    assert d["bad"]["r2"]["ci95"][0] > 0 and d["bad"]["mae"]["ci95"][1] < 0
    assert d["bad"]["r2"]["p_value"] < 0.01
    # the difference of point estimates is the difference of the metrics
    assert d["bad"]["r2"]["mean"] == pytest.approx(r2_score(y, good) - r2_score(y, bad))


def test_grouped_bootstrap_widens_the_interval_of_duplicated_rows():
    """Each patient's rows copied three times: resampling rows would pretend to three times
    the patients; resampling whole patients gives the interval of the patients."""
    rng = np.random.default_rng(4)
    y = rng.normal(size=50)
    p = y + rng.normal(size=50)
    yy, pp = np.repeat(y, 3), np.repeat(p, 3)
    groups = np.repeat(np.arange(50), 3)
    by_row = bootstrap_regression_metrics(yy, pp, n_boot=400, seed=0)["r2"]["ci95"]
    by_patient = bootstrap_regression_metrics(yy, pp, n_boot=400, seed=0, groups=groups)["r2"]["ci95"]
    single = bootstrap_regression_metrics(y, p, n_boot=400, seed=0)["r2"]["ci95"]
    width = lambda ci: ci[1] - ci[0]  # noqa: E731
    assert width(by_patient) > 1.4 * width(by_row)
    assert width(by_patient) == pytest.approx(width(single), rel=0.25)
