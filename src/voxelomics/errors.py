"""One exception and warning hierarchy for voxelomics.

Every error raised by the package derives from :class:`VoxelomicsError`. Subclasses
also inherit the builtin they refine (as scikit-learn's ``NotFittedError`` does), so
``except ValueError`` still works for callers who do not know voxelomics.

Messages are built to name the case, the file or parameter, what was found and what
was expected. ``case_id`` and ``path`` are kept as attributes so the cohort runner can
write them to the error table.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "VoxelomicsError",
    "SettingsError",
    "InputError",
    "GeometryError",
    "MaskError",
    "EmptyRoiError",
    "FeatureError",
    "FilterError",
    "CaseFailedError",
    "ModelError",
    "VoxelomicsWarning",
    "NonCompliantWarning",
    "ApproximationWarning",
    "GeometryWarning",
    "RoiWarning",
    "DiscretisationWarning",
    "RoundingWarning",
    "NonFiniteWarning",
]


class VoxelomicsError(Exception):
    """Base class of every voxelomics error.

    Parameters
    ----------
    message : str
        What is wrong, what was found and what was expected.
    case_id : str or None, default=None
        Case the error belongs to; prefixed to the message when given.
    path : str or Path or None, default=None
        File the error belongs to; prefixed to the message when given.
    step : str or None, default=None
        Processing step that failed (``read_image``, ``read_mask``, ``preprocess``,
        ``features:glcm`` ...), recorded in the cohort error table.
    """

    def __init__(
        self,
        message: str,
        *,
        case_id: str | None = None,
        path: str | Path | None = None,
        step: str | None = None,
    ):
        self.case_id = case_id
        self.path = None if path is None else str(path)
        self.step = step
        self.message = message
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = []
        if self.case_id is not None:
            where.append(f"case {self.case_id!r}")
        if self.path is not None:
            where.append(f"file {self.path}")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def with_context(
        self, *, case_id: str | None = None, path: str | Path | None = None, step: str | None = None
    ):
        """Return the same error with case and file filled in where missing.

        Parameters
        ----------
        case_id : str or None
            Case identifier to add if the error has none.
        path : str or Path or None
            File to add if the error has none.
        step : str or None
            Processing step to add if the error has none.

        Returns
        -------
        VoxelomicsError
            ``self``, updated in place.
        """
        if self.case_id is None and case_id is not None:
            self.case_id = case_id
        if self.path is None and path is not None:
            self.path = str(path)
        if self.step is None and step is not None:
            self.step = step
        self.args = (self._compose(),)
        return self

    def __reduce__(self):  # keep attributes across process boundaries (pickling)
        return (_rebuild, (type(self), self.message, self.case_id, self.path, self.step))


def _rebuild(cls, message, case_id, path, step):
    return cls(message, case_id=case_id, path=path, step=step)


class SettingsError(VoxelomicsError, ValueError):
    """Invalid or unknown settings (CLI options, YAML, presets)."""


class InputError(VoxelomicsError, OSError):
    """An input file is missing, unreadable or inconsistent (image, mask, DICOM, manifest)."""


class GeometryError(VoxelomicsError, ValueError):
    """Image and mask grids disagree in spacing, origin, direction or size beyond tolerance."""


class MaskError(VoxelomicsError, ValueError):
    """A mask holds values that are not a valid label map (e.g. non-integer floats)."""


class EmptyRoiError(VoxelomicsError, ValueError):
    """The region of interest holds no voxel (before or after preprocessing)."""


class FeatureError(VoxelomicsError, RuntimeError):
    """A feature family could not be computed on valid input."""


class FilterError(VoxelomicsError, ValueError):
    """An image filter cannot be applied to this image.

    For example its kernel is larger than the image, or a 3D filter is asked of a one-slice
    volume.
    """


class CaseFailedError(VoxelomicsError, RuntimeError):
    """A case failed in the cohort runner for a reason outside voxelomics (crash, timeout)."""


class ModelError(VoxelomicsError, ValueError):
    """Invalid input to modelling (feature table, target, clinical join, saved model)."""


class VoxelomicsWarning(UserWarning):
    """Base class of every voxelomics warning."""


class NonCompliantWarning(VoxelomicsWarning):
    """A method outside the IBSI standard was chosen."""


class ApproximationWarning(VoxelomicsWarning):
    """An IBSI-allowed approximation was used (e.g. Moran's I on a large ROI)."""


class GeometryWarning(VoxelomicsWarning):
    """A negligible geometry difference was corrected (mask given the image geometry)."""


class RoiWarning(VoxelomicsWarning):
    """A derived ROI lost part of its region (e.g. a peritumoral ring cut at the image edge)."""


class DiscretisationWarning(VoxelomicsWarning):
    """The discretisation left too few grey levels for meaningful texture features."""


class NonFiniteWarning(VoxelomicsWarning):
    """The image holds NaN or infinite voxels near the ROI (not in it): features that read
    around the ROI (local intensity peaks, filtered images) may be NaN."""


class RoundingWarning(VoxelomicsWarning):
    """Intensity rounding (``round_input``, ``resampling.round_intensities``) changed most ROI
    values: the data were not integer, as rounding assumes (CT in HU)."""
