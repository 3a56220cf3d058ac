"""The quality-control section: a card per case with its contour thumbnail, flags and warnings.

A cohort of thousands of cases does not give a page of thousands of thumbnails: at most
:data:`MAX_QC_CARDS` cards are drawn, failed, flagged and warned cases first; the QC table
(CSV link) and the thumbnails in the QC folder cover every case.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from voxelomics.report.html import Section, esc, figure_html, slug
from voxelomics.report.sections import Context, _fmt

__all__ = ["MAX_QC_CARDS", "quality_control"]

#: Most QC cards (thumbnails) on the page: failed, flagged and warned cases first; the QC CSV
#: and the thumbnails in the QC folder cover every case.
MAX_QC_CARDS = 150


def _warnings_by_case(warned: pd.DataFrame | None) -> dict:
    out: dict = {}
    if warned is None:
        return out
    for _, w in warned.iterrows():
        text = (f"{w['type']}: " if w.get("type") else "") + str(w.get("message", ""))
        out.setdefault((str(w.get("case_id", "")), str(w.get("roi", ""))), []).append(text)
    return out


def _cards_shown(qc: pd.DataFrame, warned: pd.DataFrame | None) -> pd.DataFrame:
    """The QC rows given a card: at most :data:`MAX_QC_CARDS`, failed, flagged, warned first."""
    if len(qc) <= MAX_QC_CARDS:
        return qc
    keys = set(_warnings_by_case(warned))
    warned_case = {k[0] for k in keys}
    rank = [0 if str(r.get("error") or "") else 1 if (isinstance(r["flags"], list) and r["flags"]) else
            2 if (str(r["case_id"]), str(r.get("roi", ""))) in keys or str(r["case_id"]) in warned_case else 3
            for _, r in qc.iterrows()]
    order = np.argsort(np.asarray(rank), kind="stable")[:MAX_QC_CARDS]
    return qc.iloc[np.sort(order)]


def _qc_cards(qc: pd.DataFrame, folder: Path | None, prefix: str, warned: pd.DataFrame | None = None) -> str:
    cards = []
    by_case = _warnings_by_case(warned)
    for _, r in qc.iterrows():
        flags = r["flags"] if isinstance(r["flags"], list) else []
        err = str(r.get("error") or "")
        cls = "card failed" if err else ("card flagged" if flags else "card")
        anchor = f"{prefix}-{slug(r['case_id'])}-{slug(r.get('roi', ''))}"
        badges = "".join(f'<span class="flag" title="{esc(f["message"])}">{esc(f["code"])}</span> '
                         f'<span class="note">{esc(f["message"])}</span><br>' for f in flags)
        if err:
            badges += f'<span class="flag err">not readable</span> <span class="note">{esc(err)}</span>'
        case_warnings = by_case.get((str(r["case_id"]), str(r.get("roi", ""))), [])
        if not case_warnings and len({k for k in by_case if k[0] == str(r["case_id"])}) == 1:
            case_warnings = next(v for k, v in by_case.items() if k[0] == str(r["case_id"]))
        if not flags and not err:
            badges = '<span class="ok">no flag</span>'
        badges += "".join(f'<br><span class="flag warn">extraction warning</span> <span class="note">{esc(w)}</span>'
                          for w in case_warnings)
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
        shown = _cards_shown(qc, coh.warnings)
        on_page = {(str(r["case_id"]), str(r.get("roi", ""))) for _, r in shown.iterrows()}
        by_code: dict[str, list[str]] = {}
        for _, r in flagged.iterrows():
            link = (f'<a href="#{prefix}-{slug(r["case_id"])}-{slug(r.get("roi", ""))}">{esc(r["case_id"])}</a>'
                    if (str(r["case_id"]), str(r.get("roi", ""))) in on_page else esc(r["case_id"]))
            for f in r["flags"]:
                by_code.setdefault(str(f.get("code", "?")), []).append(link)
        s = ctx.qc_settings
        body.append(f"<h3>{esc(name)}</h3><p>{len(qc)} cases, {len(flagged)} flagged (a case may have "
                    f"several flags; open a flag to list its cases). "
                    f"{csv_link(flat, f'{prefix}_table', 'QC table (CSV)')}</p>"
                    + "".join(f'<details><summary><span class="flag">{esc(code)}</span> {len(links)} case(s)'
                              f"</summary><p>{', '.join(dict.fromkeys(links))}</p></details>"
                              for code, links in sorted(by_code.items(), key=lambda kv: -len(kv[1]))))
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
        if len(shown) < len(qc):
            body.append(f'<p class="notice">{len(shown)} of the {len(qc)} cases are shown below (at most '
                        f"{MAX_QC_CARDS}): failed, flagged and warned cases first, then the others in table "
                        "order. The QC table (CSV) lists every case; every thumbnail is in the QC folder"
                        + (f" (<code>{esc(coh.qc_dir)}</code>)" if coh.qc_dir is not None else "") + ".</p>")
        body.append(_qc_cards(shown, coh.qc_dir, prefix, coh.warnings))
    if not body:
        sec.skipped = "no feature table, hence no cases to check"
        return sec
    sec.body = "\n".join(body)
    return sec
