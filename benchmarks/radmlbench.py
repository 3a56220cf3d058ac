"""Benchmark: default ``voxelomics model cv`` over the radMLBench feature tables.

Runs the default nested cross-validation (the same code path as
``voxelomics model cv TABLE --target Target --id ID --out DIR``) on every
``<dataset>.parquet`` of a folder (default ``../shared/data/radmlbench`` beside the
checkout; see its README), then prints per-dataset AUC with its 95% CI and wall time,
and the mean AUC. This is a benchmark, not a test: it takes a while.

Usage::

    python benchmarks/radmlbench.py [--data DIR] [--out DIR] [--only A,B] [--jobs N]
    python benchmarks/radmlbench.py --protocol published [--jobs N]

Results: ``OUT/<dataset>/metrics.json`` and ``OUT/summary.csv``.

``--protocol published`` is for comparison with the radMLBench paper's figure (a mean
AUC of about 0.73 over the collection) and is **not** an honest estimate: like the
paper's protocol, every point of the default grid (the same pipelines that the nested
CV tunes) is scored by one 10-fold stratified CV (pooled out-of-fold AUC) on the whole
table, and the best score per dataset is reported, so the test folds choose the
pipeline. The gap between this figure and the nested one is the optimism of choosing a
pipeline on the data that scores it. Results: ``OUT/summary_published.csv``.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _one(args: tuple[str, str, bool]) -> dict:
    table, out, plots = args
    from voxelomics.model.config import ModelSettings
    from voxelomics.model.workflow import TableSpec, run_cv

    t0 = time.perf_counter()
    m = run_cv(TableSpec(table=Path(table), target="Target", id_col="ID"), ModelSettings(),
               out, plots=plots)
    return {
        "dataset": Path(table).stem, "n": m["n_samples"], "features": m["n_features"],
        "auc": m["auc"]["mean"], "ci_low": m["auc"]["ci95"][0], "ci_high": m["auc"]["ci95"][1],
        "balanced_accuracy": m["balanced_accuracy"]["mean"], "brier": m["brier"]["mean"],
        "chosen": "; ".join(f"{k} x{v}" for k, v in m["chosen_in_inner_loop"].items()),
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def _one_published(args: tuple[str, str, bool]) -> dict:
    """Best pooled 10-fold CV AUC over the default grid (non-nested; see the module notes)."""
    import numpy as np
    from sklearn.base import clone
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import ParameterGrid, StratifiedKFold

    from voxelomics.model.config import ModelSettings
    from voxelomics.model.workflow import TableSpec, _pipeline, load_data

    table = args[0]
    t0 = time.perf_counter()
    data = load_data(TableSpec(table=Path(table), target="Target", id_col="ID"))
    _, pipe, grid = _pipeline(ModelSettings(), data)
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
    print(f"{'dataset':<30} {'n':>4} {'p':>5}  {'best AUC':>8} {'time':>6}  best of the default grid "
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
    ap.add_argument("--jobs", type=int, default=1, help="datasets run in parallel (1 core each)")
    ap.add_argument("--plots", action="store_true", help="also write figures")
    ap.add_argument("--protocol", choices=["nested", "published"], default="nested",
                    help="nested: default model cv (honest); published: best of the default grid "
                         "on one 10-fold CV, the radMLBench paper's optimistic protocol (comparison only)")
    a = ap.parse_args(argv)
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
    jobs = [(str(t), str(a.out / t.stem), a.plots) for t in tables]
    rows = []
    print(f"{'dataset':<30} {'n':>4} {'p':>5}  {'AUC (95% CI)':<22} {'time':>7}  inner-loop choices",
          flush=True)

    def show(r):
        rows.append(r)
        print(f"{r['dataset']:<30} {r['n']:>4} {r['features']:>5}  {r['auc']:.3f} "
              f"({r['ci_low']:.3f}-{r['ci_high']:.3f})   {r['wall_s']:>6.0f}s  {r['chosen']}",
              flush=True)
        pd.DataFrame(rows).to_csv(a.out / "summary.csv", index=False)

    if a.jobs > 1:
        with ProcessPoolExecutor(a.jobs) as ex:
            for r in ex.map(_one, jobs):
                show(r)
    else:
        for j in jobs:
            show(_one(j))
    df = pd.DataFrame(rows)
    print(f"\nmean AUC over {len(df)} datasets: {df['auc'].mean():.3f} "
          f"(median {df['auc'].median():.3f}); slowest dataset {df['wall_s'].max():.0f}s; "
          f"total {df['wall_s'].sum() / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
