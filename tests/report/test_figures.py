"""Report figures: numbers checked against independent implementations or hand computation."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from voxelomics.report import feature_figures as FF
from voxelomics.report import figures as F

matplotlib.use("Agg")


@pytest.fixture
def binary():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 60)
    p = np.clip(0.35 * y[None, :] + rng.uniform(0, 0.65, (3, 60)), 0, 1)  # 3 CV repeats
    return y, p


def test_roc_auc_is_the_metrics_json_rule(binary):
    """The AUC drawn is the mean over repeats, as bootstrap_metrics writes to metrics.json."""
    from sklearn.metrics import roc_auc_score

    from voxelomics.model.metrics import bootstrap_metrics

    y, p = binary
    curve, auc = F.roc_data(y, p, n_boot=50)
    assert auc == pytest.approx(np.mean([roc_auc_score(y, r) for r in p]), abs=1e-12)
    assert auc == pytest.approx(bootstrap_metrics(y, p, n_boot=50)["auc"]["mean"], abs=1e-12)
    assert list(curve.columns) == ["fpr", "tpr", "tpr_low", "tpr_high"]
    assert curve["fpr"].iloc[0] == 0 and curve["fpr"].iloc[-1] == 1 and curve["tpr"].iloc[-1] == 1
    assert (np.diff(curve["tpr"]) >= -1e-12).all()
    inside = (curve["tpr_low"] <= curve["tpr"] + 1e-9) & (curve["tpr"] <= curve["tpr_high"] + 1e-9)
    assert inside.mean() > 0.95


def test_calibration_bins_match_sklearn(binary):
    from sklearn.calibration import calibration_curve

    y, p = binary
    table = F.calibration_data(y, p[0], n_bins=5)
    frac, mean_pred = calibration_curve(y, p[0], n_bins=5, strategy="quantile")
    np.testing.assert_allclose(table["observed_fraction"], frac)
    np.testing.assert_allclose(table["mean_predicted"], mean_pred)
    assert table["n"].sum() == y.size


def test_decision_curve_by_hand():
    """y = 1, 1, 0, 0 with p = .9, .6, .4, .2 (Vickers & Elkin: NB = TP/n - FP/n * pt/(1-pt))."""
    table = F.decision_curve_data([1, 1, 0, 0], [0.9, 0.6, 0.4, 0.2], thresholds=[0.3, 0.5, 0.95])
    # pt = 0.3: treated p >= 0.3 -> 0.9, 0.6 (TP), 0.4 (FP): 2/4 - 1/4 * 3/7
    # pt = 0.5: TP 2, FP 0 -> 0.5; pt = 0.95: TP 0, FP 0 -> 0
    np.testing.assert_allclose(table["net_benefit"], [0.5 - 0.25 * 3 / 7, 0.5, 0.0])
    # treat all: prevalence 0.5 - 0.5 * pt / (1 - pt)
    np.testing.assert_allclose(table["treat_all"], [0.5 - 0.5 * 3 / 7, 0.0, 0.5 - 0.5 * 19])
    assert (table["treat_none"] == 0).all()


def test_kaplan_meier_and_logrank_match_lifelines():
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test

    rng = np.random.default_rng(5)
    n = 80
    high = rng.random(n) < 0.5
    t_event = rng.exponential(np.where(high, 10.0, 25.0))
    censor = rng.uniform(5, 40, n)
    time = np.minimum(t_event, censor).round(1)
    event = (t_event <= censor).astype(int)
    curves, at_risk, p = F.km_data(time, event, high)
    ref = logrank_test(time[high], time[~high], event[high], event[~high])
    assert p == pytest.approx(ref.p_value, rel=1e-8)
    for label, members in (("high risk", high), ("low risk", ~high)):
        kmf = KaplanMeierFitter().fit(time[members], event[members])
        mine = curves[curves["group"] == label]
        expected = kmf.survival_function_at_times(mine["time"]).to_numpy()
        np.testing.assert_allclose(mine["survival"], expected, atol=1e-12)
        for _, r in at_risk[at_risk["group"] == label].iterrows():
            assert r["n_at_risk"] == int((time[members] >= r["time"]).sum())
    fig = F.km_figure(curves, at_risk, p, time_unit="months")
    assert "log-rank p" in fig.axes[0].get_title()


def test_risk_groups_follow_the_model_split():
    from voxelomics.model.survival import logrank_split

    rng = np.random.default_rng(0)
    risk = rng.normal(size=(2, 30))
    y = np.array([(bool(e), t) for e, t in zip(rng.integers(0, 2, 30), rng.uniform(1, 9, 30), strict=True)],
                 dtype=[("event", bool), ("time", float)])
    high, p = logrank_split(y, risk.mean(axis=0))
    np.testing.assert_array_equal(F.risk_groups(risk), high)
    _, _, p2 = F.km_data(y["time"], y["event"], F.risk_groups(risk))
    assert p2 == pytest.approx(p, rel=1e-12)


def test_figures_draw_from_their_tables(binary):
    y, p = binary
    roc = F.roc_figure({"internal": F.roc_data(y, p, n_boot=20), "external": F.roc_data(y, p[0], n_boot=20)})
    assert len(roc.axes[0].get_lines()) == 3  # two curves and the diagonal
    cal = F.calibration_figure({"internal": F.calibration_data(y, p)})
    dca = F.decision_curve_figure({"internal": F.decision_curve_data(y, p)})
    forest = F.metric_forest_figure(pd.DataFrame([{"label": "a", "metric": "auc", "mean": 0.7,
                                                   "ci_low": 0.6, "ci_high": 0.8}]))
    for fig in (roc, cal, dca, forest):
        assert fig.axes


def test_correlation_clustermap_orders_redundant_features_together():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=40), rng.normal(size=40)
    df = pd.DataFrame({"a1": a, "b1": b, "a2": a + 0.01 * rng.normal(size=40),
                       "b2": b + 0.01 * rng.normal(size=40), "const": 1.0})
    corr, tree = FF.correlation_data(df)
    assert "const" not in corr.columns  # constant features are left out
    order = list(corr.columns)
    assert abs(order.index("a1") - order.index("a2")) == 1
    assert abs(order.index("b1") - order.index("b2")) == 1
    assert FF.clustermap_figure(corr, tree).axes


def _phantom():
    """A 20 x 30 x 40 volume with a bright block (the 'tumour') and its mask."""
    img = np.zeros((20, 30, 40))
    mask = np.zeros_like(img, bool)
    mask[8:12, 5:10, 25:35] = True
    img[mask] = 100.0
    return img, mask


def test_qc_overlay_reorients_flipped_files_to_the_same_view():
    """A file stored with a flipped y axis (direction diag(1, -1, 1)) shows the same picture."""
    img, mask = _phantom()
    direction = np.diag([1.0, -1.0, 1.0])
    a, _ = F._reorient(img, np.eye(3), (2.0, 1.0, 1.0))
    b, spacing = F._reorient(img[:, ::-1, :], direction, (2.0, 1.0, 1.0))
    np.testing.assert_array_equal(a, b)
    assert spacing == (2.0, 1.0, 1.0)
    # a permuted file: ITK index axes (x, y, z) map to physical (y, x, z)
    perm = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    c, sp = F._reorient(np.transpose(img, (0, 2, 1)), perm, (2.0, 1.5, 1.0))
    np.testing.assert_array_equal(a, c)
    assert sp == (2.0, 1.0, 1.5)


def test_qc_overlay_draws_the_contour_on_every_view():
    img, mask = _phantom()
    fig, info = F.qc_overlay_figure(img, mask, (2.0, 1.0, 1.0), modality="CT", title="case")
    assert len(fig.axes) == 3
    assert info["window"] == list(F.SOFT_TISSUE_WINDOW_HU) and info["units"] == "HU"
    for ax in fig.axes:  # each view holds the image and one contour set
        assert ax.images and ax.collections
    assert info["slices"][0] in range(8, 12)  # the axial slice cuts the ROI
    fig, info = F.qc_overlay_figure(img * 0.05, mask, (2.0, 1.0, 1.0), modality="PT")
    assert info["window"] == [0.0, 5.0] and info["units"] == "SUV"  # 0 to the ROI's SUVmax
    with pytest.raises(ValueError, match="empty"):
        F.qc_overlay_figure(img, np.zeros_like(mask), (1.0, 1.0, 1.0))


def test_qc_overlay_uses_the_lung_window_around_a_nodule():
    img, mask = _phantom()
    img[:] = -850.0  # lung parenchyma around a solid nodule
    img[mask] = 20.0
    _, info = F.qc_overlay_figure(img, mask, (1.0, 1.0, 1.0), modality="CT")
    assert info["window"] == list(F.LUNG_WINDOW_HU)
