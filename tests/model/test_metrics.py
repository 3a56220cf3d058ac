"""Classification metrics against scikit-learn and on hand-checkable data."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import balanced_accuracy_score, brier_score_loss, roc_auc_score

from voxelomics.model.metrics import (
    bootstrap_indices,
    bootstrap_metrics,
    calibration_slope_intercept,
    classification_metrics,
    roc_auc,
)


def test_against_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(0.3 * y + rng.uniform(size=200) * 0.7, 0, 1)
    p[:10] = p[10:20]  # ties
    m = classification_metrics(y, p)
    assert np.isclose(m["auc"], roc_auc_score(y, p))
    assert np.isclose(m["brier"], brier_score_loss(y, p))
    assert np.isclose(m["balanced_accuracy"], balanced_accuracy_score(y, p >= 0.5))


def test_auc_hand_example():
    # positives {0.8, 0.4}, negatives {0.6, 0.2}: 3 of 4 pairs ordered -> 0.75
    assert roc_auc([1, 1, 0, 0], [0.8, 0.4, 0.6, 0.2]) == 0.75
    assert np.isnan(roc_auc([1, 1, 1], [0.1, 0.2, 0.3]))


def test_calibration_of_calibrated_and_overfitted_predictions():
    rng = np.random.default_rng(1)
    lp = rng.normal(size=20000)
    p = 1 / (1 + np.exp(-lp))
    y = (rng.uniform(size=lp.size) < p).astype(int)
    slope, intercept = calibration_slope_intercept(y, p)
    assert abs(slope - 1) < 0.05 and abs(intercept) < 0.05
    over = 1 / (1 + np.exp(-2 * lp))  # too extreme: slope about 0.5
    slope, _ = calibration_slope_intercept(y, over)
    assert abs(slope - 0.5) < 0.05
    shifted = 1 / (1 + np.exp(-(lp - 1)))  # risks too low: intercept about +1
    _, intercept = calibration_slope_intercept(y, shifted)
    assert abs(intercept - 1) < 0.1


def test_bootstrap_keeps_class_counts_and_ci_covers_mean():
    y = np.array([0] * 30 + [1] * 20)
    idx = bootstrap_indices(y, 50, seed=0)
    assert idx.shape == (50, 50) and (y[idx].sum(axis=1) == 20).all()
    rng = np.random.default_rng(2)
    p = np.vstack([np.clip(0.4 * y + rng.uniform(size=50) * 0.6, 0, 1) for _ in range(3)])
    m = bootstrap_metrics(y, p, n_boot=300)
    for key in ("auc", "balanced_accuracy", "brier", "calibration_slope", "calibration_intercept"):
        lo, hi = m[key]["ci95"]
        assert lo <= m[key]["mean"] <= hi, key
        assert len(m[key]["per_repeat"]) == 3
    assert np.isclose(m["auc"]["mean"], np.mean([roc_auc_score(y, r) for r in p]))
