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

__all__ = ["PreprocessedCase", "preprocess_case", "crop_margin_mm", "required_margin_mm", "fbs_lower_bound"]


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

    def with_image(self, image) -> PreprocessedCase:
        """The same masks and grid with another image (a filter's response map).

        Parameters
        ----------
        image : ndarray of shape (z, y, x)
            Same shape as :attr:`image`.

        Returns
        -------
        PreprocessedCase
        """
        return PreprocessedCase(image, self.morph_mask, self.intensity_mask, self.spacing_mm)


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
    InputError
        The image holds NaN or infinite values inside the ROI, or interpolation carries
        non-finite values from next to the ROI into it. Non-finite values near the ROI but
        outside it record a :class:`~voxelomics.errors.NonFiniteWarning`.
    """
    from voxelomics.preprocess import crop_to_roi, resample, resegment

    if not mask.array.any():
        raise EmptyRoiError("the ROI holds no voxel", path=mask.source, step="preprocess")
    rs = settings.resampling
    volume, mask = crop_to_roi(volume, mask, margin_mm=crop_margin_mm(settings, volume.spacing_mm))
    # cast and round the crop only: both act voxel by voxel, so the order does not matter
    image = volume.array.astype(np.float64, copy=False)
    _check_finite(image, mask.array, volume.source, "")
    if settings.round_input or (rs.spacing_mm is not None and rs.round_intensities):
        _warn_if_rounding_changes_most(image[mask.array], settings)
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
        _check_finite(volume.array, mask.array, volume.source, " after resampling")
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


def _check_finite(image: np.ndarray, roi: np.ndarray, source: str | None, when: str) -> None:
    """Refuse NaN/inf inside the ROI; warn about NaN/inf in the crop around it.

    Re-segmentation would otherwise drop NaN voxels silently (comparisons with NaN are
    false) and interpolation would spread them, so the features would change with no word.
    """
    finite = np.isfinite(image)
    if finite.all():
        return
    from voxelomics.errors import InputError, NonFiniteWarning

    inside = int(np.count_nonzero(roi & ~finite))
    if inside:
        raise InputError(
            f"the image holds {inside:,} NaN or infinite value(s) inside the ROI{when} "
            f"({inside / max(int(roi.sum()), 1):.0%} of its voxels); voxelomics does not guess "
            "them: fill them or remove them from the mask",
            path=source, step="preprocess")
    import warnings

    warnings.warn(
        f"the image holds {int(np.count_nonzero(~finite)):,} NaN or infinite value(s) near the ROI "
        f"(within the crop margin, outside the ROI){when}; local-intensity peaks and filtered "
        "features that reach them may be NaN", NonFiniteWarning, stacklevel=3)


#: Rounding that changes more than this fraction of the ROI's intensities records a
#: :class:`~voxelomics.errors.RoundingWarning`.
ROUNDING_CHANGES_MOST = 0.5


def _warn_if_rounding_changes_most(values: np.ndarray, settings: Settings) -> None:
    """Record a RoundingWarning when the ROI's intensities are mostly not integers.

    Rounding (IBSI, for CT in HU) assumes integer data; on SUV, ADC or normalised MR it
    merges distinct intensities, possibly all of them into one or two values.
    """
    import warnings

    from voxelomics.errors import RoundingWarning

    if values.size == 0:
        return
    rounded = np.round(values)
    changed = float(np.mean(rounded != values))
    if changed <= ROUNDING_CHANGES_MOST:
        return
    which = [n for n, on in (("round_input", settings.round_input),
                             ("resampling.round_intensities", settings.resampling.round_intensities)) if on]
    before, after = np.unique(values).size, np.unique(rounded).size
    warnings.warn(
        f"{' and '.join(which)} round{'s' if len(which) == 1 else ''} intensities that are not integers: "
        f"{100 * changed:.0f} % of the ROI's values change ({before:,} distinct values become {after:,}, "
        f"range {float(values.min()):g} to {float(values.max()):g}); rounding is meant for integer data "
        "(CT in HU), not SUV, ADC or normalised MR: check the settings for this modality",
        RoundingWarning, stacklevel=2)


def crop_margin_mm(settings: Settings, spacing_mm) -> float:
    """Crop margin (mm) for an image of voxel size ``spacing_mm`` (z, y, x).

    The larger of the setting ``crop_margin_mm`` and :func:`required_margin_mm`: the
    setting can widen the crop, never make it cut what a later step reads, so no feature
    depends on it.

    Parameters
    ----------
    settings : Settings
        Effective settings of the case (``crop_margin_mm``, ``resampling``, ``families``,
        ``filters`` and ``response_maps`` are used).
    spacing_mm : tuple of float
        Voxel size (z, y, x) of the image before resampling, in mm.

    Returns
    -------
    float
        The margin (mm) kept around the ROI bounding box.
    """
    return max(float(settings.crop_margin_mm), required_margin_mm(settings, spacing_mm))


def required_margin_mm(settings: Settings, spacing_mm) -> float:
    """The margin (mm) around the ROI box that every later step needs: the maximum of all needs.

    One function for every need, so that a new step (a filter's kernel) adds its own here:

    * **interpolation** (when resampling): the values inside the ROI must not depend on the
      crop. Linear interpolation needs one original voxel; the cubic B-spline prefilter is
      global, and ten original voxels make the cropped result identical to the whole-image
      one (``tests/unit/preprocess``). The resampled ROI may grow by up to one new voxel and
      the new grid must cover it, hence three new voxels on top;
    * **local intensity** (IBSI 3.2): the mean over a 1 cm³ sphere (radius
      :data:`~voxelomics.features.local_intensity.RADIUS_MM`, 6.2 mm) around every ROI
      voxel reads image voxels outside the ROI; after resampling, those voxels need the
      interpolation margin too;
    * **filters** (IBSI-2): each filter's kernel reach on the grid it runs on (after
      resampling), plus the interpolation support and one voxel, plus the sphere when the
      response maps' local intensity is computed.

    Parameters
    ----------
    settings : Settings
        Effective settings of the case.
    spacing_mm : tuple of float
        Voxel size (z, y, x) of the image before resampling, in mm.

    Returns
    -------
    float
        Margin in mm (0 when no step reads outside the ROI).

    References
    ----------
    Zwanenburg A. et al., arXiv:1612.07003, sections 2.4 (interpolation) and 3.2 (local
    intensity features).
    """
    rs = settings.resampling
    needs = {"none": 0.0}
    interpolation = support_mm = 0.0
    grid = tuple(float(s) for s in spacing_mm)
    if rs.spacing_mm is not None:
        support = 10 if rs.interpolator == "bspline" else 2
        support_mm = support * max(spacing_mm)
        new = max((s for s in rs.spacing_mm if s is not None), default=max(spacing_mm))
        interpolation = support_mm + 3.0 * new
        needs["interpolation"] = interpolation
        grid = tuple(float(o if t is None else t) for t, o in zip(rs.spacing_mm, spacing_mm, strict=True))
    from voxelomics.features.local_intensity import RADIUS_MM

    if "local_intensity" in settings.families:
        needs["local_intensity"] = RADIUS_MM + interpolation
    sphere_on_maps = RADIUS_MM if "local_intensity" in settings.response_maps.families else 0.0
    for spec in settings.filters:
        # IBSI-2: filters run after resampling, on the resampled grid; the margin they need
        # must itself be resampled exactly, hence the interpolation support on top (and the
        # local-intensity sphere when the maps' local intensity is computed)
        needs[f"filter {spec.prefixes()[0]}"] = spec.margin_mm(grid) + support_mm + max(grid) + sphere_on_maps
    return max(needs.values())


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

