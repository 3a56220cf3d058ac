"""Limit glibc's per-thread malloc arenas in voxelomics' own processes.

The extraction runs independent feature families in threads. glibc gives each thread its
own arena and keeps the memory a thread freed there for that thread, so a process that ran
families in two threads holds both threads' freed temporaries: 30–60 MiB of working set
above the serial run on a 46k-voxel ROI (``benchmarks/README.md``, "working set"). With one
arena the threads reuse each other's freed memory; the large arrays (numpy buffers above
glibc's mmap threshold) are unaffected, and CPU time stayed within noise.

Only the ``voxelomics`` command calls :func:`limit_arenas` (and cohort workers inherit it
through the environment): a library must not change its host application's allocator, so
API users who want the same figures set ``MALLOC_ARENA_MAX=1`` themselves.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["limit_arenas"]

_M_ARENA_MAX = -8  # glibc's malloc.h


def limit_arenas(n: int = 1) -> bool:
    """Cap glibc's malloc arenas for this process and the processes it starts.

    Parameters
    ----------
    n : int, default=1
        Arenas. A ``MALLOC_ARENA_MAX`` already in the environment wins (the user's choice).

    Returns
    -------
    bool
        True when the cap was applied here; False on other C libraries or platforms (a no-op),
        or when the environment already sets it (glibc then applied it at start-up).
    """
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    os.environ["MALLOC_ARENA_MAX"] = str(int(n))  # workers started later read it at start-up
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_ARENA_MAX, int(n)))
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
