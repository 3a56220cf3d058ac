"""Which feature families run on a preprocessed case, and in which threads.

Independent families run in a thread pool for large ROIs (numpy and scipy release the GIL in
their heavy calls); the values and their order never depend on the number of threads.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from voxelomics.errors import FeatureError, SettingsError, VoxelomicsError
from voxelomics.extract.case import PreprocessedCase, fbs_lower_bound
from voxelomics.settings import Settings

__all__ = ["compute_features", "resolve_threads", "PARALLEL_MIN_VOXELS"]


#: Smallest intensity-mask ROI (voxels) whose families are computed in threads. Below it the
#: Python-level work of the families dominates and threads only contend for the GIL
#: (measured, 2 cores: 186 and 6k voxels 35 -> 36 and 56 -> 59 ms with 2 threads; 46k voxels
#: 145 -> 105 ms).
PARALLEL_MIN_VOXELS = 20000


def resolve_threads(n_threads: int | None) -> int:
    """Number of threads for one case.

    Parameters
    ----------
    n_threads : int or None
        ``None`` → ``min(4, os.cpu_count())``; otherwise a positive int.

    Returns
    -------
    int

    Raises
    ------
    SettingsError
        Not a positive integer or None.
    """
    if n_threads is None:
        return max(1, min(4, os.cpu_count() or 1))
    if isinstance(n_threads, bool) or not isinstance(n_threads, int | np.integer) or n_threads < 1:
        raise SettingsError(f"n_threads must be a positive integer or None, got {n_threads!r}")
    return int(n_threads)


def compute_features(
    case: PreprocessedCase, settings: Settings, *, n_threads: int | None = None, _morph_part=None
) -> dict[str, float]:
    """Compute every enabled feature family on a preprocessed case.

    Parameters
    ----------
    case : PreprocessedCase
    settings : Settings
    n_threads : int or None, default=None
        Threads computing independent families concurrently (numpy and scipy release the
        GIL in their heavy calls). ``None``: ``min(4, os.cpu_count())``; ``1``: serial, in
        the calling thread (cohort workers, which already run one case per core). ROIs
        under :data:`PARALLEL_MIN_VOXELS` voxels are always computed serially. The values
        do not depend on it (same arithmetic, same order within every family).

    Returns
    -------
    dict of str to float
        Readable feature names (see :mod:`voxelomics.features.registry`) to values, in the
        same order whatever ``n_threads``.

    Raises
    ------
    FeatureError
        A family failed on valid input (the message names the family; with several
        failures, the first in output order).
    SettingsError
        ``n_threads`` is not a positive integer or None.
    """
    from concurrent.futures import Future

    from voxelomics.features._texture import directional_aggregations, zone_aggregations
    from voxelomics.preprocess import discretise

    workers = resolve_threads(n_threads)
    fams = set(settings.families)
    img, mm, im, sp = case.image, case.morph_mask, case.intensity_mask, case.spacing_mm
    values = img[im]
    if values.size < PARALLEL_MIN_VOXELS:
        workers = 1

    def guarded(family: str, fn: Callable[[], dict[str, float]]) -> Callable[[], dict[str, float]]:
        def call():
            try:
                return fn()
            except VoxelomicsError as exc:
                exc.with_context(step=f"features:{family}")
                raise
            except Exception as exc:  # a bug or numerical failure: keep family and cause
                raise FeatureError(
                    f"{family} failed: {type(exc).__name__}: {exc}", step=f"features:{family}"
                ) from exc
        return call

    # Tasks are (output rank, family, function); submitted longest first (measured on the CT
    # cases: morphology without Moran/Geary, Moran/Geary, the zone families, GLCM, GLRLM, ...)
    # and merged in output rank order, which is the serial order of the families.
    tasks: list[tuple[int, str, Callable]] = []
    deferred: list[tuple[int, str, Callable]] = []
    if "morphology" in fams:
        from voxelomics.features import morphology

        ms = settings.morphology
        spatial_apart = workers > 1
        # ``_morph_part`` (private): a future of ``morphology._mask_features`` on this very
        # morphological mask, started by ``_extract`` while the image was being read
        morph_task = (0, "morphology", lambda: morphology.compute(
            mm, im, img, sp, spatial_exact_max_voxels=ms.spatial_exact_max_voxels, seed=ms.seed,
            _spatial=not spatial_apart, _part=_morph_part and _morph_part.result()))
        if _morph_part is None or workers == 1:
            tasks.append(morph_task)
        else:
            # the mask-only part is still running in its own thread: waiting for it in a pool
            # worker would idle that worker, so the calling thread (idle otherwise) finishes
            # it once every other family has been submitted
            deferred.append(morph_task)
        if spatial_apart:
            tasks.append((1, "morphology", lambda: morphology._spatial_features(
                img, im, sp, ms.spatial_exact_max_voxels, ms.seed)))

    pool = None
    futures: dict[int, object] = {}
    if workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="voxelomics-family")

    def submit(new_tasks):
        for rank, family, fn in new_tasks:
            if pool is not None:
                futures[rank] = pool.submit(guarded(family, fn))
            else:
                futures[rank] = guarded(family, fn)()

    try:
        submit(tasks)  # morphology starts while the grey levels are discretised
        tasks = []
        texture = [f for f in ("histogram", "glcm", "glrlm", "glszm", "gldzm", "ngtdm", "ngldm") if f in fams]
        later: list[tuple[int, str, Callable]] = []
        if "local_intensity" in fams:
            from voxelomics.features import local_intensity

            later.append((2, "local_intensity", lambda: local_intensity.compute(img, im, sp)))
        if "statistics" in fams:
            from voxelomics.features import statistics

            later.append((3, "statistics", lambda: statistics.compute(values)))
        if "ivh" in fams:
            from voxelomics.features import ivh

            d_ivh = settings.ivh_discretisation
            rg = settings.resegmentation
            later.append((4, "ivh", lambda: ivh.compute(
                values, method=d_ivh.method, n_bins=d_ivh.n_bins, bin_width=d_ivh.bin_width,
                lower_bound=fbs_lower_bound(settings, d_ivh), range_min=rg.range_min,
                range_max=rg.range_max)))
        if texture:
            d = settings.discretisation
            try:
                levels, n_levels = discretise(
                    img, im, method=d.method, n_bins=d.n_bins, bin_width=d.bin_width,
                    lower_bound=fbs_lower_bound(settings, d))
            except VoxelomicsError as exc:
                exc.with_context(step="discretise")
                raise
            t = settings.texture
            dir_aggs = directional_aggregations(t.dimensions)
            zone_aggs = zone_aggregations(t.dimensions)
            from voxelomics.features import glcm, gldzm, glrlm, glszm, histogram, ngldm, ngtdm

            zone_tasks = []
            if "glszm" in fams or "gldzm" in fams:
                from voxelomics.features._texture import Aggregation
                from voxelomics.features._zone_labels import label_zones

                # GLSZM and GLDZM share one zone labelling per connectivity, computed once
                # (a task of its own, submitted before both so that waiting on it is safe)
                for two_d in sorted({Aggregation(a) is not Aggregation.ZONE_3D for a in zone_aggs}):
                    zone_tasks.append((two_d, lambda two_d=two_d: label_zones(levels, im, n_levels, two_d=two_d)))
            zone_futs: dict[bool, object] = {}
            if pool is not None:
                for two_d, fn in zone_tasks:
                    zone_futs[two_d] = pool.submit(fn)

            def shared_zones():
                if pool is not None:
                    return {k: f.result() for k, f in zone_futs.items()}
                if not zone_futs:
                    zone_futs.update({k: fn() for k, fn in zone_tasks})
                return zone_futs

            by_family = {
                "histogram": (5, lambda: histogram.compute(levels[im], n_levels)),
                "glcm": (6, lambda: glcm.compute(
                    levels, im, n_levels, aggregations=dir_aggs, distance=t.glcm_distance)),
                "glrlm": (7, lambda: glrlm.compute(levels, im, n_levels, aggregations=dir_aggs)),
                "glszm": (8, lambda: glszm.compute(
                    levels, im, n_levels, aggregations=zone_aggs, _zones=shared_zones())),
                "gldzm": (9, lambda: gldzm.compute(
                    levels, im, n_levels, aggregations=zone_aggs, morph_mask=mm, _zones=shared_zones())),
                "ngtdm": (10, lambda: ngtdm.compute(
                    levels, im, n_levels, aggregations=zone_aggs, distance=t.ngtdm_distance)),
                "ngldm": (11, lambda: ngldm.compute(
                    levels, im, n_levels, aggregations=zone_aggs, distance=t.ngldm_distance,
                    alpha=t.ngldm_alpha)),
            }
            for family in texture:
                rank, fn = by_family[family]
                later.append((rank, family, fn))
        # longest first (pool); the serial path keeps the output order
        cost = {"gldzm": 0, "glszm": 1, "glcm": 2, "glrlm": 3, "ngldm": 4, "ngtdm": 5,
                "local_intensity": 6, "statistics": 7, "histogram": 8, "ivh": 9}
        later.sort(key=(lambda x: cost[x[1]]) if pool is not None else (lambda x: x[0]))
        submit(later)
        for rank, family, fn in deferred:
            done = Future()
            try:
                done.set_result(guarded(family, fn)())
            except BaseException as exc:  # raised in output order, like the pool's futures
                done.set_exception(exc)
            futures[rank] = done
        out: dict[str, float] = {}
        for rank in sorted(futures):
            res = futures[rank]
            out.update(res.result() if pool is not None else res)
        return out
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
