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

__all__ = ["Context", "summary", "run_steps", "cohort", "quality_control", "failures",
           "features", "provenance"]

#: Columns that name a centre or scanner, tried in this order to group distributions.
GROUP_CANDIDATES = ("centre", "center", "site", "institution", "scanner", "manufacturer",
                    "vendor", "batch", "dicom_institution", "dicom_manufacturer")
#: DICOM header columns of the feature table counted in the cohort section (scanners).
SCANNER_COLUMNS = ("dicom_manufacturer", "dicom_manufacturer_model", "dicom_institution",
                   "dicom_convolution_kernel")
#: Features drawn by centre when no model says which matter (readable name, IBSI tag).
DEFAULT_FEATURES = (("morphology_volume", "morph_volume"), ("morphology_sphericity", "morph_sphericity"),
                    ("statistics_mean", "stat_mean"), ("histogram_entropy", "ih_entropy"),
                    ("glcm_joint_entr_3d_avg", "cm_joint_entr_3D_avg"),
                    ("glszm_zone_size_entropy_3d", "szm_zs_entr_3D"))


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
        return study.get("description") or f"results folder {self.res.root.resolve()}"

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

        if c.features is None:
            return []
        cols = extraction_features(c.folder / "features.parquet", c.features.columns)
        if cols is None:
            cols = [k for k in c.features.columns if str(k).lower() not in IDENTIFIER_COLUMNS
                    and pd.api.types.is_numeric_dtype(c.features[k])]
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
        for name in ([wanted] if wanted else []) + list(GROUP_CANDIDATES) + ["modality"]:
            if name in table.columns and table[name].notna().any():
                return name
        return None

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
        kpis.append((f"{n_ok + n_bad}", f"cases in the {name}"))
        kpis.append((f"{n_ok}", f"extracted ({len(ctx.feature_columns(c))} features)"))
        kpis.append((f"{n_bad}", "failed (see Failures)"))
        qc = ctx.qc_table(c)
        if isinstance(qc, pd.DataFrame):
            kpis.append((f"{int((qc['flags'].str.len() > 0).sum())}", "QC-flagged cases"))
    parts.append('<div class="kpis">' + "".join(
        f'<div class="kpi"><b>{esc(v)}</b><span>{esc(t)}</span></div>' for v, t in kpis) + "</div>")
    rows = []
    for m in res.models:
        key, internal, external = _headline(m)
        rows.append({"model": m.label, "task": m.task or "", "metric": key,
                     "internal (cross-validation)": _ci(internal),
                     "external validation": (_ci(external) if external
                                             else _score_headline(m.external) or "not run"),
                     "n (internal)": (m.cv or {}).get("n_samples", ""),
                     "n (external)": (m.external or {}).get("n_samples", "")})
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
def _qc_cards(qc: pd.DataFrame, folder: Path | None, prefix: str) -> str:
    cards = []
    for _, r in qc.iterrows():
        flags = r["flags"] if isinstance(r["flags"], list) else []
        err = str(r.get("error") or "")
        cls = "card failed" if err else ("card flagged" if flags else "card")
        anchor = f"{prefix}-{slug(r['case_id'])}-{slug(r.get('roi', ''))}"
        badges = "".join(f'<span class="flag" title="{esc(f["message"])}">{esc(f["code"])}</span> '
                         f'<span class="note">{esc(f["message"])}</span><br>' for f in flags)
        if err:
            badges += f'<span class="flag err">not readable</span> <span class="note">{esc(err)}</span>'
        if not flags and not err:
            badges = '<span class="ok">no flag</span>'
        thumb = ""
        png = folder / "cases" / str(r.get("thumbnail")) if folder is not None and r.get("thumbnail") else None
        row = pd.DataFrame([{k: (json.dumps(v) if isinstance(v, list) else v) for k, v in r.items()
                             if k not in ("cached",)}])
        if png is not None and png.is_file():
            thumb = figure_html(None, png=png.read_bytes(), name=f"qc_{r['case_id']}", data=row,
                                caption=f"{esc(r.get('modality', ''))} · "
                                f"{_fmt(r.get('volume_mm3', float('nan')) / 1000.0, 2)} cm³")
        cards.append(f'<div class="{cls}" id="{esc(anchor)}"><h4>{esc(r["case_id"])} '
                     f'<span class="note">{esc(r.get("roi", ""))}</span></h4>{thumb}<div>{badges}</div></div>')
    return '<div class="qc">' + "".join(cards) + "</div>"


def quality_control(ctx: Context) -> Section:
    """A thumbnail per case with the contour on three orthogonal slices, and QC flags.

    Parameters
    ----------
    ctx : Context

    Returns
    -------
    Section
    """
    sec = Section("qc", "Quality control per case")
    body = []
    for name, coh, prefix in (("Cohort", ctx.res.cohort, "qc"), ("External cohort", ctx.res.external, "qcx")):
        if coh is None:
            continue
        qc = ctx.qc_table(coh)
        if not isinstance(qc, pd.DataFrame):
            body.append(f'<p class="skipped">{esc(name)}: skipped: {esc(qc)}</p>')
            continue
        flagged = qc[qc["flags"].str.len() > 0]
        from voxelomics.report.html import csv_link

        flat = qc.assign(flags=[json.dumps(f) for f in qc["flags"]]).drop(columns=["cached"], errors="ignore")
        links = ", ".join(f'<a href="#{prefix}-{slug(r["case_id"])}-{slug(r.get("roi", ""))}">{esc(r["case_id"])}</a>'
                          for _, r in flagged.iterrows())
        s = ctx.qc_settings
        body.append(f"<h3>{esc(name)}</h3><p>{len(qc)} cases, {len(flagged)} flagged"
                    + (f": {links}" if links else "") + f". {csv_link(flat, f'{prefix}_table', 'QC table (CSV)')}</p>")
        if s is not None:
            ct = (f"{s.ct_window_hu[0]:g} to {s.ct_window_hu[1]:g} HU" if s.ct_window_hu else
                  "the soft-tissue window (−160 to 240 HU), or the lung window (−1350 to 150 HU) "
                  "around lung nodules")
            pet = f"0 to {s.pet_suv_max:g} SUV" if s.pet_suv_max else "SUV from 0 to the lesion's SUVmax"
            body.append(f'<p class="note">Contour in red on the slices with the largest ROI section, '
                        f"radiological convention; CT shown in {ct}, PET in {pet} (inverted grey). "
                        f"Flags: ROI on an image edge; ROI under {s.min_roi_volume_mm3:g} mm³ or "
                        f"{s.min_roi_voxels} voxels; ROI thinner than the resampling spacing; re-segmentation removing over "
                        f"{100 * s.max_resegmented_fraction:g} % of the ROI; spacing ratio over "
                        f"{s.max_spacing_ratio:g}.</p>")
        body.append(_qc_cards(qc, coh.qc_dir, prefix))
    if not body:
        sec.skipped = "no feature table, hence no cases to check"
        return sec
    sec.body = "\n".join(body)
    return sec


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
                table_html(table)]
    if warned is not None and len(warned):
        body += [f"<h3>Warnings recorded during extraction</h3><p>{len(warned)} warning(s): the "
                 "case's features were computed but may be degraded. "
                 f"{csv_link(warned, 'extraction_warnings', 'warnings (CSV)')}</p>", table_html(warned)]
    sec.body = "\n".join(body)
    return sec


def _extraction_warnings(ctx: Context) -> pd.DataFrame | None:
    """Per-case warnings of the extraction, if its outputs record them.

    Read from a ``warnings.csv`` beside ``errors.csv`` or from a ``warnings`` column of the
    feature table (text, or a JSON list of messages or of ``{"message": ...}`` records).
    """
    frames = []
    for name, coh in (("cohort", ctx.res.cohort), ("external", ctx.res.external)):
        if coh is None:
            continue
        path = coh.folder / "warnings.csv"
        if path.is_file():
            try:
                frames.append(pd.read_csv(path).assign(cohort=name))
            except (OSError, ValueError, pd.errors.EmptyDataError):
                pass
        elif coh.features is not None and "warnings" in coh.features:
            rows = []
            for _, r in coh.features.iterrows():
                value = r["warnings"]
                if not isinstance(value, str) or not value.strip() or value.strip() in ("[]", "{}"):
                    continue
                try:
                    items = json.loads(value)
                except ValueError:
                    items = [value]
                for item in items if isinstance(items, list) else [items]:
                    msg = item.get("message", json.dumps(item)) if isinstance(item, dict) else str(item)
                    rows.append({"case_id": r["case_id"], "roi": r.get("roi", ""), "message": msg,
                                 "cohort": name})
            frames.append(pd.DataFrame(rows, columns=["case_id", "roi", "message", "cohort"]))
    return pd.concat(frames, ignore_index=True) if frames else None


# --------------------------------------------------------------------------- features
def _pick_features(ctx: Context, columns: list[str]) -> list[str]:
    chosen: list[str] = []
    for m in ctx.res.models:
        if m.selected is not None and "feature" in m.selected:
            chosen += [f for f in m.selected["feature"].astype(str) if f in columns]
    if not chosen:
        chosen = [next(n for n in pair if n in columns) for pair in DEFAULT_FEATURES
                  if any(n in columns for n in pair)]
    return list(dict.fromkeys(chosen))[:6] or columns[:6]


def features(ctx: Context) -> Section:
    """Feature distributions by centre or scanner, and the correlation clustermap.

    Parameters
    ----------
    ctx : Context

    Returns
    -------
    Section
    """
    from scipy import stats

    sec = Section("features", "Features")
    c = ctx.res.cohort
    if c is None or c.features is None or len(c.features) < 2:
        sec.skipped = "fewer than two extracted cases"
        return sec
    cols = ctx.feature_columns(c)
    table = ctx.joined(c)
    body = []
    group = ctx.group_column(table)
    if group is not None:
        shown = _pick_features(ctx, cols)
        data = table[["case_id", group, *shown]]
        body.append(figure_html(FF.distribution_figure(data, shown, group), name="feature_distributions",
                                data=data, caption=f"Selected features by {esc(group)}. Where "
                                "centres or scanners differ, harmonisation (ComBat: a batch column "
                                "in the model settings) may be needed."))
        levels = table[group].dropna().astype(str).unique()
        if len(levels) >= 2:
            rows = []
            for f in cols:
                groups = [pd.to_numeric(table.loc[table[group].astype(str) == g, f], errors="coerce")
                          .dropna().to_numpy() for g in levels]
                groups = [g for g in groups if g.size]
                if len(groups) >= 2 and np.ptp(np.concatenate(groups)) > 0:
                    h, p = stats.kruskal(*groups)
                    rows.append({"feature": f, "kruskal_h": h, "p_value": p})
            if rows:
                kw = pd.DataFrame(rows)
                kw["q_value_bh"] = stats.false_discovery_control(kw["p_value"].to_numpy())
                n_sig = int((kw["q_value_bh"] < 0.05).sum())
                from voxelomics.report.html import csv_link

                body.append(f"<p>{n_sig} of {len(kw)} features differ between the {len(levels)} "
                            f"levels of <b>{esc(group)}</b> (Kruskal–Wallis, Benjamini–Hochberg "
                            f"q &lt; 0.05). {csv_link(kw.sort_values('p_value'), 'kruskal_wallis', 'per feature (CSV)')}</p>")
    else:
        body.append('<p class="skipped">Distributions by centre skipped: no centre, scanner or modality column.</p>')
    corr, tree = FF.correlation_data(table[cols])
    if corr.shape[0] >= 2:
        body.append(figure_html(FF.clustermap_figure(corr, tree), name="feature_correlation",
                                data=corr.reset_index(names="feature"),
                                caption=f"Spearman correlation of {corr.shape[0]} non-constant features, "
                                "ordered by average-linkage clustering on 1 − |ρ|. Dark blocks (red "
                                "or blue) are groups of redundant features."))
    sec.body = "\n".join(body)
    return sec


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
