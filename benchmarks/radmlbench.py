"""Benchmark: the default ``voxelomics model cv`` against fixed baselines on radMLBench.

Runs the default nested cross-validation (the same code path as ``voxelomics model cv
TABLE --target Target --id ID --out DIR``) on every ``<dataset>.parquet`` of a folder
(default ``../shared/data/radmlbench`` beside the checkout; see its README). On the
*same outer folds*, three fixed pipelines chosen before seeing any data are scored as
comparators (issue 15): ANOVA-16 + logistic regression, LASSO-16 + logistic regression,
extra-trees-32 + random forest (see :mod:`voxelomics.model.baselines`), plus tumour volume
alone where a volume column is recognised. For each table it prints the default's AUC
with its 95% CI, each baseline's AUC and the paired difference default - baseline with
its 95% CI (paired bootstrap over patients), and the wall time. At the end: the mean AUC
of each, and the mean paired difference over tables with a 95% CI from a bootstrap over
tables (the tables are the units of "does the default do better on a new table").

This is a benchmark, not a test: it takes a while (about an hour on 2 cores).

Usage::

    python benchmarks/radmlbench.py [--data DIR] [--out DIR] [--only A,B] [--jobs N]
    python benchmarks/radmlbench.py --protocol published [--jobs N]
    python benchmarks/radmlbench.py --markdown --out OUT   # the README table of a finished run

``--jobs N`` runs the outer folds of each table in N worker processes (``model cv
--jobs N``); tables run one after the other, so each table's wall time is what a user
sees. Results: ``OUT/<dataset>/metrics.json`` and ``OUT/summary.csv``.

``--protocol published`` is for comparison with the radMLBench paper's figure (a mean
AUC of about 0.73 over the collection) and is **not** an honest estimate: like the
paper's protocol, every point of a grid (the former default ``auto``: elastic-net LR and
random forest) is scored by one 10-fold stratified CV (pooled out-of-fold AUC) on the
whole table, and the best score per dataset is reported, so the test folds choose the
pipeline. Results: ``OUT/summary_published.csv``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASELINES = ("anova16_lr", "lasso16_lr", "et32_rf")


def _row(m: dict, dataset: str) -> dict:
    """One line of ``summary.csv`` from a table's ``metrics.json``."""
    row = {
        "dataset": dataset, "n": m["n_samples"], "features": m["n_features"],
        "auc": m["auc"]["mean"], "ci_low": m["auc"]["ci95"][0], "ci_high": m["auc"]["ci95"][1],
        "brier": m["brier"]["mean"], "calibration_slope": m["calibration_slope"]["mean"],
        "chosen": "; ".join(f"{k} x{v}" for k, v in m["chosen_in_inner_loop"].items()),
        "volume_column": m["safeguards"]["volume_column"],
        "flags": ",".join(k for k, v in m["flags"].items() if v),
    }
    for name in ("volume", *BASELINES):
        c = m["comparators"].get(name)
        if c is None or "auc" not in c:
            continue
        d = c["difference"]["auc"]
        row[f"{name}_auc"] = c["auc"]["mean"]
        row[f"{name}_diff"] = d["mean"]
        row[f"{name}_diff_low"], row[f"{name}_diff_high"] = d["ci95"]
        row[f"{name}_brier"] = c["brier"]["mean"]
        row[f"{name}_brier_diff"] = c["difference"]["brier"]["mean"]
        row[f"{name}_calibration_slope"] = c["calibration_slope"]["mean"]
    return row


def _one(table: str, out: str, plots: bool, jobs: int) -> dict:
    from voxelomics.model.config import ModelSettings
    from voxelomics.model.workflow import TableSpec, run_cv

    settings = ModelSettings(baselines=["volume", *BASELINES], n_jobs=jobs)
    t0 = time.perf_counter()
    m = run_cv(TableSpec(table=Path(table), target="Target", id_col="ID"), settings, out,
               plots=plots)
    return {**_row(m, Path(table).stem), "wall_s": round(time.perf_counter() - t0, 1),
            "load_1min": round(os.getloadavg()[0], 2)}


def _one_published(args: tuple[str, str, bool]) -> dict:
    """Best pooled 10-fold CV AUC over the former default grid (non-nested; see the notes)."""
    import numpy as np
    from sklearn.base import clone
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import ParameterGrid, StratifiedKFold

    from voxelomics.model.config import ModelSettings
    from voxelomics.model.workflow import TableSpec, _pipeline, load_data

    table = args[0]
    t0 = time.perf_counter()
    data = load_data(TableSpec(table=Path(table), target="Target", id_col="ID"))
    _, pipe, grid = _pipeline(ModelSettings(model="auto"), data)
    X, y = data.X, np.asarray(data.y)
    folds = list(StratifiedKFold(n_splits=10, shuffle=True, random_state=0).split(X, y))
    scores = {}
    for params in ParameterGrid(grid):
        oof = np.empty(len(y))
        for train, test in folds:
            model = clone(pipe).set_params(**params).fit(X.iloc[train], y[train])
            oof[test] = model.predict_proba(X.iloc[test])[:, 1]
        name = ", ".join(f"{k}={type(v).__name__ if k == 'clf' else v}" for k, v in sorted(params.items()))
        scores[name] = roc_auc_score(y, oof)
    best = max(scores, key=scores.get)
    return {"dataset": Path(table).stem, "n": len(y), "features": len(data.feature_names),
            "best_auc": scores[best], "best": best, "n_pipelines": len(scores),
            "wall_s": round(time.perf_counter() - t0, 1)}


def _published(a, tables) -> int:
    import pandas as pd

    rows = []
    print(f"{'dataset':<30} {'n':>4} {'p':>5}  {'best AUC':>8} {'time':>6}  best of the grid "
          "(non-nested, 10-fold, pooled)", flush=True)
    jobs = [(str(t), "", False) for t in tables]
    with ProcessPoolExecutor(max(1, a.jobs)) as ex:
        for r in ex.map(_one_published, jobs):
            rows.append(r)
            print(f"{r['dataset']:<30} {r['n']:>4} {r['features']:>5}  {r['best_auc']:8.3f} {r['wall_s']:>5.0f}s  "
                  f"{r['best']}", flush=True)
            pd.DataFrame(rows).to_csv(a.out / "summary_published.csv", index=False)
    df = pd.DataFrame(rows)
    print(f"\nmean best-of-grid AUC over {len(df)} datasets (optimistic, non-nested): "
          f"{df['best_auc'].mean():.3f} (median {df['best_auc'].median():.3f}); "
          f"total {df['wall_s'].sum() / 60:.1f} min")
    return 0


def _mean_ci(values, n_boot: int = 10000, seed: int = 0) -> tuple[float, float, float]:
    """Mean over tables and its percentile-bootstrap 95% CI (tables resampled)."""
    import numpy as np

    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    rng = np.random.default_rng(seed)
    boots = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(axis=1)
    return float(v.mean()), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))


def summarise(df) -> str:
    """Text summary of a results table (one row per dataset).

    Parameters
    ----------
    df : pandas.DataFrame
        ``summary.csv`` content.

    Returns
    -------
    text : str
    """
    lines = [f"\n{len(df)} datasets; slowest {df['wall_s'].max():.0f} s "
             f"({df.loc[df['wall_s'].idxmax(), 'dataset']}); total {df['wall_s'].sum() / 60:.1f} min",
             f"{'':<14} {'mean AUC':>8}  {'mean paired difference default - baseline (95% CI over tables)':<64} "
             "tables default better / worse (per-table CI)",
             f"{'default':<14} {df['auc'].mean():8.3f}"]
    for name in ("volume", *BASELINES):
        if f"{name}_diff" not in df:
            continue
        sub = df.dropna(subset=[f"{name}_diff"])
        m, lo, hi = _mean_ci(sub[f"{name}_diff"])
        better = int((sub[f"{name}_diff_low"] > 0).sum())
        worse = int((sub[f"{name}_diff_high"] < 0).sum())
        lines.append(f"{name:<14} {sub[f'{name}_auc'].mean():8.3f}  {m:+.3f} ({lo:+.3f} to {hi:+.3f})"
                     f"{'':<38} {better} / {worse} of {len(sub)}"
                     + ("" if len(sub) == len(df) else f" (default on these: {sub['auc'].mean():.3f})"))
    if "et32_rf_brier" in df:
        lines.append(f"\n{'':<14} {'mean Brier':>10}  {'mean paired Brier difference default - baseline (95% CI over tables)':<70} median calibration slope")
        lines.append(f"{'default':<14} {df['brier'].mean():10.4f}  {'':<70} {df['calibration_slope'].median():.2f}")
        for name in BASELINES:
            m, lo, hi = _mean_ci(df[f"{name}_brier_diff"])
            lines.append(f"{name:<14} {df[name + '_brier'].mean():10.4f}  {m:+.4f} ({lo:+.4f} to {hi:+.4f})"
                         f"{'':<44} {df[name + '_calibration_slope'].median():.2f}")
    return "\n".join(lines)


def markdown(df) -> str:
    """The per-table results as a Markdown table (for ``benchmarks/README.md``).

    Parameters
    ----------
    df : pandas.DataFrame
        ``summary.csv`` content.

    Returns
    -------
    text : str
    """
    def cell(r, b):
        if f"{b}_auc" not in r or r[f"{b}_auc"] != r[f"{b}_auc"]:
            return "-"
        return (f"{r[b + '_auc']:.3f} / {r[b + '_diff']:+.3f} "
                f"({r[b + '_diff_low']:+.3f} to {r[b + '_diff_high']:+.3f})")

    names = ("volume", *BASELINES)
    head = ("| dataset | n | p | default AUC (95% CI) | "
            + " | ".join(f"{b}: AUC / default - {b} (95% CI)" for b in names) + " | time (s) |")
    lines = [head, "|" + "---|" * (5 + len(names))]
    for _, r in df.iterrows():
        lines.append(f"| {r['dataset']} | {r['n']} | {r['features']} | {r['auc']:.3f} "
                     f"({r['ci_low']:.3f}-{r['ci_high']:.3f}) | "
                     + " | ".join(cell(r, b) for b in names) + f" | {r['wall_s']:.0f} |")
    mean = [f"**{df['auc'].mean():.3f}**"]
    for b in names:
        if f"{b}_diff" in df:
            sub = df.dropna(subset=[f"{b}_diff"])
            m, lo, hi = _mean_ci(sub[f"{b}_diff"])
            mean.append(f"**{sub[b + '_auc'].mean():.3f} / {m:+.3f} ({lo:+.3f} to {hi:+.3f})**"
                        + (f" ({len(sub)} tables)" if len(sub) < len(df) else ""))
        else:
            mean.append("-")
    lines.append("| **mean** | | | " + " | ".join(mean) + f" | {df['wall_s'].sum():.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table.

    Parameters
    ----------
    argv : list of str or None
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    status : int
        0 on success.
    """
    import pandas as pd

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "radmlbench")
    ap.add_argument("--out", type=Path, default=Path("radmlbench_results"))
    ap.add_argument("--only", default=None, help="comma-separated dataset names")
    ap.add_argument("--jobs", type=int, default=1,
                    help="worker processes for the outer folds of each table (model cv --jobs)")
    ap.add_argument("--plots", action="store_true", help="also write figures")
    ap.add_argument("--markdown", action="store_true",
                    help="print the Markdown table of the results already in --out (its "
                         "summary.csv and <dataset>/metrics.json) and exit")
    ap.add_argument("--protocol", choices=["nested", "published"], default="nested",
                    help="nested: default model cv against fixed baselines (honest); published: "
                         "best of a grid on one 10-fold CV, the radMLBench paper's optimistic "
                         "protocol (comparison only)")
    a = ap.parse_args(argv)
    if a.markdown:
        import json

        df = pd.read_csv(a.out / "summary.csv")
        fresh = [_row(json.loads((a.out / d / "metrics.json").read_text()), d) for d in df["dataset"]]
        df = pd.DataFrame(fresh).assign(wall_s=df["wall_s"].to_numpy(),
                                        load_1min=df["load_1min"].to_numpy())
        print(markdown(df))
        print(summarise(df))
        return 0
    tables = sorted(a.data.glob("*.parquet"))
    if a.only:
        keep = set(a.only.split(","))
        tables = [t for t in tables if t.stem in keep]
    if not tables:
        print(f"no .parquet tables in {a.data}", file=sys.stderr)
        return 1
    a.out.mkdir(parents=True, exist_ok=True)
    if a.protocol == "published":
        return _published(a, tables)
    rows = []
    print(f"{'dataset':<28} {'n':>4} {'p':>5}  {'default AUC (95% CI)':<22} "
          + " ".join(f"{b + ' AUC, diff (95% CI)':<34}" for b in BASELINES)
          + f" {'time':>6} load", flush=True)
    for t in tables:
        r = _one(str(t), str(a.out / t.stem), a.plots, a.jobs)
        rows.append(r)
        cells = []
        for b in BASELINES:
            if f"{b}_auc" in r:
                cells.append(f"{r[b + '_auc']:.3f} {r[b + '_diff']:+.3f} "
                             f"({r[b + '_diff_low']:+.3f} to {r[b + '_diff_high']:+.3f})")
            else:
                cells.append("-")
        print(f"{r['dataset']:<28} {r['n']:>4} {r['features']:>5}  {r['auc']:.3f} "
              f"({r['ci_low']:.3f}-{r['ci_high']:.3f})   " + " ".join(f"{c:<34}" for c in cells)
              + f" {r['wall_s']:>5.0f}s {r['load_1min']:.1f}", flush=True)
        pd.DataFrame(rows).to_csv(a.out / "summary.csv", index=False)
    print(summarise(pd.DataFrame(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
