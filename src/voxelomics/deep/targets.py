"""Targets of a deep model: what is predicted, its loss, its scores and its metrics.

Four tasks, named as in ``voxelomics model`` where they exist there:

=============== ============================ =================================== ==========================
task            manifest columns             loss                                metrics (95% bootstrap CI)
=============== ============================ =================================== ==========================
classification  ``--target`` with 2 values   BCE with logits, ``pos_weight``     AUC, balanced accuracy,
                                                                                 Brier, calibration
                                                                                 (:mod:`voxelomics.model.metrics`)
multiclass      ``--target``, 3-20 classes   cross-entropy, class weights        macro one-vs-rest AUC,
                                                                                 accuracy, balanced accuracy
regression      ``--target``, numbers        mean squared error (standardised)   R², Spearman rho, MAE
survival        ``--time`` and ``--event``   negative Cox partial log-likelihood Harrell's and Uno's C, td-AUC
                                             (Breslow ties)                      (:mod:`voxelomics.model.survival`)
=============== ============================ =================================== ==========================

Binary labels are coded as ``voxelomics model`` codes them: the classes sorted, the second is 1.
``task="auto"`` picks classification for 2 distinct values, multiclass for 3-20 whole-number or
text values, regression for other numbers.

Multiclass and regression intervals follow :mod:`voxelomics.model.metrics`: the metric is
averaged over CV repeats, and patients (rows) are resampled with replacement, stratified by
class (multiclass) or not at all (regression), with the same resampler
(:func:`voxelomics.model.metrics.bootstrap_indices`).

References
----------
Cox DR. Regression models and life-tables. J R Stat Soc B 34 (1972) 187-220.
Breslow NE. Covariance analysis of censored survival data. Biometrics 30 (1974) 89-99.
Katzman JL et al. DeepSurv. BMC Med Res Methodol 18 (2018) 24 (Cox loss for networks).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from voxelomics.errors import ModelError

__all__ = ["TASKS", "Target", "make_target", "cox_loss", "task_metrics", "headline_metric"]

TASKS = ("classification", "multiclass", "regression", "survival")
MAX_CLASSES = 20


@dataclass
class Target:
    """The outcome of every case, encoded for the network.

    Attributes
    ----------
    task : {"classification", "multiclass", "regression", "survival"}
    y : ndarray of shape (n_cases,)
        Class codes 0..k-1 (int), values (float), or an sksurv structured array
        (``event``, ``time``).
    classes : list
        Original class labels (classification tasks), code order.
    columns : dict
        Manifest columns used: ``target`` or ``time``/``event``.
    """

    task: str
    y: np.ndarray
    classes: list = field(default_factory=list)
    columns: dict = field(default_factory=dict)

    @property
    def n_outputs(self) -> int:
        """Network outputs: the number of classes for multiclass, else 1."""
        return len(self.classes) if self.task == "multiclass" else 1

    @property
    def split_task(self) -> str:
        """Task name of :func:`voxelomics.model.splits.outer_folds`."""
        return {"multiclass": "classification"}.get(self.task, self.task)

    def strata(self) -> np.ndarray:
        """Labels for stratified resampling (class, event, or one stratum).

        Returns
        -------
        ndarray of int of shape (n_cases,)
        """
        if self.task in ("classification", "multiclass"):
            return np.asarray(self.y, int)
        if self.task == "survival":
            from voxelomics.model.survival import event_field

            return event_field(self.y).astype(int)
        return np.zeros(len(self.y), int)

    def arrays(self) -> dict[str, np.ndarray]:
        """Columns the training loop needs as float arrays.

        Returns
        -------
        dict
            ``y`` (codes or values), and ``time``/``event`` for survival.
        """
        if self.task == "survival":
            from voxelomics.model.survival import event_field, time_field

            return {"time": time_field(self.y).astype(np.float32),
                    "event": event_field(self.y).astype(np.float32)}
        return {"y": np.asarray(self.y, np.float32)}

    def subset(self, idx) -> Target:
        """The target of some cases.

        Parameters
        ----------
        idx : array of int

        Returns
        -------
        Target
        """
        return Target(self.task, self.y[np.asarray(idx)], list(self.classes), dict(self.columns))


def _is_number(v) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return not isinstance(v, bool)


def make_target(values=None, *, time=None, event=None, task: str = "auto", names=None,
                columns: dict | None = None) -> Target:
    """Encode an outcome column (or survival columns) of a manifest.

    Parameters
    ----------
    values : sequence or None
        ``--target`` values, one per case (None entries are missing).
    time, event : sequence or None
        Survival time (any unit) and event indicator (0/1 or booleans), one per case.
    task : {"auto", "classification", "multiclass", "regression", "survival"}, default="auto"
    names : sequence of str or None
        Case identifiers, to name the cases in errors.
    columns : dict or None
        Column names, recorded and used in messages.

    Returns
    -------
    Target

    Raises
    ------
    ModelError
        Missing values (the cases are named), one class only, a class with fewer than two
        cases, more than 20 classes, non-numbers for regression, survival columns that are
        not times and 0/1 events, or no event.
    """
    columns = dict(columns or {})
    names = list(names) if names is not None else None

    def missing(vals, what):
        bad = [i for i, v in enumerate(vals) if v is None or (isinstance(v, float) and v != v)]
        if bad:
            who = ", ".join(repr(names[i]) if names else str(i) for i in bad[:5])
            raise ModelError(f"{what} is missing for {len(bad)} case(s): {who}"
                             + (" ..." if len(bad) > 5 else "") + "; drop them from the manifest")

    if time is not None or event is not None:
        if values is not None:
            raise ModelError("give either a target or time and event (survival), not both")
        if time is None or event is None:
            raise ModelError("survival needs both --time and --event")
        missing(time, f"time column {columns.get('time')!r}")
        missing(event, f"event column {columns.get('event')!r}")
        from sksurv.util import Surv

        t = np.asarray([float(v) if _is_number(v) else np.nan for v in time])
        if np.isnan(t).any() or (t < 0).any():
            raise ModelError(f"time column {columns.get('time')!r} must hold non-negative numbers")
        ev = {str(v).strip().lower() for v in event}
        if not ev <= {"0", "1", "true", "false", "0.0", "1.0"}:
            raise ModelError(f"event column {columns.get('event')!r} must hold 0/1 or true/false, "
                             f"found {sorted(ev)[:6]}")
        e = np.asarray([str(v).strip().lower() in ("1", "true", "1.0") for v in event])
        if not e.any():
            raise ModelError(f"event column {columns.get('event')!r} holds no event (every case is "
                             "censored); survival models need events")
        return Target("survival", Surv.from_arrays(event=e, time=t), [], columns)
    if values is None:
        raise ModelError("give --target COL, or --time COL and --event COL")
    what = f"target column {columns.get('target')!r}"
    missing(values, what)
    vals = list(values)
    distinct = sorted(set(vals), key=lambda v: (str(type(v)), v))
    numeric = all(_is_number(v) for v in vals)
    whole = numeric and all(float(v).is_integer() for v in vals)
    if task == "auto":
        if len(distinct) == 2:
            task = "classification"
        elif not numeric or (whole and len(distinct) <= MAX_CLASSES):
            task = "multiclass"
        else:
            task = "regression"
    if task not in TASKS or task == "survival":
        raise ModelError(f"unknown task {task!r} for --target; expected auto, classification, "
                         "multiclass or regression (survival: --time and --event)")
    if task == "regression":
        if not numeric:
            bad = next(v for v in vals if not _is_number(v))
            raise ModelError(f"{what} must hold numbers for regression, found {bad!r}")
        y = np.asarray([float(v) for v in vals])
        if np.ptp(y) == 0:
            raise ModelError(f"{what} holds one value ({y[0]:g}) in all {len(y)} cases; nothing "
                             "to predict")
        return Target("regression", y, [], columns)
    if len(distinct) < 2:
        raise ModelError(f"{what} holds one class only ({distinct[0]!r} in all {len(vals)} cases); "
                         "a classifier needs at least two classes")
    if task == "classification" and len(distinct) != 2:
        raise ModelError(f"{what} must be binary for classification, found {len(distinct)} "
                         f"values {distinct[:6]} (use --task multiclass or regression)")
    if len(distinct) > MAX_CLASSES:
        raise ModelError(f"{what} holds {len(distinct)} classes (at most {MAX_CLASSES}); is it a "
                         "continuous target (--task regression)?")
    codes = np.asarray([distinct.index(v) for v in vals], int)
    counts = np.bincount(codes, minlength=len(distinct))
    if counts.min() < 2:
        rare = [str(distinct[k]) for k in np.flatnonzero(counts < 2)]
        raise ModelError(f"{what}: class(es) {rare} hold fewer than 2 cases; merge or drop them")
    return Target(task, codes, distinct, columns)


def cox_loss(log_risk, time, event):
    """Negative Cox partial log-likelihood of a batch, Breslow's handling of ties.

    Parameters
    ----------
    log_risk : Tensor of shape (batch,)
        Network output (log hazard ratio).
    time : Tensor of shape (batch,)
        Follow-up time.
    event : Tensor of shape (batch,)
        1 for an event, 0 for censored.

    Returns
    -------
    Tensor of shape ()
        Mean over events of ``log sum_{j: t_j >= t_i} exp(r_j) - r_i``; 0 (with a gradient)
        when the batch holds no event.

    Notes
    -----
    With cases sorted by decreasing time, the risk set of case ``i`` is the prefix up to the
    last case with the same time (Breslow), so a cumulative log-sum-exp gives every
    denominator in one pass.
    """
    import torch

    order = torch.argsort(time, descending=True)
    r, t, e = log_risk[order].float(), time[order], event[order]
    lse = torch.logcumsumexp(r, dim=0)
    # ties: every case of a time takes the denominator of the last case with that time
    last = torch.searchsorted(-t, -t, right=True) - 1
    denom = lse[last]
    n_events = e.sum()
    if n_events == 0:
        return (r * 0.0).sum()
    return ((denom - r) * e).sum() / n_events


def _multiclass_metrics(y: np.ndarray, prob: np.ndarray) -> dict[str, float]:
    from voxelomics.model.metrics import roc_auc

    k = prob.shape[1]
    aucs = [roc_auc((y == c).astype(int), prob[:, c]) for c in range(k)]
    pred = prob.argmax(1)
    recalls = [np.mean(pred[y == c] == c) for c in range(k) if np.any(y == c)]
    return {"macro_auc": float(np.nanmean(aucs)) if np.isfinite(aucs).any() else float("nan"),
            "accuracy": float(np.mean(pred == y)),
            "balanced_accuracy": float(np.mean(recalls))}


def _regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from scipy.stats import spearmanr

    ss_res = float(np.sum((y - pred) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    rho = spearmanr(y, pred).statistic if np.ptp(pred) > 0 else float("nan")
    return {"r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
            "spearman": float(rho), "mae": float(np.mean(np.abs(y - pred)))}


def _bootstrap(target: Target, scores: np.ndarray, fn, n_boot: int, seed: int, level: float,
               groups=None) -> dict:
    from voxelomics.deep.compare import with_groups
    from voxelomics.model.metrics import bootstrap_indices

    per = [fn(target.y, s) for s in scores]
    idx = bootstrap_indices(target.strata(), n_boot, seed, **with_groups(bootstrap_indices, groups))
    boots = []
    for b in idx:
        vals = [fn(target.y[b], s[b]) for s in scores]
        boots.append({k: np.nanmean([v[k] for v in vals]) for k in vals[0]})
    alpha = (1 - level) / 2
    out = {}
    for key in per[0]:
        values = np.array([m[key] for m in per])
        b = np.array([m[key] for m in boots], float)
        b = b[np.isfinite(b)]
        out[key] = {"mean": float(np.nanmean(values)) if np.isfinite(values).any() else float("nan"),
                    "ci95": ([float(np.quantile(b, alpha)), float(np.quantile(b, 1 - alpha))]
                             if b.size else [float("nan"), float("nan")]),
                    "per_repeat": [float(v) for v in values]}
    return out


def task_metrics(target: Target, scores: np.ndarray, *, n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95, groups=None) -> dict:
    """Repeat-averaged metrics with percentile-bootstrap intervals, as ``voxelomics model cv``.

    Parameters
    ----------
    target : Target
    scores : ndarray
        Out-of-fold scores, one row per repeat: shape (n_repeats, n_cases) of probabilities of
        class 1 (classification), values (regression) or risks (survival); shape
        (n_repeats, n_cases, n_classes) of class probabilities (multiclass).
    n_boot : int, default=1000
        Resamples (survival: at most 200, as ``voxelomics model``).
    seed : int, default=0
    level : float, default=0.95
    groups : array-like of shape (n_cases,) or None
        Patient of every case: whole patients are resampled when the model package's
        bootstrap takes groups.

    Returns
    -------
    metrics : dict
        ``{name: {"mean", "ci95", "per_repeat"}}``; names as in ``voxelomics model`` for
        classification and survival, ``macro_auc``, ``accuracy``, ``balanced_accuracy``
        (multiclass) and ``r2``, ``spearman``, ``mae`` (regression).
    """
    from voxelomics.deep.compare import with_groups

    if target.task == "classification":
        from voxelomics.model.metrics import bootstrap_metrics

        return bootstrap_metrics(target.y, scores, n_boot=n_boot, seed=seed, level=level,
                                 **with_groups(bootstrap_metrics, groups))
    if target.task == "survival":
        from voxelomics.model.survival import survival_metrics

        return survival_metrics(target.y, scores, n_boot=min(n_boot, 200), seed=seed, level=level,
                                **with_groups(survival_metrics, groups))
    fn = _multiclass_metrics if target.task == "multiclass" else _regression_metrics
    scores = np.asarray(scores, float)
    if target.task == "regression":
        scores = np.atleast_2d(scores)
    elif scores.ndim == 2:
        scores = scores[None]
    return _bootstrap(target, scores, fn, min(n_boot, 500), seed, level, groups)


def headline_metric(task: str) -> str:
    """The metric reported first (and used for paired comparisons) for a task.

    Parameters
    ----------
    task : str

    Returns
    -------
    str
        ``auc``, ``macro_auc``, ``r2`` or ``c_index``.
    """
    return {"classification": "auc", "multiclass": "macro_auc", "regression": "r2",
            "survival": "c_index"}[task]
