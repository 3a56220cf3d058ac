"""The rich console for standard output: tables keep their width when piped.

On a terminal rich fits tables to the window; piped to a file or ``less`` it would assume 80
columns and cut or wrap the cells (``cm_joint_max_2D_a…``). Output that is not a terminal
gets a width no table here reaches, so every cell is printed whole.
"""

from __future__ import annotations

__all__ = ["stdout_console", "PIPED_WIDTH"]

#: Console width when standard output is not a terminal (characters).
PIPED_WIDTH = 1000


def stdout_console():
    """A :class:`rich.console.Console` on standard output, never narrower than its tables.

    Returns
    -------
    rich.console.Console
        The terminal's width on a terminal; :data:`PIPED_WIDTH` otherwise (a pipe, a file,
        a test runner), whatever ``COLUMNS`` says: a pipe has no width to fit.
    """
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=PIPED_WIDTH)
    return console
