"""Network inputs from a cohort manifest: ROI-centred crops, cached, and their augmentation.

A case is read exactly as ``voxelomics extract`` reads it (:func:`voxelomics.io.load_case`:
DICOM series, RTSTRUCT/SEG, NIfTI, NRRD, MetaImage; the same geometry checks and errors),
then resampled onto a crop grid:

* isotropic ``crop.spacing_mm``, ``crop.size`` voxels (z, y, x), axes along the patient axes
  (identity direction: x towards the patient's left, y posterior, z superior, LPS), whatever
  the image's own orientation, so every case is seen the same way up;
* centred on the centre of the ROI's bounding box;
* image interpolated with ``crop.interpolator``, voxels outside the image set to the image's
  minimum (air in CT, background in MR and PET);
* the ROI mask interpolated linearly (partial volume, values in [0, 1]) as an optional second
  channel.

Intensities are then windowed per modality (:func:`window`): CT HU window, PET SUV range, MR
z-score inside the body (cases of unknown modality: ``crop.unknown_modality``). Crops are cached on disk once per crop-settings
hash, case and input-file state, so epochs and later commands never read DICOM again.

Arrays are float32 of shape (channels, z, y, x).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voxelomics.deep.config import AugmentSettings, CropSettings
from voxelomics.errors import EmptyRoiError, GeometryError, VoxelomicsError, VoxelomicsWarning
from voxelomics.volume import RoiMask, Volume

__all__ = [
    "CaseCrop",
    "CropSet",
    "RoiCutWarning",
    "roi_name",
    "window",
    "make_crop",
    "load_crop",
    "build_crops",
    "Augmenter",
]


class RoiCutWarning(VoxelomicsWarning):
    """The ROI is larger than the crop's field of view: part of it is outside the crop."""


@dataclass
class CaseCrop:
    """The network input of one case.

    Attributes
    ----------
    case_id : str
    roi : str
        ROI name as ``voxelomics extract`` writes it (so the tables join on case_id, roi).
    array : ndarray of float32 of shape (channels, z, y, x)
        Windowed image in [0, 1], then the mask fraction when ``crop.mask_channel``.
    meta : dict
        ``modality``, ``centre_mm`` (x, y, z), ``roi_extent_mm`` (z, y, x), ``roi_cut``
        (the ROI is larger than the crop), ``outside_fraction`` (share of crop voxels outside
        the image), ``roi_voxels`` (in the crop, mask >= 0.5).
    """

    case_id: str
    roi: str
    array: np.ndarray
    meta: dict = field(default_factory=dict)


@dataclass
class CropSet:
    """Crops of a cohort, stacked, with the manifest rows they came from.

    Attributes
    ----------
    cases : list of Case
        Manifest rows whose crop was built, in manifest order.
    arrays : ndarray of float32 of shape (n_cases, channels, z, y, x)
    meta : list of dict
        :attr:`CaseCrop.meta` per case.
    rois : list of str
        ROI names (see :func:`roi_name`).
    errors : list of dict
        ``case_id``, ``roi``, ``error_type``, ``message`` of cases that failed.
    n_reused : int
        Crops read from the cache.
    """

    cases: list
    arrays: np.ndarray
    meta: list
    rois: list
    errors: list
    n_reused: int = 0

    @property
    def case_ids(self) -> list[str]:
        """Case identifiers, in order."""
        return [c.case_id for c in self.cases]


def roi_name(case, mask: RoiMask | None) -> str:
    """The ``roi`` column ``voxelomics extract`` writes for a manifest row.

    Parameters
    ----------
    case : voxelomics.io.Case
    mask : RoiMask or None
        The mask read for the case (its name or label when the manifest gives neither).

    Returns
    -------
    str
        The manifest's ``roi``, else its ``label``, else the RTSTRUCT/SEG name or label-map
        value read, else ``"1"``.
    """
    if case.roi is not None:
        return str(case.roi)
    if case.label is not None:
        return str(case.label)
    if mask is not None and mask.name:
        return str(mask.name)
    if mask is not None and mask.label is not None:
        return str(mask.label)
    return "1"


def _body_stats(image: np.ndarray) -> tuple[float, float]:
    """Mean and SD of the body: voxels above the Otsu threshold (sub-sampled when large)."""
    from skimage.filters import threshold_otsu

    flat = np.asarray(image, dtype=np.float64).ravel()
    step = max(1, flat.size // 2_000_000)
    sample = flat[::step]
    sample = sample[np.isfinite(sample)]
    if sample.size == 0 or np.ptp(sample) == 0:
        return float(sample.mean()) if sample.size else 0.0, 1.0
    body = sample[sample > threshold_otsu(sample)]
    if body.size < 2:
        body = sample
    sd = float(body.std())
    return float(body.mean()), sd if sd > 0 else 1.0


def window(array: np.ndarray, modality: str | None, settings: CropSettings, *,
           body: tuple[float, float] | None = None) -> np.ndarray:
    """Map intensities to [0, 1] by modality.

    Parameters
    ----------
    array : ndarray of shape (z, y, x)
        Intensities: HU (CT), SUV (PET), arbitrary units (MR, other).
    modality : str or None
        DICOM code: ``"CT"``, ``"PT"``; anything else (``"MR"``, None) is z-scored.
    settings : CropSettings
        ``ct_window_hu``, ``pet_suv_max``, ``mr_clip_sd``.
    body : tuple of float or None
        (mean, SD) of the body for the z-score; required unless CT or PET.

    Returns
    -------
    ndarray of float32 of shape (z, y, x)
        Values in [0, 1].

    Raises
    ------
    ValueError
        ``body`` missing for a z-scored modality.
    """
    a = np.asarray(array, dtype=np.float32)
    if modality == "CT":
        lo, hi = settings.ct_window_hu
    elif modality == "PT":
        lo, hi = 0.0, settings.pet_suv_max
    else:
        if body is None:
            raise ValueError("a z-scored modality needs the body mean and SD")
        mean, sd = body
        a = (a - np.float32(mean)) / np.float32(sd)
        lo, hi = -settings.mr_clip_sd, settings.mr_clip_sd
    return np.clip((a - np.float32(lo)) / np.float32(hi - lo), 0.0, 1.0).astype(np.float32)


def _physical_extent_xyz(shape_zyx, spacing_zyx, direction) -> np.ndarray:
    """Size of an image along the patient axes x, y, z (mm), for any direction cosines."""
    edge_xyz = np.asarray(shape_zyx, float)[::-1] * np.asarray(spacing_zyx, float)[::-1]
    return np.abs(np.asarray(direction, float)) @ edge_xyz


def make_crop(volume: Volume, mask: RoiMask, settings: CropSettings, *,
              case_id: str | None = None) -> tuple[np.ndarray, dict]:
    """Crop centred on the ROI, resampled, windowed, with the mask channel.

    Parameters
    ----------
    volume : Volume
        Image, array (z, y, x).
    mask : RoiMask
        ROI on the image grid.
    settings : CropSettings
    case_id : str or None
        Named in errors and warnings.

    Returns
    -------
    array : ndarray of float32 of shape (channels, z, y, x)
    meta : dict
        See :attr:`CaseCrop.meta`.

    Raises
    ------
    EmptyRoiError
        The ROI holds no voxel.
    GeometryError
        The crop is larger than the image along an axis and ``beyond_image`` is ``"error"``.

    Warns
    -----
    RoiCutWarning
        The ROI's bounding box is larger than the crop: its edges are outside the crop.
    """
    import SimpleITK as sitk

    from voxelomics.preprocess.roi import bounding_box, crop_to_roi
    from voxelomics.volume import to_sitk

    if not mask.array.any():
        raise EmptyRoiError("the ROI holds no voxel; a crop cannot be centred on it",
                            case_id=case_id, path=mask.source, step="crop")
    s = float(settings.spacing_mm)
    size_zyx = np.asarray(settings.size, int)
    fov_zyx = size_zyx * s
    image_xyz = _physical_extent_xyz(volume.shape, volume.spacing_mm, volume.direction)
    fov_xyz = fov_zyx[::-1]
    if settings.beyond_image == "error" and np.any(fov_xyz > image_xyz + 1e-6):
        axes = [f"{ax}: crop {f:.1f} mm > image {i:.1f} mm"
                for ax, f, i in zip("xyz", fov_xyz, image_xyz, strict=True) if f > i + 1e-6]
        raise GeometryError(
            f"the crop ({'x'.join(map(str, settings.size))} voxels of {s:g} mm) is larger than the "
            f"image ({'; '.join(axes)}); use a smaller crop.size or crop.spacing_mm, or "
            "crop.beyond_image: pad for images already cut around the lesion",
            case_id=case_id, path=volume.source, step="crop")
    box = bounding_box(mask.array)
    lo = np.array([b.start for b in box], float)
    hi = np.array([b.stop - 1 for b in box], float)
    centre_xyz = volume.grid.index_to_physical(((lo + hi) / 2)[None])[0]
    roi_extent_zyx = (hi - lo + 1) * np.asarray(volume.spacing_mm, float)
    roi_extent_xyz = _physical_extent_xyz(hi - lo + 1, volume.spacing_mm, volume.direction)
    roi_cut = bool(np.any(roi_extent_xyz > fov_xyz + 1e-6))
    if roi_cut:
        warnings.warn(
            f"case {case_id!r}: the ROI ({', '.join(f'{v:.1f}' for v in roi_extent_xyz)} mm along "
            f"x, y, z) is larger than the crop ({', '.join(f'{v:.1f}' for v in fov_xyz)} mm); its "
            "edges are outside the network input", RoiCutWarning, stacklevel=2)
    origin_xyz = centre_xyz - (size_zyx[::-1] - 1) / 2.0 * s
    size_xyz = [int(v) for v in size_zyx[::-1]]
    interp = {"linear": sitk.sitkLinear, "bspline": sitk.sitkBSpline,
              "nearest": sitk.sitkNearestNeighbor}[settings.interpolator]
    pad = float(np.min(volume.array))
    modality = volume.modality.upper() if volume.modality else settings.unknown_modality
    modality = {"PET": "PT", "MRI": "MR"}.get(modality, modality)
    body = None if modality in ("CT", "PT") else _body_stats(volume.array)
    # share of crop voxels whose centre lies outside the image (padded)
    axes = [np.arange(n) * s for n in size_zyx]
    zz, yy, xx = np.meshgrid(*axes, indexing="ij")
    points_xyz = origin_xyz + np.stack([xx.ravel(), yy.ravel(), zz.ravel()], axis=1)
    idx = volume.grid.physical_to_index(points_xyz)
    inside = np.all((idx > -0.5) & (idx < np.asarray(volume.shape) - 0.5), axis=1)
    # resample only the part of the image the crop can reach (the whole FOV diagonal around the
    # ROI, plus the interpolation support), not a whole CT
    reach = float(np.linalg.norm(fov_zyx)) / 2.0 + 3.0 * max(volume.spacing_mm)
    volume, mask = crop_to_roi(volume, mask, margin_mm=reach)

    def resample(image, interpolator, default):
        out = sitk.Resample(sitk.Cast(image, sitk.sitkFloat32), size_xyz, sitk.Transform(), interpolator,
                            tuple(float(v) for v in origin_xyz), (s, s, s),
                            tuple(np.eye(3).ravel()), float(default), sitk.sitkFloat32)
        return sitk.GetArrayFromImage(out)

    image = resample(to_sitk(volume), interp, pad)
    m = to_sitk(mask)
    frac = np.clip(resample(m, sitk.sitkLinear, 0.0), 0.0, 1.0)
    channels = [window(image, modality, settings, body=body)]
    if settings.mask_channel:
        channels.append(frac.astype(np.float32))
    meta = {
        "modality": modality,
        "centre_mm": [round(float(v), 3) for v in centre_xyz],
        "roi_extent_mm": [round(float(v), 3) for v in roi_extent_zyx],
        "roi_cut": roi_cut,
        "outside_fraction": round(float(1.0 - inside.mean()), 4),
        "roi_voxels": int(np.count_nonzero(frac >= 0.5)),
    }
    return np.stack(channels).astype(np.float32, copy=False), meta


def load_crop(case, settings: CropSettings) -> CaseCrop:
    """Read one manifest row and make its crop.

    Parameters
    ----------
    case : voxelomics.io.Case
        One manifest row (``case_id``, ``image``, ``mask``, ``label``, ``roi``, ``modality``;
        ``series_uid`` in ``extra``).
    settings : CropSettings

    Returns
    -------
    CaseCrop

    Raises
    ------
    VoxelomicsError
        What :func:`voxelomics.io.load_case` raises (``InputError``, ``MaskError``,
        ``EmptyRoiError``, ``GeometryError``), and :func:`make_crop`'s errors, all naming the
        case and the file.
    """
    from voxelomics.io import load_case

    volume, mask = load_case(case.image, case.mask, label=case.label, roi=case.roi,
                             modality=case.modality,
                             series_uid=(case.extra or {}).get("series_uid") or None,
                             case_id=case.case_id)
    try:
        array, meta = make_crop(volume, mask, settings, case_id=case.case_id)
    except VoxelomicsError as exc:
        exc.with_context(case_id=case.case_id)
        raise
    return CaseCrop(case.case_id, roi_name(case, mask), array, meta)


def _cache_path(cache_dir: Path, case, settings: CropSettings) -> Path:
    from voxelomics.cohort.cache import case_key, input_fingerprint

    return cache_dir / settings.crop_hash() / f"{case_key(case)}.{input_fingerprint(case)}.npz"


def _read_cached(path: Path) -> CaseCrop | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            head = json.loads(str(z["head"]))
            return CaseCrop(head["case_id"], head["roi"], z["array"], head["meta"])
    except (OSError, ValueError, KeyError):
        return None  # missing or damaged: built again


def _write_cached(path: Path, crop: CaseCrop) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    head = json.dumps({"case_id": crop.case_id, "roi": crop.roi, "meta": crop.meta})
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, array=crop.array, head=np.array(head))
    os.replace(tmp, path)  # atomic: a killed run leaves a whole file or none


def build_crops(cases, settings: CropSettings, *, cache_dir: str | Path | None = None,
                progress: bool = True, console=None) -> CropSet:
    """Crops of every case, from the cache when it holds them.

    Parameters
    ----------
    cases : list of voxelomics.io.Case
        Manifest rows.
    settings : CropSettings
    cache_dir : str or Path or None
        Crop cache; files go to ``cache_dir/<crop hash>/<case key>.<input fingerprint>.npz``
        (:func:`voxelomics.cohort.cache.case_key`, :func:`~voxelomics.cohort.cache.input_fingerprint`),
        so changed settings or replaced image files give a new crop. None: no cache.
    progress : bool, default=True
        Show a progress bar (on a terminal).
    console : rich.console.Console or None

    Returns
    -------
    CropSet
        Successful cases in manifest order; failures in :attr:`CropSet.errors` (the caller
        decides whether they stop the run).
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = console or Console(stderr=True)
    cache = Path(cache_dir) if cache_dir is not None else None
    done, arrays, metas, rois, errors = [], [], [], [], []
    reused = 0
    show = progress and console.is_terminal
    with Progress(TextColumn("crops"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, disable=not show, transient=True) as bar:
        task = bar.add_task("crops", total=len(cases))
        for case in cases:
            path = _cache_path(cache, case, settings) if cache is not None else None
            crop = _read_cached(path) if path is not None and path.is_file() else None
            if crop is not None:
                reused += 1
            else:
                try:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        crop = load_crop(case, settings)
                    for w in caught:
                        if issubclass(w.category, RoiCutWarning):
                            crop.meta.setdefault("warnings", []).append(str(w.message))
                        else:
                            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
                except VoxelomicsError as exc:
                    errors.append({"case_id": case.case_id, "roi": case.roi or "",
                                   "step": exc.step or "crop", "error_type": type(exc).__name__,
                                   "message": str(exc), "exception": exc})
                    bar.advance(task)
                    continue
                if path is not None:
                    _write_cached(path, crop)
            done.append(case)
            arrays.append(crop.array)
            metas.append(crop.meta)
            rois.append(crop.roi)
            bar.advance(task)
    n_ch = settings.n_channels
    stack = (np.stack(arrays) if arrays
             else np.zeros((0, n_ch, *settings.size), np.float32))
    return CropSet(done, stack, metas, rois, errors, reused)


class Augmenter:
    """Seeded MONAI augmentation of one crop: flips, small rotations, intensity jitter.

    Spatial transforms move every channel together (image and mask stay aligned); intensity
    transforms change the image channel only. The transforms draw from one
    :class:`numpy.random.RandomState`, reseeded by :meth:`reseed` (the training loop reseeds
    it from the run's seed and the epoch, so a resumed run draws the same numbers).

    Parameters
    ----------
    settings : AugmentSettings
    seed : int, default=0
    """

    def __init__(self, settings: AugmentSettings, seed: int = 0):
        from monai.transforms import (
            Compose,
            RandFlip,
            RandRotate,
            RandScaleIntensity,
            RandShiftIntensity,
        )

        self.settings = settings
        spatial = []
        if settings.flip:
            spatial += [RandFlip(prob=0.5, spatial_axis=a) for a in range(3)]
        if settings.rotate_deg > 0:
            r = np.deg2rad(settings.rotate_deg)
            spatial.append(RandRotate(range_x=r, range_y=r, range_z=r, prob=settings.prob,
                                      keep_size=True, mode="bilinear", padding_mode="border"))
        intensity = []
        if settings.intensity_scale > 0:
            intensity.append(RandScaleIntensity(factors=settings.intensity_scale, prob=settings.prob))
        if settings.intensity_shift > 0:
            intensity.append(RandShiftIntensity(offsets=settings.intensity_shift, prob=settings.prob))
        self._spatial = Compose(spatial) if spatial else None
        self._intensity = Compose(intensity) if intensity else None
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Restart the random stream.

        Parameters
        ----------
        seed : int
        """
        rng = np.random.RandomState(seed % (2**32))
        for t in (self._spatial, self._intensity):
            if t is not None:
                t.set_random_state(state=rng)

    def __call__(self, array):
        """Augment one crop.

        Parameters
        ----------
        array : torch.Tensor of shape (channels, z, y, x)

        Returns
        -------
        torch.Tensor of shape (channels, z, y, x)
        """
        import torch

        if not self.settings.enabled:
            return array
        out = array
        if self._spatial is not None:
            out = torch.as_tensor(self._spatial(out))
        if self._intensity is not None:
            image = torch.as_tensor(self._intensity(out[:1]))
            out = torch.cat([image, out[1:]], dim=0) if out.shape[0] > 1 else image
        return out.as_subclass(torch.Tensor) if hasattr(out, "as_subclass") else out
