"""Delta-radiomics: the change of every feature between two time points of one patient and ROI.

A feature table with ``patient_id`` and ``timepoint`` columns (manifest columns that
``voxelomics extract`` carries into ``features.parquet``) holds one row per scan, ROI and
image type. :func:`delta_features` pairs the row of the baseline time point with the row of
the follow-up time point of the same patient, ROI, image type and modality, and gives per
feature ``F``:

* ``F_delta``: the absolute change :math:`F_1 - F_0` (feature units);
* ``F_delta_rel``: the relative change. ``relative="baseline"`` (default):
  :math:`(F_1 - F_0) / |F_0|`, so a positive value is an increase whatever the baseline's
  sign (a mean of -50 HU rising to -25 HU is +0.5); when :math:`F_0 = 0` it is 0 if
  :math:`F_1 = 0` too, otherwise undefined (NaN; counted in the table's metadata and
  warned about). ``relative="symmetric"``: :math:`(F_1 - F_0) / ((|F_0| + |F_1|) / 2)`,
  bounded to [-2, 2] and defined unless both are 0 (then 0), for features that are often 0
  at baseline.

Which two time points (decision): ``baseline`` and ``followup`` name them (as written in the
``timepoint`` column); by default the first and the last of the whole table, in time order:
numeric when every time point is a number, chronological when every one is a date
(``2019-03-05`` or ``20190305``), else natural text order (``T2`` before ``T10``; give both
explicitly for names such as ``pre``/``post``). The same two for every patient, so every
delta spans the same interval. A patient or ROI without one of the two is an
:class:`~voxelomics.errors.InputError` naming them, unless ``drop_incomplete`` (then they are
left out, listed in the metadata and a warning).

References
----------
Fave X. et al., Delta-radiomics features for the prediction of patient outcomes in non-small
cell lung cancer, Sci Rep 2017;7:588.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import warnings
from pathlib import Path
from typing import Literal

import numpy as np

from voxelomics.errors import InputError, SettingsError, VoxelomicsWarning

__all__ = ["delta_features", "write_delta", "timepoint_order", "DELTA_SUFFIX", "RELATIVE_SUFFIX"]

DELTA_SUFFIX = "_delta"
RELATIVE_SUFFIX = "_delta_rel"
_KEYS = ("patient_id", "roi", "image_type")
_NOT_CARRIED = ("case_id", "timepoint", "provenance")
_META = "voxelomics."


def _as_date(value) -> _dt.date | None:
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return _dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _as_number(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _natural(value) -> tuple:
    return tuple(int(p) if p.isdigit() else p.casefold() for p in re.split(r"(\d+)", str(value)))


def timepoint_order(values) -> list:
    """Distinct time points in time order (see the module docstring for the rule).

    Parameters
    ----------
    values : iterable
        ``timepoint`` cells (missing ones are ignored).

    Returns
    -------
    list
        Distinct values, earliest first.

    Examples
    --------
    >>> timepoint_order([2, 0, 1, 0])
    [0, 1, 2]
    >>> timepoint_order(["T10", "T2", "T0"])
    ['T0', 'T2', 'T10']
    >>> timepoint_order(["2020-01-05", "2019-12-30"])
    ['2019-12-30', '2020-01-05']
    """
    distinct = []
    for v in values:
        if v is None or (isinstance(v, float) and v != v) or str(v).strip() == "":
            continue
        if v not in distinct:
            distinct.append(v)
    if all(_as_number(v) is not None for v in distinct):
        return sorted(distinct, key=_as_number)
    if all(_as_date(v) is not None for v in distinct):
        return sorted(distinct, key=_as_date)
    return sorted(distinct, key=_natural)


def _same_timepoint(cell, given) -> bool:
    if str(cell) == str(given):
        return True
    a, b = _as_number(cell), _as_number(given)
    if a is not None and b is not None:
        return a == b
    da, db = _as_date(cell), _as_date(given)
    return da is not None and da == db


def _pick(order: list, given, what: str):
    if given is None:
        return None
    hits = [v for v in order if _same_timepoint(v, given)]
    if not hits:
        raise SettingsError(f"{what} time point {given!r} is not in the table's timepoint column; "
                            f"time points found (in order): {order}")
    return hits[0]


def _feature_columns(df, features) -> list[str]:
    if features is not None:
        missing = [f for f in features if f not in df.columns]
        if missing:
            raise SettingsError(f"feature column(s) {missing[:5]} not in the table")
        return list(features)
    from voxelomics.features.registry import readable_to_ibsi

    table = readable_to_ibsi()
    names = set(table) | set(table.values())
    found = [c for c in df.columns if c in names]
    if not found:
        raise InputError("the table has no feature column (no column is named like a registered "
                         "feature); expected a features.parquet written by voxelomics extract, or "
                         "pass features=")
    return found


def _relative(f0: np.ndarray, f1: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """Relative change and the mask of pairs where it is undefined (baseline 0, change != 0)."""
    change = f1 - f0
    if how == "baseline":
        denom = np.abs(f0)
    else:
        denom = (np.abs(f0) + np.abs(f1)) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = change / denom
    zero = denom == 0
    rel[zero & (change == 0)] = 0.0
    undefined = zero & (change != 0)
    rel[undefined] = np.nan
    return rel, undefined


def _equal(a, b) -> bool:
    missing_a = a is None or (isinstance(a, float) and a != a)
    missing_b = b is None or (isinstance(b, float) and b != b)
    if missing_a or missing_b:
        return missing_a and missing_b
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def delta_features(
    table,
    *,
    baseline=None,
    followup=None,
    relative: Literal["baseline", "symmetric"] = "baseline",
    drop_incomplete: bool = False,
    features: list[str] | None = None,
):
    """Absolute and relative change of every feature between two time points.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per scan, ROI and image type, with ``patient_id``, ``timepoint``, ``roi``,
        ``image_type`` (``modality`` and ``case_id`` when present) and feature columns.
    baseline, followup : object or None, default=None
        Time points as written in the ``timepoint`` column (``0``, ``"T0"``,
        ``"2019-03-05"``); ``None``: the first / the last time point of the table.
    relative : {"baseline", "symmetric"}, default="baseline"
        Relative change: over ``|F0|``, or over the mean of ``|F0|`` and ``|F1|``.
    drop_incomplete : bool, default=False
        Leave out the patients and ROIs that lack one of the two time points (listed in
        ``attrs["delta"]["incomplete"]`` and a warning) instead of raising.
    features : list of str or None, default=None
        Feature columns; ``None``: the columns named like a registered feature.

    Returns
    -------
    pandas.DataFrame
        One row per patient, ROI, image type (and modality): those columns, then
        ``baseline_timepoint``, ``followup_timepoint`` (text), ``baseline_case_id``,
        ``followup_case_id``, ``baseline_date``/``followup_date`` (from
        ``dicom_acquisition_date`` when present), then ``F_delta`` and ``F_delta_rel`` for
        every feature ``F``, then the other columns whose value is the same at both time
        points (``outcome``, ``lesion_id``, ...). ``attrs["delta"]`` records the options,
        the incomplete pairs and the number of undefined relative changes per feature.

    Raises
    ------
    InputError
        A required column is missing; fewer than two time points; a patient or ROI without
        one of the two time points (the message names them; see ``drop_incomplete``); two
        rows for one patient, ROI and time point.
    SettingsError
        An unknown time point, the same one twice, or an unknown ``relative``.
    """
    import pandas as pd

    if relative not in ("baseline", "symmetric"):
        raise SettingsError(f"relative must be 'baseline' or 'symmetric', got {relative!r}")
    missing = [c for c in ("patient_id", "timepoint", "roi", "image_type") if c not in table.columns]
    if missing:
        advice = []
        manifest = [c for c in missing if c in ("patient_id", "timepoint")]
        if manifest:
            advice.append(f"add {' and '.join(manifest)} column(s) to the manifest (voxelomics extract "
                          "carries them into features.parquet)")
        written = [c for c in missing if c in ("roi", "image_type")]
        if written:
            advice.append(f"{' and '.join(written)} {'are' if len(written) > 1 else 'is'} written by voxelomics "
                          "extract: give its features.parquet, or a table that keeps "
                          f"{'those columns' if len(written) > 1 else 'that column'}")
        raise InputError(f"the table lacks the column(s) {missing} that delta-radiomics needs; "
                         + "; ".join(advice))
    keys = [*_KEYS, "modality"] if "modality" in table.columns else list(_KEYS)
    feats = _feature_columns(table, features)
    order = timepoint_order(table["timepoint"])
    if len(order) < 2:
        raise InputError(f"delta-radiomics needs two time points; the timepoint column holds {order}")
    t0 = _pick(order, baseline, "baseline")
    t1 = _pick(order, followup, "follow-up")
    t0 = order[0] if t0 is None else t0
    t1 = order[-1] if t1 is None else t1
    if _same_timepoint(t0, t1):
        raise SettingsError(f"baseline and follow-up are the same time point {t0!r}")

    df = table.reset_index(drop=True)
    at0 = df[[_same_timepoint(v, t0) for v in df["timepoint"]]]
    at1 = df[[_same_timepoint(v, t1) for v in df["timepoint"]]]
    for part, tp in ((at0, t0), (at1, t1)):
        dup = part[part.duplicated(keys, keep=False)]
        if len(dup):
            first = dup.iloc[0]
            raise InputError(f"two rows for patient {first['patient_id']!r}, ROI {first['roi']!r}, image type "
                             f"{first['image_type']!r} at time point {tp!r} (cases "
                             f"{sorted(map(str, dup.get('case_id', dup.index)))[:4]}); expected one per time point")
    i0 = {tuple(r): i for i, r in zip(at0.index, at0[keys].itertuples(index=False), strict=True)}
    i1 = {tuple(r): i for i, r in zip(at1.index, at1[keys].itertuples(index=False), strict=True)}
    all_keys = sorted(set(i0) | set(i1), key=lambda k: tuple(str(v) for v in k))
    incomplete = [(k, "baseline" if k not in i0 else "follow-up") for k in all_keys
                  if k not in i0 or k not in i1]
    if incomplete:
        listing = "; ".join(f"patient {k[0]!r} ROI {k[1]!r} lacks the {what} {t0 if what == 'baseline' else t1!r}"
                            for k, what in incomplete[:10])
        more = f" (and {len(incomplete) - 10} more)" if len(incomplete) > 10 else ""
        patients = sorted({str(k[0]) for k, _ in incomplete})
        if not drop_incomplete:
            raise InputError(f"{len(patients)} patient(s) lack a time point: {patients[:20]}: {listing}{more}; "
                             "add the missing scans, choose other time points, or leave them out "
                             "(drop_incomplete / --drop-incomplete)")
        warnings.warn(f"left out {len(incomplete)} patient/ROI pair(s) without both time points "
                      f"{t0!r} and {t1!r}: {listing}{more}", VoxelomicsWarning, stacklevel=2)
    pairs = [k for k in all_keys if k in i0 and k in i1]
    if not pairs:
        raise InputError(f"no patient and ROI has both time points {t0!r} and {t1!r}")
    r0 = df.loc[[i0[k] for k in pairs]].reset_index(drop=True)
    r1 = df.loc[[i1[k] for k in pairs]].reset_index(drop=True)

    out = {k: r0[k].to_numpy() for k in keys}
    out["baseline_timepoint"] = [str(t0)] * len(pairs)
    out["followup_timepoint"] = [str(t1)] * len(pairs)
    if "case_id" in df.columns:
        out["baseline_case_id"] = r0["case_id"].astype(str).to_numpy()
        out["followup_case_id"] = r1["case_id"].astype(str).to_numpy()
    if "dicom_acquisition_date" in df.columns:
        out["baseline_date"] = r0["dicom_acquisition_date"].to_numpy()
        out["followup_date"] = r1["dicom_acquisition_date"].to_numpy()
    undefined: dict[str, int] = {}
    for f in feats:
        f0 = pd.to_numeric(r0[f], errors="coerce").to_numpy(dtype=float)
        f1 = pd.to_numeric(r1[f], errors="coerce").to_numpy(dtype=float)
        rel, bad = _relative(f0, f1, relative)
        out[f + DELTA_SUFFIX] = f1 - f0
        out[f + RELATIVE_SUFFIX] = rel
        if bad.any():
            undefined[f] = int(bad.sum())
    done = set(keys) | set(feats) | set(_NOT_CARRIED) | {"dicom_acquisition_date"}
    carried, dropped = [], []
    for c in df.columns:
        if c in done or c in out:
            continue
        if all(_equal(a, b) for a, b in zip(r0[c], r1[c], strict=True)):
            out[c] = r0[c].to_numpy()
            carried.append(c)
        else:
            dropped.append(c)
    result = pd.DataFrame(out)
    if undefined:
        worst = sorted(undefined.items(), key=lambda kv: -kv[1])[:5]
        warnings.warn(f"relative change undefined (baseline 0, follow-up not 0) for {len(undefined)} feature(s), "
                      f"set to NaN: {worst}; consider relative='symmetric'", VoxelomicsWarning, stacklevel=2)
    result.attrs["delta"] = {
        "baseline": str(t0), "followup": str(t1), "timepoints": [str(v) for v in order],
        "relative": relative, "n_pairs": len(pairs), "n_features": len(feats),
        "incomplete": [{"patient_id": str(k[0]), "roi": str(k[1]), "image_type": str(k[2]), "lacks": what}
                       for k, what in incomplete],
        "undefined_relative": undefined, "carried_columns": carried, "dropped_columns": dropped,
    }
    return result


def _read_table(path: Path):
    import pandas as pd

    if not path.is_file():
        raise InputError("feature table not found", path=path)
    text_cols = {"patient_id": str, "case_id": str, "roi": str, "lesion_id": str}
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path), _source_meta(path)
        return pd.read_csv(path, dtype=text_cols, keep_default_na=True), {}
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the feature table: {exc}", path=path) from None


def _source_meta(path: Path) -> dict[bytes, bytes]:
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    keep = {}
    for key in ("settings_yaml", "settings_hash", "naming"):
        value = meta.get(f"{_META}{key}".encode())
        if value is not None:
            keep[f"{_META}source_{key}".encode()] = value
    return keep


def write_delta(
    features_path: str | Path,
    out: str | Path,
    *,
    baseline=None,
    followup=None,
    relative: Literal["baseline", "symmetric"] = "baseline",
    drop_incomplete: bool = False,
):
    """Read a feature table, compute :func:`delta_features` and write it as Parquet.

    Parameters
    ----------
    features_path : str or Path
        ``features.parquet`` (or a CSV) with ``patient_id`` and ``timepoint`` columns.
    out : str or Path
        Parquet file to write (parent folders are created).
    baseline, followup, relative, drop_incomplete
        As for :func:`delta_features`.

    Returns
    -------
    pandas.DataFrame
        The delta table written.

    Raises
    ------
    InputError
        The table cannot be read or lacks what :func:`delta_features` needs; the output
        cannot be written.
    SettingsError
        As for :func:`delta_features`.

    Notes
    -----
    The Parquet metadata holds ``voxelomics.delta`` (JSON: the two time points, the
    relative-change definition, incomplete pairs, undefined relative changes, carried and
    dropped columns), ``voxelomics.source`` (the input path) and the input's settings YAML,
    hash and naming as ``voxelomics.source_settings_yaml`` etc.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from voxelomics.cohort.outputs import package_versions, utc_now

    src, out = Path(features_path), Path(out)
    table, meta = _read_table(src)
    try:
        result = delta_features(table, baseline=baseline, followup=followup, relative=relative,
                                drop_incomplete=drop_incomplete)
    except InputError as exc:
        exc.with_context(path=src)
        raise
    arrow = pa.Table.from_pandas(result, preserve_index=False)
    meta.update({
        f"{_META}delta".encode(): json.dumps(result.attrs["delta"], sort_keys=True).encode(),
        f"{_META}source".encode(): str(src.resolve()).encode(),
        f"{_META}versions".encode(): json.dumps(package_versions(), sort_keys=True).encode(),
        f"{_META}created".encode(): utc_now().encode(),
    })
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), **meta})
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(arrow, out)
    except OSError as exc:
        raise InputError(f"cannot write the delta table: {exc}", path=out) from None
    return result
