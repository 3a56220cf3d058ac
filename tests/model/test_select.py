"""Filters and selectors: scikit-learn contract and hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.utils.estimator_checks import check_estimator

from voxelomics.model.select import (
    CorrelationFilter,
    MRMRSelector,
    UnivariateSelector,
    anova_f,
    kruskal_h,
    make_l1_selector,
    mann_whitney_effect,
)


@pytest.mark.parametrize(
    "est", [CorrelationFilter(), UnivariateSelector(k=2), UnivariateSelector("mannwhitney", k=2),
            MRMRSelector(k=2)], ids=["corr", "anova", "mw", "mrmr"],
)
def test_check_estimator(est):
    check_estimator(est)


def test_correlation_filter_drops_duplicate():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 50))
    X = np.column_stack([a, b, 2 * a + 1, -b])  # columns 2 and 3 duplicate 0 and 1
    keep = CorrelationFilter(0.9).fit(X).get_support()
    assert keep.sum() == 2
    assert keep[[0, 2]].sum() == 1 and keep[[1, 3]].sum() == 1


def test_anova_matches_scipy():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    y = np.repeat([0, 1], 20)
    X[y == 1, 0] += 1
    expect = [stats.f_oneway(X[y == 0, j], X[y == 1, j]).statistic for j in range(3)]
    np.testing.assert_allclose(anova_f(X, y), expect)


def test_kruskal_matches_scipy():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 2))
    y = np.repeat([0, 1, 2], 10)
    expect = [stats.kruskal(*(X[y == c, j] for c in range(3))).statistic for j in range(2)]
    np.testing.assert_allclose(kruskal_h(X, y), expect)


def test_mann_whitney_matches_scipy():
    X = np.array([[1.0, 5], [2, 5], [3, 1], [4, 2], [5, 3]])
    y = np.array([0, 0, 1, 1, 1])
    u = [stats.mannwhitneyu(X[y == 1, j], X[y == 0, j]).statistic for j in range(2)]
    np.testing.assert_allclose(mann_whitney_effect(X, y), np.abs(np.array(u) / 6 - 0.5))
    with pytest.raises(ValueError, match="exactly 2 classes"):
        mann_whitney_effect(X, np.array([0, 1, 2, 1, 0]))


def test_univariate_and_mrmr_pick_signal():
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1], 50)
    X = rng.normal(size=(100, 20))
    X[:, 3] += 2 * y
    X[:, 4] = 2 * X[:, 3]  # redundant copy of 3
    X[:, 7] += 1.5 * y
    assert UnivariateSelector(k=1).fit(X, y).get_support()[[3, 4]].any()
    ranking = MRMRSelector(k=2).fit(X, y).ranking_
    assert ranking[0] in (3, 4) and ranking[1] == 7  # the copy is redundant, 7 is new


def test_l1_selector_is_sparse():
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1], 60)
    X = rng.normal(size=(120, 30))
    X[:, 0] += 2 * y
    sel = make_l1_selector(C=0.05).fit(X, y)
    assert sel.get_support()[0] and sel.get_support().sum() < 10
