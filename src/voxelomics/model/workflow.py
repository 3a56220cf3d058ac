"""The modelling workflows behind ``voxelomics model``: cv, fit, predict, validate.

Each function takes file paths and settings, does one job and returns plain results;
the CLI only parses options, calls these and prints. They are the Python API too.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from voxelomics.errors import ModelError
from voxelomics.model.config import ModelSettings
from voxelomics.model.survival import event_field as _ev
from voxelomics.model.tables import (
    EXCLUDED,
    IDENTIFIER_COLUMNS,
    ModelData,
    default_id_column,
    did_you_mean,
    extraction_features,
    join_clinical,
    prepare_data,
    read_table,
)

__all__ = ["TableSpec", "column_report", "load_data", "run_cv", "fit_model", "predict_table",
           "validate_model"]

CI_METHOD = ("percentile bootstrap over patients (class-stratified) of the metric averaged "
             "over CV repeats; see voxelomics.model.metrics")


@dataclass(frozen=True)
class TableSpec:
    """Where the data comes from and which columns play which role.

    Attributes
    ----------
    table : Path
        Feature table (CSV/TSV/Parquet).
    target : str or None
        Binary outcome column.
    id_col : str or None
        Identifier column (excluded from features, written to predictions). None: the
        ``case_id`` column if the feature table has one, else ``ID``/``id``, else row
        numbers (see :func:`~voxelomics.model.tables.default_id_column`).
    time, event : str or None
        Survival columns.
    clinical : Path or None
        Clinical table joined on ``on``.
    on : str or None
        Join column (defaults to the identifier column).
    batch : str or None
        Batch column for ComBat.
    exclude : tuple of str
        Columns of the feature table that are not features (``--exclude``). The id,
        outcome, batch and join columns are never features anyway.
    """

    table: Path
    target: str | None = None
    id_col: str | None = None
    time: str | None = None
    event: str | None = None
    clinical: Path | None = None
    on: str | None = None
    batch: str | None = None
    exclude: tuple[str, ...] = ()


#: Reason recorded for the manifest columns of a ``voxelomics extract`` table.
NOT_EXTRACTED = "not a radiomic feature of the extraction (a manifest column)"
#: Warn when the minority class (or the events) of a validation table has fewer rows.
MIN_VALIDATION_ROWS = 10


def load_data(spec: TableSpec, *, features: list[str] | None = None,
              batch_levels: list[str] | None = None) -> ModelData:
    """Read, join and split the tables named by ``spec``.

    Parameters
    ----------
    spec : TableSpec
    features : list of str or None
        Feature columns of a fitted model (default: all numeric columns).
    batch_levels : list of str or None
        Batch categories of a fitted model.

    Returns
    -------
    ModelData
        Features are the feature table's numeric columns other than the id, outcome,
        batch, join and ``spec.exclude`` columns; for a ``features.parquet`` written by
        ``voxelomics extract`` only its radiomic feature columns
        (:func:`~voxelomics.model.tables.extraction_features`), the manifest columns
        being reported as dropped. ``without_clinical`` lists feature rows the clinical
        table had no row for.

    Raises
    ------
    ModelError
        Unreadable or empty tables, missing columns, failed join, invalid outcome.
    """
    df = read_table(spec.table)
    if len(df) == 0:
        raise ModelError("the table has no rows", path=spec.table)
    candidates = list(df.columns)  # clinical columns are outcome/batch, never features
    id_col = spec.id_col or default_id_column(df.columns)
    exclude: dict[str, str] = {}
    for c in spec.exclude:
        if c not in df.columns:
            raise ModelError(f"--exclude column {c!r} not found{did_you_mean(c, df.columns)}",
                             path=spec.table)
        exclude[c] = EXCLUDED
    if features is None:
        extracted = extraction_features(spec.table, df.columns)
        if extracted is not None:
            keep = set(extracted)
            exclude.update({c: NOT_EXTRACTED for c in df.columns if c not in keep
                            and c not in exclude and str(c).lower() not in IDENTIFIER_COLUMNS})
    roles: tuple[str, ...] = ()
    without = None
    if spec.clinical is not None:
        on = spec.on or id_col
        if on is None:
            raise ModelError("a clinical table needs --on COL (or --id COL) to join on",
                             path=spec.clinical)
        df = join_clinical(df, read_table(spec.clinical), on, clinical_path=spec.clinical)
        without = list(df.attrs.get("without_clinical", []))
        roles = (on,)
    where = spec.table if spec.clinical is None else f"{spec.table} + {spec.clinical}"
    data = prepare_data(
        df, target=spec.target, id_col=id_col, time=spec.time, event=spec.event,
        batch=spec.batch, features=features, batch_levels=batch_levels,
        candidates=candidates, exclude=exclude, roles=roles, path=where,
    )
    return data if without is None else replace(data, without_clinical=without)


def _pipeline(settings: ModelSettings, data: ModelData):
    from voxelomics.model.estimators import make_pipeline

    name = settings.resolved_model(data.task)
    pipe, grid = make_pipeline(name, batch=data.batch_levels is not None,
                               selector=settings.selector,
                               correlation_threshold=settings.correlation_threshold,
                               random_state=settings.random_state)
    if data.batch_levels is not None:
        pipe.set_params(combat__unseen_batch=settings.unseen_batch,
                        combat__batch_labels=list(data.batch_levels))
    return name, pipe, grid


def _write_json(path: Path, obj: dict) -> None:
    def default(o):
        if isinstance(o, np.generic):
            return o.item()
        return str(o)

    path.write_text(json.dumps(obj, indent=2, default=default, allow_nan=True))


def _figures(data_y, scores, task: str, out: Path, prefix: str = "") -> dict:
    from voxelomics.model import plots

    figs = {}
    if task == "classification":
        figs["roc"] = str(plots.plot_roc(data_y, scores, out / f"{prefix}roc.png"))
        figs["calibration"] = str(plots.plot_calibration(data_y, scores, out / f"{prefix}calibration.png"))
    else:
        path, p = plots.plot_km(data_y, scores, out / f"{prefix}kaplan_meier.png")
        figs["kaplan_meier"] = str(path)
        figs["logrank_p"] = p
    return figs


def column_report(data: ModelData) -> dict:
    """What happened to the table's columns, for ``metrics.json`` and ``model.json``.

    Parameters
    ----------
    data : ModelData

    Returns
    -------
    report : dict
        ``id_column`` (None: row numbers), ``dropped_columns`` (list of ``{"column",
        "reason"}``: columns that are not features), ``coerced_columns`` (text or boolean
        columns converted to numbers), ``missing_values`` (feature column -> number of
        missing values) and ``infinite_values`` (feature column -> number of ``inf``/
        ``-inf`` values, treated as missing); both are imputed inside the pipeline from
        the training rows. ``outcome_like_features`` lists features named like an
        outcome. With a clinical table, ``n_rows_without_clinical`` counts the feature
        rows left out because the clinical table has no row for them.
    """
    report = {"id_column": data.id_col, "dropped_columns": data.dropped_report(),
              "coerced_columns": list(data.coerced), "missing_values": dict(data.missing),
              "infinite_values": dict(data.infinite),
              "outcome_like_features": list(data.outcome_like)}
    if data.without_clinical is not None:
        report["n_rows_without_clinical"] = len(data.without_clinical)
        report["rows_without_clinical"] = list(data.without_clinical[:10])
    return report


def _outcome_summary(data: ModelData) -> dict:
    if data.task == "survival":
        return {"n_events": int(_ev(data.y).sum())}
    labels = [str(c) for c in data.classes]
    return {"class_balance": {labels[0]: int((data.y == 0).sum()),
                              labels[1]: int((data.y == 1).sum())},
            "classes": labels}


def _observed(data: ModelData) -> dict:
    """Observed outcome columns for prediction CSVs (original labels / time and event)."""
    if data.task == "survival":
        from voxelomics.model.survival import time_field

        return {"observed_time": time_field(data.y), "observed_event": _ev(data.y).astype(int)}
    if data.task == "classification":
        return {"observed": np.asarray([str(c) for c in data.classes], dtype=object)[data.y]}
    return {}


def run_cv(spec: TableSpec, settings: ModelSettings, out: str | Path, *, plots: bool = True) -> dict:
    """Nested cross-validation of the configured model; writes ``out/metrics.json``.

    Also writes ``out/oof_predictions.csv`` (one column per repeat) and, with
    ``plots``, the ROC and calibration figures (classification) or the Kaplan-Meier
    figure of median-split risk groups (survival).

    Parameters
    ----------
    spec : TableSpec
    settings : ModelSettings
    out : str or Path
        Output folder (created).
    plots : bool, default=True

    Returns
    -------
    metrics : dict
        The content of ``metrics.json``.

    Raises
    ------
    ModelError
        Invalid tables or too few samples per class for the folds.
    """
    from voxelomics.model.validation import nested_cv, permutation_test

    t0 = time.perf_counter()
    data = load_data(spec)
    if data.task == "none":
        raise ModelError("model cv needs --target COL, or --time COL and --event COL")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name, pipe, grid = _pipeline(settings, data)
    res = nested_cv(data.X, data.y, pipe, grid, task=data.task, n_splits=settings.n_splits,
                    n_repeats=settings.n_repeats, inner_splits=settings.inner_splits,
                    random_state=settings.random_state, n_boot=settings.n_boot)
    metrics: dict = {
        "task": data.task, "model": name, **res.metrics,
        "n_samples": res.n_samples, "n_features": len(data.feature_names),
        **_outcome_summary(data),
        "validation": {"outer": f"{settings.n_splits}-fold x {settings.n_repeats} repeats, stratified",
                       "inner": f"{settings.inner_splits}-fold grid search",
                       "ci95_method": CI_METHOD},
        "chosen_in_inner_loop": res.chosen_models(),
        "settings": settings.model_dump(),
        "batch_levels": data.batch_levels,
        **column_report(data),
    }
    if settings.n_permutations and data.task == "classification":
        metrics["permutation_test"] = permutation_test(
            data.X, data.y, pipe, grid, observed=res.metrics["auc"]["mean"],
            n_permutations=settings.n_permutations, random_state=settings.random_state,
            n_splits=settings.n_splits, n_repeats=settings.n_repeats,
            inner_splits=settings.inner_splits)
    oof = pd.DataFrame({"id": data.ids, **_observed(data)})
    oof = pd.concat([oof, pd.DataFrame(res.oof.T, columns=[f"repeat_{r}" for r in
                                                           range(res.oof.shape[0])])], axis=1)
    oof.to_csv(out / "oof_predictions.csv", index=False)
    if plots:
        metrics["figures"] = _figures(data.y, res.oof, data.task, out)
    metrics["wall_time_s"] = round(time.perf_counter() - t0, 2)
    _write_json(out / "metrics.json", metrics)
    return metrics


def fit_model(spec: TableSpec, settings: ModelSettings, out: str | Path) -> dict:
    """Tune by cross-validated grid search on all rows, refit, and save the model.

    Parameters
    ----------
    spec : TableSpec
    settings : ModelSettings
    out : str or Path
        Model folder (``model.skops`` + ``model.json``).

    Returns
    -------
    meta : dict
        The sidecar content.

    Raises
    ------
    ModelError
        Invalid tables or outcome.
    """
    from voxelomics.model.persist import save_model, training_summary
    from voxelomics.model.validation import _fit_search, _inner_search, check_cv_target

    data = load_data(spec)
    if data.task == "none":
        raise ModelError("model fit needs --target COL, or --time COL and --event COL")
    check_cv_target(data.y, data.task, settings.inner_splits, option="--inner-folds")
    name, pipe, grid = _pipeline(settings, data)
    search = _inner_search(pipe, grid, data.task, settings.inner_splits, settings.random_state)
    _fit_search(search, np.asarray(data.X, float), data.y, data.task)
    feats_only = data.X[data.feature_names]
    meta = {
        "task": data.task, "model": name, "features": data.feature_names,
        "batch": spec.batch, "batch_levels": data.batch_levels,
        "target": spec.target, "time": spec.time, "event": spec.event,
        "classes": [str(c) for c in data.classes],
        "best_params": {k: (type(v).__name__ if k == "clf" else v)
                        for k, v in search.best_params_.items()},
        "inner_cv_score": float(search.best_score_),
        "settings": settings.model_dump(),
        "training": training_summary(feats_only, data.y, data.feature_names, data.task,
                                     data.classes),
        **column_report(data),
        "source_table": str(spec.table),
        "source_table_resolved": str(Path(spec.table).resolve()),
        "source_table_sha256": _sha256(spec.table),
        # hashed, so that the sidecar does not carry the identifiers in plain text; used by
        # 'validate' to warn about patients shared with the validation table
        "training_ids_sha256": (None if data.id_col is None
                                else sorted({_id_hash(i) for i in data.ids})),
    }
    save_model(search.best_estimator_, meta, out)
    return meta


def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _id_hash(value) -> str:
    return hashlib.sha256(str(value).strip().encode()).hexdigest()[:16]


def predict_table(model_dir: str | Path, spec: TableSpec, out: str | Path | None = None, *,
                  unseen_batch: str | None = None) -> pd.DataFrame:
    """Predict a table with a saved model; optionally write a CSV.

    Parameters
    ----------
    model_dir : str or Path
        Folder written by :func:`fit_model`.
    spec : TableSpec
        Table to predict (``target``/``time``/``event`` are ignored here). The batch
        column of the model is read from the table when the model used one.
    out : str or Path or None
        CSV to write.
    unseen_batch : {"error", "pooled"} or None
        Batch levels the model was not trained on: refuse, or leave those rows
        unadjusted by ComBat; None uses the model's ``unseen_batch`` setting.

    Returns
    -------
    predictions : pandas.DataFrame
        ``id`` and ``probability`` + ``predicted_class`` (classification) or
        ``risk_score`` (survival). ``predictions.attrs`` holds ``id_column`` (None: row
        numbers), ``missing_values`` and ``infinite_values`` (feature column -> missing
        or inf/-inf values, imputed with the training medians stored in the model) and
        ``unseen_batches`` (batch levels left unadjusted).

    Raises
    ------
    ModelError
        Missing/corrupt model, model feature columns missing from the table, or batch
        levels the model was not trained on (with ``unseen_batch="error"``).
    """
    from voxelomics.model.persist import load_model
    from voxelomics.model.validation import predict_scores

    saved = load_model(model_dir)
    meta = saved.meta
    pspec = TableSpec(table=spec.table, id_col=spec.id_col, clinical=spec.clinical,
                      on=spec.on, batch=meta.get("batch"))
    data = load_data(pspec, features=meta["features"], batch_levels=meta.get("batch_levels"))
    unseen: list[str] = []
    if meta.get("batch_levels") is not None:
        policy = unseen_batch or (meta.get("settings") or {}).get("unseen_batch", "error")
        unseen = sorted(set(data.batch_levels) - set(meta["batch_levels"]))
        if unseen and policy == "error":
            raise ModelError(
                f"batch column {meta['batch']!r} holds categories {unseen} that the model "
                f"was not trained on (known: {meta['batch_levels']}); refit with them, or "
                "pass --unseen-batch pooled to leave their rows unadjusted by ComBat",
                path=spec.table)
        saved.estimator.set_params(combat__unseen_batch=policy,
                                   combat__batch_labels=list(data.batch_levels))
    scores = predict_scores(saved.estimator, np.asarray(data.X, float))
    pred = pd.DataFrame({"id": data.ids})
    pred.attrs.update(id_column=data.id_col, missing_values=dict(data.missing),
                      infinite_values=dict(data.infinite), unseen_batches=unseen)
    if meta["task"] == "survival":
        pred["risk_score"] = scores
    else:
        pred["probability"] = scores
        classes = meta.get("classes") or ["0", "1"]
        pred["predicted_class"] = np.where(scores >= 0.5, classes[1], classes[0])
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        pred.to_csv(out, index=False)
    return pred


def _validation_warnings(data: ModelData, meta: dict, spec: TableSpec) -> list[str]:
    """Warnings that make a validation result meaningless or optimistic."""
    warnings = []
    if data.task == "classification":
        counts = np.bincount(np.asarray(data.y, int), minlength=2)
        k = int(np.argmin(counts))
        if counts[k] < MIN_VALIDATION_ROWS:
            warnings.append(
                f"the validation table has only {int(counts[k])} row(s) of class "
                f"{data.classes[k]!r} ({len(data.y)} rows in all); with fewer than "
                f"{MIN_VALIDATION_ROWS} the AUC and its confidence interval mean little")
    elif data.task == "survival":
        n_ev = int(_ev(data.y).sum())
        if n_ev < MIN_VALIDATION_ROWS:
            warnings.append(
                f"the validation table has only {n_ev} event(s) ({len(data.y)} rows in all); "
                f"with fewer than {MIN_VALIDATION_ROWS} the C-index and its confidence "
                "interval mean little")
    table = Path(spec.table)
    same = (meta.get("source_table_resolved") == str(table.resolve())
            or (meta.get("source_table_sha256") is not None
                and meta["source_table_sha256"] == _sha256(table)))
    if same:
        warnings.append(
            "the validation table is the table the model was trained on "
            f"({meta.get('source_table')}); this is not an external validation and its "
            "metrics are optimistic")
    elif meta.get("training_ids_sha256") and data.id_col is not None:
        trained = set(meta["training_ids_sha256"])
        shared = sum(_id_hash(i) in trained for i in data.ids)
        if shared:
            warnings.append(
                f"{shared} of the {len(data.ids)} validation identifier(s) (column "
                f"{data.id_col!r}) were also in the training table; patients seen in "
                "training make the validation optimistic")
    return warnings


def validate_model(model_dir: str | Path, spec: TableSpec, out: str | Path, *,
                   n_boot: int = 1000, seed: int = 0, plots: bool = True,
                   unseen_batch: str | None = None) -> dict:
    """External validation of a saved model on a second table; writes ``out/metrics.json``.

    Also writes ``out/predictions.csv`` (id, observed outcome, prediction) and, with
    ``plots``, the figures. ``metrics["warnings"]`` lists reasons the result may mean
    little: fewer than :data:`MIN_VALIDATION_ROWS` rows of the minority class (or
    events), the training table itself, or identifiers shared with the training table.

    Parameters
    ----------
    model_dir : str or Path
    spec : TableSpec
        External table with the outcome (``target`` or ``time``/``event``).
    out : str or Path
    n_boot : int, default=1000
    seed : int, default=0
    plots : bool, default=True
    unseen_batch : {"error", "pooled"} or None
        As for :func:`predict_table`.

    Returns
    -------
    metrics : dict

    Raises
    ------
    ModelError
        Missing model or columns, no outcome, or an outcome of the wrong kind for the model.
    """
    from voxelomics.model.metrics import bootstrap_metrics
    from voxelomics.model.persist import load_model
    from voxelomics.model.survival import survival_metrics

    saved = load_model(model_dir)
    meta = saved.meta
    if spec.target is None and spec.time is None and spec.event is None:
        raise ModelError(_needs_outcome(meta), path=spec.table)
    pred = predict_table(model_dir, spec, unseen_batch=unseen_batch)
    data = load_data(TableSpec(table=spec.table, target=spec.target, id_col=spec.id_col,
                               time=spec.time, event=spec.event, clinical=spec.clinical,
                               on=spec.on), features=meta["features"])
    if data.task != meta["task"]:
        raise ModelError(f"the model is a {meta['task']} model but the outcome given "
                         f"is for {data.task}; " + _needs_outcome(meta), path=spec.table)
    if data.task == "classification" and [str(c) for c in data.classes] != meta["classes"]:
        raise ModelError(f"target {spec.target!r} holds classes {[str(c) for c in data.classes]} "
                         f"but the model was trained on {meta['classes']}", path=spec.table)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scores = pred.iloc[:, 1].to_numpy(float)
    if data.task == "classification":
        metrics = bootstrap_metrics(data.y, scores, n_boot=n_boot, seed=seed)
    else:
        metrics = survival_metrics(data.y, scores, n_boot=min(n_boot, 200), seed=seed)
    warnings = _validation_warnings(data, meta, spec)
    if pred.attrs.get("unseen_batches"):
        warnings.append(f"batch level(s) {pred.attrs['unseen_batches']} were not in the "
                        "training data; their rows were not harmonised (unseen_batch: pooled)")
    report = column_report(data)
    result = {"task": data.task, "model_dir": str(model_dir), **metrics,
              "n_samples": len(data.y), "n_features": len(meta["features"]),
              **_outcome_summary(data), "ci95_method": "percentile bootstrap over patients",
              "id_column": pred.attrs.get("id_column"),
              "missing_values": pred.attrs.get("missing_values", {}),
              "infinite_values": pred.attrs.get("infinite_values", {}),
              "warnings": warnings}
    if "n_rows_without_clinical" in report:
        result["n_rows_without_clinical"] = report["n_rows_without_clinical"]
        result["rows_without_clinical"] = report["rows_without_clinical"]
    observed = pd.DataFrame(_observed(data))
    pd.concat([pred.iloc[:, :1], observed, pred.iloc[:, 1:]], axis=1).to_csv(
        out / "predictions.csv", index=False)
    if plots:
        result["figures"] = _figures(data.y, scores, data.task, out)
    _write_json(out / "metrics.json", result)
    return result


def _needs_outcome(meta: dict) -> str:
    if meta.get("task") == "survival":
        return ("this model was trained for survival: give --time COL and --event COL (it "
                f"was trained with --time {meta.get('time')!r} --event {meta.get('event')!r})")
    return ("this model was trained for classification: give --target COL (the binary "
            f"outcome; it was trained with --target {meta.get('target')!r})")
