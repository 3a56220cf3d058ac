"""Fitting one outer fold, and running many of them in parallel.

Every outer fold (and every fold of every permutation of the permutation test) is an
independent task: fit the model on the training rows (its inner loop included), predict
the test rows, fit and predict each comparator on the same rows, and record the
features the model used and the warnings its solvers raised. :func:`run_tasks` runs the
tasks in-process (``n_jobs=1``) or in ``n_jobs`` worker processes (joblib's loky
backend); in workers, BLAS/OpenMP thread pools are limited with :mod:`threadpoolctl` so
that ``n_jobs`` processes do not each start one thread per core.

Solver warnings (a Cox elastic-net that could not be fitted at a small penalty, an
optimiser that stopped at its iteration limit) are caught in the task, returned with its
result and summarised once per run by :func:`summarise_warnings`, each with what it
means for the result.
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable

import numpy as np
from sklearn.base import clone

from voxelomics.errors import ModelError

__all__ = ["fit_predict", "used_features", "run_tasks", "fold_task", "summarise_warnings"]


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


def _accepts_groups(pipeline) -> bool:
    from voxelomics.model.ensemble import RadiomicsEnsemble

    last = pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline
    return isinstance(last, RadiomicsEnsemble)


def fit_predict(pipeline, grid, X, y, *, task: str, inner_splits: int, inner_repeats: int = 1,
                seed: int = 0, groups=None, extra: dict | None = None):
    """Fit a pipeline on training rows (tuning it by inner CV when it has a grid).

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Unfitted.
    grid : list of dict
        Grid of the inner :class:`~sklearn.model_selection.GridSearchCV`; empty: the
        pipeline is fitted as it is (a :class:`~voxelomics.model.ensemble.RadiomicsEnsemble`
        tunes inside its own ``fit``).
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    task : {"classification", "survival", "regression"}
    inner_splits, inner_repeats : int
        Inner folds (made by :func:`voxelomics.model.splits.inner_folds`, grouped).
    seed : int, default=0
    groups : ndarray of shape (n_samples,) or None
    extra : dict or None
        Parameters set on the pipeline before fitting.

    Returns
    -------
    fitted : estimator
        The fitted pipeline (the refitted best one after a grid search).
    params : dict
        Chosen hyper-parameters (``{}`` when nothing was tuned outside the estimator).
    inner_score : float
        Mean inner-CV score of the chosen parameters (NaN when not available).
    """
    from sklearn.model_selection import GridSearchCV

    from voxelomics.model.splits import inner_folds

    pipe = clone(pipeline)
    if extra:
        pipe.set_params(**extra)
    if not grid:
        if _accepts_groups(pipe):
            pipe.set_params(clf__inner_splits=inner_splits, clf__inner_repeats=inner_repeats,
                            clf__random_state=seed)
            pipe.fit(X, y, clf__groups=groups)
            clf = pipe.steps[-1][1]
            return pipe, {"k": clf.k_, "C": clf.C_}, clf.inner_score_
        pipe.fit(X, y)
        return pipe, {}, float("nan")
    cv = inner_folds(y, task=task, n_splits=inner_splits, n_repeats=inner_repeats,
                     random_state=seed, groups=groups)
    refit = True
    if task == "regression":
        from voxelomics.model.regression import one_se_refit

        refit = one_se_refit  # the simplest candidate within one standard error of the best
    search = GridSearchCV(pipe, grid, scoring={"classification": "roc_auc",
                                               "regression": "r2"}.get(task),
                          refit=refit, error_score=np.nan, cv=cv, n_jobs=1)
    # the unsupervised steps are identical for every candidate of an inner fold: cache them
    with tempfile.TemporaryDirectory(prefix="voxelomics-cv-") as tmp:
        search.estimator.set_params(memory=tmp)
        search.fit(X, y)
        search.best_estimator_.set_params(memory=None)
    params = {k: (type(v).__name__ if k == "clf" else v) for k, v in search.best_params_.items()}
    return (search.best_estimator_, params,
            float(search.cv_results_["mean_test_score"][search.best_index_]))


def used_features(fitted, names: list[str]) -> dict[str, list[str]]:
    """Features a fitted pipeline uses, traced through its filters and selectors.

    Parameters
    ----------
    fitted : sklearn.pipeline.Pipeline
        Fitted model pipeline (steps as built by
        :func:`~voxelomics.model.estimators.make_pipeline`).
    names : list of str
        Names of the pipeline's input columns (``batch`` first when ComBat is used).

    Returns
    -------
    used : dict of str to list of str
        ``{"model": [...]}``, or ``{"linear": [...], "forest": [...]}`` for the ensemble;
        a linear model's features with a zero coefficient are left out.
    """
    from voxelomics.model.covariates import trace_columns
    from voxelomics.model.ensemble import RadiomicsEnsemble

    cur = trace_columns(fitted.steps[:-1], names)
    clf = fitted.steps[-1][1]
    if isinstance(clf, RadiomicsEnsemble):
        return {m: cur[idx].tolist() for m, idx in clf.selected_features().items()}
    coef = getattr(clf, "coef_", None)
    if coef is not None:
        nz = np.abs(np.atleast_2d(np.asarray(coef, float))).sum(axis=0) > 0
        if nz.size == cur.size:
            cur = cur[nz]
    return {"model": cur.tolist()}


def fold_task(job: dict) -> dict:
    """Fit and predict one outer fold (the unit of work of :func:`run_tasks`).

    Parameters
    ----------
    job : dict
        ``X``, ``y``, ``train``, ``test``, ``pipeline``, ``grid``, ``task``,
        ``inner_splits``, ``inner_repeats``, ``seed``, ``groups`` (or None), ``names``
        (input column names or None), ``comparators`` (list of ``(name, pipeline, X)``),
        ``key`` (returned as is), ``threads`` (BLAS threads, None = no limit).

    Returns
    -------
    result : dict
        ``key``, ``test``, ``pred``, ``params``, ``inner_score``, ``used`` (or None),
        ``comparators`` (name -> predictions; NaN when it could not be fitted),
        ``comparator_errors``, ``warnings`` (list of (category, message)).
    """
    from contextlib import nullcontext

    from threadpoolctl import threadpool_limits

    tr, te = job["train"], job["test"]
    X, y = job["X"], job["y"]
    groups = job.get("groups")
    g_tr = None if groups is None else np.asarray(groups)[tr]
    out = {"key": job["key"], "test": te, "comparators": {}, "comparator_errors": {}}
    limit = threadpool_limits(job["threads"]) if job.get("threads") else nullcontext()
    with limit, warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            fitted, params, score = fit_predict(
                job["pipeline"], job["grid"], X[tr], y[tr], task=job["task"],
                inner_splits=job["inner_splits"], inner_repeats=job.get("inner_repeats", 1),
                seed=job["seed"], groups=g_tr)
        except ValueError as exc:
            if "variance threshold" in str(exc):
                raise ModelError(
                    "every feature is constant in the training rows of an outer fold "
                    f"(repeat {job['key'][1]}, fold {job['key'][2]}); the table holds no "
                    "information to learn from") from exc
            raise
        out["pred"] = predict_scores(fitted, X[te])
        out["params"], out["inner_score"] = params, score
        out["used"] = used_features(fitted, job["names"]) if job.get("names") else None
        for name, pipe, Xc in job.get("comparators") or []:
            try:
                model = clone(pipe).fit(Xc[tr], y[tr])
                out["comparators"][name] = predict_scores(model, Xc[te])
            except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
                out["comparators"][name] = np.full(len(te), np.nan)
                out["comparator_errors"][name] = f"{type(exc).__name__}: {exc}"
    out["warnings"] = [(w.category.__name__, str(w.message)) for w in rec]
    return out


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def run_tasks(fn: Callable[[dict], dict], jobs: list[dict], *, n_jobs: int = 1,
              progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """Run tasks in-process or in worker processes, reporting progress.

    Parameters
    ----------
    fn : callable
        Task function (module-level, so that worker processes can import it).
    jobs : list of dict
        One payload per task.
    n_jobs : int, default=1
        Worker processes; 1 runs in this process; -1 uses every core.
    progress : callable or None
        Called as ``progress(done, total)`` after each task.

    Returns
    -------
    results : list of dict
        In the order of ``jobs``.
    """
    total = len(jobs)
    n = _cpu_count() if n_jobs == -1 else max(1, int(n_jobs))
    n = min(n, total) if total else 1
    results: list = [None] * total
    if n == 1:
        for i, job in enumerate(jobs):
            results[i] = fn(job)
            if progress:
                progress(i + 1, total)
        return results
    from joblib import Parallel, delayed

    threads = max(1, _cpu_count() // n)
    tagged = [{**job, "threads": threads, "_index": i} for i, job in enumerate(jobs)]
    done = 0
    par = Parallel(n_jobs=n, backend="loky", return_as="generator_unordered")
    for idx, res in par(delayed(_indexed)(fn, job) for job in tagged):
        results[idx] = res
        done += 1
        if progress:
            progress(done, total)
    return results


def _indexed(fn, job):
    return job["_index"], fn(job)


# --- warnings ---------------------------------------------------------------------------

_MEANINGS = [
    (re.compile(r"weights are too large|Numerical error", re.I),
     "the Cox elastic-net could not be fitted at the weakest penalty of the grid in some "
     "inner folds (too many features for the events, or extreme values); those grid points "
     "were skipped and a stronger penalty was used. Nothing to do unless every point fails."),
    (re.compile(r"non-finite", re.I),
     "some grid points could not be scored in some inner folds (their fits failed, or a fold "
     "held no comparable pair); the other points were used."),
    (re.compile(r"failed to converge|max_iter|did not converge|terminated early", re.I),
     "an optimiser stopped at its iteration limit before it converged; its coefficients are "
     "close to, not exactly at, the optimum (rarely matters for prediction; a stronger "
     "penalty converges faster)."),
    (re.compile(r"overflow|divide by zero|invalid value", re.I),
     "a numerical overflow or 0/0 occurred inside a solver (extreme feature values); the "
     "affected fits may be poor. Check features with extreme values."),
]


def _essence(category: str, message: str) -> str:
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    if category == "FitFailedWarning":
        errs = [ln for ln in lines if re.match(r"^\w+(Error|Exception)\b", ln)]
        text = errs[-1] if errs else lines[-1] if lines else message
    else:
        text = lines[0] if lines else message
    text = re.sub(r"\[[^\]]*\]", "[...]", text)
    return re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "#", text)[:200]


def summarise_warnings(records) -> list[dict]:
    """Group solver warnings of a run into one line each, with their meaning.

    Parameters
    ----------
    records : iterable of (category, message)
        As returned by :func:`fold_task`.

    Returns
    -------
    summary : list of dict
        ``{"category", "message", "count", "meaning"}``, most frequent first.
    """
    counts = Counter(( cat, _essence(cat, msg)) for cat, msg in records)
    out = []
    for (cat, msg), k in counts.most_common():
        meaning = next((m for rx, m in _MEANINGS if rx.search(msg)), "")
        out.append({"category": cat, "message": msg, "count": int(k), "meaning": meaning})
    return out
