"""Progress bars of the model workflows (rich, on standard error, only on a terminal)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

__all__ = ["ModelProgress", "progress_callback"]


class ModelProgress:
    """Progress bars of one model run, one per stage; a context manager and a callback.

    Called as ``bar(stage, done, total)``; stages ``"cv"`` (outer folds) and
    ``"permutations"`` (folds of the permutation test) get readable labels. Nothing is
    drawn when standard error is not a terminal (logs, pipes, tests).

    Parameters
    ----------
    console : rich.console.Console or None, default=None
        Where to draw; default standard error.
    """

    def __init__(self, console=None):
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self.progress = None
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> ModelProgress:
        if self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                     MofNCompleteColumn(), TimeElapsedColumn(),
                                     TextColumn("ETA"), TimeRemainingColumn(),
                                     console=self.console, transient=False)
            self.progress.__enter__()
        return self

    def __call__(self, stage: str, done: int, total: int) -> None:
        """Show that ``done`` of ``total`` units of ``stage`` are finished.

        Parameters
        ----------
        stage : str
        done, total : int
        """
        if self.progress is None:
            return
        label = {"cv": "outer folds", "permutations": "permutation folds"}.get(stage, stage)
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(label, total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)


@contextmanager
def progress_callback(progress: bool | Callable | None):
    """The callback a workflow reports to, from its ``progress`` argument.

    Parameters
    ----------
    progress : bool or callable or None
        True: rich progress bars on a terminal (:class:`ModelProgress`); False/None: none;
        a callable: called as ``progress(stage, done, total)``.

    Yields
    ------
    callback : callable or None
    """
    if callable(progress):
        yield progress
    elif progress:
        with ModelProgress() as bar:
            yield bar
    else:
        yield None
