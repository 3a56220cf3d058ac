"""Feature extraction for one case: the single place that orders the steps.

Order (IBSI reference manual, chapter 2, figure 2.1):

1. read image and mask, check that their grids agree (``io``);
2. crop to the ROI bounding box plus a margin (speed and memory; the margin keeps the
   interpolation support and the 1 cm³ local-intensity sphere inside the crop);
3. round intensities when asked (IBSI, CT in HU), on the crop only;
4. resample image and mask onto the IBSI-aligned grid (``preprocess.resample``);
   the resampled mask is the *morphological* mask;
5. re-segment: the *intensity* mask (``preprocess.resegment``);
6. features: morphology (both masks), local intensity, intensity statistics, then
   discretisation for the intensity histogram and the texture families, and the
   intensity-volume histogram with its own discretisation.
"""

from __future__ import annotations

import functools
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

from voxelomics.errors import EmptyRoiError, FeatureError, SettingsError, VoxelomicsError
from voxelomics.settings import Settings, load_preset, normalise_modality
from voxelomics.volume import RoiMask, Volume

__all__ = ["extract_features", "extract_case", "preprocess_case", "PreprocessedCase"]

Naming = Literal["readable", "ibsi"]


class PreprocessedCase:
    """Arrays after preprocessing, ready for the feature families.

    Attributes
    ----------
    image : ndarray of float64, shape (z, y, x)
        Intensities after cropping, resampling and rounding (image units, e.g. HU).
    morph_mask : ndarray of bool, shape (z, y, x)
        Morphological mask (resampled ROI).
    intensity_mask : ndarray of bool, shape (z, y, x)
        Intensity mask (morphological mask after re-segmentation).
    spacing_mm : tuple of float
        Voxel size (z, y, x) in mm.
    """

    def __init__(self, image, morph_mask, intensity_mask, spacing_mm):
        self.image = image
        self.morph_mask = morph_mask
        self.intensity_mask = intensity_mask
        self.spacing_mm = tuple(float(s) for s in spacing_mm)


def preprocess_case(volume: Volume, mask: RoiMask, settings: Settings) -> PreprocessedCase:
    """Run the IBSI preprocessing chain on one image and its ROI.

    Parameters
    ----------
    volume : Volume
        Image, array (z, y, x) in image units.
    mask : RoiMask
        ROI on the same grid as ``volume``.
    settings : Settings
        Validated settings; ``resampling``, ``resegmentation`` and ``crop_margin_mm`` are used.

    Returns
    -------
    PreprocessedCase

    Raises
    ------
    EmptyRoiError
        The ROI is empty before or after resampling or re-segmentation.
    """
    from voxelomics.preprocess import crop_to_roi, resample, resegment

    if not mask.array.any():
        raise EmptyRoiError("the ROI holds no voxel", path=mask.source, step="preprocess")
    rs = settings.resampling
    volume, mask = crop_to_roi(volume, mask, margin_mm=_crop_margin(settings, volume.spacing_mm))
    # cast and round the crop only: both act voxel by voxel, so the order does not matter
    image = volume.array.astype(np.float64, copy=False)
    if settings.round_input:
        image = np.round(image)
    volume = volume.with_array(image)
    if rs.spacing_mm is not None:
        volume, mask = resample(
            volume,
            mask,
            spacing_mm=rs.spacing_mm,
            interpolator=rs.interpolator,
            mask_interpolator=rs.mask_interpolator,
            mask_threshold=rs.mask_threshold,
            round_intensities=rs.round_intensities,
        )
    morph_mask = mask.array
    if not morph_mask.any():
        raise EmptyRoiError(
            "the ROI is empty after resampling (it is smaller than the new voxel size)",
            path=mask.source,
            step="preprocess",
        )
    rg = settings.resegmentation
    intensity_mask = resegment(
        volume.array,
        morph_mask,
        range_min=rg.range_min,
        range_max=rg.range_max,
        outlier_sigma=rg.outlier_sigma,
    )
    if not intensity_mask.any():
        raise EmptyRoiError(
            f"no ROI voxel is left after re-segmentation to [{rg.range_min}, {rg.range_max}]"
            + (f" and mean ± {rg.outlier_sigma} SD" if rg.outlier_sigma else ""),
            path=mask.source,
            step="preprocess",
        )
    return PreprocessedCase(volume.array, morph_mask, intensity_mask, volume.spacing_mm)


def _crop_margin(settings: Settings, spacing_mm) -> float:
    """Crop margin (mm) for an image of voxel size ``spacing_mm`` (z, y, x)."""
    rs = settings.resampling
    margin = settings.crop_margin_mm
    if rs.spacing_mm is not None:
        # Interpolation support: the crop must not change values inside the ROI. Linear
        # needs one voxel; the cubic B-spline prefilter is global, and ten original voxels
        # make the cropped result identical to the whole-image one (tests/unit/preprocess).
        support = 10 if rs.interpolator == "bspline" else 2
        margin = max(margin, support * max(spacing_mm), 3.0 * max(s for s in rs.spacing_mm if s is not None))
    return margin


def _fbs_lower_bound(settings: Settings, which) -> float | None:
    if which.method != "fbs":
        return None
    if which.lower_bound is not None:
        return which.lower_bound
    return settings.resegmentation.range_min  # None → the ROI minimum (IBSI)


#: Smallest intensity-mask ROI (voxels) whose families are computed in threads. Below it the
#: Python-level work of the families dominates and threads only contend for the GIL
#: (measured, 2 cores: 186 and 6k voxels 35 -> 36 and 56 -> 59 ms with 2 threads; 46k voxels
#: 145 -> 105 ms).
PARALLEL_MIN_VOXELS = 20000


def _resolve_threads(n_threads: int | None) -> int:
    """``None`` → ``min(4, os.cpu_count())``; otherwise a positive int."""
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

    workers = _resolve_threads(n_threads)
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
                lower_bound=_fbs_lower_bound(settings, d_ivh), range_min=rg.range_min,
                range_max=rg.range_max)))
        if texture:
            d = settings.discretisation
            try:
                levels, n_levels = discretise(
                    img, im, method=d.method, n_bins=d.n_bins, bin_width=d.bin_width,
                    lower_bound=_fbs_lower_bound(settings, d))
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


def rename(features: dict[str, float], naming: Naming) -> dict[str, float]:
    """Rename readable feature names to IBSI tags (``naming="ibsi"``) or keep them.

    Parameters
    ----------
    features : dict of str to float
    naming : {"readable", "ibsi"}

    Returns
    -------
    dict of str to float

    Raises
    ------
    SettingsError
        Unknown naming scheme.
    """
    if naming == "readable":
        return features
    if naming != "ibsi":
        raise SettingsError(f"unknown naming {naming!r}; valid: 'readable', 'ibsi'")
    from voxelomics.features.registry import readable_to_ibsi

    table = readable_to_ibsi()
    return {table.get(k, k): v for k, v in features.items()}


def _resolve_settings(settings: Settings | dict | str | Path | None) -> Settings:
    if settings is None:
        return load_preset("default")
    if isinstance(settings, Settings):
        return settings
    if isinstance(settings, dict):
        return Settings.from_dict(settings)
    if not isinstance(settings, str | Path):
        raise SettingsError(
            f"settings must be a Settings object, a dict, a preset name or a YAML path; "
            f"got {type(settings).__name__}"
        )
    text = str(settings)
    if text.endswith((".yaml", ".yml")) or Path(text).is_file():
        from voxelomics.settings import load_settings

        return load_settings(text)
    return load_preset(text)


def _small_blas():
    """Limit BLAS to one thread while one case is extracted (restored afterwards).

    Every BLAS call of an extraction works on small arrays (a few 100k elements at most):
    threads cost more than they save, and OpenBLAS workers spinning after each call take the
    other cores from the numpy/scipy code in between (measured on 2 cores: morphology 285 →
    115 ms, the whole extraction about 2x faster). Parallelism belongs one level up, one case
    per worker (:mod:`voxelomics.cohort`).
    """
    return _blas_controller().limit(limits=1, user_api="blas")


@functools.lru_cache(maxsize=1)
def _blas_controller():
    """One :class:`threadpoolctl.ThreadpoolController` for the process.

    Building one inspects every loaded shared library (8-13 ms per extraction in a process
    that has SimpleITK, numpy and scipy loaded, measured); the cached controller's ``limit``
    takes ~0.05 ms. scipy's own OpenBLAS (loaded by scipy.linalg, which scipy.spatial imports
    for the convex hulls) is loaded first so that the controller sees it.
    """
    import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS before the inspection)
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def extract_features(
    image: str | Path | Volume,
    mask: str | Path | RoiMask,
    settings: Settings | str | Path | None = None,
    *,
    label: int | None = None,
    roi: str | None = None,
    modality: str | None = None,
    case_id: str | None = None,
    naming: Naming = "readable",
    n_threads: int | None = None,
) -> dict[str, float]:
    """Extract IBSI features from one image and ROI.

    Parameters
    ----------
    image : str, Path or Volume
        Image file (NIfTI, NRRD, MHA), DICOM series folder, or a loaded :class:`Volume`.
    mask : str, Path or RoiMask
        Label map file, RTSTRUCT or SEG file, or a loaded :class:`RoiMask` on the image grid.
    settings : Settings, dict, preset name, YAML path or None, default=None
        ``None`` uses the ``default`` preset. Its ``modality_overrides`` for the image's
        modality (``modality`` argument, else the DICOM header) are applied.
    label : int or None, default=None
        Label value to select in a label map.
    roi : str or None, default=None
        RTSTRUCT ROI name, or SEG segment label or number.
    modality : str or None, default=None
        Modality (``CT``, ``PT``, ``MR``): picks the settings' modality overrides and is a
        hint for reading DICOM.
    case_id : str or None, default=None
        Case identifier used in error messages.
    naming : {"readable", "ibsi"}, default="readable"
        Column names: readable (``glcm_joint_max_3d_avg``) or IBSI-1 tags (``cm_joint_max_3D_avg``).
    n_threads : int or None, default=None
        Threads computing independent feature families of this case concurrently (see
        :func:`compute_features`). ``None``: ``min(4, os.cpu_count())``. Pass ``1`` when
        cases already run in parallel (one case per core), to avoid oversubscription. The
        values are the same whatever the number.

    Returns
    -------
    dict of str to float
        Feature name to value, in registry order; NaN only for documented undefined values.

    Raises
    ------
    InputError, GeometryError, MaskError, EmptyRoiError, SettingsError, FeatureError
        Each names the case, the file and the step.

    Notes
    -----
    BLAS (OpenBLAS, MKL) is limited to one thread during the call and restored afterwards:
    its work here is small, and idle BLAS threads slow the rest down on busy machines. The
    parallelism is one level up: independent families in ``n_threads`` threads, and cases
    in parallel across processes (:mod:`voxelomics.cohort`, with ``n_threads=1``).

    References
    ----------
    Zwanenburg A. et al., arXiv:1612.07003 (IBSI reference manual), chapters 2–3.
    """
    feats, _ = _extract(image, mask, settings, label=label, roi=roi, modality=modality,
                        case_id=case_id, n_threads=n_threads)
    return rename(feats, naming)


def _compact(value, max_items: int = 16):
    """Metadata for the provenance column, without per-slice lists (SOP UIDs, positions).

    Lists longer than ``max_items`` are summarised as their length, so a row stays small;
    the full record is on the :class:`~voxelomics.volume.Volume` for API users.
    """
    if isinstance(value, dict):
        return {k: _compact(v, max_items) for k, v in value.items()}
    if isinstance(value, list | tuple) and len(value) > max_items:
        return f"<{len(value)} values>"
    return value


def _extract(
    image, mask, settings, *, label, roi, modality, case_id, series_uid=None, n_threads=None
) -> tuple[dict[str, float], dict]:
    """Features and provenance (modality, settings used, image metadata such as SUV)."""
    settings = _resolve_settings(settings)
    try:
        n_threads = _resolve_threads(n_threads)
    except SettingsError as exc:
        exc.with_context(case_id=case_id)
        raise
    if modality is not None and str(modality).strip():
        try:
            modality = normalise_modality(modality)
        except SettingsError as exc:
            exc.with_context(case_id=case_id, step="settings")
            raise
    else:
        modality = None
    if label is not None and (isinstance(label, bool) or not float(label).is_integer()):
        raise SettingsError(f"label must be an integer, got {label!r}", case_id=case_id)
    for name, obj, kinds in (("image", image, (str, Path, Volume)), ("mask", mask, (str, Path, RoiMask))):
        if not isinstance(obj, kinds):
            raise SettingsError(
                f"{name} must be a file path or a voxelomics {kinds[-1].__name__}, got "
                f"{type(obj).__name__} (wrap arrays with voxelomics.volume.{kinds[-1].__name__})",
                case_id=case_id,
            )
    early = None
    try:
        if isinstance(image, Volume) and isinstance(mask, RoiMask):
            from voxelomics.io import align_mask

            volume = image
            roi_mask = align_mask(image, mask, case_id=case_id)
        else:
            from voxelomics.io import load_case

            if isinstance(image, Volume) or isinstance(mask, RoiMask):
                raise SettingsError(
                    "give either paths for both image and mask, or a Volume and a RoiMask"
                )
            from voxelomics._early_mask import early_mask, load_around_roi

            early = early_mask(image, mask, settings, label, roi, modality, case_id, n_threads)
            if early is None:
                loaded = load_around_roi(image, mask, settings, label, roi, modality, case_id)
                if loaded is None:
                    loaded = load_case(
                        image, mask, label=label, roi=roi, modality=modality, series_uid=series_uid,
                        case_id=case_id)
                volume, roi_mask = loaded
            else:
                volume, roi_mask = early.load(image, modality, case_id)
        used_modality = modality or (normalise_modality(volume.modality) if volume.modality else None)
        effective = settings.for_modality(used_modality)
        with warnings.catch_warnings(), _small_blas():
            warnings.simplefilter("default")
            pre = preprocess_case(volume, roi_mask, effective)
            part = early.morphology(pre, roi_mask) if early is not None else None
            feats = compute_features(pre, effective, n_threads=n_threads, _morph_part=part)
    except VoxelomicsError as exc:
        exc.with_context(case_id=case_id)
        raise
    finally:
        if early is not None:
            early.close()
    from voxelomics.preprocess.roi import PARENT_GRID_KEY  # loaded by now (preprocessing ran)

    provenance = {
        "modality": used_modality,
        "settings": effective.name,
        "image": volume.source,
        "mask": roi_mask.source,
        # the ROI actually used: RTSTRUCT/SEG name, or the label-map value chosen
        "roi": roi_mask.name if roi_mask.name else (str(roi_mask.label) if roi_mask.label is not None else None),
        # without the file grid that a read around the ROI records (an implementation detail)
        "image_metadata": _compact({k: v for k, v in volume.metadata.items() if k != PARENT_GRID_KEY}),
    }
    return feats, provenance


def extract_case(
    case, settings: Settings, *, naming: Naming = "readable", n_threads: int | None = 1
) -> dict[str, object]:
    """Extract one manifest row: identifiers, features, then the manifest's extra columns.

    Parameters
    ----------
    case : voxelomics.io.manifest.Case
        One manifest row (case_id, image, mask, label, roi, modality, extra).
    settings : Settings
    naming : {"readable", "ibsi"}, default="readable"
    n_threads : int or None, default=1
        Threads per case (see :func:`compute_features`); 1 because cohort workers already
        run one case per core. ``None``: ``min(4, os.cpu_count())``.

    Returns
    -------
    dict
        ``case_id``, ``roi`` (ROI name or label, as str), ``image_type`` (``"original"``),
        ``modality`` (the DICOM code whose settings were used, ``""`` when unknown),
        ``provenance`` (JSON: modality, settings name, files, image metadata such as the PET
        SUV conversion and its assumptions), then features (float), then extra columns.

    Raises
    ------
    VoxelomicsError
        With ``case_id``, ``path`` and ``step`` set.
    """
    feats, provenance = _extract(
        case.image,
        case.mask,
        settings,
        label=case.label,
        roi=case.roi,
        modality=case.modality,
        case_id=case.case_id,
        series_uid=(case.extra or {}).get("series_uid") or None,
        n_threads=n_threads,
    )
    if case.roi is not None:
        roi = case.roi
    elif case.label is not None:
        roi = str(case.label)
    else:  # chosen by the reader: the only RTSTRUCT ROI / label-map value, or label 1
        roi = provenance.get("roi") or "1"
    row: dict[str, object] = {
        "case_id": case.case_id,
        "roi": str(roi),
        "image_type": "original",
        "modality": provenance["modality"] or "",
        "provenance": json.dumps(provenance, default=str, sort_keys=True),
    }
    row.update(rename(feats, naming))
    for k, v in (case.extra or {}).items():
        if k not in row:
            row[k] = v
    return row
