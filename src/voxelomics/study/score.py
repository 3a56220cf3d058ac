"""Continuous outcomes and the score-validation step of a study file.

A study outcome of ``kind: continuous`` (a gene-expression level, a cell density) is
cross-validated like any outcome (``voxelomics model cv`` with a continuous target: R²,
Spearman's rho, MAE with CIs). With an external cohort and a ``score`` section, its final
model is a named score, applied unchanged to the external cohort and tested against the
outcomes measured there (the design of Sun et al., Lancet Oncol 2018)::

    outcomes:
      - name: CD8 infiltration
        kind: continuous
        target: cd8b_expression
        models:
          - name: elastic net
            model: enet
            covariates: [dicom_kvp, location]   # outside feature selection
        score:
          name: CD8_score          # the prediction's name (default: the outcome's name)
          cutoff: median           # low/high groups: the training median, or a number
          target: response         # external cohort: a binary (or continuous) column ...
          time: os_months          # ... and/or survival
          event: death

The hooks here turn an outcome and a model of the study into the
:class:`~voxelomics.model.workflow.TableSpec` and keyword arguments of the model
workflows; :mod:`voxelomics.study.runner` calls them.
"""

from __future__ import annotations

import re
from dataclasses import replace

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["ScoreSpec", "task_of", "adjust_spec", "fit_kwargs", "validation_spec",
           "external_columns", "step_summary", "default_model"]


class ScoreSpec(BaseModel):
    """The score of a continuous outcome and what it is tested against externally.

    Attributes
    ----------
    name : str or None
        Name of the prediction (``--score-name``); default: the outcome's name made
        into a column name with ``_score``.
    cutoff : "median" or float
        Cut-off into low/high groups, fixed on the training cohort.
    target : str or None
        Column of the external cohort: binary (AUC) or continuous (R² ...).
    time, event : str or None
        Survival columns of the external cohort (Cox HR, Kaplan-Meier of the groups).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    cutoff: str | float = "median"
    target: str | None = None
    time: str | None = None
    event: str | None = None

    @model_validator(mode="after")
    def _something_to_test(self):
        if (self.time is None) != (self.event is None):
            raise ValueError("score: survival needs both time and event")
        if self.target is None and self.time is None:
            raise ValueError("score: give the external cohort's outcome(s) to test the score "
                             "against: target (binary or continuous) and/or time + event")
        if isinstance(self.cutoff, str) and self.cutoff.strip().lower() != "median":
            raise ValueError(f"score.cutoff must be 'median' or a number, got {self.cutoff!r}")
        return self


def task_of(outcome) -> str:
    """The model task of a study outcome.

    Parameters
    ----------
    outcome : OutcomeSpec

    Returns
    -------
    task : {"classification", "survival", "regression"}
    """
    return {"survival": "survival", "continuous": "regression"}.get(outcome.kind, "classification")


def default_model(kind: str) -> str:
    """Model used when an outcome lists none.

    Parameters
    ----------
    kind : {"binary", "continuous", "survival"}

    Returns
    -------
    name : str
    """
    return {"survival": "coxnet", "continuous": "enet"}.get(kind, "superlearner")


def adjust_spec(spec, outcome, model):
    """Add the outcome's task and the model's covariates and lesion rule to a table spec.

    Parameters
    ----------
    spec : TableSpec
    outcome : OutcomeSpec
    model : ModelSpec

    Returns
    -------
    TableSpec
    """
    extra = {"task": None if outcome.kind == "survival" else task_of(outcome)}
    fields = getattr(type(spec), "__dataclass_fields__", {})
    if "covariates" in fields and getattr(model, "covariates", None):
        extra["covariates"] = tuple(model.covariates)
    if "lesions" in fields and getattr(model, "lesions", None):
        extra["lesions"] = model.lesions
    return replace(spec, **{k: v for k, v in extra.items() if k in fields})


def _score_name(outcome) -> str:
    if outcome.score is not None and outcome.score.name:
        return outcome.score.name
    return re.sub(r"\W+", "_", outcome.name).strip("_") + "_score"


def fit_kwargs(outcome) -> dict:
    """Keyword arguments of :func:`~voxelomics.model.workflow.fit_model` for an outcome.

    Parameters
    ----------
    outcome : OutcomeSpec

    Returns
    -------
    kwargs : dict
        ``score_name`` and ``score_cutoff`` for an outcome with a ``score`` section.
    """
    if getattr(outcome, "score", None) is None:
        return {}
    return {"score_name": _score_name(outcome), "score_cutoff": outcome.score.cutoff}


def validation_spec(spec, outcome):
    """The external cohort's outcome columns: the score's, for an outcome with a score.

    Parameters
    ----------
    spec : TableSpec
        Built from the outcome's own columns.
    outcome : OutcomeSpec

    Returns
    -------
    TableSpec
    """
    sc = getattr(outcome, "score", None)
    if sc is None:
        return spec
    return replace(spec, target=sc.target, time=sc.time, event=sc.event, task=None)


def external_columns(outcome) -> list[tuple[str, str]]:
    """Columns the external cohort must hold for an outcome: ``(key, column)``.

    Parameters
    ----------
    outcome : OutcomeSpec

    Returns
    -------
    columns : list of (str, str)
    """
    sc = getattr(outcome, "score", None)
    if sc is None:
        return [(n, getattr(outcome, n)) for n in ("target", "time", "event")
                if getattr(outcome, n) is not None]
    return [(f"score.{n}", getattr(sc, n)) for n in ("target", "time", "event")
            if getattr(sc, n) is not None]


def step_summary(metrics: dict) -> str:
    """One line for the run log of a cross-validation or validation step.

    Parameters
    ----------
    metrics : dict
        ``metrics.json`` of ``model cv`` or ``model validate``.

    Returns
    -------
    text : str
    """
    def ci(v: dict) -> str:
        lo, hi = (list(v.get("ci95") or []) + [float("nan")] * 2)[:2]
        return f"{v.get('mean', float('nan')):.3f} (95% CI {lo:.3f}–{hi:.3f})"

    n = f"n={metrics.get('n_samples')}"
    if str(metrics.get("schema", "")).startswith("voxelomics.model.validate_score"):
        parts = [f"score {metrics['score']['name']}"]
        if "continuous" in metrics:
            parts.append(f"r2 {ci(metrics['continuous']['r2'])}")
        if "binary" in metrics:
            parts.append(f"AUC {ci(metrics['binary']['auc'])}")
        surv = metrics.get("survival") or {}
        if surv.get("hr_per_sd"):
            h = surv["hr_per_sd"]
            parts.append(f"HR per SD {h['hr']:.2f} ({h['ci95'][0]:.2f}–{h['ci95'][1]:.2f})")
        if surv.get("logrank"):
            parts.append(f"log-rank p {surv['logrank']['p_value']:.3g}")
        return "; ".join(parts) + f", {n}"
    key = {"classification": "auc", "regression": "r2"}.get(metrics.get("task"), "c_index")
    return f"{key} {ci(metrics.get(key) or {})}, {n}"
