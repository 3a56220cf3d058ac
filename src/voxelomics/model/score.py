"""A score that travels: a fitted model's prediction applied unchanged to another cohort.

The design of Sun et al. (Lancet Oncol 2018): a radiomic score of CD8 infiltration is
trained on one cohort against a continuous target (CD8B expression), then carried
*unchanged* to other cohorts where no CD8 was measured, and its association with the
outcomes there is tested. ``voxelomics model fit ... --score-name CD8_score`` names the
prediction and fixes, on the training cohort only, the cut-off into a low- and a
high-score group (:func:`training_score`); ``voxelomics model validate MODEL TABLE
[--target COL] [--time COL --event COL]`` then tests (:func:`validate_score`):

* **a continuous target** (the same quantity measured in the new cohort): R², Spearman's
  rho, MAE and RMSE with bootstrap CIs, and the comparators (volume-only ...) with paired
  differences, as ``model cv`` reports them;
* **a binary outcome** (response): the AUC of the score with a bootstrap CI over patients,
  the Mann-Whitney p-value, the score by class; and the AUC of each comparator's prediction
  used as a score, with the paired difference;
* **survival** (time, event): the Cox hazard ratio per unit of the score and per standard
  deviation of the score in this cohort (Wald CI and p-value;
  :func:`voxelomics.model.cox.cox_univariable`, Efron ties), Harrell's C-index with a
  bootstrap CI; the training cut-off applied unchanged: the two groups' sizes and events,
  the hazard ratio high vs low, the log-rank test, Kaplan-Meier curves with numbers at risk.

Nothing is re-estimated on the validation cohort: not the model, not the cut-off. The
direction is the score's: a hazard ratio below 1 (and a C-index below 0.5) means a higher
score goes with longer survival, an AUC below 0.5 that a higher score goes with the first
class. A score applied to an outcome of a different kind than it was trained for is a
test of association, not of calibration.

References
----------
Sun R et al. A radiomics approach to assess tumour-infiltrating CD8 cells and response to
anti-PD-1 or anti-PD-L1 immunotherapy: an imaging biomarker, retrospective multicohort
study. Lancet Oncol 19 (2018) 1180-1191.
Altman DG, Royston P. What do we mean by validating a prognostic model? Stat Med 19 (2000)
453-473.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from voxelomics.errors import ModelError

__all__ = ["DEFAULT_SCORE_NAMES", "training_score", "score_cutoff_value", "binary_association",
           "survival_association", "validate_score", "is_score_validation", "score_summary"]

#: Name of the prediction column when no ``--score-name`` is given.
DEFAULT_SCORE_NAMES = {"regression": "predicted", "classification": "probability",
                       "survival": "risk_score"}
_MEDIAN_RULE = ("median of the fitted model's scores of the training rows (the training "
                "cohort only; applied unchanged to every other cohort)")


def _describe(v: np.ndarray) -> dict:
    v = np.asarray(v, float)
    return {"n": int(v.size), "mean": float(np.mean(v)),
            "sd": float(np.std(v, ddof=1)) if v.size > 1 else float("nan"),
            "median": float(np.median(v)), "min": float(np.min(v)), "max": float(np.max(v))}


def training_score(scores, *, task: str, name: str | None = None,
                   cutoff: str | float = "median") -> dict:
    """The score section of ``model.json``: name, training distribution and cut-off.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        The fitted model's scores of its training rows.
    task : {"classification", "survival", "regression"}
    name : str or None, default=None
        ``--score-name``; default :data:`DEFAULT_SCORE_NAMES` of the task.
    cutoff : "median" or float, default="median"
        The training median, or a value given by the user.

    Returns
    -------
    score : dict
        ``name``, ``named`` (True when given), ``training`` (n, mean, sd, median, min,
        max), ``cutoff`` (``{"value", "rule"}``).

    Raises
    ------
    ModelError
        A cut-off that is neither "median" nor a number, or a name that clashes with a
        column of the prediction file.
    """
    v = np.asarray(scores, float)
    if name is not None and name in ("id", "observed", "observed_time", "observed_event",
                                      "predicted_class", "score_group"):
        raise ModelError(f"--score-name {name!r} clashes with a column of the prediction "
                         "files; choose another name")
    if isinstance(cutoff, str) and cutoff.strip().lower() == "median":
        value, rule = float(np.median(v)), _MEDIAN_RULE
    else:
        try:
            value = float(cutoff)
        except (TypeError, ValueError):
            raise ModelError(f"--score-cutoff must be 'median' or a number, got {cutoff!r}") from None
        rule = "given with --score-cutoff when the model was fitted"
    return {"name": name or DEFAULT_SCORE_NAMES.get(task, "predicted"), "named": name is not None,
            "training": _describe(v), "cutoff": {"value": value, "rule": rule}}


def score_cutoff_value(meta: dict) -> tuple[float | None, str]:
    """The training cut-off stored with a model (None for a model saved without one).

    Parameters
    ----------
    meta : dict
        ``model.json``.

    Returns
    -------
    value : float or None
    rule : str
    """
    cut = (meta.get("score") or {}).get("cutoff") or {}
    if cut.get("value") is None:
        return None, "no training cut-off stored with the model (refit it with this version)"
    return float(cut["value"]), str(cut.get("rule", ""))


def is_score_validation(meta: dict, spec) -> bool:
    """Whether ``model validate`` tests the model's prediction as a score.

    Parameters
    ----------
    meta : dict
        ``model.json``.
    spec : TableSpec
        The validation table and its outcome columns.

    Returns
    -------
    bool
        True for a model of a continuous target, when both a target and survival columns
        are given, or when the outcome is of another kind than the model's.
    """
    task = meta.get("task")
    if task == "regression":
        return True
    surv = spec.time is not None or spec.event is not None
    if spec.target is not None and surv:
        return True
    return (task == "classification" and surv) or (task == "survival" and spec.target is not None)


def _ci_entry(point: float, boot: np.ndarray, level: float = 0.95) -> dict:
    from voxelomics.model.metrics import _interval

    ci, n_ok = _interval(np.asarray(boot, float), level)
    return {"mean": float(point), "ci95": ci, "n_boot": n_ok}


def binary_association(y, score, *, classes, groups=None, n_boot: int = 1000, seed: int = 0,
                       comparators: dict | None = None) -> dict:
    """Association of a score with a binary outcome.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        0/1 (1 = the second of ``classes``).
    score : array-like of shape (n_samples,)
    classes : list
        Original labels of 0 and 1.
    groups : array-like or None
        Patient of each row (whole patients are resampled).
    n_boot, seed : int
    comparators : dict of str to ndarray or None
        Other scores of the same rows (the comparators' predictions).

    Returns
    -------
    result : dict
        ``auc`` (``{"mean", "ci95", "n_boot"}``; probability that a row of the second
        class has a higher score than one of the first), ``mann_whitney_p`` (two-sided),
        ``classes``, ``class_balance``, ``score_by_class`` (n, median, quartiles) and
        ``comparators`` (name -> ``auc`` and ``difference`` {"auc": paired difference
        score - comparator with CI and p-value}, ``model_better``: the CI excludes 0 on the
        side of the score's direction), ``direction``.
    """
    from scipy.stats import mannwhitneyu

    from voxelomics.model.metrics import (
        bootstrap_weights,
        paired_differences,
        roc_auc,
        weighted_auc,
    )

    y = np.asarray(y).astype(int)
    s = np.asarray(score, float)
    weights = bootstrap_weights(y.size, n_boot, seed, groups=groups)
    labels = [str(c) for c in classes]
    out = {"classes": labels, "n": int(y.size),
           "class_balance": {labels[0]: int((y == 0).sum()), labels[1]: int((y == 1).sum())},
           "auc": _ci_entry(roc_auc(y, s), weighted_auc(y, s, weights)),
           "mann_whitney_p": float(mannwhitneyu(s[y == 1], s[y == 0],
                                                alternative="two-sided").pvalue),
           "score_by_class": {lab: {"n": int((y == k).sum()),
                                    "median": float(np.median(s[y == k])),
                                    "q25": float(np.quantile(s[y == k], 0.25)),
                                    "q75": float(np.quantile(s[y == k], 0.75))}
                              for k, lab in enumerate(labels)}}
    comps = {k: np.asarray(v, float) for k, v in (comparators or {}).items()
             if np.isfinite(np.asarray(v, float)).all()}
    if comps:
        diffs = paired_differences(y, s, comps, n_boot=n_boot, seed=seed, groups=groups,
                                   keys=("auc",))
        out["comparators"] = {}
        sign = 1.0 if out["auc"]["mean"] >= 0.5 else -1.0
        for name, p in comps.items():
            d = diffs[name]["auc"]
            out["comparators"][name] = {
                "auc": _ci_entry(roc_auc(y, p), weighted_auc(y, p, weights)),
                "difference": {"auc": d}, "model_better": _better(d, sign)}
    out["direction"] = (f"a higher score goes with {labels[1]!r}" if out["auc"]["mean"] >= 0.5
                        else f"a higher score goes with {labels[0]!r}")
    return out


def _better(diff: dict, sign: float) -> bool:
    """The score beats a comparator: the difference's CI excludes 0 on the score's side.

    The side is the score's direction in this cohort (AUC or C-index above or below 0.5):
    both predict the same training target, so a protective score is better when its
    concordance is further *below* 0.5 than the comparator's.
    """
    lo, hi = diff["ci95"]
    if sign > 0:
        return bool(np.isfinite(lo) and lo > 0)
    return bool(np.isfinite(hi) and hi < 0)


def _at_risk(time: np.ndarray, high: np.ndarray) -> dict:
    import matplotlib.ticker as mticker

    ticks = [float(t) for t in mticker.MaxNLocator(nbins=5, min_n_ticks=3).tick_values(0, time.max())
             if 0 <= t <= time.max()]
    return {"time": ticks,
            "low": [int((time[~high] >= t).sum()) for t in ticks],
            "high": [int((time[high] >= t).sum()) for t in ticks]}


def _km_median(time, event) -> float | None:
    from sksurv.nonparametric import kaplan_meier_estimator

    if time.size == 0 or not event.any():
        return None
    t, s = kaplan_meier_estimator(event.astype(bool), time)
    below = np.flatnonzero(s <= 0.5)
    return float(t[below[0]]) if below.size else None


def survival_association(time, event, score, *, cutoff: float | None, groups=None,
                         n_boot: int = 1000, seed: int = 0, comparators: dict | None = None) -> dict:
    """Association of a score with survival, and of the groups of a fixed cut-off.

    Parameters
    ----------
    time : array-like of shape (n_samples,)
        Follow-up time (any unit).
    event : array-like of shape (n_samples,)
        1 for an event, 0 for censoring.
    score : array-like of shape (n_samples,)
    cutoff : float or None
        Cut-off fixed on the training cohort: ``score > cutoff`` is the high group. None:
        no group analysis.
    groups : array-like or None
        Patient of each row (for the C-index bootstrap).
    n_boot, seed : int
    comparators : dict of str to ndarray or None
        Other scores of the same rows (C-index and paired difference).

    Returns
    -------
    result : dict
        ``n``, ``n_events``, ``hr_per_unit`` and ``hr_per_sd`` (``{"hr", "ci95", "p_value",
        "coef", "se"}``; ``sd`` of the score in this cohort), ``cox`` (the fit, with the
        likelihood-ratio test), ``c_index`` (Harrell's, higher score = higher risk, with a
        bootstrap CI), ``cutoff``, ``groups`` (``low``/``high``: n, events, median
        survival or None when not reached), ``hr_high_vs_low``, ``logrank`` (``chi2``,
        ``p_value``), ``at_risk`` (tick times and numbers at risk per group),
        ``direction``, ``comparators`` (C-index, paired difference, ``model_better`` on the
        side of the score's direction); ``notes`` for what could not be estimated.
    """
    from sksurv.compare import compare_survival
    from sksurv.util import Surv

    from voxelomics.model.cox import cox_univariable, hazard_ratio
    from voxelomics.model.survival import paired_c_difference, survival_metrics

    t = np.asarray(time, float)
    e = np.asarray(event).astype(bool)
    s = np.asarray(score, float)
    y = Surv.from_arrays(event=e, time=t)
    notes: list[str] = []
    fit = cox_univariable(s, t, e)
    sd = float(np.std(s, ddof=1))
    out: dict = {"n": int(t.size), "n_events": int(e.sum()), "cox": fit,
                 "hr_per_unit": hazard_ratio(fit, 1.0) if fit["converged"] else None,
                 "hr_per_sd": ({**hazard_ratio(fit, sd), "sd": sd,
                                "sd_source": "standard deviation of the score in this cohort"}
                               if fit["converged"] else None)}
    if not fit["converged"]:
        notes.append("the Cox fit of the score did not converge (perfect separation?)")
    out["c_index"] = survival_metrics(y, s, n_boot=n_boot, seed=seed, groups=groups,
                                      keys=("c_index",))["c_index"]
    if cutoff is not None:
        high = s > cutoff
        out["cutoff"] = float(cutoff)
        out["groups"] = {name: {"n": int(m.sum()), "events": int(e[m].sum()),
                                "median_survival": _km_median(t[m], e[m])}
                         for name, m in (("low", ~high), ("high", high))}
        out["at_risk"] = _at_risk(t, high)
        if high.all() or not high.any():
            notes.append(f"the training cut-off ({cutoff:.4g}) puts every patient of this cohort "
                         f"in the {'high' if high.all() else 'low'} group; no group comparison")
            out["hr_high_vs_low"], out["logrank"] = None, None
        else:
            chi2, p = compare_survival(y, high.astype(int))
            out["logrank"] = {"chi2": float(chi2), "p_value": float(p)}
            g = cox_univariable(high.astype(float), t, e)
            out["hr_high_vs_low"] = (hazard_ratio(g, 1.0) if g["converged"] else None)
            if not g["converged"]:
                notes.append("the hazard ratio high vs low could not be estimated (a group "
                              "without events)")
    comps = {k: np.asarray(v, float) for k, v in (comparators or {}).items()
             if np.isfinite(np.asarray(v, float)).all()}
    sign = 1.0 if not (out["c_index"]["mean"] < 0.5) else -1.0
    out["direction"] = ("a higher score goes with a higher hazard (shorter survival)" if sign > 0
                        else "a higher score goes with a lower hazard (longer survival)")
    if comps:
        out["comparators"] = {}
        for name, p in comps.items():
            d = paired_c_difference(y, s, p, n_boot=n_boot, seed=seed, groups=groups)["c_index"]
            c = survival_metrics(y, p, n_boot=n_boot, seed=seed, groups=groups,
                                 keys=("c_index",))["c_index"]
            out["comparators"][name] = {"c_index": c, "difference": {"c_index": d},
                                        "model_better": _better(d, sign)}
    out["notes"] = notes
    return out


def validate_score(saved, model_dir, spec, out, *, n_boot: int = 1000, seed: int = 0,
                   plots: bool = True, unseen_batch: str | None = None) -> dict:
    """Apply a saved model's score unchanged to a table and test its associations.

    Called by :func:`voxelomics.model.external.validate_model` when
    :func:`is_score_validation` holds. Writes ``out/metrics.json`` (schema
    ``voxelomics.model.validate_score/1``, documented in ``docs/modelling.md``),
    ``out/predictions.csv`` and the figures.

    Parameters
    ----------
    saved : SavedModel
    model_dir : str or Path
    spec : TableSpec
        Validation table(s) with ``target`` (continuous or binary) and/or ``time`` and
        ``event``.
    out : str or Path
    n_boot, seed : int
    plots : bool, default=True
    unseen_batch : {"error", "pooled"} or None

    Returns
    -------
    metrics : dict

    Raises
    ------
    ModelError
        No outcome given, a continuous target for a model that is not a regression model,
        or tables that do not fit the model.
    """
    from dataclasses import replace

    from voxelomics.model.external import (
        _comparator_scores,
        _validation_warnings,
        model_table_spec,
        predict_table,
    )
    from voxelomics.model.results import write_json
    from voxelomics.model.survival import event_field, time_field
    from voxelomics.model.workflow import ci_method, column_report, load_data

    meta = saved.meta
    out = Path(out)
    if spec.target is None and spec.time is None and spec.event is None:
        raise ModelError("give the outcome(s) to test the score against: --target COL (a "
                         "continuous or binary column) and/or --time COL --event COL",
                         path=spec.tables[0])
    pred = predict_table(model_dir, spec, unseen_batch=unseen_batch)
    name = pred.attrs["score_column"]
    s = pred[name].to_numpy(float)
    cutoff, rule = score_cutoff_value(meta)
    base = model_table_spec(meta, spec)
    kw = {"features": meta["features"], "batch_levels": meta.get("batch_levels"),
          "covariate_levels": meta.get("covariate_levels")}
    result: dict = {"schema": "voxelomics.model.validate_score/1", "task": meta["task"],
                    "model_dir": str(model_dir), "model": meta.get("model"),
                    "description": meta.get("description"),
                    "score": {**_describe(s), "name": name,
                              "training": (meta.get("score") or {}).get("training"),
                              "cutoff": {"value": cutoff, "rule": rule}},
                    "n_samples": int(s.size), "n_features": len(meta["features"]),
                    "id_column": pred.attrs.get("id_column"),
                    "missing_values": pred.attrs.get("missing_values", {}),
                    "infinite_values": pred.attrs.get("infinite_values", {})}
    observed: dict[str, np.ndarray] = {}
    warnings: list[str] = list(pred.attrs.get("notes", []))
    figures: dict = {}
    data_any = None
    comp_scores: dict = {}
    out.mkdir(parents=True, exist_ok=True)
    if spec.target is not None:
        data = load_data(replace(base, target=spec.target, task=spec.task, positive=spec.positive), **kw)
        _same_rows(data.ids, pred["id"].to_numpy())
        data_any = data
        comp_scores, info, skipped = _comparator_scores(saved, data, unseen_batch)
        warnings += _validation_warnings(data, meta, spec)
        if data.task == "regression":
            if meta["task"] != "regression":
                raise ModelError(f"target {spec.target!r} is continuous but the model was trained "
                                 f"for {meta['task']}; a continuous target validates a model of a "
                                 "continuous target", path=spec.tables[0])
            result["continuous"] = _continuous(data, s, comp_scores, info, skipped, meta,
                                               n_boot=n_boot, seed=seed)
            result.update({k: result["continuous"][k] for k in ("r2", "spearman", "mae", "rmse")})
            result["comparators"] = result["continuous"]["comparators"]
            result["flags"] = result["continuous"].pop("flags")
            warnings += result["continuous"].pop("warnings")
            observed["observed"] = np.asarray(data.y, float)
        else:
            result["binary"] = {"target": spec.target, **binary_association(
                data.y, s, classes=data.classes, groups=data.groups, n_boot=n_boot, seed=seed,
                comparators=comp_scores)}
            result["auc"] = result["binary"]["auc"]
            observed["observed"] = np.asarray([str(c) for c in data.classes], dtype=object)[data.y]
    if spec.time is not None or spec.event is not None:
        data = load_data(replace(base, time=spec.time, event=spec.event), **kw)
        _same_rows(data.ids, pred["id"].to_numpy())
        if data_any is None:
            comp_scores = _comparator_scores(saved, data, unseen_batch)[0]
            warnings += _validation_warnings(data, meta, spec)
        else:
            warnings += [w for w in _validation_warnings(data, meta, spec) if "event" in w]
        data_any = data_any or data
        t, e = time_field(data.y), event_field(data.y)
        result["survival"] = {"time": spec.time, "event": spec.event, **survival_association(
            t, e, s, cutoff=cutoff, groups=data.groups, n_boot=n_boot, seed=seed,
            comparators=comp_scores)}
        warnings += result["survival"].pop("notes")
        result["c_index"] = result["survival"]["c_index"]
        observed.update(observed_time=t, observed_event=e.astype(int))
    report = column_report(data_any)
    result.update(groups=report["groups"], lesions=report["lesions"],
                  ci95_method=ci_method(data_any.group_col), warnings=list(dict.fromkeys(warnings)))
    table = pd.concat([pred[["id"]], pd.DataFrame(observed), pred[[name]]], axis=1)
    if cutoff is not None:
        table["score_group"] = np.where(s > cutoff, "high", "low")
    for cname, p in comp_scores.items():
        table[f"baseline_{cname}"] = p
    table.to_csv(out / "predictions.csv", index=False)
    result["files"] = {"predictions": "predictions.csv"}
    if plots:
        figures = _score_figures(result, table, name, out, groups=data_any.groups)
        result["figures"] = figures
    write_json(out / "metrics.json", result)
    return result


def _same_rows(a, b) -> None:
    if len(a) != len(b) or not np.array_equal(np.asarray(a, str), np.asarray(b, str)):
        raise ModelError("internal: the outcome rows do not match the scored rows")


def _continuous(data, s, comp_scores, info, skipped, meta, *, n_boot, seed) -> dict:
    from voxelomics.model.regression_metrics import bootstrap_regression_metrics
    from voxelomics.model.results import compare
    from voxelomics.model.safeguards import flags_and_warnings

    y = np.asarray(data.y, float)
    res = bootstrap_regression_metrics(y, s, n_boot=n_boot, seed=seed, groups=data.groups)
    comps = compare(y, s, comp_scores, info, task="regression", n_boot=n_boot, seed=seed,
                    groups=data.groups)
    flags, warns = flags_and_warnings("regression", comps, [], meta.get("volume_column"))
    return {"target": meta.get("target"), **res, "target_summary": _describe(y),
            "comparators": comps, "comparators_skipped": skipped, "flags": flags,
            "warnings": warns}


def _score_figures(result: dict, table: pd.DataFrame, name: str, out: Path, *, groups) -> dict:
    from voxelomics.model import plots as pl
    from voxelomics.model import score_plots as sp

    figs: dict = {}
    s = table[name].to_numpy(float)
    if "continuous" in result:
        figs["observed_vs_predicted"] = str(sp.plot_observed_predicted(
            table["observed"].to_numpy(float), s, out / "observed_vs_predicted.png",
            groups=groups, title=f"{name}: observed vs predicted (external)"))
    if "binary" in result:
        b = result["binary"]
        y = (table["observed"].astype(str) == b["classes"][1]).to_numpy(int)
        figs["roc"] = str(pl.plot_roc(y, s, out / "roc.png", groups=groups,
                                      title=f"ROC of {name} for {b['target']} (external)"))
        figs["score_by_class"] = str(sp.plot_score_by_class(
            s, table["observed"].astype(str).to_numpy(), b, out / "score_by_class.png",
            name=name))
    if "survival" in result and result["survival"].get("cutoff") is not None:
        figs["kaplan_meier"] = str(sp.plot_km_score_groups(
            table["observed_time"].to_numpy(float), table["observed_event"].to_numpy(int),
            s > result["survival"]["cutoff"], result["survival"], out / "kaplan_meier.png",
            name=name))
    return figs


def _hr_text(hr: dict | None) -> str:
    if not hr:
        return "not estimable"
    lo, hi = hr["ci95"]
    return f"{hr['hr']:.3f} (95% CI {lo:.3f}-{hi:.3f}), p = {hr['p_value']:.3g}"


def score_summary(metrics: dict) -> list[tuple[str, bool]]:
    """Lines of ``model validate``'s summary of a score validation.

    Parameters
    ----------
    metrics : dict
        The ``metrics.json`` of :func:`validate_score`.

    Returns
    -------
    lines : list of (str, bool)
        Text and whether it goes to stderr (warnings).
    """
    from voxelomics.model.metrics import format_ci

    sc = metrics["score"]
    cut = sc.get("cutoff") or {}
    lines = [(f"score {sc['name']!r} of a {metrics['task']} model applied unchanged to "
              f"{metrics['n_samples']} rows: median {sc['median']:.4g} (training "
              f"{(sc.get('training') or {}).get('median', float('nan')):.4g}), training cut-off "
              + ("none" if cut.get("value") is None else f"{cut['value']:.4g}"), False)]
    if "continuous" in metrics:
        c = metrics["continuous"]
        for k in ("r2", "spearman", "mae", "rmse"):
            lines.append((f"  {k:<10} {c[k]['mean']:.3f} (95% CI {format_ci(c[k]['ci95'])})",
                          False))
    if "binary" in metrics:
        b = metrics["binary"]
        lines.append((f"  {b['target']}: AUC {b['auc']['mean']:.3f} (95% CI "
                      f"{format_ci(b['auc']['ci95'])}), Mann-Whitney p = "
                      f"{b['mann_whitney_p']:.3g} ({b['classes'][1]!r} vs {b['classes'][0]!r})",
                      False))
    if "survival" in metrics:
        s = metrics["survival"]
        lines.append((f"  survival ({s['n_events']} events): HR per unit {_hr_text(s['hr_per_unit'])}",
                      False))
        lines.append((f"  HR per SD ({(s.get('hr_per_sd') or {}).get('sd', float('nan')):.4g}) "
                      f"{_hr_text(s['hr_per_sd'])}", False))
        lines.append((f"  C-index {s['c_index']['mean']:.3f} (95% CI "
                      f"{format_ci(s['c_index']['ci95'])})", False))
        if s.get("groups"):
            g = s["groups"]
            lr = s.get("logrank") or {}
            lines.append((f"  groups at the training cut-off: low {g['low']['n']} "
                          f"({g['low']['events']} events), high {g['high']['n']} "
                          f"({g['high']['events']} events); HR high vs low "
                          f"{_hr_text(s.get('hr_high_vs_low'))}; log-rank p = "
                          + (f"{lr['p_value']:.3g}" if lr else "n/a"), False))
    for section in ("continuous", "binary", "survival"):
        key = {"continuous": "r2", "binary": "auc", "survival": "c_index"}[section]
        for name, c in ((metrics.get(section) or {}).get("comparators") or {}).items():
            if "difference" not in c:
                continue
            d = c["difference"][key]
            lines.append((f"  vs {name:<10} ({section}) {key} {c[key]['mean']:.3f}, difference "
                          f"{d['mean']:+.3f} (95% CI {format_ci(d['ci95'], signed=True)})",
                          False))
    lines += [(f"warning: {w}", True) for w in metrics.get("warnings") or []]
    return lines
