"""The checks of a model in the report: safeguard flags, comparators, permutation, signature.

What ``voxelomics model`` records beside each model (docs/modelling.md, issue 15), shown
so that a reader sees first whether the signature adds anything to simple baselines:

* the **safeguard flags** (Welch et al. 2019) with what each means, internal beside
  external: ``does_not_beat_volume``, ``signature_mostly_volume``,
  ``batch_predicts_outcome``, ``signature_mostly_batch``;
* the **comparators** (volume-only, clinical-only, batch-only, fixed pipelines) with their
  metric and the paired difference model - comparator with its CI, as a table and a forest
  plot;
* the **permutation test**'s null distribution;
* the **signature**: selection frequency over the outer folds and each feature's
  association with volume and batch.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from voxelomics.report import model_figures as MF
from voxelomics.report.html import csv_link, esc, figure_html, slug, table_html
from voxelomics.report.results import ModelResults

__all__ = ["FLAGS", "flag_state", "flags_overview", "flags_panel", "comparators_html",
           "permutation_html", "signature_html"]

#: Safeguard flags of ``metrics.json``: (what a raised flag says, what it means).
FLAGS = {
    "does_not_beat_volume": (
        "Not shown to beat tumour volume alone",
        "the lower 95% limit of the paired difference between the model and a model of "
        "tumour volume alone is not above 0: the signature has not been shown to add "
        "anything to the tumour's size."),
    "signature_mostly_volume": (
        "Signature mostly volume surrogates",
        "more than half of the signature's features (those used in at least half of the "
        "folds) correlate strongly with volume (|Spearman ρ| ≥ 0.7): the signature may "
        "measure size, not texture."),
    "batch_predicts_outcome": (
        "Scanner or centre alone predicts the outcome",
        "a model of the batch label alone (scanner or centre) predicts the outcome (lower "
        "95% limit above 0.5): batch and outcome are confounded, any model can learn the "
        "scanner instead of the disease, and harmonisation cannot separate them."),
    "signature_mostly_batch": (
        "Signature mostly scanner or centre surrogates",
        "more than half of the signature's features are strongly associated with the batch "
        "(correlation ratio η ≥ 0.5, after ComBat when the model harmonises): the "
        "signature may measure the scanner."),
}
#: Flags computed on the cross-validation only (the signature is a property of the folds).
CV_ONLY = ("signature_mostly_volume", "signature_mostly_batch")


def _key(metrics: dict) -> str:
    return "c_index" if metrics.get("task") == "survival" else "auc"


def _ci_text(entry, signed: bool = False) -> str:
    if not isinstance(entry, dict) or "mean" not in entry:
        return ""
    lo, hi = (list(entry.get("ci95") or []) + [np.nan, np.nan])[:2]
    f = "{:+.3f}" if signed else "{:.3f}"
    fmt = lambda v: "n/a" if v is None or not np.isfinite(float(v)) else f.format(float(v))  # noqa: E731
    return f"{fmt(entry['mean'])} (95% CI {fmt(lo)} to {fmt(hi)})"


def flag_state(metrics: dict | None, flag: str) -> tuple[str, str]:
    """State of one safeguard flag of a ``metrics.json`` and the numbers behind it.

    Parameters
    ----------
    metrics : dict or None
        ``metrics.json`` of ``model cv`` or ``model validate``.
    flag : str
        A key of :data:`FLAGS`.

    Returns
    -------
    state : {"raised", "passed", "not checked", "not recorded"}
        ``not checked``: the flag is ``null`` (its input is missing); ``not recorded``:
        the file has no such flag, or the flag is not made there (the signature flags of
        an external validation; a result written before issue 15).
    detail : str
        Plain text: the numbers or the reason the check was not made.
    """
    flags = (metrics or {}).get("flags")
    if isinstance(flags, dict) and flag in CV_ONLY and "model_dir" in metrics:
        return "not recorded", "made in the cross-validation only (the signature is what the folds chose)"
    if not isinstance(flags, dict) or flag not in flags:
        return "not recorded", ("checked in the cross-validation only" if metrics and isinstance(flags, dict)
                                else "this result records no safeguard flags")
    value = flags[flag]
    comps = metrics.get("comparators") or {}
    skipped = metrics.get("comparators_skipped") or {}
    sg = metrics.get("safeguards") or {}
    key = _key(metrics)
    detail = ""
    if flag == "does_not_beat_volume":
        vol = comps.get("volume") or {}
        diff = (vol.get("difference") or {}).get(key)
        if diff:
            cols = ", ".join(vol.get("inputs") or [])
            detail = (f"{key.replace('_', '-')} difference model − volume {_ci_text(diff, signed=True)}"
                      + (f" (volume: {cols})" if cols else ""))
        elif vol.get("error"):
            detail = f"the volume comparator could not be fitted: {vol['error']}"
        else:
            detail = str(skipped.get("volume") or "no tumour-volume column in the feature table")
    elif flag in ("signature_mostly_volume", "signature_mostly_batch"):
        field, what = (("volume_surrogate", "volume (|ρ| ≥ {t})") if flag == "signature_mostly_volume"
                       else ("batch_surrogate", "the batch (η ≥ {t})"))
        thr = (sg.get("thresholds") or {}).get("volume_rho" if "volume" in flag else "batch_eta",
                                              0.7 if "volume" in flag else 0.5)
        vals = [a.get(field) for a in sg.get("features") or [] if isinstance(a, dict)]
        vals = [v for v in vals if v is not None]
        if vals:
            detail = f"{sum(vals)} of {len(vals)} signature features associated with {what.format(t=thr)}"
        elif "volume" in flag:
            detail = str(skipped.get("volume") or "no tumour-volume column in the feature table")
        else:
            detail = str(skipped.get("batch") or "no batch column (give the model a batch, e.g. the centre)")
    elif flag == "batch_predicts_outcome":
        bat = comps.get("batch") or {}
        if key in bat:
            detail = f"batch alone: {key.replace('_', '-')} {_ci_text(bat[key])}"
        else:
            detail = str(bat.get("error") or skipped.get("batch")
                         or "no batch column (give the model a batch, e.g. the centre)")
    if value is None:
        return "not checked", detail
    return ("raised" if value else "passed"), detail


_BADGE = {"raised": '<span class="flag err">⚠ yes</span>', "passed": '<span class="ok">✓ no</span>',
          "not checked": '<span class="note">not checked</span>',
          "not recorded": '<span class="note">—</span>'}


def _cell(metrics: dict | None, flag: str, *, detail: bool) -> str:
    if metrics is None:
        return '<span class="note">not run</span>'
    state, text = flag_state(metrics, flag)
    out = _BADGE[state]
    if detail and text:
        out = out.replace("</span>", ":</span>") if state == "not checked" else out
        out += f' <span class="note">{esc(text)}</span>'
    return out


def flags_overview(models: list[ModelResults]) -> str:
    """Table at the top of the model section: every model's flags, internal and external.

    Parameters
    ----------
    models : list of ModelResults

    Returns
    -------
    str
        HTML (empty when no result records flags), with the meaning of each flag and a
        CSV link.
    """
    if not any(isinstance((m.cv or {}).get("flags"), dict) or isinstance((m.external or {}).get("flags"), dict)
               for m in models):
        return ""
    head = "".join(f"<th>{esc(q)}</th>" for q, _ in FLAGS.values())
    rows, data = [], []
    for m in models:
        for where, met in (("internal (CV)", m.cv), ("external", m.external)):
            if met is None:
                continue
            cells = "".join(f"<td>{_cell(met, f, detail=False)}</td>" for f in FLAGS)
            anchor = f'<a href="#model-{slug(m.label)}">{esc(m.label)}</a>'
            rows.append(f"<tr><td>{anchor}</td><td>{esc(where)}</td>{cells}</tr>")
            for f in FLAGS:
                state, text = flag_state(met, f)
                data.append({"model": m.label, "cohort": where, "flag": f, "state": state, "detail": text})
    legend = "".join(f"<li><b>{esc(q)}</b> (<code>{esc(f)}</code>): {esc(meaning)}</li>"
                     for f, (q, meaning) in FLAGS.items())
    return ('<div class="safeguards"><h3>Safeguards (Welch et al. 2019)</h3>'
            "<p>Published radiomic signatures have turned out to be surrogates of tumour volume or "
            "of the scanner. Each model is checked against both. <b>⚠ yes</b>: the check failed, "
            "and the model's performance should not be credited to the image texture; "
            "<b>✓ no</b>: the check passed; <i>not checked</i>: its input is missing (e.g. no "
            "batch column given); —: not made on this cohort.</p>"
            f'<table class="tbl"><tr><th>model</th><th>cohort</th>{head}</tr>{"".join(rows)}</table>'
            f"<ul class=\"note\">{legend}</ul>"
            f"{csv_link(pd.DataFrame(data), 'safeguard_flags', 'flags (CSV)')}</div>")


def flags_panel(m: ModelResults) -> str:
    """One model's flags with their numbers, internal beside external.

    Parameters
    ----------
    m : ModelResults

    Returns
    -------
    str
        HTML; empty when neither result records flags.
    """
    if not isinstance((m.cv or {}).get("flags"), dict) and not isinstance((m.external or {}).get("flags"), dict):
        return ""
    states = [flag_state(met, f)[0] for met in (m.cv, m.external) if met for f in FLAGS]
    raised = states.count("raised")
    cls = "checks raised" if raised else "checks"
    rows = "".join(f"<tr><td><b>{esc(q)}</b></td><td>{_cell(m.cv, f, detail=True)}</td>"
                   f"<td>{_cell(m.external, f, detail=True)}</td></tr>" for f, (q, _) in FLAGS.items())
    lead = (f"<p><b>⚠ {raised} safeguard check(s) failed.</b> Read the metrics below with them in mind.</p>"
            if raised else "<p>✓ No safeguard check failed.</p>")
    return (f'<div class="{cls}">{lead}<table class="tbl"><tr><th>check</th><th>internal (CV)</th>'
            f"<th>external</th></tr>{rows}</table></div>")


def comparators_html(m: ModelResults, name: str) -> list[str]:
    """The comparators beside the model: table and forest plot of the paired differences.

    Parameters
    ----------
    m : ModelResults
    name : str
        Model label (file names of the CSV links).

    Returns
    -------
    list of str
        HTML parts; one skipped line when no result has comparators.
    """
    frames = [MF.comparator_data(met, _key(met), cohort=where)
              for where, met in (("internal (CV)", m.cv), ("external", m.external)) if met]
    frames = [f for f in frames if len(f)]
    if not frames:
        return ['<p class="skipped">Comparators skipped: the results record none (written before '
                "voxelomics model scored baselines, or every baseline was switched off).</p>"]
    table = pd.concat(frames, ignore_index=True)
    key = str(table["metric"].iloc[0])
    label = key.replace("_", "-").upper() if key == "auc" else "C-index"
    shown, errors = [], []
    desc = (m.final or {}).get("description")
    if desc:
        table.loc[table["role"] == "model", "description"] = f"the model ({desc}; chosen anew in each fold)"
    for nm in dict.fromkeys(table["name"]):
        rows = table[table["name"] == nm]
        first = rows.iloc[0]
        row = {"": f"{nm} (the model)" if first["role"] == "model" else nm,
               "what it uses": first["description"] + (f" [{first['inputs']}]" if first["inputs"] else "")}
        for _, r in rows.iterrows():
            where = "internal" if r["cohort"].startswith("internal") else "external"
            if isinstance(r.get("error"), str) and r["error"]:
                row[f"{where}: {label}"] = "could not be fitted (below)"
                errors.append(f"{nm} ({where}): {r['error']}")
                continue
            row[f"{where}: {label}"] = _ci_text({"mean": r["mean"], "ci95": [r["ci_low"], r["ci_high"]]})
            if r["role"] != "model":
                row[f"{where}: model − comparator"] = (
                    _ci_text({"mean": r["difference"], "ci95": [r["difference_ci_low"], r["difference_ci_high"]]},
                             signed=True)
                    + ("" if not np.isfinite(r["p_value"]) else f", p = {r['p_value']:.3g}")
                    + (" ✓ model better" if r["model_better"] is True else ""))
        shown.append(row)
    t = pd.DataFrame(shown).fillna("")
    skipped = {}
    for met in (m.cv, m.external):
        skipped.update((met or {}).get("comparators_skipped") or {})
    body = ["<h4>The model beside simple comparators (same folds, same patients)</h4>",
            table_html(t),
            figure_html(MF.comparator_figure(table, title=f"Model against comparators: {name}"),
                        name=f"{slug(name)}_comparators", data=table,
                        caption=f"Left: {label} with its 95% CI (squares: the model). Right: the paired "
                        f"difference model − comparator, scored on the same bootstrap resamples of "
                        f"patients; filled green when its lower limit is above 0 (the model is better). "
                        f"Internal: out-of-fold predictions of the same outer folds; external: the "
                        f"final model and the comparators fitted on all training rows.")]
    if errors:
        body.append('<p class="note">Could not be fitted: ' + "; ".join(esc(e) for e in errors) + ".</p>")
    if skipped:
        body.append('<p class="note">Not run: ' + "; ".join(f"{esc(k)} ({esc(v)})" for k, v in skipped.items())
                    + ".</p>")
    return body


def permutation_html(m: ModelResults, name: str) -> list[str]:
    """The permutation test's null distribution, when the cross-validation ran one.

    Parameters
    ----------
    m : ModelResults
    name : str

    Returns
    -------
    list of str
    """
    perm = (m.cv or {}).get("permutation_test")
    if not isinstance(perm, dict) or not perm.get("null_auc"):
        if m.task == "classification" and m.cv is not None:
            return ['<p class="skipped">Permutation test not run (model setting n_permutations: 0); '
                    "the AUC's 95% CI excluding 0.5 is the everyday check.</p>"]
        return []
    t = MF.null_distribution_data(perm)
    p = float(perm.get("p_value", t.attrs["p_value"]))
    return [figure_html(MF.null_distribution_figure(t, p, title=f"Permutation test: {name}"),
                        name=f"{slug(name)}_permutation_null", data=t,
                        caption=f"The whole nested cross-validation rerun on {len(t)} shuffles of the "
                        "outcome (whole patients' labels with patient groups): the AUCs a model reaches "
                        f"by chance on these data. p = (1 + #null ≥ observed) / (1 + N) = {p:.3g} "
                        f"(recomputed from the null AUCs: {t.attrs['p_value']:.3g}).")]


def _report_rho(features: pd.DataFrame | None, ids, id_col: str, volume: str | None,
                names: list[str]) -> dict:
    """Spearman rho with volume over the model's rows (the rule of voxelomics model)."""
    if features is None or volume is None or volume not in features or id_col not in features or ids is None:
        return {}
    rows = features[features[id_col].astype(str).isin(set(map(str, ids)))]
    vol = pd.to_numeric(rows[volume], errors="coerce")
    out = {}
    with warnings.catch_warnings():  # a constant feature has no correlation (NaN, said in the table)
        warnings.simplefilter("ignore")
        for f in names:
            if f in rows:
                out[f] = float(pd.to_numeric(rows[f], errors="coerce").corr(vol, method="spearman"))
    return out


def signature_html(m: ModelResults, name: str, features: pd.DataFrame | None = None) -> list[str]:
    """Selection stability across the outer folds and each feature's volume and batch association.

    Parameters
    ----------
    m : ModelResults
    name : str
    features : pandas.DataFrame or None
        The cohort's feature table, to compute the volume correlation of selected
        features outside the signature (``metrics.json`` records the signature's).

    Returns
    -------
    list of str
    """
    cv = m.cv or {}
    final = [str(f) for f in m.selected["feature"]] if m.selected is not None and "feature" in m.selected else []
    if not cv.get("selection_frequency") and not (cv.get("safeguards") or {}).get("features"):
        return []
    sg = cv.get("safeguards") or {}
    recorded = {a.get("feature") for a in sg.get("features") or [] if isinstance(a, dict)}
    others = [f for f in cv.get("selection_frequency") or {} if f not in recorded]
    ids = m.oof["id"].unique() if m.oof is not None and "id" in m.oof else None
    extra = _report_rho(features, ids, str(cv.get("id_column") or "case_id"), sg.get("volume_column"), others)
    t = MF.signature_data(cv, extra_rho=extra, final=final)
    thr = sg.get("thresholds") or {}
    stab = (cv.get("selection_stability") or {}).get(sg.get("signature_member") or "", {})
    nog = stab.get("nogueira")
    member = sg.get("signature_member")
    lead = (f"Stability of the selection (Nogueira's index, 1 = the same features in every fold, "
            f"about 0 = chance): <b>{nog:.2f}</b>; {stab.get('mean_size', float('nan')):.1f} features per "
            f"fold on average" + (f" (the ensemble's {esc(member)} member)" if member not in (None, "model") else "")
            + ". ") if isinstance(nog, (int, float)) and np.isfinite(nog) else ""
    vol_col = sg.get("volume_column")
    fig = figure_html(MF.signature_figure(t, volume_rho=float(thr.get("volume_rho", 0.7)),
                                          batch_eta=float(thr.get("batch_eta", 0.5)),
                                          title=f"Selection across folds: {name}"),
                      name=f"{slug(name)}_selection_stability", data=t,
                      caption=f"{lead}Bars: share of the outer folds whose model used the feature (dark: "
                      "the signature, used in at least half); * in the final model. Right: |Spearman ρ| "
                      f"with volume ({esc(vol_col or 'no volume column')}) and the correlation ratio η "
                      f"with the batch ({esc(sg.get('batch_column') or 'no batch column')}); red beyond "
                      "the surrogate thresholds. ρ and η of the signature are those of metrics.json; ρ of "
                      "other features is computed here by the same rule on the same rows.")
    return [f"<h4>Which features, how stably, and are they volume or scanner surrogates?</h4>{fig}",
            "<details><summary>Table of the selected features</summary>" + table_html(_readable(t), max_rows=30)
            + "</details>"]


def _yes_no(v) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "—"
    return "yes" if bool(v) else "no"


def _readable(t: pd.DataFrame) -> pd.DataFrame:
    """The signature table as a reader wants it: named columns, yes/no, '—' where not measured."""
    num = {"spearman_volume": "ρ with volume", "eta_batch": "η with batch"}
    out = pd.DataFrame({"feature": t["feature"],
                        "share of folds": [f"{v:.0%}" for v in t["frequency"]]})
    for col, label in (("in_signature", "in signature"), ("in_final_model", "in final model"),
                       *num.items(), ("volume_surrogate", "volume surrogate"),
                       ("batch_surrogate", "batch surrogate")):
        if col in t:
            out[label] = ([_yes_no(v) for v in t[col]] if col not in num else
                          ["—" if not np.isfinite(v) else f"{v:+.2f}" if col == "spearman_volume" else f"{v:.2f}"
                           for v in pd.to_numeric(t[col], errors="coerce")])
    return out
