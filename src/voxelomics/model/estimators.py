"""Model pipelines and their small, documented hyper-parameter spaces.

Every model is a :class:`~sklearn.pipeline.Pipeline` whose steps are all fitted on the
training rows only (so that cross-validating the pipeline as a whole keeps every
data-driven choice inside the training folds)::

    combat      ComBat on the batch column (first column of X), or passthrough
    impute      median imputation of missing values
    variance    drop constant features (VarianceThreshold, threshold 0)
    correlation drop one of each pair with |Pearson r| > 0.9 (CorrelationFilter)
    scale       z-score (StandardScaler)
    select      top-k features by ANOVA F / Mann-Whitney / mRMR (classification only)
    clf         the model

The default ``superlearner`` and ``ensemble`` have no ``scale``/``select`` steps of
their own: their members scale and select inside them (see :mod:`voxelomics.model.stacking`
and :mod:`voxelomics.model.ensemble`).

Hyper-parameter spaces (tuned by the inner cross-validation loop):

model       estimator                                                grid
=========== ======================================================== ==================
ensemble    mean of L2 LR (k, C tuned inside, one-SE rule) and RF    none (tuned inside)
enet_lr     LogisticRegression(l1_ratio=0.5, saga)                   k in {8, 32}, C in {0.05, 0.5}
svm         SVC(rbf, probability=True)                               k in {8, 32}, C in {0.3, 3}
rf          RandomForestClassifier(250 trees, min leaf 2)            k in {16, 64}
gb          GradientBoostingClassifier(100 trees, depth 2, sub 0.8)  k in {16, 64}, lr in {0.03, 0.1}
auto        enet_lr and rf grids together (inner loop picks model)   6 candidates
coxnet      CoxnetSurvivalAnalysis(l1_ratio=0.5)                     alpha in {0.3, 0.1, 0.03}
rsf         RandomSurvivalForest(200 trees, min leaf 5)              max_features in {sqrt, 0.2}
enet        elastic-net regression (continuous target)               alpha x l1_ratio, one-SE
rf          random-forest regression (continuous target)             k in {16, 64}, one-SE
=========== ======================================================== ==================

Continuous targets (``task="regression"``) are described in :mod:`voxelomics.model.regression`;
covariates (``--covariates``) bypass the feature steps (:mod:`voxelomics.model.covariates`).

The default classifier is ``ensemble`` (:class:`~voxelomics.model.ensemble.RadiomicsEnsemble`):
a linear signature and a random forest are averaged rather than made to compete on a
noisy inner loop (the former default, ``auto``, picks one of them per outer fold);
``docs/modelling.md`` gives the reasoning.
=======
============ ======================================================== ==================
model        estimator                                                grid
============ ======================================================== ==================
superlearner convex stacking of L2 LR, RF (Mann-Whitney), RF (ET)     none (tuned inside)
ensemble     mean of L2 LR (k, C tuned inside, one-SE rule) and RF    none (tuned inside)
enet_lr      LogisticRegression(l1_ratio=0.5, saga)                   k in {8, 32}, C in {0.05, 0.5}
svm          SVC(rbf, probability=True)                               k in {8, 32}, C in {0.3, 3}
rf           RandomForestClassifier(250 trees, min leaf 2)            k in {16, 64}
gb           GradientBoostingClassifier(100 trees, depth 2, sub 0.8)  k in {16, 64}, lr in {0.03, 0.1}
auto         enet_lr and rf grids together (inner loop picks model)   6 candidates
coxnet       CoxnetSurvivalAnalysis(l1_ratio=0.5)                     alpha in {0.3, 0.1, 0.03}
rsf          RandomSurvivalForest(200 trees, min leaf 5)              max_features in {sqrt, 0.2}
enet         elastic-net regression (continuous target)               alpha x l1_ratio, one-SE
rf           random-forest regression (continuous target)             k in {16, 64}, one-SE
============ ======================================================== ==================

Continuous targets (``task="regression"``) are described in :mod:`voxelomics.model.regression`;
covariates (``--covariates``) bypass the feature steps (:mod:`voxelomics.model.covariates`).

The default classifier is ``superlearner`` (:class:`~voxelomics.model.stacking.SuperLearner`):
a linear signature and two random forests are combined with convex weights fitted on
their cross-validated predictions (shrunk towards equal weights), rather than made to
compete on a noisy inner loop (``auto`` picks one per outer fold) or averaged with fixed
weights (``ensemble``, :class:`~voxelomics.model.ensemble.RadiomicsEnsemble`, the default
before); ``docs/modelling.md`` gives the reasoning.
"""

from __future__ import annotations

from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.feature_selection import VarianceThreshold
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from voxelomics.errors import ModelError
from voxelomics.model.harmonise import ComBat
from voxelomics.model.select import CorrelationFilter, MRMRSelector, UnivariateSelector

__all__ = [
    "CLASSIFIERS",
    "SURVIVAL_MODELS",
    "SELECTORS",
    "make_pipeline",
]

CLASSIFIERS = ("superlearner", "ensemble", "auto", "enet_lr", "svm", "rf", "gb")
SURVIVAL_MODELS = ("coxnet", "rsf")
SELECTORS = ("anova", "mannwhitney", "mrmr", "none")


def _classifier(name: str, random_state: int):
    if name == "enet_lr":
        est = LogisticRegression(l1_ratio=0.5, solver="saga", C=0.5, max_iter=3000, tol=1e-3,
                                 random_state=random_state)
        return est, {"select__k": [8, 32], "clf__C": [0.05, 0.5]}
    if name == "svm":
        est = SVC(kernel="rbf", C=1.0, probability=True, random_state=random_state)
        return est, {"select__k": [8, 32], "clf__C": [0.3, 3.0]}
    if name == "rf":
        est = RandomForestClassifier(
            n_estimators=250, min_samples_leaf=2, max_features="sqrt", n_jobs=1,
            random_state=random_state,
        )
        return est, {"select__k": [16, 64]}
    if name == "gb":
        est = GradientBoostingClassifier(
            n_estimators=100, max_depth=2, subsample=0.8, random_state=random_state
        )
        return est, {"select__k": [16, 64], "clf__learning_rate": [0.03, 0.1]}
    raise ModelError(f"unknown classifier {name!r}; expected one of {CLASSIFIERS}")


def _survival_model(name: str, random_state: int):
    from sksurv.ensemble import RandomSurvivalForest
    from sksurv.linear_model import CoxnetSurvivalAnalysis

    if name == "coxnet":
        est = CoxnetSurvivalAnalysis(l1_ratio=0.5, alphas=[0.1], fit_baseline_model=True, max_iter=100000)
        return est, {"clf__alphas": [[0.3], [0.1], [0.03]]}
    if name == "rsf":
        est = RandomSurvivalForest(
            n_estimators=200, min_samples_leaf=5, max_features="sqrt", n_jobs=1,
            random_state=random_state,
        )
        return est, {"clf__max_features": ["sqrt", 0.2]}
    raise ModelError(f"unknown survival model {name!r}; expected one of {SURVIVAL_MODELS}")


def make_pipeline(
    model: str = "superlearner",
    *,
    batch: bool = False,
    selector: str = "anova",
    correlation_threshold: float = 0.9,
    random_state: int = 0,
    task: str | None = None,
    n_covariates: int = 0,
    n_inputs: int | None = None,
) -> tuple[Pipeline, list[dict]]:
    """Build a model pipeline and the hyper-parameter grid of its inner loop.

    Parameters
    ----------
    model : {"superlearner", "ensemble", "auto", "enet_lr", "svm", "rf", "gb", "coxnet", "rsf", "enet"}, default="superlearner"
        Classifier (binary target) or survival model (time/event); see the module table.
    batch : bool, default=False
        Whether column 0 of X holds batch codes to harmonise with :class:`ComBat`.
    selector : {"anova", "mannwhitney", "mrmr", "none"}, default="anova"
        Supervised selection step of classifiers (ignored for survival models).
    correlation_threshold : float, default=0.9
        Largest |Pearson r| kept between two features.
    random_state : int, default=0
        Seed of the stochastic models.
    task : {"classification", "survival", "regression"} or None, default=None
        ``"regression"`` builds a model of a continuous target (``enet``, ``rf``; see
        :mod:`voxelomics.model.regression`); otherwise the task follows the model name.
    n_covariates : int, default=0
        The last ``n_covariates`` of the ``n_inputs`` input columns are covariates that
        bypass the feature steps (:func:`voxelomics.model.covariates.with_covariates`).
    n_inputs : int or None, default=None
        Number of input columns; needed with covariates.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Unfitted.
    param_grid : list of dict
        Grid for :class:`~sklearn.model_selection.GridSearchCV` (step-prefixed names);
        empty for ``superlearner`` and ``ensemble``, which tune inside their ``fit``.

    Raises
    ------
    ModelError
        If ``model`` or ``selector`` is unknown.
    """
    if selector not in SELECTORS:
        raise ModelError(f"unknown selector {selector!r}; expected one of {SELECTORS}")
    if n_covariates:
        from voxelomics.model.covariates import with_covariates

        if n_inputs is None:
            raise ModelError("make_pipeline needs n_inputs with covariates")
        pipe, grid = make_pipeline(model, batch=batch, selector=selector,
                                   correlation_threshold=correlation_threshold,
                                   random_state=random_state, task=task)
        return with_covariates(pipe, grid, n_covariates, n_inputs)
    steps = [
        ("combat", ComBat(batch_index=0) if batch else "passthrough"),
        ("impute", SimpleImputer(strategy="median")),
        ("variance", VarianceThreshold(0.0)),
        ("correlation", CorrelationFilter(threshold=correlation_threshold)),
        ("scale", StandardScaler()),
    ]
    if task == "regression":
        from voxelomics.model.regression import regression_model

        est, sel, grid = regression_model(model, random_state)
        return Pipeline([*steps, ("select", sel), ("clf", est)]), [grid]
    if model in SURVIVAL_MODELS:
        est, grid = _survival_model(model, random_state)
        return Pipeline([*steps, ("clf", est)]), [grid]
    if model not in CLASSIFIERS:
        raise ModelError(
            f"unknown model {model!r}; expected one of {CLASSIFIERS + SURVIVAL_MODELS}"
        )
    if model == "superlearner":
        from voxelomics.model.stacking import SuperLearner

        return Pipeline([*steps[:-1], ("clf", SuperLearner(random_state=random_state))]), []
    if model == "ensemble":
        from voxelomics.model.ensemble import RadiomicsEnsemble

        return Pipeline([*steps[:-1], ("clf", RadiomicsEnsemble(random_state=random_state))]), []
    if selector == "mrmr":
        sel = MRMRSelector(k=16)
    elif selector == "none":
        sel = "passthrough"
    else:
        sel = UnivariateSelector(method=selector, k=16)
    names = ["enet_lr", "rf"] if model == "auto" else [model]
    grids = []
    first = None
    for name in names:
        est, grid = _classifier(name, random_state)
        first = first or est
        if sel == "passthrough":
            grid = {k: v for k, v in grid.items() if not k.startswith("select__")}
        grids.append({"clf": [est], **grid})
    pipe = Pipeline([*steps, ("select", sel), ("clf", first)])
    if len(grids) == 1:
        grids[0].pop("clf")
    return pipe, grids
