"""The report's parts for continuous targets and for scores validated on another cohort.

For a model of a continuous target (``voxelomics model cv`` with a continuous
``--target``): the observed against the out-of-fold predicted values, with R², Spearman's
rho and MAE and their 95% CIs from ``metrics.json``, and the comparators' R² with the
paired differences. For a score applied unchanged to another cohort (``voxelomics model
validate`` of a score, schema ``voxelomics.model.validate_score/1``): the association with
a binary outcome (AUC with CI, ROC, Mann-Whitney p), with survival (Cox hazard ratio per
unit and per SD, C-index, each with CI and p), and the Kaplan-Meier curves of the low- and
high-score groups of the cut-off fixed on the training cohort, with the log-rank test and
the numbers at risk. The figures are drawn from the prediction files; the captions check
the numbers drawn against ``metrics.json``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from voxelomics.report import figures as F
from voxelomics.report.html import esc, figure_html, slug, table_html
from voxelomics.report.results import ModelResults

__all__ = ["regression", "score_validation", "is_score_validation"]


def _ci(entry: dict | None, digits: int = 3) -> str:
    if not isinstance(entry, dict) or entry.get("mean") is None:
        return ""
    lo, hi = (list(entry.get("ci95") or []) + [np.nan, np.nan])[:2]
    return f"{entry['mean']:.{digits}f} (95% CI {lo:.{digits}f} to {hi:.{digits}f})"


def _hr(entry: dict | None) -> str:
    if not isinstance(entry, dict):
        return "not estimable"
    lo, hi = entry["ci95"]
    return f"{entry['hr']:.3f} (95% CI {lo:.3f} to {hi:.3f}), p = {entry['p_value']:.3g}"


def is_score_validation(metrics: dict | None) -> bool:
    """Whether an external ``metrics.json`` is a score validation.

    Parameters
    ----------
    metrics : dict or None

    Returns
    -------
    bool
    """
    return str((metrics or {}).get("schema", "")).startswith("voxelomics.model.validate_score")


def _oof_matrix(oof: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """(observed, predictions of shape (n_repeats, n)) from the long or wide OOF file."""
    if oof is None or "observed" not in oof:
        return None
    if "repeat" in oof and "predicted" in oof:
        from voxelomics.model.results import oof_wide

        wide = oof_wide(oof)
    else:
        wide = oof
    cols = [c for c in wide.columns if str(c).startswith("repeat_")]
    if not cols:
        return None
    y = pd.to_numeric(wide["observed"], errors="coerce").to_numpy(float)
    return y, wide[cols].to_numpy(float).T


def _observed_predicted_figure(y, p, *, title: str):
    fig = F._figure(4.6, 4.4)
    ax = fig.add_subplot()
    pm = np.atleast_2d(p).mean(axis=0)
    ax.scatter(pm, y, s=12, alpha=0.7, color=F.PALETTE[0], edgecolor="none")
    lo, hi = float(min(y.min(), pm.min())), float(max(y.max(), pm.max()))
    pad = 0.04 * (hi - lo or 1.0)
    grid = np.array([lo - pad, hi + pad])
    ax.plot(grid, grid, ls="--", c="grey", lw=1, label="identity")
    if np.ptp(pm) > 0:
        slope, icept = np.polyfit(pm, y, 1)
        ax.plot(grid, icept + slope * grid, color=F.PALETTE[1], lw=1.5,
                label=f"least squares (slope {slope:.2f})")
    ax.set(xlabel="predicted (mean over CV repeats)", ylabel="observed", title=title,
           xlim=tuple(grid), ylim=tuple(grid))
    ax.legend(loc="lower right", fontsize=8)
    return fig


def regression(m: ModelResults, name: str) -> list[str]:
    """Figures and tables of a model of a continuous target.

    Parameters
    ----------
    m : ModelResults
    name : str
        The model's label.

    Returns
    -------
    parts : list of str
        HTML fragments.
    """
    from voxelomics.model.regression_metrics import regression_metrics

    out = []
    mat = _oof_matrix(m.oof)
    if mat is None:
        out.append('<p class="skipped">Observed against predicted skipped: no out-of-fold '
                   "predictions with the observed values (oof_predictions.csv).</p>")
    else:
        y, p = mat
        ok = np.isfinite(y) & np.isfinite(p).all(axis=0)
        y, p = y[ok], p[:, ok]
        drawn = float(np.mean([regression_metrics(y, row)["r2"] for row in p]))
        cv = m.cv or {}
        reported = (cv.get("r2") or {}).get("mean")
        check = ("" if reported is None else f" R² {drawn:.3f} drawn, {float(reported):.3f} in "
                 "metrics.json" + ("" if abs(drawn - float(reported)) < 1e-9 else " <b>(differ)</b>")
                 + ".")
        data = pd.DataFrame({"observed": y, "predicted_mean": p.mean(axis=0)})
        caption = (f"R² {esc(_ci(cv.get('r2')))}; Spearman ρ {esc(_ci(cv.get('spearman')))}; "
                   f"MAE {esc(_ci(cv.get('mae')))} (95% bootstrap CIs over patients)." + check)
        out.append('<div class="figs">' + figure_html(
            _observed_predicted_figure(y, p, title=f"Observed vs predicted: {name}"),
            name=f"{slug(name)}_observed_predicted", data=data, caption=caption) + "</div>")
    comps = (m.cv or {}).get("comparators") or {}
    rows = []
    for cname, c in comps.items():
        if "r2" not in c:
            continue
        d = (c.get("difference") or {}).get("r2") or {}
        rows.append({"comparator": cname, "R² (95% CI)": _ci(c["r2"]),
                     "difference model − comparator (95% CI)": _ci(d),
                     "model better": bool(c.get("model_better"))})
    if rows:
        out.append("<h4>Comparators (same folds)</h4>" + table_html(pd.DataFrame(rows)))
    covs = (m.cv or m.final or {}).get("covariates") or []
    if covs:
        out.append(f"<p>Covariates entering the model outside feature selection: "
                   f"{esc(', '.join(covs))}.</p>")
    return out


def _survival_table(surv: dict) -> pd.DataFrame:
    rows = [("HR per unit of the score", _hr(surv.get("hr_per_unit"))),
            (f"HR per SD ({(surv.get('hr_per_sd') or {}).get('sd', float('nan')):.4g})",
             _hr(surv.get("hr_per_sd"))),
            ("Harrell's C-index (higher score = higher risk)", _ci(surv.get("c_index")))]
    if surv.get("groups"):
        g = surv["groups"]
        rows.append(("groups at the training cut-off "
                     f"({surv.get('cutoff', float('nan')):.4g})",
                     f"low: {g['low']['n']} ({g['low']['events']} events); high: "
                     f"{g['high']['n']} ({g['high']['events']} events)"))
        rows.append(("HR high vs low", _hr(surv.get("hr_high_vs_low"))))
        lr = surv.get("logrank")
        rows.append(("log-rank test", "n/a" if not lr else
                     f"chi² {lr['chi2']:.2f}, p = {lr['p_value']:.3g}"))
    return pd.DataFrame(rows, columns=["survival", "estimate"])


def score_validation(m: ModelResults, name: str) -> list[str]:
    """The score applied unchanged to the external cohort: associations and figures.

    Parameters
    ----------
    m : ModelResults
    name : str

    Returns
    -------
    parts : list of str
        Empty when the external validation is not a score validation.
    """
    ext = m.external
    if not is_score_validation(ext):
        return []
    sc = ext["score"]
    score = sc["name"]
    cut = (sc.get("cutoff") or {})
    out = [f"<h4>Score {esc(score)} applied unchanged to the external cohort</h4>",
           f"<p>{ext.get('n_samples')} patients; score median {sc['median']:.4g} (training "
           f"{((sc.get('training') or {}).get('median') or float('nan')):.4g}); cut-off "
           + ("none" if cut.get("value") is None else
              f"{cut['value']:.4g}: {esc(cut.get('rule', ''))}") + ".</p>"]
    pred = m.external_predictions
    figs = []
    b = ext.get("binary")
    if b:
        out.append(table_html(pd.DataFrame([
            {"outcome": b["target"], "AUC (95% CI)": _ci(b["auc"]),
             "Mann-Whitney p": f"{b['mann_whitney_p']:.3g}", "direction": b.get("direction", ""),
             **{f"n {k}": v for k, v in b["class_balance"].items()}}])))
        if pred is not None and {"observed", score} <= set(pred.columns):
            y = (pred["observed"].astype(str) == b["classes"][1]).to_numpy(int)
            if 0 < y.sum() < y.size:
                curve, auc = F.roc_data(y, pred[score].to_numpy(float))
                figs.append(figure_html(
                    F.roc_figure({"external": (curve, auc)}, title=f"ROC of {score}: {b['target']}"),
                    name=f"{slug(name)}_score_roc", data=curve,
                    caption=f"AUC {auc:.3f} drawn, {b['auc']['mean']:.3f} in metrics.json."))
    s = ext.get("survival")
    if s:
        out.append(table_html(_survival_table(s)))
        if s.get("direction"):
            out.append(f'<p class="note">{esc(s["direction"])}.</p>')
        cols = {"observed_time", "observed_event", "score_group"}
        if pred is not None and cols <= set(pred.columns):
            high = (pred["score_group"] == "high").to_numpy()
            curves, at_risk, p = F.km_data(pred["observed_time"], pred["observed_event"], high)
            labels = {"low risk": f"low {score}", "high risk": f"high {score}"}
            curves["group"] = curves["group"].map(labels)
            at_risk["group"] = at_risk["group"].map(labels)
            reported = (s.get("logrank") or {}).get("p_value")
            check = ("" if reported is None else f" Log-rank p {p:.3g} drawn, {reported:.3g} in "
                     "metrics.json.")
            figs.append(figure_html(
                F.km_figure(curves, at_risk, p, title=f"{score} groups (external)",
                            time_unit=s.get("time") or "time"),
                name=f"{slug(name)}_score_km", data={"curves": curves, "at_risk": at_risk},
                caption="Groups split at the cut-off fixed on the training cohort (not "
                        "re-estimated here)." + check))
    c = ext.get("continuous")
    if c:
        out.append(table_html(pd.DataFrame([{"metric": k, "external (95% CI)": _ci(c[k])}
                                            for k in ("r2", "spearman", "mae", "rmse")])))
        if pred is not None and {"observed", score} <= set(pred.columns):
            y = pd.to_numeric(pred["observed"], errors="coerce").to_numpy(float)
            figs.append(figure_html(
                _observed_predicted_figure(y, pred[score].to_numpy(float)[None],
                                           title=f"{score}: observed vs predicted (external)"),
                name=f"{slug(name)}_score_observed_predicted",
                data=pd.DataFrame({"observed": y, score: pred[score]}),
                caption=f"R² {esc(_ci(c['r2']))}."))
    if figs:
        out.append('<div class="figs">' + "".join(figs) + "</div>")
    rows = []
    for section, key in (("continuous", "r2"), ("binary", "auc"), ("survival", "c_index")):
        for cname, comp in ((ext.get(section) or {}).get("comparators") or {}).items():
            if key not in comp:
                continue
            rows.append({"outcome": section, "comparator": cname, key: _ci(comp[key]),
                         f"difference score − comparator ({key})":
                             _ci((comp.get("difference") or {}).get(key)),
                         "score better": bool(comp.get("model_better"))})
    if rows:
        out.append("<h4>Score against the comparators' predictions (same patients)</h4>"
                   + table_html(pd.DataFrame(rows)))
    return out
