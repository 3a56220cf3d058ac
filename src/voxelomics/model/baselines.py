"""Comparators evaluated beside every model, on the same folds.

A radiomic signature is worth reporting only if it does better than what is simpler and
already known. Every ``model cv`` (and ``model validate``) therefore scores, on the same
outer folds as the model:

=============== ===================================================================
name            comparator
=============== ===================================================================
``volume``      tumour volume alone (signed log, z-score, logistic / ridge Cox)
``clinical``    the clinical table's variables alone (``--clinical``)
``batch``       the batch label alone (``--batch``): does the scanner predict the outcome?
``anova16_lr``  fixed pipeline: z-score, top 16 by ANOVA F, logistic regression (C=1)
``lasso16_lr``  fixed pipeline: z-score, top 16 by L1 logistic |coef| (C=1), logistic regression
``et32_rf``     fixed pipeline: top 32 by extra-trees importance, random forest (250 trees)
``cox16``       fixed survival pipeline: z-score, top 16 by Cox score test, ridge Cox
``covariates``  the ``--covariates`` columns alone (:mod:`voxelomics.model.covariates`)
``ridge16``     fixed pipeline of a continuous target: z-score, top 16 by |Spearman rho|,
                ridge regression (alpha=1)
=============== ===================================================================

For a continuous target the volume, clinical, batch and covariates comparators are
least-squares linear regressions of the target on their inputs.

The fixed pipelines are what a careful researcher would choose *before* seeing the data;
nothing in them is tuned. They are the bar a tuned default has to clear (issue 15). A
comparator runs only when its input exists (a volume column, a clinical table, a batch
column). With ``--batch``, the fixed pipelines start with the same ComBat step as the model.

References
----------
Welch ML et al. Vulnerabilities of radiomic signature development: the need for
safeguards. Radiother Oncol 130 (2019) 2-9.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.feature_selection import SelectFromModel, VarianceThreshold
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from voxelomics.errors import ModelError
from voxelomics.model.harmonise import ComBat
from voxelomics.model.select import CoxScoreSelector, UnivariateSelector

__all__ = ["FIXED", "DESCRIPTIONS", "describe", "signed_log", "fixed_pipeline", "volume_pipeline",
           "clinical_pipeline", "batch_pipeline"]

#: Fixed pipelines by task.
FIXED = {"classification": ("anova16_lr", "lasso16_lr", "et32_rf"), "survival": ("cox16",),
         "regression": ("ridge16",)}

#: One line per comparator, written to ``metrics.json``.
DESCRIPTIONS = {
    "volume": "tumour volume alone: signed log, z-score, {model}",
    "clinical": "clinical variables alone: median imputation, z-score, {model}",
    "batch": "batch label alone: one-hot, {model}",
    "covariates": "covariates (--covariates) alone: median imputation, z-score, {model}",
    "ridge16": "fixed: z-score, top 16 features by |Spearman rho| with the target, ridge "
               "regression (alpha=1)",
    "anova16_lr": "fixed: z-score, top 16 features by ANOVA F, logistic regression (C=1)",
    "lasso16_lr": "fixed: z-score, top 16 features by |coefficient| of an L1 logistic "
                  "regression (C=1), logistic regression (C=1)",
    "et32_rf": "fixed: top 32 features by extra-trees importance (250 trees), random forest "
               "(250 trees)",
    "cox16": "fixed: z-score, top 16 features by univariate Cox score test, ridge Cox "
             "(alpha=1)",
}


def signed_log(x):
    """``sign(x) log(1 + |x|)``: compresses volumes (mm3) spanning orders of magnitude.

    Parameters
    ----------
    x : ndarray

    Returns
    -------
    y : ndarray of the same shape
    """
    x = np.asarray(x, float)
    return np.sign(x) * np.log1p(np.abs(x))


def _final(task: str, random_state: int):
    if task == "regression":
        from sklearn.linear_model import LinearRegression

        return LinearRegression(), "linear regression (least squares)"
    if task == "survival":
        from sksurv.linear_model import CoxPHSurvivalAnalysis

        return CoxPHSurvivalAnalysis(alpha=1.0), "ridge Cox (alpha=1)"
    return (LogisticRegression(C=1.0, max_iter=2000, random_state=random_state),
            "logistic regression (C=1)")


def describe(name: str, task: str) -> str:
    """Description of a comparator for ``metrics.json``.

    Parameters
    ----------
    name : str
        Comparator name (see the module table).
    task : {"classification", "survival", "regression"}

    Returns
    -------
    text : str
    """
    return DESCRIPTIONS[name].format(model=_final(task, 0)[1])


def volume_pipeline(task: str = "classification", *, random_state: int = 0) -> Pipeline:
    """Volume-only model: one input column.

    Parameters
    ----------
    task : {"classification", "survival", "regression"}, default="classification"
    random_state : int, default=0

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Unfitted; takes X of shape (n_samples, 1).
    """
    return Pipeline([("impute", SimpleImputer(strategy="median")),
                     ("log", FunctionTransformer(signed_log)),
                     ("scale", StandardScaler()), ("clf", _final(task, random_state)[0])])


def clinical_pipeline(task: str = "classification", *, random_state: int = 0) -> Pipeline:
    """Clinical-only model over numeric (and one-hot coded) clinical columns.

    Parameters
    ----------
    task : {"classification", "survival", "regression"}, default="classification"
    random_state : int, default=0

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
    """
    return Pipeline([("impute", SimpleImputer(strategy="median")),
                     ("variance", VarianceThreshold(0.0)),
                     ("scale", StandardScaler()), ("clf", _final(task, random_state)[0])])


def batch_pipeline(task: str = "classification", *, random_state: int = 0) -> Pipeline:
    """Batch-only model: the batch codes one-hot encoded.

    Parameters
    ----------
    task : {"classification", "survival", "regression"}, default="classification"
    random_state : int, default=0

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Takes X of shape (n_samples, 1) holding batch codes.
    """
    return Pipeline([("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                     ("clf", _final(task, random_state)[0])])


def fixed_pipeline(name: str, *, batch: bool = False, random_state: int = 0) -> Pipeline:
    """A fixed (untuned) feature-table pipeline.

    Parameters
    ----------
    name : {"anova16_lr", "lasso16_lr", "et32_rf", "cox16", "ridge16"}
    batch : bool, default=False
        Column 0 of X holds batch codes to harmonise with :class:`ComBat` first.
    random_state : int, default=0

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline

    Raises
    ------
    ModelError
        Unknown name.
    """
    steps = [("combat", ComBat(batch_index=0) if batch else "passthrough"),
             ("impute", SimpleImputer(strategy="median")),
             ("variance", VarianceThreshold(0.0)),
             ("scale", StandardScaler())]
    lr = LogisticRegression(C=1.0, max_iter=2000, random_state=random_state)
    if name == "anova16_lr":
        return Pipeline([*steps, ("select", UnivariateSelector(method="anova", k=16)),
                         ("clf", lr)])
    if name == "lasso16_lr":
        l1 = LogisticRegression(penalty="l1", C=1.0, solver="liblinear",
                                random_state=random_state)
        return Pipeline([*steps, ("select", SelectFromModel(l1, threshold=-np.inf,
                                                            max_features=16)), ("clf", lr)])
    if name == "et32_rf":
        et = ExtraTreesClassifier(n_estimators=250, n_jobs=1, random_state=random_state)
        rf = RandomForestClassifier(n_estimators=250, n_jobs=1, random_state=random_state)
        return Pipeline([*steps, ("select", SelectFromModel(et, threshold=-np.inf,
                                                            max_features=32)), ("clf", rf)])
    if name == "cox16":
        return Pipeline([*steps, ("select", CoxScoreSelector(k=16)),
                         ("clf", _final("survival", random_state)[0])])
    if name == "ridge16":
        from sklearn.linear_model import Ridge

        from voxelomics.model.regression import SpearmanSelector

        return Pipeline([*steps, ("select", SpearmanSelector(k=16)), ("clf", Ridge(alpha=1.0))])
    raise ModelError(f"unknown baseline {name!r}; expected one of "
                     f"{FIXED['classification'] + FIXED['survival'] + FIXED['regression']}")
