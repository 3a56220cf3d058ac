"""Nested cross-validation, permutation test and external validation.

Nested cross-validation
-----------------------
The outer loop (repeated stratified K-fold; 5 folds x 3 repeats by default, made by
:func:`~voxelomics.model.splits.outer_folds`) estimates performance; for each outer
training set an inner (repeated, stratified) cross-validation tunes the
hyper-parameters of the *whole* pipeline (harmonisation, imputation, filtering,
selection, scaling and model are all pipeline steps): a grid search
(:class:`~sklearn.model_selection.GridSearchCV`), or the ensemble models' own inner
loop (:mod:`voxelomics.model.ensemble`). The tuned pipeline is refitted on the outer
training set and predicts the outer test fold, which is therefore never seen by any
data-driven step. With patient groups, no patient is split between training and test,
in the outer or the inner folds. Classification is tuned on ROC AUC, survival on
Harrell's C-index; survival folds are stratified on the event indicator. A grid point
that cannot be fitted (e.g. the Cox elastic-net diverging at the smallest penalty)
scores NaN and the search goes on with the others (summarised once, see
:mod:`voxelomics.model.runner`); when every point fails, the error is raised.

Comparators (volume-only, clinical-only, fixed pipelines; :mod:`voxelomics.model.baselines`)
are fitted and scored on the same folds as the model, so that paired differences can be
computed. Outer folds run in parallel with ``n_jobs``.

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

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from voxelomics.errors import ModelError
from voxelomics.model.runner import fold_task, predict_scores, run_tasks, summarise_warnings
from voxelomics.model.splits import outer_folds
from voxelomics.model.survival import event_field as _ev

__all__ = ["CVResult", "nested_cv", "permutation_test", "predict_scores", "check_cv_target",
           "check_grouped_folds"]


@dataclass
class CVResult:
    """Outcome of a nested cross-validation.

    Attributes
    ----------
    task : {"classification", "survival", "regression"}
    oof : ndarray of shape (n_repeats, n_samples)
        Out-of-fold predictions: probability of class 1, or risk score (higher means
        earlier event) for survival.
    metrics : dict
        ``{name: {"mean", "ci95", "per_repeat"}}`` (see :func:`metrics.bootstrap_metrics`
        and :func:`survival.survival_metrics`).
    best_params : list of dict
        Hyper-parameters chosen by the inner loop for each outer fold.
    n_samples, n_features : int
    folds : list of dict
        One record per outer fold: ``repeat``, ``fold``, ``n_train``, ``n_test``,
        ``params``, ``inner_score`` and ``features`` (member -> features used, when the
        input column names were given).
    fold_of : ndarray of shape (n_repeats, n_samples) of int
        Outer fold holding each sample's test prediction in each repeat.
    comparators : dict of str to ndarray of shape (n_repeats, n_samples)
        Out-of-fold predictions of each comparator, on the same folds.
    comparator_errors : dict of str to str
        First error of a comparator that could not be fitted in some fold.
    warnings : list of dict
        Solver warnings, summarised (:func:`~voxelomics.model.runner.summarise_warnings`).
    """

    task: str
    oof: np.ndarray
    metrics: dict
    best_params: list[dict] = field(default_factory=list)
    n_samples: int = 0
    n_features: int = 0
    folds: list[dict] = field(default_factory=list)
    fold_of: np.ndarray | None = None
    comparators: dict = field(default_factory=dict)
    comparator_errors: dict = field(default_factory=dict)
    warnings: list[dict] = field(default_factory=list)

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
            parts.append(v if isinstance(v, str) else type(v).__name__)
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
    task : {"classification", "survival", "regression"}
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
        For a continuous target: fewer rows than folds.
    """
    if task == "regression":
        n = len(y)
        need = n_splits if inner_splits is None else max(n_splits, inner_splits + 1)
        if n < 2 * need:
            raise ModelError(f"only {n} rows for {n_splits}-fold cross-validation of a continuous "
                             f"target" + (f" with {inner_splits} inner folds" if inner_splits else "")
                             + f"; need at least {2 * need} (use fewer folds: {option})")
        return
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


def check_grouped_folds(y, folds, groups, *, task: str, inner_splits: int) -> None:
    """Check that patient-grouped folds leave both classes (or events) to learn from.

    Stratification cannot be exact when whole patients are kept together: with few
    patients, an outer training fold (or an inner fold of it) can lack a class.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
    folds : list of (repeat, fold, train, test)
        Outer folds (:func:`~voxelomics.model.splits.outer_folds`).
    groups : ndarray of shape (n_samples,)
    task : {"classification", "survival", "regression"}
    inner_splits : int

    Raises
    ------
    ModelError
        Naming the fold, the number of patients and what to change.
    """
    from voxelomics.model.splits import inner_folds, split_strata

    strata = split_strata(y, task, 2) if task != "regression" else np.zeros(len(groups), int)
    n_groups = np.unique(groups).size
    hint = (f"the {len(strata)} rows belong to {n_groups} patients (--group); use fewer outer "
            "folds (--folds) or inner folds (--inner-folds), or --group none if the rows are "
            "independent patients")
    for r, f, tr, _ in folds:
        if task != "regression" and np.unique(strata[tr]).size < 2:
            raise ModelError(f"the outer training fold {f} of repeat {r} holds one class only "
                             f"when whole patients are kept together; {hint}")
        try:
            inner = inner_folds(y[tr], task=task, n_splits=inner_splits, groups=groups[tr])
        except (ValueError, ModelError) as exc:
            raise ModelError(f"the outer training fold {f} of repeat {r} cannot be split into "
                             f"{inner_splits} inner folds of whole patients ({exc}); {hint}") from exc
        for itr, _ in inner:
            if task != "regression" and np.unique(strata[tr][itr]).size < 2:
                raise ModelError(f"an inner training fold of outer fold {f} (repeat {r}) holds "
                                 f"one class only when whole patients are kept together; {hint}")


def _jobs(X, y, pipeline, grid, folds, *, task, inner_splits, inner_repeats, random_state,
          groups, names=None, comparators=None, key_prefix=()):
    return [{"X": X, "y": y, "train": tr, "test": te, "pipeline": pipeline, "grid": grid,
             "task": task, "inner_splits": inner_splits, "inner_repeats": inner_repeats,
             "seed": random_state + 1000 + 100 * r + f, "groups": groups, "names": names,
             "comparators": comparators, "key": (*key_prefix, r, f)}
            for r, f, tr, te in folds]


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
    inner_repeats: int = 1,
    random_state: int = 0,
    n_boot: int = 1000,
    compute_metrics: bool = True,
    groups=None,
    comparators: list[tuple] | None = None,
    n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> CVResult:
    """Estimate performance by nested, repeated, stratified cross-validation.

    Parameters
    ----------
    X : DataFrame or ndarray of shape (n_samples, n_features)
        Model input (batch codes in column 0 when the pipeline starts with ComBat). With a
        DataFrame, the features each fold uses are recorded by name.
    y : ndarray of shape (n_samples,)
        0/1 labels, or an sksurv structured array (``event``, ``time``) for survival.
    pipeline : sklearn.pipeline.Pipeline
        Unfitted pipeline (see :func:`estimators.make_pipeline`).
    param_grid : dict or list of dict
        Inner-loop grid; empty when the estimator tunes itself (the ensemble).
    task : {"classification", "survival", "regression"}, default="classification"
    n_splits : int, default=5
        Outer folds.
    n_repeats : int, default=3
        Outer repeats, each with a different shuffle.
    inner_splits : int, default=5
        Inner folds of the grid search.
    inner_repeats : int, default=1
        Repeats of the inner cross-validation.
    random_state : int, default=0
    n_boot : int, default=1000
        Bootstrap resamples for confidence intervals.
    compute_metrics : bool, default=True
        Skip the metrics (used by the permutation test, which needs only the AUC).
    groups : array-like of shape (n_samples,) or None, default=None
        Patient of each row: outer and inner folds never split a patient, and the
        bootstrap resamples whole patients.
    comparators : list of (name, pipeline, X) or None
        Comparator models fitted and scored on the same folds (``X`` of shape
        (n_samples, n_inputs) each); see :mod:`voxelomics.model.baselines`.
    n_jobs : int, default=1
        Outer folds run in parallel worker processes (-1: every core).
    progress : callable or None
        ``progress(done, total)`` after each outer fold.

    Returns
    -------
    CVResult

    Raises
    ------
    ModelError
        If a class (or the events) has fewer members than ``n_splits``, or there are
        fewer patients (groups) than folds.
    """
    names = [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else None
    X = np.asarray(X, dtype=float)
    n = X.shape[0]
    check_cv_target(y, task, n_splits, inner_splits=inner_splits)
    groups = None if groups is None else np.asarray(groups)
    folds = outer_folds(y, task=task, n_splits=n_splits, n_repeats=n_repeats,
                        random_state=random_state, groups=groups)
    if groups is not None:
        check_grouped_folds(y, folds, groups, task=task, inner_splits=inner_splits)
    comps = [(nm, pipe, np.asarray(Xc, float)) for nm, pipe, Xc in comparators or []]
    jobs = _jobs(X, y, pipeline, param_grid, folds, task=task, inner_splits=inner_splits,
                 inner_repeats=inner_repeats, random_state=random_state, groups=groups,
                 names=names, comparators=comps)
    results = run_tasks(fold_task, jobs, n_jobs=n_jobs, progress=progress)
    oof = np.full((n_repeats, n), np.nan)
    fold_of = np.full((n_repeats, n), -1, dtype=int)
    comp_oof = {nm: np.full((n_repeats, n), np.nan) for nm, _, _ in comps}
    comp_err: dict[str, str] = {}
    records, best, recs = [], [], []
    for (r, f, tr, te), res in zip(folds, results, strict=True):
        oof[r, te] = res["pred"]
        fold_of[r, te] = f
        for nm, pred in res["comparators"].items():
            comp_oof[nm][r, te] = pred
        for nm, err in res["comparator_errors"].items():
            comp_err.setdefault(nm, f"repeat {r}, fold {f}: {err}")
        best.append(res["params"])
        records.append({"repeat": r, "fold": f, "n_train": int(len(tr)), "n_test": int(len(te)),
                        "params": res["params"], "inner_score": res["inner_score"],
                        "features": res["used"]})
        recs.extend(res["warnings"])
    metrics: dict = {}
    if compute_metrics:
        metrics = score_predictions(y, oof, task=task, n_boot=n_boot, seed=random_state,
                                    groups=groups)
    return CVResult(task=task, oof=oof, metrics=metrics, best_params=best, n_samples=n,
                    n_features=X.shape[1], folds=records, fold_of=fold_of,
                    comparators=comp_oof, comparator_errors=comp_err,
                    warnings=summarise_warnings(recs))


def score_predictions(y, scores, *, task: str, n_boot: int = 1000, seed: int = 0,
                      groups=None, headline_only: bool = False) -> dict:
    """Metrics with bootstrap intervals of out-of-fold or external predictions.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        0/1 labels or sksurv structured array.
    scores : ndarray of shape (n_repeats, n_samples) or (n_samples,)
    task : {"classification", "survival", "regression"}
    n_boot : int, default=1000
        Resamples (Uno's C and the time-dependent AUC use the first 200: they are not
        vectorised).
    seed : int, default=0
    groups : array-like of shape (n_samples,) or None
    headline_only : bool, default=False
        Survival: Harrell's C-index only (the comparators).

    Returns
    -------
    metrics : dict
        See :func:`~voxelomics.model.metrics.bootstrap_metrics` and
        :func:`~voxelomics.model.survival.survival_metrics`.
    """
    if task == "classification":
        from voxelomics.model.metrics import bootstrap_metrics

        return bootstrap_metrics(y, scores, n_boot=n_boot, seed=seed, groups=groups)
    if task == "regression":
        from voxelomics.model.regression_metrics import bootstrap_regression_metrics

        return bootstrap_regression_metrics(y, scores, n_boot=n_boot, seed=seed, groups=groups)
    from voxelomics.model.survival import survival_metrics

    return survival_metrics(y, scores, n_boot=n_boot, seed=seed, groups=groups,
                            keys=("c_index",) if headline_only else
                            ("c_index", "uno_c_index", "td_auc"))


def _permute(y, rng, groups):
    """Shuffle labels; with groups whose rows share a label, shuffle whole patients."""
    if groups is None:
        return rng.permutation(y)
    g = np.asarray(groups)
    levels, codes = np.unique(g, return_inverse=True)
    first = np.zeros(levels.size, dtype=int)
    first[codes[::-1]] = np.arange(len(g))[::-1]
    if not np.all(np.asarray(y)[first][codes] == np.asarray(y)):
        return rng.permutation(y)
    return np.asarray(y)[first][rng.permutation(levels.size)][codes]


def permutation_test(
    X, y, pipeline, param_grid, *, observed: float, n_permutations: int = 20,
    random_state: int = 0, groups=None, n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None, **cv_kwargs,
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
    groups : array-like or None
        Patient of each row; when every patient's rows share one label, whole patients'
        labels are shuffled.
    n_jobs : int, default=1
        Folds of all permutations run in parallel worker processes.
    progress : callable or None
        ``progress(done, total)`` after each fold.
    **cv_kwargs
        ``n_splits``, ``n_repeats``, ``inner_splits``, ``inner_repeats``.

    Returns
    -------
    result : dict
        ``{"p_value": float, "n_permutations": int, "observed_auc": float,
        "null_auc": [float, ...]}``.
    """
    from voxelomics.model.metrics import auc_matrix

    rng = np.random.default_rng(random_state)
    y = np.asarray(y)
    X = np.asarray(X, dtype=float)
    n_splits = cv_kwargs.get("n_splits", 5)
    n_repeats = cv_kwargs.get("n_repeats", 3)
    g = None if groups is None else np.asarray(groups)
    jobs, perms = [], []
    for k in range(n_permutations):
        yp = _permute(y, rng, g)
        perms.append(yp)
        folds = outer_folds(yp, n_splits=n_splits, n_repeats=n_repeats,
                            random_state=random_state, groups=g)
        jobs += _jobs(X, yp, pipeline, param_grid, folds, task="classification",
                      inner_splits=cv_kwargs.get("inner_splits", 5),
                      inner_repeats=cv_kwargs.get("inner_repeats", 1),
                      random_state=random_state, groups=g, key_prefix=(k,))
    results = run_tasks(fold_task, jobs, n_jobs=n_jobs, progress=progress)
    oof = np.full((n_permutations, n_repeats, y.size), np.nan)
    for job, res in zip(jobs, results, strict=True):
        k, r, _ = job["key"]
        oof[k, r, job["test"]] = res["pred"]
    null = [float(np.mean(auc_matrix(np.broadcast_to(perms[k], oof[k].shape), oof[k])))
            for k in range(n_permutations)]
    null_arr = np.asarray(null)
    p = (1 + np.sum(null_arr >= observed)) / (1 + n_permutations)
    return {"p_value": float(p), "n_permutations": n_permutations,
            "observed_auc": float(observed), "null_auc": null}
