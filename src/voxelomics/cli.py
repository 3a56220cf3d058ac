"""The ``voxelomics`` command line (Typer + rich).

Heavy imports happen inside the commands so ``voxelomics --help`` starts fast.
Exit codes: 0 success, 1 some cases failed (the successes are still written),
2 unusable arguments, settings or input files.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from voxelomics.errors import VoxelomicsError

app = typer.Typer(
    name="voxelomics",
    help="IBSI-compliant radiomics, cohort extraction and validated models for cancer imaging.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)  # never hard-wrap paths in messages


def _plain_warning(message, category, filename, lineno, line=None):
    """Warnings as one line, without the source line (users cannot act on it)."""
    return f"warning: {category.__name__}: {message}\n"


def _fail(exc: Exception, code: int = 2):
    console.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(code)


def _settings(settings_file: Path | None, preset: str | None):
    from voxelomics.settings import load_preset, load_settings

    if settings_file is not None and preset is not None:
        raise typer.BadParameter("give --settings or --preset, not both")
    if settings_file is not None:
        return load_settings(settings_file)
    return load_preset(preset or "default")


def _positive_seconds(value: float | None) -> float | None:
    """``--case-timeout``: a number of seconds > 0.

    A callback rather than ``min=``: click ranges are closed (``min=0`` would show
    ``[x>=0]`` and accept 0, which :func:`voxelomics.cohort.extract_cohort` refuses).
    """
    if value is not None and not value > 0:
        raise typer.BadParameter(f"must be a number of seconds > 0, got {value:g}")
    return value


@app.command()
def extract(
    manifest: Annotated[Path, typer.Argument(help="CSV with case_id, image, mask[, label, roi, modality, ...]")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder")],
    settings_file: Annotated[Path | None, typer.Option("--settings", help="Settings YAML")] = None,
    preset: Annotated[str | None, typer.Option("--preset", help="Preset name (see `voxelomics settings --list`)")] = None,
    workers: Annotated[int | None, typer.Option("--workers", "-w", min=1, help="Local worker processes (default: all cores)")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Dask scheduler address tcp://HOST:PORT, or 'local-dask'")] = None,
    naming: Annotated[str, typer.Option("--naming", help="Column names: readable | ibsi")] = "readable",
    force: Annotated[bool, typer.Option("--force", help="Recompute cases already done")] = False,
    retries: Annotated[int, typer.Option("--retries", min=0, help="Retries for failures that may be transient")] = 0,
    case_timeout: Annotated[float | None, typer.Option("--case-timeout", callback=_positive_seconds,
                                                       help="Seconds (> 0) before a case is failed")] = None,
    memory_limit: Annotated[str | None, typer.Option("--memory-limit", help="Memory limit per worker (> 0), e.g. 4GiB")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar")] = True,
):
    """Extract features for every case of MANIFEST into OUT/features.parquet and OUT/errors.csv."""
    if naming not in ("readable", "ibsi"):
        _fail(VoxelomicsError(f"--naming must be 'readable' or 'ibsi', got {naming!r}"))
    try:
        settings = _settings(settings_file, preset)
        from voxelomics.cohort import extract_cohort

        result = extract_cohort(
            manifest,
            out=out,
            settings=settings,
            workers=workers,
            scheduler=scheduler,
            force=force,
            retries=retries,
            case_timeout=case_timeout,
            memory_limit=memory_limit,
            naming=naming,
            progress=progress,
        )
    except VoxelomicsError as exc:
        _fail(exc, 2)
    raise typer.Exit(result.exit_code)


@app.command("settings")
def settings_cmd(
    preset: Annotated[str | None, typer.Option("--preset", help="Preset to print")] = None,
    settings_file: Annotated[Path | None, typer.Option("--settings", help="Validate and print this YAML file")] = None,
    list_presets: Annotated[bool, typer.Option("--list", help="List the preset names")] = False,
    modality: Annotated[str | None, typer.Option(
        "--modality", help="Print the effective settings of this modality (CT, PT, MR, ...): "
                           "its modality_overrides merged in")] = None,
):
    """Print the full YAML of a preset or a settings file (validated), with its hash.

    Without --modality: the settings as given, with one comment line per modality saying
    what its override changes. With --modality CT: the settings a CT case is computed with.
    """
    from voxelomics.settings import PRESETS, normalise_modality

    if list_presets:
        for name in PRESETS:
            typer.echo(name)
        return
    try:
        s = _settings(settings_file, preset)
        if modality is not None:
            code = normalise_modality(modality)
            s = s.for_modality(code)
            notes = (f"# effective settings for modality {code}"
                     + ("" if s.name.endswith(f"[{code}]") else " (no override for it: the base settings)"))
        else:
            notes = s.describe_modalities()
            if notes:
                notes = "# modality overrides (voxelomics settings --modality CODE shows one in full):\n" + notes
    except VoxelomicsError as exc:
        _fail(exc)
    typer.echo(f"# settings hash: {s.settings_hash()}")
    if notes:
        typer.echo(notes)
    typer.echo(s.to_yaml(), nl=False)


@app.command()
def features(
    naming: Annotated[str, typer.Option("--naming", help="readable | ibsi")] = "readable",
    preset: Annotated[str | None, typer.Option("--preset", help="List the columns of this preset (default: default)")] = None,
    settings_file: Annotated[Path | None, typer.Option("--settings", help="List the columns of this settings YAML")] = None,
):
    """List the feature columns an extraction writes, with unit, IBSI identifier and family.

    The names are the column names of features.parquet for the given settings (their families
    and texture dimensions); the unit 'image units' is HU for CT, SUV for PET.
    """
    from voxelomics.features.registry import column_name, ibsi_column_name, table_columns

    if naming not in ("readable", "ibsi"):
        _fail(VoxelomicsError(f"--naming must be 'readable' or 'ibsi', got {naming!r}"))
    try:
        s = _settings(settings_file, preset)
    except VoxelomicsError as exc:
        _fail(exc)
    name_of = ibsi_column_name if naming == "ibsi" else column_name
    rows = [(name_of(spec, agg), spec.unit or "-", spec.ibsi_id, spec.family,
             "" if spec.ibsi_compliant else "(no IBSI reference)")
            for spec, agg in table_columns(s.families, s.texture.dimensions)]
    for filt in s.filters:  # each response map: its features after the filter's prefix
        for prefix in filt.prefixes():
            rows += [(f"{prefix}_{name_of(spec, agg)}",
                      (spec.unit or "-").replace("image units", "response units"), spec.ibsi_id,
                      spec.family, "" if spec.ibsi_compliant else "(no IBSI reference)")
                     for spec, agg in table_columns(s.response_maps.families, s.texture.dimensions)]
    width = max(len(r[0]) for r in rows)
    unit_width = max(len(r[1]) for r in rows)
    typer.echo(f"# {len(rows)} feature columns of settings {s.name!r} (texture: "
               f"{', '.join(s.texture.dimensions)}; {len(s.filters)} filters); column, unit, IBSI id, family")
    for name, unit, ibsi_id, family, flag in rows:
        typer.echo(f"{name:{width}s}  {unit:{unit_width}s}  {ibsi_id}  {family}  {flag}".rstrip())


@app.command()
def index(
    dicom_root: Annotated[Path, typer.Argument(help="Folder to walk for DICOM files")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Manifest CSV to write")],
):
    """Walk a DICOM tree and write a manifest: one row per image series and ROI found.

    Exits with 1, writing nothing, when no image series has an RTSTRUCT or SEG (the warnings
    say what was found instead).
    """
    import warnings

    try:
        from voxelomics.io import index_dicom, write_manifest

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            df = index_dicom(dicom_root)
        for w in caught:
            console.print(f"[yellow]warning:[/] {w.message}", markup=True, highlight=False)
        if len(df) == 0:  # nothing to extract: a failure, not an empty success
            console.print(f"[bold red]error:[/] no image series with an RTSTRUCT or SEG that references "
                          f"it was found under {dicom_root} (see the warnings above); no manifest "
                          "written", highlight=False)
            raise typer.Exit(1)
        write_manifest(df, out)
    except VoxelomicsError as exc:
        _fail(exc)
    console.print(f"{len(df)} rows written to {out}")


@app.command()
def delta(
    features_table: Annotated[Path, typer.Argument(help="features.parquet (or CSV) with patient_id and timepoint columns")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Delta table to write (Parquet)")],
    baseline: Annotated[str | None, typer.Option("--baseline", help="Baseline time point (default: the first)")] = None,
    followup: Annotated[str | None, typer.Option("--followup", help="Follow-up time point (default: the last)")] = None,
    relative: Annotated[str, typer.Option("--relative", help="Relative change over |baseline| ('baseline') or over the mean of both ('symmetric')")] = "baseline",
    drop_incomplete: Annotated[bool, typer.Option("--drop-incomplete", help="Leave out patients/ROIs without both time points (listed) instead of failing")] = False,
):
    """Delta-radiomics: change of every feature between two time points of each patient and ROI."""
    import warnings

    from voxelomics.delta import write_delta

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = write_delta(features_table, out, baseline=baseline, followup=followup,
                                 relative=relative, drop_incomplete=drop_incomplete)
    except VoxelomicsError as exc:
        _fail(exc)
    for w in caught:
        console.print(f"[yellow]warning:[/] {w.message}", markup=True, highlight=False)
    info = result.attrs["delta"]
    console.print(f"{info['n_pairs']} patient/ROI pairs, {info['n_features']} features, "
                  f"{info['baseline']} -> {info['followup']}: written to {out}", highlight=False)


@app.command()
def ibsi(
    config: Annotated[list[str] | None, typer.Option("--config", "-c", help="Chapter 1: dig, A … E; chapter 2: phase-2 configurations 1.A … 9.B, which selects phase 2 (any letter case; repeatable; default: all)")] = None,
    chapter: Annotated[int, typer.Option("--chapter", min=1, max=2, help="1: features (IBSI-1); 2: convolutional filters (IBSI-2)")] = 1,
    phase: Annotated[list[int] | None, typer.Option("--phase", help="Chapter 2 only: 1 (response maps), 2 (CT phantom features); default both")] = None,
):
    """Run the IBSI phantoms through the presets and print a compliance table."""
    if chapter == 1:
        from voxelomics.compliance import print_compliance, run_compliance

        try:
            table = run_compliance(config or ["dig", "A", "B", "C", "D", "E"])
        except VoxelomicsError as exc:
            _fail(exc)
        ok = print_compliance(table)
        raise typer.Exit(0 if ok else 1)
    if config and phase and 1 in phase:
        _fail(VoxelomicsError("--config selects IBSI-2 phase-2 configurations (1.A … 9.B); phase 1 has "
                              "no configurations and runs all its response-map tests: use --phase 2 with "
                              "--config, or --phase 1 without it"))
    # --config names phase-2 configurations: given alone it selects phase 2 only
    raise typer.Exit(_ibsi2(config, phase or ([2] if config else [1, 2])))


def _ibsi2(configs, phases) -> int:
    """IBSI-2: phase-1 response maps (shared data) and phase-2 values; exit code."""
    import sys

    import pandas as pd
    from rich.progress import track

    from voxelomics import compliance_ibsi2 as c2
    from voxelomics.errors import InputError

    bad = sorted(set(phases) - {1, 2})
    if bad:
        _fail(VoxelomicsError(f"--phase must be 1 or 2, got {bad[0]}"))
    quiet = not sys.stdout.isatty()  # tables piped to a file: no progress bar beside them
    ok = True
    if 1 in phases:
        try:
            from voxelomics.io.reference import ibsi2_phase1_dir

            ibsi2_phase1_dir()
            parts = [c2.run_phase1([t]) for t in track(list(c2.PHASE1), description="IBSI-2 phase 1",
                                                       console=console, disable=quiet)]
            ok &= c2.print_phase1(pd.concat(parts, ignore_index=True))
        except InputError as exc:
            console.print(f"[yellow]phase 1 skipped:[/] {exc}")
    if 2 in phases:
        try:
            names = [c2.phase2_config_name(c) for c in (configs or list(c2.PHASE2_CONFIGS))]
            parts = [c2.run_phase2([n]) for n in track(names, description="IBSI-2 phase 2", console=console,
                                                       disable=quiet)]
        except VoxelomicsError as exc:
            _fail(exc)
        ok &= c2.print_phase2(pd.concat(parts, ignore_index=True))
    return 0 if ok else 1


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder")] = Path("demo_output"),
    workers: Annotated[int | None, typer.Option("--workers", "-w", min=1)] = None,
):
    """Run the main job on the bundled real data and summarise the results."""
    from voxelomics.demo import run_demo

    try:
        code = run_demo(out, workers=workers)
    except VoxelomicsError as exc:
        _fail(exc)
    raise typer.Exit(code)


@app.command("run")
def run_cmd(
    study: Annotated[Path | None, typer.Argument(help="Study YAML file (see --example and docs/run_and_report.md)")] = None,
    example: Annotated[bool, typer.Option("--example", help="Print a commented example study and exit")] = False,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (overrides the study's 'out')")] = None,
    force: Annotated[bool, typer.Option("--force", help="Run every step again, recomputing every case")] = False,
    check: Annotated[bool, typer.Option("--check", help="Validate the study and its files, then exit")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars")] = True,
):
    """Run a whole study from one file: cohort, extraction, QC, models and the HTML report.

    Steps whose inputs and settings have not changed since the last run are skipped.

    Exit codes: 0 every step completed (failed cases are listed in the report), 1 a step failed (e.g. a model could not be fitted), 2 the study was refused before any work.
    """
    if example:
        from voxelomics.study import example_study

        try:
            typer.echo(example_study(), nl=False)
        except VoxelomicsError as exc:
            _fail(exc)
        return
    if study is None:
        _fail(VoxelomicsError("give a study file (voxelomics run STUDY.yaml), or --example"))
    try:
        from voxelomics.study import check_study, load_study, run_study

        if check:
            notes = check_study(load_study(study, out=out))
            for n in notes:
                console.print(f"[yellow]warning:[/] {n}", highlight=False)
            console.print(f"{study}: valid; every file and column it names is present")
            return
        result = run_study(study, out=out, force=force, progress=progress, console=console)
    except VoxelomicsError as exc:
        _fail(exc, 2)
    if result.report is not None:
        console.print(f"report: {result.report}")
    raise typer.Exit(result.exit_code)


@app.command("report")
def report_cmd(
    results: Annotated[Path, typer.Argument(help="Results folder of 'voxelomics run', 'extract' or 'model'")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write")] = Path("report.html"),
    title: Annotated[str | None, typer.Option("--title", help="Title of the page")] = None,
    qc: Annotated[bool, typer.Option("--qc/--no-qc", help="Draw QC thumbnails missing from the folder "
                                     "(reads the images; cached in RESULTS/qc)")] = True,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars")] = True,
):
    """Write one self-contained HTML report (no network needed) from a results folder."""
    try:
        from voxelomics.report import write_report

        path = write_report(results, out, title=title, qc=qc, progress=progress)
    except VoxelomicsError as exc:
        _fail(exc)
    console.print(f"report written to {path} ({path.stat().st_size / 1e6:.1f} MB)")


@app.command()
def version():
    """Print the voxelomics version."""
    from voxelomics import __version__

    typer.echo(__version__)


def _print_version(value: bool):
    if value:
        from voxelomics import __version__

        typer.echo(f"voxelomics {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
):
    """IBSI-compliant radiomics, cohort extraction and validated models for cancer imaging."""
    import warnings

    from voxelomics._malloc import limit_arenas

    warnings.formatwarning = _plain_warning
    limit_arenas()  # the families' threads share freed memory (see voxelomics._malloc)


def _mount_model():
    try:
        from voxelomics.model.cli import model_app
    except ImportError:  # the modelling extra is not installed
        return
    app.add_typer(model_app, name="model")


_mount_model()


def _mount_deep():
    # voxelomics.deep.cli imports neither torch nor MONAI (they load inside the commands)
    from voxelomics.deep.cli import deep_app

    app.add_typer(deep_app, name="deep")


_mount_deep()


def main():  # pragma: no cover
    """Entry point for ``python -m voxelomics.cli``."""
    app(prog_name="voxelomics")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
