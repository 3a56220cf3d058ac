"""Figures of the model checks: comparators, permutation null, signature safeguards.

Companions of :mod:`voxelomics.report.figures` (same conventions: ``*_data`` functions
compute the table behind a figure from ``metrics.json`` content, ``*_figure`` functions
draw that table and return a :class:`matplotlib.figure.Figure`). The numbers are those
``voxelomics model cv`` / ``validate`` wrote; nothing is re-estimated here except where a
function says so.

* Comparators (issue 15): each comparator's metric (AUC or C-index) with its 95% CI and
  the paired difference model - comparator with its 95% CI and bootstrap p-value, scored
  on the same folds and the same bootstrap resamples of patients.
* Permutation test: the null distribution of the nested-CV AUC under shuffled labels,
  with the observed AUC and ``p = (1 + #{null >= observed}) / (1 + N)``.
* Signature (Welch et al. 2019): how often each feature was used over the outer folds,
  and its association with tumour volume (Spearman's rho) and with the batch
  (correlation ratio eta).

References
----------
Welch ML et al. Vulnerabilities of radiomic signature development: the need for
safeguards. Radiother Oncol 130 (2019) 2-9.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from voxelomics.report.figures import PALETTE, _figure

__all__ = ["comparator_data", "comparator_figure", "null_distribution_data",
           "null_distribution_figure", "signature_data", "signature_figure"]

#: Columns of :func:`comparator_data`.
COMPARATOR_COLUMNS = ("cohort", "name", "role", "description", "inputs", "metric", "mean",
                      "ci_low", "ci_high", "difference", "difference_ci_low",
                      "difference_ci_high", "p_value", "model_better", "brier_difference",
                      "brier_difference_ci_low", "brier_difference_ci_high", "error")


def _ci(entry) -> tuple[float, float, float]:
    if not isinstance(entry, dict) or "mean" not in entry:
        return (np.nan, np.nan, np.nan)
    lo, hi = (list(entry.get("ci95") or []) + [np.nan, np.nan])[:2]
    return tuple(np.nan if v is None else float(v) for v in (entry["mean"], lo, hi))


def _inputs(value) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


def comparator_data(metrics: dict | None, key: str, *, cohort: str) -> pd.DataFrame:
    """The model and its comparators: metric, paired difference and p-value, one row each.

    Parameters
    ----------
    metrics : dict or None
        ``metrics.json`` of ``voxelomics model cv`` or ``validate`` (with ``comparators``).
    key : {"auc", "c_index"}
        Headline metric.
    cohort : str
        Label of the rows (``internal (CV)``, ``external``).

    Returns
    -------
    table : pandas.DataFrame
        Columns :data:`COMPARATOR_COLUMNS`: the model first (``role`` ``model``, no
        difference), then each comparator in ``metrics.json`` order; ``difference`` is
        model - comparator (positive: the model is better; for the Brier score, lower is
        better, so a negative ``brier_difference`` favours the model). A comparator that
        could not be fitted has its message in ``error``. Empty when ``metrics`` has no
        comparators.
    """
    comps = (metrics or {}).get("comparators") or {}
    if not comps or key not in (metrics or {}):
        return pd.DataFrame(columns=list(COMPARATOR_COLUMNS))
    rows = []
    mean, lo, hi = _ci(metrics[key])
    rows.append({"cohort": cohort, "name": str(metrics.get("model") or "model"), "role": "model",
                 "description": str(metrics.get("description") or "the model"), "inputs": "",
                 "metric": key, "mean": mean, "ci_low": lo, "ci_high": hi, "error": ""})
    for name, c in comps.items():
        if not isinstance(c, dict):
            continue
        row = {"cohort": cohort, "name": str(name), "role": "comparator",
               "description": str(c.get("description") or ""),
               "inputs": _inputs(c.get("inputs")), "metric": key,
               "error": str(c.get("error") or "")}
        row["mean"], row["ci_low"], row["ci_high"] = _ci(c.get(key))
        diff = (c.get("difference") or {})
        d = diff.get(key) or {}
        row["difference"], row["difference_ci_low"], row["difference_ci_high"] = _ci(d)
        row["p_value"] = float(d["p_value"]) if d.get("p_value") is not None else np.nan
        row["brier_difference"], row["brier_difference_ci_low"], row["brier_difference_ci_high"] = \
            _ci(diff.get("brier"))
        row["model_better"] = c.get("model_better")
        rows.append(row)
    return pd.DataFrame(rows).reindex(columns=list(COMPARATOR_COLUMNS))


def comparator_figure(table: pd.DataFrame, *, title: str = "Model against comparators"):
    """Forest plots: each metric with its CI (left), the paired differences (right).

    Parameters
    ----------
    table : pandas.DataFrame
        One or more outputs of :func:`comparator_data` (e.g. internal and external
        concatenated); rows with an ``error`` or without a metric are left out.
    title : str

    Returns
    -------
    figure : matplotlib.figure.Figure
        Left: metric (AUC or C-index) with 95% CI, a dashed line at 0.5 (chance). Right:
        model - comparator with 95% CI, a dashed line at 0: to its right the model is
        better; green when the lower limit is above 0.
    """
    t = table[table["mean"].notna() & (table["error"].fillna("") == "")].reset_index(drop=True)
    names = list(dict.fromkeys(t["name"]))
    cohorts = list(dict.fromkeys(t["cohort"]))
    n = max(1, len(names))
    fig = _figure(9.0, 1.3 + 0.42 * n * max(1, len(cohorts)))
    a1, a2 = fig.subplots(1, 2, sharey=True)
    step = 0.7 / max(1, len(cohorts))
    ticks = np.arange(n)[::-1].astype(float)
    for j, cohort in enumerate(cohorts):
        colour = PALETTE[j % len(PALETTE)]
        for _, r in t[t["cohort"] == cohort].iterrows():
            y = ticks[names.index(r["name"])] + 0.35 - step * (j + 0.5)
            a1.errorbar(r["mean"], y, xerr=[[r["mean"] - r["ci_low"]], [r["ci_high"] - r["mean"]]],
                        fmt="s" if r["role"] == "model" else "o", color=colour, capsize=3,
                        label=cohort if r["role"] == "model" else None)
            if r["role"] != "model" and np.isfinite(r["difference"]):
                better = np.isfinite(r["difference_ci_low"]) and r["difference_ci_low"] > 0
                a2.errorbar(r["difference"], y, xerr=[[r["difference"] - r["difference_ci_low"]],
                                                      [r["difference_ci_high"] - r["difference"]]],
                            fmt="o", color=colour, capsize=3, mfc=PALETTE[2] if better else "white")
    metric = str(t["metric"].iloc[0]).replace("_", "-") if len(t) else "metric"
    labels = [f"{nm} (model)" if (t.loc[t["name"] == nm, "role"] == "model").any() else nm for nm in names]
    a1.set_yticks(ticks, labels=labels, fontsize=8)
    a1.axvline(0.5, ls="--", c="grey", lw=1)
    lows = t["ci_low"].to_numpy(float)
    low = float(np.nanmin(lows)) - 0.02 if np.isfinite(lows).any() else 0.3
    a1.set(xlabel=f"{metric} (95% CI)", xlim=(min(0.3, low), 1.03))
    a2.axvline(0.0, ls="--", c="grey", lw=1)
    a2.set(xlabel=f"model − comparator ({metric}); right of 0: model better")
    if cohorts:
        a1.legend(fontsize=7, loc="lower left")
    fig.suptitle(title, fontsize=10)
    return fig


def null_distribution_data(permutation: dict) -> pd.DataFrame:
    """The permutation test's null AUCs, sorted, with the observed AUC beside them.

    Parameters
    ----------
    permutation : dict
        ``metrics.json`` ``permutation_test``: ``null_auc``, ``observed_auc``, ``p_value``.

    Returns
    -------
    table : pandas.DataFrame
        ``permutation`` (1..N), ``null_auc``, ``at_least_observed`` (null >= observed),
        ``observed_auc``; ``attrs["p_value"]`` recomputed as ``(1 + #at_least) / (1 + N)``.
    """
    null = np.sort(np.asarray(permutation.get("null_auc") or [], float))
    obs = float(permutation.get("observed_auc", np.nan))
    t = pd.DataFrame({"permutation": np.arange(1, null.size + 1), "null_auc": null,
                      "at_least_observed": null >= obs, "observed_auc": obs})
    t.attrs["p_value"] = float((1 + t["at_least_observed"].sum()) / (1 + null.size))
    return t


def null_distribution_figure(table: pd.DataFrame, p_value: float, *, title: str = "Permutation test"):
    """Histogram of the null AUCs with the observed AUC.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`null_distribution_data`.
    p_value : float
        Shown in the title (the ``metrics.json`` value).
    title : str

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    fig = _figure(4.6, 3.4)
    ax = fig.add_subplot()
    null = table["null_auc"].to_numpy(float)
    obs = float(table["observed_auc"].iloc[0]) if len(table) else np.nan
    lo = min(np.nanmin(null) if null.size else 0.5, obs if np.isfinite(obs) else 1.0)
    hi = max(np.nanmax(null) if null.size else 0.5, obs if np.isfinite(obs) else 0.0)
    bins = np.linspace(min(0.3, lo) - 0.01, max(0.8, hi) + 0.01, 25)
    ax.hist(null, bins=bins, color="#9aa5b1", edgecolor="white", label=f"shuffled labels (N={null.size})")
    if np.isfinite(obs):
        ax.axvline(obs, color=PALETTE[1], lw=2, label=f"observed AUC {obs:.3f}")
    ax.axvline(0.5, color="grey", ls="--", lw=1)
    ax.set(xlabel="nested-CV AUC", ylabel="permutations", title=f"{title}\np = {p_value:.3g}")
    ax.legend(fontsize=7, loc="upper left")
    return fig


def signature_data(metrics: dict, *, extra_rho: dict | None = None, final: list[str] | None = None
                   ) -> pd.DataFrame:
    """Selection frequency of each feature with its association with volume and batch.

    Parameters
    ----------
    metrics : dict
        ``metrics.json`` of ``model cv``: ``selection_frequency`` and ``safeguards``.
    extra_rho : dict or None
        Spearman rho with volume of features outside the signature (computed by the
        report on the model's rows; ``metrics.json`` records the signature's only).
    final : list of str or None
        Features of the final model (fitted on all rows), flagged in ``in_final_model``
        (features the folds never chose are not listed).

    Returns
    -------
    table : pandas.DataFrame
        ``feature``, ``frequency`` (share of outer folds), ``in_signature``,
        ``in_final_model``, ``spearman_volume``, ``eta_batch``, ``volume_surrogate``,
        ``batch_surrogate``, ``source`` (where rho and eta come from); sorted by decreasing
        frequency.
    """
    sg = metrics.get("safeguards") or {}
    freq = dict(metrics.get("selection_frequency") or {})
    assoc = {a["feature"]: a for a in (sg.get("features") or []) if isinstance(a, dict) and "feature" in a}
    thr = sg.get("thresholds") or {}
    rho_t, eta_t = float(thr.get("volume_rho", 0.7)), float(thr.get("batch_eta", 0.5))
    names = list(dict.fromkeys(list(freq) + list(assoc)))
    rows = []
    for f in names:
        a = assoc.get(f)
        rho = a.get("spearman_volume") if a else (extra_rho or {}).get(f)
        eta = a.get("eta_batch") if a else None
        rho = np.nan if rho is None else float(rho)
        eta = np.nan if eta is None else float(eta)
        rows.append({"feature": f, "frequency": float(freq.get(f, a.get("frequency") if a else 0.0) or 0.0),
                     "in_signature": f in (sg.get("signature") or []),
                     "in_final_model": f in (final or []),
                     "spearman_volume": rho, "eta_batch": eta,
                     "volume_surrogate": bool(abs(rho) >= rho_t) if np.isfinite(rho) else None,
                     "batch_surrogate": bool(eta >= eta_t) if np.isfinite(eta) else None,
                     "source": "metrics.json" if a else ("report (same rule, same rows)"
                                                         if np.isfinite(rho) else "")})
    t = pd.DataFrame(rows, columns=["feature", "frequency", "in_signature", "in_final_model",
                                    "spearman_volume", "eta_batch", "volume_surrogate",
                                    "batch_surrogate", "source"])
    return t.sort_values(["frequency", "in_signature"], ascending=False, kind="stable").reset_index(drop=True)


def signature_figure(table: pd.DataFrame, *, volume_rho: float = 0.7, batch_eta: float = 0.5,
                     title: str = "Selection across folds", max_rows: int = 30):
    """Bars of the selection frequency beside each feature's |rho| with volume and eta with batch.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`signature_data` (drawn in its order, at most ``max_rows``).
    volume_rho, batch_eta : float
        Surrogate thresholds (dotted lines).
    title : str
    max_rows : int, default=30

    Returns
    -------
    figure : matplotlib.figure.Figure
        Left: share of outer folds (bars; dark: in the signature, i.e. used in at least
        half of the folds). Right: |Spearman rho| with volume (circles) and eta with the
        batch (triangles), red beyond the threshold.
    """
    t = table.head(max_rows)
    n = max(1, len(t))
    fig = _figure(9.0, 1.0 + 0.24 * n)
    a1, a2 = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [3, 2]})
    ys = np.arange(len(t))[::-1]
    a1.barh(ys, t["frequency"], color=[PALETTE[0] if s else "#9fbbe0" for s in t["in_signature"]])
    a1.set_yticks(ys, labels=[f + (" *" if fm else "") for f, fm in zip(t["feature"], t["in_final_model"],
                                                                       strict=True)], fontsize=7)
    a1.axvline(0.5, ls=":", c="grey", lw=1)
    a1.set(xlim=(0, 1.02), xlabel="share of outer folds using the feature")
    rho = t["spearman_volume"].abs().to_numpy(float)
    eta = t["eta_batch"].to_numpy(float)
    a2.scatter(rho, ys, marker="o", c=[PALETTE[1] if v >= volume_rho else PALETTE[0] for v in rho],
               label="|ρ| with volume", zorder=3)
    if np.isfinite(eta).any():
        a2.scatter(eta, ys, marker="^", c=[PALETTE[1] if v >= batch_eta else PALETTE[3] for v in eta],
                   label="η with batch", zorder=3)
    a2.axvline(volume_rho, ls=":", c=PALETTE[1], lw=1)
    if np.isfinite(eta).any():
        a2.axvline(batch_eta, ls="--", c=PALETTE[3], lw=1)
    a2.set(xlim=(0, 1.02), xlabel="association (red: surrogate)")
    a2.legend(fontsize=7, loc="lower right")
    fig.suptitle(title + "  (* in the final model)", fontsize=10)
    return fig
