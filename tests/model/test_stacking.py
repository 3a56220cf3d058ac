"""The default super learner: convex weights, reduction to one member, weights that favour
the right member on simulated data, shrinkage towards equal weights that depends on n,
determinism, grouped inner folds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from voxelomics.model.ensemble import RadiomicsEnsemble
from voxelomics.model.metrics import roc_auc
from voxelomics.model.stacking import (
    SuperLearner,
    _nonneg_logistic,
    convex_stacking_weights,
    shrink_to_equal,
)

# small forests and one inner split keep the fits fast; the design is the same
FAST = {"inner_splits": 3, "inner_repeats": 1, "n_trees": 60, "extra_select_trees": 60,
        "n_weight_boot": 30}


def _logits(n, seed=0):
    """Cross-validated logits of three members: a good one, a weak one, pure noise."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(scale=2.0, size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-truth))).astype(float)
    Z = np.column_stack([truth + rng.normal(scale=0.5, size=n),
                         truth + rng.normal(scale=4.0, size=n),
                         rng.normal(scale=2.0, size=n)])
    return Z, y


def test_nonneg_logistic_matches_an_independent_optimiser():
    Z, y = _logits(300)
    # a member that ranks the wrong way round: its unconstrained slope is negative
    Z[:, 2] = -Z[:, 1]
    a, beta = _nonneg_logistic(Z, y)
    ridge = 1e-4

    def loss(t):
        eta = t[0] + Z @ t[1:]
        return np.mean(np.logaddexp(0, eta) - y * eta) + 0.5 * ridge * t[1:] @ t[1:]

    ref = minimize(loss, np.zeros(4), method="L-BFGS-B",
                   bounds=[(None, None)] + [(0, None)] * 3,
                   options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10000})
    assert np.all(beta >= 0) and beta[2] == 0.0  # the constraint is active
    assert loss(np.r_[a, beta]) <= ref.fun + 1e-12
    assert a == pytest.approx(ref.x[0], abs=1e-4)
    assert beta == pytest.approx(ref.x[1:], abs=1e-4)


def test_stacking_weights_are_convex_and_favour_the_informative_member():
    Z, y = _logits(2000)
    w = convex_stacking_weights(Z, y)
    assert np.all(w >= 0) and w.sum() == pytest.approx(1.0)
    assert w[0] > 0.85 and w[2] < 0.05
    # members that carry no information: equal weights, still convex
    rng = np.random.default_rng(1)
    w0 = convex_stacking_weights(-np.abs(rng.normal(size=(200, 3))) * (2 * y[:200, None] - 1),
                                 y[:200])
    assert w0 == pytest.approx(np.full(3, 1 / 3))
    assert convex_stacking_weights(Z[:, :1], y) == pytest.approx([1.0])


def test_shrinkage_towards_equal_weights_is_strong_on_small_and_weak_on_large_samples():
    def fit(n, seed):
        rng = np.random.default_rng(seed)
        truth = rng.normal(size=n)
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-truth))).astype(float)
        Z = np.column_stack([truth + rng.normal(size=n), truth + rng.normal(scale=2, size=n),
                             rng.normal(size=n)])
        w = convex_stacking_weights(Z, y)
        rng = np.random.default_rng(seed)
        boot = [convex_stacking_weights(Z[i], y[i])
                for i in (rng.integers(0, n, n) for _ in range(100))]
        return shrink_to_equal(w, np.asarray(boot))

    small = [fit(40, s)[1] for s in range(8)]
    large = [fit(4000, s)[1] for s in range(2)]
    assert np.mean(small) < 0.75 and min(large) > 0.95
    w, lam = fit(40, 0)
    assert np.all(w >= 0) and w.sum() == pytest.approx(1.0)
    # no bootstrap spread: nothing to shrink; spread larger than the distance: equal weights
    w_hat = np.array([0.7, 0.2, 0.1])
    assert shrink_to_equal(w_hat, np.tile(w_hat, (10, 1)))[0] == pytest.approx(w_hat)
    wide = np.random.default_rng(0).dirichlet(np.ones(3) * 0.2, size=200)
    assert shrink_to_equal(w_hat, wide) == (pytest.approx(np.full(3, 1 / 3)), 0.0)


def _additive(n, p=40, seed=0):
    """Outcome additive in 4 features: the linear member is the right model."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    lp = 1.5 * (X[:, 0] + X[:, 1] - X[:, 2] - X[:, 3])
    return X, (rng.uniform(size=n) < 1 / (1 + np.exp(-lp))).astype(int)


def _threshold(n, p=40, seed=0):
    """Outcome is |x0| > 1 (10% flipped): no monotone effect, the linear member is useless."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    return X, ((np.abs(X[:, 0]) > 1) ^ (rng.uniform(size=n) < 0.1)).astype(int)


def test_weights_favour_the_member_that_is_right():
    X, y = _additive(400)
    lin = SuperLearner(**FAST).fit(X, y)
    assert max(lin.raw_weights_, key=lin.raw_weights_.get) == "linear"
    assert lin.weights_["linear"] > 0.6
    X, y = _threshold(400)
    tree = SuperLearner(**FAST).fit(X, y)
    assert tree.raw_weights_["linear"] < 0.1 and tree.weights_["linear"] < 0.2
    assert tree.weights_["forest"] + tree.weights_["extra_trees"] > 0.8
    for est in (lin, tree):
        w = np.array(list(est.weights_.values()))
        assert np.all(w >= 0) and w.sum() == pytest.approx(1.0)
        assert 0.0 <= est.shrinkage_ <= 1.0
        assert set(est.inner_scores_) == {"linear", "forest", "extra_trees", "ensemble"}
    Xt, yt = _threshold(300, seed=9)
    assert roc_auc(yt, tree.predict_proba(Xt)[:, 1]) > 0.75


def test_one_member_reduces_to_that_member():
    X, y = _additive(150, seed=2)
    kw = {**FAST, "recalibrate": False}
    only = SuperLearner(members=("linear",), **kw).fit(X, y)
    ref = RadiomicsEnsemble(inner_splits=3, inner_repeats=1, n_trees=60,
                            recalibrate=False).fit(X, y)
    assert (only.k_, only.C_) == (ref.k_, ref.C_)  # same inner folds, same one-SE choice
    assert only.weights_ == {"linear": 1.0} and only.shrinkage_ == 1.0
    np.testing.assert_allclose(only.predict_proba(X), ref.linear_.predict_proba(X), rtol=0,
                               atol=1e-12)
    forest = SuperLearner(members=("forest",), **kw).fit(X, y)
    np.testing.assert_allclose(forest.predict_proba(X)[:, 1],
                               ref.forest_.predict_proba(X)[:, 1], rtol=0, atol=1e-12)
    assert set(forest.selected_features()) == {"forest"}
    with pytest.raises(ValueError, match="members must be"):
        SuperLearner(members=("linear", "svm")).fit(X, y)


def test_deterministic_with_a_seed_and_reports_its_choices():
    X, y = _additive(150, seed=3)
    a = SuperLearner(**FAST, random_state=5).fit(X, y)
    b = SuperLearner(**FAST, random_state=5).fit(X, y)
    assert a.weights_ == b.weights_ and a.calibration_ == b.calibration_
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    sel = a.selected_features()
    assert set(sel) == {"linear", "forest", "extra_trees"}
    assert len(sel["linear"]) == a.k_ and len(sel["extra_trees"]) == 32
    imp = a.feature_importances_
    assert imp.shape == (40,) and imp.sum() == pytest.approx(1.0)
    assert set(np.flatnonzero(imp)) <= set().union(*map(set, sel.values()))
    assert imp[:4].min() > np.median(imp[imp > 0])
    text = a.describe()
    assert text.startswith(f"{a.weights_['linear']:.2f} x L2 logistic regression")
    assert "extra-trees" in text and "lambda=" in text
    assert a.oof_.shape == (150, 3) and np.isfinite(a.oof_).all()
    assert set(a.predict(X[:5])) <= {0, 1}
    with pytest.raises(AttributeError):
        SuperLearner().feature_importances_  # noqa: B018


def test_small_tables_with_few_features_and_groups(monkeypatch):
    import voxelomics.model.splits as splits

    seen = []
    real = splits.outer_folds

    def spy(y, **kw):
        seen.append(kw.get("groups"))
        return real(y, **kw)

    monkeypatch.setattr(splits, "outer_folds", spy)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(90, 6))  # fewer features than the extra-trees member keeps
    groups = np.repeat(np.arange(30), 3)
    y = np.repeat((rng.uniform(size=30) < 0.5).astype(int), 3)
    est = SuperLearner(**FAST).fit(X, y, groups=groups)
    assert seen and np.array_equal(seen[0], groups)
    assert len(est.selected_features()["extra_trees"]) == 6
    p = est.predict_proba(X)[:, 1]
    assert np.all((p > 0) & (p < 1))


def test_weights_see_only_cross_validated_predictions_of_the_training_rows():
    """No leakage: every row's stacking input comes from members fitted without that row.

    Known truth: on pure noise a random forest scores an in-sample AUC of about 1, so
    stacking on in-sample predictions would weight it heavily and give a combination that
    looks perfect; the cross-validated inputs must score about 0.5. And each column of
    ``oof_`` is reproduced exactly by refitting that member on the inner training rows only.
    """
    from voxelomics.model.ensemble import _forest, linear_candidates
    from voxelomics.model.stacking import _extra_trees

    rng = np.random.default_rng(7)
    X = rng.normal(size=(120, 30))
    y = (rng.uniform(size=120) < 0.5).astype(int)
    est = SuperLearner(**FAST).fit(X, y)
    in_sample = est.members_["forest"].predict_proba(X)[:, 1]
    assert roc_auc(y, in_sample) > 0.95  # the forest memorises its training rows
    for j in range(3):
        assert abs(roc_auc(y, est.oof_[:, j]) - 0.5) < 0.15
    assert abs(est.inner_scores_["ensemble"] - 0.5) < 0.15
    folds = est._folds(y, None)
    first = [f for f in folds if f[0] == folds[0][0]]
    covered = np.zeros(len(y), int)
    for _, _, tr, te in first:
        covered[te] += 1
        assert not set(tr) & set(te)
        fo = _forest(est.forest_k, est.n_trees, est.min_samples_leaf, est.random_state)
        np.testing.assert_array_equal(est.oof_[te, 1],
                                      fo.fit(X[tr], y[tr]).predict_proba(X[te])[:, 1])
        et = _extra_trees(est.extra_k, est.extra_select_trees, est.n_trees,
                          est.min_samples_leaf, est.random_state)
        np.testing.assert_array_equal(est.oof_[te, 2],
                                      et.fit(X[tr], y[tr]).predict_proba(X[te])[:, 1])
        grid = est._grid(int(np.bincount(y).min()), X.shape[1])
        preds, _ = linear_candidates(X, y, tr, te, grid, est.random_state)
        assert any(np.array_equal(est.oof_[te, 0], p) for p in preds.values())
    assert np.all(covered == 1)  # one V-fold split: every training row predicted once

