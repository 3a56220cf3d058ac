"""Using a saved model on new tables: ``model predict`` and ``model validate``.

``validate`` scores a saved model on an external table with bootstrap confidence
intervals (over patients; whole patients with ``--group``), and scores the comparators
saved with it (volume-only, clinical-only, batch-only, fixed pipeline; fitted on the
training table by ``model fit``) on the same rows, with paired differences, so that an
external validation says whether the signature beats volume there too.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from voxelomics.errors import ModelError
from voxelomics.model.results import observed_columns as _observed
from voxelomics.model.results import write_json
from voxelomics.model.survival import event_field as _ev
from voxelomics.model.tables import ModelData
from voxelomics.model.workflow import (
    TableSpec,
    _figures,
    _id_hash,
    _outcome_summary,
    _sha256,
    ci_method,
    column_report,
    load_data,
)

__all__ = ["MIN_VALIDATION_ROWS", "predict_table", "validate_model", "model_table_spec"]

#: Warn when the minority class (or the events) of a validation table has fewer rows.
MIN_VALIDATION_ROWS = 10


def model_table_spec(meta: dict, spec: TableSpec) -> TableSpec:
    """The rows a saved model expects from a new table, without outcome columns.

    The model's batch column, covariates and lesion rule (``model.json``) are applied as
    in training; the patient column is the one given, else the model's when it
    aggregates lesions.

    Parameters
    ----------
    meta : dict
        ``model.json``.
    spec : TableSpec
        The new table(s), identifier, clinical table and patient column.

    Returns
    -------
    TableSpec

    Raises
    ------
    ModelError
        ``spec`` names covariates or a lesion rule other than the model's: a score is
        applied unchanged, so they can only repeat what ``model.json`` holds.
    """
    rule = (meta.get("lesions") or {}).get("rule") or "all"
    covs = list(meta.get("covariate_columns") or ())
    if spec.covariates and list(spec.covariates) != covs:
        raise ModelError(f"--covariates {list(spec.covariates)} differ from the model's "
                         f"{covs}: a saved model is applied unchanged, with the covariates it "
                         "was fitted on (leave --covariates out)", path=spec.tables[0])
    if spec.lesions is not None and spec.lesions != rule:
        raise ModelError(f"--lesions {spec.lesions} differs from the model's rule {rule!r}: a "
                         "saved model aggregates lesions as in training (leave --lesions out)",
                         path=spec.tables[0])
    group = spec.group if spec.group is not None else (meta.get("group") if rule != "all"
                                                       else None)
    return TableSpec(table=spec.table, id_col=spec.id_col, clinical=spec.clinical, on=spec.on,
                     batch=meta.get("batch"), group=group,
                     covariates=tuple(meta.get("covariate_columns") or ()),
                     lesions=rule, volume=meta.get("volume_column"))


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
        ``id`` and ``probability`` + ``predicted_class`` (classification),
        ``risk_score`` (survival) or ``predicted`` (continuous target); a model fitted
        with ``--score-name NAME`` writes its prediction as column ``NAME`` (beside
        ``predicted_class`` for classification). ``predictions.attrs`` holds ``id_column``
        (None: row numbers), ``missing_values`` and ``infinite_values`` (feature column ->
        missing or inf/-inf values, imputed with the training medians stored in the
        model), ``unseen_batches`` (batch levels left unadjusted), ``score_column`` and
        ``notes`` (e.g. covariate levels the model has not seen). With a lesion rule
        ``largest``/``volume_weighted`` there is one row per patient.

    Raises
    ------
    ModelError
        Missing/corrupt model, model feature columns missing from the table, or batch
        levels the model was not trained on (with ``unseen_batch="error"``).
    """
    from voxelomics.model.covariates import combat_prefix
    from voxelomics.model.persist import load_model
    from voxelomics.model.runner import predict_scores
    from voxelomics.model.score import DEFAULT_SCORE_NAMES

    saved = load_model(model_dir)
    meta = saved.meta
    pspec = model_table_spec(meta, spec)
    if pspec.lesions == "all" and spec.group is None:
        pspec = replace(pspec, group="none")
    data = load_data(pspec, features=meta["features"], batch_levels=meta.get("batch_levels"),
                     covariate_levels=meta.get("covariate_levels"))
    unseen: list[str] = []
    if meta.get("batch_levels") is not None:
        policy = unseen_batch or (meta.get("settings") or {}).get("unseen_batch", "error")
        unseen = sorted(set(data.batch_levels) - set(meta["batch_levels"]))
        if unseen and policy == "error":
            raise ModelError(
                f"batch column {meta['batch']!r} holds categories {unseen} that the model "
                f"was not trained on (known: {meta['batch_levels']}); refit with them, or "
                "pass --unseen-batch pooled to leave their rows unadjusted by ComBat",
                path=spec.tables[0])
        pre = combat_prefix(saved.estimator)
        saved.estimator.set_params(**{f"{pre}unseen_batch": policy,
                                      f"{pre}batch_labels": list(data.batch_levels)})
    scores = predict_scores(saved.estimator, np.asarray(data.X, float))
    pred = pd.DataFrame({"id": data.ids})
    default = DEFAULT_SCORE_NAMES.get(meta["task"], "predicted")
    name = (meta.get("score") or {}).get("name") or default
    pred.attrs.update(id_column=data.id_col, missing_values=dict(data.missing),
                      infinite_values=dict(data.infinite), unseen_batches=unseen,
                      score_column=name, notes=list(data.notes))
    if meta["task"] == "classification":
        pred["probability"] = scores
        classes = meta.get("classes") or ["0", "1"]
        pred["predicted_class"] = np.where(scores >= 0.5, classes[1], classes[0])
        if name != "probability":
            pred[name] = scores
    else:
        pred[name] = scores
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
    table = spec.tables[0]
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

    Also writes ``out/predictions.csv`` (id, observed outcome, prediction, and each
    comparator's prediction) and, with ``plots``, the figures (titled "external
    validation"). The comparators saved by ``model fit`` are scored on the same rows with
    paired differences (``comparators``; ``flags["does_not_beat_volume"]``).
    ``metrics["warnings"]`` lists reasons the result may mean little: fewer than
    :data:`MIN_VALIDATION_ROWS` rows of the minority class (or events), the training
    table itself, identifiers shared with the training table, or a signature that does
    not beat volume.

    Parameters
    ----------
    model_dir : str or Path
    spec : TableSpec
        External table(s) with the outcome (``target`` or ``time``/``event``); ``group``
        makes the bootstrap resample whole patients.
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
    from voxelomics.model.persist import load_model
    from voxelomics.model.results import compare, headline_metric
    from voxelomics.model.safeguards import flags_and_warnings
    from voxelomics.model.score import is_score_validation, validate_score
    from voxelomics.model.validation import score_predictions

    saved = load_model(model_dir)
    meta = saved.meta
    if spec.target is None and spec.time is None and spec.event is None:
        raise ModelError(_needs_outcome(meta), path=spec.tables[0])
    if is_score_validation(meta, spec):
        try:
            return validate_score(saved, model_dir, spec, out, n_boot=n_boot, seed=seed,
                                  plots=plots, unseen_batch=unseen_batch)
        except ModelError as exc:
            raise _other_kind(meta, spec, exc) from None
    pred = predict_table(model_dir, spec, unseen_batch=unseen_batch)
    data = load_data(replace(model_table_spec(meta, spec), target=spec.target, time=spec.time,
                             event=spec.event, group=spec.group, task=spec.task),
                     features=meta["features"], batch_levels=meta.get("batch_levels"),
                     covariate_levels=meta.get("covariate_levels"))
    if data.task != meta["task"]:
        raise ModelError(f"the model is a {meta['task']} model but the outcome given "
                         f"is for {data.task}; " + _needs_outcome(meta), path=spec.tables[0])
    if data.task == "classification":
        data = _fitted_positive(data, meta, spec)
    if data.task == "classification" and [str(c) for c in data.classes] != meta["classes"]:
        raise ModelError(f"target {spec.target!r} holds classes {[str(c) for c in data.classes]} "
                         f"but the model was trained on {meta['classes']}", path=spec.tables[0])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scores = pred["probability" if data.task == "classification" else
                  pred.attrs["score_column"]].to_numpy(float)
    metrics = score_predictions(data.y, scores, task=data.task, n_boot=n_boot, seed=seed,
                                groups=data.groups)
    warnings = _validation_warnings(data, meta, spec) + list(pred.attrs.get("notes", []))
    if pred.attrs.get("unseen_batches"):
        warnings.append(f"batch level(s) {pred.attrs['unseen_batches']} were not in the "
                        "training data; their rows were not harmonised (unseen_batch: pooled)")
    comp_scores, info, skipped = _comparator_scores(saved, data, unseen_batch)
    comparators = compare(data.y, scores, comp_scores, info, task=data.task, n_boot=n_boot,
                          seed=seed, groups=data.groups)
    flags, more = flags_and_warnings(data.task, comparators, [], meta.get("volume_column"))
    report = column_report(data)
    result = {"schema": "voxelomics.model.validate/2", "task": data.task,
              "model_dir": str(model_dir), "model": meta.get("model"),
              "description": meta.get("description"), **metrics,
              "n_samples": len(data.y), "n_features": len(meta["features"]),
              **_outcome_summary(data), "ci95_method": ci_method(data.group_col),
              "id_column": pred.attrs.get("id_column"), "groups": report["groups"],
              "missing_values": pred.attrs.get("missing_values", {}),
              "infinite_values": pred.attrs.get("infinite_values", {}),
              "comparators": comparators, "comparators_skipped": skipped,
              "flags": flags, "warnings": warnings + more}
    if "n_rows_without_clinical" in report:
        result["n_rows_without_clinical"] = report["n_rows_without_clinical"]
        result["rows_without_clinical"] = report["rows_without_clinical"]
    observed = pd.DataFrame(_observed(data))
    table = pd.concat([pred.iloc[:, :1], observed, pred.iloc[:, 1:]], axis=1)
    for name, p in comp_scores.items():
        table[f"baseline_{name}"] = p
    table.to_csv(out / "predictions.csv", index=False)
    result["files"] = {"predictions": "predictions.csv"}
    if plots:
        from voxelomics.model import plots as pl

        figs = _figures(data.y, scores, data.task, out, groups=data.groups,
                        where="external validation")
        if comparators:
            figs["comparators"] = str(pl.plot_comparators(
                result, headline_metric(data.task), out / "comparators.png",
                title="External validation against comparators"))
        result["figures"] = figs
    write_json(out / "metrics.json", result)
    return result


def _comparator_scores(saved, data: ModelData, unseen_batch: str | None):
    """Predictions of the comparators saved with a model, on a validation table."""
    from voxelomics.model.runner import predict_scores

    meta = saved.meta
    info = dict(meta.get("comparators") or {})
    skipped = dict(meta.get("comparators_skipped") or {})
    scores = {}
    policy = unseen_batch or (meta.get("settings") or {}).get("unseen_batch", "error")
    for name, model in (saved.comparators or {}).items():
        if name not in info:
            continue
        if name == "volume":
            X = data.X[[meta["volume_column"]]]
        elif name == "clinical":
            inputs = info[name]["inputs"]
            if data.clinical is None:
                skipped[name] = "no clinical table (--clinical)"
                info.pop(name)
                continue
            missing = [c for c in inputs if c not in data.clinical.columns and "=" not in c]
            if missing:
                skipped[name] = f"clinical column(s) {missing[:5]} missing from the clinical table"
                info.pop(name)
                continue
            X = data.clinical.reindex(columns=inputs, fill_value=0.0)
        elif name == "batch":
            X = data.X[["batch"]]
        elif name == "covariates":
            X = data.X[list(data.covariates)]
        else:
            X = data.features_only
            if meta.get("batch_levels") is not None:
                model.set_params(combat__unseen_batch=policy,
                                 combat__batch_labels=list(data.batch_levels))
        try:
            scores[name] = predict_scores(model, np.asarray(X, float))
        except (ValueError, ArithmeticError) as exc:
            skipped[name] = f"could not be applied: {exc}"
            info.pop(name)
    return scores, info, skipped


def _fitted_positive(data, meta: dict, spec: TableSpec):
    """The outcome coded with the fitted model's positive class (``meta["classes"][1]``).

    A model fitted with ``--positive`` keeps that class positive on every table; a
    ``--positive`` given to ``validate`` must name the same class.
    """
    from dataclasses import replace as _replace

    fitted = [str(c) for c in meta.get("classes") or []]
    if spec.positive is not None and fitted and str(spec.positive).strip() != fitted[1]:
        raise ModelError(f"--positive {spec.positive!r} differs from the class the model was fitted with "
                         f"as positive, {fitted[1]!r} (of {fitted[0]!r}, {fitted[1]!r}): a saved model "
                         "keeps its positive class (leave --positive out)", path=spec.tables[0])
    got = [str(c) for c in data.classes]
    if len(fitted) == 2 and got == fitted[::-1]:
        return _replace(data, y=1 - np.asarray(data.y), classes=list(data.classes)[::-1])
    return data


def _other_kind(meta: dict, spec: TableSpec, exc: ModelError) -> ModelError:
    """A missing outcome column of another kind than the model's: say what the model takes.

    ``--time/--event`` on a classifier (or ``--target`` on a survival model) validates
    its prediction as a score; when those columns are absent the user most likely meant
    the model's own outcome, so the message starts with it.
    """
    task = meta.get("task")
    given = [f"--{n} column {getattr(spec, n)!r}" for n in ("time", "event", "target")
             if getattr(spec, n) is not None]
    if not any(g in exc.message and "not found" in exc.message for g in given):
        return exc
    if task == "classification" and spec.target is None:
        lead = (f"this model was fitted for a binary target (--target {meta.get('target')!r}): "
                "validate it with --target COL, not --time/--event (those validate its predicted "
                "probability as a survival score, and need their columns)")
    elif task == "survival" and spec.target is not None and spec.time is None and spec.event is None:
        lead = (f"this model was fitted for survival (--time {meta.get('time')!r} --event "
                f"{meta.get('event')!r}): validate it with --time COL --event COL, not --target (which "
                "validates its risk score against a binary outcome, and needs its column)")
    else:
        return exc
    return ModelError(f"{lead}; {exc.message}", path=exc.path, case_id=exc.case_id, step=exc.step)


def _needs_outcome(meta: dict) -> str:
    if meta.get("task") == "survival":
        return ("this model was trained for survival: give --time COL and --event COL (it "
                f"was trained with --time {meta.get('time')!r} --event {meta.get('event')!r})")
    return ("this model was trained for classification: give --target COL (the binary "
            f"outcome; it was trained with --target {meta.get('target')!r})")
