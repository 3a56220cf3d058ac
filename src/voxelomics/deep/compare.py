"""Models scored beside the network on the same folds: size baselines, radiomics, fusion.

``voxelomics deep cv`` answers "does the network beat what is simpler?" on identical outer
folds (:func:`voxelomics.model.splits.outer_folds`), so every comparison is paired:

``baseline:<column>``
    One manifest (or radiomic-table) column alone, e.g. ``diameter_mm`` or the tumour volume:
    signed log, z-score, logistic regression (C = 1) for a binary target, ridge Cox for
    survival; fitted on the training fold.
``radiomics``
    A radiomic table (``voxelomics extract``'s ``features.parquet``) with a
    :func:`voxelomics.model.estimators.make_pipeline` pipeline (imputation, filters, selection,
    scaling, model), tuned by a grid search whose inner folds are made by ``outer_folds`` on the
    training fold (grouped by patient when the cohort is); refitted on the whole training fold.
``fused``
    Late fusion by stacking: inside each training fold, the network (early-stopped on the
    inner validation split) and the radiomic pipeline (tuned and fitted on the fitting part)
    both predict the validation rows, which neither has been fitted on; a logistic regression
    (C = 1) on the two logits is fitted there and applied to the test fold. Fusing embeddings
    of a network trained on the same labels would be optimistic: its training rows' embeddings
    are fitted to their labels.

Paired differences (model minus comparator) use one set of bootstrap resamples of patients for
both models: :func:`voxelomics.model.metrics.paired_difference` when the model package has it,
else the same percentile bootstrap (:func:`~voxelomics.model.metrics.bootstrap_indices`) here.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd

from voxelomics.errors import ModelError

__all__ = ["with_groups", "paired_difference", "signed_log", "baseline_fold_scores",
           "radiomic_model", "stack_fit", "logit", "radiomic_matrix", "baseline_values"]


def with_groups(fn, groups) -> dict:
    """``{"groups": groups}`` when the metric function takes patient groups, else ``{}``.

    Parameters
    ----------
    fn : callable
        A function of :mod:`voxelomics.model.metrics` or :mod:`voxelomics.model.survival`.
    groups : array-like or None

    Returns
    -------
    dict
        Keyword arguments to pass on.
    """
    if groups is None:
        return {}
    return {"groups": groups} if "groups" in inspect.signature(fn).parameters else {}


def paired_difference(target, scores_a: np.ndarray, scores_b: np.ndarray, *, n_boot: int = 1000,
                      seed: int = 0, groups=None, level: float = 0.95) -> dict:
    """Difference of the headline metric between two models on the same resamples.

    Parameters
    ----------
    target : voxelomics.deep.targets.Target
        Binary or survival outcome.
    scores_a, scores_b : ndarray of shape (n_repeats, n_cases)
        Out-of-fold scores of the two models on the same folds.
    n_boot : int, default=1000
    seed : int, default=0
    groups : array-like of shape (n_cases,) or None
        Patients (resampled whole when the model package supports it).
    level : float, default=0.95

    Returns
    -------
    dict
        ``{metric: {"mean": a - b, "ci95": [low, high], "per_repeat": [...]}}`` with ``auc``
        (binary) or ``c_index`` (survival); the model package adds ``p_value``.

    Raises
    ------
    ModelError
        Another task.
    """
    from voxelomics.model import metrics

    a, b = np.atleast_2d(scores_a), np.atleast_2d(scores_b)
    if target.task == "classification":
        fn = getattr(metrics, "paired_difference", None)
        if fn is not None:
            return fn(target.y, a, b, n_boot=n_boot, seed=seed, level=level, keys=("auc",),
                      **with_groups(fn, groups))
        score = lambda y, p: metrics.auc_matrix(y, p)  # noqa: E731  (rows: resamples)
        key = "auc"
    elif target.task == "survival":
        from voxelomics.model import survival

        fn = getattr(survival, "paired_c_difference", None)
        if fn is not None:
            return {"c_index": fn(target.y, a, b, n_boot=min(n_boot, 200), seed=seed, level=level,
                                  **with_groups(fn, groups))}
        score = lambda y, p: np.array([survival.harrell_c(y[i], p[i]) for i in range(len(p))])  # noqa: E731
        key = "c_index"
        n_boot = min(n_boot, 200)
    else:
        raise ModelError(f"paired differences are computed for binary and survival targets, not {target.task}")
    y = target.y
    idx = metrics.bootstrap_indices(target.strata(), n_boot, seed)
    per = [float(score(y[None], ra[None])[0] - score(y[None], rb[None])[0]) for ra, rb in zip(a, b, strict=True)]
    boot = np.mean([score(y[idx], ra[idx]) - score(y[idx], rb[idx]) for ra, rb in zip(a, b, strict=True)], axis=0)
    boot = boot[np.isfinite(boot)]
    alpha = (1 - level) / 2
    return {key: {"mean": float(np.mean(per)),
                  "ci95": [float(np.quantile(boot, alpha)), float(np.quantile(boot, 1 - alpha))],
                  "per_repeat": per}}


def signed_log(x: np.ndarray) -> np.ndarray:
    """``sign(x) log(1 + |x|)``: tames the skew of sizes and volumes.

    Parameters
    ----------
    x : ndarray

    Returns
    -------
    ndarray of the same shape
    """
    x = np.asarray(x, float)
    return np.sign(x) * np.log1p(np.abs(x))


def _column_model(task: str, seed: int):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    steps = [FunctionTransformer(signed_log), SimpleImputer(strategy="median"), StandardScaler()]
    if task == "classification":
        return make_pipeline(*steps, LogisticRegression(C=1.0, max_iter=1000, random_state=seed))
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    return make_pipeline(*steps, CoxPHSurvivalAnalysis(alpha=1e-2))


def baseline_fold_scores(target, values: np.ndarray, train_idx, test_idx, *, seed: int = 0) -> np.ndarray:
    """Scores of a one-column model (e.g. the diameter) fitted on a training fold.

    Parameters
    ----------
    target : voxelomics.deep.targets.Target
        Binary or survival outcome of every case.
    values : ndarray of shape (n_cases,) or (n_cases, n_columns)
        The column(s), e.g. ``diameter_mm``.
    train_idx, test_idx : array of int
    seed : int, default=0

    Returns
    -------
    ndarray of shape (n_test,)
        Probability of class 1, or risk score.

    Raises
    ------
    ModelError
        A task other than binary classification or survival.
    """
    if target.task not in ("classification", "survival"):
        raise ModelError(f"baselines are fitted for binary and survival targets, not {target.task}")
    X = np.asarray(values, float).reshape(len(values), -1)
    model = _column_model(target.task, seed).fit(X[train_idx], target.y[train_idx])
    if target.task == "classification":
        return model.predict_proba(X[test_idx])[:, 1]
    return np.asarray(model.predict(X[test_idx]), float)


def radiomic_model(X: np.ndarray, target, rows, *, groups=None, model: str = "enet_lr",
                   inner_splits: int = 5, seed: int = 0):
    """Tune and fit a radiomic pipeline of ``voxelomics model`` on some rows.

    Parameters
    ----------
    X : ndarray of shape (n_cases, n_features)
        Radiomic features of every case.
    target : voxelomics.deep.targets.Target
        Binary outcome.
    rows : array of int
        Rows to fit on (a training fold, or its fitting part).
    groups : array-like of shape (n_cases,) or None
        Patients: the inner folds keep each patient on one side.
    model : str, default="enet_lr"
        A classifier of :func:`voxelomics.model.estimators.make_pipeline`.
    inner_splits : int, default=5
    seed : int, default=0

    Returns
    -------
    sklearn.pipeline.Pipeline
        Fitted with the best parameters of the inner grid search (ROC AUC).
    """
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    from voxelomics.model.estimators import make_pipeline
    from voxelomics.model.splits import outer_folds

    rows = np.asarray(rows)
    pipe, grid = make_pipeline(model, batch=False, random_state=seed)
    y = np.asarray(target.y)[rows]
    g = None if groups is None else np.asarray(groups)[rows]
    k = min(inner_splits, int(np.bincount(y).min()))
    if g is not None:
        k = min(k, np.unique(g).size)
    cv = [(tr, te) for _, _, tr, te in outer_folds(y, n_splits=max(k, 2), n_repeats=1,
                                                   random_state=seed, groups=g)]
    search = GridSearchCV(clone(pipe), grid, scoring="roc_auc", cv=cv, refit=True,
                          error_score=np.nan, n_jobs=1)
    search.fit(np.asarray(X, float)[rows], y)
    return search.best_estimator_


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities (clipped to [1e-6, 1 - 1e-6]).

    Parameters
    ----------
    p : ndarray

    Returns
    -------
    ndarray
    """
    p = np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def stack_fit(logits_val: np.ndarray, y_val: np.ndarray, *, seed: int = 0):
    """Fit the late-fusion model on held-out predictions.

    Parameters
    ----------
    logits_val : ndarray of shape (n_val, n_models)
        Logits of each model on validation rows none of them was fitted on.
    y_val : ndarray of shape (n_val,)
        Labels 0/1.
    seed : int, default=0

    Returns
    -------
    sklearn.linear_model.LogisticRegression
        Fitted (C = 1 on standardised logits would also do; logits share a scale already).
    """
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=1000, random_state=seed).fit(logits_val, y_val)


def radiomic_matrix(path, cohort) -> tuple[np.ndarray, list[str]]:
    """Radiomic features of every case of a cohort, matched on (case_id, roi).

    Parameters
    ----------
    path : str or Path
        Feature table (``voxelomics extract``'s ``features.parquet``, or CSV/Parquet with a
        ``case_id`` column). For an extraction table only its registered radiomic columns are
        used (never the manifest columns it carries, such as ratings or the outcome); otherwise
        every numeric column that is not an identifier.
    cohort : voxelomics.deep.workflow.Cohort

    Returns
    -------
    X : ndarray of shape (n_cases, n_features)
    names : list of str

    Raises
    ------
    ModelError
        No ``case_id`` column, or cases of the cohort without a row.
    """
    from voxelomics.model.columns import extraction_features
    from voxelomics.model.tables import IDENTIFIER_COLUMNS, feature_columns, read_table

    df = read_table(path)
    if "case_id" not in df.columns:
        raise ModelError("the radiomic table has no case_id column", path=path)
    feats = extraction_features(path, df.columns)
    if feats is None:
        feats = [c for c in df.columns if str(c).lower() not in IDENTIFIER_COLUMNS]
    X, _, _ = feature_columns(df, feats)
    with_roi = "roi" in df.columns
    keys = pd.DataFrame({"case_id": df["case_id"].astype(str),
                         "roi": df["roi"].astype(str) if with_roi else ""})
    if "image_type" in df.columns and df["image_type"].nunique() > 1:
        # one row per image type (original, filter responses): one wide row per case
        wide = pd.concat([keys, df["image_type"].astype(str), X], axis=1).pivot_table(
            index=["case_id", "roi"], columns="image_type", values=list(X.columns), aggfunc="first")
        wide.columns = [f"{t}__{f}" for f, t in wide.columns]
        keys, X = wide.index.to_frame(index=False), wide.reset_index(drop=True)
    dup = keys.duplicated(keep=False)
    if dup.any():
        first = keys[dup].iloc[0]
        raise ModelError(f"the radiomic table holds several rows of case {first['case_id']!r}"
                         + (f", roi {first['roi']!r}" if with_roi else " (no roi column)"), path=path)
    index = {(c, r): i for i, (c, r) in enumerate(zip(keys["case_id"], keys["roi"], strict=True))}
    rows, missing = [], []
    for cid, roi in zip(cohort.ids, cohort.crops.rois, strict=True):
        i = index.get((cid, roi if with_roi else ""))
        (missing if i is None else rows).append(f"{cid} (roi {roi})" if i is None else i)
    if missing:
        raise ModelError(f"{len(missing)} case(s) of the manifest have no row in the radiomic table "
                         f"(joined on case_id, roi), e.g. {', '.join(map(repr, missing[:5]))}", path=path)
    return X.to_numpy(float)[rows], list(X.columns)


def baseline_values(name: str, cohort, radiomics) -> np.ndarray:
    """Values of a baseline column for every case: from the manifest, else the radiomic table.

    Parameters
    ----------
    name : str
        Column, e.g. ``diameter_mm`` (manifest) or ``morphology_volume`` (radiomic table).
    cohort : voxelomics.deep.workflow.Cohort
    radiomics : tuple of (ndarray, list of str) or None
        :func:`radiomic_matrix`'s output.

    Returns
    -------
    ndarray of shape (n_cases,)
        NaN where the manifest cell is empty.

    Raises
    ------
    ModelError
        The column is nowhere, or holds text.
    """
    crops = cohort.crops
    vals = [(c.extra or {}).get(name) for c in crops.cases]
    if all(v is None for v in vals):
        if radiomics is not None and name in radiomics[1]:
            return radiomics[0][:, radiomics[1].index(name)]
        raise ModelError(f"baseline column {name!r} is neither in the manifest nor in the radiomic table")
    try:
        return np.asarray([np.nan if v is None else float(v) for v in vals])
    except (TypeError, ValueError):
        raise ModelError(f"baseline column {name!r} must hold numbers") from None
