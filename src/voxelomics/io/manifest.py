"""Cohort manifests: one CSV row per (case, ROI).

Columns: ``case_id``, ``image``, ``mask`` (required), ``label``, ``roi``, ``modality``
(optional); every other column is kept in :attr:`Case.extra`, typed per column (see
:func:`read_manifest`). ``patient_id`` (several lesions or time points of one patient) and
``timepoint`` are such extra columns, with a meaning for ``voxelomics delta``.

A row may select several ROIs of its mask, one feature-table row each (resolved by
:func:`voxelomics.io.lesions.expand_case` before a cohort runs): ``label`` ``all`` or a list
(``1;2;3``) for a label map or SEG, and an ``roi`` pattern for an RTSTRUCT or SEG (a glob
``GTV*`` or a regular expression ``re:^GTV_[0-9]+$``).

Relative paths resolve against the manifest's folder. :func:`write_manifest` writes paths
under the manifest's folder as relative paths (so the folder can move) and others as
absolute paths.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from voxelomics.errors import InputError

if TYPE_CHECKING:
    from voxelomics.settings import RingSettings

__all__ = ["Case", "read_manifest", "write_manifest", "REQUIRED_COLUMNS", "OPTIONAL_COLUMNS",
           "TEXT_COLUMNS", "parse_labels", "format_labels"]

REQUIRED_COLUMNS = ("case_id", "image", "mask")
OPTIONAL_COLUMNS = ("label", "roi", "modality")
#: Extra columns that are identifiers, always kept as text (``index_dicom`` writes them).
TEXT_COLUMNS = ("series_uid", "study_uid", "patient_id")


@dataclass(frozen=True)
class Case:
    """One (case, ROI) of a cohort.

    Parameters
    ----------
    case_id : str
        Case identifier, unique together with ``roi`` and ``label``.
    image : Path
        Image file or DICOM series folder.
    mask : Path
        Label map, RTSTRUCT or SEG file.
    label : int or None, default=None
        Label value in a label map (or SEG segment number).
    roi : str or None, default=None
        RTSTRUCT ROI name, or SEG segment label or number.
    modality : str or None, default=None
        ``"CT"``, ``"PT"``, ``"MR"`` ... when known.
    extra : dict, default={}
        Other manifest columns: int, float or str per column, ``None`` for an empty cell.
    labels : tuple of int, "all" or None, default=None
        Several labels (label map) or segment numbers (SEG) to extract, one row each
        (``label`` is then None); expanded by :func:`voxelomics.io.lesions.expand_case`.
    ring : RingSettings or None, default=None
        The peritumoral ring of this ROI to extract instead of the ROI itself (set by the
        cohort runner from ``settings.rois``; one task per region).
    """

    case_id: str
    image: Path
    mask: Path
    label: int | None = None
    roi: str | None = None
    modality: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    labels: tuple[int, ...] | Literal["all"] | None = None
    ring: RingSettings | None = None


_LABEL_SEPARATORS = re.compile(r"[;,|\s]+")


def parse_labels(text: str) -> int | tuple[int, ...] | Literal["all"]:
    """Read a manifest ``label`` cell: one integer, ``all``, or a list of integers.

    Parameters
    ----------
    text : str
        ``"2"``, ``"all"`` (any case) or integers separated by ``;``, ``,``, ``|`` or spaces
        (``"1;3;4"``; quote a comma-separated list in a CSV).

    Returns
    -------
    int, tuple of int or "all"
        An integer for a single label, else the sorted distinct labels or ``"all"``.

    Raises
    ------
    ValueError
        A value that is not an integer (the message names it).

    Examples
    --------
    >>> parse_labels("2"), parse_labels(" ALL "), parse_labels("3; 1;3")
    (2, 'all', (1, 3))
    """
    text = str(text).strip()
    if text.lower() == "all":
        return "all"
    parts = [p for p in _LABEL_SEPARATORS.split(text) if p]
    values = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            value = float("nan")
        if not value.is_integer():
            raise ValueError(f"label {part!r} is not an integer; expected an integer, 'all' or a list "
                             "such as '1;2;3'")
        values.append(int(value))
    if not values:
        raise ValueError(f"label {text!r} holds no integer")
    if len(values) == 1:
        return values[0]
    return tuple(sorted(set(values)))


def format_labels(labels: tuple[int, ...] | str | None) -> str:
    """Write :attr:`Case.labels` back as a manifest cell (``"all"``, ``"1;3"``, ``""``).

    Parameters
    ----------
    labels : tuple of int, "all" or None

    Returns
    -------
    str
    """
    if labels is None:
        return ""
    if isinstance(labels, str):
        return labels
    return ";".join(str(int(v)) for v in labels)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or str(value).strip() == ""


_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(nan|inf|infinity)", re.IGNORECASE)
_LEADING_ZERO = re.compile(r"[+-]?0\d")


def _column_type(values: list[str]) -> type:
    """Type of one extra column from its non-empty cells: int, float or str.

    ``int`` when every cell is a whole number, ``float`` when every cell is a number,
    else ``str``. A number written with a leading zero (``007``, a zip code or a
    zero-padded identifier) keeps the whole column text, so no digit is lost.
    """
    if any(_LEADING_ZERO.match(v) for v in values):
        return str
    if all(_INT.fullmatch(v) for v in values):
        return int
    if all(_FLOAT.fullmatch(v) for v in values):
        return float
    return str


def _typed_extras(rows: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    """Convert the extra columns of every row to their column type; empty cells to None."""
    out: list[dict[str, Any]] = [{} for _ in rows]
    for name in names:
        cells = [None if _blank(r.get(name)) else str(r[name]).strip() for r in rows]
        kind = str if name in TEXT_COLUMNS else _column_type([c for c in cells if c is not None])
        for target, cell in zip(out, cells, strict=True):
            target[name] = None if cell is None else kind(cell)
    return out


def read_manifest(path: str | Path) -> list[Case]:
    """Read a cohort manifest CSV.

    Parameters
    ----------
    path : str or Path
        CSV file with a header row (see the module docstring for the columns).

    Returns
    -------
    list of Case
        In file order, with absolute ``image`` and ``mask`` paths. Every other column
        goes to :attr:`Case.extra` with one type per column: ``int`` when every
        non-empty cell is a whole number (``0``, ``-3``), ``float`` when every non-empty
        cell is a number (``63.5``, ``1e-3``), else ``str`` (also when a number has a
        leading zero, e.g. ``007``, so identifiers and zip codes stay intact). The
        identifier columns of :data:`TEXT_COLUMNS` (``series_uid``, ``study_uid``,
        ``patient_id``) are always text. An empty cell is ``None`` (missing). A ``label``
        of ``all`` or a list (``1;2;3``) goes to :attr:`Case.labels` (see
        :func:`parse_labels`).

    Raises
    ------
    InputError
        Missing or unreadable file; a required column missing; no data row; an empty
        required cell; a label that is not an integer, ``all`` or a list of integers; a
        duplicate (case_id, roi, label).
        Messages name the manifest and the row (line number in the file).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("manifest file does not exist", path=path, step="read_manifest")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
            header = list(rows[0].keys()) if rows else None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read manifest: {exc}", path=path, step="read_manifest") from None
    if header is None:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            first = next(csv.reader(fh), None)
        raise InputError(f"manifest has no data rows (header: {first})", path=path, step="read_manifest")
    header = [h.strip() if h else h for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(f"manifest lacks required column(s) {missing}; found columns {header}",
                         path=path, step="read_manifest")
    base = path.resolve().parent
    rows = [{(k.strip() if k else k): v for k, v in raw.items()} for raw in rows]
    extra_names = [k for k in header if k and k not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    extras = _typed_extras(rows, extra_names)
    cases, seen = [], {}
    for i, row in enumerate(rows):
        line = i + 2
        for col in REQUIRED_COLUMNS:
            if _blank(row.get(col)):
                raise InputError(f"row at line {line}: column {col!r} is empty", path=path, step="read_manifest")
        label = labels = None
        if not _blank(row.get("label")):
            try:
                parsed = parse_labels(row["label"])
            except ValueError as exc:
                raise InputError(f"row at line {line} (case {row['case_id']!r}): {exc}",
                                 path=path, step="read_manifest") from None
            if isinstance(parsed, int):
                label = parsed
            else:
                labels = parsed
        roi = None if _blank(row.get("roi")) else str(row["roi"]).strip()
        modality = None if _blank(row.get("modality")) else str(row["modality"]).strip()
        if modality is not None:
            from voxelomics.errors import SettingsError
            from voxelomics.settings import normalise_modality

            try:
                modality = normalise_modality(modality)
            except SettingsError as exc:
                raise InputError(f"row at line {line} (case {row['case_id']!r}): {exc.message}",
                                 path=path, step="read_manifest") from None
        case_id = str(row["case_id"]).strip()
        key = (case_id, roi, label if labels is None else format_labels(labels))
        if key in seen:
            raise InputError(f"row at line {line}: duplicate (case_id, roi, label) = {key}, first at line {seen[key]}",
                             path=path, step="read_manifest")
        seen[key] = line
        cases.append(Case(case_id, base / str(row["image"]).strip(), base / str(row["mask"]).strip(),
                          label, roi, modality, extras[i], labels=labels))
    return cases


def _label_cell(value: Any) -> str:
    """A label cell as written: ``""``, ``"2"``, ``"all"`` or ``"1;3"``."""
    if _blank(value):
        return ""
    if isinstance(value, tuple | list):
        return format_labels(tuple(value))
    parsed = parse_labels(str(value))
    return str(parsed) if isinstance(parsed, int) else format_labels(parsed)


def _relative(p: Any, base: Path) -> str:
    if _blank(p):
        return ""
    p = Path(str(p)).resolve()
    try:
        return Path(os.path.relpath(p, base)).as_posix() if p.is_relative_to(base) else str(p)
    except ValueError:  # other drive on Windows
        return str(p)


def write_manifest(df: Any, path: str | Path) -> Path:
    """Write a manifest CSV that :func:`read_manifest` reads back.

    Parameters
    ----------
    df : pandas.DataFrame or sequence of Case
        Rows with at least ``case_id``, ``image``, ``mask`` (e.g. from
        :func:`voxelomics.io.index.index_dicom`); other columns are written after them.
    path : str or Path
        Output CSV; parent folders are created.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    InputError
        If a required column is missing or the file cannot be written.
    """
    import pandas as pd

    path = Path(path)
    if isinstance(df, Sequence) and not isinstance(df, pd.DataFrame):
        df = pd.DataFrame([{"case_id": c.case_id, "image": c.image, "mask": c.mask,
                            "label": c.label if c.labels is None else format_labels(c.labels),
                            "roi": c.roi, "modality": c.modality, **c.extra} for c in df],
                          dtype=object)  # object: an int column with a missing cell stays int
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"cannot write manifest: missing column(s) {missing}; found {list(df.columns)}",
                         path=path, step="write_manifest")
    out = df.copy()
    path.parent.mkdir(parents=True, exist_ok=True)
    base = path.resolve().parent
    for col in ("image", "mask"):
        out[col] = [_relative(p, base) for p in out[col]]
    if "label" in out.columns:
        out["label"] = [_label_cell(v) for v in out["label"]]
    first = [c for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS if c in out.columns]
    out = out[first + [c for c in out.columns if c not in first]]
    try:
        out.to_csv(path, index=False)
    except OSError as exc:
        raise InputError(f"cannot write manifest: {exc}", path=path, step="write_manifest") from None
    return path
