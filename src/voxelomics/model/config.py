"""Settings of the modelling step (validated once, at the edge).

``voxelomics model ... --settings FILE`` reads a YAML file with these keys, either at
the top level or under a ``model:`` section; command-line options override them.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from voxelomics.errors import SettingsError

__all__ = ["ModelSettings", "load_model_settings"]


class ModelSettings(BaseModel):
    """Model, selection and validation settings.

    Attributes
    ----------
    model : {"superlearner", "ensemble", "auto", "enet_lr", "svm", "rf", "gb", "coxnet", "rsf", "enet"} or None
        ``None`` picks ``superlearner`` for a binary target, ``coxnet`` for survival and
        ``enet`` (elastic-net regression) for a continuous target; ``rf`` is a random
        forest classifier or regressor, as the target asks.
    selector : {"anova", "mannwhitney", "mrmr", "none"}
    correlation_threshold : float in (0, 1]
    n_splits, n_repeats, inner_splits, inner_repeats : int
        Outer folds, outer repeats, inner folds and inner repeats of the nested CV.
    n_boot : int
        Bootstrap resamples for confidence intervals.
    n_permutations : int
        Label permutations of the permutation test (0 = off).
    random_state : int
    unseen_batch : {"error", "pooled"}
        What ComBat does with a batch level missing from the rows it was fitted on (an
        outer training fold in ``cv``; the training table for a saved model): refuse, or
        leave those rows unadjusted. ``predict``/``validate --unseen-batch`` override it.
    baselines : list of str
        Comparators scored beside the model on the same folds
        (:mod:`voxelomics.model.baselines`): ``volume``, ``clinical``, ``batch``,
        ``covariates`` (each when its input exists), ``fixed`` (``anova16_lr`` for
        classification, ``cox16`` for survival, ``ridge16`` for a continuous target) or a
        fixed pipeline by name (``anova16_lr``, ``lasso16_lr``, ``et32_rf``, ``cox16``,
        ``ridge16``).
    n_jobs : int
        Worker processes for the outer folds (``--jobs``; -1 = every core).

    See ``docs/modelling.md`` for meanings, defaults and an example file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Literal["superlearner", "ensemble", "auto", "enet_lr", "svm", "rf", "gb", "coxnet", "rsf",
                   "enet"] | None = None
    selector: Literal["anova", "mannwhitney", "mrmr", "none"] = "anova"
    correlation_threshold: float = Field(0.9, gt=0, le=1)
    n_splits: int = Field(5, ge=2, le=20)
    n_repeats: int = Field(3, ge=1, le=100)
    inner_splits: int = Field(5, ge=2, le=20)
    inner_repeats: int = Field(2, ge=1, le=20)
    n_boot: int = Field(1000, ge=50)
    n_permutations: int = Field(0, ge=0)
    random_state: int = 0
    unseen_batch: Literal["error", "pooled"] = "error"
    baselines: list[Literal["volume", "clinical", "batch", "covariates", "fixed", "anova16_lr",
                            "lasso16_lr", "et32_rf", "cox16", "ridge16"]] = [
        "volume", "clinical", "batch", "covariates", "fixed"]
    n_jobs: int = Field(1, ge=-1)

    @field_validator("n_jobs")
    @classmethod
    def _jobs_not_zero(cls, v: int) -> int:
        if v == 0:
            raise ValueError("n_jobs must be a number of processes >= 1, or -1 for every core")
        return v

    def resolved_model(self, task: str) -> str:
        """Model name for a task.

        Parameters
        ----------
        task : {"classification", "survival", "regression"}

        Returns
        -------
        name : str

        Raises
        ------
        SettingsError
            If the model does not fit the task (e.g. ``rf`` with time/event).
        """
        surv = {"coxnet", "rsf"}
        if task == "regression":
            from voxelomics.model.regression import REGRESSION_MODELS

            if self.model is None:
                return "enet"
            if self.model not in REGRESSION_MODELS:
                raise SettingsError(f"model {self.model!r} does not fit a continuous target "
                                    f"(regression); use {list(REGRESSION_MODELS)}")
            return self.model
        if self.model == "enet":
            raise SettingsError(f"model 'enet' (elastic-net regression) needs a continuous "
                                f"target; for a {task} task use "
                                + ("'coxnet'" if task == "survival" else "'enet_lr'"))
        if self.model is None:
            return "coxnet" if task == "survival" else "superlearner"
        if (self.model in surv) != (task == "survival"):
            raise SettingsError(
                f"model {self.model!r} does not fit a {task} task; use "
                f"{sorted(surv) if task == 'survival' else ['superlearner', 'ensemble', 'auto', 'enet_lr', 'svm', 'rf', 'gb']}"
            )
        return self.model

    def resolved_baselines(self, task: str) -> list[str]:
        """Comparator names for a task (``fixed`` resolved; others of the task kept).

        Parameters
        ----------
        task : {"classification", "survival", "regression"}

        Returns
        -------
        names : list of str
            In the order given, without duplicates; fixed pipelines of the other tasks
            are left out.
        """
        from voxelomics.model.baselines import FIXED

        other = {n for t, names in FIXED.items() if t != task for n in names}
        out: list[str] = []
        for b in self.baselines:
            name = FIXED[task][0] if b == "fixed" else b
            if name not in other and name not in out:
                out.append(name)
        return out


def load_model_settings(path: str | Path | None, **overrides) -> ModelSettings:
    """Read model settings from YAML and apply command-line overrides.

    Parameters
    ----------
    path : str or Path or None
        YAML file (keys at the top level or under ``model:``); None for defaults.
    **overrides
        Settings given on the command line; ``None`` values are ignored.

    Returns
    -------
    ModelSettings

    Raises
    ------
    SettingsError
        If the file is missing or unreadable, or a key or value is invalid.
    """
    import yaml

    data: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise SettingsError("settings file not found", path=p)
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise SettingsError(f"settings file is not valid YAML: {exc}", path=p) from exc
        if isinstance(data, dict) and isinstance(data.get("model"), dict):
            data = data["model"]
        if not isinstance(data, dict):
            raise SettingsError("settings file must hold a mapping of model settings", path=p)
    data.update({k: v for k, v in overrides.items() if v is not None})
    valid = list(ModelSettings.model_fields)
    unknown = [str(k) for k in data if k not in valid]
    if unknown:
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k.lower(), valid, n=1, cutoff=0.6)
            hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        bad = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in _errors(data, unknown))
        raise SettingsError(
            f"invalid model settings: unknown key(s) {', '.join(hints)}; valid keys: "
            f"{', '.join(valid)}" + (f"; also {bad}" if bad else ""), path=path)
    try:
        return ModelSettings(**data)
    except ValidationError as exc:
        msgs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"invalid model settings: {msgs}", path=path) from exc


def _errors(data: dict, unknown: list[str]) -> list:
    """Validation errors of the known keys (reported together with unknown keys)."""
    try:
        ModelSettings(**{k: v for k, v in data.items() if k not in unknown})
    except ValidationError as exc:
        return exc.errors()
    return []
