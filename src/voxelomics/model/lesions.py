"""Several lesions per patient: from lesion rows to the unit the model learns from.

A ``features.parquet`` of a multi-lesion cohort has one row per lesion (its
``patient_id`` column names the patient). The outcome belongs to the patient, so the
model needs a rule (``voxelomics model cv|fit --lesions RULE``, recorded in ``model.json``
and applied unchanged by ``predict``/``validate``):

=================== =====================================================================
rule                rows the model sees
=================== =====================================================================
``all`` (default)   every lesion is a sample; the folds are grouped by patient (no
                    patient's lesions in a training and a test fold at once, in the outer
                    and the inner loops) and the bootstrap resamples whole patients; the
                    metrics are per lesion (a patient with more lesions weighs more)
``largest``         one row per patient: its largest lesion (by the volume column), with
                    all the lesion's features and covariates
``volume_weighted`` one row per patient: each feature is the mean over the patient's
                    lesions weighted by lesion volume (lesions without a value left out),
                    the volume column is the **total** volume (tumour burden), the batch
                    and covariates are those of the largest lesion
=================== =====================================================================

The outcome must be the same in every row of a patient (else the rows are not lesions of
one patient's outcome: an error names the patients). After ``largest`` or
``volume_weighted`` the patient is the row: its identifier is the patient, and no
grouping is needed. ``metrics.json`` records the rule, the number of lesions and of
patients (``lesions``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from voxelomics.errors import ModelError

__all__ = ["LESION_RULES", "aggregate_lesions", "lesion_summary", "check_one_region", "lesion_keys"]

#: Rules of ``--lesions``.
LESION_RULES = ("all", "largest", "volume_weighted")


def _check_outcome(data, order: np.ndarray, codes: np.ndarray, n_groups: int) -> None:
    """Refuse patients whose rows hold different outcomes."""
    from voxelomics.model.survival import event_field, time_field

    if data.task == "none":
        return
    cols = ([time_field(data.y), event_field(data.y).astype(float)] if data.task == "survival"
            else [np.asarray(data.y, float)])
    bad = set()
    for col in cols:
        lo = np.full(n_groups, np.inf)
        hi = np.full(n_groups, -np.inf)
        np.minimum.at(lo, codes, col)
        np.maximum.at(hi, codes, col)
        bad |= set(np.flatnonzero(hi - lo > 1e-9 * np.maximum(1.0, np.abs(hi))).tolist())
    if bad:
        names = sorted(str(order[i]) for i in bad)
        raise ModelError(
            f"{len(names)} patient(s) have lesions with different outcomes, e.g. {names[:5]}; "
            "aggregating lesions (--lesions largest / volume_weighted) needs one outcome per "
            "patient (keep --lesions all to model lesions, or check the --group column)")


def aggregate_lesions(data, rule: str, *, volume: str | None):
    """Aggregate lesion rows to one row per patient (or keep them, grouped).

    Parameters
    ----------
    data : ModelData
        With ``groups`` (the patient of each row) unless every row is its own patient.
    rule : {"all", "largest", "volume_weighted"}
        See the module docstring.
    volume : str or None
        Volume column (a feature); needed by ``largest`` and ``volume_weighted``.

    Returns
    -------
    data : ModelData
        ``lesions`` records ``{"rule", "n_lesions", "n_patients", "max_lesions_per_patient",
        "volume_column"}``. With ``largest``/``volume_weighted`` one row per patient,
        ``ids`` the patients, ``groups`` None.

    Raises
    ------
    ModelError
        Unknown rule, no patient column or no volume column for an aggregating rule, a
        volume missing for a lesion, or patients whose lesions hold different outcomes.
    """
    if rule not in LESION_RULES:
        raise ModelError(f"--lesions must be one of {list(LESION_RULES)}, got {rule!r}")
    n = len(data.ids)
    if data.groups is None:
        info = {"rule": rule, "n_lesions": n, "n_patients": n, "max_lesions_per_patient": 1,
                "volume_column": volume}
        if rule != "all" and data.group_col is None:
            info["note"] = "no patient column (--group): every row is its own patient"
        return replace(data, lesions=info)
    order, codes = np.unique(data.groups, return_inverse=True)
    counts = np.bincount(codes, minlength=order.size)
    info = {"rule": rule, "n_lesions": n, "n_patients": int(order.size),
            "max_lesions_per_patient": int(counts.max()), "volume_column": volume,
            "patient_column": data.group_col}
    if rule == "all":
        return replace(data, lesions=info)
    if volume is None:
        raise ModelError(f"--lesions {rule} needs the lesion volume: no volume column was "
                         "recognised among the features (give --volume COL)")
    vol = data.X[volume].to_numpy(float)
    if not np.isfinite(vol).all() or (vol < 0).any():
        raise ModelError(f"--lesions {rule}: the volume column {volume!r} has "
                         f"{int((~np.isfinite(vol) | (vol < 0)).sum())} missing or negative "
                         "value(s); every lesion needs its volume")
    _check_outcome(data, order, codes, order.size)
    # the largest lesion of each patient (first in table order on ties)
    rank = np.lexsort((np.arange(n), -vol, codes))
    first = np.r_[True, codes[rank][1:] != codes[rank][:-1]]
    largest = rank[first]                     # one row index per patient, in patient order
    X = data.X.iloc[largest].reset_index(drop=True)
    clinical = None if data.clinical is None else data.clinical.iloc[largest].reset_index(drop=True)
    if rule == "volume_weighted":
        feats = [c for c in data.feature_names if c != volume]
        vals = data.X[feats].to_numpy(float)
        ok = np.isfinite(vals)
        w = np.where(ok, vol[:, None], 0.0)
        num = np.zeros((order.size, len(feats)))
        den = np.zeros((order.size, len(feats)))
        np.add.at(num, codes, np.where(ok, vals, 0.0) * w)
        np.add.at(den, codes, w)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(den > 0, num / den, np.nan)
        # a patient whose lesions all have volume 0 (or no value): plain mean of the values
        zero = den == 0
        if zero.any():
            cnt = np.zeros_like(den)
            tot = np.zeros_like(num)
            np.add.at(cnt, codes, ok.astype(float))
            np.add.at(tot, codes, np.where(ok, vals, 0.0))
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(zero & (cnt > 0), tot / cnt, mean)
        X[feats] = mean
        total = np.zeros(order.size)
        np.add.at(total, codes, vol)
        X[volume] = total
    y = data.y[largest]
    ids = np.asarray(order, dtype=str)
    return replace(data, X=X, y=y, ids=ids, groups=None, clinical=clinical, lesions=info,
                   id_col=data.group_col,
                   missing={c: int(k) for c, k in X[data.feature_names].isna().sum().items() if k},
                   infinite={})


def lesion_summary(info: dict | None) -> str:
    """One line describing the aggregation, for the command's output.

    Parameters
    ----------
    info : dict or None
        ``ModelData.lesions``.

    Returns
    -------
    text : str
        Empty when nothing was aggregated or grouped.
    """
    if not info or info.get("max_lesions_per_patient", 1) <= 1:
        return ""
    if info["rule"] == "all":
        return (f"lesions: {info['n_lesions']} lesions of {info['n_patients']} patients as samples, "
                "folds and bootstrap grouped by patient")
    what = "largest lesion" if info["rule"] == "largest" else "volume-weighted mean of the lesions"
    return (f"lesions: {info['n_lesions']} lesions aggregated to {info['n_patients']} patients "
            f"({what}; volume column {info['volume_column']!r})")


def check_one_region(df, where=None) -> None:
    """Refuse a table mixing the ROI with its rings, or several image types (filters).

    Parameters
    ----------
    df : pandas.DataFrame
        The (joined) feature table.
    where : str or None
        Named in the error.

    Raises
    ------
    ModelError
        More than one value in a ``region`` or ``image_type`` column.
    """
    for col, what in (("region", "regions (the ROI and its peritumoral rings)"),
                      ("image_type", "image types (original and filtered images)")):
        if col in df.columns and df[col].nunique(dropna=True) > 1:
            values = sorted(map(str, df[col].dropna().unique()))
            raise ModelError(
                f"the table holds rows of {len(values)} {what}: {values[:6]}; a model takes one "
                f"row per lesion. Keep the rows of one {col} (e.g. pandas: "
                f"table[table[{col!r}] == {values[0]!r}]), or put each {col}'s features in its "
                "own table and give the tables together (they are joined on the case)",
                path=where)


def lesion_keys(df, id_col, group):
    """Row identifiers of several lesions of one case (manifest ``label: all``).

    Parameters
    ----------
    df : pandas.DataFrame
    id_col : str or None
        Identifier column.
    group : str or None
        Patient column.

    Returns
    -------
    df : pandas.DataFrame
        With a ``lesion_key`` column (``case_id/roi``) when the identifiers repeat, a
        patient column is given and ``case_id/roi`` is unique; else unchanged.
    id_col : str or None
        ``"lesion_key"`` or the column given.
    """
    if (group is None or id_col is None or id_col not in df.columns or "roi" not in df.columns
            or not df[id_col].astype(str).duplicated().any()):
        return df, id_col
    key = df[id_col].astype(str).str.strip() + "/" + df["roi"].astype(str).str.strip()
    if key.duplicated().any():
        return df, id_col
    return df.assign(lesion_key=key.to_numpy()), "lesion_key"
