"""ComBat: agreement with the reference implementation, train/test behaviour, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import check_estimator

from voxelomics.errors import ModelError
from voxelomics.model.harmonise import ComBat


def _batched(n=120, p=15, seed=0):
    rng = np.random.default_rng(seed)
    b = rng.integers(0, 3, n)
    Y = rng.normal(size=(n, p)) * (1 + 0.5 * b[:, None]) + 2 * b[:, None] + rng.normal(size=p)
    return b, Y


@pytest.mark.parametrize("eb", [True, False])
def test_matches_neurocombat(eb):
    neuro = pytest.importorskip("neuroCombat")
    b, Y = _batched()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = neuro.neuroCombat(dat=Y.T, covars=pd.DataFrame({"batch": b}), batch_col="batch",
                                eb=eb)["data"].T
    ours = ComBat(0, empirical_bayes=eb).fit_transform(np.column_stack([b, Y]))
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-8)


def test_removes_batch_location_and_scale():
    # Without shrinkage, every batch ends with the grand mean and the pooled sd exactly.
    b, Y = _batched(n=300)
    cb = ComBat(0, empirical_bayes=False)
    out = cb.fit_transform(np.column_stack([b, Y]))
    for i in range(3):
        np.testing.assert_allclose(out[b == i].mean(axis=0), cb.grand_mean_, atol=1e-10)
        np.testing.assert_allclose(out[b == i].std(axis=0, ddof=1), cb.pooled_sd_, rtol=1e-10)
    np.testing.assert_allclose(cb.grand_mean_, Y.mean(axis=0))


def test_new_rows_use_training_parameters():
    b, Y = _batched()
    X = np.column_stack([b, Y])
    cb = ComBat(0).fit(X[:100])
    new = cb.transform(X[100:])
    k = np.searchsorted(cb.batches_, b[100:])
    z = (Y[100:] - cb.grand_mean_) / cb.pooled_sd_
    expect = cb.pooled_sd_ * (z - cb.gamma_star_[k]) / np.sqrt(cb.delta_star_[k]) + cb.grand_mean_
    np.testing.assert_allclose(new, expect)
    # transforming one row alone gives the same result as in a batch of rows
    np.testing.assert_allclose(cb.transform(X[100:101]), new[:1])


def test_unseen_batch():
    b, Y = _batched()
    X = np.column_stack([b, Y])
    cb = ComBat(0).fit(X[b < 2])
    with pytest.raises(ModelError, match=r"batch label\(s\) \[2.0\] were not in the training"):
        cb.transform(X[b == 2])
    pooled = ComBat(0, unseen_batch="pooled").fit(X[b < 2]).transform(X[b == 2])
    np.testing.assert_allclose(pooled, Y[b == 2])  # documented fallback: left unadjusted


def test_missing_batch_label():
    b, Y = _batched()
    X = np.column_stack([b.astype(float), Y])
    X[3, 0] = np.nan
    with pytest.raises(ModelError, match="batch column .* 1 missing values"):
        ComBat(0).fit(X)


def test_nan_features_pass_through():
    b, Y = _batched()
    Y[5, 2] = np.nan
    out = ComBat(0).fit_transform(np.column_stack([b, Y]))
    assert np.isnan(out[5, 2]) and np.isfinite(np.delete(out, 5, axis=0)).all()


def test_check_estimator():
    # Without a batch column ComBat is a valid generic transformer; with batch_index=0 the
    # random data of the checks makes every row its own batch, which is also handled.
    check_estimator(ComBat(batch_index=None))
    check_estimator(ComBat(batch_index=0), expected_failed_checks={
        "check_fit2d_1feature": "the only column is the batch column, no feature remains",
        "check_estimators_pickle": "puts NaN in the batch column, which is an error by design",
        "check_fit_idempotent": "transforms rows of batches unseen in fit: an error by design",
    })


def test_a_feature_with_too_few_values_in_a_batch_fits_without_numpy_warnings():
    """A feature missing in a batch (or with one value there) has no batch variance: the
    location/scale are taken as undefined (delta 1) without numpy's "Degrees of freedom <= 0"
    or "Mean of empty slice" warnings, which reached the demo's output without context."""
    b, Y = _batched(n=60, p=6)
    Y[b == 2, 0] = np.nan  # missing in every row of batch 2
    Y[np.flatnonzero(b == 1)[1:], 1] = np.nan  # one value in batch 1
    X = np.column_stack([b, Y])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        eb_off = ComBat(0, empirical_bayes=False).fit(X)
        out = ComBat(0).fit(X).transform(X)
    assert eb_off.delta_star_[2, 0] == 1.0 and eb_off.delta_star_[1, 1] == 1.0
    assert eb_off.gamma_star_[2, 0] == 0.0
    # the defined features are unchanged: the same as fitting them alone
    alone = ComBat(0, empirical_bayes=False).fit(np.column_stack([b, Y[:, 2:]]))
    np.testing.assert_allclose(eb_off.delta_star_[:, 2:], alone.delta_star_, rtol=1e-12)
    np.testing.assert_allclose(eb_off.gamma_star_[:, 2:], alone.gamma_star_, rtol=1e-12, atol=1e-14)
    assert np.isfinite(out[~np.isnan(Y)]).all()
