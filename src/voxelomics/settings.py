"""One validated settings object for the whole extraction, with IBSI presets.

``Settings`` is validated once, at the edge (CLI, YAML, API), then passed down as typed
section objects. Unknown keys are rejected with a "did you mean" hint. The resolved
YAML and its hash travel with every output; the hash keys the per-case cache.

Spacings are given in (z, y, x) order, in mm, like every array in voxelomics; ``null``
for an axis keeps that axis' original spacing (IBSI configuration B resamples in-plane only).

References
----------
Zwanenburg A. et al., The Image Biomarker Standardization Initiative, arXiv:1612.07003,
chapter 2 (image processing) and chapter 5 (reference data sets, configurations A–E).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from voxelomics._explain import explain_validation as _explain
from voxelomics.errors import SettingsError
from voxelomics.filters.spec import FilterSpec, parse_filters
from voxelomics.roi_settings import RingSettings, RoiSettings
from voxelomics.settings_merge import (
    DISCRETISATION_PARAMS,
    DISCRETISATION_PARAMS_OF,
    merge_settings,
)

__all__ = [
    "Settings",
    "ResamplingSettings",
    "ResegmentationSettings",
    "DiscretisationSettings",
    "TextureSettings",
    "MorphologySettings",
    "ResponseMapSettings",
    "RingSettings",
    "RoiSettings",
    "PRESETS",
    "load_preset",
    "load_settings",
    "FAMILY_NAMES",
    "MODALITIES",
    "normalise_modality",
    "merge_settings",
]

FAMILY_NAMES = (
    "morphology",
    "local_intensity",
    "statistics",
    "histogram",
    "ivh",
    "glcm",
    "glrlm",
    "glszm",
    "gldzm",
    "ngtdm",
    "ngldm",
)


#: DICOM modality codes accepted in manifests, the API and ``modality_overrides``.
MODALITIES = ("CT", "PT", "MR", "NM", "US", "MG", "CR", "DX", "XA", "OT")
_MODALITY_ALIASES = {"PET": "PT", "MRI": "MR", "SPECT": "NM"}


def normalise_modality(modality: str) -> str:
    """Return the DICOM modality code of ``modality`` (case-insensitive).

    Parameters
    ----------
    modality : str
        A DICOM modality code such as ``"CT"``, ``"PT"`` or ``"MR"``.

    Returns
    -------
    str
        The upper-case code.

    Raises
    ------
    SettingsError
        Not a DICOM modality code; common names (PET, MRI) are pointed to their code.
    """
    code = str(modality).strip().upper()
    if code in MODALITIES:
        return code
    hint = _MODALITY_ALIASES.get(code) or next(iter(difflib.get_close_matches(code, MODALITIES, n=1)), None)
    msg = f"unknown modality {modality!r}: use a DICOM modality code ({', '.join(MODALITIES)})"
    if hint:
        msg += f"; did you mean {hint!r}?"
    raise SettingsError(msg)


def _check_families(families, valid) -> list[str]:
    """``families`` if every name is in ``valid``, else a ValueError with a "did you mean"."""
    for fam in families:
        if fam not in valid:
            hint = difflib.get_close_matches(fam, valid, n=1)
            msg = f"unknown feature family {fam!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
            raise ValueError(msg + f" (valid: {', '.join(valid)})")
    return families


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # every number finite


class ResamplingSettings(_Section):
    """Interpolation to a new grid (IBSI 2.4), with the grid centres aligned.

    Attributes
    ----------
    spacing_mm : tuple of (float or None) of length 3, or None
        Target spacing (z, y, x) in mm; ``None`` disables resampling, ``None`` for one
        axis keeps that axis (e.g. ``[null, 2, 2]`` for in-plane only).
    interpolator : {"linear", "bspline", "nearest"}
        Image interpolator: (tri/bi)linear, cubic B-spline ("tricubic spline") or nearest.
    mask_interpolator : {"linear", "nearest"}
        Interpolator for the ROI mask.
    mask_threshold : float in (0, 1]
        Partial-volume threshold: interpolated mask values >= threshold are in the ROI.
    round_intensities : bool
        Round interpolated intensities to the nearest integer (IBSI, for CT in HU).
    """

    spacing_mm: tuple[float | None, float | None, float | None] | None = None
    interpolator: Literal["linear", "bspline", "nearest"] = "linear"
    mask_interpolator: Literal["linear", "nearest"] = "linear"
    mask_threshold: float = Field(0.5, gt=0.0, le=1.0)
    round_intensities: bool = False

    @field_validator("spacing_mm")
    @classmethod
    def _positive(cls, v):
        if v is not None and any(s is not None and s <= 0 for s in v):
            raise ValueError(f"spacing_mm must be positive, got {v}")
        return v


class ResegmentationSettings(_Section):
    """Re-segmentation of the intensity mask (IBSI 2.5).

    Attributes
    ----------
    range_min, range_max : float or None
        Keep voxels with ``range_min <= I <= range_max`` (image units, e.g. HU).
    outlier_sigma : float or None
        Remove voxels outside mean ± ``outlier_sigma`` × SD of the ROI (IBSI uses 3).
    """

    range_min: float | None = None
    range_max: float | None = None
    outlier_sigma: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _ordered(self):
        if self.range_min is not None and self.range_max is not None and self.range_min >= self.range_max:
            raise ValueError(f"range_min ({self.range_min}) must be below range_max ({self.range_max})")
        return self


class DiscretisationSettings(_Section):
    """Grey-level discretisation (IBSI 2.7).

    Attributes
    ----------
    method : {"fbn", "fbs", "none"}
        Fixed bin number, fixed bin size, or none (intensities are already integer
        grey levels; used for the digital phantom and for IVH of calibrated images).
    n_bins : int or None
        Number of bins for FBN.
    bin_width : float or None
        Bin width for FBS, in image units (HU, SUV).
    lower_bound : float or None
        Lower edge of the first FBS bin. ``None``: the re-segmentation ``range_min``
        when set, otherwise the ROI minimum (IBSI).
    """

    method: Literal["fbn", "fbs", "none"] = "fbs"
    n_bins: int | None = Field(None, ge=1)
    bin_width: float | None = Field(None, gt=0)
    lower_bound: float | None = None

    @model_validator(mode="after")
    def _complete(self):
        # the kernels' rules (preprocess.discretise, features.ivh), checked here so that a
        # settings file is refused when it is read, never case by case at run time
        if self.method == "fbn" and self.n_bins is None:
            raise ValueError("method 'fbn' needs n_bins")
        if self.method == "fbs" and self.bin_width is None:
            raise ValueError("method 'fbs' needs bin_width")
        unused = [k for k in DISCRETISATION_PARAMS
                  if getattr(self, k) is not None and k not in DISCRETISATION_PARAMS_OF[self.method]]
        if unused:
            given = ", ".join(f"{k}={getattr(self, k)!r}" for k in unused)
            raise ValueError(f"method {self.method!r} takes no {' or '.join(unused)} (got {given}); "
                             f"it uses {', '.join(DISCRETISATION_PARAMS_OF[self.method]) or 'no parameter'}")
        return self


class TextureSettings(_Section):
    """Texture matrix options (IBSI 3.6–3.11).

    Attributes
    ----------
    dimensions : list of {"2d", "2_5d", "3d"}
        Which aggregations to compute: ``2d`` (per slice), ``2_5d`` (slices merged), ``3d``.
    glcm_distance : int
        Chebyshev distance δ of the GLCM (voxels).
    ngtdm_distance : int
        Chebyshev neighbourhood distance δ of the NGTDM (voxels).
    ngldm_distance : int
        Chebyshev neighbourhood distance δ of the NGLDM (voxels).
    ngldm_alpha : int
        NGLDM coarseness parameter α (grey-level difference still counted as dependent).
    """

    dimensions: list[Literal["2d", "2_5d", "3d"]] = Field(default_factory=lambda: ["3d"], min_length=1)
    glcm_distance: int = Field(1, ge=1)
    ngtdm_distance: int = Field(1, ge=1)
    ngldm_distance: int = Field(1, ge=1)
    ngldm_alpha: int = Field(0, ge=0)


class MorphologySettings(_Section):
    """Morphology options (IBSI 3.1).

    Attributes
    ----------
    spatial_exact_max_voxels : int
        Moran's I and Geary's C are computed exactly by FFT over the ROI bounding box
        whenever the doubled box holds at most 2**24 voxels (every usual tumour ROI).
        Beyond that, ROIs of up to this many voxels are still computed exactly by pair
        sums in bounded blocks; larger ones use IBSI's allowed approximation (mean over
        seeded random sub-samples) and record an
        :class:`~voxelomics.errors.ApproximationWarning`.
    seed : int
        Seed for any random sub-sampling, for reproducibility.
    """

    spatial_exact_max_voxels: int = Field(10000, ge=10)
    seed: int = 0


class ResponseMapSettings(_Section):
    """Features of the filter response maps (IBSI-2: filter after resampling, before
    re-segmentation and discretisation).

    The ROI masks are the image's (the intensity mask is re-segmented on the image's own
    intensities, in HU or SUV); only the families and the discretisation are the response
    maps' own, because a response map is not in image units.

    Attributes
    ----------
    families : list of str
        Families computed on every response map (default: the 18 intensity statistics, as
        IBSI-2 phase 2). Any family of :data:`FAMILY_NAMES` except ``morphology``, which
        does not depend on intensities.
    discretisation : DiscretisationSettings
        Discretisation of a response map for the intensity histogram and texture families
        (default FBN 32 bins: a fixed bin size in HU means nothing on a filtered image).
    ivh_discretisation : DiscretisationSettings
        Discretisation for the intensity-volume histogram of a response map (FBN 1000).
    """

    families: list[str] = Field(default_factory=lambda: ["statistics"], min_length=1)
    discretisation: DiscretisationSettings = DiscretisationSettings(method="fbn", n_bins=32)
    ivh_discretisation: DiscretisationSettings = DiscretisationSettings(method="fbn", n_bins=1000)

    @field_validator("families")
    @classmethod
    def _known(cls, v):
        if "morphology" in v:
            raise ValueError("morphology does not depend on intensities: it is computed once, on the "
                             "image, not on response maps")
        return _check_families(v, tuple(f for f in FAMILY_NAMES if f != "morphology"))


class Settings(BaseModel):
    """Every option of one extraction, validated once.

    Attributes
    ----------
    name : str
        Preset or user label, recorded with the results.
    modalities : list of str or None
        DICOM modality codes these settings are made for (``ibsi-a`` … ``ibsi-e``: CT, in
        HU). A case of another modality that has no ``modality_overrides`` entry is refused
        (:meth:`for_modality`): a CT range or rounding would silently spoil MR or PET
        numbers. ``None`` (``default``, ``ibsi-digital``, user settings unless they say):
        any modality. Not part of the settings hash (it changes no value).
    round_input : bool
        Round the input image to the nearest integer before processing (IBSI for CT).
    crop_margin_mm : float
        Margin kept around the ROI bounding box before any heavy step (mm), for speed and
        memory only: the margin every later step needs (interpolation support, the 1 cm³
        local-intensity sphere, filter kernels) is always kept, whatever this says
        (:func:`voxelomics.extract.case.required_margin_mm`).
    resampling, resegmentation, discretisation : sections
        Image processing; ``discretisation`` applies to the intensity histogram and
        texture families.
    ivh_discretisation : DiscretisationSettings
        Discretisation for the intensity-volume histogram (IBSI: often different).
    families : list of str
        Feature families to compute (see :data:`FAMILY_NAMES`).
    texture, morphology : sections
    filters : list of filter specs
        IBSI-2 convolutional filters (:mod:`voxelomics.filters.spec`): each item a mapping
        with ``type`` (``mean``, ``log``, ``laws``, ``gabor``, ``wavelet``, ``simoncelli``,
        ``riesz``) and its parameters. Every response map adds its features, prefixed by
        the filter's name (``log_s1.5mm_statistics_mean``), to the case's row.
    response_maps : ResponseMapSettings
        Families and discretisation of the response maps.
    modality_overrides : dict of str to dict
        Per-modality changes (keys ``CT``, ``PT``, ``MR``, …: DICOM modality codes), merged
        over these settings for cases of that modality (from the manifest's ``modality``
        column or the DICOM header). Lets one preset treat CT in HU and PET in SUV correctly.
    rois : RoiSettings
        Regions extracted per manifest ROI: the ROI itself and peritumoral rings. Not
        part of :meth:`settings_hash`: each ring is part of its row's cache key instead, so
        adding a ring computes only the new rows. Cannot be set per modality.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # every number finite

    # Defaults are the documented ``default`` preset, so a partial YAML or ``Settings()``
    # starts from the same place as ``--preset default``. Every modality: 2 mm isotropic
    # (trilinear, mask threshold 0.5), 3D texture. Uncalibrated intensities (MR, unknown)
    # get FBN 32 bins (IBSI recommends FBN without a fixed unit) and an IVH on 1000 bins.
    # CT (calibrated HU) gets IBSI configuration C's treatment: integer HU, range
    # [-1000, 400] HU, FBS 25 HU, IVH FBS 2.5 HU. PET (SUV) gets FBS 0.25 SUV from 0.
    name: str = "custom"
    modalities: list[str] | None = None
    round_input: bool = False
    crop_margin_mm: float = Field(15.0, ge=0)
    resampling: ResamplingSettings = ResamplingSettings(spacing_mm=(2.0, 2.0, 2.0))
    resegmentation: ResegmentationSettings = ResegmentationSettings()
    discretisation: DiscretisationSettings = DiscretisationSettings(method="fbn", n_bins=32)
    ivh_discretisation: DiscretisationSettings = DiscretisationSettings(method="fbn", n_bins=1000)
    families: list[str] = Field(default_factory=lambda: list(FAMILY_NAMES), min_length=1)
    texture: TextureSettings = TextureSettings()
    morphology: MorphologySettings = MorphologySettings()
    filters: list[FilterSpec] = Field(default_factory=list)
    response_maps: ResponseMapSettings = ResponseMapSettings()
    rois: RoiSettings = RoiSettings()
    modality_overrides: dict[str, dict] = Field(
        default_factory=lambda: {
            "CT": {
                "round_input": True,
                "resampling": {"round_intensities": True},
                "resegmentation": {"range_min": -1000.0, "range_max": 400.0},
                "discretisation": {"method": "fbs", "bin_width": 25.0, "n_bins": None},
                "ivh_discretisation": {"method": "fbs", "bin_width": 2.5, "n_bins": None},
            },
            "PT": {
                "resegmentation": {"range_min": 0.0},
                "discretisation": {"method": "fbs", "bin_width": 0.25, "n_bins": None},
            },
        }
    )

    @field_validator("modality_overrides", mode="before")
    @classmethod
    def _valid_overrides(cls, v):
        if not isinstance(v, dict):
            return v  # pydantic reports the type
        out = {}
        for modality, override in v.items():
            if override is None:  # ``PT: null`` in a settings file drops the preset's PT entry
                continue
            if not isinstance(override, dict):
                raise ValueError(f"modality_overrides.{modality} must be a mapping of settings, "
                                 f"got {type(override).__name__}")
            key = normalise_modality(modality)
            bad = {"name", "modality_overrides", "modalities"} & set(override)
            if bad:
                raise ValueError(f"modality_overrides.{modality} cannot set {sorted(bad)}")
            if "rois" in override:  # the rows of a case are planned before its modality is known
                raise ValueError(f"modality_overrides.{modality} cannot set 'rois' (the regions of "
                                 "every case are the same; use a separate run per modality)")
            out[key] = override
        return out

    @field_validator("modalities")
    @classmethod
    def _modality_codes(cls, v):
        return None if v is None else list(dict.fromkeys(normalise_modality(m) for m in v))

    @model_validator(mode="after")
    def _overrides_are_valid_settings(self):
        for modality in self.modality_overrides:
            self.for_modality(modality)  # raises if the merged settings are invalid
        return self

    def for_modality(self, modality: str | None) -> Settings:
        """Settings for one case's modality (overrides merged in).

        Parameters
        ----------
        modality : str or None
            DICOM modality code (``CT``, ``PT``, ``MR``); ``None`` or a modality without
            override returns these settings unchanged (without overrides).

        Returns
        -------
        Settings
            Settings with ``modality_overrides`` applied and emptied.

        Raises
        ------
        SettingsError
            The merged settings are invalid; or these settings are made for other
            modalities (``modalities``) and have no override for this one.
        """
        base = self.model_dump(mode="json")
        modality = normalise_modality(modality) if modality else None
        override = self.modality_overrides.get(modality) if modality else None
        if modality and self.modalities and modality not in self.modalities and override is None:
            from voxelomics.settings_merge import not_made_for

            raise SettingsError(not_made_for(self, modality), step="settings")
        base["modality_overrides"] = {}
        if override:
            base = merge_settings(base, override)
            base["name"] = f"{self.name}[{str(modality).upper()}]"
        elif not self.modality_overrides:
            return self
        try:
            return Settings.model_validate(base)
        except ValidationError as exc:
            raise SettingsError(f"modality_overrides.{modality}: " + _explain(exc, Settings)) from None

    @field_validator("filters", mode="before")
    @classmethod
    def _valid_filters(cls, v):
        if v is None:
            return []
        if not isinstance(v, list | tuple):
            raise ValueError("filters must be a list of filters, each a mapping with a 'type'")
        try:
            return list(parse_filters(v))
        except SettingsError as exc:
            raise ValueError(exc.message) from None

    @field_validator("families")
    @classmethod
    def _known_families(cls, v):
        return _check_families(v, FAMILY_NAMES)

    # ---- serialisation -------------------------------------------------------------
    def to_yaml(self) -> str:
        """Full YAML of the settings (every field, defaults included).

        Returns
        -------
        str
        """
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    def settings_hash(self) -> str:
        """Stable 16-hex-digit hash of the settings that affect feature values.

        The ``name`` label is excluded, so two presets with identical processing share a hash;
        so is ``rois`` (which rows are made), since each ring goes into its row's cache key.

        Returns
        -------
        str
        """
        data = self.model_dump(mode="json", exclude={"name", "rois", "modalities"})
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @classmethod
    def from_yaml(cls, text: str, *, source: str | None = None) -> Settings:
        """Parse and validate settings from YAML text.

        Parameters
        ----------
        text : str
            YAML document; keys not given take their defaults. A top-level ``preset: NAME``
            starts from that preset and overrides it with the other keys.
        source : str or None
            File name used in error messages (or a key such as ``extraction.settings`` of
            a study file, which prefixes the message instead of being called a file).

        Returns
        -------
        Settings

        Raises
        ------
        SettingsError
            Invalid YAML, an empty document (blank or comments only), unknown keys (with a
            "did you mean" hint) or invalid values.
        """
        try:
            data = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as exc:
            raise SettingsError(f"settings are not valid YAML: {exc}", path=source) from None
        if data is None:  # empty, blank or comments only: a truncated file must not pass as the defaults
            raise SettingsError("the settings file is empty (no key in it); for the defaults give no "
                                "settings, or write 'preset: default'", path=source)
        if not isinstance(data, dict):
            raise SettingsError("settings YAML must be a mapping of sections", path=source)
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: dict, *, source: str | None = None) -> Settings:
        """Validate settings from a (nested) dict; see :meth:`from_yaml`.

        The dict only needs the keys it changes: it is merged (:func:`merge_settings`)
        over the preset named by its ``preset`` key, or over the ``default`` preset. When
        ``source`` is a YAML file that changes keys and does not set ``name``, the name
        says so: ``PRESET+FILE`` (``ibsi-c+f1.yaml``, ``default+f1.yaml``).

        Raises
        ------
        SettingsError
        """
        data = dict(data)
        preset = data.pop("preset", None)
        try:
            base = load_preset(preset if preset is not None else "default").model_dump(mode="json")
        except SettingsError as exc:
            if source and not _is_file_name(source):  # a key of a study file, not a file
                raise SettingsError(f"{source}.preset: {exc.message}") from None
            exc.with_context(path=source)
            raise
        base["name"] = preset if preset is not None else "custom"
        if source and _is_file_name(source) and set(data) - {"name"}:
            # a file that changes keys of a preset is not that preset: named after both
            # (unless it sets 'name' itself); the name is a label, outside the settings hash
            base["name"] = f"{preset if preset is not None else 'default'}+{Path(source).name}"
        data = merge_settings(base, data)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            if source and not _is_file_name(source):
                raise SettingsError(f"{source}: {_explain(exc, cls)}") from None
            raise SettingsError(_explain(exc, cls), path=source) from None

    def describe_modalities(self) -> str:
        """What each modality's override changes, one YAML comment line per modality.

        Returns
        -------
        str
            See :func:`voxelomics.settings_merge.describe_modalities`.
        """
        from voxelomics.settings_merge import describe_modalities

        return describe_modalities(self)


def _is_file_name(source: str) -> bool:
    """Whether an error-message source names a YAML file (not a key like ``extraction.settings``)."""
    return Path(source).suffix.lower() in (".yaml", ".yml") or Path(source).is_file()


# ---- presets ---------------------------------------------------------------------------
def _presets() -> dict[str, Settings]:
    from voxelomics.presets_ibsi1 import ibsi1_presets  # both need the classes above
    from voxelomics.presets_ibsi2 import ibsi2_presets

    return {**ibsi1_presets(), **ibsi2_presets()}


PRESETS: dict[str, Settings] = _presets()


def load_preset(name: str) -> Settings:
    """Return a named preset.

    Parameters
    ----------
    name : str
        ``default`` (2 mm isotropic, 3D texture; CT: [-1000, 400] HU, FBS 25 HU; PET: FBS
        0.25 SUV; MR and unknown: FBN 32),
        ``ibsi-digital``, ``ibsi-a`` … ``ibsi-e`` (IBSI-1 configurations A–E), or
        ``ibsi2-1a`` … ``ibsi2-9b`` (IBSI-2 phase-2 configurations 1.A–9.B, see
        :mod:`voxelomics.presets_ibsi2`).

    Returns
    -------
    Settings

    Raises
    ------
    SettingsError
        Unknown preset name (with the valid names and a "did you mean").
    """
    key = name.lower()
    if key not in PRESETS:
        hint = difflib.get_close_matches(key, PRESETS, n=1)
        msg = f"unknown preset {name!r}"
        if hint:
            msg += f"; did you mean {hint[0]!r}?"
        raise SettingsError(msg + f" (valid: {', '.join(PRESETS)})")
    return PRESETS[key]


def load_settings(path: str | Path) -> Settings:
    """Read and validate a settings YAML file.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Settings

    Raises
    ------
    SettingsError
        The file is missing or the settings are invalid.
    """
    p = Path(path)
    if not p.is_file():
        raise SettingsError("settings file not found", path=p)
    return Settings.from_yaml(p.read_text(), source=str(p))
