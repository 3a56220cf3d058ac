"""The workflows behind ``voxelomics deep``: load a cohort, cross-validate, train, predict.

Each function takes file paths and settings, does one job and returns plain results; the CLI
only parses options, calls these and prints. They are the Python API too.

Cross-validation (:func:`run_cv`) uses the outer folds of ``voxelomics model cv``
(:func:`voxelomics.model.splits.outer_folds`, same ``n_splits``, ``n_repeats`` and
``random_state``, grouped by ``patient_id`` when the manifest has it) and its metrics and
confidence intervals (:mod:`voxelomics.model.metrics`, :mod:`voxelomics.model.survival`), so a
radiomic model, the network and their fusion are compared on identical splits. Every finished
fold is saved (``OUT/folds/``), so an interrupted run resumes at the fold it stopped in (and
inside that fold at the last finished epoch).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from voxelomics.deep.config import DeepSettings
from voxelomics.deep.data import CropSet
from voxelomics.deep.targets import Target
from voxelomics.errors import ModelError

__all__ = ["Cohort", "load_cohort", "write_errors", "run_cv", "train_model", "predict_manifest",
           "CI_METHOD"]

CI_METHOD = ("percentile bootstrap over patients of the metric averaged over CV repeats "
             "(voxelomics.model.metrics, as voxelomics model cv)")


@dataclass
class Cohort:
    """The cases of a manifest that have a crop, with their outcome and patients.

    Attributes
    ----------
    crops : CropSet
    target : Target or None
    groups : ndarray of shape (n_cases,) or None
        Patient of every case (``group_column``), or None.
    group_column : str or None
    """

    crops: CropSet
    target: Target | None
    groups: np.ndarray | None
    group_column: str | None

    @property
    def ids(self) -> list[str]:
        """Case identifiers."""
        return self.crops.case_ids

    @property
    def arrays(self) -> np.ndarray:
        """Crops, shape (n_cases, channels, z, y, x)."""
        return self.crops.arrays


def _column(cases, name: str, what: str, manifest) -> list:
    from voxelomics.model.columns import did_you_mean

    extras = set().union(*[set((c.extra or {}).keys()) for c in cases]) if cases else set()
    if name not in extras:
        raise ModelError(f"{what} column {name!r} is not in the manifest{did_you_mean(name, extras)}",
                         path=manifest)
    return [(c.extra or {}).get(name) for c in cases]


def write_errors(errors: list[dict], path: str | Path) -> Path:
    """Write failed cases as ``errors.csv`` (header even when empty).

    Parameters
    ----------
    errors : list of dict
        ``case_id``, ``roi``, ``step``, ``error_type``, ``message``.
    path : str or Path

    Returns
    -------
    Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = ["case_id", "roi", "step", "error_type", "message"]
    pd.DataFrame([{k: e.get(k, "") for k in cols} for e in errors], columns=cols).to_csv(path, index=False)
    return path


def load_cohort(manifest: str | Path, settings: DeepSettings, *, target: str | None = None,
                time: str | None = None, event: str | None = None, task: str = "auto",
                group: str | None = "auto", cache_dir: str | Path | None = None,
                progress: bool = True, errors_csv: str | Path | None = None,
                allow_failures: bool = False) -> Cohort:
    """Read a manifest, make (or reuse) every crop and encode the outcome.

    Parameters
    ----------
    manifest : str or Path
        Cohort manifest (as for ``voxelomics extract``).
    settings : DeepSettings
    target, time, event : str or None
        Outcome columns of the manifest (none: no outcome, e.g. for features).
    task : {"auto", "classification", "multiclass", "regression"}, default="auto"
    group : str or None, default="auto"
        Column naming the patient of every row; ``"auto"`` uses ``patient_id`` when present;
        None: every row its own patient.
    cache_dir : str or Path or None
        Crop cache (see :func:`voxelomics.deep.data.build_crops`).
    progress : bool, default=True
    errors_csv : str or Path or None
        Where to write the cases that failed (always written when given).
    allow_failures : bool, default=False
        Go on without the failed cases (features, predictions); otherwise the first failure
        is raised.

    Returns
    -------
    Cohort

    Raises
    ------
    VoxelomicsError
        A case could not be read or cropped (its own error, naming the case and the file, with
        the number of failed cases), or an invalid outcome or group column.
    """
    from voxelomics.deep.data import build_crops
    from voxelomics.deep.targets import make_target
    from voxelomics.io import read_manifest

    cases = read_manifest(manifest)
    # outcome and group columns are checked before any image is read
    values = _column(cases, target, "target", manifest) if target else None
    t = _column(cases, time, "time", manifest) if time else None
    e = _column(cases, event, "event", manifest) if event else None
    gcol = None
    if group == "auto":
        gcol = "patient_id" if any("patient_id" in (c.extra or {}) for c in cases) else None
    elif group:
        gcol = group
        _column(cases, group, "group", manifest)
    crops = build_crops(cases, settings.crop, cache_dir=cache_dir, progress=progress)
    if errors_csv is not None:
        write_errors(crops.errors, errors_csv)
    if crops.errors and not allow_failures:
        first = crops.errors[0]
        more = len(crops.errors) - 1
        exc = first["exception"]
        note = (f" ({more} more case(s) failed" + (f", see {errors_csv}" if errors_csv else "") + ")"
                if more else "")
        raise type(exc)(exc.message + note, case_id=exc.case_id, path=exc.path, step=exc.step)
    keep = [cases.index(c) for c in crops.cases]
    names = [c.case_id for c in crops.cases]
    tgt = None
    if values is not None or t is not None or e is not None:
        cols = {k: v for k, v in (("target", target), ("time", time), ("event", event)) if v}
        tgt = make_target(None if values is None else [values[i] for i in keep],
                          time=None if t is None else [t[i] for i in keep],
                          event=None if e is None else [e[i] for i in keep],
                          task=task, names=names, columns=cols)
    groups = None
    if gcol:
        raw = [(c.extra or {}).get(gcol) for c in crops.cases]
        missing = [n for n, g in zip(names, raw, strict=True) if g is None]
        if missing:
            raise ModelError(f"group column {gcol!r} is empty for {len(missing)} case(s): "
                             f"{', '.join(map(repr, missing[:5]))}", path=manifest)
        groups = np.asarray([str(g) for g in raw])
    return Cohort(crops, tgt, groups, gcol)


def _check_folds(target: Target, settings: DeepSettings, groups) -> None:
    from voxelomics.model.validation import check_cv_target

    k = settings.n_splits
    if target.task in ("classification", "survival"):
        check_cv_target(target.y, target.task, k)
    elif target.task == "multiclass":
        counts = np.bincount(target.y)
        if counts.min() < k:
            raise ModelError(f"class {target.classes[int(np.argmin(counts))]!r} has only "
                             f"{int(counts.min())} case(s) for {k}-fold cross-validation (use --folds)")
    if groups is not None and np.unique(groups).size < k:
        raise ModelError(f"{np.unique(groups).size} patients cannot fill {k} folds (use --folds)")


def _progress(enabled: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3f}  val {task.fields[val_loss]:.3f}  "
                   "metric {task.fields[metric]:.3f}"),
        TimeElapsedColumn(), console=console, disable=not (enabled and console.is_terminal),
        transient=False)


def _fingerprint(cohort: Cohort, settings: DeepSettings) -> dict:
    """What the networks of the folds depend on (the folds of repeat r do not depend on the
    number of repeats, and the bootstrap comes after training: more repeats reuse the others)."""
    t = cohort.target
    used = settings.model_dump(mode="json", exclude={"n_repeats", "n_boot"})
    return {"settings": used, "ids": cohort.ids,
            "rois": cohort.crops.rois, "task": t.task,
            "y": np.asarray(t.y.tolist() if t.task == "survival" else t.y).tolist(),
            "groups": None if cohort.groups is None else cohort.groups.tolist()}


def _fold_store(out: Path, fingerprint: dict) -> Path:
    """``OUT/folds``, emptied when it holds the folds of another run."""
    folds = out / "folds"
    folds.mkdir(parents=True, exist_ok=True)
    run = folds / "run.json"
    text = json.dumps(fingerprint, sort_keys=True, default=str)
    if not run.is_file() or run.read_text() != text:
        for f in folds.glob("r*f*.*"):
            f.unlink()
        run.write_text(text)
    return folds


def _train_fold(cohort, settings, r, f, tr, store: Path, progress, resume: bool) -> dict:
    """Train (or reload) the network of one outer fold; outputs for every case it may need."""
    from voxelomics.deep.train import inner_split, predict_outputs, train_net

    done = store / f"r{r}f{f}.npz"
    if resume and done.is_file():
        with np.load(done, allow_pickle=False) as z:
            return {"outputs": z["outputs"], "fit": z["fit"], "val": z["val"],
                    "affine": tuple(float(v) for v in z["affine"]),
                    "history": json.loads(str(z["history"])), "best_epoch": int(z["best_epoch"]),
                    "reused": True}
    seed = settings.random_state + 100 * r + f
    fit, val = inner_split(cohort.target, tr, val_fraction=settings.train.val_fraction,
                           seed=seed, groups=cohort.groups)
    res = train_net(cohort.arrays, cohort.target, fit, val, settings, seed=seed,
                    checkpoint=store / f"r{r}f{f}.ckpt", resume=resume, progress=progress,
                    label=f"fold {r}.{f}")
    outputs = predict_outputs(res.net, cohort.arrays, batch_size=settings.train.batch_size)
    tmp = store / f".r{r}f{f}.npz"
    with open(tmp, "wb") as fh:
        np.savez(fh, outputs=outputs, fit=fit, val=val, history=np.array(json.dumps(res.history)),
                 best_epoch=res.best_epoch, affine=np.asarray(res.output_affine))
    tmp.replace(done)
    (store / f"r{r}f{f}.ckpt").unlink(missing_ok=True)
    return {"outputs": outputs, "fit": fit, "val": val, "history": res.history,
            "affine": tuple(res.output_affine),
            "best_epoch": res.best_epoch, "reused": False}


def run_cv(manifest: str | Path, settings: DeepSettings, out: str | Path, *, target: str | None = None,
           time: str | None = None, event: str | None = None, task: str = "auto",
           group: str | None = "auto", baselines=(), radiomics: str | Path | None = None,
           radiomics_model: str = "enet_lr", cache_dir: str | Path | None = None,
           plots: bool = True, progress: bool = True, resume: bool = True) -> dict:
    """Cross-validate the network (and optional comparators) on the folds of ``model cv``.

    Writes ``OUT/metrics.json`` (the form of ``voxelomics model cv``, plus ``comparison`` and
    ``paired_differences`` when comparators run), ``OUT/oof_predictions.csv``,
    ``OUT/comparison_oof.csv``, ``OUT/training_history.csv``, ``OUT/errors.csv`` and figures
    (ROC, calibration or Kaplan-Meier, ROC of every model, training curves).

    Parameters
    ----------
    manifest : str or Path
    settings : DeepSettings
    out : str or Path
    target, time, event, task, group
        As for :func:`load_cohort`.
    baselines : sequence of str
        Columns scored alone beside the network (manifest or radiomic table), e.g. ``diameter_mm``.
    radiomics : str or Path or None
        Radiomic feature table (joined on case_id, roi): adds the ``radiomics`` and ``fused``
        models (binary targets).
    radiomics_model : str, default="enet_lr"
        Classifier of :func:`voxelomics.model.estimators.make_pipeline` for the radiomic model.
    cache_dir : str or Path or None
        Crop cache; default ``OUT/.crops``.
    plots, progress, resume : bool, default=True

    Returns
    -------
    metrics : dict
        The content of ``metrics.json``.

    Raises
    ------
    VoxelomicsError
        Unreadable cases (named), invalid outcome, too few cases or patients for the folds.
    """
    from voxelomics.deep.compare import (
        baseline_fold_scores,
        baseline_values,
        logit,
        radiomic_matrix,
        radiomic_model,
        stack_fit,
    )
    from voxelomics.deep.report import cv_figures, write_json, write_oof
    from voxelomics.deep.train import scores_from_outputs
    from voxelomics.model.splits import outer_folds

    t0 = time_now()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cohort = load_cohort(manifest, settings, target=target, time=time, event=event, task=task,
                         group=group, cache_dir=cache_dir or out / ".crops", progress=progress,
                         errors_csv=out / "errors.csv")
    tgt = cohort.target
    if tgt is None:
        raise ModelError("deep cv needs --target COL, or --time COL and --event COL")
    if radiomics is not None and tgt.task != "classification":
        raise ModelError("--radiomics (radiomic and fused models) needs a binary --target; for other "
                         "outcomes fuse deep features with 'voxelomics model'")
    _check_folds(tgt, settings, cohort.groups)
    folds = outer_folds(tgt.y, task=tgt.split_task, n_splits=settings.n_splits,
                        n_repeats=settings.n_repeats, random_state=settings.random_state,
                        groups=cohort.groups)
    rad = radiomic_matrix(radiomics, cohort) if radiomics is not None else None
    base = {b: baseline_values(b, cohort, rad) for b in baselines}
    n, R = len(cohort.ids), settings.n_repeats
    shape = (R, n, tgt.n_outputs) if tgt.task == "multiclass" else (R, n)
    oof = {"deep": np.full(shape, np.nan)}
    for name in (["radiomics", "fused"] if rad is not None else []) + [f"baseline:{b}" for b in base]:
        oof[name] = np.full((R, n), np.nan)
    store = _fold_store(out, _fingerprint(cohort, settings))
    history, fold_notes = [], []
    with _progress(progress) as bar:
        outer = bar.add_task("folds", total=len(folds), loss=float("nan"), val_loss=float("nan"),
                             metric=float("nan"))
        for r, f, tr, te in folds:
            fold = _train_fold(cohort, settings, r, f, tr, store, bar, resume)
            scores = scores_from_outputs(tgt.task, fold["outputs"], fold["affine"])
            oof["deep"][r, te] = scores[te]
            history += [{"repeat": r, "fold": f, **h} for h in fold["history"]]
            note = {"repeat": r, "fold": f, "best_epoch": fold["best_epoch"],
                    "epochs": len(fold["history"]), "reused": fold["reused"]}
            seed = settings.random_state + 100 * r + f
            for b, values in base.items():
                oof[f"baseline:{b}"][r, te] = baseline_fold_scores(tgt, values, tr, te, seed=seed)
            if rad is not None:
                X = rad[0]
                full = radiomic_model(X, tgt, tr, groups=cohort.groups, model=radiomics_model, seed=seed)
                oof["radiomics"][r, te] = full.predict_proba(X[te])[:, 1]
                part = radiomic_model(X, tgt, fold["fit"], groups=cohort.groups,
                                      model=radiomics_model, seed=seed)
                val = fold["val"]

                def both(rows, part=part, scores=scores, X=X):
                    return np.column_stack([logit(part.predict_proba(X[rows])[:, 1]), logit(scores[rows])])

                stacker = stack_fit(both(val), tgt.y[val], seed=seed)
                oof["fused"][r, te] = stacker.predict_proba(both(te))[:, 1]
                note["fusion_weights"] = {"radiomics": float(stacker.coef_[0, 0]),
                                          "deep": float(stacker.coef_[0, 1])}
            fold_notes.append(note)
            bar.update(outer, advance=1)
            _fold_line(note, fold, tgt, scores, te, bar.console)
    metrics = _assemble(cohort, settings, oof, fold_notes, radiomics_model, rad, base)
    pd.DataFrame(history).to_csv(out / "training_history.csv", index=False)
    write_oof(out, cohort, oof)
    if plots:
        aucs = {k: v.get("auc") for k, v in metrics.get("comparison", {}).items() if "auc" in v}
        metrics["figures"] = cv_figures(tgt, oof, history, out, aucs=aucs)
    metrics["wall_time_s"] = round(time_now() - t0, 2)
    write_json(out / "metrics.json", metrics)
    return metrics


def time_now() -> float:
    """Monotonic clock (s)."""
    return time.perf_counter()


def _fold_line(note, fold, tgt, scores, te, console) -> None:
    from voxelomics.deep.targets import headline_metric

    msg = f"fold {note['repeat']}.{note['fold']}: "
    msg += "reused" if fold["reused"] else f"{note['epochs']} epochs, best {note['best_epoch']}"
    if tgt.task == "classification":
        from voxelomics.model.metrics import roc_auc

        msg += f", test {headline_metric(tgt.task)} {roc_auc(tgt.y[te], scores[te]):.3f}"
    console.print(msg, highlight=False)


def _assemble(cohort, settings, oof, notes, radiomics_model, rad, base) -> dict:
    from voxelomics.deep.compare import paired_difference
    from voxelomics.deep.targets import headline_metric, task_metrics

    tgt, s = cohort.target, settings
    g = cohort.groups

    def score(p):
        return task_metrics(tgt, p, n_boot=s.n_boot, seed=s.random_state, groups=g)

    main = score(oof["deep"])
    # the network's input: every voxel of every channel of the crop
    result = {"task": tgt.task, "model": s.net.arch, **main, "n_samples": len(cohort.ids),
              "n_features": int(np.prod(cohort.arrays.shape[1:]))}
    if tgt.task == "survival":
        from voxelomics.model.survival import event_field

        result["n_events"] = int(event_field(tgt.y).sum())
    elif tgt.task in ("classification", "multiclass"):
        counts = np.bincount(np.asarray(tgt.y, int), minlength=len(tgt.classes))
        result["class_balance"] = {str(c): int(k) for c, k in zip(tgt.classes, counts, strict=True)}
        result["classes"] = [str(c) for c in tgt.classes]
    result["validation"] = {
        "outer": f"{s.n_splits}-fold x {s.n_repeats} repeats, stratified"
                 + (f", grouped by {cohort.group_column}" if cohort.group_column else ""),
        "splitter": "voxelomics.model.splits.outer_folds (the folds of voxelomics model cv)",
        "groups": cohort.group_column,
        "n_groups": None if g is None else int(np.unique(g).size),
        "inner": (f"early stopping on a {s.train.val_fraction:g} validation split of each "
                  "training fold (stratified, grouped)"),
        "ci95_method": CI_METHOD}
    result["settings"] = s.model_dump(mode="json")
    result["folds"] = notes
    n_cut = sum(bool(m.get("roi_cut")) for m in cohort.crops.meta)
    result["crops"] = {"n_reused": cohort.crops.n_reused, "n_roi_cut": n_cut,
                       "crop_hash": s.crop.crop_hash()}
    others = [k for k in oof if k != "deep"]
    if others:
        key = headline_metric(tgt.task)
        comp = {"deep": {key: main[key]}}
        for k in others:
            comp[k] = score(oof[k])
        result["comparison"] = comp
        diffs = {}
        pairs = [("deep", k) for k in others]
        pairs += [(a, b) for a in ("radiomics", "fused") if a in oof
                  for b in others if b.startswith("baseline:")]
        if "fused" in oof:
            pairs.append(("fused", "radiomics"))
        for a, b in pairs:
            diffs[f"{a} - {b}"] = paired_difference(tgt, oof[a], oof[b], n_boot=s.n_boot,
                                                    seed=s.random_state, groups=g)
        result["paired_differences"] = diffs
        result["comparators"] = {
            **{k: f"{k.split(':', 1)[1]} alone: signed log, z-score, "
                  + ("logistic regression (C=1)" if tgt.task == "classification" else "ridge Cox")
               for k in others if k.startswith("baseline:")},
            **({"radiomics": f"voxelomics model pipeline {radiomics_model!r} on {len(rad[1])} "
                             "radiomic features, tuned by grouped inner CV",
                "fused": "stacking: logistic regression on the radiomic and network logits, "
                         "fitted on each training fold's validation split"} if rad is not None else {})}
    return result


def train_model(manifest: str | Path, settings: DeepSettings, out: str | Path, *,
                target: str | None = None, time: str | None = None, event: str | None = None,
                task: str = "auto", group: str | None = "auto", cache_dir: str | Path | None = None,
                progress: bool = True, resume: bool = False) -> dict:
    """Train on every case (early stopping on an inner validation split) and save the model.

    Writes ``OUT/model.pt``, ``OUT/model.json``, ``OUT/training_history.csv``,
    ``OUT/errors.csv`` and ``OUT/training_curves.png``; ``OUT/checkpoint.pt`` while training.

    Parameters
    ----------
    manifest : str or Path
    settings : DeepSettings
    out : str or Path
        Model folder.
    target, time, event, task, group
        As for :func:`load_cohort`.
    cache_dir : str or Path or None
        Crop cache; default ``OUT/.crops``.
    progress : bool, default=True
    resume : bool, default=False
        Continue from ``OUT/checkpoint.pt`` (same settings, cases and seed).

    Returns
    -------
    meta : dict
        The content of ``model.json``.

    Raises
    ------
    VoxelomicsError
        Unreadable cases (named), invalid outcome, or a checkpoint of another run.
    """
    from voxelomics.deep.persist import id_hash, save_deep_model
    from voxelomics.deep.report import training_curves
    from voxelomics.deep.train import inner_split, train_net

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cohort = load_cohort(manifest, settings, target=target, time=time, event=event, task=task,
                         group=group, cache_dir=cache_dir or out / ".crops", progress=progress,
                         errors_csv=out / "errors.csv")
    tgt = cohort.target
    if tgt is None:
        raise ModelError("deep train needs --target COL, or --time COL and --event COL")
    rows = np.arange(len(cohort.ids))
    fit, val = inner_split(tgt, rows, val_fraction=settings.train.val_fraction,
                           seed=settings.random_state, groups=cohort.groups)
    with _progress(progress) as bar:
        res = train_net(cohort.arrays, tgt, fit, val, settings, checkpoint=out / "checkpoint.pt",
                        resume=resume, progress=bar, label="training")
    pd.DataFrame(res.history).to_csv(out / "training_history.csv", index=False)
    meta = {"arch": settings.net.arch, "task": tgt.task, "classes": [str(c) for c in tgt.classes],
            "target_columns": tgt.columns, "n_outputs": tgt.n_outputs,
            "in_channels": int(cohort.arrays.shape[1]), "output_affine": list(res.output_affine),
            "settings": settings.model_dump(mode="json"),
            "training": {"n_cases": len(rows), "n_fit": int(fit.size), "n_validation": int(val.size),
                         "best_epoch": res.best_epoch, "epochs_run": len(res.history),
                         "stopped_early": res.stopped_early,
                         "best_val_loss": min((h["val_loss"] for h in res.history), default=None),
                         "group_column": cohort.group_column},
            "source_manifest": str(manifest),
            "training_ids_sha256": sorted({id_hash(i) for i in cohort.ids})}
    save_deep_model(res.net, meta, out)
    training_curves(pd.DataFrame(res.history), out / "training_curves.png")
    (out / "checkpoint.pt").unlink(missing_ok=True)
    return meta


def predict_manifest(model_dir: str | Path, manifest: str | Path, out: str | Path | None = None, *,
                     cache_dir: str | Path | None = None, progress: bool = True) -> pd.DataFrame:
    """Predict every case of a manifest with a saved model.

    Parameters
    ----------
    model_dir : str or Path
        Folder written by :func:`train_model`.
    manifest : str or Path
    out : str or Path or None
        CSV to write (failed cases go to ``errors.csv`` beside it).
    cache_dir : str or Path or None
        Crop cache (the model's crop settings key it).
    progress : bool, default=True

    Returns
    -------
    predictions : pandas.DataFrame
        ``case_id``, ``roi`` and ``probability`` + ``predicted_class`` (binary),
        ``probability_<class>`` + ``predicted_class`` (multi-class), ``prediction``
        (continuous) or ``risk_score`` (survival). ``attrs["errors"]`` lists failed cases.

    Raises
    ------
    ModelError
        Not a model folder.
    """
    from voxelomics.deep.persist import load_deep_model
    from voxelomics.deep.train import predict_outputs, scores_from_outputs

    saved = load_deep_model(model_dir)
    meta = saved.meta
    errors_csv = None if out is None else Path(out).parent / "errors.csv"
    cohort = load_cohort(manifest, saved.settings, cache_dir=cache_dir, progress=progress,
                         errors_csv=errors_csv, allow_failures=True, group=None)
    if cohort.arrays.shape[1] != meta["in_channels"]:  # pragma: no cover - same settings
        raise ModelError("the crops do not have the model's input channels", path=model_dir)
    raw = predict_outputs(saved.net, cohort.arrays, batch_size=saved.settings.train.batch_size)
    scores = scores_from_outputs(meta["task"], raw, tuple(meta.get("output_affine", (0.0, 1.0))))
    pred = pd.DataFrame({"case_id": cohort.ids, "roi": cohort.crops.rois})
    classes = meta.get("classes") or []
    if meta["task"] == "classification":
        pred["probability"] = scores
        pred["predicted_class"] = np.where(scores >= 0.5, classes[1], classes[0])
    elif meta["task"] == "multiclass":
        for k, c in enumerate(classes):
            pred[f"probability_{c}"] = scores[:, k]
        pred["predicted_class"] = np.asarray(classes, dtype=object)[scores.argmax(1)]
    elif meta["task"] == "regression":
        pred["prediction"] = scores
    else:
        pred["risk_score"] = scores
    pred.attrs["errors"] = cohort.crops.errors
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        pred.to_csv(out, index=False)
    return pred

