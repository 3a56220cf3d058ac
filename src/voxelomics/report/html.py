"""One self-contained HTML page from a results folder (``voxelomics report``).

The page needs no network and no other file: CSS is inline, figures are PNG images in
``data:`` URIs, and every figure has the table it was drawn from as a CSV download link
(also a ``data:`` URI). There is no JavaScript. Each section is drawn from what the
results folder holds (:func:`voxelomics.report.results.read_results`); a section whose
inputs are absent says so in one line instead of failing, so outputs of later versions
(new metrics, other model kinds) only add to the page.
"""

from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = ["Section", "build_report", "write_report", "figure_html", "csv_link", "table_html"]

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Section:
    """One section of the page.

    Attributes
    ----------
    id : str
        HTML anchor.
    title : str
    body : str
        HTML (already escaped).
    skipped : str or None
        Why the section has no content (shown instead of the body).
    """

    id: str
    title: str
    body: str = ""
    skipped: str | None = None


def esc(value) -> str:
    """Escape text for HTML.

    Parameters
    ----------
    value : object
        Converted with ``str``.

    Returns
    -------
    str
    """
    return html.escape(str(value), quote=True)


def slug(text: str) -> str:
    """File- and anchor-safe form of a label.

    Parameters
    ----------
    text : str

    Returns
    -------
    str
    """
    return _SAFE.sub("_", str(text)).strip("._") or "x"


def csv_link(table: pd.DataFrame, filename: str, text: str = "data (CSV)") -> str:
    """A download link holding a table as CSV in a ``data:`` URI.

    Parameters
    ----------
    table : pandas.DataFrame
    filename : str
        Name offered for the download (``.csv`` added when missing).
    text : str, default="data (CSV)"

    Returns
    -------
    str
        An ``<a download>`` element.
    """
    name = slug(filename)
    name = name if name.endswith(".csv") else name + ".csv"
    data = base64.b64encode(table.to_csv(index=False).encode()).decode()
    return (f'<a class="csv" download="{esc(name)}" '
            f'href="data:text/csv;base64,{data}">{esc(text)}</a>')


def png_uri(png: bytes) -> str:
    """``data:`` URI of PNG bytes.

    Parameters
    ----------
    png : bytes

    Returns
    -------
    str
    """
    return "data:image/png;base64," + base64.b64encode(png).decode()


def figure_html(fig, *, name: str, caption: str = "", data=None, png: bytes | None = None,
                dpi: int = 100) -> str:
    """A ``<figure>`` with the figure as an inline PNG and its data as CSV links.

    Parameters
    ----------
    fig : matplotlib.figure.Figure or None
        Encoded then closed; None when ``png`` is given.
    name : str
        Stem of the CSV file names and the image's alt text.
    caption : str, default=""
        Caption (HTML, already escaped).
    data : pandas.DataFrame or dict of str to DataFrame or None
        The table(s) behind the figure; a dict gives one link per table.
    png : bytes or None, default=None
        An already encoded image (e.g. a cached QC thumbnail).
    dpi : int, default=100

    Returns
    -------
    str
    """
    if png is None:
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        plt.close(fig)
        png = buf.getvalue()
    links = []
    if isinstance(data, pd.DataFrame):
        links.append(csv_link(data, name))
    elif isinstance(data, dict):
        links += [csv_link(df, f"{name}_{key}", f"data: {key} (CSV)") for key, df in data.items()
                  if isinstance(df, pd.DataFrame)]
    cap = " · ".join([c for c in [caption, " ".join(links)] if c])
    return (f'<figure><img src="{png_uri(png)}" alt="{esc(name)}">'
            f"<figcaption>{cap}</figcaption></figure>")


def table_html(table: pd.DataFrame, *, max_rows: int | None = None, floatfmt: str = "{:.4g}") -> str:
    """An HTML table (escaped), optionally cut to its first rows.

    Parameters
    ----------
    table : pandas.DataFrame
    max_rows : int or None, default=None
    floatfmt : str, default="{:.4g}"

    Returns
    -------
    str
    """
    t = table if max_rows is None else table.head(max_rows)
    out = t.to_html(index=False, escape=True, border=0, classes="tbl", na_rep="",
                    float_format=floatfmt.format)
    if max_rows is not None and len(table) > max_rows:
        out += f'<p class="note">first {max_rows} of {len(table)} rows (all in the CSV)</p>'
    return out


_CSS = """
:root{--ink:#1d2633;--muted:#5b6675;--line:#d9dee5;--bg:#f6f7f9;--accent:#1f5fa8;--warn:#b35c00;--bad:#b3261e}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#13233a;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}header p{margin:4px 0 0;color:#c9d4e3}
nav{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid var(--line);padding:8px 28px;display:flex;flex-wrap:wrap;gap:14px}
nav a{color:var(--accent);text-decoration:none;font-weight:600}main{padding:10px 28px 40px;max-width:1400px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 20px;margin:16px 0}
h2{margin:2px 0 10px;font-size:19px}h3{margin:18px 0 8px;font-size:16px}h4{margin:12px 0 6px;font-size:14px}
.skipped{color:var(--muted);font-style:italic}.note{color:var(--muted);font-size:12px}
.notice{border-left:4px solid var(--warn);background:#fff6ea;padding:8px 12px;margin:8px 0}
.tbl{border-collapse:collapse;font-size:12.5px;margin:6px 0}.tbl th,.tbl td{border-bottom:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
.tbl th{background:#eef1f5}.figs{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}.figs figure{max-width:470px}
figure{margin:0;max-width:100%}figure img{max-width:100%;border:1px solid var(--line);border-radius:4px;background:#fff}
figcaption{font-size:12px;color:var(--muted);max-width:760px}a.csv{white-space:nowrap}
.kpis{display:flex;flex-wrap:wrap;gap:12px}.kpi{border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:150px}
.kpi b{display:block;font-size:20px}.kpi span{color:var(--muted);font-size:12px}
.qc{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:6px;padding:8px}.card.flagged{border-color:var(--warn);box-shadow:inset 4px 0 0 var(--warn)}
.card.failed{border-color:var(--bad);box-shadow:inset 4px 0 0 var(--bad)}.card h4{margin:0 0 4px;font-size:13px;word-break:break-all}
.flag{display:inline-block;background:#fff1dc;color:var(--warn);border:1px solid #f0c58c;border-radius:10px;padding:0 7px;margin:2px 4px 2px 0;font-size:11.5px}
.flag.err{background:#fde8e6;color:var(--bad);border-color:#f1aaa3}.flag.warn{background:#f3f0ff;color:#5b3fa8;border-color:#cbbef0}.ok{color:#2e7d32}
.safeguards{border:1px solid var(--line);border-left:5px solid var(--accent);border-radius:6px;padding:4px 14px 10px;margin:6px 0 14px;background:#fbfcfe}
.checks{border:1px solid var(--line);border-left:5px solid #2e7d32;border-radius:6px;padding:2px 12px 6px;margin:8px 0}
.checks.raised{border-left-color:var(--bad);background:#fffafa}code{font-size:12px}
pre{background:#f3f5f8;border:1px solid var(--line);padding:8px;overflow:auto;max-height:420px;font-size:12px}
details summary{cursor:pointer;color:var(--accent)}
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title><style>{{ css }}</style></head>
<body><header><h1>{{ title }}</h1><p>{{ subtitle }}</p></header>
<nav>{% for s in sections %}<a href="#{{ s.id }}">{{ s.title }}</a>{% endfor %}</nav>
<main>{% for s in sections %}<section id="{{ s.id }}"><h2>{{ s.title }}</h2>
{% if s.skipped %}<p class="skipped">Skipped: {{ s.skipped }}</p>{% else %}{{ s.body | safe }}{% endif %}
</section>{% endfor %}
<p class="note">Written by voxelomics {{ version }} on {{ created }} from {{ root }}.</p></main></body></html>
"""


def build_report(folder: str | Path, *, title: str | None = None, qc: bool = True,
                 qc_settings=None, progress: bool = False) -> str:
    """Render the report of a results folder as one HTML document.

    Parameters
    ----------
    folder : str or Path
        Output of ``voxelomics run``, ``extract`` or ``model`` (or a folder above them).
    title : str or None, default=None
        Page title (default: the study's name, else the folder name).
    qc : bool, default=True
        Draw QC thumbnails when the folder has none yet (reads the images through
        :mod:`voxelomics.io`; cached in ``FOLDER/qc``).
    qc_settings : voxelomics.report.qc.QCSettings or None, default=None
        Flag thresholds and display windows (default: the study's, else the defaults).
    progress : bool, default=False
        Progress bar while QC thumbnails are drawn.

    Returns
    -------
    html : str

    Raises
    ------
    InputError
        The folder does not exist.
    """
    import datetime

    import jinja2

    from voxelomics import __version__
    from voxelomics.report import feature_section, model_sections, qc_section, sections
    from voxelomics.report.results import read_results

    res = read_results(folder)
    ctx = sections.Context(res, qc=qc, qc_settings=qc_settings, progress=progress)
    builders = [("summary", "Summary", sections.summary), ("run", "Run log", sections.run_steps),
                ("cohort", "Cohort", sections.cohort),
                ("qc", "Quality control per case", qc_section.quality_control),
                ("failures", "Failures", sections.failures), ("features", "Features", feature_section.features),
                ("models", "Models", model_sections.models),
                ("provenance", "Provenance", sections.provenance)]
    parts = []
    for anchor, heading, builder in builders:
        try:
            parts.append(builder(ctx))
        except Exception as exc:  # noqa: BLE001 - one unreadable output must not cost the whole page
            parts.append(Section(anchor, heading, skipped=f"this section could not be drawn from the "
                                 f"results folder ({type(exc).__name__}: {exc})"))
    name = title or (res.study or {}).get("name") or Path(folder).resolve().name
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    page = env.from_string(_TEMPLATE).render(
        title=f"voxelomics report: {name}", subtitle=ctx.subtitle(), css=_CSS, sections=parts,
        version=__version__, root=str(Path(folder).resolve()),
        created=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"))
    return page


def write_report(folder: str | Path, out: str | Path, *, title: str | None = None, qc: bool = True,
                 qc_settings=None, progress: bool = False) -> Path:
    """Write the report of a results folder to one HTML file.

    Parameters
    ----------
    folder : str or Path
        Results folder (see :func:`build_report`).
    out : str or Path
        HTML file to write (its folder is created).
    title, qc, qc_settings, progress
        As for :func:`build_report`.

    Returns
    -------
    path : Path

    Raises
    ------
    InputError
        The results folder does not exist or the file cannot be written.
    """
    from voxelomics.errors import InputError

    page = build_report(folder, title=title, qc=qc, qc_settings=qc_settings, progress=progress)
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(out)
    except OSError as exc:
        raise InputError(f"cannot write the report: {exc}", path=out) from None
    return out
