"""Run a study: cohort -> extraction -> QC -> models (CV, final fit, external) -> report.

Each step goes through the public function of the separate command and is keyed by a hash
of its inputs and settings (file contents or, for images, size and modification time; the
settings; the voxelomics version). A step whose key equals the last run's and whose
outputs exist is skipped and recorded as ``unchanged``; ``force`` runs everything again.
The keys live in ``OUT/.study_state.json``; ``OUT/run_log.json`` records every step with
its status, wall time and a one-line summary.
"""

from __future__ import annotations

import datetime
import hashlib
import inspect
import json
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from voxelomics.errors import VoxelomicsError
from voxelomics.report.qc import QC_VERSION
from voxelomics.study import score as score_hooks
from voxelomics.study.spec import ModelSpec, OutcomeSpec, Study, load_study

__all__ = ["StepRecord", "StudyResult", "run_study"]


@dataclass
class StepRecord:
    """One step of a study run.

    Attributes
    ----------
    step : str
    status : {"ran", "unchanged", "failed"}
    seconds : float
        Wall time in this run (0 when unchanged).
    detail : str
        One-line summary of the step's result (of the run that computed it).
    last_run, last_run_seconds : str, float
        When the step last did its work, and how long it took then.
    """

    step: str
    status: str
    seconds: float
    detail: str = ""
    last_run: str = ""
    last_run_seconds: float = 0.0


@dataclass
class StudyResult:
    """What :func:`run_study` did.

    Attributes
    ----------
    out : Path
    report : Path or None
    steps : list of StepRecord
    warnings : list of str
    exit_code : int
        0 every step completed (failed cases are listed in the report), 1 a step failed.
    """

    out: Path
    report: Path | None
    steps: list[StepRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    exit_code: int = 0

    @property
    def n_ran(self) -> int:
        """Number of steps that did work."""
        return sum(s.status == "ran" for s in self.steps)


def _key(*parts) -> str:
    from voxelomics import __version__

    blob = json.dumps([__version__, *parts], default=str, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _file_hash(path: Path | None) -> str | None:
    if path is None or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _tree(folder: Path) -> str:
    entries = sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                     for p in folder.rglob("*") if p.is_file())
    return hashlib.sha256(repr(entries).encode()).hexdigest()


def _manifest_state(path: Path) -> tuple:
    """Content of a manifest and the files its rows resolve to (not where the manifest is)."""
    from voxelomics.io import read_manifest

    return _file_hash(path), [(str(c.image), str(c.mask)) for c in read_manifest(path)]


def _table_hash(path: Path) -> str | None:
    import pandas as pd

    if not path.is_file():
        return None
    df = pd.read_parquet(path)
    h = hashlib.sha256(repr(list(df.columns)).encode())
    h.update(pd.util.hash_pandas_object(df.astype(str), index=False).to_numpy().tobytes())
    return h.hexdigest()


def _slug(text: str) -> str:
    from voxelomics.report.html import slug

    return slug(text)


class _Run:
    def __init__(self, study: Study, *, force: bool, progress: bool, console):
        self.study = study
        self.out = study.out
        self.force = force
        self.progress = progress
        self.console = console
        self.state_path = self.out / ".study_state.json"
        try:
            self.state = json.loads(self.state_path.read_text()) if not force else {}
        except (OSError, ValueError):
            self.state = {}
        self.steps: list[StepRecord] = []
        self.warnings: list[str] = []

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def step(self, name: str, key: str, outputs: list[Path], fn, *, fatal: bool = False) -> str:
        """Run ``fn`` unless its key and outputs are unchanged; record the step."""
        if not self.force and self.state.get(name) == key and all(p.exists() for p in outputs):
            detail = self.state.get(f"{name}#detail", "")
            self.steps.append(StepRecord(name, "unchanged", 0.0, detail, self.state.get(f"{name}#when", ""),
                                         self.state.get(f"{name}#seconds", 0.0)))
            self.say(f"[dim]= {name}: unchanged, skipped[/] (last run: {detail})")
            return "unchanged"
        t0 = time.perf_counter()
        self.say(f"[bold]→ {name}[/]")
        try:
            detail = fn() or ""
        except (VoxelomicsError, ArithmeticError, ValueError) as exc:
            seconds = time.perf_counter() - t0
            self.steps.append(StepRecord(name, "failed", round(seconds, 2), str(exc)))
            self.state.pop(name, None)
            self._save()
            self.say(f"[red]✗ {name} failed[/] ({seconds:.1f} s): {exc}")
            if fatal:
                raise
            return "failed"
        seconds = round(time.perf_counter() - t0, 2)
        when = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        self.steps.append(StepRecord(name, "ran", seconds, detail, when, seconds))
        self.state.update({name: key, f"{name}#detail": detail, f"{name}#when": when,
                           f"{name}#seconds": seconds})
        self._save()
        self.say(f"[green]✓ {name}[/] {detail} ({seconds:.1f} s)")
        return "ran"

    def _save(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(json.dumps(self.state, indent=1))


# ------------------------------------------------------------------------------- steps
def _build_cohort(manifests: list[Path], dicom: list[Path], path: Path, run: _Run) -> str:
    import pandas as pd

    from voxelomics.errors import InputError
    from voxelomics.io import index_dicom, write_manifest

    frames, sources = [], []
    for m in manifests:
        df = pd.read_csv(m, dtype=str, keep_default_na=False)
        for col in ("image", "mask"):
            df[col] = [str((m.resolve().parent / v).resolve()) if v else v for v in df[col]]
        frames.append(df)
        sources += [str(m)] * len(df)
    for d in dicom:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = index_dicom(d)
        run.warnings += [f"index {d}: {w}" for w in df.attrs.get("warnings", [])]
        frames.append(df.astype(object).where(df.notna(), "").astype(str))
        sources += [str(d)] * len(df)
    cohort = pd.concat(frames, ignore_index=True).fillna("")
    key = cohort["case_id"] + "|" + cohort.get("roi", "") + "|" + cohort.get("label", "")
    dup = key[key.duplicated(keep=False)]
    if len(dup):
        first = dup.index[0]
        raise InputError(f"case {cohort.loc[first, 'case_id']!r} (roi {cohort.loc[first, 'roi']!r}) "
                         f"appears twice in the cohort: in {sources[dup.index[0]]} and "
                         f"{sources[dup.index[1]]}; give each row its own case_id", path=path)
    write_manifest(cohort, path)
    n_dicom = sum(s in map(str, dicom) for s in sources)
    return f"{len(cohort)} rows ({len(cohort) - n_dicom} from manifests, {n_dicom} indexed from DICOM)"


def _extract(manifest: Path, out: Path, settings, run: _Run) -> str:
    from voxelomics.cohort import extract_cohort

    ex = run.study.extraction
    res = extract_cohort(manifest, out=out, settings=settings, workers=ex.workers,
                         scheduler=ex.scheduler, retries=ex.retries, case_timeout=ex.case_timeout,
                         memory_limit=ex.memory_limit, naming=ex.naming, progress=run.progress,
                         force=run.force)
    return (f"{res.n_done - res.n_reused} computed, {res.n_reused} reused, {res.n_failed} failed"
            + (" (see Failures in the report)" if res.n_failed else ""))


def _extract_key(manifest: Path, settings) -> str:
    from voxelomics.cohort.cache import fingerprints
    from voxelomics.io import read_manifest

    return _key(_file_hash(manifest), settings.settings_hash(), fingerprints(read_manifest(manifest)))


def _spec(study: Study, outcome: OutcomeSpec, model: ModelSpec, table: Path, clinical):
    from voxelomics.model.workflow import TableSpec

    return TableSpec(table=table, target=outcome.target, time=outcome.time, event=outcome.event,
                     clinical=None if clinical is None else clinical.table,
                     on=None if clinical is None else clinical.on, batch=model.batch,
                     group=study.cohort.patient_id)


def _selected_features(final: Path) -> str:
    """Write ``final/selected_features.csv``: features reaching the model, with weights."""
    import numpy as np
    import pandas as pd

    from voxelomics.model.persist import load_model

    saved = load_model(final)
    pipe, feats = saved.estimator, list(saved.meta["features"])
    n_in = getattr(pipe, "n_features_in_", len(feats))
    names = (["__batch__"] if n_in == len(feats) + 1 else []) + feats
    try:
        kept = [str(n) for n in pipe[:-1].get_feature_names_out(np.asarray(names, dtype=object))]
    except (AttributeError, ValueError, TypeError, IndexError) as exc:
        return f"selected features not available ({type(exc).__name__})"
    clf = pipe[-1]
    kind, weight = "selected", np.ones(len(kept))
    coef = getattr(clf, "coef_", None)
    if coef is not None:
        c = np.asarray(coef, float)
        c = c.ravel() if c.ndim == 1 or c.shape[0] == 1 else c[:, 0]  # logistic (1, n); Cox (n, alphas)
        if c.size == len(kept):
            kind, weight = "coefficient", c
    else:
        try:
            imp = getattr(clf, "feature_importances_", None)
        except (NotImplementedError, AttributeError):  # e.g. a random survival forest
            imp = None
        if imp is not None and len(imp) == len(kept):
            kind, weight = "importance", np.asarray(imp, float)
    table = pd.DataFrame({"feature": kept, "weight": weight, "kind": kind})
    if kind == "coefficient":
        table = table[table["weight"] != 0]
    table.to_csv(final / "selected_features.csv", index=False)
    return f"{len(table)} features in the final model"


def _model_steps(run: _Run, outcome: OutcomeSpec, model: ModelSpec, features: Path,
                 external: Path | None) -> None:
    from voxelomics.model.workflow import fit_model, run_cv, validate_model

    study = run.study
    label = f"{outcome.name} · {model.name}"
    folder = study.out / "models" / _slug(outcome.name) / _slug(model.name)
    folder.mkdir(parents=True, exist_ok=True)
    settings = study.model_settings(model)
    spec = score_hooks.adjust_spec(_spec(study, outcome, model, features, study.clinical), outcome, model)
    notes = []
    if study.cohort.patient_id is not None and study.cohort.patient_id.lower() == "none":
        notes.append("cohort.patient_id is 'none': every row is treated as an independent patient "
                     "(folds and confidence intervals do not keep rows of one patient together)")
    (folder / "study_model.json").write_text(json.dumps({
        "label": label, "outcome": {"name": outcome.name, "kind": outcome.kind, "target": outcome.target,
                                    "time": outcome.time, "event": outcome.event},
        "model": model.name, "batch": model.batch, "group": study.cohort.patient_id,
        "settings": settings.model_dump(), "warnings": notes},
        indent=1))
    run.warnings += [f"{label}: {n}" for n in notes]
    clin = _file_hash(study.clinical.table) if study.clinical else None
    base = (_table_hash(features), clin, outcome.model_dump(mode="json"), model.model_dump(mode="json"),
            settings.model_dump(), study.cohort.patient_id)

    def cv():
        kwargs = {"plots": True}
        if "progress" in inspect.signature(run_cv).parameters:
            kwargs["progress"] = run.progress
        with run.console.status(f"nested CV of {label}: {settings.n_splits} folds × "
                                f"{settings.n_repeats} repeats", spinner="dots") if run.progress else _null():
            m = run_cv(spec, settings, folder / "cv", **kwargs)
        return score_hooks.step_summary(m)

    run.step(f"cv {label}", _key("cv", *base), [folder / "cv" / "metrics.json"], cv)
    if external is None:
        return

    def fit():
        meta = fit_model(spec, settings, folder / "final", **score_hooks.fit_kwargs(outcome))
        return f"{meta['model']} on {meta['training']['n']} rows; " + _selected_features(folder / "final")

    fitted = run.step(f"fit {label}", _key("fit", *base), [folder / "final" / "model.json"], fit)
    if fitted == "failed":
        return
    ext = study.validation.external
    ext_clin = ext.clinical or study.clinical

    def validate():
        s = score_hooks.validation_spec(score_hooks.adjust_spec(
            _spec(study, outcome, model, external, ext_clin), outcome, model), outcome)
        m = validate_model(folder / "final", s, folder / "external", n_boot=settings.n_boot,
                           seed=settings.random_state)
        return (score_hooks.step_summary(m)
                + (f"; {len(m['warnings'])} warning(s)" if m.get("warnings") else ""))

    run.step(f"validate {label}", _key("validate", *base, _table_hash(external),
                                       _file_hash(ext_clin.table) if ext_clin else None),
             [folder / "external" / "metrics.json"], validate)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _summary(run: _Run, seconds: float) -> None:
    from rich.table import Table

    t = Table(title=f"study {run.study.name}: where the time went")
    for col in ("step", "status", "seconds", "detail"):
        t.add_column(col, overflow="fold")
    for s in run.steps:
        t.add_row(s.step, s.status, f"{s.seconds:.1f}", s.detail)
    run.console.print(t)
    if run.steps and all(s.status == "unchanged" for s in run.steps):
        run.say("nothing recomputed: the inputs and settings of every step are unchanged "
                "(use --force to run everything again)")
    run.say(f"{len(run.steps)} steps in {seconds:.1f} s; run log: {run.out / 'run_log.json'}")


def _write_log(run: _Run, started: str, t0: float, force: bool) -> bool:
    from voxelomics import __version__

    failed = any(s.status == "failed" for s in run.steps)
    log = {"study": run.study.name, "started": started,
           "ended": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
           "seconds": round(time.perf_counter() - t0, 2),
           "status": "failed steps" if failed else "finished", "voxelomics": __version__,
           "force": force, "warnings": run.warnings, "steps": [asdict(s) for s in run.steps]}
    (run.out / "run_log.json").write_text(json.dumps(log, indent=1))
    return failed


def run_study(study: str | Path | Study, *, out: str | Path | None = None, force: bool = False,
              progress: bool = True, console=None) -> StudyResult:
    """Run a study file: every step through the public functions, unchanged steps skipped.

    Parameters
    ----------
    study : str, Path or Study
        Study YAML file (validated with :func:`~voxelomics.study.spec.load_study`) or a
        loaded study.
    out : str or Path or None, default=None
        Output folder overriding the study's ``out``.
    force : bool, default=False
        Run every step again (and recompute every case).
    progress : bool, default=True
        Progress bars (cases extracted, QC thumbnails) and spinners (CV) on the terminal.
    console : rich.console.Console or None, default=None
        Where to print (default: stderr).

    Returns
    -------
    StudyResult

    Raises
    ------
    SettingsError, InputError
        The study is refused before any work (:func:`~voxelomics.study.checks.check_study`),
        or the cohort cannot be built or extracted.
    """
    from rich.console import Console

    from voxelomics.study.checks import check_study

    console = console or Console(stderr=True, soft_wrap=True)
    text = None
    if not isinstance(study, Study):
        text = Path(study).read_text() if Path(study).is_file() else None
        study = load_study(study, out=out)
    elif out is not None:
        study = study.model_copy(update={"out": Path(out).resolve()})
    notes = check_study(study)
    settings = study.extraction_settings()
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    run = _Run(study, force=force, progress=progress, console=console)
    run.warnings += notes
    out_dir = study.out
    out_dir.mkdir(parents=True, exist_ok=True)
    if text is not None:
        (out_dir / "study.yaml").write_text(text)
    (out_dir / "study.json").write_text(json.dumps(study.model_dump(mode="json"), indent=1))
    for n in notes:
        run.say(f"[yellow]warning:[/] {n}")

    cohorts = [("", study.cohort.manifest, study.cohort.dicom)]
    ext = study.validation.external
    if ext is not None:
        cohorts.append(("external/", ext.manifest, ext.dicom))
    for prefix, manifests, dicom in cohorts:
        where = out_dir / prefix
        manifest = where / "cohort" / "manifest.csv"
        listing = [_manifest_state(m) for m in manifests] + [(str(d), _tree(d)) for d in dicom]
        run.step(f"{prefix}cohort", _key("cohort", listing),
                 [manifest], lambda m=manifests, d=dicom, p=manifest: _build_cohort(m, d, p, run), fatal=True)
        run.step(f"{prefix}extract", _key("extract", _extract_key(manifest, settings), study.extraction.naming),
                 [where / "extraction" / "features.parquet"],
                 lambda p=manifest, w=where: _extract(p, w / "extraction", settings, run), fatal=True)

        def qc(p=manifest, w=where):
            from voxelomics.io import read_manifest
            from voxelomics.report.qc import run_qc

            table = run_qc(read_manifest(p), w / "qc", extraction_settings=settings,
                           settings=study.report.qc, progress=run.progress)
            return (f"{len(table)} cases, {int((table['flags'].str.len() > 0).sum())} flagged, "
                    f"{int(table['cached'].sum())} from the cache")

        run.step(f"{prefix}qc", _key("qc", _extract_key(manifest, settings), study.report.qc.model_dump(),
                                     QC_VERSION),
                 [where / "qc" / "qc.csv"], qc)
    features = out_dir / "extraction" / "features.parquet"
    external = out_dir / "external" / "extraction" / "features.parquet" if ext is not None else None
    for outcome in study.outcomes:
        for model in outcome.models:
            _model_steps(run, outcome, model, features, external)
    report = None
    if study.report.enabled:
        from voxelomics.report.html import write_report

        report = out_dir / "report.html"
        keys = {k: v for k, v in run.state.items() if "#" not in k and k != "report"}

        def draw():
            _write_log(run, started, t0, force)  # the report shows this run's steps so far
            write_report(out_dir, report, title=study.report.title, qc_settings=study.report.qc,
                         progress=run.progress)
            return f"{report} ({report.stat().st_size / 1e6:.1f} MB)"

        run.step("report", _key("report", keys, study.model_dump(mode="json"),
                                _file_hash(out_dir / "study.yaml")), [report], draw)
    seconds = time.perf_counter() - t0
    failed = _write_log(run, started, t0, force)
    _summary(run, seconds)
    return StudyResult(out=out_dir, report=report if report is not None and report.is_file() else None,
                       steps=run.steps, warnings=run.warnings, exit_code=1 if failed else 0)
