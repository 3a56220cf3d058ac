"""Figures and JSON written next to the deep metrics.

ROC with its bootstrap band, calibration and Kaplan-Meier figures are those of
``voxelomics model`` (:mod:`voxelomics.model.plots`); added here: the ROC curves of every model
of a comparison on one plot, and the training curves (loss per epoch of every fold).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["write_json", "training_curves", "comparison_roc", "cv_figures", "write_oof"]


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def write_json(path: str | Path, obj: dict) -> Path:
    """Write a dict as indented JSON (numpy scalars as numbers, anything else as text).

    Parameters
    ----------
    path : str or Path
    obj : dict

    Returns
    -------
    Path
    """
    def default(o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        return str(o)

    path = Path(path)
    path.write_text(json.dumps(obj, indent=2, default=default, allow_nan=True))
    return path


def training_curves(history: pd.DataFrame, path: str | Path) -> Path:
    """Training and validation loss per epoch (one line per fold when there are folds).

    Parameters
    ----------
    history : pandas.DataFrame
        Columns ``epoch``, ``loss``, ``val_loss`` and optionally ``repeat``, ``fold``.
    path : str or Path
        Output PNG.

    Returns
    -------
    Path
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    keys = ["repeat", "fold"] if {"repeat", "fold"} <= set(history.columns) else []
    groups = history.groupby(keys) if keys else [((), history)]
    for i, (_, h) in enumerate(groups):
        ax.plot(h["epoch"], h["loss"], color="tab:blue", alpha=0.5, lw=1,
                label="training" if i == 0 else None)
        ax.plot(h["epoch"], h["val_loss"], color="tab:orange", alpha=0.7, lw=1,
                label="validation" if i == 0 else None)
    ax.set(xlabel="epoch", ylabel="loss", title="Training curves" + (" (every fold)" if keys else ""))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def comparison_roc(y: np.ndarray, scores: dict, path: str | Path, *, aucs: dict | None = None) -> Path:
    """Out-of-fold ROC curves of several models of one cohort on one plot.

    Parameters
    ----------
    y : ndarray of shape (n_cases,)
        Labels 0/1.
    scores : dict of str to ndarray of shape (n_repeats, n_cases)
        Out-of-fold probabilities per model (the curve is the mean TPR over repeats).
    path : str or Path
    aucs : dict of str to dict or None
        ``{model: {"mean", "ci95"}}`` for the legend.

    Returns
    -------
    Path
    """
    from sklearn.metrics import roc_curve

    plt = _plt()
    grid = np.linspace(0, 1, 201)
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, p in scores.items():
        tpr = np.mean([np.interp(grid, *roc_curve(y, row)[:2], left=0.0) for row in np.atleast_2d(p)],
                      axis=0)
        label = name
        if aucs and name in aucs:
            a = aucs[name]
            label += f"  AUC {a['mean']:.3f} ({a['ci95'][0]:.3f}-{a['ci95'][1]:.3f})"
        ax.plot(grid, tpr, lw=1.8, ls="--" if name.startswith("baseline:") else "-", label=label)
    ax.plot([0, 1], [0, 1], c="grey", lw=0.8, ls=":")
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1),
           title="ROC on the same outer folds")
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def cv_figures(target, oof: dict, history: list, out: Path, *, aucs: dict | None = None) -> dict:
    """Every figure of a deep cross-validation.

    Parameters
    ----------
    target : voxelomics.deep.targets.Target
    oof : dict of str to ndarray
        Out-of-fold scores per model (``deep`` first).
    history : list of dict
        Per-epoch records of every fold.
    out : Path
    aucs : dict or None
        ``{model: {"mean", "ci95"}}`` for the legend of the comparison ROC.

    Returns
    -------
    figures : dict of str to str
        Figure name to file path (and ``logrank_p`` for survival).
    """
    from voxelomics.model import plots

    figs: dict = {}
    deep = oof["deep"]
    if target.task == "classification":
        figs["roc"] = str(plots.plot_roc(target.y, deep, out / "roc.png"))
        figs["calibration"] = str(plots.plot_calibration(target.y, deep, out / "calibration.png"))
        if len(oof) > 1:
            figs["roc_comparison"] = str(comparison_roc(target.y, oof, out / "roc_comparison.png",
                                                        aucs=aucs))
    elif target.task == "survival":
        path, p = plots.plot_km(target.y, deep.mean(axis=0), out / "kaplan_meier.png")
        figs["kaplan_meier"], figs["logrank_p"] = str(path), p
    if history:
        figs["training_curves"] = str(training_curves(pd.DataFrame(history), out / "training_curves.png"))
    return figs


def write_oof(out: Path, cohort, oof: dict) -> None:
    """Write ``oof_predictions.csv`` (the network, the form of ``model cv``) and ``comparison_oof.csv``.

    Parameters
    ----------
    out : Path
    cohort : voxelomics.deep.workflow.Cohort
    oof : dict of str to ndarray
        Out-of-fold scores per model, ``deep`` first: (n_repeats, n_cases), or
        (n_repeats, n_cases, n_classes) for a multi-class network.
    """
    tgt = cohort.target
    ids = pd.DataFrame({"id": cohort.ids, "roi": cohort.crops.rois})
    if tgt.task == "survival":
        from voxelomics.model.survival import event_field, time_field

        ids["observed_time"], ids["observed_event"] = time_field(tgt.y), event_field(tgt.y).astype(int)
    elif tgt.task in ("classification", "multiclass"):
        ids["observed"] = np.asarray([str(c) for c in tgt.classes], dtype=object)[np.asarray(tgt.y, int)]
    else:
        ids["observed"] = tgt.y
    deep = oof["deep"]
    if deep.ndim == 3:
        cols = {f"repeat_{r}_{c}": deep[r, :, k] for r in range(deep.shape[0])
                for k, c in enumerate(tgt.classes)}
    else:
        cols = {f"repeat_{r}": deep[r] for r in range(deep.shape[0])}
    pd.concat([ids, pd.DataFrame(cols)], axis=1).to_csv(out / "oof_predictions.csv", index=False)
    if len(oof) > 1 and deep.ndim == 2:
        long = [ids.assign(model=k, repeat=r, score=v[r]) for k, v in oof.items() for r in range(v.shape[0])]
        pd.concat(long, ignore_index=True).to_csv(out / "comparison_oof.csv", index=False)
