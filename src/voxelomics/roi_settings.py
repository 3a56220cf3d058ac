"""The ``rois`` section of the settings: which regions of each ROI are extracted.

Kept apart from :mod:`voxelomics.settings` (which re-exports both classes) so that module
stays readable; the rules are the same: ``extra="forbid"``, frozen, every number finite.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["RingSettings", "RoiSettings"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # every number finite


def _modality(code: str) -> str:
    from voxelomics.settings import normalise_modality

    return normalise_modality(code)


class RingSettings(_Section):
    """One peritumoral ring (:func:`voxelomics.preprocess.roi.peritumoral_ring`).

    Attributes
    ----------
    outside_mm : float
        Thickness outside the contour (mm): voxels whose centre lies within this distance
        of the contour, measured on the physical grid.
    inside_mm : float
        Thickness inside the contour (mm): the contour's rim; 0 for a ring outside only.
    body_threshold : float, dict of str to float, or None
        Clip the ring to the body: voxels above this intensity (image units, e.g. -300 HU
        for CT), holes filled per slice, connected to the contour. ``None``: no clip. A
        mapping by modality (``{CT: -300, PT: 0.1}``) gives each modality its own value
        (in its units); a modality not in it is not clipped.
    intensity_range : [float or None, float or None], dict of str to that, or None
        Keep only ring voxels within this intensity range (image units), e.g.
        ``[-100, 200]`` HU for soft tissue; ``null`` leaves a side open. May be given by
        modality, like ``body_threshold``.
    name : str or None
        Name of the ring, appended to the contour's (``GTV-1_<name>``); default
        ``ring{-inside}-{outside}mm`` (``ring0-5mm``, ``ring-2-5mm``).
    """

    outside_mm: float = Field(..., ge=0)
    inside_mm: float = Field(0.0, ge=0)
    body_threshold: float | dict[str, float] | None = None
    intensity_range: (tuple[float | None, float | None]
                      | dict[str, tuple[float | None, float | None]] | None) = None
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$", max_length=60)

    @field_validator("body_threshold", "intensity_range")
    @classmethod
    def _modality_keys(cls, v):
        if isinstance(v, dict):
            return {_modality(k): value for k, value in v.items()}
        return v

    @model_validator(mode="after")
    def _not_empty(self):
        if self.outside_mm == 0 and self.inside_mm == 0:
            raise ValueError("a ring needs outside_mm > 0 or inside_mm > 0")
        ranges = self.intensity_range
        for r in (ranges.values() if isinstance(ranges, dict) else [ranges]):
            if r is not None and r[0] is not None and r[1] is not None and r[0] > r[1]:
                raise ValueError(f"intensity_range low ({r[0]}) must not exceed high ({r[1]})")
        return self

    def clip_for(self, modality: str | None):
        """Body threshold and intensity range for one case's modality.

        Parameters
        ----------
        modality : str or None
            DICOM modality code of the case.

        Returns
        -------
        body_threshold : float or None
        intensity_range : tuple or None
        """
        def pick(value):
            if isinstance(value, dict):
                return value.get(_modality(modality)) if modality else None
            return value

        return pick(self.body_threshold), pick(self.intensity_range)

    @property
    def suffix(self) -> str:
        """The ring's name: ``name`` or ``ring{-inside}-{outside}mm``."""
        from voxelomics.preprocess.roi import ring_suffix

        return self.name or ring_suffix(self.outside_mm, self.inside_mm)


class RoiSettings(_Section):
    """Which regions of each manifest ROI are extracted: the ROI itself and rings around it.

    Each region is its own row of the feature table (``roi`` = ``GTV-1`` for the contour,
    ``GTV-1_ring0-5mm`` for a ring) and its own cohort task: it is cached, resumed and
    reported in ``errors.csv`` on its own.

    Attributes
    ----------
    original : bool
        Extract the ROI itself (default). ``false`` with rings: only the rings.
    rings : list of RingSettings
        Peritumoral rings, each extracted as an ROI like any other.
    """

    original: bool = True
    rings: list[RingSettings] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something_and_unique(self):
        if not self.original and not self.rings:
            raise ValueError("original is false and no ring is given: nothing to extract")
        names = [r.suffix for r in self.rings]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"two rings have the same name {dup}; give them different thicknesses "
                             "or a name")
        return self
