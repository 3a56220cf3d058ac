"""Comparators, paired differences and the result files of a model run.

Turns the out-of-fold (or external) predictions of a model and of its comparators into
the ``comparators`` section of ``metrics.json`` (each comparator's metrics and its paired
difference with the model), and writes the long ``oof_predictions.csv``. The layout of
both files is documented in ``docs/modelling.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from voxelomics.model.baselines import (
    FIXED,
    batch_pipeline,
    clinical_pipeline,
    describe,
    fixed_pipeline,
    volume_pipeline,
)
from voxelomics.model.tables import ModelData

__all__ = ["build_comparators", "column_report", "compare", "oof_frame", "oof_wide", "observed_columns",
           "write_json", "headline_metric"]


def headline_metric(task: str) -> str:
    """Metric compared between models: ``auc`` (classification), ``c_index`` or ``r2``.

    Parameters
    ----------
    task : {"classification", "survival", "regression"}

    Returns
    -------
    key : str
    """
    return {"classification": "auc", "regression": "r2"}.get(task, "c_index")


def build_comparators(names: list[str], data: ModelData, *, volume: str | None,
                      random_state: int = 0) -> tuple[list[tuple], dict, dict]:
    """Pipelines and inputs of the comparators that can run on this data.

    Parameters
    ----------
    names : list of str
        Requested comparators (resolved, see
        :meth:`~voxelomics.model.config.ModelSettings.resolved_baselines`).
    data : ModelData
        With ``clinical`` set when a clinical table was joined.
    volume : str or None
        Volume column.
    random_state : int, default=0

    Returns
    -------
    comparators : list of (name, pipeline, X)
        ``X`` is a DataFrame with the comparator's input columns.
    info : dict
        name -> ``{"description", "inputs"}`` (``clinical`` also ``left_out``: clinical
        columns not used, with the reason; columns named like an outcome are left out).
    skipped : dict
        name -> why it did not run (no volume column, no clinical table, ...).
    """
    task = data.task
    out, info, skipped = [], {}, {}
    for name in names:
        if name == "volume":
            if volume is None:
                skipped[name] = ("no volume column found (give --volume COL; recognised: "
                                 "morphology_volume, morph_volume, *original_shape_MeshVolume, ...)")
                continue
            out.append((name, volume_pipeline(task, random_state=random_state), data.X[[volume]]))
            info[name] = {"description": describe(name, task), "inputs": [volume]}
        elif name == "clinical":
            if data.clinical is None:
                skipped[name] = "no clinical table (--clinical)"
                continue
            if data.clinical.shape[1] == 0:
                left = data.clinical.attrs.get("left_out", {})
                skipped[name] = ("the clinical table holds no variable besides the outcome, "
                                 "batch and identifiers" + ("; left out: " + ", ".join(
                                     f"{c} ({r})" for c, r in left.items()) if left else ""))
                continue
            out.append((name, clinical_pipeline(task, random_state=random_state), data.clinical))
            info[name] = {"description": describe(name, task),
                          "inputs": [str(c) for c in data.clinical.columns],
                          "left_out": dict(data.clinical.attrs.get("left_out", {}))}
        elif name == "batch":
            if data.batch_levels is None:
                skipped[name] = "no batch column (--batch)"
                continue
            out.append((name, batch_pipeline(task, random_state=random_state), data.X[["batch"]]))
            info[name] = {"description": describe(name, task), "inputs": ["batch"]}
        elif name == "covariates":
            if not data.covariates:
                skipped[name] = "no covariates (--covariates)"
                continue
            out.append((name, clinical_pipeline(task, random_state=random_state),
                        data.X[list(data.covariates)]))
            info[name] = {"description": describe(name, task), "inputs": list(data.covariates)}
        else:
            if name not in FIXED[task]:
                skipped[name] = f"not a {task} pipeline"
                continue
            pipe = fixed_pipeline(name, batch=data.batch_levels is not None,
                                  random_state=random_state)
            if data.batch_levels is not None:
                pipe.set_params(combat__batch_labels=list(data.batch_levels))
            out.append((name, pipe, data.features_only))
            info[name] = {"description": describe(name, task),
                          "inputs": f"all {len(data.feature_names)} features"}
    return out, info, skipped


def compare(y, scores, comparator_scores: dict, info: dict, *, task: str, n_boot: int,
            seed: int, groups=None, errors: dict | None = None) -> dict:
    """Each comparator's metrics and its paired difference with the model.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        0/1 labels or sksurv structured array.
    scores : ndarray of shape (n_repeats, n_samples) or (n_samples,)
        The model's predictions.
    comparator_scores : dict of str to ndarray
        Each comparator's predictions on the same rows (and folds).
    info : dict
        name -> ``{"description", "inputs"}``.
    task : {"classification", "survival", "regression"}
    n_boot, seed : int
    groups : array-like or None
    errors : dict or None
        name -> error of a comparator that could not be fitted.

    Returns
    -------
    comparators : dict
        name -> ``{"description", "inputs", <metric>: {"mean", "ci95", ...},
        "difference": {<metric>: {"mean", "ci95", "per_repeat", "p_value"}},
        "model_better": bool}``; a comparator that failed has ``"error"`` instead.
    """
    from voxelomics.model.validation import score_predictions

    key = headline_metric(task)
    out: dict = {}
    ok = {}
    for name, pred in comparator_scores.items():
        entry = dict(info.get(name, {}))
        if not np.isfinite(np.asarray(pred, float)).all():
            entry["error"] = (errors or {}).get(name, "could not be fitted in some folds")
            out[name] = entry
            continue
        entry.update(score_predictions(y, pred, task=task, n_boot=n_boot, seed=seed,
                                       groups=groups, headline_only=True))
        out[name] = entry
        ok[name] = pred
    if task == "classification":
        from voxelomics.model.metrics import paired_differences

        diffs = paired_differences(y, scores, ok, n_boot=n_boot, seed=seed, groups=groups)
    elif task == "regression":
        from voxelomics.model.regression_metrics import paired_regression_differences

        diffs = paired_regression_differences(y, scores, ok, n_boot=n_boot, seed=seed,
                                              groups=groups)
    else:
        from voxelomics.model.survival import paired_c_difference

        diffs = {name: paired_c_difference(y, scores, pred, n_boot=n_boot, seed=seed,
                                           groups=groups)
                 for name, pred in ok.items()}
    for name, diff in diffs.items():
        out[name]["difference"] = diff
        lo = diff[key]["ci95"][0]
        out[name]["model_better"] = bool(np.isfinite(lo) and lo > 0)
    return out


def observed_columns(data: ModelData) -> dict:
    """Observed outcome columns for prediction files (original labels / time and event).

    Parameters
    ----------
    data : ModelData

    Returns
    -------
    columns : dict of str to ndarray
        ``observed`` (classification: the label; regression: the value), or
        ``observed_time`` and ``observed_event``.
    """
    from voxelomics.model.survival import event_field, time_field

    if data.task == "regression":
        return {"observed": np.asarray(data.y, float)}
    if data.task == "survival":
        return {"observed_time": time_field(data.y),
                "observed_event": event_field(data.y).astype(int)}
    if data.task == "classification":
        return {"observed": np.asarray([str(c) for c in data.classes], dtype=object)[data.y]}
    return {}


def oof_frame(data: ModelData, oof: np.ndarray, fold_of: np.ndarray,
              comparators: dict | None = None) -> pd.DataFrame:
    """Out-of-fold predictions in long form: one row per patient and repeat.

    Parameters
    ----------
    data : ModelData
    oof : ndarray of shape (n_repeats, n_samples)
        Model predictions (probability of the second class, or risk score).
    fold_of : ndarray of shape (n_repeats, n_samples)
        Outer fold of each prediction.
    comparators : dict of str to ndarray of shape (n_repeats, n_samples) or None

    Returns
    -------
    table : pandas.DataFrame
        Columns ``id``, ``group`` (with patient groups), ``repeat``, ``fold``, the
        observed outcome (``observed``, or ``observed_time`` and ``observed_event``),
        ``predicted``, then ``baseline_<name>`` per comparator; sorted by repeat, then
        the table's row order.
    """
    n_rep, n = oof.shape
    cols: dict = {"id": np.tile(data.ids, n_rep)}
    if data.groups is not None:
        cols["group"] = np.tile(data.groups, n_rep)
    cols["repeat"] = np.repeat(np.arange(n_rep), n)
    cols["fold"] = fold_of.reshape(-1)
    for k, v in observed_columns(data).items():
        cols[k] = np.tile(v, n_rep)
    cols["predicted"] = oof.reshape(-1)
    for name, pred in (comparators or {}).items():
        cols[f"baseline_{name}"] = np.asarray(pred, float).reshape(-1)
    return pd.DataFrame(cols)


def oof_wide(table: pd.DataFrame, column: str = "predicted") -> pd.DataFrame:
    """One row per patient and one column per repeat, from the long ``oof_predictions.csv``.

    Parameters
    ----------
    table : pandas.DataFrame
        ``oof_predictions.csv`` as written by :func:`oof_frame`.
    column : str, default="predicted"
        Prediction column to spread (``predicted`` or ``baseline_<name>``).

    Returns
    -------
    wide : pandas.DataFrame
        ``id``, the observed outcome column(s), then ``repeat_0``, ``repeat_1``, ... in the
        table's row order (the layout before issue 15).
    """
    first = table[table["repeat"] == table["repeat"].min()]
    keep = [c for c in ("id", "observed", "observed_time", "observed_event") if c in table]
    out = first[keep].reset_index(drop=True)
    for r in sorted(table["repeat"].unique()):
        out[f"repeat_{r}"] = table.loc[table["repeat"] == r, column].to_numpy()
    return out


def write_json(path: Path, obj: dict) -> None:
    """Write a result dictionary as indented JSON (numpy scalars as numbers).

    Parameters
    ----------
    path : Path
    obj : dict
    """
    def default(o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        return str(o)

    Path(path).write_text(json.dumps(obj, indent=2, default=default, allow_nan=True))


def column_report(data: ModelData) -> dict:
    """What happened to the table's columns, for ``metrics.json`` and ``model.json``.

    Parameters
    ----------
    data : ModelData

    Returns
    -------
    report : dict
        ``id_column`` (None: row numbers), ``dropped_columns`` (list of ``{"column",
        "reason"}``: columns that are not features), ``coerced_columns`` (text or boolean
        columns converted to numbers), ``missing_values`` (feature column -> number of
        missing values) and ``infinite_values`` (feature column -> number of ``inf``/
        ``-inf`` values, treated as missing); both are imputed inside the pipeline from
        the training rows. ``outcome_like_features`` lists features named like an
        outcome. With a clinical table, ``n_rows_without_clinical`` counts the feature
        rows left out because the clinical table has no row for them. ``groups``:
        ``{"column", "n_groups"}`` or None; ``tables``: the feature tables joined;
        ``covariates`` (model input columns) and ``covariate_levels``; ``lesions``: how
        lesions were aggregated (:mod:`voxelomics.model.lesions`); ``notes``: warnings
        about the inputs.
    """
    report = {"id_column": data.id_col, "dropped_columns": data.dropped_report(),
              "coerced_columns": list(data.coerced), "missing_values": dict(data.missing),
              "infinite_values": dict(data.infinite),
              "outcome_like_features": list(data.outcome_like),
              "groups": (None if data.groups is None else
                         {"column": data.group_col, "n_groups": int(np.unique(data.groups).size)}),
              "tables": list(data.tables), "covariates": list(data.covariates),
              "covariate_levels": dict(data.covariate_levels), "lesions": data.lesions,
              "notes": list(data.notes)}
    if data.without_clinical is not None:
        report["n_rows_without_clinical"] = len(data.without_clinical)
        report["rows_without_clinical"] = list(data.without_clinical[:10])
    return report
