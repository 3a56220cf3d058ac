"""``voxelomics model``: nested CV, fitting, prediction and external validation.

The lead mounts this sub-application with ``app.add_typer(model_app, name="model")``.
Heavy libraries (scikit-learn, scikit-survival, matplotlib) are imported inside the
command bodies so that ``voxelomics --help`` stays fast. Any
:class:`~voxelomics.errors.VoxelomicsError` (a :class:`ModelError` for bad tables or
models, a :class:`SettingsError` for bad settings) ends the command with exit code 2
and its message on stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from voxelomics.errors import VoxelomicsError

__all__ = ["model_app"]

COLUMNS_HELP = (
    "Features are the numeric columns of the feature table, except the columns named by "
    "--target, --time, --event, --batch, --id, --on and --exclude (repeatable: --exclude "
    "Target --exclude age). For a features.parquet written by 'voxelomics extract' only "
    "its radiomic feature columns are features (manifest columns such as outcome or "
    "centre are not). Identifier columns (case_id, "
    "roi, image_type, modality, provenance, warnings, id, patient_id, subject_id, lesion_id) are "
    "never features. Text columns whose values are all numbers (e.g. age written "
    "as '63') are converted; booleans become 0/1. Other text columns (categorical "
    "variables such as sex, identifier-like text) are NOT one-hot encoded: they are "
    "dropped with a warning and listed with the reason in dropped_columns of metrics.json "
    "/ model.json; code categories as numbers to use them. Missing feature values and "
    "inf/-inf (treated as missing) are imputed inside the pipeline (median of the "
    "training rows) and counted per column in missing_values / infinite_values. "
    "Clinical-table columns are never features; feature rows without a clinical row are "
    "left out (counted in n_rows_without_clinical). The --id column must be unique (one "
    "row per patient). Settings keys: docs/modelling.md."
)

model_app = typer.Typer(
    name="model",
    help="Honest models from a feature table: nested CV, fit, predict, validate. " + COLUMNS_HELP,
    no_args_is_help=True,
    add_completion=False,
)

TablesArg = Annotated[list[Path] | None, typer.Argument(
    help="Feature table(s) (CSV, TSV or Parquet); several are joined on the case (case_id/roi, "
         "else the --id column): radiomics + deep features + clinical variables.",
    show_default=False, metavar="TABLE")]
TableArg = Annotated[Path, typer.Argument(help="Feature table (CSV, TSV or Parquet).")]
Features = Annotated[list[Path] | None, typer.Option(
    "--features", metavar="TABLE", help="A further feature table to join on the case "
    "(repeatable; the same as giving several tables).")]
Group = Annotated[str | None, typer.Option(
    "--group", help="Patient column: no patient is in a training and a test fold at once "
    "(outer and inner folds), and the bootstrap resamples whole patients (default: "
    "patient_id when the table has it; 'none' to switch off).")]
Volume = Annotated[str | None, typer.Option(
    "--volume", help="Tumour-volume column for the volume-only comparator and the "
    "safeguards (default: recognised by name, e.g. morphology_volume, "
    "*original_shape_MeshVolume).")]
Jobs = Annotated[int | None, typer.Option(
    "--jobs", "-j", help="Worker processes for the outer folds (and permutations); -1 = every "
    "core (default 1).")]
Target = Annotated[str | None, typer.Option(
    "--target", help="Outcome column: binary (classification) or continuous (regression: "
    "numbers with more than two values; see --task); not with --time/--event, except in "
    "'validate' of a score.")]
Task = Annotated[str | None, typer.Option(
    "--task", help="What --target is: auto (default: two values = binary, more numbers = "
    "continuous; whole numbers with at most 10 values are refused), classification or "
    "regression.")]
Positive = Annotated[str | None, typer.Option(
    "--positive", metavar="VALUE", help="The positive class of a binary --target (coded 1: "
    "AUC, sensitivity and probabilities are of it); default: the second value in sort order "
    "(yes of no/yes, 1 of 0/1). 'validate' takes the fitted model's.")]
Covariates = Annotated[list[str] | None, typer.Option(
    "--covariates", metavar="COL", help="Column of the feature or clinical table that enters "
    "the model as it is, outside feature selection (repeatable): e.g. dicom_kvp, location; "
    "text columns are one-hot coded. See docs/modelling.md.")]
Lesions = Annotated[str | None, typer.Option(
    "--lesions", help="Several rows (lesions) per patient (--group): all (default: lesions as "
    "samples, folds grouped by patient), largest (the largest lesion by volume) or "
    "volume_weighted (volume-weighted mean of each feature, total volume).")]
SavedCovariates = Annotated[list[str] | None, typer.Option(
    "--covariates", metavar="COL", help="Not needed: the model's covariates (model.json) are "
    "used unchanged; if given, they must be the same (a clear error otherwise).")]
SavedLesions = Annotated[str | None, typer.Option(
    "--lesions", help="Not needed: the model's lesion rule (model.json) is applied unchanged; "
    "if given, it must be the same (a clear error otherwise).")]
IdCol = Annotated[str | None, typer.Option(
    "--id", help="Identifier column (default: case_id if present, else ID, else row numbers).")]
TimeCol = Annotated[str | None, typer.Option("--time", help="Survival time column.")]
EventCol = Annotated[str | None, typer.Option("--event", help="Event indicator column (1 = event).")]
Clinical = Annotated[Path | None, typer.Option("--clinical", help="Clinical table to join.")]
On = Annotated[str | None, typer.Option("--on", help="Join column (default: the --id column).")]
Batch = Annotated[str | None, typer.Option(
    "--batch", help="Batch column for ComBat harmonisation: a scanner or centre label with a "
    "few levels, each holding at least 2 rows.")]
Exclude = Annotated[list[str] | None, typer.Option(
    "--exclude", metavar="COL", help="Column of the feature table that is not a feature "
    "(repeatable), e.g. an outcome column when modelling another outcome.")]
UnseenBatch = Annotated[str | None, typer.Option(
    "--unseen-batch", help="Batch levels the model was not trained on: 'error' (refuse) or "
    "'pooled' (leave their rows unadjusted); default: the model's unseen_batch setting.")]
SettingsOpt = Annotated[Path | None, typer.Option("--settings", help="YAML model settings.")]
ModelOpt = Annotated[str | None, typer.Option(
    "--model", help="auto, enet_lr, svm, rf, gb (binary), coxnet, rsf (survival) or enet, rf "
    "(continuous target: elastic-net or random-forest regression).")]
Seed = Annotated[int | None, typer.Option("--seed", help="Random seed.")]
Plots = Annotated[bool, typer.Option("--plots/--no-plots", help="Write figures.")]


def _fail(exc: Exception) -> None:
    if isinstance(exc, ArithmeticError):
        # A numerical failure inside an estimator (e.g. scikit-survival's Cox elastic-net
        # "weights are too large"): the input was valid, the fit was not possible.
        typer.echo(
            f"error: the model could not be fitted: {exc} (the features may hold extreme "
            "values or too few events; try a stronger penalty in the settings, fewer features, "
            "or --model rsf)",
            err=True,
        )
        raise typer.Exit(code=1)
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(code=2)


def _spec(tables, target=None, id_col=None, time=None, event=None, clinical=None, on=None,
          batch=None, exclude=None, group=None, volume=None, features=None, *, task=None,
          covariates=None, lesions=None, both=False, positive=None):
    from voxelomics.errors import ModelError
    from voxelomics.model.workflow import TableSpec

    if not both and target is not None and (time is not None or event is not None):
        raise ModelError("give either --target (classification) or --time and --event "
                         "(survival), not both (a --target of numbers is a continuous target; "
                         "both only in 'validate' of a score)")
    paths = [*(tables if isinstance(tables, (list, tuple)) else [tables] if tables else []),
             *(features or [])]
    if not paths:
        raise ModelError("give a feature table (TABLE, or --features TABLE)")
    if lesions is not None:
        from voxelomics.model.lesions import LESION_RULES

        if lesions not in LESION_RULES:
            raise ModelError(f"--lesions must be one of {list(LESION_RULES)}, got {lesions!r}")
    return TableSpec(table=tuple(paths) if len(paths) > 1 else paths[0], target=target,
                     id_col=id_col, time=time, event=event, clinical=clinical, on=on,
                     batch=batch, exclude=tuple(exclude or ()), group=group, volume=volume,
                     task=task, covariates=tuple(covariates or ()), lesions=lesions,
                     positive=positive)


def _unseen(value: str | None) -> str | None:
    from voxelomics.errors import SettingsError

    if value is not None and value not in ("error", "pooled"):
        raise SettingsError(f"--unseen-batch must be 'error' or 'pooled', got {value!r}")
    return value


def _limited(items: list[str], limit: int = 10) -> str:
    more = len(items) - limit
    return "; ".join(items[:limit]) + (f"; and {more} more" if more > 0 else "")


def _column_notes(report: dict, imputed_with: str) -> None:
    """Warn about dropped columns and note imputed values (one line each, on stderr)."""
    from voxelomics.model.tables import EXCLUDED, IDENTIFIER_COLUMNS

    dropped = [d for d in report.get("dropped_columns", [])
               if str(d["column"]).lower() not in IDENTIFIER_COLUMNS and d["reason"] != EXCLUDED]
    if dropped:
        typer.echo(f"warning: {len(dropped)} column(s) not used as features: "
                   + _limited([f"{d['column']} ({d['reason']})" for d in dropped]), err=True)
    missing = report.get("missing_values") or {}
    if missing:
        typer.echo(f"notice: {sum(missing.values())} missing feature value(s) in "
                   f"{len(missing)} column(s) imputed with {imputed_with}: "
                   + _limited([f"{c} ({n})" for c, n in missing.items()]), err=True)
    infinite = report.get("infinite_values") or {}
    if infinite:
        typer.echo(f"notice: {sum(infinite.values())} infinite feature value(s) (inf/-inf) in "
                   f"{len(infinite)} column(s) treated as missing and imputed with "
                   f"{imputed_with}: " + _limited([f"{c} ({n})" for c, n in infinite.items()]),
                   err=True)
    suspects = report.get("outcome_like_features") or []
    if suspects:
        typer.echo(f"warning: column(s) {suspects} are named like an outcome but are used as "
                   "features; if they are outcomes, leave them out with --exclude COL", err=True)
    n_without = report.get("n_rows_without_clinical")
    if n_without:
        typer.echo(f"warning: {n_without} feature row(s) have no row in the clinical table and "
                   "were left out, e.g. " + ", ".join(map(str, report.get(
                       "rows_without_clinical", [])[:5])), err=True)


def _fmt(metric: dict) -> str:
    from voxelomics.model.metrics import format_ci

    return f"{metric['mean']:.3f} (95% CI {format_ci(metric['ci95'])})"


def _summary(metrics: dict) -> None:
    if str(metrics.get("schema", "")).startswith("voxelomics.model.validate_score"):
        from voxelomics.model.score import score_summary

        for line, err in score_summary(metrics):
            typer.echo(line, err=err)
        return
    task = metrics["task"]
    keys = {"classification": ["auc", "balanced_accuracy", "brier", "calibration_slope",
                               "calibration_intercept"],
            "regression": ["r2", "spearman", "mae", "rmse"]}.get(
        task, ["c_index", "uno_c_index", "td_auc"])
    model = metrics.get("model")
    typer.echo(f"{task}: n_samples={metrics['n_samples']} n_features={metrics['n_features']}"
               + (f" model={model}" if model else ""))
    _positive_line(metrics, fitted="model_dir" in metrics)
    from voxelomics.model.lesions import lesion_summary

    if lesion_summary(metrics.get("lesions")):
        typer.echo("  " + lesion_summary(metrics.get("lesions")))
    if metrics.get("covariates"):
        typer.echo(f"  covariates (outside selection): {', '.join(metrics['covariates'])}")
    for k in keys:
        if k in metrics:
            typer.echo(f"  {k:<22} {_fmt(metrics[k])}")
    if "permutation_test" in metrics:
        typer.echo(f"  permutation p-value    {metrics['permutation_test']['p_value']:.3g}")
    _comparators(metrics)
    _flags(metrics)


def _positive_line(info: dict, *, fitted: bool = False) -> None:
    """Which class of a binary target is positive (AUC, probabilities are of it)."""
    classes = info.get("classes") if info.get("task") == "classification" else None
    if not classes or len(classes) != 2:
        return
    how = "the fitted model's" if fitted else "--positive VALUE to change"
    typer.echo(f"  positive class: {str(classes[1])!r} (of {str(classes[0])!r}, {str(classes[1])!r}); {how}")


def _comparators(metrics: dict) -> None:
    from voxelomics.model.metrics import format_ci
    from voxelomics.model.results import headline_metric

    key = headline_metric(metrics["task"])
    comps = metrics.get("comparators") or {}
    if comps:
        typer.echo(f"comparators (same {'folds' if 'folds' in metrics else 'rows'}; "
                   f"{key} and paired difference model - comparator):")
    for name, c in comps.items():
        if "error" in c:
            typer.echo(f"  {name:<12} could not be fitted: {c['error']}")
            continue
        d = c["difference"][key]
        verdict = "model better" if c.get("model_better") else "not shown better"
        typer.echo(f"  {name:<12} {key} {_fmt(c[key])}   difference {d['mean']:+.3f} "
                   f"(95% CI {format_ci(d['ci95'], signed=True)}) {verdict}")
    for name, why in (metrics.get("comparators_skipped") or {}).items():
        if why not in ("no clinical table (--clinical)", "no batch column (--batch)",
                       "no covariates (--covariates)"):
            typer.echo(f"  {name:<12} not run: {why}")


def _flags(metrics: dict) -> None:
    flags = metrics.get("flags") or {}
    raised = [k for k, v in flags.items() if v]
    if raised:
        typer.echo("flags: " + ", ".join(raised))
    for w in metrics.get("warnings") or []:
        typer.echo(f"warning: {w}", err=True)
    for w in metrics.get("fit_warnings") or []:
        typer.echo(f"notice: {w['count']} solver warning(s) '{w['message']}' "
                   f"({w['category']}){': ' + w['meaning'] if w['meaning'] else ''}", err=True)


@model_app.command("cv", help=("Nested cross-validation; writes OUT/metrics.json, "
          "OUT/oof_predictions.csv and figures, with the volume-only, clinical-only, "
          "batch-only and fixed-pipeline comparators on the same folds (paired differences) "
          "and the Welch et al. safeguards. Several feature tables are joined on the case. "
          "Columns: identifiers and non-numeric text are not features (a warning and "
          "dropped_columns in metrics.json name them); text holding numbers is converted; "
          "missing values are imputed inside each training fold and counted per column "
          "(missing_values); inf/-inf count as missing (infinite_values). The --target, "
          "--time, --event, --batch, --group, --id and --on columns are never features; "
          "--exclude COL (repeatable) leaves out more. See 'voxelomics model --help'."))
def cv(
    out: Annotated[Path, typer.Option("--out", help="Output folder for metrics.json and figures.")],
    tables: TablesArg = None, features: Features = None,
    target: Target = None, id_col: IdCol = None, time: TimeCol = None, event: EventCol = None,
    clinical: Clinical = None, on: On = None, batch: Batch = None, exclude: Exclude = None,
    group: Group = None, volume: Volume = None, task: Task = None, positive: Positive = None,
    covariates: Covariates = None, lesions: Lesions = None,
    settings: SettingsOpt = None, model: ModelOpt = None,
    folds: Annotated[int | None, typer.Option(
        "--folds", min=2, max=20, help="Outer folds, 2-20 (default 5).")] = None,
    repeats: Annotated[int | None, typer.Option(
        "--repeats", min=1, max=100, help="Outer repeats, 1-100 (default 3).")] = None,
    inner_folds: Annotated[int | None, typer.Option(
        "--inner-folds", min=2, max=20, help="Inner folds, 2-20 (default 5).")] = None,
    permutations: Annotated[int | None, typer.Option(
        "--permutations", min=0,
        help="Label permutations for a permutation-test p-value (0 = off).")] = None,
    jobs: Jobs = None, seed: Seed = None, plots: Plots = True,
) -> None:
    """Nested cross-validation; writes OUT/metrics.json, predictions and figures."""
    try:
        from voxelomics.model.config import load_model_settings
        from voxelomics.model.workflow import run_cv

        s = load_model_settings(settings, model=model, n_splits=folds, n_repeats=repeats,
                                inner_splits=inner_folds, n_permutations=permutations,
                                random_state=seed, n_jobs=jobs)
        spec = _spec(tables, target, id_col, time, event, clinical, on, batch, exclude, group,
                     volume, features, task=task, covariates=covariates, lesions=lesions,
                     positive=positive)
        metrics = run_cv(spec, s, out, plots=plots, progress=True)
    except (VoxelomicsError, ArithmeticError) as exc:
        _fail(exc)
    _column_notes(metrics, "the median of each training fold")
    _summary(metrics)
    typer.echo(f"metrics written to {Path(out) / 'metrics.json'}")


@model_app.command("fit", help=("Tune on all rows (inner CV), refit and save the final model "
          "(skops + JSON sidecar) with its comparators; prints the model, hyper-parameters "
          "and inner-CV score it chose. Columns as for 'model cv' (--exclude COL leaves a "
          "column out); dropped columns and missing values are recorded in model.json."))
def fit(
    out: Annotated[Path, typer.Option("--out", help="Model folder to write.")],
    tables: TablesArg = None, features: Features = None,
    target: Target = None, id_col: IdCol = None, time: TimeCol = None, event: EventCol = None,
    clinical: Clinical = None, on: On = None, batch: Batch = None, exclude: Exclude = None,
    group: Group = None, volume: Volume = None, task: Task = None, positive: Positive = None,
    covariates: Covariates = None, lesions: Lesions = None,
    settings: SettingsOpt = None, model: ModelOpt = None, seed: Seed = None,
    inner_folds: Annotated[int | None, typer.Option(
        "--inner-folds", min=2, max=20, help="Tuning folds, 2-20 (default 5).")] = None,
    score_name: Annotated[str | None, typer.Option(
        "--score-name", help="Name of the model's prediction (e.g. CD8_score): the column "
        "'predict' writes and the score 'validate' tests.")] = None,
    score_cutoff: Annotated[str, typer.Option(
        "--score-cutoff", help="Cut-off into low/high score groups, fixed on this training "
        "cohort: 'median' (of the training rows' scores) or a number.")] = "median",
) -> None:
    """Tune on all rows, refit and save the final model (skops + JSON sidecar)."""
    try:
        from voxelomics.model.config import load_model_settings
        from voxelomics.model.workflow import fit_model

        s = load_model_settings(settings, model=model, random_state=seed, inner_splits=inner_folds)
        spec = _spec(tables, target, id_col, time, event, clinical, on, batch, exclude, group,
                     volume, features, task=task, covariates=covariates, lesions=lesions,
                     positive=positive)
        from rich.console import Console

        with Console(stderr=True).status("tuning and fitting the model"):
            meta = fit_model(spec, s, out, score_name=score_name, score_cutoff=score_cutoff)
    except (VoxelomicsError, ArithmeticError) as exc:
        _fail(exc)
    _column_notes(meta, "the median of the training rows")
    _flags({"fit_warnings": meta.get("fit_warnings")})
    metric = meta.get("inner_cv_metric", "score")
    typer.echo(f"{meta['model']}: {meta['description']}")
    _positive_line(meta)
    scores = meta.get("inner_cv_scores") or {}
    extra = ("" if not scores else " (" + ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
             + ")")
    typer.echo(f"inner-CV {metric} of the chosen model: {meta['inner_cv_score']:.3f}{extra}")
    if meta.get("comparators"):
        typer.echo("comparators saved for 'model validate': " + ", ".join(meta["comparators"]))
    sc = meta.get("score") or {}
    if sc:
        typer.echo(f"score {sc['name']!r}: training median {sc['training']['median']:.4g}, "
                   f"sd {sc['training']['sd']:.4g}; cut-off {sc['cutoff']['value']:.4g} "
                   f"({sc['cutoff']['rule']})")
    from voxelomics.model.lesions import lesion_summary

    if lesion_summary(meta.get("lesions")):
        typer.echo(lesion_summary(meta.get("lesions")))
    typer.echo(f"fitted on {meta['training']['n']} samples, "
               f"{len(meta['features'])} features"
               + (f" + {len(meta['covariates'])} covariate input(s)" if meta.get("covariates")
                  else "") + f"; saved to {out}")


@model_app.command("predict", help=("Predict a table with a saved model; refuses tables missing model features. "
          "Several tables are joined on the case as in training. "
          "Ids come from --id, else the case_id column, else ID, else row numbers. Missing "
          "feature values are imputed with the training medians stored in the model (a "
          "notice counts them per column)."))
def predict(
    model_dir: Annotated[Path, typer.Argument(help="Model folder written by 'model fit'.")],
    out: Annotated[Path, typer.Option("--out", help="Predictions CSV to write.")],
    tables: TablesArg = None, features: Features = None,
    id_col: IdCol = None, clinical: Clinical = None, on: On = None,
    unseen_batch: UnseenBatch = None, covariates: SavedCovariates = None,
    lesions: SavedLesions = None,
) -> None:
    """Predict a table with a saved model; refuses tables missing model features."""
    try:
        from voxelomics.model.workflow import predict_table

        pred = predict_table(model_dir, _spec(tables, id_col=id_col, clinical=clinical, on=on,
                                              features=features, covariates=covariates,
                                              lesions=lesions), out,
                             unseen_batch=_unseen(unseen_batch))
    except (VoxelomicsError, ArithmeticError) as exc:
        _fail(exc)
    _column_notes(pred.attrs, "the training medians stored in the model")
    if pred.attrs.get("unseen_batches"):
        typer.echo(f"warning: batch level(s) {pred.attrs['unseen_batches']} were not in the "
                   "training data; their rows were not harmonised", err=True)
    id_col = pred.attrs.get("id_column")
    typer.echo(f"{len(pred)} predictions written to {out} (ids: "
               + (f"column {id_col!r})" if id_col else "row numbers)"))


@model_app.command("validate", help=(
    "External validation of a saved model on a second table: give the outcome the model "
    "was trained for (--target COL, or --time COL --event COL). Scores the comparators "
    "saved with the model (volume-only, clinical-only, fixed pipeline) on the same rows "
    "with paired differences. A model of a continuous target (or one given an outcome of "
    "another kind) is applied unchanged as a score: --target COL (continuous: R², "
    "Spearman, MAE; binary: AUC) and/or --time COL --event COL (Cox hazard ratio per unit "
    "and per SD, the training cut-off's groups with Kaplan-Meier, log-rank and numbers at "
    "risk); see docs/modelling.md. Writes OUT/metrics.json "
    "(with 'warnings': fewer than 10 rows of the minority class or events, the training "
    "table itself, patients shared with the training table, a model that does not beat "
    "volume), OUT/predictions.csv (id, observed outcome, prediction) and figures."))
def validate(
    model_dir: Annotated[Path, typer.Argument(help="Model folder written by 'model fit'.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder for metrics.json and figures.")],
    tables: TablesArg = None, features: Features = None,
    target: Target = None, id_col: IdCol = None, time: TimeCol = None, event: EventCol = None,
    clinical: Clinical = None, on: On = None, group: Group = None, seed: Seed = None,
    plots: Plots = True, unseen_batch: UnseenBatch = None, task: Task = None,
    covariates: SavedCovariates = None, lesions: SavedLesions = None, positive: Positive = None,
) -> None:
    """External validation of a saved model on a second table."""
    try:
        from voxelomics.model.workflow import validate_model

        metrics = validate_model(
            model_dir, _spec(tables, target, id_col, time, event, clinical, on, group=group,
                             features=features, task=task, both=True, covariates=covariates,
                             lesions=lesions, positive=positive),
            out, seed=seed or 0, plots=plots, unseen_batch=_unseen(unseen_batch))
    except (VoxelomicsError, ArithmeticError) as exc:
        _fail(exc)
    _column_notes(metrics, "the training medians stored in the model")
    _summary(metrics)
    typer.echo(f"metrics written to {Path(out) / 'metrics.json'}")
