"""Radiomics, a 3-D CNN and their fusion on one real cohort, on the same folds, beside size alone.

The cohort is ``../shared/data/lidc_nodules`` (791 CT nodule crops of 441 patients, label
``malignant``; see its README). Every model is scored on the outer folds of
``voxelomics model cv`` (:func:`voxelomics.model.splits.outer_folds`, grouped by ``patient_id``)
with its metrics and bootstrap CIs:

* ``baseline:diameter_mm``: the readers' nodule diameter alone (logistic regression on its log);
* ``baseline:morphology_volume``: the mask volume alone (from the radiomic table);
* ``radiomics``: the IBSI features of ``voxelomics extract`` (1 mm isotropic, the default CT
  settings otherwise) with ``voxelomics model``'s ``enet_lr`` pipeline, tuned by grouped inner CV;
* ``deep``: the small 3-D CNN on 24^3 crops of 1 mm (image window [-1000, 400] HU and mask),
  early-stopped on a grouped validation split of each training fold;
* ``fused``: stacking of the two on each training fold's validation split.

No rating column (malignancy, spiculation, ...) is an input: they are derived from the same
readings as the label (the radiomic model uses only the registered radiomic columns; the
network only the crops). Nothing is tuned on the test folds.

Run::

    PYTHONPATH=src python benchmarks/deep_cohort.py                # 5 folds x 1 repeat (CPU, < 20 min)
    PYTHONPATH=src python benchmarks/deep_cohort.py --repeats 3    # the model cv default, 3x longer

It prints one table (AUC with 95% CI per model, paired AUC differences against both size
baselines) and the wall and CPU time of every stage, with the machine's load average (the
machine may be shared: the load says how much of the 2 cores the run had, and CPU time / 2 is
about the wall time on an idle 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "lidc_nodules"
RATINGS = ("malignancy", "calcification", "internalstructure", "lobulation", "margin", "sphericity",
           "spiculation", "subtlety", "texture", "diagnosis", "len_mal_details")


def _load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def _cpu() -> float:
    """CPU seconds of this process and its finished children (user + system)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _fmt(m: dict | None) -> str:
    if not m:
        return "-"
    lo, hi = m["ci95"]
    return f"{m['mean']:.3f} ({lo:.3f} to {hi:.3f})"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=Path("/tmp/voxelomics_deep_cohort"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--size", type=int, default=24, help="crop edge in voxels of 1 mm")
    ap.add_argument("--width", type=int, default=8, help="small_cnn width")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--workers", type=int, default=2, help="extraction workers")
    ap.add_argument("--limit", type=int, default=None, help="first N rows only (smoke test)")
    ap.add_argument("--restart", action="store_true", help="ignore finished folds of an earlier run")
    args = ap.parse_args(argv)

    import pandas as pd

    from voxelomics.cohort import extract_cohort
    from voxelomics.deep.config import load_deep_settings
    from voxelomics.deep.workflow import load_cohort, run_cv

    manifest = args.data / "manifest.csv"
    if not manifest.is_file():
        raise SystemExit(f"cohort not found: {manifest}")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.limit:
        df = pd.read_csv(manifest).head(args.limit)
        for col in ("image", "mask"):
            df[col] = [str(args.data / p) for p in df[col]]
        manifest = args.out / "manifest_subset.csv"
        df.to_csv(manifest, index=False)
    times, cpu, loads = {}, {}, {"start": _load()}
    t_all, c_all = time.perf_counter(), _cpu()

    t, c = time.perf_counter(), _cpu()
    rad = extract_cohort(manifest, out=args.out / "radiomics", workers=args.workers, progress=False,
                         settings={"resampling": {"spacing_mm": [1.0, 1.0, 1.0]}})
    times["radiomic extraction"], cpu["radiomic extraction"] = time.perf_counter() - t, _cpu() - c
    loads["after extraction"] = _load()
    if rad.n_failed:
        print(f"warning: {rad.n_failed} case(s) failed extraction; see {args.out / 'radiomics/errors.csv'}")

    settings = load_deep_settings(
        None, crop__size=(args.size,) * 3, crop__spacing_mm=1.0, crop__beyond_image="pad",
        crop__unknown_modality="CT", net__width=args.width, train__epochs=args.epochs,
        train__patience=5, train__threads=args.threads, n_splits=args.folds, n_repeats=args.repeats)
    t, c = time.perf_counter(), _cpu()
    cohort = load_cohort(manifest, settings, target="malignant", cache_dir=args.out / "crops",
                         progress=False)
    times["crops"], cpu["crops"] = time.perf_counter() - t, _cpu() - c
    n_cut = sum(bool(m.get("roi_cut")) for m in cohort.crops.meta)

    t, c = time.perf_counter(), _cpu()
    metrics = run_cv(manifest, settings, args.out / "cv", target="malignant",
                     baselines=["diameter_mm", "morphology_volume"],
                     radiomics=args.out / "radiomics" / "features.parquet",
                     cache_dir=args.out / "crops", progress=False, resume=not args.restart)
    times["cross-validation"], cpu["cross-validation"] = time.perf_counter() - t, _cpu() - c
    times["total"], cpu["total"] = time.perf_counter() - t_all, _cpu() - c_all
    loads["end"] = _load()

    # honesty checks: no rating column among the radiomic inputs, patients never split
    from voxelomics.model.columns import extraction_features

    table = args.out / "radiomics" / "features.parquet"
    feats = extraction_features(table, pd.read_parquet(table).columns) or []
    assert not set(RATINGS) & set(feats) and "diameter_mm" not in feats

    comp = metrics["comparison"]
    diffs = metrics["paired_differences"]
    order = ["baseline:diameter_mm", "baseline:morphology_volume", "radiomics", "deep", "fused"]
    print(f"\nLIDC-IDRI nodules: {metrics['n_samples']} nodules, {metrics['validation']['n_groups']} "
          f"patients, {metrics['class_balance']}; {metrics['validation']['outer']}; "
          f"{n_cut} nodules larger than the {args.size} mm crop")
    print(f"{'model':<28} {'AUC (95% CI)':<26} {'minus diameter-only':<28} {'minus volume-only':<28}")
    for name in order:
        auc = comp[name]["auc"] if name != "deep" else metrics["auc"]
        row = [_fmt(auc)]
        for base in ("baseline:diameter_mm", "baseline:morphology_volume"):
            key = f"{name} - {base}"
            row.append(_fmt(diffs[key]["auc"]) if key in diffs else "-")
        print(f"{name:<28} {row[0]:<26} {row[1]:<28} {row[2]:<28}")
    for key in ("deep - radiomics", "fused - radiomics", "deep - fused"):
        if key in diffs:
            print(f"{key:<28} AUC difference {_fmt(diffs[key]['auc'])}")
    print("\nwall time (s):  " + "  ".join(f"{k}: {v:.0f}" for k, v in times.items()))
    print("CPU time (s):   " + "  ".join(f"{k}: {v:.0f}" for k, v in cpu.items())
          + "   (on an idle 2-core machine the wall time is about CPU time / 2)")
    print(f"load average (1/5/15 min): {loads}; cores: {os.cpu_count()}; torch threads: {args.threads}")
    epochs = [f["epochs"] for f in metrics["folds"]]
    print(f"network: {settings.net.arch} width {args.width}, {args.size}^3 crops of 1 mm, epochs per fold "
          f"{min(epochs)}-{max(epochs)} (early stopping, patience 5)")
    summary = {"times_s": times, "cpu_s": cpu, "load": loads, "n_roi_cut": n_cut,
               "auc": {k: (metrics["auc"] if k == "deep" else comp[k]["auc"]) for k in order},
               "paired_differences": {k: v["auc"] for k, v in diffs.items()},
               "settings": settings.model_dump(mode="json"), "figures": metrics.get("figures")}
    (args.out / "benchmark.json").write_text(json.dumps(summary, indent=2, default=str))
    print(f"figures and metrics: {args.out / 'cv'}")
    return summary


if __name__ == "__main__":
    main()
