"""The modelling workflows behind ``voxelomics model``: cv and fit (predict and validate
live in :mod:`voxelomics.model.external` and are re-exported here).

Each function takes file paths and settings, does one job and returns plain results;
the CLI only parses options, calls these and prints. They are the Python API too.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from voxelomics.errors import ModelError
from voxelomics.model.config import ModelSettings
from voxelomics.model.join import NOT_EXTRACTED, clinical_matrix, read_feature_tables
from voxelomics.model.results import column_report, write_json
from voxelomics.model.survival import event_field as _ev
from voxelomics.model.tables import (
    EXCLUDED,
    IDENTIFIER_COLUMNS,
    OUTCOME_LIKE,
    ModelData,
    default_id_column,
    did_you_mean,
    join_clinical,
    prepare_data,
    read_table,
)

__all__ = ["TableSpec", "Progress", "column_report", "load_data", "run_cv", "fit_model",
           "NOT_EXTRACTED"]

#: ``progress(stage, done, total)``: called by long workflows after each unit of work.
Progress = Callable[[str, int, int], None]


def ci_method(groups: str | None) -> str:
    """How the confidence intervals were computed, for ``metrics.json``.

    Parameters
    ----------
    groups : str or None
        Patient (group) column.

    Returns
    -------
    text : str
    """
    unit = (f"patients (column {groups!r}; all rows of a drawn patient come along)"
            if groups else "patients (rows)")
    return (f"percentile bootstrap over {unit}, plain (not stratified by class or event, so "
            "the prevalence varies as between cohorts), of the metric averaged over CV "
            "repeats; comparators on the same resamples (paired); see voxelomics.model.metrics")


@dataclass(frozen=True)
class TableSpec:
    """Where the data comes from and which columns play which role.

    Attributes
    ----------
    table : Path or tuple of Path
        Feature table (CSV/TSV/Parquet), or several joined on the case (fusion, see
        :mod:`voxelomics.model.join`).
    target : str or None
        Binary outcome column.
    id_col : str or None
        Identifier column (excluded from features, written to predictions). None: the
        ``case_id`` column if the feature table has one, else ``ID``/``id``, else row
        numbers (see :func:`~voxelomics.model.tables.default_id_column`).
    time, event : str or None
        Survival columns.
    clinical : Path or None
        Clinical table joined on ``on``; its other columns feed the clinical-only comparator.
    on : str or None
        Join column (defaults to the identifier column).
    batch : str or None
        Batch column for ComBat.
    exclude : tuple of str
        Columns of the feature table that are not features (``--exclude``). The id,
        outcome, batch, group and join columns are never features anyway.
    group : str or None
        Patient column (``--group``): no patient in a training and a test fold at once.
        None: ``patient_id`` when the table has one (and it is not the id column);
        ``"none"``: no grouping.
    volume : str or None
        Tumour-volume column for the volume-only comparator and the safeguards; None:
        recognised by name (:func:`~voxelomics.model.join.find_volume_column`).
    task : {"auto", "classification", "regression"} or None
        What ``target`` is (``--task``); None: by its values (two values: binary; more
        numbers: continuous; see :func:`~voxelomics.model.tables.prepare_data`).
    covariates : tuple of str
        Columns of the feature or clinical table that enter the model outside feature
        selection (``--covariates``; :mod:`voxelomics.model.covariates`).
    lesions : {"all", "largest", "volume_weighted"} or None
        Rule for several rows (lesions) of one patient (``--lesions``;
        :mod:`voxelomics.model.lesions`); None: ``all``.
    positive : str or None
        Positive class of a binary ``target`` (``--positive``); None: the second of its
        two values in sort order.
    """

    table: Path | tuple
    target: str | None = None
    id_col: str | None = None
    time: str | None = None
    event: str | None = None
    clinical: Path | None = None
    on: str | None = None
    batch: str | None = None
    exclude: tuple[str, ...] = ()
    group: str | None = None
    volume: str | None = None
    task: str | None = None
    covariates: tuple[str, ...] = ()
    lesions: str | None = None
    positive: str | None = None

    @property
    def tables(self) -> tuple[Path, ...]:
        """The feature tables as a tuple of paths."""
        if isinstance(self.table, (tuple, list)):
            return tuple(Path(t) for t in self.table)
        return (Path(self.table),)


def _group_column(spec: TableSpec, columns, id_col: str | None) -> str | None:
    if spec.group is not None:
        return None if spec.group.lower() == "none" else spec.group
    if "patient_id" in columns and id_col != "patient_id":
        return "patient_id"
    return None


def load_data(spec: TableSpec, *, features: list[str] | None = None,
              batch_levels: list[str] | None = None,
              covariate_levels: dict | None = None) -> ModelData:
    """Read, join and split the tables named by ``spec``.

    Parameters
    ----------
    spec : TableSpec
    features : list of str or None
        Feature columns of a fitted model (default: all numeric columns).
    batch_levels : list of str or None
        Batch categories of a fitted model.
    covariate_levels : dict or None
        Levels of the text covariates of a fitted model (coded the same way).

    Returns
    -------
    ModelData
        Features are the feature tables' numeric columns other than the id, outcome,
        batch, group, join and ``spec.exclude`` columns; for a ``features.parquet`` written
        by ``voxelomics extract`` only its radiomic feature columns
        (:func:`~voxelomics.model.tables.extraction_features`), the manifest columns
        being reported as dropped. ``without_clinical`` lists feature rows the clinical
        table had no row for; ``clinical`` holds the clinical-only comparator's inputs;
        ``tables`` describes the joined feature tables. Covariates (``spec.covariates``)
        are the last columns of ``X``; lesions are aggregated by ``spec.lesions``.

    Raises
    ------
    ModelError
        Unreadable or empty tables, missing columns, failed join, invalid outcome, rows
        of several regions (ROI and rings) or image types in one table.
    """
    from voxelomics.model.lesions import aggregate_lesions, check_one_region, lesion_keys

    df, not_features, tables = read_feature_tables(spec.tables, id_col=spec.id_col)
    first = spec.tables[0] if len(spec.tables) == 1 else None
    candidates = list(df.columns)  # clinical columns are outcome/batch, never features
    id_col = spec.id_col or default_id_column(df.columns)
    exclude: dict[str, str] = {}
    for c in spec.exclude:
        if c not in df.columns:
            raise ModelError(f"--exclude column {c!r} not found{did_you_mean(c, df.columns)}",
                             path=first)
        exclude[c] = EXCLUDED
    if features is None:
        exclude.update({c: r for c, r in not_features.items() if c not in exclude})
    roles: tuple[str, ...] = ()
    without = None
    clinical_cols: list[str] = []
    if spec.clinical is not None:
        on = spec.on or id_col
        if on is None:
            raise ModelError("a clinical table needs --on COL (or --id COL) to join on",
                             path=spec.clinical)
        clin = read_table(spec.clinical)
        df = join_clinical(df, clin, on, clinical_path=spec.clinical)
        without = list(df.attrs.get("without_clinical", []))
        roles = (on,)
        clinical_cols = [f"{c}_clinical" if c in candidates else c for c in clin.columns if c != on]
    group = _group_column(spec, df.columns, id_col)
    names = ", ".join(str(t) for t in spec.tables)
    where = names if spec.clinical is None else f"{names} + {spec.clinical}"
    check_one_region(df, where)
    df, id_col = lesion_keys(df, id_col, group)
    covs = tuple(spec.covariates)
    data = prepare_data(
        df, target=spec.target, id_col=id_col, time=spec.time, event=spec.event,
        batch=spec.batch, features=features, batch_levels=batch_levels,
        candidates=candidates, exclude=exclude, roles=roles + covs, path=where, group=group,
        task=spec.task, positive=spec.positive,
    )
    if covs:
        from voxelomics.model.covariates import encode_covariates

        Xc, levels, notes = encode_covariates(df.reset_index(drop=True), covs,
                                              levels=covariate_levels, where=where)
        data = replace(data, X=pd.concat([data.X, Xc.reset_index(drop=True)], axis=1),
                       covariates=list(Xc.columns), covariate_levels=levels,
                       notes=list(data.notes) + notes)
    clinical = None
    if clinical_cols:
        role_cols = {spec.target, spec.time, spec.event, spec.batch, group, id_col, spec.on}
        usable = [c for c in clinical_cols if c not in role_cols
                  and str(c).lower() not in IDENTIFIER_COLUMNS]
        # another outcome of the clinical table (a survival time beside a binary target)
        # would make the clinical comparator look better than clinical variables can
        left_out = {c: "named like an outcome" for c in usable if _outcome_like(c)}
        clinical, dropped = clinical_matrix(df, [c for c in usable if c not in left_out])
        clinical = clinical.reset_index(drop=True)
        clinical.attrs["left_out"] = {**left_out, **dropped}
    data = replace(data, without_clinical=without, clinical=clinical, tables=tables)
    if spec.lesions not in (None, "all") or data.groups is not None:
        from voxelomics.model.join import find_volume_column

        volume = find_volume_column(data.feature_names, spec.volume)
        data = aggregate_lesions(data, spec.lesions or "all", volume=volume)
    return data


#: Name parts of clinical columns that hold an outcome (left out of the clinical comparator).
OUTCOME_PARTS = {"time", "os", "pfs", "dfs", "rfs", "efs", "survival", "death", "dead",
                 "event", "recurrence", "progression", "outcome", "target", "response"}


def _outcome_like(name) -> bool:
    low = str(name).lower()
    return low in OUTCOME_LIKE or bool(set(re.split(r"[^a-z0-9]+", low)) & OUTCOME_PARTS)


def _pipeline(settings: ModelSettings, data: ModelData):
    from voxelomics.model.covariates import combat_prefix
    from voxelomics.model.estimators import make_pipeline

    name = settings.resolved_model(data.task)
    pipe, grid = make_pipeline(name, batch=data.batch_levels is not None,
                               selector=settings.selector,
                               correlation_threshold=settings.correlation_threshold,
                               random_state=settings.random_state, task=data.task,
                               n_covariates=len(data.covariates), n_inputs=data.X.shape[1])
    if data.batch_levels is not None:
        pre = combat_prefix(pipe)
        pipe.set_params(**{f"{pre}unseen_batch": settings.unseen_batch,
                           f"{pre}batch_labels": list(data.batch_levels)})
    return name, pipe, grid


def _figures(data_y, scores, task: str, out: Path, *, prefix: str = "", groups=None,
             where: str = "out-of-fold", metrics: dict | None = None) -> dict:
    from voxelomics.model import plots

    figs = {}
    if task == "regression":
        from voxelomics.model.score_plots import plot_observed_predicted

        figs["observed_vs_predicted"] = str(plot_observed_predicted(
            data_y, scores, out / f"{prefix}observed_vs_predicted.png", groups=groups,
            metrics=metrics, title=f"Observed vs predicted ({where})"))
        return figs
    if task == "classification":
        figs["roc"] = str(plots.plot_roc(data_y, scores, out / f"{prefix}roc.png",
                                         groups=groups, title=f"ROC ({where})"))
        figs["calibration"] = str(plots.plot_calibration(
            data_y, scores, out / f"{prefix}calibration.png", title=f"Calibration ({where})"))
    else:
        path, p = plots.plot_km(data_y, scores, out / f"{prefix}kaplan_meier.png",
                                title=f"Kaplan-Meier by predicted risk ({where})")
        figs["kaplan_meier"] = str(path)
        figs["logrank_p"] = p
    return figs


def _outcome_summary(data: ModelData) -> dict:
    if data.task == "survival":
        return {"n_events": int(_ev(data.y).sum())}
    if data.task == "regression":
        y = np.asarray(data.y, float)
        return {"target_summary": {"mean": float(y.mean()), "sd": float(y.std(ddof=1)),
                                   "median": float(np.median(y)), "min": float(y.min()),
                                   "max": float(y.max())}}
    labels = [str(c) for c in data.classes]
    return {"class_balance": {labels[0]: int((data.y == 0).sum()),
                              labels[1]: int((data.y == 1).sum())},
            "classes": labels}


def _stage(progress: Progress | None, stage: str):
    return None if progress is None else (lambda done, total: progress(stage, done, total))


def run_cv(spec: TableSpec, settings: ModelSettings, out: str | Path, *, plots: bool = True,
           progress: bool | Progress | None = None) -> dict:
    """Nested cross-validation of the model and its comparators; writes ``out/metrics.json``.

    Also writes ``out/oof_predictions.csv`` (long form: one row per patient and repeat,
    with the fold, the observed outcome, the model's and each comparator's prediction)
    and, with ``plots``, the ROC and calibration figures (classification) or the
    Kaplan-Meier figure of median-split risk groups (survival), the comparators figure
    and the permutation null distribution. The layout of ``metrics.json`` is documented
    in ``docs/modelling.md``.

    Parameters
    ----------
    spec : TableSpec
    settings : ModelSettings
    out : str or Path
        Output folder (created).
    plots : bool, default=True
    progress : bool or callable or None
        True: progress bars on a terminal (outer folds, permutation folds); a callable:
        ``progress(stage, done, total)`` after each outer fold (stage ``"cv"``) and each
        fold of the permutation test (``"permutations"``); False/None: silent.

    Returns
    -------
    metrics : dict
        The content of ``metrics.json``.

    Raises
    ------
    ModelError
        Invalid tables, too few samples per class for the folds, constant features.
    """
    from voxelomics.model.progress import progress_callback

    with progress_callback(progress) as callback:
        return _run_cv(spec, settings, Path(out), plots=plots, progress=callback)


def _run_cv(spec: TableSpec, settings: ModelSettings, out: Path, *, plots: bool,
            progress: Progress | None) -> dict:
    from voxelomics.model import safeguards as sg
    from voxelomics.model.join import find_volume_column
    from voxelomics.model.results import build_comparators, compare, headline_metric, oof_frame
    from voxelomics.model.validation import nested_cv, permutation_test

    t0 = time.perf_counter()
    data = load_data(spec)
    if data.task == "none":
        raise ModelError("model cv needs --target COL, or --time COL and --event COL")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name, pipe, grid = _pipeline(settings, data)
    volume = find_volume_column(data.feature_names, spec.volume)
    comps, info, skipped = build_comparators(settings.resolved_baselines(data.task), data,
                                             volume=volume, random_state=settings.random_state)
    cv_args = dict(n_splits=settings.n_splits, n_repeats=settings.n_repeats,
                   inner_splits=settings.inner_splits, inner_repeats=settings.inner_repeats)
    res = nested_cv(data.X, data.y, pipe, grid, task=data.task, **cv_args,
                    random_state=settings.random_state, n_boot=settings.n_boot,
                    groups=data.groups, comparators=comps, n_jobs=settings.n_jobs,
                    progress=_stage(progress, "cv"))
    key = headline_metric(data.task)
    comparators = compare(data.y, res.oof, res.comparators, info, task=data.task,
                          n_boot=settings.n_boot, seed=settings.random_state,
                          groups=data.groups, errors=res.comparator_errors)
    stability = sg.selection_stability(res.folds, len(data.feature_names))
    member, sig = sg.signature(stability)
    batch_labels = (None if data.batch_levels is None else
                    np.asarray(data.batch_levels)[data.X["batch"].to_numpy(int)])
    x_batch = (None if data.batch_levels is None
               else sg.harmonised(data.features_only, data.batch_levels))
    assoc = sg.feature_associations(data.X, sig, volume=volume, batch=batch_labels,
                                    frequency=stability.get(member, {}).get("frequency"),
                                    X_batch=x_batch)
    flags, warns = sg.flags_and_warnings(data.task, comparators, assoc, volume)
    metrics: dict = {
        "schema": "voxelomics.model.cv/2",
        "task": data.task, "model": name, **res.metrics,
        "n_samples": res.n_samples, "n_features": len(data.feature_names),
        **_outcome_summary(data),
        "validation": {"outer": f"{settings.n_splits}-fold x {settings.n_repeats} repeats, "
                                "stratified" + (" on quantile bins of the target"
                                                if data.task == "regression" else "")
                                + (", grouped by patient" if data.groups is not None else ""),
                       "inner": f"{settings.inner_splits}-fold x {settings.inner_repeats} "
                                "repeats" + (" (inside the ensemble, one-SE rule)"
                                             if name in ("superlearner", "ensemble") else " grid search"
                                             + (", one-SE rule" if data.task == "regression"
                                                else "")),
                       "ci95_method": ci_method(data.group_col)},
        "chosen_in_inner_loop": res.chosen_models(),
        "folds": res.folds,
        "selection_stability": stability,
        "selection_frequency": dict(stability.get(member, {}).get("frequency", {})),
        "comparators": comparators,
        "comparators_skipped": skipped,
        "safeguards": {"volume_column": volume, "batch_column": spec.batch,
                       "signature_member": member, "signature": sig, "features": assoc,
                       "thresholds": {"volume_rho": sg.VOLUME_RHO, "batch_eta": sg.BATCH_ETA,
                                      "signature_frequency": sg.SIGNATURE_FREQUENCY}},
        "flags": flags,
        "warnings": warns,
        "fit_warnings": res.warnings,
        "settings": settings.model_dump(),
        "batch_levels": data.batch_levels,
        **column_report(data),
    }
    if settings.n_permutations and data.task == "classification":
        metrics["permutation_test"] = permutation_test(
            data.X, data.y, pipe, grid, observed=res.metrics["auc"]["mean"],
            n_permutations=settings.n_permutations, random_state=settings.random_state,
            groups=data.groups, n_jobs=settings.n_jobs,
            progress=_stage(progress, "permutations"), **cv_args)
    oof_frame(data, res.oof, res.fold_of, res.comparators).to_csv(out / "oof_predictions.csv",
                                                                  index=False)
    metrics["files"] = {"oof_predictions": "oof_predictions.csv"}
    if plots:
        from voxelomics.model import plots as pl

        figs = _figures(data.y, res.oof, data.task, out, groups=data.groups, metrics=res.metrics)
        if comparators:
            figs["comparators"] = str(pl.plot_comparators(metrics, key, out / "comparators.png"))
        if "permutation_test" in metrics:
            perm = metrics["permutation_test"]
            figs["permutation_null"] = str(pl.plot_null_distribution(
                perm["null_auc"], perm["observed_auc"], perm["p_value"],
                out / "permutation_null.png"))
        metrics["figures"] = figs
    metrics["wall_time_s"] = round(time.perf_counter() - t0, 2)
    write_json(out / "metrics.json", metrics)
    return metrics


def fit_model(spec: TableSpec, settings: ModelSettings, out: str | Path, *,
              score_name: str | None = None, score_cutoff: str | float = "median") -> dict:
    """Tune by inner cross-validation on all rows, refit, and save the model.

    The comparators (volume-only, clinical-only, batch-only, fixed pipeline) are fitted on
    the same rows and saved beside the model (``comparators.skops``), so that ``model
    validate`` can score them on the external table. The model's prediction is a named
    score (``score`` in ``model.json``: its name, its distribution on the training rows
    and the cut-off that ``validate`` applies unchanged to another cohort).

    Parameters
    ----------
    spec : TableSpec
    settings : ModelSettings
    out : str or Path
        Model folder (``model.skops`` + ``model.json``).
    score_name : str or None, default=None
        Name of the prediction (``--score-name CD8_score``): the column ``predict`` writes
        and the name ``validate`` reports; default ``predicted`` (continuous target),
        ``probability`` (binary) or ``risk_score`` (survival).
    score_cutoff : "median" or float, default="median"
        Cut-off of the score into a low and a high group, fixed here on the training
        cohort only: the median of the fitted model's scores of the training rows, or a
        given value (``--score-cutoff``).

    Returns
    -------
    meta : dict
        The sidecar content; ``description`` says which model and hyper-parameters were
        chosen, ``inner_cv_score`` their inner-CV score (AUC or C-index).

    Raises
    ------
    ModelError
        Invalid tables or outcome.
    """
    from voxelomics.model.ensemble import RadiomicsEnsemble
    from voxelomics.model.join import find_volume_column
    from voxelomics.model.persist import save_model, training_summary
    from voxelomics.model.results import build_comparators
    from voxelomics.model.runner import fit_predict, summarise_warnings
    from voxelomics.model.validation import check_cv_target, check_grouped_folds

    data = load_data(spec)
    if data.task == "none":
        raise ModelError("model fit needs --target COL, or --time COL and --event COL")
    check_cv_target(data.y, data.task, settings.inner_splits, option="--inner-folds")
    if data.groups is not None:
        everyone = np.arange(len(data.y))
        check_grouped_folds(data.y, [(0, 0, everyone, everyone[:0])], data.groups,
                            task=data.task, inner_splits=settings.inner_splits)
    name, pipe, grid = _pipeline(settings, data)
    X = np.asarray(data.X, float)
    import warnings

    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fitted, params, score = fit_predict(
            pipe, grid, X, data.y, task=data.task, inner_splits=settings.inner_splits,
            inner_repeats=settings.inner_repeats, seed=settings.random_state,
            groups=data.groups, extra={"clf__score_members": True} if not grid else None)
        volume = find_volume_column(data.feature_names, spec.volume)
        comps, info, skipped = build_comparators(settings.resolved_baselines(data.task), data,
                                                 volume=volume,
                                                 random_state=settings.random_state)
        fitted_comps = {}
        for cname, cpipe, Xc in comps:
            try:
                fitted_comps[cname] = cpipe.fit(np.asarray(Xc, float), data.y)
            except (ValueError, ArithmeticError) as exc:
                skipped[cname] = f"could not be fitted: {exc}"
                info.pop(cname, None)
    clf = fitted.steps[-1][1]
    if isinstance(clf, RadiomicsEnsemble):
        description = clf.describe()
        score = clf.inner_scores_.get("ensemble", score)
        inner = clf.inner_scores_
    else:
        description = f"{name}" + (f" ({', '.join(f'{k}={v}' for k, v in params.items())})"
                                   if params else "")
        inner = {}
    for cname in info:
        if cname == "clinical":
            info[cname]["inputs"] = [str(c) for c in data.clinical.columns]
    feats_only = data.X[data.feature_names]
    meta = {
        "task": data.task, "model": name, "description": description,
        "features": data.feature_names,
        "batch": spec.batch, "batch_levels": data.batch_levels,
        "target": spec.target, "time": spec.time, "event": spec.event,
        "group": data.group_col, "volume_column": volume,
        "covariate_columns": list(spec.covariates),
        "feature_tables": [t["name"] for t in data.tables],
        "classes": [str(c) for c in data.classes],
        "best_params": params,
        "inner_cv_score": float(score),
        "inner_cv_metric": {"classification": "auc", "survival": "c_index"}.get(data.task, "r2"),
        "inner_cv_scores": inner,
        "comparators": info, "comparators_skipped": skipped,
        "fit_warnings": summarise_warnings((w.category.__name__, str(w.message)) for w in rec),
        "settings": settings.model_dump(),
        "training": training_summary(feats_only, data.y, data.feature_names, data.task,
                                     data.classes),
        **column_report(data),
        "source_table": ", ".join(str(t) for t in spec.tables),
        "source_table_resolved": str(spec.tables[0].resolve()),
        "source_table_sha256": _sha256(spec.tables[0]),
        # hashed, so that the sidecar does not carry the identifiers in plain text; used by
        # 'validate' to warn about patients shared with the validation table
        "training_ids_sha256": (None if data.id_col is None
                                else sorted({_id_hash(i) for i in data.ids})),
    }
    from voxelomics.model.runner import predict_scores
    from voxelomics.model.score import training_score

    meta["score"] = training_score(predict_scores(fitted, X), task=data.task, name=score_name,
                                   cutoff=score_cutoff)
    save_model(fitted, meta, out, comparators=fitted_comps)
    return meta


def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _id_hash(value) -> str:
    return hashlib.sha256(str(value).strip().encode()).hexdigest()[:16]


def __getattr__(name):  # predict/validate moved to voxelomics.model.external
    if name in ("predict_table", "validate_model", "MIN_VALIDATION_ROWS"):
        from voxelomics.model import external

        return getattr(external, name)
    raise AttributeError(name)
