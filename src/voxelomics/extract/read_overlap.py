"""Overlap reading the image with the mask-only morphology (a speed-up of ``extract``).

An optimisation below the orchestrator (:mod:`voxelomics.extract.pipeline`), which it never
imports.

Morphological features depend only on the ROI and the grid. For a case given as two files
with a label-map mask, one thread reads the mask, resamples it on its own grid and computes
the mask-only morphology while the calling thread reads the image (SimpleITK releases the
GIL while it decodes). The result is used only when the aligned mask is the one read here
and the resampled masks are equal; otherwise the ordinary path in
:func:`voxelomics.extract.case.preprocess_case` computes it again, so values never depend on it
(``tests/unit/test_extract_threads.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voxelomics.errors import VoxelomicsError
from voxelomics.extract.case import PreprocessedCase, crop_margin_mm
from voxelomics.settings import Settings
from voxelomics.volume import RoiMask, Volume

__all__ = ["EarlyMask", "early_mask", "load_around_roi"]


def morph_mask_only(mask: RoiMask, settings: Settings) -> RoiMask:
    """The morphological mask of :func:`preprocess_case` from the ROI alone.

    The grid is the mask's own: the result equals ``preprocess_case(...).morph_mask`` when
    the image has exactly that grid (checked by the caller), without reading any intensity.
    """
    from voxelomics.preprocess import crop_to_roi, resample

    grid = Volume(np.broadcast_to(np.float64(0.0), mask.array.shape), mask.spacing_mm,
                  mask.origin_mm, mask.direction)  # no pixel memory: only its grid is used
    grid, mask = crop_to_roi(grid, mask, margin_mm=crop_margin_mm(settings, grid.spacing_mm))
    rs = settings.resampling
    if rs.spacing_mm is not None:
        _, mask = resample(grid, mask, spacing_mm=rs.spacing_mm, interpolator=rs.interpolator,
                           mask_interpolator=rs.mask_interpolator, mask_threshold=rs.mask_threshold,
                           _mask_only=True)
    return mask


class EarlyMask:
    """Read a label-map mask and run the mask-only morphology while the image is read.

    One background thread reads the mask, resamples it on its own grid
    (:func:`morph_mask_only`) and computes :func:`morphology._mask_features`, while the
    calling thread reads the image (SimpleITK releases the GIL while it decodes). Errors keep
    the serial order: the image's first, then the mask's (the same exception objects). The
    early morphology is used only when the image grid equals the mask's exactly and the
    resampled masks are equal, so values never depend on it.
    """

    def __init__(self, mask, settings: Settings, label, roi, case_id):
        from concurrent.futures import ThreadPoolExecutor

        from voxelomics.io import read_mask

        self._settings = settings
        self._loaded = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voxelomics-mask")
        self._mask = self._pool.submit(
            read_mask, mask, label=label, roi=roi, reference=None, case_id=case_id)
        self._grid = self._pool.submit(self._resampled, settings)
        self._morph = self._pool.submit(self._features)
        # the thread exits once these are done: its malloc arena (glibc: one per thread),
        # with the mask morphology's freed temporaries, is then free for the next thread
        # (a family thread) instead of staying bound to an idle one for the whole case
        self._pool.shutdown(wait=False)

    def _resampled(self, settings: Settings):
        try:  # a failure here is raised by the ordinary path, in the ordinary order
            return morph_mask_only(self._mask.result(), settings)
        except Exception:
            return None

    def _features(self):
        from voxelomics.features import morphology

        mm = self._grid.result()
        try:
            return None if mm is None else morphology._mask_features(mm.array, mm.spacing_mm)
        except Exception:
            return None

    def load(self, image, modality, case_id) -> tuple[Volume, RoiMask]:
        """Image and aligned mask, read only around the ROI when that is exactly equivalent.

        When the mask was read and its grid equals the image file's exactly, only the crop
        box is read from the image file (:func:`~voxelomics.io.around_roi.read_image_around_roi`);
        otherwise the whole image (``read_image``), with the ordinary errors and warnings.
        """
        from voxelomics.io import align_mask, read_image
        from voxelomics.io.around_roi import read_image_around_roi, readable_around_roi

        try:
            part = mask = None
            if readable_around_roi(image):  # else read the image at once, while the mask is read
                try:
                    mask = self._mask.result()
                except Exception:  # raised below in the ordinary order: the image's errors first
                    mask = None
            if mask is not None:
                part = read_image_around_roi(image, mask, margin_mm=crop_margin_mm(self._settings, mask.spacing_mm),
                                             modality=modality)
            if part is None:
                volume = read_image(image, modality=modality, case_id=case_id)
                mask = self._mask.result()
            else:
                volume, mask = part
        except BaseException:
            self.close()
            raise
        self._loaded = mask
        try:
            self.aligned = align_mask(volume, mask, case_id=case_id)
        except VoxelomicsError as exc:
            self.close()
            exc.with_context(case_id=case_id, path=mask.source, step="align_mask")
            raise
        return volume, self.aligned

    def morphology(self, pre: PreprocessedCase, roi_mask: RoiMask):
        """The future of the mask-only morphology when valid for ``pre``, else None."""
        mm = self._grid.result()
        if mm is None or roi_mask is not self.aligned or roi_mask is not self._loaded:
            return None  # not on the image grid exactly: computed again on the ordinary path
        if tuple(mm.spacing_mm) != pre.spacing_mm or not np.array_equal(mm.array, pre.morph_mask):
            return None
        return self._morph  # its None result (a failure) makes morphology compute it again

    def close(self):
        self._pool.shutdown(wait=True, cancel_futures=True)


def early_mask(image, mask, settings, label, roi, modality, case_id, n_threads) -> EarlyMask | None:
    """An :class:`EarlyMask` when it applies: two files, a label map, morphology, threads."""
    if n_threads < 2 or not _two_label_map_files(image, mask):
        return None
    effective = settings.for_modality(modality)  # a non-DICOM image has no other modality
    if "morphology" not in effective.families:
        return None
    return EarlyMask(mask, effective, label, roi, case_id)


def _two_label_map_files(image, mask) -> bool:
    from voxelomics.io.images import IMAGE_SUFFIXES, _suffix

    if not isinstance(image, str | Path) or not isinstance(mask, str | Path):
        return False
    image, mask = Path(image), Path(mask)
    return (mask.is_file() and image.is_file() and _suffix(mask) in IMAGE_SUFFIXES
            and _suffix(image) in IMAGE_SUFFIXES)


def load_around_roi(image, mask, settings, label, roi, modality, case_id) -> tuple[Volume, RoiMask] | None:
    """Serial counterpart of :meth:`EarlyMask.load`: mask first, then the image around it.

    For two files with a NIfTI image and a label-map mask: when the grids are exactly
    equal, the image read only around the ROI and the mask cropped alike (equal to the
    ordinary path followed by :func:`~voxelomics.preprocess.crop_to_roi`); otherwise the
    whole image and the mask already read, aligned as ``load_case`` does (its errors and
    warnings, the mask read once). None when the mask cannot be read or the files do not
    qualify: the caller then takes ``load_case``, which reports problems in its usual
    order (image first).
    """
    from voxelomics.io import align_mask, read_image, read_mask
    from voxelomics.io.around_roi import read_image_around_roi, readable_around_roi

    if not _two_label_map_files(image, mask) or not readable_around_roi(image):
        return None  # the image is read whole: no need to read the mask first
    try:
        roi_mask = read_mask(mask, label=label, roi=roi, reference=None, case_id=case_id)
    except Exception:
        return None
    effective = settings.for_modality(modality)
    part = read_image_around_roi(image, roi_mask, margin_mm=crop_margin_mm(effective, roi_mask.spacing_mm),
                                 modality=modality)
    if part is None:  # the whole image, with the mask already read (label maps need no reference)
        volume = read_image(image, modality=modality, case_id=case_id)
    else:
        volume, roi_mask = part
    return volume, align_mask(volume, roi_mask, case_id=case_id)
