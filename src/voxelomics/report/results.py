"""Find and read what a results folder holds, for the report.

A results folder may be the output of ``voxelomics run`` (a study), of ``voxelomics
extract`` (``features.parquet``, ``errors.csv``, ``run.json``), of ``voxelomics model cv`` /
``validate`` (``metrics.json`` ...), or any folder holding such outputs in sub-folders.
Everything is optional: each part of the report is drawn from what is present.

Layout of a study (``voxelomics run``)::

    study.yaml, study.json      the study file as run, and its resolved form
    run_log.json                per step: status, seconds, message
    cohort/manifest.csv         the cohort (manifest rows and indexed DICOM series)
    extraction/                 features.parquet, errors.csv, run.json
    qc/                         qc.csv and thumbnails
    external/                   the same three for the external cohort
    models/<outcome>/<model>/   study_model.json; cv/ (metrics.json, oof_predictions.csv);
                                final/ (model.json, selected_features.csv); external/
                                (metrics.json, predictions.csv)

Model results are found anywhere below the folder: a ``metrics.json`` with a
``model_dir`` entry is an external validation, any other one a cross-validation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["CohortResults", "ModelResults", "Results", "read_results", "read_warnings", "WARNING_COLUMNS"]


def _json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _csv(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.EmptyDataError):
        return None


@dataclass
class CohortResults:
    """One cohort's extraction outputs (the study cohort, or its external cohort).

    Attributes
    ----------
    folder : Path
        Folder of ``features.parquet``.
    features : pandas.DataFrame or None
    provenance : dict
        Settings YAML and hash, versions, creation time (Parquet metadata).
    errors : pandas.DataFrame or None
    run : dict or None
        ``run.json``.
    manifest : Path or None
        The cohort manifest, when one is kept with the results.
    qc_dir : Path or None
        Where the QC table and thumbnails are (or go).
    warnings : pandas.DataFrame or None
        Warnings recorded per case (:func:`read_warnings`); None when the outputs record
        none (written before warnings were recorded).
    """

    folder: Path
    features: pd.DataFrame | None = None
    provenance: dict = field(default_factory=dict)
    errors: pd.DataFrame | None = None
    run: dict | None = None
    manifest: Path | None = None
    qc_dir: Path | None = None
    warnings: pd.DataFrame | None = None


@dataclass
class ModelResults:
    """One model of one outcome: cross-validation, final model, external validation.

    Attributes
    ----------
    label : str
        Shown in the report (``outcome · model``, else the folder).
    folder : Path
    info : dict
        ``study_model.json`` (outcome name, kind and columns, model settings) when present.
    cv : dict or None
        ``metrics.json`` of the cross-validation.
    oof : pandas.DataFrame or None
        ``oof_predictions.csv``.
    final : dict or None
        ``model.json`` of the final model.
    selected : pandas.DataFrame or None
        ``selected_features.csv`` of the final model.
    external : dict or None
        ``metrics.json`` of the external validation.
    external_predictions : pandas.DataFrame or None
    """

    label: str
    folder: Path
    info: dict = field(default_factory=dict)
    cv: dict | None = None
    oof: pd.DataFrame | None = None
    final: dict | None = None
    selected: pd.DataFrame | None = None
    external: dict | None = None
    external_predictions: pd.DataFrame | None = None

    @property
    def task(self) -> str | None:
        """``classification`` or ``survival`` (or another task a later version writes)."""
        for m in (self.cv, self.external, self.final):
            if m and m.get("task"):
                return str(m["task"])
        return None


@dataclass
class Results:
    """Everything the report can draw from a results folder.

    Attributes
    ----------
    root : Path
    study : dict or None
        ``study.json`` of ``voxelomics run``.
    study_text : str or None
        The study file as run.
    run_log : dict or None
    cohort : CohortResults or None
    external : CohortResults or None
    clinical : pandas.DataFrame or None
        The study's clinical table (read from the path ``study.json`` records).
    models : list of ModelResults
    """

    root: Path
    study: dict | None = None
    study_text: str | None = None
    run_log: dict | None = None
    cohort: CohortResults | None = None
    external: CohortResults | None = None
    clinical: pd.DataFrame | None = None
    models: list[ModelResults] = field(default_factory=list)


def _failures_only(folder: Path) -> CohortResults | None:
    """An extraction that saved no feature table but lists failures (all cases failed, or
    it was interrupted before a case finished): reportable, its failures are the news."""
    errors = _csv(folder / "errors.csv")
    if errors is None or not len(errors):
        return None
    return CohortResults(folder=folder, errors=errors, run=_json(folder / "run.json"),
                         warnings=read_warnings(folder))


def _cohort(folder: Path, manifest: Path | None, qc_dir: Path) -> CohortResults | None:
    path = folder / "features.parquet"
    if not path.is_file():
        return _failures_only(folder)
    from voxelomics.cohort import read_provenance

    try:
        features = pd.read_parquet(path)
    except Exception:  # noqa: BLE001 - an unreadable table is reported as absent
        features = None
    try:
        provenance = read_provenance(path)
    except Exception:  # noqa: BLE001 - a table written by other tools has no provenance
        provenance = {}
    return CohortResults(folder=folder, features=features, provenance=provenance,
                         errors=_csv(folder / "errors.csv"), run=_json(folder / "run.json"),
                         manifest=manifest if manifest is not None and manifest.is_file() else None,
                         qc_dir=qc_dir, warnings=read_warnings(folder, features))


#: Columns of the per-case warnings table (``warnings.csv`` of ``voxelomics extract``).
WARNING_COLUMNS = ("case_id", "roi", "image_type", "step", "type", "message")


def read_warnings(folder: Path, features: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """The warnings recorded per case by the extraction.

    ``voxelomics extract`` writes them twice: ``warnings.csv`` (``case_id, roi,
    image_type, step, type, message``, one row per warning, a header even when there is
    none) and the feature table's ``warnings`` column (a JSON list per row, ``[]`` when
    none: ``[{"step": "features", "type": "DiscretisationWarning", "message": "..."}]``).
    The CSV is read when present, else the column; plain text in the column, or a JSON
    list of messages, is read as messages without step and type.

    Parameters
    ----------
    folder : Path
        Folder of ``features.parquet``.
    features : pandas.DataFrame or None
        The feature table.

    Returns
    -------
    pandas.DataFrame or None
        Columns :data:`WARNING_COLUMNS` (empty when no case was warned about); None when
        neither the file nor the column exists.
    """
    path = folder / "warnings.csv"
    if path.is_file():
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except pd.errors.EmptyDataError:
            table = pd.DataFrame(columns=list(WARNING_COLUMNS))
        except (OSError, ValueError):
            table = None
        if table is not None:
            return table.reindex(columns=list(dict.fromkeys([*WARNING_COLUMNS, *table.columns]))).fillna("")
    if features is None or "warnings" not in features:
        return None
    rows = []
    for _, r in features.iterrows():
        value = r["warnings"]
        if isinstance(value, (list, tuple)):
            items = list(value)
        elif not isinstance(value, str) or not value.strip():
            continue
        else:
            try:
                items = json.loads(value)
            except ValueError:
                items = [value]
        for item in items if isinstance(items, list) else [items]:
            rec = item if isinstance(item, dict) else {"message": str(item)}
            rows.append({"case_id": r.get("case_id", ""), "roi": r.get("roi", ""),
                         "image_type": r.get("image_type", ""), "step": rec.get("step", ""),
                         "type": rec.get("type", rec.get("code", "")),
                         "message": rec.get("message", json.dumps(rec))})
    return pd.DataFrame(rows, columns=list(WARNING_COLUMNS)).astype(str)


def _find_cohort(root: Path) -> CohortResults | None:
    if (root / "features.parquet").is_file():
        manifest = root / "manifest.csv"
        return _cohort(root, manifest, root / "qc")
    found = sorted(p for p in root.glob("*/features.parquet") if p.parent.name != "external")
    if not found:
        return _failures_only(root)
    folder = found[0].parent
    manifest = next((m for m in (folder / "manifest.csv", root / "manifest.csv",
                                 root / "cohort" / "manifest.csv") if m.is_file()), None)
    return _cohort(folder, manifest, root / "qc")


def _models(root: Path) -> list[ModelResults]:
    groups: dict[Path, ModelResults] = {}
    for path in sorted(root.rglob("metrics.json")):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        metrics = _json(path)
        if metrics is None or "task" not in metrics:
            continue
        here = path.parent
        external = "model_dir" in metrics
        group = here.parent if here.name in ("cv", "external") and here != root else here
        res = groups.get(group)
        if res is None:
            info = _json(group / "study_model.json") or {}
            label = info.get("label") or (str(group.relative_to(root)) if group != root else "model")
            res = groups[group] = ModelResults(label=label, folder=group, info=info)
        if external:
            res.external = metrics
            res.external_predictions = _csv(here / "predictions.csv")
        else:
            res.cv = metrics
            res.oof = _csv(here / "oof_predictions.csv")
    for group, res in groups.items():
        final = group / "final"
        if res.external and res.external.get("model_dir"):
            given = Path(str(res.external["model_dir"]))
            final = given if given.is_absolute() else (group / "external" / given)
            final = final if (final / "model.json").is_file() else group / "final"
        res.final = _json(final / "model.json")
        res.selected = _csv(final / "selected_features.csv")
    return list(groups.values())


def read_results(folder: str | Path) -> Results:
    """Find and read the outputs of a results folder.

    Parameters
    ----------
    folder : str or Path
        Output of ``voxelomics run``, ``extract`` or ``model``, or a folder above them.

    Returns
    -------
    Results
        Absent parts are None (or empty lists). An extraction folder without
        ``features.parquet`` but with failures in ``errors.csv`` (every case failed, or the
        run was interrupted) gives a cohort with ``features=None``: its failures are reported.

    Raises
    ------
    InputError
        The folder does not exist, or holds nothing to report (no feature table, no
        failures, no model metrics, no study).
    """
    from voxelomics.errors import InputError

    root = Path(folder)
    if not root.is_dir():
        raise InputError("results folder does not exist", path=root)
    res = Results(root=root)
    res.study = _json(root / "study.json")
    if (root / "study.yaml").is_file():
        res.study_text = (root / "study.yaml").read_text()
    res.run_log = _json(root / "run_log.json")
    if res.study is not None:
        res.cohort = _cohort(root / "extraction", root / "cohort" / "manifest.csv", root / "qc")
        res.external = _cohort(root / "external" / "extraction",
                               root / "external" / "cohort" / "manifest.csv", root / "external" / "qc")
        clinical = (res.study.get("clinical") or {}).get("table")
        if clinical:
            from voxelomics.model.tables import read_table

            try:
                res.clinical = read_table(clinical)
            except Exception:  # noqa: BLE001 - a moved clinical table only loses a grouping
                res.clinical = None
    else:
        res.cohort = _find_cohort(root)
    res.models = _models(root)
    if res.study is None and res.cohort is None and not res.models:
        raise InputError(_nothing_to_report(root))
    return res


def _nothing_to_report(root: Path) -> str:
    """One line: what a results folder lacks (and what an interrupted extraction left)."""
    message = (f"results folder {root}: no voxelomics results to report: no features.parquet or failures in errors.csv "
               "(voxelomics extract), no metrics.json (voxelomics model), no study.json (voxelomics run)")
    run = _json(root / "run.json")
    if run is not None:
        status = run.get("status", "unknown")
        message += (f"; run.json records an extraction with status {status!r} that saved no case "
                    "(re-run the same extract command to resume it)")
    return message
