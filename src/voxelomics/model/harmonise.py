"""ComBat harmonisation of feature tables across batches (scanners, centres).

ComBat (Johnson, Li & Rabinovic 2007; applied to imaging features by Fortin et al.
2018 and to radiomics by Orlhac et al. 2019) removes additive and multiplicative
batch effects feature by feature, borrowing strength across features through an
empirical-Bayes prior on the batch effects.

How the batch travels with the samples
--------------------------------------
Inside cross-validation the batch label of a row must stay with that row. The
transformer therefore reads the batch from one *column of X* (``batch_index``),
encoded as any number (the CLI encodes the batch column's categories as 0, 1, 2 ...),
and drops that column from its output. Scikit-learn's splitters slice X by rows, so
the labels follow the samples into every training and test fold without metadata
routing, and the fitted parameters of each training fold are applied to its test
fold only.

Model (no covariates)
---------------------
For feature ``g``, sample ``j`` in batch ``i``:
:math:`Y_{ijg} = \\alpha_g + \\gamma_{ig} + \\delta_{ig}\\varepsilon_{ijg}`.
``fit`` estimates the grand mean :math:`\\hat\\alpha_g` (sample-weighted mean of the
batch means), the pooled variance :math:`\\hat\\sigma^2_g` (mean squared residual
around the batch means, divided by N), standardises
:math:`Z = (Y - \\hat\\alpha_g)/\\hat\\sigma_g`, then shrinks the batch means
:math:`\\hat\\gamma_{ig}` and variances :math:`\\hat\\delta^2_{ig}` of Z towards a
normal / inverse-gamma prior whose hyper-parameters are fitted by the method of
moments across features (parametric ComBat). ``transform`` returns
:math:`\\hat\\sigma_g (Z - \\gamma^*_{ig}) / \\delta^*_{ig} + \\hat\\alpha_g`.

Biological covariates are deliberately not modelled: the outcome is unknown for new
patients, and using it at training time would leak the label into the features.

References
----------
Johnson WE, Li C, Rabinovic A. Adjusting batch effects in microarray expression data
using empirical Bayes methods. Biostatistics 8 (2007) 118-127.
Fortin J-P et al. Harmonization of cortical thickness measurements across scanners and
sites. NeuroImage 167 (2018) 104-120.
Orlhac F et al. Validation of a method to compensate multicenter effects affecting CT
radiomic features. Radiology 291 (2019) 53-59.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from voxelomics.errors import ModelError

__all__ = ["ComBat"]


def _eb_parametric(z_batch, gamma_hat, delta_hat, gamma_bar, tau2, a, b, *, tol, max_iter):
    """Iterate the parametric empirical-Bayes posterior means for one batch.

    Parameters
    ----------
    z_batch : ndarray of shape (n_i, n_features)
        Standardised data of the batch (NaN allowed).
    gamma_hat, delta_hat : ndarray of shape (n_features,)
        Batch mean and variance of ``z_batch`` per feature.
    gamma_bar, tau2, a, b : float
        Prior hyper-parameters of this batch.

    Returns
    -------
    gamma_star, delta_star : ndarray of shape (n_features,)
    n_iter : int
        Iterations run.
    """
    n = np.sum(~np.isnan(z_batch), axis=0).astype(float)
    g_old, d_old = gamma_hat.copy(), delta_hat.copy()
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - count returned
        g_new = (n * tau2 * gamma_hat + d_old * gamma_bar) / (n * tau2 + d_old)
        ss = np.nansum((z_batch - g_new) ** 2, axis=0)
        d_new = (b + 0.5 * ss) / (n / 2.0 + a - 1.0)
        change = max(
            np.max(np.abs(g_new - g_old) / np.maximum(np.abs(g_old), 1e-12)),
            np.max(np.abs(d_new - d_old) / np.maximum(np.abs(d_old), 1e-12)),
        )
        g_old, d_old = g_new, d_new
        if change < tol:
            break
    return g_old, d_old, it



def _column_means(a: np.ndarray) -> np.ndarray:
    """Mean of each column over its non-missing values; NaN for a column with none.

    ``np.nanmean`` gives the same values but warns ("Mean of empty slice") for such a
    column, which is expected here (a feature missing in every row of one batch).
    """
    n = np.sum(~np.isnan(a), axis=0)
    total = np.nansum(a, axis=0)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def _column_variances(a: np.ndarray) -> np.ndarray:
    """Sample variance (ddof=1) of each column over its non-missing values; NaN for a
    column with fewer than two (where ``np.nanvar`` warns "Degrees of freedom <= 0")."""
    n = np.sum(~np.isnan(a), axis=0)
    dev = np.nansum((a - _column_means(a)) ** 2, axis=0)
    return np.where(n > 1, dev / np.maximum(n - 1, 1), np.nan)

class ComBat(TransformerMixin, BaseEstimator):
    """Empirical-Bayes ComBat harmonisation fitted on training rows only.

    Parameters
    ----------
    batch_index : int or None, default=0
        Column of ``X`` holding the batch label (any number per batch); it is removed
        from the output. ``None`` treats all rows as one batch (the transform then
        only re-centres nothing: output equals input), which lets the same pipeline
        run on tables without a batch column.
    empirical_bayes : bool, default=True
        Shrink batch effects with the parametric empirical-Bayes prior; ``False``
        uses the raw per-batch location and scale (location/scale adjustment).
    unseen_batch : {"error", "pooled"}, default="error"
        What ``transform`` does with a batch not seen in ``fit``: raise
        :class:`~voxelomics.errors.ModelError`, or leave those rows unadjusted
        (no batch effect removed; documented fallback for external cohorts). The
        ``voxelomics model`` commands set it from the ``unseen_batch`` model setting or
        the ``--unseen-batch`` option of ``predict``/``validate``.
    batch_labels : list of str or None, default=None
        The user's batch labels in code order (label ``k`` is code ``k``), used only to
        name batches in error messages; None names them by their codes.
    tol : float, default=1e-4
        Relative convergence tolerance of the empirical-Bayes iteration.
    max_iter : int, default=1000
        Iteration cap of the empirical-Bayes iteration.

    Attributes
    ----------
    batches_ : ndarray of shape (n_batches,)
        Batch labels seen in ``fit``.
    grand_mean_ : ndarray of shape (n_features_out,)
        :math:`\\hat\\alpha_g` in feature units.
    pooled_sd_ : ndarray of shape (n_features_out,)
        :math:`\\hat\\sigma_g`; features with zero pooled variance are left unchanged.
    gamma_star_ : ndarray of shape (n_batches, n_features_out)
        Adjusted batch location effects (standardised units).
    delta_star_ : ndarray of shape (n_batches, n_features_out)
        Adjusted batch variance effects (standardised units).
    n_iter_ : int
        Largest number of empirical-Bayes iterations over batches (1 without EB).

    Notes
    -----
    Missing values (NaN) are ignored in the estimates and kept as NaN in the output,
    so imputation can follow in the pipeline. A batch with a single training row has
    no variance estimate: its scale effect is set to 1 (location adjustment only).
    """

    _parameter_constraints = {
        "batch_index": [Interval(Integral, 0, None, closed="left"), None],
        "empirical_bayes": ["boolean"],
        "unseen_batch": [StrOptions({"error", "pooled"})],
        "batch_labels": [list, None],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        batch_index: int | None = 0,
        *,
        empirical_bayes: bool = True,
        unseen_batch: str = "error",
        batch_labels: list | None = None,
        tol: float = 1e-4,
        max_iter: int = 1000,
    ):
        self.batch_index = batch_index
        self.empirical_bayes = empirical_bayes
        self.unseen_batch = unseen_batch
        self.batch_labels = batch_labels
        self.tol = tol
        self.max_iter = max_iter

    def _split(self, X):
        if self.batch_index is None:
            return np.zeros(X.shape[0]), X
        if self.batch_index >= X.shape[1]:
            raise ModelError(
                f"ComBat batch_index={self.batch_index} but X has only {X.shape[1]} columns"
            )
        batch = X[:, self.batch_index]
        if np.isnan(batch).any():
            raise ModelError(
                f"ComBat: the batch column (index {self.batch_index}) holds "
                f"{int(np.isnan(batch).sum())} missing values; every row needs a batch"
            )
        return batch, np.delete(X, self.batch_index, axis=1)

    def fit(self, X, y=None):
        """Estimate the grand mean, pooled variance and batch effects on training rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features, with the batch label in column ``batch_index``.
        y : ignored
            Not used (the outcome is never a ComBat covariate, see module notes).

        Returns
        -------
        self : ComBat

        Raises
        ------
        ModelError
            If the batch column is missing or holds missing values.
        """
        self._validate_params()
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        batch, Y = self._split(X)
        self.batches_, idx = np.unique(batch, return_inverse=True)
        n_b = self.batches_.size
        with np.errstate(invalid="ignore", divide="ignore"):
            counts = np.stack([np.sum(~np.isnan(Y[idx == i]), axis=0) for i in range(n_b)])
            bmeans = np.stack([_column_means(Y[idx == i]) for i in range(n_b)])
            total = counts.sum(axis=0)
            grand = np.nansum(counts * bmeans, axis=0) / total
            resid = Y - bmeans[idx]
            var_pooled = np.nansum(resid**2, axis=0) / total
        grand = np.where(np.isfinite(grand), grand, 0.0)
        sd = np.sqrt(np.where(np.isfinite(var_pooled), var_pooled, 0.0))
        sd = np.where(sd > 0, sd, 1.0)
        Z = (Y - grand) / sd
        gamma_hat = np.zeros((n_b, Y.shape[1]))
        delta_hat = np.ones((n_b, Y.shape[1]))
        with np.errstate(invalid="ignore", divide="ignore"):
            for i in range(n_b):  # loop over batches (few), vectorised over features
                zi = Z[idx == i]
                gamma_hat[i] = np.nan_to_num(_column_means(zi)) if zi.size else 0.0
                if zi.shape[0] > 1:
                    # defined only for a feature with two or more values in the batch; else 1
                    d = _column_variances(zi)
                    delta_hat[i] = np.where(np.isfinite(d) & (d > 0), d, 1.0)
        gamma_star, delta_star = gamma_hat.copy(), delta_hat.copy()
        n_iter = 1
        if self.empirical_bayes and Y.shape[1] > 1:
            for i in range(n_b):
                if np.sum(idx == i) < 2:
                    continue
                gbar = gamma_hat[i].mean()
                tau2 = gamma_hat[i].var(ddof=1)
                m, s2 = delta_hat[i].mean(), delta_hat[i].var(ddof=1)
                if not (tau2 > 0 and s2 > 0):
                    continue  # no spread across features: the prior is degenerate
                a = (2.0 * s2 + m**2) / s2
                b = (m * s2 + m**3) / s2
                gamma_star[i], delta_star[i], it = _eb_parametric(
                    Z[idx == i], gamma_hat[i], delta_hat[i], gbar, tau2, a, b,
                    tol=self.tol, max_iter=self.max_iter,
                )
                n_iter = max(n_iter, it)
        self.grand_mean_ = grand
        self.pooled_sd_ = sd
        self.gamma_star_ = gamma_star
        self.delta_star_ = delta_star
        self.n_iter_ = n_iter
        return self

    def transform(self, X):
        """Remove the fitted batch effects from (new) rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Same columns as in ``fit``, batch label in column ``batch_index``.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features - 1)
            Harmonised features, batch column removed (``n_features`` columns when
            ``batch_index`` is None).

        Raises
        ------
        ModelError
            If a row's batch was not seen in ``fit`` and ``unseen_batch="error"``.
        """
        check_is_fitted(self, "gamma_star_")
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)
        batch, Y = self._split(X)
        pos = np.searchsorted(self.batches_, batch)
        pos = np.clip(pos, 0, self.batches_.size - 1)
        known = self.batches_[pos] == batch
        if not known.all() and self.unseen_batch == "error":
            new = np.unique(batch[~known])
            raise ModelError(
                f"ComBat: batch label(s) {self._labels(new)} were not in the training data "
                f"(known: {self._labels(self.batches_)}); refit with these batches, or set "
                "unseen_batch: pooled in the model settings (predict/validate: "
                "--unseen-batch pooled) to leave their rows unadjusted"
            )
        Z = (Y - self.grand_mean_) / self.pooled_sd_
        g = np.where(known[:, None], self.gamma_star_[pos], 0.0)
        d = np.where(known[:, None], self.delta_star_[pos], 1.0)
        return self.pooled_sd_ * (Z - g) / np.sqrt(d) + self.grand_mean_

    def _labels(self, codes) -> list:
        """Batch codes as the user's labels when ``batch_labels`` is given."""
        labels = self.batch_labels
        out = []
        for c in np.asarray(codes).tolist():
            k = int(c) if float(c).is_integer() else -1
            out.append(labels[k] if labels is not None and 0 <= k < len(labels) else c)
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns (input names without the batch column).

        Parameters
        ----------
        input_features : array-like of str or None, default=None

        Returns
        -------
        names : ndarray of str
        """
        check_is_fitted(self, "gamma_star_")
        if input_features is None:
            input_features = getattr(
                self, "feature_names_in_", [f"x{i}" for i in range(self.n_features_in_)]
            )
        names = np.asarray(input_features, dtype=object)
        if self.batch_index is not None:
            names = np.delete(names, self.batch_index)
        return names

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
