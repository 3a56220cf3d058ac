"""The tasks of a manifest: one per lesion and per region of each lesion.

A manifest row becomes several tasks in two steps, before any case runs:

1. **lesions** (:func:`voxelomics.io.lesions.expand_case`): a row with ``label: all``, a
   label list or an ``roi`` pattern becomes one row per selected ROI (this reads the mask
   files that need it: label maps for ``all``, RTSTRUCT/SEG headers for patterns, in
   threads);
2. **regions** (``settings.rois``): each ROI becomes the ROI itself (unless
   ``rois.original`` is false) and one task per peritumoral ring.

Every task is then an ordinary case with its own key (:func:`~voxelomics.cohort.cache.case_key`,
which includes the ring), so resuming, caching and the error table work per row. A manifest
row whose selection fails (nothing matches, unreadable mask) becomes one row of
``errors.csv`` (step ``select_roi``) and the run goes on with the others.
"""

from __future__ import annotations

import dataclasses
import os
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from voxelomics.errors import InputError

__all__ = ["expand_cases", "error_records", "PlanFailure"]


@dataclasses.dataclass(frozen=True)
class PlanFailure:
    """A manifest row whose ROIs could not be listed.

    Attributes
    ----------
    case : Case
        The manifest row as given.
    outcome : dict
        A failure outcome (:func:`voxelomics.cohort.tasks.failure`): step ``select_roi``.
    """

    case: object
    outcome: dict


def _lesions(case) -> list | PlanFailure:
    from voxelomics.cohort.tasks import failure
    from voxelomics.io.lesions import expand_case

    start = time.perf_counter()
    try:
        return expand_case(case)
    except Exception as exc:  # each row's failure is its own error record
        message = str(exc) or type(exc).__name__
        if str(case.case_id) not in message:
            message = f"case {case.case_id!r}: {message}"
        return PlanFailure(case, failure(getattr(exc, "step", None) or "select_roi", type(exc).__name__,
                                         message, tb=traceback.format_exc(),
                                         seconds=time.perf_counter() - start, pid=os.getpid()))


def _regions(case, rois) -> list:
    if not rois.rings:
        return [case] if rois.original else []
    if not dataclasses.is_dataclass(case) or not hasattr(case, "ring"):
        raise InputError(f"case {getattr(case, 'case_id', '?')!r}: peritumoral rings need "
                         "voxelomics.io.Case entries (with a ring field); got "
                         f"{type(case).__name__}")
    out = [case] if rois.original else []
    out += [dataclasses.replace(case, ring=ring) for ring in rois.rings]
    return out


def expand_cases(cases: list, settings) -> tuple[list, list[PlanFailure]]:
    """Tasks of a manifest: one per selected ROI and region (see the module docstring).

    Parameters
    ----------
    cases : list of Case
        Manifest rows, in order.
    settings : voxelomics.settings.Settings
        Validated settings; ``settings.rois`` gives the regions.

    Returns
    -------
    tasks : list of Case
        In manifest order; the ROIs of one row in file order; per ROI the ROI itself, then
        its rings in settings order.
    failures : list of PlanFailure
        Manifest rows whose ROIs could not be listed, in manifest order.

    Raises
    ------
    InputError
        Rings are asked for but a manifest entry is not a :class:`~voxelomics.io.Case`.
    """
    from voxelomics.io.lesions import needs_expansion

    todo = [i for i, c in enumerate(cases) if needs_expansion(c)]
    listed: dict[int, list | PlanFailure] = {}
    if todo:
        with ThreadPoolExecutor(max_workers=min(8, len(todo))) as pool:
            for i, result in zip(todo, pool.map(lambda i: _lesions(cases[i]), todo), strict=True):
                listed[i] = result
    tasks, failures = [], []
    for i, case in enumerate(cases):
        found = listed.get(i, [case])
        if isinstance(found, PlanFailure):
            failures.append(found)
            continue
        for lesion in found:
            tasks.extend(_regions(lesion, settings.rois))
    return tasks, failures


def error_records(failures: list[PlanFailure], logs, out) -> list[dict]:
    """Rows of ``errors.csv`` (and their log files) for manifest rows that failed to expand.

    Parameters
    ----------
    failures : list of PlanFailure
    logs : Path
        Folder of the log files (``OUT/logs``).
    out : Path
        Output folder (log paths are written relative to it).

    Returns
    -------
    list of dict
        With the keys of :data:`voxelomics.cohort.outputs.ERROR_COLUMNS`.
    """
    from voxelomics.cohort.cache import case_key
    from voxelomics.cohort.outputs import write_log
    from voxelomics.io.manifest import format_labels

    records = []
    for failed in failures:
        case = failed.case
        log = write_log(logs, case_key(case), str(case.case_id), failed.outcome, 1)
        roi = case.roi if case.roi is not None else format_labels(getattr(case, "labels", None))
        records.append({
            "case_id": case.case_id, "step": failed.outcome["step"],
            "error_type": failed.outcome["error_type"], "message": failed.outcome["message"],
            "roi": roi, "log": str(log.relative_to(out)),
        })
    return records
