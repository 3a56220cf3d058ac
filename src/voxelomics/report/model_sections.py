"""The model section of the report: safeguards, comparators, metrics and the figures behind them.

At the top, every model's safeguard flags (:mod:`voxelomics.report.model_checks`). For each
model found in the results folder (cross-validation, final model, external validation; see
:mod:`voxelomics.report.results`): its flags with their numbers; the metrics of
``metrics.json`` with their 95% CIs, internal beside external; the comparators with the
paired differences; for binary outcomes the ROC with its bootstrap band, calibration and
decision curves; for survival the Kaplan-Meier curves of risk groups with the log-rank test
and numbers at risk; the permutation null distribution; the selection across folds with
each feature's association with volume and batch; the features of the final model. The
figures are computed from the out-of-fold predictions (the long ``oof_predictions.csv``,
one row per patient and repeat, or the former one-column-per-repeat layout) and the
external predictions, with the AUC and log-rank p checked against ``metrics.json`` in the
captions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from voxelomics.report import feature_figures as FF
from voxelomics.report import figures as F
from voxelomics.report import model_checks as MC
from voxelomics.report import regression_sections
from voxelomics.report.html import Section, csv_link, esc, figure_html, slug, table_html
from voxelomics.report.results import ModelResults
from voxelomics.report.sections import Context, _fmt, _headline

__all__ = ["models"]


#: How the metrics of ``metrics.json`` are named on the page (the CSV keeps the keys).
METRIC_NAMES = {
    "auc": "AUC (0.5 = chance)", "balanced_accuracy": "balanced accuracy (threshold 0.5)",
    "brier": "Brier score (lower is better)", "calibration_slope": "calibration slope (ideal 1)",
    "calibration_intercept": "calibration intercept (ideal 0)",
    "c_index": "C-index, Harrell (0.5 = chance)", "uno_c_index": "C-index, Uno (censoring-weighted)",
    "td_auc": "time-dependent AUC (mean over times)",
}


def _metric_display(rows: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"metric": [METRIC_NAMES.get(k, k) for k in rows["metric"]]})
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


def oof_matrix(df: pd.DataFrame, column: str = "predicted") -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    """Out-of-fold predictions as (one row per patient, predictions per repeat, groups).

    Parameters
    ----------
    df : pandas.DataFrame
        ``oof_predictions.csv``: the long form of ``voxelomics model cv`` (``id``,
        ``group``, ``repeat``, ``fold``, observed columns, ``predicted``,
        ``baseline_<name>``) or the former wide form (``repeat_<r>`` columns).
    column : str, default="predicted"
        Prediction column of the long form.

    Returns
    -------
    rows : pandas.DataFrame
        One row per patient (row of the model's table): ``id`` and the observed columns.
    predictions : ndarray of shape (n_repeats, n_rows)
    groups : ndarray of shape (n_rows,) or None
        The patient of each row (``group``), when the folds were grouped.
    """
    if "repeat" in df.columns and column in df.columns:
        from voxelomics.model.results import oof_wide

        wide = oof_wide(df, column)
        first = df[df["repeat"] == df["repeat"].min()]
        groups = first["group"].astype(str).to_numpy() if "group" in first else None
    else:
        wide, groups = df, None
    cols = [c for c in wide.columns if str(c).startswith("repeat_")]
    return wide, wide[cols].to_numpy(float).T, groups


def _repeats(df: pd.DataFrame) -> np.ndarray | None:
    if df is None:
        return None
    _, p, _ = oof_matrix(df)
    return p if p.size else None


def _classification(m: ModelResults, name: str) -> list[str]:
    body = []
    classes = [str(c) for c in ((m.cv or m.external or {}).get("classes") or [])]
    curves: dict[str, dict] = {}
    if m.oof is not None and "observed" in m.oof and _repeats(m.oof) is not None and len(classes) == 2:
        rows, p, groups = oof_matrix(m.oof)
        curves["internal (CV)"] = {"y": (rows["observed"].astype(str) == classes[1]).to_numpy(int),
                                   "p": p, "groups": groups, "metrics": m.cv}
    pred = m.external_predictions
    if pred is not None and "observed" in pred and "probability" in pred and len(classes) == 2:
        curves["external"] = {"y": (pred["observed"].astype(str) == classes[1]).to_numpy(int),
                              "p": pred["probability"].to_numpy(float),
                              "groups": pred["group"].astype(str).to_numpy() if "group" in pred else None,
                              "metrics": m.external}
    curves = {k: v for k, v in curves.items() if 0 < v["y"].sum() < v["y"].size}
    if not curves:
        return ['<p class="skipped">ROC, calibration and decision curve skipped: no out-of-fold or '
                'external predictions with both classes (oof_predictions.csv / predictions.csv).</p>']
    roc = {k: F.roc_data(v["y"], v["p"], groups=v["groups"]) for k, v in curves.items()}
    checks = []
    for k, (_, auc) in roc.items():
        reported = ((curves[k]["metrics"] or {}).get("auc") or {}).get("mean")
        if reported is not None:
            same = abs(float(reported) - auc) < 1e-9
            checks.append(f"{esc(k)}: AUC {auc:.3f} drawn, {float(reported):.3f} in metrics.json"
                          + ("" if same else " <b>(differ)</b>"))
    figs = [figure_html(F.roc_figure(roc, title=f"ROC: {name}"), name=f"{slug(name)}_roc",
                        data={k: v[0] for k, v in roc.items()},
                        caption="Mean over CV repeats; band: 95% bootstrap over patients (whole "
                        "patients when the folds were grouped). "
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
        rows, risk, _ = oof_matrix(m.oof)
        curves, at_risk, p = F.km_data(rows["observed_time"], rows["observed_event"], F.risk_groups(risk))
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


def _selection(m: ModelResults, name: str, features: pd.DataFrame | None) -> list[str]:
    out = MC.signature_html(m, name, features)
    if not out:  # results written before the signature was recorded
        stab = None
        for key in ("feature_stability", "selected_features"):
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
        drawn = t if kind == "coefficient" else t.drop(columns=["weight"])  # signs only for coefficients
        out.append(figure_html(FF.selection_figure(drawn, value="abs_weight", title=f"Final model: {name}"),
                               name=f"{slug(name)}_final_features", data=t,
                               caption=f"{len(t)} features used by the model fitted on all rows (the one "
                               f"validated externally)" + (", the 30 largest drawn (all in the CSV)" if len(t) > 30
                                                           else "") + f"; bar: |{esc(kind)}|"
                               + (" (on standardised features)." if kind == "coefficient" else ".")))
    return out


def _design(m: ModelResults) -> list[str]:
    """How the rows were grouped into patients, as a line (and a notice when not grouped)."""
    cv = m.cv or {}
    if not cv:
        return []
    groups = cv.get("groups")
    n = cv.get("n_samples", "?")
    if isinstance(groups, dict) and groups.get("column"):
        return [f"<p>Folds and confidence intervals keep each patient's rows together: {esc(n)} rows of "
                f"<b>{esc(groups.get('n_groups', '?'))} patients</b> (column <code>{esc(groups['column'])}</code>).</p>"]
    if "groups" in cv:
        return [f'<p class="notice">The {esc(n)} rows were treated as {esc(n)} independent patients (no patient '
                "column). If some rows are lesions or scans of one patient, the cross-validated metrics are "
                "optimistic: give the patient column (study file: cohort.patient_id; voxelomics model "
                "--group).</p>"]
    return []


def models(ctx: Context) -> Section:
    """Model results: safeguards, comparators, metrics with CIs, ROC, calibration, decision curve, Kaplan–Meier.

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
    models = ordered(ctx.res.models, ctx.res.study)
    body = [MC.flags_overview(models)]
    forest = []
    for m in models:
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
    features = ctx.res.cohort.features if ctx.res.cohort is not None else None
    for m in models:
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
        body += _design(m)
        body.append(MC.flags_panel(m))
        raised = list(dict.fromkeys(w for met in (m.cv, m.external) for w in (met or {}).get("warnings") or []
                                    if _is_flag_warning(w)))
        notes = []
        for src, label in ((m.cv, "internal"), (m.external, "external")):
            notes += [f"{label}: {w}" for w in (src or {}).get("warnings") or []
                      if not _is_flag_warning(w)]
            if (src or {}).get("n_rows_without_clinical"):
                notes.append(f"{label}: {src['n_rows_without_clinical']} feature row(s) had no clinical row")
        solver = [f"{label}: ×{fw.get('count', 1)} {fw['message']}" + (f" ({fw['meaning']})" if fw.get("meaning") else "")
                  for label, src in (("internal", m.cv), ("external", m.external))
                  for fw in (src or {}).get("fit_warnings") or [] if isinstance(fw, dict) and fw.get("message")]
        notes += list(info.get("warnings") or [])
        body += [f'<p class="notice">{esc(n)}</p>' for n in notes]
        if solver:
            body.append(f"<details><summary>Solver warnings ({len(solver)}): technical notes of the "
                        "fitting, summarised by voxelomics model</summary><ul class=\"note\">"
                        + "".join(f"<li>{esc(s)}</li>" for s in solver) + "</ul></details>")
        if raised and not MC.flags_panel(m):
            body += [f'<p class="notice">{esc(w)}</p>' for w in raised]
        rows = _metric_rows(m)
        if len(rows):
            body.append("<h4>Metrics, internal beside external</h4>" + table_html(_metric_display(rows))
                        + csv_link(rows, f"{slug(name)}_metrics", "metrics (CSV)"))
        body += MC.comparators_html(m, name)
        if m.task == "classification":
            body += _classification(m, name)
            body += MC.permutation_html(m, name)
        elif m.task == "survival":
            unit = (info.get("outcome") or {}).get("time") or "time"
            body += _survival(m, name, unit)
        elif m.task == "regression":
            body += regression_sections.regression(m, name)
        else:
            body.append(f'<p class="skipped">Figures skipped: no figures are defined for task {esc(m.task)!s}.</p>')
        body += _selection(m, name, features)
        body += regression_sections.score_validation(m, name)
        chosen = (m.cv or {}).get("chosen_in_inner_loop")
        if chosen:
            t = pd.DataFrame({"chosen in the inner loop": list(chosen), "outer folds": list(chosen.values())})
            body.append("<details><summary>Hyper-parameters chosen by the inner loop</summary>"
                        + table_html(t) + "</details>")
    sec.body = "\n".join(b for b in body if b)
    return sec


def ordered(models: list[ModelResults], study: dict | None) -> list[ModelResults]:
    """Models in the study file's order (outcomes, then their models); others after, as found.

    Parameters
    ----------
    models : list of ModelResults
    study : dict or None
        ``study.json``.

    Returns
    -------
    list of ModelResults
    """
    order = {}
    for i, o in enumerate((study or {}).get("outcomes") or []):
        for j, mod in enumerate(o.get("models") or []):
            order[f"{o.get('name')} · {mod.get('name')}"] = (i, j)
    return sorted(models, key=lambda m: order.get(m.label, (len(order), 0)))


def _is_flag_warning(text: str) -> bool:
    """Warnings that restate a safeguard flag (shown in the flags panel with their numbers)."""
    return any(s in str(text) for s in ("does not beat tumour volume", "strongly correlated with volume",
                                        "the batch alone predicts", "strongly associated with the batch"))
