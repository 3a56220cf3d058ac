"""Nested cross-validation, permutation test and external validation.

Nested cross-validation
-----------------------
The outer loop (repeated stratified K-fold; 5 folds x 3 repeats by default) estimates
performance; for each outer training set an inner stratified K-fold grid search
(:class:`~sklearn.model_selection.GridSearchCV`) tunes the hyper-parameters of the
*whole* pipeline (harmonisation, imputation, filtering, selection, scaling and model
are all pipeline steps), refits it on the outer training set and predicts the outer
test fold. The outer test fold is therefore never seen by any data-driven step.
Classification is tuned on ROC AUC, survival on Harrell's C-index. For survival the
folds are stratified on the event indicator. A grid point that cannot be fitted (e.g. the
Cox elastic-net diverging at the smallest penalty) scores NaN with a ``FitFailedWarning``
and the search goes on with the others; when every point fails, the error is raised.

Signal versus chance
--------------------
:func:`permutation_test` reruns the complete nested CV with shuffled outcomes; the
p-value is ``(1 + #{perm >= observed}) / (1 + n_permutations)`` (Phipson & Smyth 2010).
The bootstrap confidence interval of the AUC (see :mod:`voxelomics.model.metrics`)
excluding 0.5 is the cheaper everyday check.

References
----------
Varma S, Simon R. Bias in error estimation when using cross-validation for model
selection. BMC Bioinformatics 7 (2006) 91.
Phipson B, Smyth GK. Permutation p-values should never be zero. Stat Appl Genet Mol
Biol 9 (2010) 39.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from voxelomics.errors import ModelError
from voxelomics.model.splits import outer_folds
from voxelomics.model.survival import event_field as _ev

__all__ = ["CVResult", "nested_cv", "permutation_test", "predict_scores", "check_cv_target"]


@dataclass
class CVResult:
    """Outcome of a nested cross-validation.

    Attributes
    ----------
    task : {"classification", "survival"}
    oof : ndarray of shape (n_repeats, n_samples)
        Out-of-fold predictions: probability of class 1, or risk score (higher means
        earlier event) for survival.
    metrics : dict
        ``{name: {"mean", "ci95", "per_repeat"}}`` (see :func:`metrics.bootstrap_metrics`
        and :func:`survival.survival_metrics`).
    best_params : list of dict
        Hyper-parameters chosen by the inner loop for each outer fold.
    n_samples, n_features : int
    """

    task: str
    oof: np.ndarray
    metrics: dict
    best_params: list[dict] = field(default_factory=list)
    n_samples: int = 0
    n_features: int = 0

    def chosen_models(self) -> dict[str, int]:
        """How often each model/parameter set was chosen by the inner loop.

        Returns
        -------
        counts : dict of str to int
        """
        return dict(Counter(_describe(p) for p in self.best_params))


def _describe(params: dict) -> str:
    parts = []
    for k, v in sorted(params.items()):
        if k == "clf":
            parts.append(type(v).__name__)
        else:
            parts.append(f"{k}={v}")
    return ", ".join(parts)


def check_cv_target(
    y: np.ndarray, task: str, n_splits: int, *, inner_splits: int | None = None,
    option: str = "--folds",
) -> None:
    """Check that every outer and inner fold can hold both classes (or an event).

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        0/1 labels, or the sksurv structured array for survival.
    task : {"classification", "survival"}
    n_splits : int
        Folds of the (outer) split.
    inner_splits : int or None, default=None
        Inner folds run on each outer training fold; checked against the smallest
        training fold the outer split can produce.
    option : str, default="--folds"
        CLI option named in the message for ``n_splits``.

    Raises
    ------
    ModelError
        If the minority class (or the events) has fewer members than folds, in the outer
        split or in the inner split of an outer training fold; the message names the option.
    """
    strata = _ev(y).astype(int) if task == "survival" else np.asarray(y)
    counts = np.bincount(strata, minlength=2)
    what = "events/censored rows" if task == "survival" else "members of the minority class"
    if counts.min() < n_splits:
        raise ModelError(
            f"only {int(counts.min())} {what} for {n_splits}-fold cross-validation; "
            f"need at least {n_splits} (use fewer folds: {option})"
        )
    if inner_splits is not None:
        # a stratified outer split leaves at least n_min - ceil(n_min / k) in each training fold
        n_min = int(counts.min())
        smallest = n_min - -(-n_min // n_splits)
        if smallest < inner_splits:
            if smallest >= 2:
                raise ModelError(
                    f"an outer training fold holds as few as {smallest} {what}, too few for "
                    f"{inner_splits}-fold inner cross-validation (use --inner-folds {smallest} "
                    "or fewer, or fewer outer folds: --folds)"
                )
            fits = [k for k in range(2, min(n_min, 20) + 1) if n_min - -(-n_min // k) >= 2]
            fewer = [k for k in fits if k < n_splits]
            hint = (f"use fewer outer folds: --folds {max(fewer)}" if fewer else
                    f"use --folds {min(fits)}" if fits else
                    "no number of outer folds works; more rows of the minority class are needed")
            raise ModelError(
                f"the data has too few {what} ({n_min}) for nested cross-validation with "
                f"{n_splits} outer folds: an outer training fold holds as few as {smallest}, "
                f"and the inner cross-validation needs at least 2 ({hint})"
            )


def predict_scores(model, X) -> np.ndarray:
    """Probability of class 1 for classifiers, risk score for survival models.

    Parameters
    ----------
    model : fitted estimator or pipeline
    X : array-like of shape (n_samples, n_features)

    Returns
    -------
    scores : ndarray of shape (n_samples,)
    """
    if hasattr(model, "predict_proba"):
        try:
            return model.predict_proba(X)[:, 1]
        except AttributeError:  # e.g. a Pipeline whose last step is a survival model
            pass
    return np.asarray(model.predict(X), dtype=float)


def _inner_search(pipeline, grid, task, inner_splits, seed):
    scoring = "roc_auc" if task == "classification" else None
    return GridSearchCV(
        clone(pipeline), grid, scoring=scoring, refit=True, error_score=np.nan,
        cv=StratifiedKFold(inner_splits, shuffle=True, random_state=seed), n_jobs=1,
    )


def _fit_search(search, X, y, task):
    """Fit a grid search; the unsupervised steps are cached across candidates.

    All candidates of one inner fold share the same imputation, filtering and scaling
    (their parameters are not tuned), so the pipeline gets a temporary joblib cache;
    the cache is keyed on step parameters and data, so it never mixes folds.
    """
    if task == "survival":
        # stratify inner folds on the event indicator; sksurv estimators score by C-index
        strata = _ev(y).astype(int)
        search.cv = list(search.cv.split(np.zeros(len(y)), strata))
    with tempfile.TemporaryDirectory(prefix="voxelomics-cv-") as tmp:
        search.estimator.set_params(memory=tmp)
        search.fit(X, y)
        search.estimator.set_params(memory=None)
        search.best_estimator_.set_params(memory=None)
    return search


def nested_cv(
    X: pd.DataFrame | np.ndarray,
    y: np.ndarray,
    pipeline,
    param_grid: list[dict] | dict,
    *,
    task: str = "classification",
    n_splits: int = 5,
    n_repeats: int = 3,
    inner_splits: int = 5,
    random_state: int = 0,
    n_boot: int = 1000,
    compute_metrics: bool = True,
) -> CVResult:
    """Estimate performance by nested, repeated, stratified cross-validation.

    Parameters
    ----------
    X : DataFrame or ndarray of shape (n_samples, n_features)
        Model input (batch codes in column 0 when the pipeline starts with ComBat).
    y : ndarray of shape (n_samples,)
        0/1 labels, or an sksurv structured array (``event``, ``time``) for survival.
    pipeline : sklearn.pipeline.Pipeline
        Unfitted pipeline (see :func:`estimators.make_pipeline`).
    param_grid : dict or list of dict
        Inner-loop grid.
    task : {"classification", "survival"}, default="classification"
    n_splits : int, default=5
        Outer folds.
    n_repeats : int, default=3
        Outer repeats, each with a different shuffle.
    inner_splits : int, default=5
        Inner folds of the grid search.
    random_state : int, default=0
    n_boot : int, default=1000
        Bootstrap resamples for confidence intervals.
    compute_metrics : bool, default=True
        Skip the metrics (used by the permutation test, which needs only the AUC).

    Returns
    -------
    CVResult

    Raises
    ------
    ModelError
        If a class (or the events) has fewer members than ``n_splits``.
    """
    X = np.asarray(X, dtype=float)
    n = X.shape[0]
    check_cv_target(y, task, n_splits, inner_splits=inner_splits)
    oof = np.full((n_repeats, n), np.nan)
    best = []
    for r, f, tr, te in outer_folds(y, task=task, n_splits=n_splits, n_repeats=n_repeats,
                                    random_state=random_state):
        search = _inner_search(pipeline, param_grid, task, inner_splits,
                               random_state + 1000 + 100 * r + f)
        _fit_search(search, X[tr], y[tr], task)
        oof[r, te] = predict_scores(search.best_estimator_, X[te])
        best.append(search.best_params_)
    metrics: dict = {}
    if compute_metrics:
        if task == "classification":
            from voxelomics.model.metrics import bootstrap_metrics

            metrics = bootstrap_metrics(y, oof, n_boot=n_boot, seed=random_state)
        else:
            from voxelomics.model.survival import survival_metrics

            metrics = survival_metrics(y, oof, n_boot=min(n_boot, 200), seed=random_state)
    return CVResult(task=task, oof=oof, metrics=metrics, best_params=best,
                    n_samples=n, n_features=X.shape[1])


def permutation_test(
    X, y, pipeline, param_grid, *, observed: float, n_permutations: int = 20,
    random_state: int = 0, **cv_kwargs,
) -> dict:
    """Label-permutation p-value of a nested-CV AUC (classification only).

    Parameters
    ----------
    X, y, pipeline, param_grid
        As for :func:`nested_cv`.
    observed : float
        Nested-CV AUC on the true labels.
    n_permutations : int, default=20
        Shuffles of ``y``; each reruns the full nested CV (costly: the smallest
        reachable p-value is ``1 / (n_permutations + 1)``).
    random_state : int, default=0
    **cv_kwargs
        Passed to :func:`nested_cv` (``n_splits``, ``n_repeats``, ``inner_splits``).

    Returns
    -------
    result : dict
        ``{"p_value": float, "n_permutations": int, "null_auc": [float, ...]}``.
    """
    from voxelomics.model.metrics import auc_matrix

    rng = np.random.default_rng(random_state)
    y = np.asarray(y)
    null = []
    for _ in range(n_permutations):
        yp = rng.permutation(y)
        res = nested_cv(X, yp, pipeline, param_grid, compute_metrics=False,
                        random_state=random_state, **cv_kwargs)
        null.append(float(np.mean(auc_matrix(np.broadcast_to(yp, res.oof.shape), res.oof))))
    null_arr = np.asarray(null)
    p = (1 + np.sum(null_arr >= observed)) / (1 + n_permutations)
    return {"p_value": float(p), "n_permutations": n_permutations, "null_auc": null}
