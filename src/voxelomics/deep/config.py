"""Settings of the deep-learning step (validated once, at the edge).

``voxelomics deep ... --settings FILE`` reads a YAML file with the sections below, either at
the top level or under a ``deep:`` section; command-line options override single keys.
Unknown keys are refused with a "did you mean". Every key, its default and its meaning is
documented in ``docs/deep.md``.

Sections
--------
``crop``
    How a case becomes a network input: an isotropic grid of ``size`` voxels (z, y, x) at
    ``spacing_mm``, centred on the ROI, intensities windowed per modality, the ROI mask as a
    second channel. Its hash (:meth:`CropSettings.crop_hash`) keys the crop cache.
``augment``
    Random flips, small rotations and intensity jitter of the training crops (MONAI).
``net``
    Architecture and its size.
``train``
    Optimiser, epochs, early stopping on an inner validation split, class weights, device.
Top level
    The cross-validation: ``n_splits``, ``n_repeats``, ``n_boot``, ``random_state``, with the
    meanings and defaults of ``voxelomics model`` (:class:`voxelomics.model.config.ModelSettings`),
    so both give the same outer folds.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from voxelomics.errors import SettingsError

__all__ = [
    "ARCHITECTURES",
    "PRETRAINED_LAYOUTS",
    "CropSettings",
    "AugmentSettings",
    "NetSettings",
    "TrainSettings",
    "DeepSettings",
    "load_deep_settings",
]

#: Architectures ``net.arch`` accepts. ``small_cnn`` is ours (trains on a CPU in minutes);
#: the others are MONAI's 3-D networks. ``medicalnet_resnet*`` and ``fmcib_resnet50`` are
#: MONAI ResNets laid out as the published checkpoints of MedicalNet (Chen et al. 2019) and of
#: the foundation model of Pai et al. (Nat Mach Intell 2024); they take one input channel.
ARCHITECTURES = (
    "small_cnn", "resnet10", "resnet18", "resnet34", "resnet50", "densenet121",
    "medicalnet_resnet10", "medicalnet_resnet18", "medicalnet_resnet34", "medicalnet_resnet50",
    "fmcib_resnet50",
)
#: Architectures whose layout is that of a published one-channel (image only) checkpoint.
PRETRAINED_LAYOUTS = tuple(a for a in ARCHITECTURES if a.startswith(("medicalnet_", "fmcib_")))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CropSettings(_Section):
    """The network input of one case.

    Attributes
    ----------
    spacing_mm : float
        Isotropic voxel size of the crop, mm.
    size : tuple of int of length 3
        Crop size in voxels, (z, y, x); the field of view is ``size * spacing_mm`` mm.
    mask_channel : bool
        Add the ROI mask (resampled, values in [0, 1]) as a second input channel.
    beyond_image : {"error", "pad"}
        A crop larger than the image along an axis: refuse (the settings probably do not fit
        the data), or pad. A crop that only runs past an image edge near the ROI is always
        padded (with the image's minimum, e.g. air in CT).
    interpolator : {"linear", "bspline", "nearest"}
        Image interpolator (the mask is always interpolated linearly).
    ct_window_hu : tuple of float
        CT window (low, high) in HU mapped to [0, 1], values outside clipped.
    pet_suv_max : float
        PET: SUV in [0, pet_suv_max] mapped to [0, 1], values outside clipped.
    mr_clip_sd : float
        MR (and any modality windowed as MR): z-score with the mean and SD of the body (voxels
        above the image's Otsu threshold), clipped to +/- this many SD, then mapped to [0, 1].
    unknown_modality : {"CT", "PT", "MR"}
        Windowing of cases whose modality neither the manifest (``modality`` column) nor the
        file (DICOM header) gives, e.g. NIfTI CT without a modality column: ``CT`` for HU.
    """

    spacing_mm: float = Field(1.0, gt=0)
    size: tuple[int, int, int] = (32, 32, 32)
    mask_channel: bool = True
    beyond_image: Literal["error", "pad"] = "error"
    interpolator: Literal["linear", "bspline", "nearest"] = "linear"
    ct_window_hu: tuple[float, float] = (-1000.0, 400.0)
    pet_suv_max: float = Field(20.0, gt=0)
    mr_clip_sd: float = Field(5.0, gt=0)
    unknown_modality: Literal["CT", "PT", "MR"] = "MR"

    @model_validator(mode="after")
    def _check(self):
        if any(n < 4 or n > 512 for n in self.size):
            raise ValueError(f"crop.size must hold 3 sizes in [4, 512] voxels, got {self.size}")
        if self.ct_window_hu[0] >= self.ct_window_hu[1]:
            raise ValueError(f"crop.ct_window_hu must be (low, high) with low < high, got {self.ct_window_hu}")
        return self

    @property
    def n_channels(self) -> int:
        """Input channels: the image, plus the mask with ``mask_channel``."""
        return 2 if self.mask_channel else 1

    def crop_hash(self) -> str:
        """Stable 16-hex-digit hash of these settings (the crop cache key).

        Returns
        -------
        str
        """
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


class AugmentSettings(_Section):
    """Random transforms of training crops (MONAI), seeded per epoch.

    Attributes
    ----------
    enabled : bool
        Augment the training crops (never the validation or test crops).
    flip : bool
        Flip each axis with probability 0.5.
    rotate_deg : float
        Rotate by up to this many degrees about each axis (0 = off), with probability ``prob``.
    intensity_scale, intensity_shift : float
        Image channel multiplied by ``1 + U(-s, s)`` and shifted by ``U(-t, t)`` (the window
        maps to [0, 1]), each with probability ``prob``.
    prob : float in [0, 1]
        Probability of the rotation and of each intensity change.
    """

    enabled: bool = True
    flip: bool = True
    rotate_deg: float = Field(10.0, ge=0, le=180)
    intensity_scale: float = Field(0.1, ge=0, lt=1)
    intensity_shift: float = Field(0.05, ge=0, lt=1)
    prob: float = Field(0.5, ge=0, le=1)


class NetSettings(_Section):
    """Network architecture.

    Attributes
    ----------
    arch : str
        One of :data:`ARCHITECTURES`.
    width : int
        ``small_cnn``: channels of the first block (doubled at each of the 4 blocks).
    dropout : float in [0, 1)
        Dropout before the output layer.
    """

    arch: Literal[ARCHITECTURES] = "small_cnn"  # type: ignore[valid-type]
    width: int = Field(8, ge=1, le=256)
    dropout: float = Field(0.2, ge=0, lt=1)


class TrainSettings(_Section):
    """Training loop.

    Attributes
    ----------
    epochs : int
        Largest number of passes over the training crops.
    batch_size : int
    learning_rate, weight_decay : float
        AdamW.
    patience : int
        Stop when the validation loss has not improved for this many epochs (the weights of
        the best epoch are kept).
    val_fraction : float in (0, 0.5]
        Share of the training rows held out for early stopping: one fold of a
        ``round(1 / val_fraction)``-fold split made by :func:`voxelomics.model.splits.outer_folds`
        (stratified, grouped by patient when groups are known).
    class_weights : bool
        Weight classes by inverse frequency (binary: ``pos_weight``; multi-class: per class).
    calibrate : bool
        Binary targets: refit the output's logistic calibration on the validation rows
        (Platt scaling), so probabilities are calibrated despite the class weights.
    device : {"auto", "cpu", "cuda"}
        ``auto`` uses CUDA when present.
    amp : bool
        Mixed precision on CUDA (ignored on the CPU).
    threads : int or None
        CPU threads of torch (None: torch's default).
    """

    epochs: int = Field(30, ge=1, le=10000)
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    patience: int = Field(6, ge=1)
    val_fraction: float = Field(0.2, gt=0, le=0.5)
    class_weights: bool = True
    calibrate: bool = True
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = True
    threads: int | None = Field(None, ge=1)


class DeepSettings(BaseModel):
    """Every option of the deep-learning step.

    Attributes
    ----------
    crop, augment, net, train : sections
        See :class:`CropSettings`, :class:`AugmentSettings`, :class:`NetSettings`,
        :class:`TrainSettings`.
    n_splits, n_repeats : int
        Outer folds and repeats of the cross-validation (as ``voxelomics model cv``).
    n_boot : int
        Bootstrap resamples of the confidence intervals.
    random_state : int
        Seed of the folds, the weights, the batches and the augmentation.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    crop: CropSettings = CropSettings()
    augment: AugmentSettings = AugmentSettings()
    net: NetSettings = NetSettings()
    train: TrainSettings = TrainSettings()
    n_splits: int = Field(5, ge=2, le=20)
    n_repeats: int = Field(3, ge=1, le=100)
    n_boot: int = Field(1000, ge=50)
    random_state: int = 0

    @model_validator(mode="after")
    def _channels_fit_layout(self):
        if self.net.arch in PRETRAINED_LAYOUTS and self.crop.mask_channel:
            raise ValueError(
                f"net.arch {self.net.arch!r} has the layout of a published one-channel checkpoint "
                "(the image only); set crop.mask_channel: false")
        return self

    def to_yaml(self) -> str:
        """Full YAML of the settings (every key, defaults included).

        Returns
        -------
        str
        """
        import yaml

        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    def replace(self, **changes) -> DeepSettings:
        """Copy with changed keys, validated (``section__key=value`` for section keys).

        Parameters
        ----------
        **changes
            Top-level keys, or ``"train__epochs"``-style keys inside a section; ``None``
            values are ignored.

        Returns
        -------
        DeepSettings

        Raises
        ------
        SettingsError
            Invalid value or unknown key.
        """
        data = self.model_dump(mode="json")
        for key, value in changes.items():
            if value is None:
                continue
            section, _, name = key.partition("__")
            if name:
                data.setdefault(section, {})[name] = value
            else:
                data[section] = value
        return _validate(data, None)


def _validate(data: dict, path) -> DeepSettings:
    from voxelomics._explain import explain_validation as _explain  # the settings' explainer

    try:
        return DeepSettings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(_explain(exc, DeepSettings).replace("invalid settings", "invalid deep settings"),
                            path=path) from None


def load_deep_settings(path: str | Path | None = None, **overrides) -> DeepSettings:
    """Read deep settings from YAML and apply command-line overrides.

    Parameters
    ----------
    path : str or Path or None
        YAML file (sections at the top level or under ``deep:``); None for the defaults.
    **overrides
        ``section__key=value`` (e.g. ``train__epochs=10``) or top-level keys; ``None``
        values are ignored.

    Returns
    -------
    DeepSettings

    Raises
    ------
    SettingsError
        Missing or unreadable file, unknown keys (with a "did you mean") or invalid values.
    """
    import yaml

    data: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise SettingsError("deep settings file not found", path=p)
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise SettingsError(f"deep settings file is not valid YAML: {exc}", path=p) from None
        if isinstance(data, dict) and isinstance(data.get("deep"), dict):
            data = data["deep"]
        if not isinstance(data, dict):
            raise SettingsError("deep settings file must hold a mapping of sections", path=p)
    settings = _validate(data, path)
    return settings.replace(**overrides) if overrides else settings
