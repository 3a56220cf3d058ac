"""Outer folds shared by radiomic, deep and fused models (voxelomics.model.splits)."""

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

from voxelomics.errors import ModelError
from voxelomics.model.splits import outer_folds, split_strata


def test_folds_without_groups_are_sklearns_stratified_folds():
    y = np.array([0, 1] * 20)
    folds = outer_folds(y, n_splits=5, n_repeats=2, random_state=7)
    assert len(folds) == 10
    for r in range(2):
        ref = list(StratifiedKFold(5, shuffle=True, random_state=7 + r).split(np.zeros(40), y))
        mine = [(tr, te) for rr, _, tr, te in folds if rr == r]
        for (a_tr, a_te), (b_tr, b_te) in zip(mine, ref, strict=True):
            np.testing.assert_array_equal(a_te, b_te)
            np.testing.assert_array_equal(a_tr, b_tr)


def test_groups_are_never_split_and_every_row_is_tested_once_per_repeat():
    rng = np.random.default_rng(0)
    patients = np.repeat(np.arange(30), rng.integers(1, 4, 30))
    y = (rng.random(patients.size) < 0.4).astype(int)
    folds = outer_folds(y, n_splits=5, n_repeats=3, groups=patients)
    for r in range(3):
        tested = np.concatenate([te for rr, _, _, te in folds if rr == r])
        assert np.array_equal(np.sort(tested), np.arange(patients.size))
    for _, _, tr, te in folds:
        assert not set(patients[tr]) & set(patients[te])


def test_same_arguments_same_folds():
    y = np.linspace(0, 1, 50)
    a = outer_folds(y, task="regression", n_splits=5, n_repeats=2, random_state=3)
    b = outer_folds(y, task="regression", n_splits=5, n_repeats=2, random_state=3)
    for (_, _, _, te1), (_, _, _, te2) in zip(a, b, strict=True):
        np.testing.assert_array_equal(te1, te2)


def test_continuous_strata_are_quantile_bins():
    s = split_strata(np.arange(100.0), "regression", 4)
    assert np.bincount(s).tolist() == [25, 25, 25, 25]


def test_too_few_groups_is_a_clear_error():
    with pytest.raises(ModelError, match="3 patients"):
        outer_folds(np.array([0, 1, 0, 1, 0, 1]), n_splits=5, groups=[1, 1, 2, 2, 3, 3])
