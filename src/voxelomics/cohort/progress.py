"""Live progress of a cohort run (rich), and the one-line summary printed at the end.

The bar shows cases done / failed / reused and an ETA. It is drawn only on an
interactive terminal and when ``progress=True``; the summary line is always printed
(to standard error, so standard output stays clean for pipes).
"""

from __future__ import annotations

import time

__all__ = ["CohortProgress", "format_duration"]


def format_duration(seconds: float) -> str:
    """Format a duration for people, e.g. ``"3 m 12 s"``, ``"1 h 04 m"``, ``"8.2 s"``.

    Parameters
    ----------
    seconds : float
        Duration (s).

    Returns
    -------
    str
    """
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} m {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} m"


class CohortProgress:
    """Progress display of one cohort run; a context manager.

    Parameters
    ----------
    total : int
        Cases in the manifest.
    reused : int
        Cases taken from the cache (counted as complete from the start).
    enabled : bool, default=True
        Draw the live bar (only on a terminal).
    console : rich.console.Console or None, default=None
        Where to draw; default standard error.
    """

    def __init__(self, total: int, reused: int, *, enabled: bool = True, console=None):
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self.total, self.reused = total, reused
        self.done = self.failed = 0
        self.changed = 0  # cases recomputed because their input files changed
        self.enabled = enabled and self.console.is_terminal
        self._progress = None
        self._task = None
        self._start = time.monotonic()

    def __enter__(self) -> CohortProgress:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]cases"), BarColumn(), MofNCompleteColumn(),
                TextColumn("[green]{task.fields[done]} done[/] · [red]{task.fields[failed]} failed[/]"
                           " · [cyan]{task.fields[reused]} reused[/]"),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                console=self.console, transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(
                "cases", total=self.total, completed=self.reused,
                done=0, failed=0, reused=self.reused)
        return self

    def message(self, text: str) -> None:
        """Print a line above the bar (e.g. the Dask dashboard link).

        Parameters
        ----------
        text : str
            The line.
        """
        self.console.print(text, highlight=False, soft_wrap=True)

    def update(self, ok: bool) -> None:
        """Count one finished case.

        Parameters
        ----------
        ok : bool
            True for a success, False for a failure.
        """
        if ok:
            self.done += 1
        else:
            self.failed += 1
        if self._progress is not None:
            self._progress.update(self._task, advance=1, done=self.done, failed=self.failed)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def summary(self, out: str) -> str:
        """Print and return the final summary line.

        Parameters
        ----------
        out : str
            Where the results are (printed at the end of the line).

        Returns
        -------
        str
        """
        changed = f" ({self.changed} because their inputs changed)" if self.changed else ""
        line = (f"voxelomics: {self.total} cases: {self.done} computed"
                f"{changed}, {self.reused} reused, {self.failed} failed in "
                f"{format_duration(time.monotonic() - self._start)} -> {out}")
        self.console.print(line, highlight=False, soft_wrap=True)
        return line
