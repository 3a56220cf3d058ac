"""Validated filter parameters, the names of their response maps, and one dispatcher.

Each filter family has a frozen pydantic model (unknown keys refused); ``type`` picks the
family. :func:`parse_filter` turns a mapping (a YAML list item) into a spec with
"did you mean" hints; :func:`iter_responses` computes the response maps of a spec;
:func:`apply_filter` is the one-map shortcut. A spec also knows the reach of its kernel
(:meth:`radius_voxels`, :meth:`margin_mm`), which sets the crop margin around the ROI, and
the stable prefix of its feature columns (:meth:`prefixes`).

======================  =============================================  =================================
``type``                parameters (units)                             column prefix, e.g.
======================  =============================================  =================================
``mean``                ``support_voxels``                             ``mean_5vox``
``log``                 ``sigma_mm``, ``truncate`` (σ)                  ``log_s1.5mm``
``laws``                ``kernel``, ``rotation_invariance``,            ``laws_l5e5e5_rimax_e7``
                        ``pooling``, ``energy_distance`` (voxels)
``gabor``               ``sigma_mm``, ``lambda_mm``, ``gamma``,         ``gabor_s5mm_l2mm_g1.5_ri22.5deg``
                        ``theta_deg``, ``rotation_invariance``,
                        ``theta_step_deg``, ``pooling``, ``response``
``wavelet``             ``wavelet``, ``subbands`` (list or ``all``),    ``wavelet_coif1_llh``,
                        ``level``, ``rotation_invariance``, ``pooling``  ``wavelet_db3_hhh_lvl2_ri``
``simoncelli``          ``level``                                      ``simoncelli_lvl1``
``riesz``               ``base`` (``log``/``simoncelli``), ``order``      ``riesz100_log_s3mm``
                        (x, y, z), ``sigma_mm`` or ``level``
======================  =============================================  =================================

Every spec also takes ``dimensions`` (``3d``, or ``2d`` slice by slice, which adds ``_2d``
to the prefix; Gabor: ``2d`` axial planes, ``3d`` the three orthogonal planes),
``padding`` (IBSI boundary condition, default ``mirror``) and ``name`` (a prefix of your
own, replacing the generated one).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Annotated, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from voxelomics.errors import SettingsError
from voxelomics.filters.boundary import Padding, check_padding

__all__ = [
    "FilterSpec",
    "MeanFilter",
    "LoGFilter",
    "LawsFilter",
    "GaborFilter",
    "WaveletFilter",
    "SimoncelliFilter",
    "RieszFilter",
    "FILTER_TYPES",
    "parse_filter",
    "parse_filters",
    "iter_responses",
    "apply_filter",
]


def _num(x: float) -> str:
    """Short, stable number for a column name: 1.0 → '1', 1.5 → '1.5'."""
    return f"{float(x):g}"


class _Filter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str | None = Field(None, min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    dimensions: Literal["2d", "3d"] = "3d"
    padding: Padding = "mirror"

    @model_serializer(mode="wrap")
    def _type_first(self, handler):
        data = handler(self)
        return {"type": data.pop("type"), **data} if isinstance(data, dict) else data

    @field_validator("padding", mode="before")
    @classmethod
    def _padding(cls, v):
        try:
            return check_padding(v)
        except SettingsError as exc:
            raise ValueError(exc.message) from None

    # ---- what every family provides --------------------------------------------------
    def _prefixes(self) -> list[str]:  # generated names, one per response map
        raise NotImplementedError

    def radius_voxels(self, spacing_mm) -> tuple[int, int, int]:
        """Reach of the kernel in voxels along (z, y, x) on a grid of that spacing (mm)."""
        raise NotImplementedError

    def responses(self, image: np.ndarray, spacing_mm) -> Iterator[np.ndarray]:
        """The response maps, in the order of :meth:`prefixes`."""
        raise NotImplementedError

    # ---- shared -----------------------------------------------------------------------
    def prefixes(self) -> list[str]:
        """Column prefixes of the response maps (``name`` replaces the generated one)."""
        gen = [p + ("_2d" if self.dimensions == "2d" else "") for p in self._prefixes()]
        if self.name is None:
            return gen
        if len(gen) == 1:
            return [self.name]
        return [f"{self.name}_{p.split('_', 2)[-1]}" for p in gen]

    def margin_mm(self, spacing_mm) -> float:
        """Margin (mm) the filter needs around the ROI on a grid of that spacing."""
        return float(max(r * s for r, s in zip(self.radius_voxels(spacing_mm), spacing_mm, strict=True)))


class MeanFilter(_Filter):
    """Mean filter (IBSI-2 2.3): ``support_voxels`` M, odd."""

    type: Literal["mean"] = "mean"
    support_voxels: int = Field(..., ge=1)

    @field_validator("support_voxels")
    @classmethod
    def _odd(cls, v):
        if v % 2 == 0:
            raise ValueError(f"support_voxels must be odd (a centred neighbourhood), got {v}")
        return v

    def _prefixes(self):
        return [f"mean_{self.support_voxels}vox"]

    def radius_voxels(self, spacing_mm):
        from voxelomics.filters._common import filtered_axes

        return tuple(self.support_voxels // 2 if a in filtered_axes(self.dimensions) else 0 for a in range(3))

    def responses(self, image, spacing_mm):
        from voxelomics.filters.mean import mean_filter

        yield mean_filter(image, spacing_mm, support_voxels=self.support_voxels, dimensions=self.dimensions,
                          padding=self.padding)


class LoGFilter(_Filter):
    """Laplacian of Gaussian (IBSI-2 2.4): ``sigma_mm``, ``truncate`` (in σ, IBSI 4)."""

    type: Literal["log"] = "log"
    sigma_mm: float = Field(..., gt=0)
    truncate: float = Field(4.0, gt=0)

    def _prefixes(self):
        return [f"log_s{_num(self.sigma_mm)}mm"]

    def radius_voxels(self, spacing_mm):
        from voxelomics.filters.log import log_radius

        return log_radius(self.sigma_mm, spacing_mm, truncate=self.truncate, dimensions=self.dimensions)

    def responses(self, image, spacing_mm):
        from voxelomics.filters.log import laplacian_of_gaussian

        yield laplacian_of_gaussian(image, spacing_mm, sigma_mm=self.sigma_mm, truncate=self.truncate,
                                    dimensions=self.dimensions, padding=self.padding)


class LawsFilter(_Filter):
    """Laws kernels (IBSI-2 2.5): ``kernel`` (x, y[, z] order, e.g. L5E5E5), rotation
    invariance with ``pooling``, ``energy_distance`` δ in voxels."""

    type: Literal["laws"] = "laws"
    kernel: str
    rotation_invariance: bool = False
    pooling: Literal["max", "average", "min"] = "max"
    energy_distance: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _kernel(self):
        from voxelomics.filters.laws import parse_laws_kernel

        try:
            object.__setattr__(self, "kernel", "".join(parse_laws_kernel(self.kernel, self.dimensions)))
        except SettingsError as exc:
            raise ValueError(exc.message) from None
        return self

    def _prefixes(self):
        p = f"laws_{self.kernel.lower()}"
        if self.rotation_invariance:
            p += f"_ri{self.pooling}"
        if self.energy_distance is not None:
            p += f"_e{self.energy_distance}"
        return [p]

    def radius_voxels(self, spacing_mm):
        from voxelomics.filters.laws import laws_radius

        return laws_radius(self.kernel, energy_distance=self.energy_distance, dimensions=self.dimensions)

    def responses(self, image, spacing_mm):
        from voxelomics.filters.laws import laws_filter

        yield laws_filter(image, spacing_mm, kernel=self.kernel, rotation_invariance=self.rotation_invariance,
                          pooling=self.pooling, energy_distance=self.energy_distance,
                          dimensions=self.dimensions, padding=self.padding)


class GaborFilter(_Filter):
    """Gabor filter (IBSI-2 2.6): ``sigma_mm``, ``lambda_mm``, ``gamma``, ``theta_deg``;
    rotation invariance over ``theta_step_deg``; ``dimensions`` 2d (axial) or 3d (three
    orthogonal planes)."""

    type: Literal["gabor"] = "gabor"
    sigma_mm: float = Field(..., gt=0)
    lambda_mm: float = Field(..., gt=0)
    gamma: float = Field(1.0, gt=0)
    theta_deg: float = 0.0
    rotation_invariance: bool = False
    theta_step_deg: float | None = Field(None, gt=0)
    pooling: Literal["average", "max", "min"] = "average"
    response: Literal["modulus", "real", "imaginary"] = "modulus"
    truncate: float = Field(4.0, gt=0)

    @model_validator(mode="after")
    def _angles(self):
        from voxelomics.filters.gabor import gabor_angles

        try:
            gabor_angles(self.theta_deg, self.rotation_invariance, self.theta_step_deg)
        except SettingsError as exc:
            raise ValueError(exc.message) from None
        return self

    def _prefixes(self):
        p = f"gabor_s{_num(self.sigma_mm)}mm_l{_num(self.lambda_mm)}mm_g{_num(self.gamma)}"
        if self.rotation_invariance:
            p += f"_ri{_num(self.theta_step_deg)}deg" + ("" if self.pooling == "average" else f"_{self.pooling}")
        else:
            p += f"_t{_num(self.theta_deg)}deg"
        if self.response != "modulus":
            p += f"_{self.response}"
        return [p]

    def radius_voxels(self, spacing_mm):
        from voxelomics.filters.gabor import gabor_radius

        return gabor_radius(self.sigma_mm, self.gamma, spacing_mm, truncate=self.truncate, dimensions=self.dimensions)

    def responses(self, image, spacing_mm):
        from voxelomics.filters.gabor import gabor_filter

        yield gabor_filter(image, spacing_mm, sigma_mm=self.sigma_mm, lambda_mm=self.lambda_mm, gamma=self.gamma,
                           theta_deg=self.theta_deg, rotation_invariance=self.rotation_invariance,
                           theta_step_deg=self.theta_step_deg, pooling=self.pooling, response=self.response,
                           truncate=self.truncate, dimensions=self.dimensions, padding=self.padding)


class WaveletFilter(_Filter):
    """Separable undecimated wavelet (IBSI-2 2.7): PyWavelets ``wavelet``, ``subbands``
    (names in x, y, z order, or ``all``), ``level``, rotation invariance."""

    type: Literal["wavelet"] = "wavelet"
    wavelet: str
    subbands: tuple[str, ...] | Literal["all"] = Field(..., description="sub-band names or 'all'")
    level: int = Field(1, ge=1)
    rotation_invariance: bool = False
    pooling: Literal["average", "max", "min"] = "average"

    @field_validator("subbands", mode="before")
    @classmethod
    def _one_or_many(cls, v):
        if isinstance(v, str) and v.strip().lower() == "all":
            return "all"
        return (v,) if isinstance(v, str) else v

    @model_validator(mode="after")
    def _names(self):
        from voxelomics.filters.wavelet import all_subbands, check_subband, check_wavelet

        try:
            object.__setattr__(self, "wavelet", check_wavelet(self.wavelet))
            bands = all_subbands(self.dimensions) if self.subbands == "all" else tuple(
                check_subband(b, self.dimensions) for b in self.subbands)
        except SettingsError as exc:
            raise ValueError(exc.message) from None
        if not bands or len(set(bands)) != len(bands):
            raise ValueError(f"subbands must be distinct and not empty, got {list(bands)}")
        object.__setattr__(self, "subbands", bands)
        return self

    def _prefixes(self):
        tail = ("" if self.level == 1 else f"_lvl{self.level}") + (
            ("_ri" + ("" if self.pooling == "average" else self.pooling)) if self.rotation_invariance else "")
        return [f"wavelet_{self.wavelet}_{b.lower()}{tail}" for b in self.subbands]

    def radius_voxels(self, spacing_mm):
        from voxelomics.filters.wavelet import wavelet_radius

        return wavelet_radius(self.wavelet, self.level, dimensions=self.dimensions)

    def responses(self, image, spacing_mm):
        from voxelomics.filters.wavelet import wavelet_subbands

        for _band, out in wavelet_subbands(image, spacing_mm, wavelet=self.wavelet, subbands=self.subbands,
                                           level=self.level, rotation_invariance=self.rotation_invariance,
                                           pooling=self.pooling, dimensions=self.dimensions, padding=self.padding):
            yield out


class SimoncelliFilter(_Filter):
    """Simoncelli non-separable wavelet (IBSI-2 2.8): decomposition ``level``."""

    type: Literal["simoncelli"] = "simoncelli"
    level: int = Field(1, ge=1)

    def _prefixes(self):
        return [f"simoncelli_lvl{self.level}"]

    def radius_voxels(self, spacing_mm):
        from voxelomics.filters.simoncelli import simoncelli_radius

        return simoncelli_radius(self.level, dimensions=self.dimensions)

    def responses(self, image, spacing_mm):
        from voxelomics.filters.simoncelli import simoncelli_wavelet

        yield simoncelli_wavelet(image, spacing_mm, level=self.level, dimensions=self.dimensions,
                                 padding=self.padding)


class RieszFilter(_Filter):
    """Riesz transform (IBSI-2 2.9) of a LoG (``sigma_mm``) or Simoncelli (``level``)
    response; ``order`` per axis in the order x, y[, z]."""

    type: Literal["riesz"] = "riesz"
    base: Literal["log", "simoncelli"]
    order: tuple[int, ...]
    sigma_mm: float | None = Field(None, gt=0)
    truncate: float = Field(4.0, gt=0)
    level: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _complete(self):
        from voxelomics.filters.riesz import check_riesz_order

        try:
            object.__setattr__(self, "order", check_riesz_order(self.order, self.dimensions))
        except SettingsError as exc:
            raise ValueError(exc.message) from None
        if self.base == "log" and self.sigma_mm is None:
            raise ValueError("a Riesz transform of a LoG needs sigma_mm")
        if self.base == "simoncelli" and self.sigma_mm is not None:
            raise ValueError("sigma_mm is for base 'log'; a Simoncelli base takes level")
        return self

    def _prefixes(self):
        base = f"log_s{_num(self.sigma_mm)}mm" if self.base == "log" else f"simoncelli_lvl{self.level}"
        return [f"riesz{''.join(str(v) for v in self.order)}_{base}"]

    def radius_voxels(self, spacing_mm):
        from voxelomics.filters.log import log_radius
        from voxelomics.filters.riesz import riesz_margin
        from voxelomics.filters.simoncelli import simoncelli_radius

        if self.base == "log":
            r = log_radius(self.sigma_mm, spacing_mm, truncate=self.truncate, dimensions=self.dimensions)
        else:
            r = simoncelli_radius(self.level, dimensions=self.dimensions)
        return tuple(v + riesz_margin(v) for v in r)

    def responses(self, image, spacing_mm):
        from voxelomics.filters.riesz import riesz_log, riesz_simoncelli

        if self.base == "log":
            yield riesz_log(image, spacing_mm, order=self.order, sigma_mm=self.sigma_mm, truncate=self.truncate,
                            dimensions=self.dimensions, padding=self.padding)
        else:
            yield riesz_simoncelli(image, spacing_mm, order=self.order, level=self.level,
                                   dimensions=self.dimensions, padding=self.padding)


#: One filter of the ``filters:`` settings section; ``type`` picks the family.
FilterSpec = Annotated[
    MeanFilter | LoGFilter | LawsFilter | GaborFilter | WaveletFilter | SimoncelliFilter | RieszFilter,
    Field(discriminator="type"),
]
_CLASSES: dict[str, type[_Filter]] = {
    c.model_fields["type"].default: c
    for c in (MeanFilter, LoGFilter, LawsFilter, GaborFilter, WaveletFilter, SimoncelliFilter, RieszFilter)
}
#: The filter families, as ``type`` names them.
FILTER_TYPES: tuple[str, ...] = tuple(_CLASSES)
_ADAPTER = TypeAdapter(FilterSpec)


def parse_filter(data, *, where: str = "filter") -> _Filter:
    """Validate one filter from a mapping (e.g. an item of the YAML ``filters:`` list).

    Parameters
    ----------
    data : dict or filter spec
        ``{"type": "log", "sigma_mm": 1.5, ...}``; a spec object is returned unchanged.
    where : str, default="filter"
        Location used in error messages (e.g. ``filters[2]``).

    Returns
    -------
    MeanFilter, LoGFilter, LawsFilter, GaborFilter, WaveletFilter, SimoncelliFilter or RieszFilter

    Raises
    ------
    SettingsError
        Unknown ``type`` or key (with a "did you mean"), or an invalid value.

    Examples
    --------
    >>> parse_filter({"type": "log", "sigma_mm": 1.5}).prefixes()
    ['log_s1.5mm']
    """
    if isinstance(data, _Filter):
        return data
    if not isinstance(data, dict):
        raise SettingsError(f"{where}: a filter is a mapping with a 'type' key, got {type(data).__name__}")
    kind = data.get("type")
    if kind not in _CLASSES:
        hint = difflib.get_close_matches(str(kind), FILTER_TYPES, n=1)
        msg = f"{where}: unknown filter type {kind!r}" if kind is not None else f"{where}: a filter needs a 'type'"
        if hint:
            msg += f"; did you mean {hint[0]!r}?"
        raise SettingsError(msg + f" (valid: {', '.join(FILTER_TYPES)})")
    cls = _CLASSES[kind]
    try:
        return _ADAPTER.validate_python(dict(data))
    except ValidationError as exc:
        raise SettingsError(_explain(exc, cls, where, kind)) from None


def _explain(exc: ValidationError, cls, where: str, kind: str) -> str:
    fields = list(cls.model_fields)
    lines = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if p != kind]
        key = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            hint = difflib.get_close_matches(str(loc[-1]), fields, n=1)
            msg = f"unknown {kind} setting {key!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
            msg += f" (valid: {', '.join(f for f in fields if f != 'type')})"
        else:
            text = err["msg"].removeprefix("Value error, ")
            msg = f"{key}: {text}" if key else text
        lines.append(msg)
    return f"{where} ({kind}): " + "; ".join(lines)


def parse_filters(items) -> tuple[_Filter, ...]:
    """Validate a list of filters and check that their column prefixes are unique.

    Parameters
    ----------
    items : sequence of dict or filter spec

    Returns
    -------
    tuple of filter specs

    Raises
    ------
    SettingsError
        An invalid filter, or two response maps with the same prefix (give one a ``name``).
    """
    specs = tuple(parse_filter(item, where=f"filters[{i}]") for i, item in enumerate(items or ()))
    seen: dict[str, int] = {}
    for i, spec in enumerate(specs):
        for p in spec.prefixes():
            if p in seen:
                raise SettingsError(f"filters[{seen[p]}] and filters[{i}] both make response map {p!r}; "
                                    "remove one or give one a 'name'")
            seen[p] = i
    return specs


def iter_responses(image, spacing_mm, spec) -> Iterator[tuple[str, np.ndarray]]:
    """Compute the response maps of one filter, one at a time.

    Parameters
    ----------
    image : ndarray of shape (z, y, x)
        Intensities (float32 is kept; other types become float64).
    spacing_mm : tuple of float
        Voxel size (z, y, x) in mm.
    spec : filter spec or dict
        See :func:`parse_filter`.

    Yields
    ------
    (str, ndarray of shape (z, y, x))
        Column prefix and response map. A wavelet spec with several sub-bands yields one
        map per sub-band, sharing the passes they have in common; drop each map before the
        next to keep one in memory.

    Raises
    ------
    SettingsError
        Invalid spec.
    FilterError
        The filter cannot apply to this image (kernel larger than the image, 3D filter on a
        one-slice volume).
    """
    spec = parse_filter(spec)
    yield from zip(spec.prefixes(), spec.responses(image, spacing_mm), strict=True)


def apply_filter(image, spacing_mm, spec) -> np.ndarray:
    """Response map of a filter that makes one (every filter but a multi-sub-band wavelet).

    Parameters
    ----------
    image : ndarray of shape (z, y, x)
        Intensities (float32 is kept; other types become float64).
    spacing_mm : tuple of float
        Voxel size (z, y, x) in mm.
    spec : filter spec or dict
        See :func:`parse_filter`.

    Returns
    -------
    ndarray of shape (z, y, x)
        The response map.

    Raises
    ------
    SettingsError
        Invalid spec, or a spec that makes several maps (use :func:`iter_responses`).
    FilterError
        The filter cannot apply to this image.

    Examples
    --------
    >>> img = np.arange(27.0).reshape(3, 3, 3)
    >>> out = apply_filter(img, (1, 1, 1), {"type": "mean", "support_voxels": 3, "padding": "nearest"})
    >>> float(out[1, 1, 1])
    13.0
    """
    spec = parse_filter(spec)
    if len(spec.prefixes()) != 1:
        raise SettingsError(f"filter {spec.prefixes()} makes {len(spec.prefixes())} response maps; "
                            "use iter_responses, or one sub-band per spec")
    ((_, out),) = iter_responses(image, spacing_mm, spec)
    return out
