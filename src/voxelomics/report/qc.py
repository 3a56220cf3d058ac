"""Quality control per case: measurements, warning flags and contour thumbnails.

For every manifest row the image and its mask are read through :mod:`voxelomics.io` (the
same readers, geometry checks and PET SUV conversion as the extraction), then:

* ``volume_mm3``, ``n_voxels``: the ROI on the native grid;
* ``spacing_z_mm``, ``spacing_y_mm``, ``spacing_x_mm`` and ``spacing_ratio`` (largest over
  smallest spacing);
* ``touches_edge``: the image faces the ROI touches (``z-``, ``z+``, ``y-``, ...): the
  tumour is cut by the field of view or the crop, so shape features describe the cut;
* ``resegmented_fraction``: the share of ROI voxels the re-segmentation of the extraction
  settings (range, then outlier filter, for the case's modality) removes. It is computed
  on the native grid before resampling, so it approximates what the extraction removed;
* a thumbnail (:func:`voxelomics.report.figures.qc_overlay_figure`).

A case is flagged when the ROI touches an image edge, when it is very small (below
``min_roi_volume_mm3`` or ``min_roi_voxels``), when it is thin (one voxel thick, or thinner
than the resampling spacing: it may vanish), when the re-segmentation removes more than
``max_resegmented_fraction`` of it, or when the spacing is anisotropic beyond
``max_spacing_ratio``. The thresholds are :class:`QCSettings`.

Results are cached in ``OUT/qc/``: one JSON and one PNG per case, reused while the case's
input files (size and modification time), its settings and the QC settings are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["QCSettings", "qc_metrics", "run_qc", "read_qc", "QC_COLUMNS"]

#: Version of the QC measurements and thumbnails: part of each case's cache key.
QC_VERSION = 2
#: Columns of ``qc.csv`` (besides ``flags``, ``error``, ``thumbnail``).
QC_COLUMNS = ("case_id", "roi", "modality", "n_voxels", "volume_mm3", "spacing_z_mm",
              "spacing_y_mm", "spacing_x_mm", "spacing_ratio", "touches_edge",
              "resegmented_fraction", "shape_z", "shape_y", "shape_x")


class QCSettings(BaseModel):
    """Thresholds of the QC flags and display settings of the thumbnails.

    Attributes
    ----------
    ct_window_hu : (float, float) or None
        CT display range in HU; None (default): the soft-tissue window (-160 to 240 HU), or
        the lung window (-1350 to 150 HU) when at least 30 % of the tissue around
        the ROI is lung (below -500 HU).
    pet_suv_max : float or None
        Upper end of the PET display in SUV (None: the SUVmax of the ROI).
    min_roi_volume_mm3 : float
        Flag ROIs below this volume (mm³; default 1000 = 1 cm³).
    min_roi_voxels : int
        Flag ROIs with fewer voxels on the native grid.
    max_spacing_ratio : float
        Flag images whose largest voxel spacing exceeds the smallest by more than this.
    max_resegmented_fraction : float
        Flag cases whose re-segmentation removes more than this share of the ROI.
    margin_mm : float
        Margin shown around the ROI in the thumbnails (mm).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ct_window_hu: tuple[float, float] | None = None
    pet_suv_max: float | None = Field(None, gt=0)
    min_roi_volume_mm3: float = Field(1000.0, ge=0)
    min_roi_voxels: int = Field(64, ge=0)
    max_spacing_ratio: float = Field(3.0, ge=1)
    max_resegmented_fraction: float = Field(0.5, gt=0, le=1)
    margin_mm: float = Field(20.0, ge=0)


def _faces(mask: np.ndarray) -> list[str]:
    touched = []
    for axis, name in enumerate("zyx"):
        n = mask.shape[axis]
        if np.take(mask, 0, axis=axis).any():
            touched.append(f"{name}-")
        if n > 1 and np.take(mask, n - 1, axis=axis).any():
            touched.append(f"{name}+")
        elif n == 1:
            touched.append(f"{name}+")
    return touched


def _resegmented_fraction(values: np.ndarray, range_min, range_max, outlier_sigma) -> float:
    if values.size == 0:
        return float("nan")
    keep = np.ones(values.size, bool)
    if range_min is not None:
        keep &= values >= range_min
    if range_max is not None:
        keep &= values <= range_max
    if outlier_sigma is not None and keep.any():
        kept = values[keep]
        mu, sd = kept.mean(), kept.std()
        keep &= np.abs(values - mu) <= outlier_sigma * sd
    return float(1.0 - keep.mean())


def qc_metrics(image: np.ndarray, mask: np.ndarray, spacing_mm, *, resegmentation=None,
               target_spacing_mm=None, settings: QCSettings | None = None) -> dict:
    """Measure one case and list its QC flags.

    Parameters
    ----------
    image : ndarray of shape (z, y, x)
        Intensities (HU, SUV, ...).
    mask : ndarray of bool of shape (z, y, x)
        ROI on the image grid.
    spacing_mm : tuple of float
        Voxel size (z, y, x) in mm.
    resegmentation : voxelomics.settings.ResegmentationSettings or None, default=None
        The re-segmentation the extraction applies to this case (None: none).
    target_spacing_mm : tuple of (float or None) or None, default=None
        Voxel size (z, y, x) the extraction resamples to (None: no resampling).
    settings : QCSettings or None, default=None
        Thresholds (None: the defaults).

    Returns
    -------
    metrics : dict
        ``n_voxels``, ``volume_mm3``, ``spacing_z_mm``/``_y_``/``_x_``, ``spacing_ratio``,
        ``touches_edge`` (faces, e.g. ``"z- x+"``; empty when none),
        ``resegmented_fraction``, ``extent_z_mm``/``_y_``/``_x_`` (ROI bounding box),
        ``shape_z``/``_y``/``_x`` and ``flags`` (list of ``{"code", "message"}`` with codes
        ``edge``, ``small``, ``thin``, ``resegmented``, ``anisotropic``). ``thin``: the
        ROI is one voxel thick along an axis, or thinner than the resampling spacing
        (it may vanish when resampled).
    """
    s = settings or QCSettings()
    mask = np.asarray(mask, bool)
    sp = tuple(float(v) for v in spacing_mm)
    n = int(mask.sum())
    volume = n * float(np.prod(sp))
    ratio = max(sp) / min(sp)
    faces = _faces(mask) if n else []
    r = resegmentation
    frac = (_resegmented_fraction(np.asarray(image)[mask].astype(float), r.range_min, r.range_max,
                                  r.outlier_sigma) if r is not None else 0.0)
    extent = [0.0, 0.0, 0.0]
    thin = []
    if n:
        idx = np.argwhere(mask)
        for a in range(3):
            span = int(idx[:, a].max() - idx[:, a].min() + 1)
            extent[a] = span * sp[a]
            target = target_spacing_mm[a] if target_spacing_mm else None
            if target and extent[a] < target:
                thin.append(f"{'zyx'[a]}: {extent[a]:.3g} mm < {target:g} mm resampling")
            elif span == 1 and mask.shape[a] > 1:
                thin.append(f"{'zyx'[a]}: one voxel")
    flags = []
    if faces:
        flags.append({"code": "edge", "message": "ROI touches the image edge "
                      f"({', '.join(faces)}): the tumour may be cut by the field of view"})
    if volume < s.min_roi_volume_mm3 or n < s.min_roi_voxels:
        flags.append({"code": "small", "message": f"very small ROI: {volume:.0f} mm³, {n} voxels "
                      f"(flagged below {s.min_roi_volume_mm3:g} mm³ or {s.min_roi_voxels} voxels)"})
    if thin:
        flags.append({"code": "thin", "message": "thin ROI (" + ", ".join(thin) + "): it may shrink "
                      "or vanish when resampled, and 3D texture means little"})
    if np.isfinite(frac) and frac > s.max_resegmented_fraction:
        flags.append({"code": "resegmented", "message": f"re-segmentation removes {100 * frac:.0f} % "
                      "of the ROI voxels (range/outlier settings of this modality)"})
    if ratio > s.max_spacing_ratio:
        flags.append({"code": "anisotropic", "message": "anisotropic voxels: "
                      f"{sp[0]:.3g} × {sp[1]:.3g} × {sp[2]:.3g} mm (z, y, x), ratio {ratio:.1f}"})
    return {"n_voxels": n, "volume_mm3": volume, "spacing_z_mm": sp[0], "spacing_y_mm": sp[1],
            "spacing_x_mm": sp[2], "spacing_ratio": ratio, "touches_edge": " ".join(faces),
            "resegmented_fraction": frac, "extent_z_mm": extent[0], "extent_y_mm": extent[1],
            "extent_x_mm": extent[2], "shape_z": mask.shape[0], "shape_y": mask.shape[1],
            "shape_x": mask.shape[2], "flags": flags}


def _key(case, fingerprint: str, reseg: tuple, settings: QCSettings) -> str:
    from voxelomics import __version__

    blob = json.dumps([case.case_id, case.roi, case.label, case.modality, str(case.image),
                       str(case.mask), (case.extra or {}).get("series_uid"), fingerprint,
                       None if reseg[0] is None else reseg[0].model_dump(mode="json"), reseg[1],
                       settings.model_dump(mode="json"), __version__, QC_VERSION], default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _render(image, mask, case, modality, settings: QCSettings, png: Path) -> dict:
    import matplotlib.pyplot as plt

    from voxelomics.report.figures import qc_overlay_figure

    mod = (modality or "").upper()
    window = (tuple(settings.ct_window_hu) if mod == "CT" and settings.ct_window_hu
              else (0.0, settings.pet_suv_max) if mod == "PT" and settings.pet_suv_max else None)
    roi = case.roi if case.roi is not None else (case.label if case.label is not None else "")
    fig, info = qc_overlay_figure(image.array, mask.array, image.spacing_mm,
                                  direction=image.direction, modality=mod, window=window,
                                  title=f"{case.case_id} {roi}".strip(), margin_mm=settings.margin_mm)
    fig.savefig(png, dpi=80)
    plt.close(fig)
    return info


def run_qc(cases, out: str | Path, *, extraction_settings=None, settings: QCSettings | None = None,
           progress: bool = False) -> pd.DataFrame:
    """Measure, flag and draw every case of a cohort; cached per case in ``out``.

    Each image is read once for all its ROIs. Cases whose inputs, settings and QC
    settings have not changed since the last run are taken from the cache.

    Parameters
    ----------
    cases : list of voxelomics.io.manifest.Case
        The cohort (e.g. :func:`voxelomics.io.read_manifest`).
    out : str or Path
        QC folder (created): ``qc.csv``, ``cases/<case key>.json`` and ``.png``.
    extraction_settings : voxelomics.settings.Settings or None, default=None
        Settings of the extraction; their re-segmentation (per modality) is measured.
    settings : QCSettings or None, default=None
    progress : bool, default=False
        Show a progress bar on the terminal.

    Returns
    -------
    qc : pandas.DataFrame
        One row per case: :data:`QC_COLUMNS`, ``flags`` (JSON list), ``error`` (message
        when the case could not be read, else empty), ``thumbnail`` (PNG file name),
        ``slices`` and ``window`` (JSON) and ``cached`` (bool). Also written to
        ``out/qc.csv``.
    """
    from voxelomics.cohort.cache import case_key, fingerprints
    from voxelomics.errors import VoxelomicsError
    from voxelomics.io import align_mask, read_image, read_mask

    s = settings or QCSettings()
    out = Path(out)
    (out / "cases").mkdir(parents=True, exist_ok=True)
    prints = fingerprints(cases)
    rows: dict[int, dict] = {}
    todo = defaultdict(list)
    for i, (case, fp) in enumerate(zip(cases, prints, strict=True)):
        reseg, target = None, None
        if extraction_settings is not None:
            try:
                eff = extraction_settings.for_modality(case.modality)
                reseg, target = eff.resegmentation, eff.resampling.spacing_mm
            except VoxelomicsError:
                pass
        key = case_key(case)
        h = _key(case, fp, (reseg, target), s)
        cached = out / "cases" / f"{key}.json"
        if cached.is_file():
            try:
                row = json.loads(cached.read_text())
            except (OSError, ValueError):
                row = {}
            if row.get("qc_key") == h and (row.get("error") or (out / "cases" / row.get("thumbnail", "")).is_file()):
                rows[i] = {**row, "cached": True}
                continue
        todo[(str(case.image), (case.extra or {}).get("series_uid"), case.modality)].append(
            (i, key, h, reseg, target))
    bar = None
    if progress and todo:
        from rich.console import Console
        from rich.progress import Progress

        # on standard error beside the run's messages, and only on a terminal: rich writes
        # an empty line for a transient bar on a pipe or file (a blank line in the demo)
        console = Console(stderr=True)
        if console.is_terminal:
            bar = Progress(transient=True, console=console)
            bar.start()
    if bar is not None:
        task = bar.add_task("QC thumbnails", total=sum(len(v) for v in todo.values()))
    try:
        for (image_path, series_uid, modality), items in todo.items():
            image, image_error = None, None
            first = cases[items[0][0]]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    image = read_image(image_path, modality=modality, series_uid=series_uid,
                                       case_id=first.case_id)
            except VoxelomicsError as exc:
                image_error = str(exc)
            for i, key, h, reseg, target in items:
                case = cases[i]
                row = {"case_id": case.case_id, "roi": case.roi if case.roi is not None else
                       (str(case.label) if case.label is not None else ""),
                       "modality": (image.modality if image is not None else None) or case.modality,
                       "qc_key": h, "error": image_error or "", "flags": [], "thumbnail": ""}
                if image is not None:
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            mask = read_mask(case.mask, label=case.label, roi=case.roi,
                                             reference=image, case_id=case.case_id)
                            mask = align_mask(image, mask, case_id=case.case_id)
                        row.update(qc_metrics(image.array, mask.array, image.spacing_mm,
                                              resegmentation=reseg, target_spacing_mm=target,
                                              settings=s))
                        if mask.array.any():
                            info = _render(image, mask, case, row["modality"], s,
                                           out / "cases" / f"{key}.png")
                            row.update(thumbnail=f"{key}.png", slices=info["slices"],
                                       window=info["window"], units=info["units"])
                    except VoxelomicsError as exc:
                        row["error"] = str(exc)
                (out / "cases" / f"{key}.json").write_text(json.dumps(row, default=str))
                rows[i] = {**row, "cached": False}
                if bar is not None:
                    bar.advance(task)
    finally:
        if bar is not None:
            bar.stop()
    table = pd.DataFrame([rows[i] for i in range(len(cases))])
    for col in ("flags", "slices", "window"):
        if col in table:
            table[col] = [json.dumps(v) if isinstance(v, list) else (v if isinstance(v, str) else "")
                          for v in table[col]]
    table.drop(columns=["qc_key"], errors="ignore").to_csv(out / "qc.csv", index=False)
    result = read_qc(out)
    result["cached"] = table["cached"].to_numpy()
    return result


def read_qc(folder: str | Path) -> pd.DataFrame | None:
    """Read ``qc.csv`` of a QC folder written by :func:`run_qc`.

    Parameters
    ----------
    folder : str or Path

    Returns
    -------
    qc : pandas.DataFrame or None
        ``flags`` parsed back to lists; None when the folder holds no ``qc.csv``.
    """
    path = Path(folder) / "qc.csv"
    if not path.is_file():
        return None
    table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    table["flags"] = [json.loads(v) if isinstance(v, str) and v else [] for v in table.get("flags", [])]
    for col in ("error", "thumbnail", "touches_edge"):
        if col in table:
            table[col] = table[col].fillna("").astype(str)
    return table
