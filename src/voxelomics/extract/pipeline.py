"""Feature extraction for one case: the single place that orders the steps.

Read it top to bottom (IBSI reference manual, chapter 2, figure 2.1):

1. read image and mask, check that their grids agree (``io``; :mod:`.read_overlap` reads the
   image only around the ROI and overlaps the mask-only morphology where that is exactly
   equivalent); for a peritumoral ring, the ring replaces the ROI
   (:func:`~voxelomics.preprocess.roi.peritumoral_ring`, on the image's own grid);
2. the case's effective settings (its modality's overrides);
3. preprocessing (:mod:`.case`): crop to the ROI plus the margin every later step needs,
   round, resample, re-segment;
4. features (:mod:`.families`): morphology, local intensity, intensity statistics, then
   discretisation for the intensity histogram and the texture families, and the
   intensity-volume histogram with its own discretisation;
5. names (:mod:`.naming`) and the row of the feature table.
"""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path

from voxelomics.errors import SettingsError, VoxelomicsError
from voxelomics.extract.case import preprocess_case
from voxelomics.extract.families import compute_features, resolve_threads
from voxelomics.extract.naming import Naming, rename
from voxelomics.settings import RingSettings, Settings, load_preset, normalise_modality
from voxelomics.volume import RoiMask, Volume

__all__ = ["extract_features", "extract_case"]


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
    ring: RingSettings | dict | None = None,
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
    ring : RingSettings, dict or None, default=None
        Extract a peritumoral ring of the ROI instead of the ROI itself, e.g.
        ``{"outside_mm": 5}`` (see :class:`~voxelomics.settings.RingSettings`). The
        settings' ``rois`` section is used by cohorts (one row per region), not here.

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
    if isinstance(ring, dict):
        try:
            ring = RingSettings.model_validate(ring)
        except ValueError as exc:
            raise SettingsError(f"ring: {exc}", case_id=case_id) from None
    feats, _ = _extract(image, mask, settings, label=label, roi=roi, modality=modality,
                        case_id=case_id, n_threads=n_threads, ring=ring)
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


def _roi_name(mask: RoiMask) -> str | None:
    """RTSTRUCT/SEG name of a mask, or its label-map value."""
    return mask.name if mask.name else (str(mask.label) if mask.label is not None else None)


def _ring(volume: Volume, mask: RoiMask, ring: RingSettings, modality, case_id) -> tuple[RoiMask, dict]:
    """The peritumoral ring of ``mask`` (a RoiMask named ``{roi}_{ring}``) and its record."""
    from voxelomics.preprocess.roi import peritumoral_ring

    body_threshold, intensity_range = ring.clip_for(modality)
    ring_mask, report = peritumoral_ring(
        volume, mask, outside_mm=ring.outside_mm, inside_mm=ring.inside_mm,
        body_threshold=body_threshold, intensity_range=intensity_range,
        name=ring.suffix, case_id=case_id)
    return ring_mask, report.as_dict()


def _extract(
    image, mask, settings, *, label, roi, modality, case_id, series_uid=None, n_threads=None, ring=None
) -> tuple[dict[str, float], dict]:
    """Features and provenance (modality, settings used, image metadata such as SUV)."""
    settings = _resolve_settings(settings)
    try:
        n_threads = resolve_threads(n_threads)
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
            from voxelomics.extract.read_overlap import early_mask, load_around_roi

            # a ring needs the image beyond the ROI's crop: read whole (ordinary path)
            early = None if ring else early_mask(image, mask, settings, label, roi, modality, case_id,
                                                 n_threads)
            if early is None:
                loaded = None if ring else load_around_roi(image, mask, settings, label, roi, modality,
                                                           case_id)
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
            contour, region = _roi_name(roi_mask), None
            if ring is not None:
                roi_mask, region = _ring(volume, roi_mask, ring, used_modality, case_id)
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
        "roi": _roi_name(roi_mask),
        "contour": contour,  # the ROI a ring was built from (the ROI itself otherwise)
        "region": region,  # the ring's record (volumes kept, cut at the image edge, clipped)
        # without the file grid that a read around the ROI records (an implementation detail)
        "image_metadata": _compact({k: v for k, v in volume.metadata.items() if k != PARENT_GRID_KEY}),
    }
    return feats, provenance


def extract_case(
    case, settings: Settings, *, naming: Naming = "readable", n_threads: int | None = 1
) -> dict[str, object]:
    """Extract one manifest row: identifiers, covariates, features, then the extra columns.

    Parameters
    ----------
    case : voxelomics.io.manifest.Case
        One manifest row (case_id, image, mask, label, roi, modality, extra), selecting one
        ROI; ``case.ring`` set: that peritumoral ring of the ROI.
    settings : Settings
    naming : {"readable", "ibsi"}, default="readable"
    n_threads : int or None, default=1
        Threads per case (see :func:`compute_features`); 1 because cohort workers already
        run one case per core. ``None``: ``min(4, os.cpu_count())``.

    Returns
    -------
    dict
        ``case_id``, ``roi`` (ROI name or label, as str; ``{roi}_{ring}`` for a ring, e.g.
        ``GTV-1_ring0-5mm``), ``image_type`` (``"original"``), ``modality`` (the DICOM code
        whose settings were used, ``""`` when unknown), ``provenance`` (JSON: modality,
        settings name, files, the ring's record, image metadata such as the PET SUV
        conversion and its assumptions), ``lesion_id`` (the ROI the row describes or
        surrounds), ``region`` (``"roi"`` or the ring's name, e.g. ``ring0-5mm``), the
        ``dicom_*`` header covariates of a DICOM image
        (:data:`voxelomics.io.header.HEADER_COLUMNS`), then features (float), then extra
        columns.

    Raises
    ------
    SettingsError
        The row selects several ROIs (``label: all``, a list or an ROI pattern):
        :func:`voxelomics.extract_cohort` expands it into one row per ROI.
    VoxelomicsError
        With ``case_id``, ``path`` and ``step`` set.
    """
    from voxelomics.io.lesions import needs_expansion

    if needs_expansion(case):
        raise SettingsError(
            f"the row selects several ROIs (label {getattr(case, 'labels', None)!r}, roi {case.roi!r}); "
            "extract_cohort expands it into one row per ROI (voxelomics.io.lesions.expand_case), or "
            "give one label or ROI name", case_id=case.case_id, step="select_roi")
    ring = getattr(case, "ring", None)
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
        ring=ring,
    )
    if case.roi is not None:
        lesion = case.roi
    elif case.label is not None:
        lesion = str(case.label)
    else:  # chosen by the reader: the only RTSTRUCT ROI / label-map value, or label 1
        lesion = provenance.get("contour") or "1"
    region = "roi" if ring is None else ring.suffix
    row: dict[str, object] = {
        "case_id": case.case_id,
        "roi": str(lesion) if ring is None else f"{lesion}_{region}",
        "image_type": "original",
        "modality": provenance["modality"] or "",
        "provenance": json.dumps(provenance, default=str, sort_keys=True),
        "lesion_id": str(lesion),
        "region": region,
    }
    row.update((provenance.get("image_metadata") or {}).get("covariates") or {})  # dicom_* columns
    row.update(rename(feats, naming))
    for k, v in (case.extra or {}).items():
        if k not in row:
            row[k] = v
    return row
