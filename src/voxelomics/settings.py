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

from voxelomics.errors import SettingsError
from voxelomics.roi_settings import RingSettings, RoiSettings

__all__ = [
    "Settings",
    "ResamplingSettings",
    "ResegmentationSettings",
    "DiscretisationSettings",
    "TextureSettings",
    "MorphologySettings",
    "RingSettings",
    "RoiSettings",
    "PRESETS",
    "load_preset",
    "load_settings",
    "FAMILY_NAMES",
    "MODALITIES",
    "normalise_modality",
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
        if self.method == "fbn" and self.n_bins is None:
            raise ValueError("method 'fbn' needs n_bins")
        if self.method == "fbs" and self.bin_width is None:
            raise ValueError("method 'fbs' needs bin_width")
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


class Settings(BaseModel):
    """Every option of one extraction, validated once.

    Attributes
    ----------
    name : str
        Preset or user label, recorded with the results.
    round_input : bool
        Round the input image to the nearest integer before processing (IBSI for CT).
    crop_margin_mm : float
        Margin kept around the ROI bounding box before any heavy step (mm).
    resampling, resegmentation, discretisation : sections
        Image processing; ``discretisation`` applies to the intensity histogram and
        texture families.
    ivh_discretisation : DiscretisationSettings
        Discretisation for the intensity-volume histogram (IBSI: often different).
    families : list of str
        Feature families to compute (see :data:`FAMILY_NAMES`).
    texture, morphology : sections
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
    round_input: bool = False
    crop_margin_mm: float = Field(15.0, ge=0)
    resampling: ResamplingSettings = ResamplingSettings(spacing_mm=(2.0, 2.0, 2.0))
    resegmentation: ResegmentationSettings = ResegmentationSettings()
    discretisation: DiscretisationSettings = DiscretisationSettings(method="fbn", n_bins=32)
    ivh_discretisation: DiscretisationSettings = DiscretisationSettings(method="fbn", n_bins=1000)
    families: list[str] = Field(default_factory=lambda: list(FAMILY_NAMES), min_length=1)
    texture: TextureSettings = TextureSettings()
    morphology: MorphologySettings = MorphologySettings()
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

    @field_validator("modality_overrides")
    @classmethod
    def _valid_overrides(cls, v):
        out = {}
        for modality, override in v.items():
            key = normalise_modality(modality)
            bad = {"name", "modality_overrides"} & set(override)
            if bad:
                raise ValueError(f"modality_overrides.{modality} cannot set {sorted(bad)}")
            if "rois" in override:  # the rows of a case are planned before its modality is known
                raise ValueError(f"modality_overrides.{modality} cannot set 'rois' (the regions of "
                                 "every case are the same; use a separate run per modality)")
            out[key] = override
        return out

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
            The merged settings are invalid.
        """
        base = self.model_dump(mode="json")
        modality = normalise_modality(modality) if modality else None
        override = self.modality_overrides.get(modality) if modality else None
        base["modality_overrides"] = {}
        if override:
            base = _deep_merge(base, override)
            base["name"] = f"{self.name}[{str(modality).upper()}]"
        elif not self.modality_overrides:
            return self
        try:
            return Settings.model_validate(base)
        except ValidationError as exc:
            raise SettingsError(f"modality_overrides.{modality}: " + _explain(exc, Settings)) from None

    @field_validator("families")
    @classmethod
    def _known_families(cls, v):
        for fam in v:
            if fam not in FAMILY_NAMES:
                hint = difflib.get_close_matches(fam, FAMILY_NAMES, n=1)
                msg = f"unknown feature family {fam!r}"
                if hint:
                    msg += f"; did you mean {hint[0]!r}?"
                raise ValueError(msg + f" (valid: {', '.join(FAMILY_NAMES)})")
        return v

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
        data = self.model_dump(mode="json", exclude={"name", "rois"})
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
            File name used in error messages.

        Returns
        -------
        Settings

        Raises
        ------
        SettingsError
            Invalid YAML, unknown keys (with a "did you mean" hint) or invalid values.
        """
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise SettingsError(f"settings are not valid YAML: {exc}", path=source) from None
        if not isinstance(data, dict):
            raise SettingsError("settings YAML must be a mapping of sections", path=source)
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: dict, *, source: str | None = None) -> Settings:
        """Validate settings from a (nested) dict; see :meth:`from_yaml`.

        Raises
        ------
        SettingsError
        """
        data = dict(data)
        preset = data.pop("preset", None)
        if preset is not None:
            base = load_preset(preset).model_dump(mode="json")
            data = _deep_merge(base, data)
            data.setdefault("name", preset)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SettingsError(_explain(exc, cls), path=source) from None


def _deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _model_fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    import typing

    current: type[BaseModel] | None = model
    item = None  # the model inside a list field, for the list index that follows
    for part in loc[:-1]:
        if isinstance(part, int) and item is not None:
            current, item = item, None
            continue
        if current is None or not isinstance(part, str) or part not in current.model_fields:
            return []
        ann = current.model_fields[part].annotation
        args = [a for a in typing.get_args(ann) if isinstance(a, type) and issubclass(a, BaseModel)]
        item = args[0] if typing.get_origin(ann) is list and args else None
        current = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return list(current.model_fields) if current is not None else []


def _explain(exc: ValidationError, model: type[BaseModel]) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc) or "(root)"
        if err["type"] == "extra_forbidden":
            valid = _model_fields_at(model, loc)
            hint = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            msg = f"unknown setting {where!r}"
            if hint:
                msg += f"; did you mean {hint[0]!r}?"
            if valid:
                msg += f" (valid here: {', '.join(valid)})"
        else:
            msg = f"setting {where!r}: {err['msg']} (got {err.get('input')!r})"
        lines.append(msg)
    return "invalid settings: " + "; ".join(lines)


# ---- presets ---------------------------------------------------------------------------
_CT_3D_2MM = dict(
    spacing_mm=(2.0, 2.0, 2.0), interpolator="linear", mask_interpolator="linear",
    mask_threshold=0.5, round_intensities=True,
)


def _presets() -> dict[str, Settings]:
    ibsi = dict(modality_overrides={}, resampling=ResamplingSettings(), round_input=True)
    dig = Settings(
        name="ibsi-digital",
        **{**ibsi, "round_input": False},
        discretisation=DiscretisationSettings(method="none"),
        ivh_discretisation=DiscretisationSettings(method="none"),
        texture=TextureSettings(dimensions=["2d", "2_5d", "3d"]),
        crop_margin_mm=0.0,
    )
    a = Settings(
        name="ibsi-a",
        **ibsi,
        resegmentation=ResegmentationSettings(range_min=-500, range_max=400),
        discretisation=DiscretisationSettings(method="fbs", bin_width=25.0),
        ivh_discretisation=DiscretisationSettings(method="none"),
        texture=TextureSettings(dimensions=["2d", "2_5d"]),
    )
    b = Settings(
        name="ibsi-b",
        **{**ibsi, "resampling": ResamplingSettings(
            spacing_mm=(None, 2.0, 2.0), interpolator="linear", mask_interpolator="linear",
            mask_threshold=0.5, round_intensities=True,
        )},
        resegmentation=ResegmentationSettings(range_min=-500, range_max=400),
        discretisation=DiscretisationSettings(method="fbn", n_bins=32),
        ivh_discretisation=DiscretisationSettings(method="none"),
        texture=TextureSettings(dimensions=["2d", "2_5d"]),
    )
    c = Settings(
        name="ibsi-c",
        **{**ibsi, "resampling": ResamplingSettings(**_CT_3D_2MM)},
        resegmentation=ResegmentationSettings(range_min=-1000, range_max=400),
        discretisation=DiscretisationSettings(method="fbs", bin_width=25.0),
        ivh_discretisation=DiscretisationSettings(method="fbs", bin_width=2.5),
        texture=TextureSettings(dimensions=["3d"]),
    )
    d = Settings(
        name="ibsi-d",
        **{**ibsi, "resampling": ResamplingSettings(**_CT_3D_2MM)},
        resegmentation=ResegmentationSettings(outlier_sigma=3.0),
        discretisation=DiscretisationSettings(method="fbn", n_bins=32),
        ivh_discretisation=DiscretisationSettings(method="none"),
        texture=TextureSettings(dimensions=["3d"]),
    )
    e = Settings(
        name="ibsi-e",
        **{**ibsi, "resampling": ResamplingSettings(**{**_CT_3D_2MM, "interpolator": "bspline"})},
        resegmentation=ResegmentationSettings(range_min=-1000, range_max=400, outlier_sigma=3.0),
        discretisation=DiscretisationSettings(method="fbn", n_bins=32),
        ivh_discretisation=DiscretisationSettings(method="fbn", n_bins=1000),
        texture=TextureSettings(dimensions=["3d"]),
    )
    default = Settings(name="default")
    return {s.name: s for s in (default, dig, a, b, c, d, e)}


PRESETS: dict[str, Settings] = _presets()


def load_preset(name: str) -> Settings:
    """Return a named preset.

    Parameters
    ----------
    name : str
        ``default`` (2 mm isotropic, 3D texture; CT: [-1000, 400] HU, FBS 25 HU; PET: FBS
        0.25 SUV; MR and unknown: FBN 32),
        ``ibsi-digital``, or ``ibsi-a`` … ``ibsi-e`` (IBSI-1 configurations A–E).

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
