"""The model section of the report: metrics with CIs and the figures behind them.

For each model found in the results folder (cross-validation, final model, external
validation; see :mod:`voxelomics.report.results`): the metrics of ``metrics.json`` with
their 95% CIs, internal beside external; for binary outcomes the ROC with its bootstrap
band, calibration and decision curves; for survival the Kaplan-Meier curves of risk groups
with the log-rank test and numbers at risk; the features of the final model and, when
``metrics.json`` records it, their selection across folds. The figures are computed from
the out-of-fold and external predictions, with the AUC and log-rank p checked against
``metrics.json`` in the captions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from voxelomics.report import feature_figures as FF
from voxelomics.report import figures as F
from voxelomics.report import regression_sections
from voxelomics.report.html import Section, csv_link, esc, figure_html, slug, table_html
from voxelomics.report.results import ModelResults
from voxelomics.report.sections import Context, _fmt, _headline

__all__ = ["models"]


def _metric_display(rows: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"metric": rows["metric"]})
    for name in ("internal", "external"):
        out[f"{name} (95% CI)"] = [
            "" if not np.isfinite(r[name]) else f"{r[name]:.3f} ({_fmt(r[f'{name}_ci_low'])}–{_fmt(r[f'{name}_ci_high'])})"
            for _, r in rows.iterrows()]
    return out


def _metric_rows(m: ModelResults) -> pd.DataFrame:
    keys = []
    for src in (m.cv, m.external):
        for k, v in (src or {}).items():
            if isinstance(v, dict) and "mean" in v and "ci95" in v and k not in keys:
                keys.append(k)
    rows = []
    for k in keys:
        row = {"metric": k}
        for name, src in (("internal", m.cv), ("external", m.external)):
            v = (src or {}).get(k)
            lo, hi = (list((v or {}).get("ci95") or []) + [np.nan, np.nan])[:2]
            row.update({f"{name}": (v or {}).get("mean", np.nan), f"{name}_ci_low": lo,
                        f"{name}_ci_high": hi})
        rows.append(row)
    return pd.DataFrame(rows)


def _repeats(df: pd.DataFrame) -> np.ndarray | None:
    cols = [c for c in df.columns if str(c).startswith("repeat_")]
    return df[cols].to_numpy(float).T if cols else None


def _classification(m: ModelResults, name: str) -> list[str]:
    body = []
    classes = [str(c) for c in ((m.cv or m.external or {}).get("classes") or [])]
    curves: dict[str, dict] = {}
    if m.oof is not None and "observed" in m.oof and _repeats(m.oof) is not None and len(classes) == 2:
        curves["internal (CV)"] = {"y": (m.oof["observed"].astype(str) == classes[1]).to_numpy(int),
                                   "p": _repeats(m.oof), "metrics": m.cv}
    pred = m.external_predictions
    if pred is not None and "observed" in pred and "probability" in pred and len(classes) == 2:
        curves["external"] = {"y": (pred["observed"].astype(str) == classes[1]).to_numpy(int),
                              "p": pred["probability"].to_numpy(float), "metrics": m.external}
    curves = {k: v for k, v in curves.items() if 0 < v["y"].sum() < v["y"].size}
    if not curves:
        return ['<p class="skipped">ROC, calibration and decision curve skipped: no out-of-fold or '
                'external predictions with both classes (oof_predictions.csv / predictions.csv).</p>']
    roc = {k: F.roc_data(v["y"], v["p"]) for k, v in curves.items()}
    checks = []
    for k, (_, auc) in roc.items():
        reported = ((curves[k]["metrics"] or {}).get("auc") or {}).get("mean")
        if reported is not None:
            same = abs(float(reported) - auc) < 1e-9
            checks.append(f"{esc(k)}: AUC {auc:.3f} drawn, {float(reported):.3f} in metrics.json"
                          + ("" if same else " <b>(differ)</b>"))
    figs = [figure_html(F.roc_figure(roc, title=f"ROC: {name}"), name=f"{slug(name)}_roc",
                        data={k: v[0] for k, v in roc.items()},
                        caption="Mean over CV repeats; band: 95% bootstrap over patients. "
                        + "; ".join(checks)),
            figure_html(F.calibration_figure({k: F.calibration_data(v["y"], v["p"]) for k, v in curves.items()},
                                             title=f"Calibration: {name}"),
                        name=f"{slug(name)}_calibration",
                        data={k: F.calibration_data(v["y"], v["p"]) for k, v in curves.items()},
                        caption="Quantile bins of the predictions (all repeats pooled)."),
            figure_html(F.decision_curve_figure({k: F.decision_curve_data(v["y"], v["p"]) for k, v in curves.items()},
                                                title=f"Decision curve: {name}"),
                        name=f"{slug(name)}_decision_curve",
                        data={k: F.decision_curve_data(v["y"], v["p"]) for k, v in curves.items()},
                        caption=f"Net benefit against treating all or none; positive class {esc(classes[1])}.")]
    body.append('<div class="figs">' + "".join(figs) + "</div>")
    return body


def _survival(m: ModelResults, name: str, unit: str) -> list[str]:
    figs = []
    if m.oof is not None and {"observed_time", "observed_event"} <= set(m.oof.columns) and _repeats(m.oof) is not None:
        risk = _repeats(m.oof)
        curves, at_risk, p = F.km_data(m.oof["observed_time"], m.oof["observed_event"], F.risk_groups(risk))
        reported = ((m.cv or {}).get("figures") or {}).get("logrank_p")
        check = (f" Log-rank p {p:.3g} drawn, {float(reported):.3g} in metrics.json."
                 if reported is not None else "")
        figs.append(figure_html(F.km_figure(curves, at_risk, p, title=f"{name}: internal (CV)", time_unit=unit),
                                name=f"{slug(name)}_km_internal", data={"curves": curves, "at_risk": at_risk},
                                caption="Risk groups split at the median out-of-fold risk (mean over "
                                "repeats)." + check))
    pred = m.external_predictions
    if pred is not None and {"observed_time", "observed_event", "risk_score"} <= set(pred.columns):
        curves, at_risk, p = F.km_data(pred["observed_time"], pred["observed_event"],
                                       F.risk_groups(pred["risk_score"]))
        figs.append(figure_html(F.km_figure(curves, at_risk, p, title=f"{name}: external", time_unit=unit),
                                name=f"{slug(name)}_km_external", data={"curves": curves, "at_risk": at_risk},
                                caption="Risk groups split at the median risk of the external cohort, "
                                "as `voxelomics model validate` draws them."))
    if not figs:
        return ['<p class="skipped">Kaplan–Meier curves skipped: no out-of-fold or external risk scores '
                'with observed time and event.</p>']
    return ['<div class="figs">' + "".join(figs) + "</div>"]


def _selection(m: ModelResults, name: str) -> list[str]:
    out = []
    stab = None
    for key in ("selection_frequency", "feature_stability", "selected_features"):
        v = (m.cv or {}).get(key)
        if isinstance(v, dict) and v:
            stab = pd.DataFrame({"feature": list(v), "frequency": [float(x) for x in v.values()]})
        elif isinstance(v, list) and v and all(isinstance(x, list) for x in v):
            counts = pd.Series([f for fold in v for f in fold]).value_counts() / len(v)
            stab = pd.DataFrame({"feature": counts.index, "frequency": counts.to_numpy()})
        if stab is not None:
            break
    if stab is not None:
        stab = stab.sort_values("frequency", ascending=False)
        out.append(figure_html(FF.selection_figure(stab, title=f"Selection across CV folds: {name}"),
                               name=f"{slug(name)}_selection_stability", data=stab,
                               caption="Share of outer folds whose model used each feature."))
    else:
        out.append('<p class="skipped">Stability across folds skipped: metrics.json records no '
                   "per-fold feature selection.</p>")
    sel = m.selected
    if sel is not None and {"feature", "weight"} <= set(sel.columns) and not len(sel):
        out.append('<p class="notice">The final model (fitted on all rows) uses no feature: the '
                   "penalty chosen by its inner cross-validation set every coefficient to zero, "
                   "so it predicts the same risk for everyone.</p>")
    elif sel is not None and {"feature", "weight"} <= set(sel.columns):
        t = sel.assign(abs_weight=sel["weight"].abs()).sort_values("abs_weight", ascending=False)
        kind = str(t["kind"].iloc[0]) if "kind" in t else "weight"
        out.append(figure_html(FF.selection_figure(t, value="abs_weight", title=f"Final model: {name}"),
                               name=f"{slug(name)}_final_features", data=t,
                               caption=f"{len(t)} features used by the model fitted on all rows; bar: "
                               f"|{esc(kind)}| (on standardised features)."))
    return out


def models(ctx: Context) -> Section:
    """Model results: metrics with CIs, ROC, calibration, decision curve, Kaplan–Meier.

    Parameters
    ----------
    ctx : Context

    Returns
    -------
    Section
    """
    sec = Section("models", "Models")
    if not ctx.res.models:
        sec.skipped = "no metrics.json (no model was cross-validated or validated)"
        return sec
    body = []
    forest = []
    for m in ctx.res.models:
        key, internal, external = _headline(m)
        for where, v in (("internal", internal), ("external", external)):
            if isinstance(v, dict) and v.get("ci95"):
                forest.append({"label": f"{m.label} · {where}", "metric": key, "mean": v["mean"],
                               "ci_low": v["ci95"][0], "ci_high": v["ci95"][1]})
    if forest:
        t = pd.DataFrame(forest)
        body.append(figure_html(F.metric_forest_figure(t), name="models_overview", data=t,
                                caption="Headline metric of every model with its 95% bootstrap CI "
                                "(AUC for binary outcomes, Harrell's C-index for survival); 0.5 is chance."))
    for m in ctx.res.models:
        name = m.label
        body.append(f'<h3 id="model-{slug(name)}">{esc(name)}</h3>')
        info = m.info or {}
        desc = [f"task <b>{esc(m.task or '?')}</b>"]
        if m.cv:
            desc.append(f"model {esc(m.cv.get('model', '?'))}, n = {esc(m.cv.get('n_samples', '?'))}, "
                        f"{esc(m.cv.get('n_features', '?'))} features")
            val = m.cv.get("validation") or {}
            if val:
                desc.append(f"{esc(val.get('outer', ''))}; inner {esc(val.get('inner', ''))}")
        if info.get("outcome"):
            desc.append("outcome " + esc(", ".join(f"{k}={v}" for k, v in info["outcome"].items() if v)))
        body.append("<p>" + "; ".join(desc) + ".</p>")
        notes = list((m.external or {}).get("warnings") or []) + list((m.cv or {}).get("warnings") or [])
        for src, label in ((m.cv, "internal"), (m.external, "external")):
            if (src or {}).get("n_rows_without_clinical"):
                notes.append(f"{label}: {src['n_rows_without_clinical']} feature row(s) had no clinical row")
        notes += list(info.get("warnings") or [])
        body += [f'<p class="notice">{esc(n)}</p>' for n in notes]
        rows = _metric_rows(m)
        if len(rows):
            body.append(table_html(_metric_display(rows)) + csv_link(rows, f"{slug(name)}_metrics", "metrics (CSV)"))
        if m.task == "classification":
            body += _classification(m, name)
        elif m.task == "survival":
            unit = (info.get("outcome") or {}).get("time") or "time"
            body += _survival(m, name, unit)
        elif m.task == "regression":
            body += regression_sections.regression(m, name)
        else:
            body.append(f'<p class="skipped">Figures skipped: no figures are defined for task {esc(m.task)!s}.</p>')
        body += regression_sections.score_validation(m, name)
        chosen = (m.cv or {}).get("chosen_in_inner_loop")
        if chosen:
            t = pd.DataFrame({"chosen in the inner loop": list(chosen), "outer folds": list(chosen.values())})
            body.append("<details><summary>Hyper-parameters chosen by the inner loop</summary>"
                        + table_html(t) + "</details>")
        body += _selection(m, name)
    sec.body = "\n".join(body)
    return sec


