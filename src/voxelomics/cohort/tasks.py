"""What a worker does with one case, whatever the back-end.

A task never raises: it returns an *outcome* dict, so a failed case travels back to
the runner like a successful one (local process, in-process or Dask worker alike)::

    {"status": "ok", "row": {...}, "seconds": 1.2, "pid": 4242, "peak_rss_mb": 310.5}
    {"status": "error", "step": "read_mask", "error_type": "InputError",
     "message": "case 'P7', file /x/m.nii.gz: ...", "traceback": "...", ...}

Failures that kill the process (segfault, ``os._exit``, the out-of-memory killer) or
run past the time limit cannot be reported by the task itself; the back-ends build
their outcomes with :func:`failure` (``WorkerCrashed``, ``CaseTimeout``).
"""

from __future__ import annotations

import copy
import ctypes
import dataclasses
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable

__all__ = ["run_case", "run_case_with_timeout", "failure", "without_extra", "CaseFn",
           "TRANSIENT_ERRORS"]

#: ``(case, settings, naming) -> row``; the default is :func:`voxelomics.extract.extract_case`.
CaseFn = Callable[..., dict]

#: Error types that may succeed on another try (``retries``): a lost worker.
TRANSIENT_ERRORS = frozenset({"WorkerCrashed"})


def _peak_rss_mb() -> float:
    """Peak resident memory of this process (MiB).

    Linux: ``VmHWM`` of ``/proc/self/status``, the high-water mark of this process'
    own address space. (``ru_maxrss`` would not do: Linux carries it across ``exec``, so
    a spawned worker would report its parent's peak.) Elsewhere: ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    try:
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except (ImportError, OSError):  # pragma: no cover - Windows
        return float("nan")
    # kilobytes on Linux, bytes on macOS
    return rss / (1024.0 * 1024.0) if sys.platform == "darwin" else rss / 1024.0


def failure(step: str, error_type: str, message: str, *, tb: str = "", seconds: float = 0.0,
            pid: int | None = None, peak_rss_mb: float = float("nan")) -> dict:
    """Build the outcome of a failed case.

    Parameters
    ----------
    step : str
        Step that failed (``read_image``, ``features:glcm``, ``worker``, ``timeout`` ...).
    error_type : str
        Exception class name, or ``WorkerCrashed`` / ``CaseTimeout``.
    message : str
        What was found and what was expected.
    tb : str, default=""
        Formatted traceback, written to the case's log file.
    seconds : float, default=0.0
        Wall time spent on the case (s).
    pid : int or None, default=None
        Process that ran the case.
    peak_rss_mb : float, default=nan
        Peak resident memory of that process (MiB).

    Returns
    -------
    dict
    """
    return {
        "status": "error", "step": step, "error_type": error_type, "message": message,
        "traceback": tb, "seconds": seconds, "pid": pid, "peak_rss_mb": peak_rss_mb,
    }


def without_extra(case):
    """The case without its manifest extra columns (they are joined at the merge).

    The part file of a case then holds only what its image and mask determine, so a
    changed outcome in the manifest is never frozen in the cache. The columns that
    choose the input (:data:`~voxelomics.cohort.cache.INPUT_EXTRA_COLUMNS`, e.g.
    ``series_uid``) are kept: the case function needs them, and they are part of the
    case key.

    Parameters
    ----------
    case : voxelomics.io.manifest.Case
        A dataclass (or any object) with an ``extra`` attribute.

    Returns
    -------
    Case
        A copy with only those ``extra`` values, or ``case`` itself when nothing is
        removed.
    """
    from voxelomics.cohort.cache import INPUT_EXTRA_COLUMNS

    extra = getattr(case, "extra", None) or {}
    kept = {k: extra[k] for k in INPUT_EXTRA_COLUMNS if k in extra}
    if len(kept) == len(extra):
        return case
    if dataclasses.is_dataclass(case):
        return dataclasses.replace(case, extra=kept)
    bare = copy.copy(case)
    try:
        bare.extra = kept
    except AttributeError:  # pragma: no cover - read-only attribute
        return case
    return bare


def _default_case_fn() -> CaseFn:
    from voxelomics.extract import extract_case

    return extract_case


def run_case(case, settings, naming: str = "readable", case_fn: CaseFn | None = None) -> dict:
    """Run one case and return its outcome; never raises (except on interrupt).

    Parameters
    ----------
    case : voxelomics.io.manifest.Case
        One manifest entry.
    settings : voxelomics.settings.Settings
        Validated settings.
    naming : {"readable", "ibsi"}, default="readable"
        Column naming passed to ``case_fn``.
    case_fn : callable or None, default=None
        ``(case, settings, naming=...) -> row``; ``None`` uses
        :func:`voxelomics.extract.extract_case`.

    Returns
    -------
    dict
        ``status`` "ok" with ``row`` (computed without the case's ``extra`` columns,
        which the runner joins at the merge), or "error" with ``step``, ``error_type``,
        ``message`` and ``traceback``; always ``seconds``, ``pid``, ``peak_rss_mb``.
    """
    start = time.perf_counter()
    fn = case_fn or _default_case_fn()
    try:
        row = fn(without_extra(case), settings, naming=naming)
    except Exception as exc:  # every failure becomes an error row (MemoryError included)
        step = getattr(exc, "step", None) or "extract"
        message = str(exc) or type(exc).__name__
        case_id = str(getattr(case, "case_id", ""))
        if case_id and case_id not in message:
            message = f"case {case_id!r}: {message}"
        return failure(
            step, type(exc).__name__, message, tb=traceback.format_exc(),
            seconds=time.perf_counter() - start, pid=os.getpid(), peak_rss_mb=_peak_rss_mb(),
        )
    if not isinstance(row, dict):
        return failure(
            "extract", "TypeError",
            f"case {case.case_id!r}: the case function returned {type(row).__name__}, expected a dict row",
            seconds=time.perf_counter() - start, pid=os.getpid(), peak_rss_mb=_peak_rss_mb(),
        )
    return {
        "status": "ok", "row": row, "seconds": time.perf_counter() - start,
        "pid": os.getpid(), "peak_rss_mb": _peak_rss_mb(),
    }


class CaseTimeoutInterrupt(BaseException):
    """Raised asynchronously inside a case's thread when its time is up (Dask back-end)."""


def run_case_with_timeout(case, settings, naming: str = "readable", case_fn: CaseFn | None = None,
                          case_timeout: float | None = None) -> dict:
    """Run :func:`run_case` with a cooperative time limit, for threads of a Dask worker.

    A Dask task runs in a worker thread, which cannot be killed. The case runs in a
    helper thread; when ``case_timeout`` passes, an exception is raised inside that
    thread (at its next Python bytecode: a long native call finishes first) and the
    task returns a ``CaseTimeout`` outcome at once.

    Parameters
    ----------
    case, settings, naming, case_fn
        As for :func:`run_case`.
    case_timeout : float or None, default=None
        Time limit (s); ``None`` runs without a limit.

    Returns
    -------
    dict
        The outcome (see :func:`run_case`).
    """
    if case_timeout is None:
        return run_case(case, settings, naming, case_fn)
    box: dict = {}

    def target():
        try:
            box["outcome"] = run_case(case, settings, naming, case_fn)
        except CaseTimeoutInterrupt:
            pass

    start = time.perf_counter()
    thread = threading.Thread(target=target, name=f"voxelomics-case-{case.case_id}", daemon=True)
    thread.start()
    thread.join(case_timeout)
    if "outcome" in box:
        return box["outcome"]
    if thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(CaseTimeoutInterrupt))
    return failure(
        "timeout", "CaseTimeout",
        f"case {case.case_id!r}: not finished after the case timeout of {case_timeout:g} s",
        seconds=time.perf_counter() - start, pid=os.getpid(), peak_rss_mb=_peak_rss_mb(),
    )
