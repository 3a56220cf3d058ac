"""Which feature families run on a preprocessed case and its response maps, in which threads.

Independent families run in threads for large ROIs (numpy and scipy release the GIL in
their heavy calls): a pool of ``n_threads - 1`` threads and the calling thread, which would
otherwise wait (glibc gives every thread its own malloc arena, which keeps the freed
temporaries of that thread: fewer threads, smaller working set). The values and their order
never depend on the number of threads.

Filter response maps (IBSI-2) are computed one at a time on the preprocessed image (after
resampling, before re-segmentation and discretisation), their families computed with the
``response_maps`` settings and the image's masks, and each map is dropped before the next.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from voxelomics.errors import FeatureError, SettingsError, VoxelomicsError
from voxelomics.extract.case import PreprocessedCase, fbs_lower_bound
from voxelomics.settings import Settings

__all__ = ["compute_features", "compute_response_features", "response_settings", "resolve_threads",
           "PARALLEL_MIN_VOXELS", "FILTER_DTYPE", "FEW_GREY_LEVELS"]


#: Fewer distinct grey levels than this in the ROI after discretisation record a
#: :class:`~voxelomics.errors.DiscretisationWarning`: with one to three grey levels the texture
#: matrices are (nearly) degenerate and their features (nearly) constant across patients.
FEW_GREY_LEVELS = 4

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
            # Moran's I / Geary's C (the longest task) run in the calling thread: its FFT
            # temporaries reuse the memory preprocessing freed in this thread's malloc arena
            # (glibc: one arena per thread; a pool thread would grow one of its own). After
            # the early mask-only morphology when there is one (its thread is then the
            # extra worker): its temporaries and the FFTs' are not held at the same time
            deferred.append((1, "morphology", lambda: morphology._spatial_features(
                img, im, sp, ms.spatial_exact_max_voxels, ms.seed)))

    pool = None
    futures: dict[int, object] = {}
    if workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        # the calling thread is one of the ``workers``: it runs the ``deferred`` tasks
        pool = ThreadPoolExecutor(max_workers=workers - 1, thread_name_prefix="voxelomics-family")

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
            _preflight_ivh(values, settings)
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
            _preflight_texture(texture, values, im, n_levels, settings)
            _warn_if_few_grey_levels(levels[im], values, settings)
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


#: Precision the filters run in: float32 halves the memory traffic of the 1-D passes and
#: the FFTs; responses are cast back to float64 before their features. Measured: float32
#: moves every IBSI-2 phase-1 deviation by less than 2e-5 of its tolerance, and all 323
#: phase-2 values are within tolerance (the phase-2 tests run through this path).
FILTER_DTYPE = np.float32


def response_settings(settings: Settings) -> Settings:
    """The settings a response map's features are computed with.

    The families and discretisations of ``settings.response_maps``; no re-segmentation
    range (the intensity mask is the image's, already re-segmented in image units), so an
    FBS discretisation starts at the map's minimum; everything else (texture dimensions and
    distances) as for the image.

    Parameters
    ----------
    settings : Settings
        Effective settings of the case.

    Returns
    -------
    Settings
    """
    from voxelomics.settings import ResegmentationSettings

    rm = settings.response_maps
    return settings.model_copy(update={
        "families": list(rm.families), "discretisation": rm.discretisation,
        "ivh_discretisation": rm.ivh_discretisation, "resegmentation": ResegmentationSettings(),
        "filters": [],
    })


def compute_response_features(case: PreprocessedCase, settings: Settings, *, n_threads: int | None = None):
    """Filter the preprocessed image with every filter and compute each map's features.

    Parameters
    ----------
    case : PreprocessedCase
        The image after resampling (before re-segmentation, which only made the masks).
    settings : Settings
        Effective settings of the case; ``filters`` and ``response_maps`` are used.
    n_threads : int or None, default=None
        Threads for the families of each map (see :func:`compute_features`).

    Yields
    ------
    (str, dict of str to float)
        Column prefix of the response map (``log_s1.5mm``) and its features (readable
        names), one map at a time; the map itself is not kept.

    Raises
    ------
    FilterError
        A filter cannot apply to this image (kernel larger than the image, 3D filter on a
        one-slice volume); the step is ``filter:<prefix>``.
    FeatureError
        A family failed on a response map.
    """
    from voxelomics.filters import iter_responses

    if not settings.filters:
        return
    per_map = response_settings(settings)
    image = case.image.astype(FILTER_DTYPE)
    # the families of a map only read the ROI's bounding box (plus the local-intensity
    # sphere when asked): maps and masks are cut to it once filtered (values identical,
    # measured 20-30 % less time on the CT cases)
    box = _response_box(case, per_map.families)
    boxed = PreprocessedCase(None, case.morph_mask[box], case.intensity_mask[box], case.spacing_mm)

    def maps():
        """(prefix, boxed float64 map) in order, errors with the filter's step."""
        for spec in settings.filters:
            prefix = spec.prefixes()[0]
            # a 2D filter works slice by slice: only the box's slices are filtered
            src, keep = (image[box[0]], (slice(None), box[1], box[2])) if spec.dimensions == "2d" else (image, box)
            responses = iter_responses(src, case.spacing_mm, spec)
            while True:
                try:
                    prefix, response = next(responses)
                except StopIteration:
                    break
                except VoxelomicsError as exc:
                    exc.with_context(step=f"filter:{prefix}")
                    raise
                except Exception as exc:  # a bug or numerical failure: keep the filter and cause
                    raise FeatureError(f"filter {prefix} failed: {type(exc).__name__}: {exc}",
                                       step=f"filter:{prefix}") from exc
                yield prefix, response[keep].astype(np.float64)

    def features(prefix, response, threads):
        try:
            return compute_features(boxed.with_image(response), per_map, n_threads=threads)
        except VoxelomicsError as exc:
            exc.with_context(step=f"filter:{prefix}")
            raise

    workers = resolve_threads(n_threads)
    if workers == 1 or int(boxed.intensity_mask.sum()) < PARALLEL_MIN_VOXELS:
        for prefix, response in maps():
            feats = features(prefix, response, n_threads)
            del response
            yield prefix, feats
        return
    # Large ROIs: the calling thread filters the next map while the maps' families run in
    # ``workers - 1`` pool threads, each map's families serially (fewer waits than a pool per
    # map: measured 2.49 -> 2.34 s wall on sts_001_ct under load). At most ``workers - 1``
    # maps' families run at once, plus the map being filtered: no more threads (each with its
    # own glibc malloc arena keeping its freed temporaries) than cores kept busy.
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    pending: deque = deque()
    with ThreadPoolExecutor(max_workers=workers - 1, thread_name_prefix="voxelomics-map") as pool:
        try:
            for prefix, response in maps():  # the next map is filtered here
                while len(pending) >= workers - 1 or (pending and pending[0][1].done()):
                    done_prefix, fut = pending.popleft()
                    yield done_prefix, fut.result()
                pending.append((prefix, pool.submit(features, prefix, response, 1)))
                del response
            while pending:
                done_prefix, fut = pending.popleft()
                yield done_prefix, fut.result()
        finally:
            for _, fut in pending:
                fut.cancel()


def _response_box(case: PreprocessedCase, families) -> tuple[slice, slice, slice]:
    """The part of the preprocessed arrays a response map's families read.

    The bounding box of the morphological mask (which holds the intensity mask) plus one
    voxel, or plus the radius of the local-intensity sphere (IBSI 3.2: 1 cm³, radius
    6.2 mm) when ``local_intensity`` is computed on response maps.
    """
    from voxelomics.preprocess.roi import bounding_box

    reach_mm = 0.0
    if "local_intensity" in families:
        reach_mm = (3.0 / (4.0 * np.pi) * 1000.0) ** (1.0 / 3.0)
    box = bounding_box(case.morph_mask)
    out = []
    for axis, b in enumerate(box):
        grow = 1 + int(np.ceil(reach_mm / case.spacing_mm[axis]))
        out.append(slice(max(b.start - grow, 0), min(b.stop + grow, case.morph_mask.shape[axis])))
    return tuple(out)


# ---- memory pre-flight ----------------------------------------------------------------
def _levels_setting(d, n_levels: int, values: np.ndarray, which: str) -> str:
    """Which setting made ``n_levels`` grey levels, in words (for the pre-flight message)."""
    lo, hi = float(values.min()), float(values.max())
    if d.method == "fbn":
        return f"{which}.n_bins = {d.n_bins} gives {n_levels:,} grey levels"
    if d.method == "fbs":
        return (f"{which}.bin_width = {d.bin_width:g} gives {n_levels:,} grey levels over the ROI's "
                f"intensities ({lo:g} to {hi:g})")
    return f"{which}.method = 'none' takes the intensities ({lo:g} to {hi:g}) as {n_levels:,} grey levels"


def _advice(d, which: str) -> str:
    if d.method == "fbn":
        return f"use fewer bins ({which}.n_bins, e.g. 32-256)"
    if d.method == "fbs":
        return (f"use a larger {which}.bin_width (in image units; for PET, convert Bq/ml to SUV first) "
                f"or FBN ({which}.method: fbn, n_bins: 64)")
    return f"discretise ({which}.method: fbn or fbs)"


def _refuse(what: str, need: int, budget: int, setting: str, advice: str, step: str):
    from voxelomics.features._memory import format_bytes

    raise SettingsError(
        f"{setting}: the {what} would need {format_bytes(need)}, more than the "
        f"{format_bytes(budget)} allowed (half of this process' memory); {advice}", step=step)


def _preflight_texture(texture, values, intensity_mask, n_levels: int, settings: Settings) -> None:
    """Refuse before building a texture matrix or histogram that would not fit in memory."""
    from voxelomics.features._memory import family_bytes, memory_budget_bytes

    t = settings.texture
    nz = np.flatnonzero(intensity_mask.any(axis=(1, 2)))
    ny = np.flatnonzero(intensity_mask.any(axis=(0, 2)))
    nx = np.flatnonzero(intensity_mask.any(axis=(0, 1)))
    box = (int(nz[-1] - nz[0] + 1), int(ny[-1] - ny[0] + 1), int(nx[-1] - nx[0] + 1))
    two_d = any(d in ("2d", "2_5d") for d in t.dimensions)
    need = {f: family_bytes(f, n_levels, box_shape=box, n_voxels=values.size, two_d=two_d,
                            three_d="3d" in t.dimensions, distance=t.ngldm_distance) for f in texture}
    family = max(need, key=need.get)
    budget = memory_budget_bytes()
    if need[family] > budget:
        d = settings.discretisation
        what = "intensity histogram" if family == "histogram" else f"{family.upper()} matrices"
        _refuse(what, need[family], budget, _levels_setting(d, n_levels, values, "discretisation"),
                _advice(d, "discretisation"), f"features:{family}")


def _preflight_ivh(values, settings: Settings) -> None:
    """Refuse before building an intensity-volume histogram that would not fit in memory."""
    from voxelomics.features import ivh
    from voxelomics.features._memory import ivh_bytes, memory_budget_bytes

    d, rg = settings.ivh_discretisation, settings.resegmentation
    if values.size == 0 or not np.all(np.isfinite(values)):
        return  # the IVH reports it
    n_grid = ivh.grid_size(values, method=d.method, n_bins=d.n_bins, bin_width=d.bin_width,
                           lower_bound=fbs_lower_bound(settings, d), range_min=rg.range_min,
                           range_max=rg.range_max)
    need, budget = ivh_bytes(n_grid, values.size), memory_budget_bytes()
    if need > budget:
        setting = _levels_setting(d, n_grid, values, "ivh_discretisation").replace("grey levels", "IVH bins")
        _refuse("intensity-volume histogram", need, budget, setting, _advice(d, "ivh_discretisation"),
                "features:ivh")


def _warn_if_few_grey_levels(roi_levels: np.ndarray, values: np.ndarray, settings: Settings) -> None:
    """Record a DiscretisationWarning when the ROI holds fewer than FEW_GREY_LEVELS levels."""
    import warnings

    from voxelomics.errors import DiscretisationWarning

    n = int(np.unique(roi_levels).size)
    if n >= FEW_GREY_LEVELS:
        return
    d = settings.discretisation
    how = (f"FBN with n_bins = {d.n_bins}" if d.method == "fbn" else
           f"FBS with bin_width = {d.bin_width:g}" if d.method == "fbs" else "method 'none'")
    lo, hi = float(values.min()), float(values.max())
    cause = ("the ROI is constant" if lo == hi else
             f"the ROI's intensities span {lo:g} to {hi:g}, " + (
                 "narrow for this bin width (e.g. a map in other units than the settings assume)"
                 if d.method == "fbs" else "mostly one value"))
    warnings.warn(
        f"only {n} grey level{'s' if n != 1 else ''} after discretisation ({how}): {cause}; texture "
        f"and intensity-histogram features are (nearly) constant and do not tell patients apart "
        f"(fewer than {FEW_GREY_LEVELS} levels)", DiscretisationWarning, stacklevel=2)
