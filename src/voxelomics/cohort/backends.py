"""Execution back-ends: one task per case, three ways to run it.

* :class:`LocalProcessBackend` (default): ``n`` long-lived worker processes started
  with ``spawn``, each fed one case at a time through its own pipe. The parent watches
  every worker's process sentinel, so a case that kills its worker (segfault,
  ``os._exit``, the out-of-memory killer) is attributed to exactly that case, the
  worker is replaced and the run goes on. A case past ``case_timeout`` has its worker
  killed (a hard limit). ``memory_limit`` is applied in each worker with
  ``resource.setrlimit(RLIMIT_AS)`` (address space, POSIX only): an allocation beyond
  it raises ``MemoryError`` in the case, which becomes an error row.
* :class:`DaskBackend`: the same tasks submitted to a ``dask.distributed`` client
  (a running scheduler ``tcp://HOST:PORT``, a ``LocalCluster``, or a given client).
  A case that kills its worker repeatedly ends as ``KilledWorker``, recorded as
  ``WorkerCrashed``; ``case_timeout`` is cooperative (see
  :func:`~voxelomics.cohort.tasks.run_case_with_timeout`).
* :class:`InProcessBackend` (``scheduler="in-process"``): runs the cases one after the
  other in the calling process, for debugging. No crash isolation, no time limit.

Every back-end calls ``handle(task, outcome)`` in the calling thread for each finished
case; when it returns True, the task is run again (a retry).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import wait

from voxelomics.cohort.tasks import failure, run_case, run_case_with_timeout

__all__ = ["Task", "LocalProcessBackend", "DaskBackend", "InProcessBackend"]

#: Environment given to local workers unless the user set it: one thread per worker
#: process, so ``n`` workers use ``n`` cores.
_SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1",
}


@dataclass
class Task:
    """One case to compute: its cache key, the manifest entry, and the attempt number.

    ``part`` is the stem of its part file (case key and input fingerprint, see
    :meth:`voxelomics.cohort.cache.PartCache.stem`); empty: the key.
    """

    key: str
    case: object
    attempt: int = 0
    extra: dict = field(default_factory=dict)
    part: str = ""


Handle = Callable[[Task, dict], bool]


# ---- local worker processes ---------------------------------------------------------
def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def _vm_size() -> int | None:
    """Address space of this process (bytes), from ``/proc/self/status`` (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _worker_main(conn, payload: bytes, memory_limit: int | None) -> None:
    """Entry point of a local worker process: load the job, then serve cases.

    A successful row is written to its part file here, in the worker (in parallel),
    and only a small outcome goes back to the parent.
    """
    import pickle

    from voxelomics.cohort.cache import PartCache

    try:
        # Ctrl-C reaches the whole process group: the parent stops the workers itself
        # (and records the run as interrupted), so a worker must not die of it first.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        import warnings

        # one line per warning, without the worker's source line (multiprocessing internals)
        warnings.formatwarning = lambda message, category, *args, **kwargs: (
            f"warning: {category.__name__}: {message}\n")
        settings, naming, case_fn, part_folder = pickle.loads(payload)
        parts = None if part_folder is None else PartCache.at(part_folder)
        if case_fn is None:
            from voxelomics.extract import extract_case  # import the heavy modules once

            case_fn = extract_case
        if memory_limit is not None:
            import resource

            in_use = _vm_size()
            if in_use is not None and memory_limit < in_use + 512 * 2**20:
                conn.send(("fatal", (
                    f"memory_limit of {memory_limit / 2**30:.2f} GiB is too low: a worker's "
                    f"libraries alone take {in_use / 2**30:.2f} GiB of address space; "
                    f"expected at least {(in_use + 512 * 2**20) / 2**30:.1f} GiB (2GiB or more "
                    "is advisable)")))
                return
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
        conn.send(("ready", os.getpid()))
        while True:
            try:
                msg = conn.recv()
            except EOFError:  # the parent is gone
                return
            if msg is None:
                return
            stem, case = msg
            outcome = run_case(case, settings, naming, case_fn)
            if outcome["status"] == "ok" and parts is not None:
                try:
                    parts.write(stem, outcome.pop("row"))
                    outcome["written"] = True
                except Exception as exc:  # disk full, a row Arrow cannot store ...
                    outcome = failure(
                        "write_part", type(exc).__name__,
                        f"case {getattr(case, 'case_id', stem)!r}: cannot write its part file "
                        f"in {part_folder}: {exc}", pid=os.getpid())
            conn.send(("done", outcome))
    except (KeyboardInterrupt, BrokenPipeError, EOFError):
        return


class _Worker:
    def __init__(self, ctx, payload: bytes, memory_limit: int | None):
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(
            target=_worker_main, args=(child, payload, memory_limit), name="voxelomics-worker",
            daemon=True,
        )
        saved = {k: os.environ.get(k) for k in _SINGLE_THREAD_ENV}
        try:
            for k, v in _SINGLE_THREAD_ENV.items():
                os.environ.setdefault(k, v)
            self.proc.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        child.close()
        self.ready = False
        self.task: Task | None = None
        self.started = 0.0

    def assign(self, task: Task, now: float) -> None:
        self.task = task
        self.started = now
        self.conn.send((task.part or task.key, task.case))

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()

    def ask_to_stop(self) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass


def _shutdown(workers: list[_Worker], grace_s: float = 2.0) -> None:
    """Stop idle workers politely (shared grace period) and busy ones at once."""
    for w in workers:
        if w.task is None:
            w.ask_to_stop()
        elif w.proc.is_alive():
            w.proc.kill()
    deadline = time.monotonic() + grace_s
    for w in workers:
        w.proc.join(max(0.0, deadline - time.monotonic()))
        w.kill()


class LocalProcessBackend:
    """Local pool of worker processes with crash isolation and hard time limits.

    Parameters
    ----------
    n_workers : int
        Number of worker processes (each runs one case at a time).
    memory_limit : int or None, default=None
        Address-space limit per worker (bytes), via ``RLIMIT_AS``; POSIX only.
    case_timeout : float or None, default=None
        Seconds after which a case's worker is killed and the case fails.
    part_folder : Path or None, default=None
        Part-file folder: workers write their rows there themselves (in parallel) and
        report ``written``; ``None`` sends the rows back to the caller.
    """

    name = "local-processes"
    #: Clock of the case time limit (seconds). A test replaces it with a fake clock, so that
    #: a time-out is tested with a case that never ends, never with a real case racing a limit.
    _clock = staticmethod(time.monotonic)

    def __init__(self, n_workers: int, *, memory_limit: int | None = None,
                 case_timeout: float | None = None, part_folder=None):
        self.n_workers = n_workers
        self.part_folder = part_folder
        self.memory_limit = memory_limit
        self.case_timeout = case_timeout
        self.dashboard_link = None

    def execute(self, tasks: Iterable[Task], settings, naming: str, case_fn, handle: Handle) -> None:
        """Run every task; call ``handle`` for each outcome (see module docstring).

        Parameters
        ----------
        tasks : iterable of Task
            Cases to compute.
        settings : voxelomics.settings.Settings
            Validated settings.
        naming : {"readable", "ibsi"}
            Column naming.
        case_fn : callable or None
            ``(case, settings, naming=...) -> row``; ``None``: ``extract_case``.
        handle : callable
            ``handle(task, outcome) -> bool``; True runs the task again (a retry).
        """
        import cloudpickle  # by value for functions defined in __main__ or notebooks

        ctx = mp.get_context("spawn")
        payload = cloudpickle.dumps((settings, naming, case_fn, self.part_folder))
        pending: deque[Task] = deque(tasks)
        workers: list[_Worker] = []
        try:
            while pending or any(w.task is not None for w in workers):
                busy = sum(w.task is not None for w in workers)
                while len(workers) < min(self.n_workers, busy + len(pending)):
                    workers.append(_Worker(ctx, payload, self.memory_limit))
                for w in list(workers):
                    if w.ready and w.task is None and pending:
                        task = pending.popleft()
                        try:
                            w.assign(task, self._clock())
                        except OSError:  # died while idle: give the case to another worker
                            w.task = None
                            pending.appendleft(task)
                            w.kill()
                            workers.remove(w)
                ready = wait([w.conn for w in workers] + [w.proc.sentinel for w in workers],
                             timeout=self._next_deadline(workers))
                for w in list(workers):
                    outcome = self._poll(w, ready)
                    if outcome is None:
                        if w.task is None and w.proc.exitcode is not None:  # died while idle
                            w.kill()
                            workers.remove(w)
                        continue
                    task, w.task = w.task, None
                    if not w.proc.is_alive() or outcome.get("_kill"):
                        outcome.pop("_kill", None)
                        w.kill()
                        workers.remove(w)
                    if handle(task, outcome):
                        task.attempt += 1
                        pending.appendleft(task)
        finally:
            _shutdown(workers)

    def _next_deadline(self, workers: list[_Worker]) -> float | None:
        if self.case_timeout is None:
            return None
        now = self._clock()
        left = [w.started + self.case_timeout - now for w in workers if w.task is not None]
        return max(0.0, min(left)) + 0.01 if left else None

    def _poll(self, w: _Worker, ready) -> dict | None:
        """Read what a worker has to say; return the outcome of its task, if finished."""
        if w.conn in ready or w.proc.sentinel in ready:
            try:
                while w.conn.poll():
                    kind, value = w.conn.recv()
                    if kind == "ready":
                        w.ready = True
                    elif kind == "fatal":
                        from voxelomics.errors import SettingsError

                        raise SettingsError(value)
                    elif kind == "done":
                        return value
            except (EOFError, OSError):
                pass
            if not w.proc.is_alive() or w.proc.exitcode is not None:
                w.proc.join(1)
                code = w.proc.exitcode
                how = (f"was killed by {_signal_name(code)}" if code is not None and code < 0
                       else f"exited with code {code}")
                if w.task is None:
                    if not w.ready:  # died while starting: no case could ever run
                        self._start_failure(w, how)
                    return None
                case_id = getattr(w.task.case, "case_id", w.task.key)
                return failure(
                    "worker", "WorkerCrashed",
                    f"case {case_id!r}: the worker process {how} while computing this case "
                    "(a crash in native code, or memory exhausted: see --memory-limit)",
                    seconds=self._clock() - w.started, pid=w.proc.pid,
                )
        if w.task is not None and self.case_timeout is not None:
            spent = self._clock() - w.started
            if spent > self.case_timeout:
                case_id = getattr(w.task.case, "case_id", w.task.key)
                out = failure(
                    "timeout", "CaseTimeout",
                    f"case {case_id!r}: not finished after the case timeout of "
                    f"{self.case_timeout:g} s; its worker was stopped",
                    seconds=spent, pid=w.proc.pid,
                )
                out["_kill"] = True
                return out
        return None

    @staticmethod
    def _start_failure(w: _Worker, how: str) -> None:
        from voxelomics.errors import CaseFailedError

        raise CaseFailedError(
            f"a worker process {how} before it could take a case, so no case can run. "
            "Likely causes: the memory limit is too low for the libraries (give at least "
            "2GiB); or extract_cohort was called from a script without an "
            "`if __name__ == \"__main__\":` guard (worker processes are started with "
            "'spawn', which imports the main script again); or the case function cannot "
            "be imported in a new process", step="worker")


# ---- in-process -----------------------------------------------------------------------
class InProcessBackend:
    """Run the cases one by one in this process (debugging; no isolation, no timeout)."""

    name = "in-process"
    n_workers = 1
    dashboard_link = None

    def __init__(self, n_threads: int | None = 1):
        #: threads of the default case function (``extract_case``); ``None``: its default
        #: for a lone case, ``min(4, cores)``
        self.n_threads = n_threads

    def execute(self, tasks: Iterable[Task], settings, naming: str, case_fn, handle: Handle) -> None:
        """Run every task; call ``handle`` for each outcome.

        Parameters
        ----------
        tasks : iterable of Task
            Cases to compute.
        settings : voxelomics.settings.Settings
            Validated settings.
        naming : {"readable", "ibsi"}
            Column naming.
        case_fn : callable or None
            ``(case, settings, naming=...) -> row``; ``None``: ``extract_case``.
        handle : callable
            ``handle(task, outcome) -> bool``; True runs the task again (a retry).
        """
        if case_fn is None and self.n_threads != 1:
            import functools

            from voxelomics.extract import extract_case

            case_fn = functools.partial(extract_case, n_threads=self.n_threads)
        pending = deque(tasks)
        while pending:
            task = pending.popleft()
            if handle(task, run_case(task.case, settings, naming, case_fn)):
                task.attempt += 1
                pending.appendleft(task)


# ---- Dask -----------------------------------------------------------------------------
class DaskBackend:
    """Submit the cases to a ``dask.distributed`` client.

    Parameters
    ----------
    client : distributed.Client
        Connected client.
    name : str
        Back-end label for ``run.json`` (``dask:tcp://...``, ``dask:local``, ``dask:client``).
    case_timeout : float or None, default=None
        Cooperative per-case limit (s).
    close : callable or None, default=None
        Called when the run ends (closes a client or cluster the runner created).
    """

    def __init__(self, client, name: str, *, case_timeout: float | None = None,
                 close: Callable[[], None] | None = None):
        self.client = client
        self.name = name
        self.case_timeout = case_timeout
        self._close = close
        self.dashboard_link = getattr(client, "dashboard_link", None)
        try:
            self.n_workers = len(client.scheduler_info().get("workers", {}))
        except Exception:  # pragma: no cover - scheduler unreachable is reported later
            self.n_workers = 0

    def execute(self, tasks: Iterable[Task], settings, naming: str, case_fn, handle: Handle) -> None:
        """Submit every task; call ``handle`` for each outcome as it completes.

        Parameters
        ----------
        tasks : iterable of Task
            Cases to compute.
        settings : voxelomics.settings.Settings
            Validated settings.
        naming : {"readable", "ibsi"}
            Column naming.
        case_fn : callable or None
            ``(case, settings, naming=...) -> row``; ``None``: ``extract_case``.
        handle : callable
            ``handle(task, outcome) -> bool``; True runs the task again (a retry).
        """
        from distributed import as_completed

        futures = {}
        done = as_completed()

        def submit(task: Task):
            fut = self.client.submit(
                run_case_with_timeout, task.case, settings, naming, case_fn, self.case_timeout,
                key=f"voxelomics-{task.key}-{task.attempt}-{os.urandom(4).hex()}", pure=False,
            )
            futures[fut] = task
            done.add(fut)

        try:
            for task in tasks:
                submit(task)
            for fut in done:
                task = futures.pop(fut)
                outcome = self._outcome(fut, task)
                fut.release()
                if handle(task, outcome):
                    task.attempt += 1
                    submit(task)
        finally:
            for fut in futures:
                fut.cancel()
            if self._close is not None:
                self._close()

    @staticmethod
    def _outcome(fut, task: Task) -> dict:
        import traceback

        case_id = getattr(task.case, "case_id", task.key)
        try:
            return fut.result()
        except Exception as exc:
            name = type(exc).__name__
            if name == "KilledWorker":
                return failure(
                    "worker", "WorkerCrashed",
                    f"case {case_id!r}: every Dask worker that ran this case died (KilledWorker: "
                    "a crash in native code, or memory exhausted: see the workers' memory limit)",
                    tb=traceback.format_exc())
            return failure("worker", name, f"case {case_id!r}: the Dask task failed: {exc}",
                           tb=traceback.format_exc())
