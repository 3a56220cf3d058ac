"""The sections of the report, each built from what the results folder holds.

Every builder takes the :class:`Context` and returns a
:class:`~voxelomics.report.html.Section`: with a body, or with ``skipped`` set to the reason
its inputs are absent. Builders never raise for missing or unexpected content.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from voxelomics.report import feature_figures as FF
from voxelomics.report.html import Section, esc, figure_html, slug, table_html
from voxelomics.report.results import CohortResults, ModelResults, Results

__all__ = ["Context", "summary", "run_steps", "cohort", "failures",
           "provenance"]

#: Columns that name a centre or scanner, tried in this order to group distributions.
GROUP_CANDIDATES = ("centre", "center", "site", "institution", "scanner", "manufacturer",
                    "vendor", "batch", "dicom_institution", "dicom_manufacturer")
#: DICOM header columns of the feature table counted in the cohort section (scanners).
SCANNER_COLUMNS = ("dicom_manufacturer", "dicom_manufacturer_model", "dicom_institution",
                   "dicom_convolution_kernel")
#: Most rows of the failures and warnings tables on the page (their CSVs hold every row).
MAX_FAILURE_ROWS = 200


def _fmt(v, digits: int = 3) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "n/a" if not np.isfinite(f) else f"{f:.{digits}f}"


def _ci(metric) -> str:
    if not isinstance(metric, dict) or "mean" not in metric:
        return ""
    lo, hi = (list(metric.get("ci95") or []) + [float("nan")] * 2)[:2]
    return f"{_fmt(metric['mean'])} (95% CI {_fmt(lo)}–{_fmt(hi)})"


class Context:
    """What the section builders share: the results and tables derived from them.

    Parameters
    ----------
    results : Results
    qc : bool
        Draw missing QC thumbnails (reads images through :mod:`voxelomics.io`).
    qc_settings : QCSettings or None
    progress : bool
    """

    def __init__(self, results: Results, *, qc: bool = True, qc_settings=None, progress: bool = False):
        self.res = results
        self.qc_enabled = qc
        self.progress = progress
        self.qc_settings = qc_settings
        if self.qc_settings is None and results.study:
            from voxelomics.report.qc import QCSettings

            self.qc_settings = QCSettings(**((results.study.get("report") or {}).get("qc") or {}))
        self._qc: dict[str, pd.DataFrame | str | None] = {}

    def subtitle(self) -> str:
        """Line under the title.

        Returns
        -------
        str
        """
        study = self.res.study or {}
        where = f"results folder {self.res.root.resolve()}"
        return f"study {study['name']!r} · {where}" if study.get("name") else where

    # ------------------------------------------------------------------ cohort tables
    def feature_columns(self, c: CohortResults) -> list[str]:
        """Radiomic feature columns of a cohort's table.

        Parameters
        ----------
        c : CohortResults

        Returns
        -------
        list of str
        """
        from voxelomics.model.tables import IDENTIFIER_COLUMNS, extraction_features
        from voxelomics.report.feature_section import _registered, image_type

        if c.features is None:
            return []
        cols = extraction_features(c.folder / "features.parquet", c.features.columns)
        if cols is None:
            cols = [k for k in c.features.columns if str(k).lower() not in IDENTIFIER_COLUMNS
                    and pd.api.types.is_numeric_dtype(c.features[k])]
        elif c.provenance:  # features of filter response maps: prefixed registered names
            names = _registered()
            known = set(cols)
            cols = [k for k in c.features.columns if k in known or (
                pd.api.types.is_numeric_dtype(c.features[k]) and image_type(str(k), names) not in (None, "original"))]
        return list(cols)

    def joined(self, c: CohortResults, table: pd.DataFrame | None = None) -> pd.DataFrame | None:
        """A cohort table with the study's clinical columns joined (for grouping).

        Parameters
        ----------
        c : CohortResults
        table : pandas.DataFrame or None, default=None
            Table to join to (e.g. the QC table); default: the feature table.

        Returns
        -------
        pandas.DataFrame or None
        """
        df = c.features if table is None else table
        if df is None:
            return None
        clin = self.res.clinical
        on = ((self.res.study or {}).get("clinical") or {}).get("on")
        if clin is not None and on and on in df.columns and on in clin.columns:
            extra = [k for k in clin.columns if k not in df.columns or k == on]
            df = df.merge(clin[extra].drop_duplicates(on), on=on, how="left")
        return df

    def group_column(self, table: pd.DataFrame) -> str | None:
        """Column grouping cases by centre or scanner (study ``report.group_by`` first).

        Parameters
        ----------
        table : pandas.DataFrame

        Returns
        -------
        str or None
        """
        wanted = ((self.res.study or {}).get("report") or {}).get("group_by")
        if wanted and wanted in table.columns and table[wanted].notna().any():
            return wanted
        present = [n for n in list(GROUP_CANDIDATES) + ["modality"]
                   if n in table.columns and table[n].notna().any()]
        # a candidate with two or more levels (one scanner recorded for a few cases groups nothing)
        return next((n for n in present if table[n].dropna().astype(str).nunique() >= 2),
                    present[0] if present else None)

    def qc_table(self, c: CohortResults | None) -> pd.DataFrame | str | None:
        """QC table of a cohort: read from its QC folder, or drawn now and cached there.

        Parameters
        ----------
        c : CohortResults or None

        Returns
        -------
        pandas.DataFrame or str or None
            The table; a reason (str) when there is none.
        """
        if c is None:
            return "no feature table in the results folder"
        key = str(c.folder)
        if key in self._qc:
            return self._qc[key]
        from voxelomics.report.qc import read_qc

        table = read_qc(c.qc_dir) if c.qc_dir is not None else None
        if table is None and not self.qc_enabled:
            table = "QC thumbnails were not drawn (--no-qc) and the folder holds none"
        elif table is None:
            table = self._draw_qc(c)
        self._qc[key] = table
        return table

    def _draw_qc(self, c: CohortResults):
        from voxelomics.errors import VoxelomicsError
        from voxelomics.io.manifest import Case, read_manifest
        from voxelomics.report.qc import run_qc
        from voxelomics.settings import Settings

        try:
            if c.manifest is not None:
                cases = read_manifest(c.manifest)
            elif c.features is not None and "provenance" in c.features:
                cases = []
                for _, r in c.features.iterrows():
                    prov = json.loads(r["provenance"])
                    uid = r.get("series_uid") if "series_uid" in c.features else None
                    cases.append(Case(str(r["case_id"]), Path(prov["image"]), Path(prov["mask"]),
                                      roi=None if pd.isna(r.get("roi")) else str(r["roi"]),
                                      modality=r.get("modality"),
                                      extra={"series_uid": uid} if isinstance(uid, str) else {}))
            else:
                return "neither a manifest nor image paths (provenance) to read the images from"
            yaml_text = c.provenance.get("settings_yaml")
            settings = Settings.from_yaml(yaml_text) if yaml_text else None
            return run_qc(cases, c.qc_dir, extraction_settings=settings,
                          settings=self.qc_settings, progress=self.progress)
        except (VoxelomicsError, OSError, KeyError, ValueError) as exc:
            return f"the images could not be read for QC: {exc}"


# ---------------------------------------------------------------------------- summary
def _headline(m: ModelResults) -> tuple[str, dict | None, dict | None]:
    key = {"classification": "auc", "survival": "c_index", "regression": "r2"}.get(m.task or "", None)
    if key is None:
        for src in (m.cv, m.external):
            for k, v in (src or {}).items():
                if isinstance(v, dict) and "mean" in v and "ci95" in v:
                    key = k
                    break
            if key:
                break
    return key or "", (m.cv or {}).get(key), (m.external or {}).get(key)


def _patients(c: CohortResults) -> int | None:
    if c.features is None or "patient_id" not in c.features or not len(c.features):
        return None
    return int(c.features["patient_id"].astype(str).nunique())


def _n(metrics: dict | None) -> str:
    if not metrics:
        return ""
    groups = metrics.get("groups")
    n = metrics.get("n_samples", "")
    return f"{n} / {groups['n_groups']}" if isinstance(groups, dict) and groups.get("n_groups") else f"{n} / {n}"


def _score_headline(external: dict | None) -> str:
    """A transferred score's external associations in one cell (AUC; HR per SD), or ""."""
    parts = []
    auc = ((external or {}).get("binary") or {}).get("auc")
    if isinstance(auc, dict) and "mean" in auc:
        parts.append(f"score: AUC {_ci(auc)}")
    hr = ((external or {}).get("survival") or {}).get("hr_per_sd")
    if isinstance(hr, dict) and "hr" in hr:
        parts.append(f"score: HR per SD {_ci({'mean': hr['hr'], 'ci95': hr.get('ci95')})}")
    return "; ".join(parts)


def summary(ctx: Context) -> Section:
    """Key numbers: cases, failures, QC flags and each model's headline metric.

    Parameters
    ----------
    ctx : Context

    Returns
    -------
    Section
    """
    res = ctx.res
    sec = Section("summary", "Summary")
    if res.cohort is None and not res.models:
        sec.skipped = "the folder holds no voxelomics results (features.parquet or metrics.json)"
        return sec
    kpis = []
    parts = []
    if res.study and res.study.get("description"):
        parts.append(f'<p class="notice">{esc(res.study["description"])}</p>')
    for name, c in (("cohort", res.cohort), ("external cohort", res.external)):
        if c is None:
            continue
        n_ok = 0 if c.features is None else len(c.features)
        n_bad = 0 if c.errors is None else len(c.errors)
        kpis.append((f"{n_ok + n_bad}", f"cases (ROIs) in the {name}"))
        n_pat = _patients(c)
        if n_pat is not None:
            kpis.append((f"{n_pat}", "patients (extracted cases)"))
        kpis.append((f"{n_ok}", f"extracted ({len(ctx.feature_columns(c))} features)"))
        kpis.append((f"{n_bad}", "failed (see Failures)"))
        qc = ctx.qc_table(c)
        if isinstance(qc, pd.DataFrame):
            kpis.append((f"{int((qc['flags'].str.len() > 0).sum())}", "QC-flagged cases"))
        if c.warnings is not None:
            n_warned = len(c.warnings[["case_id", "roi"]].drop_duplicates())
            kpis.append((f"{n_warned}", "cases with extraction warnings"))
    parts.append('<div class="kpis">' + "".join(
        f'<div class="kpi"><b>{esc(v)}</b><span>{esc(t)}</span></div>' for v, t in kpis) + "</div>")
    rows = []
    from voxelomics.report.model_checks import FLAGS, flag_state
    from voxelomics.report.model_sections import ordered

    for m in ordered(res.models, res.study):
        key, internal, external = _headline(m)
        failed = [FLAGS[f][0] + ("" if where == "internal" else " (external)")
                  for where, met in (("internal", m.cv), ("external", m.external)) for f in FLAGS
                  if met is not None and flag_state(met, f)[0] == "raised"]
        recorded = any(isinstance((met or {}).get("flags"), dict) for met in (m.cv, m.external))
        rows.append({"model": m.label, "task": m.task or "",
                     "metric": {"auc": "AUC", "c_index": "C-index"}.get(key, key),
                     "internal (cross-validation)": _ci(internal),
                     "external validation": (_ci(external) if external
                                             else _score_headline(m.external) or "not run"),
                     "rows / patients (internal)": _n(m.cv), "rows / patients (external)": _n(m.external),
                     "safeguard checks (Models section)": ("⚠ " + "; ⚠ ".join(failed)) if failed
                     else ("✓ none failed" if recorded else "not recorded")})
    if rows:
        parts.append("<h3>Models</h3>" + table_html(pd.DataFrame(rows)))
    sec.body = "\n".join(parts)
    return sec


def run_steps(ctx: Context) -> Section:
    """The steps of ``voxelomics run``: what ran, what was reused, and where time went.

    Parameters
    ----------
    ctx : Context

    Returns
    -------
    Section
    """
    sec = Section("run", "Run log")
    log = ctx.res.run_log
    if not log or not log.get("steps"):
        sec.skipped = "no run_log.json (the folder was not written by voxelomics run)"
        return sec
    steps = pd.DataFrame(log["steps"])
    cols = [c for c in ("step", "status", "seconds", "last_run", "last_run_seconds", "detail") if c in steps]
    steps = steps[cols]
    body = [f"<p>Run started {esc(log.get('started', '?'))}, finished {esc(log.get('ended', '?'))} "
            f"(before the report was drawn: {esc(_fmt(log.get('seconds', float('nan')), 1))} s). "
            "Steps whose inputs and settings had not changed were skipped (<i>unchanged</i>); "
            "<i>last run</i> is when each step last did its work and how long it took.</p>",
            table_html(steps)]
    col = "last_run_seconds" if "last_run_seconds" in steps else "seconds" if "seconds" in steps else None
    if col is not None and len(steps):
        t = steps.assign(value=pd.to_numeric(steps[col], errors="coerce").fillna(0.0))
        fig = FF.selection_figure(t.rename(columns={"step": "feature"}), value="value",
                                 title="Where the time went (last run of each step)")
        fig.axes[0].set_xlabel("seconds")
        body.append(figure_html(fig, name="run_steps", data=steps,
                                caption="Wall time of each step the last time it ran."))
    sec.body = "\n".join(body)
    return sec


# ----------------------------------------------------------------------------- cohort
def cohort(ctx: Context) -> Section:
    """Cases, modalities, centres, spacing and ROI volumes, settings and versions.

    Parameters
    ----------
    ctx : Context

    Returns
    -------
    Section
    """
    sec = Section("cohort", "Cohort")
    c = ctx.res.cohort
    if c is None:
        sec.skipped = "no features.parquet in the results folder"
        return sec
    body = []
    for name, coh in (("Cohort", c), ("External cohort", ctx.res.external)):
        if coh is None or coh.features is None:
            continue
        table = ctx.joined(coh)
        qc = ctx.qc_table(coh)
        base = ctx.joined(coh, qc) if isinstance(qc, pd.DataFrame) else table
        body.append(f"<h3>{esc(name)}</h3>")
        n_pat = _patients(coh)
        if n_pat is not None:
            per = coh.features["patient_id"].astype(str).value_counts()
            body.append(f"<p>{len(coh.features)} extracted cases (ROIs) of <b>{n_pat} patients</b>"
                        + (f"; {int((per > 1).sum())} patients have several ROIs or scans (at most "
                           f"{int(per.max())}), kept together in every fold." if (per > 1).any() else ".")
                        + "</p>")
        counts = []
        for col in dict.fromkeys(["modality", ctx.group_column(table) or "modality", *SCANNER_COLUMNS]):
            src = base if col in base else table
            if col in src and src[col].notna().any():
                vc = src[col].fillna("(not recorded)").astype(str).value_counts()
                counts += [{"column": col, "value": k, "cases": int(v)} for k, v in vc.items()]
        if counts:
            body.append(table_html(pd.DataFrame(counts)))
        if isinstance(qc, pd.DataFrame) and "volume_mm3" in qc:
            ok = qc[qc["error"].astype(str) == ""]
            data = ok[["case_id", "modality", "spacing_z_mm", "spacing_y_mm", "spacing_x_mm",
                       "volume_mm3"]]
            body.append(figure_html(FF.cohort_figure(data), name=f"{slug(name)}_spacing_volume",
                                    data=data, caption="Native voxel spacing and ROI volume per "
                                    "case (from the images, before resampling)."))
        else:
            body.append(f'<p class="skipped">Spacing and volume plots skipped: {esc(qc)}</p>')
    prov = c.provenance
    if prov:
        body.append(f"<h3>Extraction settings</h3><p>Settings <b>{esc(prov.get('settings_hash', '?'))}</b> "
                    f"(hash), column naming {esc(prov.get('naming', '?'))}, table written "
                    f"{esc(prov.get('created', '?'))}. Full YAML under Provenance.</p>")
        versions = prov.get("versions") or {}
        if versions:
            body.append("<h4>Software versions</h4>" + table_html(
                pd.DataFrame({"package": list(versions), "version": list(versions.values())})))
    sec.body = "\n".join(body)
    return sec


# ------------------------------------------------------------------------------- QC
def failures(ctx: Context) -> Section:
    """Failed cases with their step, error type and message (extraction and QC).

    Parameters
    ----------
    ctx : Context

    Returns
    -------
    Section
    """
    from voxelomics.report.html import csv_link

    sec = Section("failures", "Failures")
    frames = []
    for name, coh in (("cohort", ctx.res.cohort), ("external", ctx.res.external)):
        if coh is None:
            continue
        if coh.errors is not None and len(coh.errors):
            cols = [k for k in ("case_id", "roi", "step", "error_type", "message") if k in coh.errors]
            frames.append(coh.errors[cols].assign(cohort=name, source="extraction"))
        qc = ctx.qc_table(coh)
        if isinstance(qc, pd.DataFrame):
            bad = qc[qc["error"].astype(str) != ""]
            if len(bad):
                frames.append(pd.DataFrame({"case_id": bad["case_id"], "roi": bad["roi"], "step": "qc",
                                            "error_type": "", "message": bad["error"],
                                            "cohort": name, "source": "qc"}))
    warned = _extraction_warnings(ctx)
    if ctx.res.cohort is None or ctx.res.cohort.errors is None:
        if not frames and warned is None:
            sec.skipped = "no errors.csv in the results folder"
            return sec
    body = ['<p class="ok">No case failed.</p>']
    if frames:
        table = pd.concat(frames, ignore_index=True)
        body = [f"<p>{len(table)} failure(s). {csv_link(table, 'failures', 'failures (CSV)')}</p>",
                table_html(table, max_rows=MAX_FAILURE_ROWS)]
    if warned is not None and len(warned):
        n_cases = len(warned[["cohort", "case_id", "roi"]].drop_duplicates())
        kinds = warned.assign(type=warned["type"].replace("", "(not given)")).groupby(
            ["cohort", "type"], sort=False).agg(warnings=("message", "size"),
                                               cases=("case_id", "nunique")).reset_index()
        kinds["what it means"] = [WARNING_MEANINGS.get(k, "") for k in kinds["type"]]
        cols = [k for k in ("cohort", "case_id", "roi", "step", "type", "message") if k in warned]
        body += [f"<h3>Warnings recorded during extraction</h3><p>{len(warned)} warning(s) on {n_cases} "
                 "case(s): their features were computed but may be degraded (also shown on each "
                 "case's QC card). "
                 f"{csv_link(warned, 'extraction_warnings', 'warnings (CSV)')}</p>", table_html(kinds),
                 "<details><summary>Every warning</summary>" + table_html(warned[cols], max_rows=MAX_FAILURE_ROWS)
                 + "</details>"]
    elif warned is not None:
        body.append('<p class="ok">No warning recorded during extraction.</p>')
    sec.body = "\n".join(body)
    return sec


#: What the extraction's warning types mean (voxelomics extract, warnings.csv ``type``).
WARNING_MEANINGS = {
    "DiscretisationWarning": "fewer than 4 grey levels after discretisation: texture features mean little",
    "RoundingWarning": "rounding the intensities changed most ROI values: the image was not integer-valued",
    "GeometryWarning": "the mask was given the image's geometry or moved onto its grid, a contour was "
                       "clipped, a single slice, or axes re-orthonormalised",
    "ApproximationWarning": "an approximation IBSI allows was used",
    "NonFiniteWarning": "NaN or infinite image values next to the ROI: features reading around it may be NaN",
}


def _extraction_warnings(ctx: Context) -> pd.DataFrame | None:
    """Per-case warnings recorded by the extraction (both cohorts), or None when none is recorded."""
    frames = [coh.warnings.assign(cohort=name) for name, coh in (("cohort", ctx.res.cohort),
                                                                  ("external", ctx.res.external))
              if coh is not None and coh.warnings is not None]
    return pd.concat(frames, ignore_index=True) if frames else None


def provenance(ctx: Context) -> Section:
    """The study file, the extraction settings YAML and the software versions.

    Parameters
    ----------
    ctx : Context

    Returns
    -------
    Section
    """
    sec = Section("provenance", "Provenance")
    body = []
    if ctx.res.study_text:
        body.append("<details open><summary>Study file as run</summary>"
                    f"<pre>{esc(ctx.res.study_text)}</pre></details>")
    c = ctx.res.cohort
    if c is not None and c.provenance.get("settings_yaml"):
        body.append(f"<details><summary>Extraction settings (hash {esc(c.provenance.get('settings_hash', ''))})"
                    f"</summary><pre>{esc(c.provenance['settings_yaml'])}</pre></details>")
    if c is not None and c.run:
        body.append(f"<details><summary>Extraction run (run.json)</summary><pre>{esc(json.dumps(c.run, indent=1))}"
                    "</pre></details>")
    for m in ctx.res.models:
        if m.cv and m.cv.get("settings"):
            body.append(f"<details><summary>Model settings: {esc(m.label)}</summary>"
                        f"<pre>{esc(json.dumps(m.cv['settings'], indent=1))}</pre></details>")
    if not body:
        sec.skipped = "no study file, settings or run record in the results folder"
        return sec
    sec.body = "\n".join(body)
    return sec
