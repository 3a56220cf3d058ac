"""Refuse a study before any work: every file it names exists, every column it names is there.

:func:`check_study` reads only the small files (manifests, the clinical table, settings);
it does not index DICOM folders or open images. Each message names the study key (e.g.
``outcomes[0].target``) and the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from voxelomics.errors import InputError, ModelError, SettingsError
from voxelomics.study.spec import Study

__all__ = ["check_study", "regression_supported"]

#: Columns every cohort row has (written by the manifest reader or ``voxelomics index``).
BASE_COLUMNS = ("case_id", "roi", "label", "modality", "image", "mask")


def regression_supported() -> bool:
    """Whether the installed ``voxelomics model`` accepts a continuous target.

    Returns
    -------
    bool
        True when :func:`voxelomics.model.tables.prepare_data` takes a continuous
        target without error (probed on a small table).
    """
    from voxelomics.model.tables import prepare_data

    df = pd.DataFrame({"id": [str(i) for i in range(12)], "f": np.arange(12.0),
                       "y": np.linspace(0.0, 1.0, 12)})
    try:
        prepare_data(df, target="y", id_col="id")
    except ModelError:
        return False
    return True


def _hint(name, columns) -> str:
    from voxelomics.model.tables import did_you_mean

    return did_you_mean(name, columns)


def _cohort_columns(where: str, manifests: list[Path], dicom: list[Path]) -> tuple[set, pd.DataFrame | None]:
    """Columns of the cohort rows, and the manifests' rows (for outcomes kept in them)."""
    from voxelomics.io import read_manifest
    from voxelomics.io.index import INDEX_COLUMNS

    cols = set(BASE_COLUMNS)
    frames = []
    for i, m in enumerate(manifests):
        if not m.is_file():
            raise InputError(f"{where}.manifest[{i}]: manifest file not found", path=m)
        read_manifest(m)  # columns, labels, duplicates: refused here with the line number
        df = pd.read_csv(m, dtype=str, keep_default_na=False)
        cols |= set(df.columns)
        frames.append(df)
    for i, d in enumerate(dicom):
        if not d.is_dir():
            raise InputError(f"{where}.dicom[{i}]: DICOM folder not found", path=d)
        cols |= set(INDEX_COLUMNS)
    return cols, (pd.concat(frames, ignore_index=True) if frames else None)


def _clinical(where: str, spec, cohort_cols: set) -> pd.DataFrame:
    from voxelomics.model.tables import read_table

    if not spec.table.is_file():
        raise InputError(f"{where}.table: clinical table not found", path=spec.table)
    table = read_table(spec.table)
    if spec.on not in table.columns:
        raise SettingsError(f"{where}.on: column {spec.on!r} is not in the clinical table"
                            f"{_hint(spec.on, table.columns)}", path=spec.table)
    if spec.on not in cohort_cols:
        raise SettingsError(f"{where}.on: column {spec.on!r} is not a column of the cohort rows "
                            f"(they have {sorted(cohort_cols)}){_hint(spec.on, cohort_cols)}")
    return table


def _check_outcome(key: str, outcome, table: pd.DataFrame, source: str) -> None:
    for name in ("target", "time", "event"):
        col = getattr(outcome, name)
        if col is not None and col not in table.columns:
            raise SettingsError(f"{key}.{name}: column {col!r} is not in {source}{_hint(col, table.columns)}")
    if outcome.kind == "binary":
        values = table[outcome.target].replace("", np.nan).dropna().astype(str).unique()
        if len(values) != 2:
            raise SettingsError(f"{key}.target: a binary outcome needs exactly 2 values in column "
                                f"{outcome.target!r} of {source}, found {len(values)}: {sorted(values)[:6]}")
    elif outcome.kind == "continuous":
        if pd.to_numeric(table[outcome.target], errors="coerce").notna().sum() < 3:
            raise SettingsError(f"{key}.target: column {outcome.target!r} of {source} holds no numbers")
        if not regression_supported():
            raise SettingsError(f"{key}: continuous outcomes need regression in voxelomics model, "
                                "which this version does not have (binary or time + event only)")
    else:
        t = pd.to_numeric(table[outcome.time], errors="coerce")
        if t.notna().sum() == 0 or (t < 0).any():
            raise SettingsError(f"{key}.time: column {outcome.time!r} of {source} must hold times >= 0")
        ev = pd.to_numeric(table[outcome.event].replace({"True": 1, "False": 0, True: 1, False: 0}),
                           errors="coerce").dropna()
        if len(ev) == 0 or not set(ev.unique()) <= {0, 1}:
            raise SettingsError(f"{key}.event: column {outcome.event!r} of {source} must hold 0/1")


def _writable(folder: Path) -> None:
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise InputError("out: the output folder cannot be created or written", path=folder)


def check_study(study: Study) -> list[str]:
    """Refuse a study whose files or columns are missing, before any work starts.

    Checks the extraction settings (every modality's effective settings), that every
    manifest, DICOM folder and clinical table exists, that the join column is in the
    clinical table and the cohort, that each outcome's columns are in the clinical table
    (or, without one, in the manifests) with values of the right kind, that each model's
    settings are valid and fit its outcome, and that the output folder can be written.

    Parameters
    ----------
    study : Study

    Returns
    -------
    warnings : list of str
        Things that do not stop the study (e.g. images named in a manifest that do not
        exist: those cases will fail and be listed in the report).

    Raises
    ------
    SettingsError
        Invalid settings, a column that is missing (with a "did you mean"), a model that
        does not fit its outcome.
    InputError
        A missing or unreadable file or folder; an output folder that cannot be written.
    """
    from voxelomics.io import read_manifest

    warnings: list[str] = []
    settings = study.extraction_settings()
    for modality in settings.modality_overrides:
        settings.for_modality(modality)
    cols, manifest_rows = _cohort_columns("cohort", study.cohort.manifest, study.cohort.dicom)
    for m in study.cohort.manifest:
        missing = [c.case_id for c in read_manifest(m) if not Path(c.image).exists() or not Path(c.mask).exists()]
        if missing:
            warnings.append(f"{len(missing)} case(s) of {m} name a missing image or mask file "
                            f"(they will fail): {missing[:5]}")
    if study.cohort.patient_id and study.cohort.patient_id.lower() != "none" \
            and study.cohort.patient_id not in cols:
        raise SettingsError(f"cohort.patient_id: column {study.cohort.patient_id!r} is not a column "
                            f"of the cohort rows{_hint(study.cohort.patient_id, cols)}")
    clinical = _clinical("clinical", study.clinical, cols) if study.clinical else None
    if clinical is not None:
        table, source = clinical, f"the clinical table {study.clinical.table}"
    else:
        table, source = manifest_rows, "the cohort manifest(s)"
        if study.outcomes and (study.cohort.dicom or table is None):
            raise SettingsError("outcomes: rows indexed from DICOM folders carry no outcome; give a "
                                "clinical table (clinical.table, clinical.on)")
    for i, outcome in enumerate(study.outcomes):
        key = f"outcomes[{i}]"
        _check_outcome(key, outcome, table, source)
        task = "survival" if outcome.kind == "survival" else (
            "regression" if outcome.kind == "continuous" else "classification")
        for j, model in enumerate(outcome.models):
            s = study.model_settings(model)
            try:
                s.resolved_model(task)
            except SettingsError as exc:
                raise SettingsError(f"{key}.models[{j}] ({model.name}): {exc.message}") from None
            if model.batch and model.batch not in cols | set(table.columns):
                raise SettingsError(f"{key}.models[{j}].batch: column {model.batch!r} is neither in the "
                                    f"cohort nor in {source}{_hint(model.batch, cols | set(table.columns))}")
    ext = study.validation.external
    if ext is not None:
        if not study.outcomes:
            raise SettingsError("validation.external: an external cohort needs outcomes to validate")
        ext_cols, ext_rows = _cohort_columns("validation.external", ext.manifest, ext.dicom)
        spec = ext.clinical or study.clinical
        if spec is not None:
            ext_table = _clinical("validation.external.clinical" if ext.clinical else "clinical", spec, ext_cols)
            ext_source = f"the clinical table {spec.table}"
        elif ext.dicom or ext_rows is None:
            raise SettingsError("validation.external: DICOM rows carry no outcome; give "
                                "validation.external.clinical")
        else:
            ext_table, ext_source = ext_rows, "the external manifest(s)"
        from voxelomics.study.score import external_columns

        for i, outcome in enumerate(study.outcomes):
            for name, col in external_columns(outcome):
                if col is not None and col not in ext_table.columns:
                    raise SettingsError(f"outcomes[{i}].{name}: column {col!r} is not in {ext_source} "
                                        f"(external cohort){_hint(col, ext_table.columns)}")
    _check_group_by(study, cols, clinical)
    _writable(study.out)
    return warnings


def _check_group_by(study: Study, cols: set, clinical: pd.DataFrame | None) -> None:
    """``report.group_by`` names a column of the feature table: cohort, DICOM header or clinical."""
    from voxelomics.io.header import HEADER_COLUMNS

    wanted = study.report.group_by
    if not wanted:
        return
    valid = set(cols) | set(HEADER_COLUMNS) | (set(clinical.columns) if clinical is not None else set())
    if wanted not in valid:
        source = "the cohort rows" + (f" or the clinical table {study.clinical.table}" if clinical is not None else "")
        raise SettingsError(f"report.group_by: column {wanted!r} is not a column of {source}"
                            f"{_hint(wanted, valid)}")

