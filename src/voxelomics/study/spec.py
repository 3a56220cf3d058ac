"""The study file: its sections, validation and loading.

The study file names the cohort (manifests and/or DICOM folders to index), the extraction
settings, the clinical table and its join, the outcomes with the models to compare, the
validation (nested cross-validation and an optional external cohort) and the output
folder. :func:`load_study` validates it (unknown keys are refused with a "did you mean"),
:func:`check_study` refuses it before any work when a file or column it names is missing,
and :func:`run_study` runs every step through the same public functions as the separate
commands (:func:`voxelomics.io.index_dicom`, :func:`voxelomics.extract_cohort`,
:func:`voxelomics.model.workflow.run_cv` / ``fit_model`` / ``validate_model``,
:func:`voxelomics.report.write_report`), skipping each step whose inputs and settings have
not changed since the last run. ``docs/run_and_report.md`` documents the file and the outputs;
``voxelomics run --example`` prints a commented example.
"""

from __future__ import annotations

import difflib
import re
import typing
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from voxelomics.errors import InputError, SettingsError
from voxelomics.report.qc import QCSettings
from voxelomics.study.score import ScoreSpec, default_model

__all__ = ["Study", "CohortSpec", "ExtractionSpec", "ClinicalSpec", "ModelSpec", "OutcomeSpec",
           "ExternalSpec", "ValidationSpec", "ReportSpec", "load_study", "example_study"]

#: Keys of the ``validation`` section passed to every model's settings.
CV_KEYS = ("n_splits", "n_repeats", "inner_splits", "n_boot", "n_permutations", "random_state")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _listify(v):
    """One path or a list of paths -> a list."""
    return [v] if isinstance(v, (str, Path)) else (v or [])


class CohortSpec(_Strict):
    """Where the cases come from: manifests and DICOM folders, concatenated in this order.

    ``patient_id`` names the column holding each row's patient; the models keep a
    patient's rows in one fold and resample whole patients (``voxelomics model --group``).
    None: the ``patient_id`` column every extraction writes (the manifest's, the DICOM
    PatientID, else the case); ``"none"``: every row is an independent patient.
    """

    manifest: list[Path] = []
    dicom: list[Path] = []
    patient_id: str | None = None
    timepoint: str | None = None

    @field_validator("manifest", "dicom", mode="before")
    @classmethod
    def _one_or_many(cls, v):
        return _listify(v)

    @model_validator(mode="after")
    def _some(self):
        if not self.manifest and not self.dicom:
            raise ValueError("give a manifest or a dicom folder (or both)")
        if self.timepoint is not None:
            raise ValueError("timepoint designs (delta radiomics: voxelomics delta) cannot be run "
                             "from a study file yet")
        return self


class ExtractionSpec(_Strict):
    """Extraction settings: a preset, changed by inline settings or a settings file."""

    preset: str | None = None
    settings: Path | dict | None = None
    workers: int | None = Field(None, ge=1)
    scheduler: str | None = None
    retries: int = Field(0, ge=0)
    case_timeout: float | None = Field(None, gt=0)
    memory_limit: str | None = None
    naming: Literal["readable", "ibsi"] = "readable"


class ClinicalSpec(_Strict):
    """A clinical table joined to the features on a shared column."""

    table: Path
    on: str = "case_id"


class ModelSpec(_Strict):
    """One model to compare: a name and ``voxelomics model`` settings (docs/modelling.md)."""

    name: str
    type: Literal["radiomics", "deep"] = "radiomics"
    batch: str | None = None
    covariates: list[str] = []
    lesions: Literal["all", "largest", "volume_weighted"] | None = None
    settings: dict = {}

    @model_validator(mode="before")
    @classmethod
    def _from_short_form(cls, v):
        if isinstance(v, str):
            return {"name": v, "settings": {"model": v}}
        if isinstance(v, dict) and "settings" not in v:
            v = dict(v)
            own = {k: v.pop(k) for k in ("name", "type", "batch", "covariates", "lesions") if k in v}
            own.setdefault("name", str(v.get("model", "model")))
            return {**own, "settings": v}
        return v

    @model_validator(mode="after")
    def _radiomics_only(self):
        if self.type == "deep":
            raise ValueError("deep models are not available in studies yet (use voxelomics deep)")
        return self


class OutcomeSpec(_Strict):
    """An outcome (binary ``target``, continuous ``target``, or ``time`` + ``event``)."""

    name: str
    kind: Literal["binary", "continuous", "survival"] | None = None
    target: str | None = None
    time: str | None = None
    event: str | None = None
    models: list[ModelSpec] = []
    score: ScoreSpec | None = None

    @model_validator(mode="after")
    def _columns(self):
        kind = self.kind or ("survival" if self.time or self.event else "binary")
        if kind == "survival" and not (self.time and self.event and not self.target):
            raise ValueError(f"outcome {self.name!r}: a survival outcome needs time and event, not target")
        if kind != "survival" and not (self.target and not self.time and not self.event):
            raise ValueError(f"outcome {self.name!r}: a {kind} outcome needs target, not time/event")
        if self.score is not None and kind != "continuous":
            raise ValueError(f"outcome {self.name!r}: a score section belongs to a continuous outcome")
        models = self.models or [ModelSpec.model_validate(default_model(kind))]
        names = [m.name for m in models]
        if len(set(names)) != len(names):
            raise ValueError(f"outcome {self.name!r}: model names must differ, got {names}")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "models", models)
        return self


class ExternalSpec(_Strict):
    """An external cohort, extracted with the same settings and validated on the final models."""

    manifest: list[Path] = []
    dicom: list[Path] = []
    clinical: ClinicalSpec | None = None

    @field_validator("manifest", "dicom", mode="before")
    @classmethod
    def _one_or_many(cls, v):
        return _listify(v)

    @model_validator(mode="after")
    def _some(self):
        if not self.manifest and not self.dicom:
            raise ValueError("give the external cohort's manifest or dicom folder")
        return self


class ValidationSpec(_Strict):
    """Nested cross-validation settings shared by every model, and the external cohort."""

    n_splits: int | None = None
    n_repeats: int | None = None
    inner_splits: int | None = None
    n_boot: int | None = None
    n_permutations: int | None = None
    random_state: int | None = None
    external: ExternalSpec | None = None


class ReportSpec(_Strict):
    """The report: written at the end unless ``enabled: false``."""

    enabled: bool = True
    title: str | None = None
    group_by: str | None = None
    qc: QCSettings = QCSettings()


class Study(_Strict):
    """A validated study file. Paths are absolute (resolved against the file's folder).

    Attributes
    ----------
    name, description : str
    out : Path
        Output folder.
    cohort : CohortSpec
        ``manifest`` (CSV files), ``dicom`` (folders indexed like ``voxelomics index``),
        ``patient_id`` (column naming the patient of each row, or ``"none"``).
    extraction : ExtractionSpec
        ``preset``, ``settings`` (inline mapping or YAML file), ``workers``, ``scheduler``,
        ``retries``, ``case_timeout``, ``memory_limit``, ``naming``.
    clinical : ClinicalSpec or None
        ``table`` and the join column ``on`` (default ``case_id``).
    outcomes : list of OutcomeSpec
        Each with ``name``, ``target`` or ``time``/``event``, ``kind`` and ``models``.
    validation : ValidationSpec
        Cross-validation keys shared by the models, ``external`` cohort.
    report : ReportSpec
    """

    name: str
    description: str | None = None
    out: Path = Path("results")
    cohort: CohortSpec
    extraction: ExtractionSpec = ExtractionSpec()
    clinical: ClinicalSpec | None = None
    outcomes: list[OutcomeSpec] = []
    validation: ValidationSpec = ValidationSpec()
    report: ReportSpec = ReportSpec()

    def model_settings(self, model: ModelSpec):
        """The ``voxelomics model`` settings of one model (validation keys merged in).

        Parameters
        ----------
        model : ModelSpec

        Returns
        -------
        voxelomics.model.config.ModelSettings

        Raises
        ------
        SettingsError
            An unknown or invalid key, with a "did you mean".
        """
        from voxelomics.model.config import ModelSettings

        shared = {k: getattr(self.validation, k) for k in CV_KEYS if getattr(self.validation, k) is not None}
        data = {**shared, **model.settings}
        valid = list(ModelSettings.model_fields)
        for key in data:
            if key not in valid:
                raise SettingsError(f"unknown model setting {key!r} in model {model.name!r}"
                                    f"{_hint(key, valid)} (valid: {', '.join(valid)})")
        try:
            return ModelSettings(**data)
        except ValidationError as exc:
            # a value shared from the validation section is named there, not in the model
            shared_only = [e for e in exc.errors() if e["loc"] and e["loc"][0] in shared
                           and e["loc"][0] not in model.settings]
            if shared_only:
                raise SettingsError("; ".join(f"validation.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                              for e in shared_only)) from None
            raise SettingsError(f"model {model.name!r}: " + "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None

    def extraction_settings(self):
        """The validated extraction settings (preset, then the inline or file changes).

        Returns
        -------
        voxelomics.settings.Settings

        Raises
        ------
        SettingsError
        """
        from voxelomics.settings import Settings, load_preset

        ex = self.extraction
        if isinstance(ex.settings, Path):
            data = yaml.safe_load(Path(ex.settings).read_text()) or {}
            if not isinstance(data, dict):
                raise SettingsError("settings file must hold a mapping", path=ex.settings)
        else:
            data = dict(ex.settings or {})
        if ex.preset is not None and "preset" not in data:
            try:
                load_preset(ex.preset)
            except SettingsError as exc:
                raise SettingsError(f"extraction.preset: {exc.message}") from None
            data["preset"] = ex.preset
        if not data:
            return load_preset("default")
        return Settings.from_dict(data, source=str(ex.settings) if isinstance(ex.settings, Path) else "extraction.settings")


def _hint(key: str, valid) -> str:
    close = difflib.get_close_matches(str(key), [str(v) for v in valid], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _fields_at(loc: tuple) -> list[str]:
    cls: type[BaseModel] | None = Study
    for part in loc[:-1]:
        if isinstance(part, int) or cls is None:
            continue
        if part not in cls.model_fields:
            return []
        cls = next((t for t in _types(cls.model_fields[part].annotation)
                    if isinstance(t, type) and issubclass(t, BaseModel)), None)
    return list(cls.model_fields) if cls is not None else []


def _types(ann):
    yield ann
    for arg in typing.get_args(ann):
        yield from _types(arg)


def _explain(exc: ValidationError) -> str:
    msgs = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if p not in ("function-after", "function-before"))
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "(top)"
        if err["type"] == "extra_forbidden":
            valid = [f for f in _fields_at(loc) if f != "settings" or loc[-2:-1] != ("models",)]
            msgs.append(f"unknown key {where!r}{_hint(loc[-1], valid)}"
                        + (f" (valid here: {', '.join(valid)})" if valid else ""))
        else:
            msgs.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(msgs)


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. PyYAML follows YAML 1.1, where the key ``on``
    (the clinical join column) would be read as the boolean True."""


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in rs if tag != "tag:yaml.org,2002:bool"]
    for ch, rs in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def load_study(path: str | Path, *, out: str | Path | None = None) -> Study:
    """Read and validate a study file; paths are resolved against its folder.

    Parameters
    ----------
    path : str or Path
        Study YAML file.
    out : str or Path or None, default=None
        Output folder overriding the file's ``out`` (relative to the working directory).

    Returns
    -------
    Study

    Raises
    ------
    SettingsError
        Missing file, invalid YAML, unknown keys (with a "did you mean") or invalid values;
        the message names the file and the key.
    """
    p = Path(path)
    if not p.is_file():
        raise SettingsError("study file not found", path=p)
    try:
        raw = yaml.load(p.read_text(), Loader=_Loader) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"the study file is not valid YAML: {exc}", path=p) from None
    if not isinstance(raw, dict):
        raise SettingsError("the study file must hold a mapping of sections", path=p)
    try:
        study = Study.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(_explain(exc), path=p) from None
    base = p.resolve().parent
    res = lambda q: q if q.is_absolute() else (base / q).resolve()  # noqa: E731
    ext = study.validation.external
    upd = {
        "out": Path(out).resolve() if out is not None else res(study.out),
        "cohort": study.cohort.model_copy(update={"manifest": [res(q) for q in study.cohort.manifest],
                                                  "dicom": [res(q) for q in study.cohort.dicom]}),
        "extraction": study.extraction.model_copy(update={"settings": res(study.extraction.settings)}
                                                  if isinstance(study.extraction.settings, Path) else {}),
        "clinical": None if study.clinical is None else study.clinical.model_copy(
            update={"table": res(study.clinical.table)}),
    }
    if ext is not None:
        ext = ext.model_copy(update={"manifest": [res(q) for q in ext.manifest], "dicom": [res(q) for q in ext.dicom],
                                     "clinical": None if ext.clinical is None else ext.clinical.model_copy(
                                         update={"table": res(ext.clinical.table)})})
        upd["validation"] = study.validation.model_copy(update={"external": ext})
    return study.model_copy(update=upd)


def example_study() -> str:
    """The commented example study (``examples/study/study.yaml`` of the repository).

    Returns
    -------
    str

    Raises
    ------
    InputError
        The example is not found (not a repository checkout).
    """
    from voxelomics.io.reference import bundled_data_dir

    path = bundled_data_dir().parent / "examples" / "study" / "study.yaml"
    if not path.is_file():
        raise InputError("the example study is not found (run from a repository checkout)", path=path)
    return path.read_text()

