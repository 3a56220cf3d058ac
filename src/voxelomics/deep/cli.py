"""``voxelomics deep``: cross-validate, train, predict, embed and explain 3-D networks.

Mounted by :mod:`voxelomics.cli` as ``voxelomics deep``. This module imports neither torch nor
MONAI: they are imported inside the command bodies, so ``voxelomics --help`` and
``voxelomics extract`` never load them. Options follow ``voxelomics model``: ``--target`` or
``--time``/``--event``, ``--out``, ``--settings``, ``--seed``, ``--folds``, ``--repeats``;
a :class:`~voxelomics.errors.VoxelomicsError` ends the command with exit code 2 and its message.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer

from voxelomics.errors import VoxelomicsError

__all__ = ["deep_app"]

deep_app = typer.Typer(
    name="deep",
    help=("3-D deep learning on the cases of a manifest (needs the 'deep' extra: torch, MONAI): "
          "ROI-centred crops from the same readers as 'extract', the outer folds and metrics of "
          "'voxelomics model cv', deep features joinable with the radiomic table, saliency maps. "
          "Settings keys: docs/deep.md."),
    no_args_is_help=True,
    add_completion=False,
)

Manifest = Annotated[Path, typer.Argument(help="Cohort manifest CSV (case_id, image, mask, ...).")]
Target = Annotated[str | None, typer.Option("--target", help="Outcome column of the manifest.")]
TimeCol = Annotated[str | None, typer.Option("--time", help="Survival time column.")]
EventCol = Annotated[str | None, typer.Option("--event", help="Event indicator column (1 = event).")]
Task = Annotated[str, typer.Option(
    "--task", help="auto, classification (2 classes), multiclass or regression (for --target).")]
Group = Annotated[str, typer.Option(
    "--group", help="Column naming each row's patient (no patient on both sides of a split); "
    "'auto': patient_id when present; 'none': every row its own patient.")]
SettingsOpt = Annotated[Path | None, typer.Option("--settings", help="YAML deep settings (docs/deep.md).")]
Arch = Annotated[str | None, typer.Option("--arch", help="small_cnn, resnet10..50, densenet121, "
                                          "medicalnet_resnet10..50, fmcib_resnet50.")]
Epochs = Annotated[int | None, typer.Option("--epochs", min=1, help="Largest number of epochs.")]
Seed = Annotated[int | None, typer.Option("--seed", help="Random seed (folds, weights, batches).")]
Device = Annotated[str | None, typer.Option("--device", help="auto, cpu or cuda.")]
Cache = Annotated[Path | None, typer.Option(
    "--cache", help="Crop cache folder (default OUT/.crops); share it between commands.")]
Progress = Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")]


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(code=2)


def _require() -> None:
    """Exit with a clear message when the deep extra (torch, MONAI) is not installed."""
    import importlib.util

    missing = [m for m in ("torch", "monai") if importlib.util.find_spec(m) is None]
    if missing:
        typer.echo(f"error: voxelomics deep needs {' and '.join(missing)} (the 'deep' extra): "
                   "make install, or pip install torch==2.13.0 'voxelomics[deep]'", err=True)
        raise typer.Exit(code=2)


def _settings(path, **overrides):
    from voxelomics.deep.config import load_deep_settings

    return load_deep_settings(path, **overrides)


def _group(value: str) -> str | None:
    return None if value.lower() == "none" else value


def _fmt(m: dict) -> str:
    lo, hi = m["ci95"]
    return f"{m['mean']:.3f} (95% CI {lo:.3f}-{hi:.3f})"


def _summary(metrics: dict) -> None:
    from voxelomics.deep.targets import headline_metric

    head = headline_metric(metrics["task"])
    typer.echo(f"{metrics['task']}: n_samples={metrics['n_samples']}  {metrics['validation']['outer']}")
    typer.echo(f"  {'deep (' + metrics['model'] + ')':<28} {head} {_fmt(metrics[head])}")
    for name, m in (metrics.get("comparison") or {}).items():
        if name != "deep" and head in m:
            typer.echo(f"  {name:<28} {head} {_fmt(m[head])}")
    for name, d in (metrics.get("paired_differences") or {}).items():
        if head in d:
            typer.echo(f"  {name:<40} difference {_fmt(d[head])}")


def _errors_note(n: int, where: Path) -> None:
    if n:
        typer.echo(f"warning: {n} case(s) failed and were left out; see {where}", err=True)


@deep_app.command("cv", help=(
    "Cross-validate a network on the outer folds of 'voxelomics model cv' (same --folds, "
    "--repeats, --seed; grouped by patient_id when the manifest has it). Writes OUT/metrics.json "
    "(form of 'model cv'), OUT/oof_predictions.csv, figures and OUT/folds/ (an interrupted run "
    "resumes). --baseline COL scores a column alone (e.g. diameter_mm) and --radiomics TABLE a "
    "radiomic model and the fused model on the same folds, with paired differences."))
def cv(
    manifest: Manifest,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    target: Target = None, time: TimeCol = None, event: EventCol = None, task: Task = "auto",
    group: Group = "auto", settings: SettingsOpt = None, arch: Arch = None, epochs: Epochs = None,
    seed: Seed = None, device: Device = None, cache: Cache = None,
    folds: Annotated[int | None, typer.Option("--folds", min=2, max=20, help="Outer folds (default 5).")] = None,
    repeats: Annotated[int | None, typer.Option("--repeats", min=1, help="Outer repeats (default 3).")] = None,
    baseline: Annotated[list[str] | None, typer.Option(
        "--baseline", metavar="COL", help="Column scored alone on the same folds (repeatable).")] = None,
    radiomics: Annotated[Path | None, typer.Option(
        "--radiomics", help="Radiomic feature table (features.parquet) for the radiomic and fused models.")] = None,
    radiomics_model: Annotated[str, typer.Option(
        "--radiomics-model", help="Radiomic classifier of 'voxelomics model': enet_lr, rf, svm, gb, auto.")] = "enet_lr",
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write figures.")] = True,
    resume: Annotated[bool, typer.Option("--resume/--restart", help="Reuse finished folds of the same run.")] = True,
    progress: Progress = True,
) -> None:
    """Cross-validate a network on the outer folds of 'voxelomics model cv'."""
    _require()
    try:
        from voxelomics.deep.workflow import run_cv

        s = _settings(settings, net__arch=arch, train__epochs=epochs, random_state=seed,
                      train__device=device, n_splits=folds, n_repeats=repeats)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # one line per fold is enough
            metrics = run_cv(manifest, s, out, target=target, time=time, event=event, task=task,
                             group=_group(group), baselines=tuple(baseline or ()), radiomics=radiomics,
                             radiomics_model=radiomics_model, cache_dir=cache, plots=plots,
                             progress=progress, resume=resume)
    except VoxelomicsError as exc:
        _fail(exc)
    _summary(metrics)
    typer.echo(f"metrics written to {Path(out) / 'metrics.json'}")


@deep_app.command("train", help=(
    "Train on every case (early stopping on an inner validation split) and save the model: "
    "OUT/model.pt (state dict) and OUT/model.json (settings, task, classes, versions). "
    "--resume continues from OUT/checkpoint.pt."))
def train(
    manifest: Manifest,
    out: Annotated[Path, typer.Option("--out", help="Model folder.")],
    target: Target = None, time: TimeCol = None, event: EventCol = None, task: Task = "auto",
    group: Group = "auto", settings: SettingsOpt = None, arch: Arch = None, epochs: Epochs = None,
    seed: Seed = None, device: Device = None, cache: Cache = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT/checkpoint.pt.")] = False,
    progress: Progress = True,
) -> None:
    """Train on every case and save the model."""
    _require()
    try:
        from voxelomics.deep.workflow import train_model

        s = _settings(settings, net__arch=arch, train__epochs=epochs, random_state=seed,
                      train__device=device)
        meta = train_model(manifest, s, out, target=target, time=time, event=event, task=task,
                           group=_group(group), cache_dir=cache, progress=progress, resume=resume)
    except VoxelomicsError as exc:
        _fail(exc)
    t = meta["training"]
    typer.echo(f"{meta['arch']} ({meta['task']}) trained on {t['n_fit']} cases, stopped on "
               f"{t['n_validation']}: best epoch {t['best_epoch']} of {t['epochs_run']}; saved to {out}")


@deep_app.command("predict", help="Predict every case of a manifest with a saved model (CSV).")
def predict(
    model_dir: Annotated[Path, typer.Argument(help="Model folder written by 'deep train'.")],
    manifest: Manifest,
    out: Annotated[Path, typer.Option("--out", help="Predictions CSV to write.")],
    cache: Cache = None, progress: Progress = True,
) -> None:
    """Predict every case of a manifest with a saved model."""
    _require()
    try:
        from voxelomics.deep.workflow import predict_manifest

        pred = predict_manifest(model_dir, manifest, out, cache_dir=cache, progress=progress)
    except VoxelomicsError as exc:
        _fail(exc)
    _errors_note(len(pred.attrs.get("errors", [])), Path(out).parent / "errors.csv")
    typer.echo(f"{len(pred)} predictions written to {out}")
    raise typer.Exit(1 if pred.attrs.get("errors") else 0)


@deep_app.command("features", help=(
    "Write one penultimate-layer embedding per case to Parquet (case_id, roi, deep_<arch>_<k>), "
    "joinable with the radiomic table on case_id, roi. The network: --model DIR (from "
    "'deep train') or a user's checkpoint --weights FILE --arch NAME (loaded with "
    "weights_only; never downloaded)."))
def features(
    manifest: Manifest,
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
    model: Annotated[Path | None, typer.Option("--model", help="Model folder from 'deep train'.")] = None,
    weights: Annotated[Path | None, typer.Option("--weights", help="Checkpoint file (state dict).")] = None,
    arch: Arch = None, settings: SettingsOpt = None, cache: Cache = None, progress: Progress = True,
) -> None:
    """Write deep features of every case to Parquet."""
    _require()
    try:
        from voxelomics.deep.features import deep_features

        s = _settings(settings) if settings is not None else None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = deep_features(manifest, out, model_dir=model, weights=weights, arch=arch,
                                settings=s, cache_dir=cache, progress=progress)
    except VoxelomicsError as exc:
        _fail(exc)
    for w in caught:
        if issubclass(w.category, UserWarning):
            typer.echo(f"warning: {w.message}", err=True)
    _errors_note(len(res.errors), Path(out).parent / "errors.csv")
    n_feat = sum(c.startswith("deep_") for c in res.table.columns)
    typer.echo(f"{len(res.table)} rows x {n_feat} deep features written to {out}")
    raise typer.Exit(res.exit_code)


@deep_app.command("explain", help=(
    "Saliency maps of a saved model (Grad-CAM or occlusion, MONAI) as PNG slices through the "
    "ROI with its contour, one file per case."))
def explain(
    model_dir: Annotated[Path, typer.Argument(help="Model folder written by 'deep train'.")],
    manifest: Manifest,
    out: Annotated[Path, typer.Option("--out", help="Folder for the PNG files.")],
    case: Annotated[list[str] | None, typer.Option("--case", help="Case id (repeatable; default all).")] = None,
    method: Annotated[str, typer.Option("--method", help="gradcam or occlusion.")] = "gradcam",
    cache: Cache = None, progress: Progress = True,
) -> None:
    """Saliency maps of a saved model as PNG slices."""
    _require()
    try:
        from voxelomics.deep.saliency import explain_cases

        paths = explain_cases(model_dir, manifest, out, cases=case, method=method, cache_dir=cache,
                              progress=progress)
    except VoxelomicsError as exc:
        _fail(exc)
    typer.echo(f"{len(paths)} saliency figure(s) written to {out}")


@deep_app.command("settings", help="Print the full YAML of the deep settings (defaults or a file, validated).")
def settings_cmd(settings: SettingsOpt = None) -> None:
    """Print the full YAML of the deep settings."""
    try:
        s = _settings(settings)
    except VoxelomicsError as exc:
        _fail(exc)
    typer.echo(f"# crop hash: {s.crop.crop_hash()}")
    typer.echo(s.to_yaml(), nl=False)
