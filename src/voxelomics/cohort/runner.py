"""Run a whole manifest: one task per case, resumable, failures isolated.

See :func:`extract_cohort`; the files it writes are described in
:mod:`voxelomics.cohort.outputs`, the cache in :mod:`voxelomics.cohort.cache`, the
back-ends in :mod:`voxelomics.cohort.backends`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from voxelomics.cohort.backends import DaskBackend, InProcessBackend, LocalProcessBackend, Task
from voxelomics.cohort.cache import PartCache, case_key, fingerprints
from voxelomics.cohort.expand import error_records, expand_cases
from voxelomics.cohort.outputs import (
    check_extra_columns,
    merge_table,
    new_temporary,
    package_versions,
    utc_now,
    write_errors,
    write_features,
    write_json,
    write_log,
)
from voxelomics.cohort.progress import CohortProgress
from voxelomics.cohort.tasks import TRANSIENT_ERRORS, CaseFn
from voxelomics.errors import InputError, SettingsError

__all__ = ["extract_cohort", "CohortResult", "CohortInterrupted", "RunInterrupted", "RunTerminated"]

_DASK_PREFIXES = ("tcp://", "tls://", "ucx://", "inproc://", "ws://", "wss://")


class CohortInterrupted(BaseException):
    """A cohort run stopped by SIGINT (Ctrl-C) or SIGTERM (e.g. a cancelled SLURM job).

    By the time it is raised the workers are stopped, ``run.json`` says
    ``"interrupted"`` and the finished cases are saved: running the same call again
    resumes. What is raised is one of two subclasses, so that code which does not
    know this class still does the conventional thing:

    * :class:`RunInterrupted` (SIGINT) is also a :class:`KeyboardInterrupt`;
    * :class:`RunTerminated` (SIGTERM) is also a :class:`SystemExit` with code 143, so
      a script (or the command line) that does not catch it ends with status 143.

    Attributes
    ----------
    signum : int
        ``signal.SIGINT`` or ``signal.SIGTERM``.
    exit_code : int
        Conventional exit status: 128 + signal number (130 for SIGINT, 143 for SIGTERM).
    n_saved, n_cases : int
        Cases saved in the output folder (reused or computed), and cases in the manifest.
    """

    def __init__(self, signum: int, n_saved: int = 0, n_cases: int = 0):
        self.signum = int(signum)
        self.n_saved, self.n_cases = n_saved, n_cases
        super().__init__(*self._args())

    def _args(self) -> tuple:
        return (f"interrupted by {signal.Signals(self.signum).name}",)

    @property
    def exit_code(self) -> int:
        """128 + the signal number (130: SIGINT, 143: SIGTERM)."""
        return 128 + self.signum

    @staticmethod
    def for_signal(signum: int, n_saved: int = 0, n_cases: int = 0) -> CohortInterrupted:
        """The subclass instance for a signal (:class:`RunTerminated` for SIGTERM).

        Parameters
        ----------
        signum : int
        n_saved, n_cases : int, default=0

        Returns
        -------
        CohortInterrupted
        """
        cls = RunTerminated if signum == signal.SIGTERM else RunInterrupted
        return cls(signum, n_saved, n_cases)


class RunInterrupted(CohortInterrupted, KeyboardInterrupt):
    """SIGINT (Ctrl-C): a :class:`KeyboardInterrupt` (the command line exits with 130)."""


class RunTerminated(CohortInterrupted, SystemExit):
    """SIGTERM: a :class:`SystemExit` whose code is 143, the status of a terminated process."""

    def _args(self) -> tuple:
        return (self.exit_code,)


@contextlib.contextmanager
def _sigterm_interrupts():
    """While running, SIGTERM raises :class:`CohortInterrupted` (once) in the main thread.

    Without it SIGTERM would end the process on the spot: workers left running, no
    record of the interruption. Outside the main thread signals cannot be handled, and
    nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = []

    def on_term(signum, frame):
        if not fired:  # a second SIGTERM while stopping must not break the clean-up
            fired.append(signum)
            raise CohortInterrupted.for_signal(signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass
class CohortResult:
    """What a cohort run produced.

    Attributes
    ----------
    out : Path
        Output folder.
    features_path, errors_path, run_path, logs_dir : Path
        ``features.parquet``, ``errors.csv``, ``run.json`` and the failure logs folder.
    n_cases : int
        Rows to extract: the manifest's rows after expanding lesions (``label: all``, ROI
        patterns) and regions (rings), plus the rows whose ROIs could not be listed.
    n_done : int
        Cases computed successfully by this run.
    n_failed : int
        Cases that failed in this run (rows of ``errors.csv``).
    n_reused : int
        Cases taken from the cache of an earlier run with the same settings.
    n_changed : int
        Cases computed again because their image or mask changed since they were
        cached (their input fingerprint differs); included in ``n_done``/``n_failed``.
    backend : str
        ``local-processes``, ``in-process``, ``dask:local``, ``dask:tcp://...`` or ``dask:client``.
    n_workers : int
        Workers used (local processes, or Dask workers at the start).
    settings_hash : str
        Hash of the settings (names the cache folder).
    elapsed_s : float
        Wall time of the run (s).
    worker_peak_rss_mb : dict of str to float
        Peak resident memory (MiB) of each worker process that computed a case, keyed by pid.
    """

    out: Path
    features_path: Path
    errors_path: Path
    run_path: Path
    logs_dir: Path
    n_cases: int
    n_done: int
    n_failed: int
    n_reused: int
    backend: str
    n_workers: int
    settings_hash: str
    elapsed_s: float
    worker_peak_rss_mb: dict[str, float] = field(default_factory=dict)
    n_changed: int = 0

    @property
    def n_succeeded(self) -> int:
        """Rows of ``features.parquet``: cases computed now plus cases reused."""
        return self.n_done + self.n_reused

    @property
    def exit_code(self) -> int:
        """0 when every case succeeded, 1 when some failed (the CLI's exit status)."""
        return 0 if self.n_failed == 0 else 1

    @property
    def features(self):
        """The feature table (pandas.DataFrame), read from ``features.parquet``."""
        import pandas as pd

        return pd.read_parquet(self.features_path)

    @property
    def errors(self):
        """The error table (pandas.DataFrame of str), read from ``errors.csv``."""
        import pandas as pd

        return pd.read_csv(self.errors_path, dtype=str, keep_default_na=False)


# ---- argument checks ------------------------------------------------------------------
def _parse_memory(limit) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool):
        limit = str(limit)
    if isinstance(limit, int):
        value = limit
    else:
        from dask.utils import parse_bytes

        try:
            value = int(parse_bytes(str(limit)))
        except (ValueError, TypeError):
            raise SettingsError(f"memory_limit {limit!r} is not a size; expected e.g. '4GiB', "
                                "'500MB' or a number of bytes") from None
    if value <= 0:
        raise SettingsError(f"memory_limit must be positive, got {limit!r}")
    return value


def _check_args(workers, scheduler, client, retries, case_timeout, naming) -> None:
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise SettingsError(f"workers must be a positive integer or None (all cores), got {workers!r}")
    if client is not None and scheduler is not None:
        raise SettingsError("give either scheduler or client, not both")
    if scheduler is not None and scheduler not in ("local-dask", "in-process") \
            and not str(scheduler).startswith(_DASK_PREFIXES):
        raise SettingsError(f"scheduler {scheduler!r} is not understood; expected a Dask address "
                            "'tcp://HOST:PORT', 'local-dask' or 'in-process'")
    if not isinstance(retries, int) or retries < 0:
        raise SettingsError(f"retries must be an integer >= 0, got {retries!r}")
    if case_timeout is not None and not case_timeout > 0:
        raise SettingsError(f"case_timeout must be a positive number of seconds, got {case_timeout!r}")
    if naming not in ("readable", "ibsi"):
        raise SettingsError(f"naming must be 'readable' or 'ibsi', got {naming!r}")


def _all_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _load_cases(manifest) -> tuple[list, str | None]:
    if isinstance(manifest, (str, Path)):
        from voxelomics.io.manifest import read_manifest

        cases = list(read_manifest(manifest))
        source = str(manifest)
    else:
        cases, source = list(manifest), None
    if not cases:
        raise InputError("the manifest lists no case; expected at least one row", path=source)
    for case in cases:
        if not hasattr(case, "case_id"):
            raise InputError(f"manifest entries must be Case objects with a case_id, got "
                             f"{type(case).__name__}", path=source)
    return cases, source


def _prepare_out(out: Path) -> None:
    """Create the output folder and check that a file can be written in it."""
    if out.exists() and not out.is_dir():
        raise InputError("the output path is a file; expected a folder", path=out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = new_temporary(out / ".write-test")
        os.close(fd)
        probe.unlink()
    except OSError as exc:
        raise InputError(f"cannot write to the output folder ({exc.strerror or exc}); "
                         "expected a folder that can be created and written to", path=out) from None


def _dashboard_line(backend) -> str:
    import importlib.util

    if backend.name == "dask:local" and importlib.util.find_spec("bokeh") is None:
        return ("Dask dashboard: not served (install bokeh>=3.1 to see it at "
                f"{backend.dashboard_link})")
    return f"Dask dashboard: {backend.dashboard_link}"


def _probe(address: str) -> None:
    """Fail fast (OSError) when nothing listens at a ``tcp://HOST:PORT`` address."""
    if not address.startswith("tcp://"):
        return
    host, _, port = address[len("tcp://"):].rpartition(":")
    if not port.isdigit():
        raise OSError(f"no port in {address!r}")
    with socket.create_connection((host.strip("[]"), int(port)), timeout=10):
        pass


def _make_backend(workers, scheduler, client, memory_bytes, memory_limit, case_timeout,
                  part_folder):
    if client is not None:
        return DaskBackend(client, "dask:client", case_timeout=case_timeout)
    if scheduler is None:
        return LocalProcessBackend(workers or _all_cores(), memory_limit=memory_bytes,
                                   case_timeout=case_timeout, part_folder=part_folder)
    if scheduler == "in-process":
        return InProcessBackend()
    from distributed import Client

    if scheduler == "local-dask":
        from distributed import LocalCluster

        cluster = LocalCluster(
            n_workers=workers or _all_cores(), threads_per_worker=1, processes=True,
            memory_limit=memory_limit if memory_limit is not None else "auto",
            dashboard_address=":0",
        )
        dask_client = Client(cluster)

        def close():
            dask_client.close()
            cluster.close()

        return DaskBackend(dask_client, "dask:local", case_timeout=case_timeout, close=close)
    try:
        _probe(scheduler)
        dask_client = Client(scheduler, timeout="30s")
    except (OSError, TimeoutError) as exc:
        raise SettingsError(f"could not connect to the Dask scheduler at {scheduler} ({exc}); "
                            "expected a running `dask scheduler`") from None
    return DaskBackend(dask_client, f"dask:{scheduler}", case_timeout=case_timeout,
                       close=dask_client.close)


# ---- the run --------------------------------------------------------------------------
def extract_cohort(
    manifest,
    *,
    out: str | Path,
    settings=None,
    workers: int | None = None,
    scheduler: str | None = None,
    client=None,
    force: bool = False,
    retries: int = 0,
    case_timeout: float | None = None,
    memory_limit: str | int | None = None,
    naming: str = "readable",
    progress: bool = True,
    case_fn: CaseFn | None = None,
) -> CohortResult:
    """Extract features for every case of a manifest, resumably, on local cores or Dask.

    Each case is one task: a row selecting several ROIs (``label: all``, an ROI pattern) and
    each peritumoral ring of ``settings.rois`` are tasks of their own
    (:mod:`voxelomics.cohort.expand`). Each finished case is written at once to a part file keyed
    by the settings hash, its case key and a fingerprint of its input files; at the end
    the parts of the manifest's cases are merged, in manifest order, with the manifest's
    current extra columns and the requested column naming, into
    ``OUT/features.parquet`` (atomic rename). Running the same call again computes only
    the cases without a part file, or whose image or mask changed since (size or
    modification time; counted in ``n_changed``), and counts the others as reused;
    other settings give another hash, hence a fresh computation. Editing the manifest's
    extra columns or changing ``naming`` needs no recomputation.
    A failing case (exception, crashed worker, time limit) becomes a row of
    ``OUT/errors.csv`` plus ``OUT/logs/<case key>.log`` and the run goes on; failures
    are never cached, so a re-run tries them again.

    Parameters
    ----------
    manifest : str, Path or list of Case
        Manifest CSV (read with :func:`voxelomics.io.manifest.read_manifest`) or the cases.
    out : str or Path
        Output folder (created when missing; must be writable).
    settings : Settings, dict, str, Path or None, default=None
        The same forms as :func:`voxelomics.extract_features`: a
        :class:`~voxelomics.settings.Settings` object, a dict of settings, a preset name
        (``"default"``, ``"ibsi-c"``, ... see ``voxelomics settings --list``) or the path
        of a settings YAML file; ``None`` uses the ``default`` preset. Validated once,
        before any case runs.
    workers : int or None, default=None
        Local worker processes (``None``: every core this process may use). With
        ``scheduler="local-dask"``, the number of Dask workers. Ignored for a remote
        scheduler or a given client.
    scheduler : str or None, default=None
        ``None``: local process pool. ``"tcp://HOST:PORT"``: a running Dask scheduler.
        ``"local-dask"``: a ``distributed.LocalCluster`` (one thread per worker).
        ``"in-process"``: sequentially in this process (debugging; no crash isolation).
    client : distributed.Client or None, default=None
        Run on this Dask client (not closed at the end).
    force : bool, default=False
        Recompute every case, ignoring cached parts.
    retries : int, default=0
        Extra attempts for failures that may be transient (a worker that died).
    case_timeout : float or None, default=None
        Seconds after which a case fails with ``CaseTimeout``. Local pool: the worker is
        killed (hard limit). Dask: cooperative (an exception is raised in the case's thread).
    memory_limit : str, int or None, default=None
        Memory per worker, e.g. ``"4GiB"``. Local pool: address-space limit
        ``RLIMIT_AS`` of each worker process (POSIX; virtual memory, so leave head room
        for the libraries, at least ~1 GiB); a case beyond it fails with ``MemoryError``
        or ``WorkerCrashed``. ``local-dask``: the workers' ``memory_limit``. For a remote
        cluster, set ``dask worker --memory-limit``; this argument is then only recorded.
    naming : {"readable", "ibsi"}, default="readable"
        Feature column names (applied at the merge: not part of the cache).
    progress : bool, default=True
        Live progress bar on a terminal. A summary line is printed in any case.
    case_fn : callable or None, default=None
        ``(case, settings, naming=...) -> row``, picklable; ``None`` uses
        :func:`voxelomics.extract.extract_case`. A hook for tests and custom pipelines.
        It is called with ``naming="readable"`` and a copy of the case without its
        ``extra`` columns (both are applied at the merge).

    Returns
    -------
    CohortResult
        Paths, counts, ``features``/``errors`` tables and ``exit_code`` (0 or 1).

    Raises
    ------
    SettingsError
        Unusable arguments (bad workers, scheduler, retries, timeout, memory limit,
        naming or settings: unknown preset, unreadable or invalid YAML, unknown keys;
        scheduler not reachable). The CLI exits with 2.
    InputError
        The manifest cannot be read, is empty, lists one task twice, or has an extra
        column named like an identifier or feature column; the output folder cannot be
        created or written (exit 2).
    CohortInterrupted
        SIGINT (Ctrl-C) or SIGTERM (e.g. ``scancel``) arrived: raised after the workers
        are stopped, ``run.json`` is written with ``"status": "interrupted"`` and the
        line ``interrupted: N of M cases saved in OUT; re-run the same command to
        resume`` is printed. Finished cases stay cached. For SIGINT it is also a
        ``KeyboardInterrupt``, for SIGTERM a ``SystemExit(143)``; ``exit_code`` is 130
        or 143 (the command line's exit status).
    """
    from voxelomics.extract.pipeline import _resolve_settings

    started_at, t0 = utc_now(), time.monotonic()
    _check_args(workers, scheduler, client, retries, case_timeout, naming)
    memory_bytes = _parse_memory(memory_limit)
    settings = _resolve_settings(settings)  # the forms extract_features takes
    cases, source = _load_cases(manifest)
    extra_names = check_extra_columns(cases, source)
    # one task per selected lesion and region (rings); rows whose ROIs cannot be listed fail here
    cases, plan_failures = expand_cases(cases, settings)
    keys = [case_key(c) for c in cases]
    if len(set(keys)) != len(keys):
        seen, dup = set(), None
        for c, k in zip(cases, keys, strict=True):
            if k in seen:
                dup = c.case_id
                break
            seen.add(k)
        raise InputError(f"the manifest lists case {dup!r} twice with the same label, ROI, "
                         "modality and series_uid; expected each (case, ROI) once")
    out = Path(out)
    _prepare_out(out)
    logs = out / "logs"
    shash = settings.settings_hash()
    cache = PartCache(out, shash)
    cache.clean_temporary()
    stems = [cache.stem(k, fp) for k, fp in zip(keys, fingerprints(cases), strict=True)]
    present = cache.entries()
    reused = set() if force else {k for k, st in zip(keys, stems, strict=True)
                                  if st in present.get(k, ())}
    changed = {k for k, st in zip(keys, stems, strict=True)
               if k not in reused and any(p != st for p in present.get(k, ()))}
    tasks = [Task(k, c, part=st) for k, c, st in zip(keys, cases, stems, strict=True)
             if k not in reused]
    versions = package_versions()
    run_info = {
        "status": "running", "started": started_at, "ended": None, "host": socket.gethostname(),
        "backend": None, "n_workers": None, "dashboard": None, "settings_name": settings.name,
        "settings_hash": shash, "naming": naming, "force": force, "retries": retries,
        "case_timeout_s": case_timeout, "memory_limit": memory_limit, "versions": versions,
        "n_cases": len(cases) + len(plan_failures), "n_done": 0, "n_failed": len(plan_failures),
        "n_reused": len(reused),
        "n_changed": len(changed),
    }
    write_json(run_info, out / "run.json")

    errors: dict[str, dict] = {}
    succeeded: set[str] = set()
    peak: dict[str, float] = {}
    bar = CohortProgress(len(cases) + len(plan_failures), len(reused), enabled=progress)
    bar.changed = len(changed)
    plan_errors = error_records(plan_failures, logs, out)

    def handle(task: Task, outcome: dict) -> bool:
        if outcome.get("pid") is not None and outcome.get("peak_rss_mb") == outcome.get("peak_rss_mb"):
            pid = str(outcome["pid"])
            peak[pid] = max(peak.get(pid, 0.0), float(outcome["peak_rss_mb"]))
        if outcome["status"] == "ok":
            if not outcome.get("written"):
                cache.write(task.part, outcome["row"])
            cache.remove(p for p in present.get(task.key, ()) if p != task.part)  # stale
            (logs / f"{task.key}.log").unlink(missing_ok=True)
            succeeded.add(task.key)
            bar.update(True)
            return False
        if outcome["error_type"] in TRANSIENT_ERRORS and task.attempt < retries:
            return True
        log = write_log(logs, task.key, str(task.case.case_id), outcome, task.attempt + 1)
        roi = getattr(task.case, "roi", None)
        if roi is None and getattr(task.case, "label", None) is not None:
            roi = task.case.label
        if getattr(task.case, "ring", None) is not None:  # as the row's roi would be named
            roi = f"{'' if roi is None else roi}_{task.case.ring.suffix}".lstrip("_")
        errors[task.key] = {
            "case_id": task.case.case_id, "step": outcome["step"],
            "error_type": outcome["error_type"], "message": outcome["message"],
            "roi": roi, "log": str(log.relative_to(out)),
        }
        bar.update(False)
        return False

    backend = None
    try:
        with _sigterm_interrupts():
            with bar:
                for _ in plan_errors:
                    bar.update(False)
                if tasks:
                    backend = _make_backend(workers, scheduler, client, memory_bytes, memory_limit,
                                            case_timeout, cache.folder)
                    run_info.update(backend=backend.name, n_workers=backend.n_workers,
                                    dashboard=backend.dashboard_link)
                    if backend.dashboard_link:
                        bar.message(_dashboard_line(backend))
                    if backend.name.startswith("dask:") and backend.n_workers == 0:
                        bar.message("note: the Dask scheduler has no worker yet; the cases wait "
                                    "until workers join")
                    if memory_limit is not None and backend.name.startswith("dask:") \
                            and backend.name != "dask:local":
                        bar.message("note: memory_limit is set by the Dask workers "
                                    "(dask worker --memory-limit); recorded only")
                    write_json(run_info, out / "run.json")
                    # features are always computed (and cached) under readable names;
                    # the naming is applied at the merge
                    backend.execute(tasks, settings, "readable", case_fn, handle)

            ok = [(k, st, c) for k, st, c in zip(keys, stems, cases, strict=True)
                  if k in reused or k in succeeded]
            ended = utc_now()
            table = merge_table(cache.read(st for _, st, _ in ok),
                                [getattr(c, "extra", None) or {} for _, _, c in ok],
                                extra_names, naming)
            write_features(table, out / "features.parquet", settings=settings,
                           naming=naming, versions=versions, created=ended)
            write_errors(plan_errors + [errors[k] for k in keys if k in errors], out / "errors.csv")
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt | CohortInterrupted)
        # counted on disk: a worker may have saved a case whose outcome never arrived
        now = cache.entries()
        n_saved = sum(st in now.get(k, ()) for k, st in zip(keys, stems, strict=True))
        run_info.update(status="interrupted" if interrupted else f"aborted: {exc}",
                        ended=utc_now(), n_done=len(succeeded), n_failed=len(errors) + len(plan_errors))
        if interrupted:
            signum = getattr(exc, "signum", signal.SIGINT)
            run_info["signal"] = signal.Signals(signum).name
        with contextlib.suppress(OSError):
            write_json(run_info, out / "run.json")
        if not interrupted:
            raise
        bar.message(f"interrupted: {n_saved} of {len(cases)} cases saved in {out}; "
                    "re-run the same command to resume")
        raise CohortInterrupted.for_signal(signum, n_saved, len(cases)) from None

    elapsed = time.monotonic() - t0
    run_info.update(
        status="finished", ended=ended, elapsed_s=round(elapsed, 3),
        n_done=len(succeeded), n_failed=len(errors) + len(plan_errors),
        worker_peak_rss_mb={k: round(v, 1) for k, v in peak.items()},
    )
    if backend is None:
        run_info["backend"] = "none (every case reused)"
        run_info["n_workers"] = 0
    write_json(run_info, out / "run.json")
    n_failed = len(errors) + len(plan_errors)
    bar.summary(str(out / "features.parquet")
                + (f"; {n_failed} failed, see {out / 'errors.csv'}" if n_failed else ""))
    return CohortResult(
        out=out, features_path=out / "features.parquet", errors_path=out / "errors.csv",
        run_path=out / "run.json", logs_dir=logs, n_cases=len(cases) + len(plan_errors),
        n_done=len(succeeded), n_failed=n_failed, n_reused=len(reused), backend=str(run_info["backend"]),
        n_workers=int(run_info["n_workers"] or 0), settings_hash=shash, elapsed_s=elapsed,
        worker_peak_rss_mb=dict(peak), n_changed=len(changed),
    )
