"""Several ROIs of one mask file: one manifest row that stands for one row per lesion.

A manifest row may select several ROIs of its mask; :func:`expand_case` turns it into one
:class:`~voxelomics.io.manifest.Case` per ROI before a cohort runs, so that every lesion is
its own task, cached, resumed and reported on its own, and its own row of the feature table.

Selections (decisions)
    * ``label`` ``all``: every non-zero label of a label map (read from the file), every
      segment of a DICOM SEG, every ROI of an RTSTRUCT.
    * ``label`` list (``1;2;3``): those labels of a label map, or segment numbers of a SEG,
      one row each, without reading the file; a label that is absent fails its own row
      (``EmptyRoiError`` listing the labels present), not the others.
    * ``roi`` pattern: a glob when it holds ``*`` or ``?`` (``GTV*``; matched ignoring
      letter case, as ROI names are typed by hand), or a regular expression after ``re:``
      (``re:^GTV_\\d+$``; full match, case-sensitive unless it says ``(?i)``). It matches
      RTSTRUCT ROI names or SEG segment labels; a SEG segment is then selected by its
      number (segment labels need not be unique).
    * Nothing matched: :class:`~voxelomics.errors.InputError` naming the case, the file,
      the pattern and the names in the file. A pattern on a label map is an
      :class:`~voxelomics.errors.InputError` saying what to use instead.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from pathlib import Path

import numpy as np

from voxelomics.errors import EmptyRoiError, InputError, MaskError, VoxelomicsError
from voxelomics.io.manifest import Case

__all__ = ["is_roi_pattern", "match_roi_names", "needs_expansion", "expand_case", "label_map_labels"]

_REGEX_PREFIX = "re:"


def is_roi_pattern(roi: str | None) -> bool:
    """Whether a manifest ``roi`` cell selects several ROIs (a glob or a ``re:`` expression).

    Parameters
    ----------
    roi : str or None
        The cell.

    Returns
    -------
    bool
        True for a glob holding ``*`` or ``?``, or a text starting with ``re:``.

    Examples
    --------
    >>> is_roi_pattern("GTV*"), is_roi_pattern("re:GTV_[0-9]+"), is_roi_pattern("GTV-1")
    (True, True, False)
    """
    if roi is None:
        return False
    text = str(roi)
    return text.startswith(_REGEX_PREFIX) or "*" in text or "?" in text


def match_roi_names(names: list[str], pattern: str) -> list[str]:
    """The names a pattern selects, in file order.

    Parameters
    ----------
    names : list of str
        ROI names (RTSTRUCT) or segment labels (SEG).
    pattern : str
        A glob (matched ignoring letter case) or ``re:`` + a regular expression (full match).

    Returns
    -------
    list of str
        Matching names, in the order given.

    Raises
    ------
    InputError
        The regular expression does not compile.

    Examples
    --------
    >>> match_roi_names(["GTV_Mass", "gtv_edema", "CTV"], "GTV*")
    ['GTV_Mass', 'gtv_edema']
    >>> match_roi_names(["GTV_1", "GTV_12", "GTV_1b"], r"re:GTV_\\d+")
    ['GTV_1', 'GTV_12']
    """
    if pattern.startswith(_REGEX_PREFIX):
        expr = pattern[len(_REGEX_PREFIX):]
        try:
            compiled = re.compile(expr)
        except re.error as exc:
            raise InputError(f"roi pattern {pattern!r} is not a valid regular expression ({exc})") from None
        return [n for n in names if compiled.fullmatch(n)]
    folded = pattern.casefold()
    return [n for n in names if fnmatch.fnmatchcase(n.casefold(), folded)]


def needs_expansion(case: Case) -> bool:
    """Whether a case selects several ROIs (``labels`` set or an ``roi`` pattern).

    Parameters
    ----------
    case : Case

    Returns
    -------
    bool
    """
    return getattr(case, "labels", None) is not None or is_roi_pattern(getattr(case, "roi", None))


def label_map_labels(path: str | Path) -> list[int]:
    """The non-zero labels of a label-map file, in increasing order.

    Parameters
    ----------
    path : str or Path
        NIfTI, NRRD or MetaImage label map.

    Returns
    -------
    list of int

    Raises
    ------
    InputError
        The file cannot be read.
    MaskError
        Non-integer values, or more than :data:`~voxelomics.io.images.MAX_LABELS` labels (an
        image, not a label map).
    """
    import SimpleITK as sitk

    from voxelomics.io.images import MAX_LABELS, _image_like, _label_values, _read_sitk

    img = _read_sitk(Path(path))
    arr = sitk.GetArrayViewFromImage(img)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    values = _label_values(arr)
    if np.issubdtype(values.dtype, np.floating):
        bad = values[~np.isfinite(values) | (np.abs(values - np.rint(values)) > 1e-6)]
        if bad.size:
            raise MaskError("mask values must be integer labels (within 1e-6); found non-integer values "
                            + ", ".join(f"{v:.6g}" for v in bad[:10]), path=path)
        values = np.unique(np.rint(values))
    present = [int(v) for v in values if v != 0]
    if len(present) > MAX_LABELS:
        raise MaskError(_image_like(values), path=path)
    return present


def _mask_kind(path: Path) -> str:
    from voxelomics.io.images import IMAGE_SUFFIXES, _dicom_modality, _suffix

    if not path.is_file():
        raise InputError("mask file does not exist", path=path)
    if _suffix(path) in IMAGE_SUFFIXES:
        return "label map"
    kind = _dicom_modality(path)
    if kind in ("RTSTRUCT", "SEG"):
        return kind
    raise InputError(f"cannot list the ROIs of this file (DICOM Modality {kind!r}); expected a label map "
                     f"({', '.join(IMAGE_SUFFIXES)}), an RTSTRUCT or a SEG", path=path)


def expand_case(case: Case) -> list[Case]:
    """One case per ROI a manifest row selects (see the module docstring).

    Parameters
    ----------
    case : Case
        A manifest row; returned alone (in a list) when it selects one ROI.

    Returns
    -------
    list of Case
        In file order (label maps: increasing labels); ``labels`` is None and ``roi`` an
        exact name (RTSTRUCT) or None (label map, SEG: ``label`` set) in each.

    Raises
    ------
    InputError
        Nothing matches the pattern (the message lists the names in the file); a pattern on
        a label map; ``roi`` and ``label`` both selecting; an unreadable mask.
    EmptyRoiError
        ``label: all`` on an empty label map.
    MaskError
        The label map is not one (see :func:`label_map_labels`).
    """
    if not needs_expansion(case):
        return [case]
    labels, roi = case.labels, case.roi
    path = Path(case.mask)
    try:
        if labels is not None and roi is not None:
            raise InputError(f"roi {roi!r} and label {labels!r} both select ROIs; give one of them")
        if labels is not None and labels != "all":  # a list: one row per label, nothing to read
            return [dataclasses.replace(case, label=int(v), labels=None) for v in labels]
        kind = _mask_kind(path)
        if kind == "label map":
            if roi is not None:
                raise InputError(f"roi pattern {roi!r} selects RTSTRUCT ROIs or SEG segments, but the file is a "
                                 "label map; use label: all or a list such as 1;2;3")
            present = label_map_labels(path)
            if not present:
                raise EmptyRoiError("label 'all' selects no ROI: the mask is empty (all voxels are 0)")
            return [dataclasses.replace(case, label=v, labels=None) for v in present]
        if kind == "RTSTRUCT":
            from voxelomics.io.rtstruct import rtstruct_roi_names

            names = rtstruct_roi_names(path)
            chosen = names if roi is None else match_roi_names(names, roi)
            if not chosen:
                raise InputError(f"no ROI of the RTSTRUCT matches {roi if roi is not None else 'all'!r}; "
                                 f"ROIs in the file: {names}")
            return [dataclasses.replace(case, roi=n, label=None, labels=None) for n in chosen]
        from voxelomics.io.seg import seg_segments

        segments = seg_segments(path)
        if roi is None:
            numbers = [n for n, _ in segments]
        else:
            hits = set(match_roi_names([label for _, label in segments], roi))
            numbers = [n for n, label in segments if label in hits]
        if not numbers:
            listing = ", ".join(f"{n}: {label!r}" for n, label in segments)
            raise InputError(f"no segment of the SEG matches {roi if roi is not None else 'all'!r}; "
                             f"segments in the file: {listing}")
        return [dataclasses.replace(case, roi=None, label=n, labels=None) for n in numbers]
    except VoxelomicsError as exc:
        exc.with_context(case_id=case.case_id, path=path, step="select_roi")
        raise
