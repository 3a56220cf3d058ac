"""The preprocessed case and the crop margin every later step needs.

IBSI reference manual (arXiv:1612.07003), chapter 2, figure 2.1: crop around the ROI, round
intensities when asked, resample image and mask onto the IBSI-aligned grid (the resampled
mask is the *morphological* mask), re-segment (the *intensity* mask).
"""

from __future__ import annotations

import numpy as np

from voxelomics.errors import EmptyRoiError
from voxelomics.settings import Settings
from voxelomics.volume import RoiMask, Volume

__all__ = ["PreprocessedCase", "preprocess_case", "crop_margin_mm", "fbs_lower_bound"]


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
    volume, mask = crop_to_roi(volume, mask, margin_mm=crop_margin_mm(settings, volume.spacing_mm))
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


def crop_margin_mm(settings: Settings, spacing_mm) -> float:
    """Crop margin (mm) for an image of voxel size ``spacing_mm`` (z, y, x).

    Parameters
    ----------
    settings : Settings
        Effective settings of the case (``crop_margin_mm`` and ``resampling`` are used).
    spacing_mm : tuple of float
        Voxel size (z, y, x) of the image before resampling, in mm.

    Returns
    -------
    float
        The margin (mm) kept around the ROI bounding box.
    """
    rs = settings.resampling
    margin = settings.crop_margin_mm
    if rs.spacing_mm is not None:
        # Interpolation support: the crop must not change values inside the ROI. Linear
        # needs one voxel; the cubic B-spline prefilter is global, and ten original voxels
        # make the cropped result identical to the whole-image one (tests/unit/preprocess).
        support = 10 if rs.interpolator == "bspline" else 2
        margin = max(margin, support * max(spacing_mm), 3.0 * max(s for s in rs.spacing_mm if s is not None))
    return margin


def fbs_lower_bound(settings: Settings, which) -> float | None:
    """Lower edge of the first FBS bin: the setting, else the re-segmentation minimum.

    Parameters
    ----------
    settings : Settings
    which : DiscretisationSettings
        ``settings.discretisation`` or ``settings.ivh_discretisation``.

    Returns
    -------
    float or None
        ``None`` for FBN/none, or when the ROI minimum is to be used (IBSI 2.7).
    """
    if which.method != "fbs":
        return None
    if which.lower_bound is not None:
        return which.lower_bound
    return settings.resegmentation.range_min  # None → the ROI minimum (IBSI)

