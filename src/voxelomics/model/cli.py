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

model_app = typer.Typer(
    name="model",
    help="Honest models from a feature table: nested CV, fit, predict, validate.",
    no_args_is_help=True,
    add_completion=False,
)

TableArg = Annotated[Path, typer.Argument(help="Feature table (CSV, TSV or Parquet).")]
Target = Annotated[str | None, typer.Option("--target", help="Binary outcome column.")]
IdCol = Annotated[str | None, typer.Option("--id", help="Identifier column.")]
TimeCol = Annotated[str | None, typer.Option("--time", help="Survival time column.")]
EventCol = Annotated[str | None, typer.Option("--event", help="Event indicator column (1 = event).")]
Clinical = Annotated[Path | None, typer.Option("--clinical", help="Clinical table to join.")]
On = Annotated[str | None, typer.Option("--on", help="Join column (default: --id).")]
Batch = Annotated[str | None, typer.Option("--batch", help="Batch column for ComBat harmonisation.")]
SettingsOpt = Annotated[Path | None, typer.Option("--settings", help="YAML model settings.")]
ModelOpt = Annotated[str | None, typer.Option(
    "--model", help="auto, enet_lr, svm, rf, gb (binary) or coxnet, rsf (survival).")]
Seed = Annotated[int | None, typer.Option("--seed", help="Random seed.")]
Plots = Annotated[bool, typer.Option("--plots/--no-plots", help="Write figures.")]


def _fail(exc: VoxelomicsError) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(code=2)


def _spec(table, target=None, id_col=None, time=None, event=None, clinical=None, on=None,
          batch=None):
    from voxelomics.model.workflow import TableSpec

    return TableSpec(table=table, target=target, id_col=id_col, time=time, event=event,
                     clinical=clinical, on=on, batch=batch)


def _fmt(metric: dict) -> str:
    lo, hi = metric["ci95"]
    return f"{metric['mean']:.3f} (95% CI {lo:.3f}-{hi:.3f})"


def _summary(metrics: dict) -> None:
    keys = (["auc", "balanced_accuracy", "brier", "calibration_slope", "calibration_intercept"]
            if metrics["task"] == "classification" else ["c_index", "uno_c_index", "td_auc"])
    typer.echo(f"{metrics['task']}: n_samples={metrics['n_samples']} "
               f"n_features={metrics['n_features']}")
    for k in keys:
        if k in metrics:
            typer.echo(f"  {k:<22} {_fmt(metrics[k])}")
    if "permutation_test" in metrics:
        typer.echo(f"  permutation p-value    {metrics['permutation_test']['p_value']:.3g}")


@model_app.command("cv")
def cv(
    table: TableArg,
    out: Annotated[Path, typer.Option("--out", help="Output folder for metrics.json and figures.")],
    target: Target = None, id_col: IdCol = None, time: TimeCol = None, event: EventCol = None,
    clinical: Clinical = None, on: On = None, batch: Batch = None,
    settings: SettingsOpt = None, model: ModelOpt = None,
    folds: Annotated[int | None, typer.Option("--folds", help="Outer folds (default 5).")] = None,
    repeats: Annotated[int | None, typer.Option("--repeats", help="Outer repeats (default 3).")] = None,
    inner_folds: Annotated[int | None, typer.Option("--inner-folds", help="Inner folds (default 5).")] = None,
    permutations: Annotated[int | None, typer.Option(
        "--permutations", help="Label permutations for a permutation-test p-value (0 = off).")] = None,
    seed: Seed = None, plots: Plots = True,
) -> None:
    """Nested cross-validation; writes OUT/metrics.json, predictions and figures."""
    try:
        from voxelomics.model.config import load_model_settings
        from voxelomics.model.workflow import run_cv

        s = load_model_settings(settings, model=model, n_splits=folds, n_repeats=repeats,
                                inner_splits=inner_folds, n_permutations=permutations,
                                random_state=seed)
        metrics = run_cv(_spec(table, target, id_col, time, event, clinical, on, batch), s, out,
                         plots=plots)
    except VoxelomicsError as exc:
        _fail(exc)
    _summary(metrics)
    typer.echo(f"metrics written to {Path(out) / 'metrics.json'}")


@model_app.command("fit")
def fit(
    table: TableArg,
    out: Annotated[Path, typer.Option("--out", help="Model folder to write.")],
    target: Target = None, id_col: IdCol = None, time: TimeCol = None, event: EventCol = None,
    clinical: Clinical = None, on: On = None, batch: Batch = None,
    settings: SettingsOpt = None, model: ModelOpt = None, seed: Seed = None,
) -> None:
    """Tune on all rows, refit and save the final model (skops + JSON sidecar)."""
    try:
        from voxelomics.model.config import load_model_settings
        from voxelomics.model.workflow import fit_model

        s = load_model_settings(settings, model=model, random_state=seed)
        meta = fit_model(_spec(table, target, id_col, time, event, clinical, on, batch), s, out)
    except VoxelomicsError as exc:
        _fail(exc)
    typer.echo(f"{meta['model']} fitted on {meta['training']['n']} samples, "
               f"{len(meta['features'])} features; saved to {out}")


@model_app.command("predict")
def predict(
    model_dir: Annotated[Path, typer.Argument(help="Model folder written by 'model fit'.")],
    table: TableArg,
    out: Annotated[Path, typer.Option("--out", help="Predictions CSV to write.")],
    id_col: IdCol = None, clinical: Clinical = None, on: On = None,
) -> None:
    """Predict a table with a saved model; refuses tables missing model features."""
    try:
        from voxelomics.model.workflow import predict_table

        pred = predict_table(model_dir, _spec(table, id_col=id_col, clinical=clinical, on=on), out)
    except VoxelomicsError as exc:
        _fail(exc)
    typer.echo(f"{len(pred)} predictions written to {out}")


@model_app.command("validate")
def validate(
    model_dir: Annotated[Path, typer.Argument(help="Model folder written by 'model fit'.")],
    table: TableArg,
    out: Annotated[Path, typer.Option("--out", help="Output folder for metrics.json and figures.")],
    target: Target = None, id_col: IdCol = None, time: TimeCol = None, event: EventCol = None,
    clinical: Clinical = None, on: On = None, seed: Seed = None, plots: Plots = True,
) -> None:
    """External validation of a saved model on a second table."""
    try:
        from voxelomics.model.workflow import validate_model

        metrics = validate_model(model_dir, _spec(table, target, id_col, time, event, clinical, on),
                                 out, seed=seed or 0, plots=plots)
    except VoxelomicsError as exc:
        _fail(exc)
    _summary(metrics)
    typer.echo(f"metrics written to {Path(out) / 'metrics.json'}")
