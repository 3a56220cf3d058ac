"""Index a DICOM tree into a cohort manifest: one row per (image series, ROI).

:func:`index_dicom` reads headers only (``stop_before_pixels=True``) of every file under
the root, then pairs each RTSTRUCT ROI and each SEG segment with an image series:

1. by the referenced ``SeriesInstanceUID`` (RTSTRUCT: RT Referenced Series; SEG:
   Referenced Series Sequence), when that series is in the tree (``match="series_uid"``);
2. else by referenced SOP instances (contour images, SEG source images) found in one
   series (``match="sop_uid"``);
3. else by ``FrameOfReferenceUID`` **and geometry** (``match="frame_of_reference+geometry"``):
   among the series in the same frame of reference, those on whose grid every contour
   plane (or SEG frame) lies within 0.1 voxel of a slice and inside the slice range and
   in-plane extent; the series with the smallest mean plane offset wins. This is how the
   STS_001 crops, whose RTSTRUCTs reference the uncropped originals, find their images.
4. finally, an image series still without a mask is paired with the masks **beside it**
   (under the parent of its folder) that reference a series in another folder and fit
   its grid in the same frame of reference (``match="folder+geometry"``), with a warning.
   Such a mask keeps its row on the series it references too. This is how STS_001's
   ``pet_suv_crop/rtstruct/RS.dcm``, a copy of ``pet_raw``'s RTSTRUCT (same UIDs, one ROI),
   gets a row on the crop.

Note that an RTSTRUCT which references a series present in the tree is paired with that
series even when another series would also fit (e.g. STS_001's ``pet_suv_crop`` RTSTRUCT
references ``pet_raw``; rule 4 adds its row on the crop).

Explanations (decision)
    An index that leaves something out says why, with one warning per finding (also kept,
    as plain lines, in ``DataFrame.attrs["warnings"]`` for the CLI):

    * :class:`~voxelomics.errors.GeometryWarning` per RTSTRUCT/SEG whose ROIs match no
      series, naming the series it references and stating that none is in the tree or
      that none fits its geometry;
    * :class:`~voxelomics.errors.VoxelomicsWarning` per image series no RTSTRUCT/SEG is
      paired with (UID, modality, number of files, folder), with a hint when a mask file
      next to it was paired elsewhere by its reference;
    * :class:`~voxelomics.errors.VoxelomicsWarning` for UID collisions: different files
      with the same SOPInstanceUID (identical copies are only counted), a
      SeriesInstanceUID shared by image files and RTSTRUCT/SEG objects, or an image series
      spread over several folders;
    * :class:`~voxelomics.errors.VoxelomicsWarning` for files that look like DICOM but
      cannot be read (see :func:`voxelomics.io.dicom.read_header`), and when nothing at
      all is found.

``case_id`` is always ``<PatientID>_<modality>_<roi>`` (with ``_2``, ``_3`` ... added if
still not unique), so a case keeps its id when more data is added to the tree (the id keys
the cohort cache and joins with clinical tables).
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from voxelomics.errors import GeometryWarning, InputError, VoxelomicsWarning
from voxelomics.io.dicom import NON_IMAGE_MODALITIES, read_header, unreadable_message
from voxelomics.io.manifest import write_manifest
from voxelomics.volume import Grid

__all__ = ["index_dicom", "write_manifest", "INDEX_COLUMNS"]

INDEX_COLUMNS = ("case_id", "image", "mask", "roi", "label", "modality", "series_uid", "patient_id",
                 "study_uid", "mask_type", "match")
_PLANE_TOL_VOXELS = 0.1


def _floats(values) -> np.ndarray:
    return np.asarray([float(v) for v in values], dtype=float)


class _Series:
    def __init__(self, uid: str):
        self.uid = uid
        self.files: list[Path] = []
        self.sops: set[str] = set()
        self.ipp: list[np.ndarray] = []
        self.header = None

    def add(self, path: Path, ds) -> None:
        self.files.append(path)
        self.sops.add(str(getattr(ds, "SOPInstanceUID", "")))
        self.ipp.append(_floats(ds.ImagePositionPatient))
        if self.header is None:
            self.header = ds

    @property
    def folder(self) -> Path:
        return Counter(p.parent for p in self.files).most_common(1)[0][0]

    def grid(self) -> Grid | None:
        ds = self.header
        try:
            iop = _floats(ds.ImageOrientationPatient)
            ps = _floats(ds.PixelSpacing)
        except (AttributeError, ValueError):
            return None
        normal = np.cross(iop[:3], iop[3:])
        ipp = np.asarray(self.ipp)
        pos = np.sort(ipp @ normal)
        gap = float((pos[-1] - pos[0]) / (len(pos) - 1)) if len(pos) > 1 else float(
            getattr(ds, "SliceThickness", 1.0) or 1.0)
        first = ipp[np.argmin(ipp @ normal)]
        return Grid((len(pos), int(ds.Rows), int(ds.Columns)), (max(gap, 1e-6), ps[0], ps[1]), tuple(first),
                    np.column_stack([iop[:3], iop[3:], normal]))


def _fits(grid: Grid, planes: list[np.ndarray]) -> float | None:
    """Mean slice offset (voxels) of the planes on the grid, or None when one does not fit."""
    offsets = []
    nz, ny, nx = grid.shape
    for pts in planes:
        idx = grid.physical_to_index(pts)
        z = float(idx[:, 0].mean())
        off = abs(z - round(z))
        if off > _PLANE_TOL_VOXELS or not (-0.5 <= z <= nz - 0.5):
            return None
        if idx[:, 1].min() < -0.5 or idx[:, 1].max() > ny - 0.5 or idx[:, 2].min() < -0.5 or idx[:, 2].max() > nx - 0.5:
            return None
        offsets.append(off)
    return float(np.mean(offsets)) if offsets else None


def _match(series: dict[str, _Series], ref_series: list[str], ref_sops: set[str], for_uid: str,
           planes: list[np.ndarray]) -> tuple[_Series | None, str]:
    for uid in ref_series:
        if uid in series:
            return series[uid], "series_uid"
    if ref_sops:
        hits = [s for s in series.values() if s.sops & ref_sops]
        if len(hits) == 1:
            return hits[0], "sop_uid"
    best, best_off = None, np.inf
    for s in series.values():
        if for_uid and str(getattr(s.header, "FrameOfReferenceUID", "")) != for_uid:
            continue
        grid = s.grid()
        off = _fits(grid, planes) if grid is not None and planes else None
        if off is not None and off < best_off:
            best, best_off = s, off
    return best, "frame_of_reference+geometry"


def _rtstruct_entries(ds) -> tuple[list[str], set[str], str, list[tuple[str, list[np.ndarray]]]]:
    ref_series, sops = [], set()
    for_uid = ""
    for fr in getattr(ds, "ReferencedFrameOfReferenceSequence", []):
        for_uid = for_uid or str(getattr(fr, "FrameOfReferenceUID", ""))
        for st in getattr(fr, "RTReferencedStudySequence", []):
            for se in getattr(st, "RTReferencedSeriesSequence", []):
                ref_series.append(str(se.SeriesInstanceUID))
    numbers = {int(r.ROINumber): str(r.ROIName) for r in getattr(ds, "StructureSetROISequence", [])}
    rois = []
    for item in getattr(ds, "ROIContourSequence", []):
        planes = []
        for c in getattr(item, "ContourSequence", []):
            for ci in getattr(c, "ContourImageSequence", []):
                sops.add(str(ci.ReferencedSOPInstanceUID))
            if "ContourData" in c and str(getattr(c, "ContourGeometricType", "")) == "CLOSED_PLANAR":
                planes.append(_floats(c.ContourData).reshape(-1, 3))
        name = numbers.get(int(item.ReferencedROINumber))
        if name is not None and planes:
            rois.append((name, planes))
    return ref_series, sops, for_uid, rois


def _seg_entries(ds) -> tuple[list[str], set[str], str, list[tuple[str, list[np.ndarray]]]]:
    ref_series = [str(s.SeriesInstanceUID) for s in getattr(ds, "ReferencedSeriesSequence", [])]
    sops, planes = set(), []
    rows, cols = int(getattr(ds, "Rows", 1)), int(getattr(ds, "Columns", 1))
    shared = getattr(ds, "SharedFunctionalGroupsSequence", [None])[0]
    for fr in getattr(ds, "PerFrameFunctionalGroupsSequence", []):
        for d in getattr(fr, "DerivationImageSequence", []):
            for s in getattr(d, "SourceImageSequence", []):
                sops.add(str(s.ReferencedSOPInstanceUID))
        pos = getattr(fr, "PlanePositionSequence", None)
        ori = getattr(fr, "PlaneOrientationSequence", None) or getattr(shared, "PlaneOrientationSequence", None)
        meas = getattr(fr, "PixelMeasuresSequence", None) or getattr(shared, "PixelMeasuresSequence", None)
        if pos and ori and meas:
            ipp, iop, ps = _floats(pos[0].ImagePositionPatient), _floats(ori[0].ImageOrientationPatient), \
                _floats(meas[0].PixelSpacing)
            far = ipp + iop[:3] * ps[1] * (cols - 1) + iop[3:] * ps[0] * (rows - 1)
            planes.append(np.vstack([ipp, far]))
    segs = [(int(s.SegmentNumber), str(getattr(s, "SegmentLabel", ""))) for s in getattr(ds, "SegmentSequence", [])]
    counts = Counter(label for _, label in segs)
    rois = [(label if label and counts[label] == 1 else str(n), planes) for n, label in segs]
    return ref_series, sops, str(getattr(ds, "FrameOfReferenceUID", "")), rois


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text).strip("_")


def _describe(s: _Series, root: Path) -> str:
    h = s.header
    desc = str(getattr(h, "SeriesDescription", "") or "")
    return (f"series {s.uid} ({getattr(h, 'Modality', '?')}{', ' + repr(desc) if desc else ''}, "
            f"{len(s.files)} files in {_rel(s.folder, root)})")


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root)) or "."
    except ValueError:
        return str(path)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _collisions(sop_files: dict[str, list[Path]], series: dict[str, _Series], masks, root: Path) -> list[str]:
    out = []
    for sop, files in sop_files.items():
        if len(files) < 2:
            continue
        by_content: dict[str, list[Path]] = {}
        for f in files:
            by_content.setdefault(_digest(f), []).append(f)
        first = [group[0] for group in by_content.values()]
        names = ", ".join(_rel(f, root) for f in first[:4]) + (" ..." if len(first) > 4 else "")
        copies = len(files) - len(first)
        copies_text = f" (plus {copies} identical cop{'y' if copies == 1 else 'ies'})" if copies else ""
        if len(first) > 1:
            out.append(f"UID collision: {len(first)} different files share SOPInstanceUID {sop}: {names}"
                       f"{copies_text}; each is indexed on its own, but tools that key on UIDs (PACS, viewers) "
                       "will take one for the other")
        else:
            out.append(f"{len(files)} identical copies of SOPInstanceUID {sop}: "
                       + ", ".join(_rel(f, root) for f in files[:4]))
    mask_series = Counter(str(getattr(ds, "SeriesInstanceUID", "")) for _, _, ds in masks)
    for uid in sorted(set(mask_series) & set(series)):
        out.append(f"UID collision: SeriesInstanceUID {uid} is used by image files and by an RTSTRUCT/SEG")
    for s in series.values():
        folders = sorted({p.parent for p in s.files})
        if len(folders) > 1:
            out.append(f"series {s.uid} has files in {len(folders)} folders ({', '.join(_rel(f, root) for f in folders[:4])}); "
                       f"the manifest points at {_rel(s.folder, root)}, which holds "
                       f"{sum(p.parent == s.folder for p in s.files)} of its {len(s.files)} files")
    return out


def _unmatched_text(path: Path, kind: str, ref_series: list[str], for_uid: str, series: dict[str, _Series],
                    names: list[str], root: Path) -> str:
    missing = [u for u in ref_series if u not in series]
    refs = (f"it references series {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not in the "
            "tree" if missing else "it references no series")
    same_for = [s for s in series.values() if for_uid and str(getattr(s.header, "FrameOfReferenceUID", "")) == for_uid]
    fit = (f"; none of the {len(same_for)} series in its frame of reference {for_uid} fits its contour planes/frames"
           if same_for else f"; no series in the tree shares its frame of reference {for_uid or '(none given)'}")
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return (f"{kind} {_rel(path, root)}: {len(names)} ROI(s) match no image series and are left out ({shown}): "
            f"{refs}{fit}")


def _pair_beside(s: _Series, series: dict[str, _Series], masks, root: Path) -> list[dict]:
    """Rows for an unpaired series from the masks beside it that reference a series elsewhere.

    "Beside": under the parent of the series folder (``case/image`` and ``case/rtstruct``).
    Only masks whose referenced series all lie outside that folder count (a derived copy
    whose references were not updated, as STS_001's ``pet_suv_crop``), and only ROIs
    whose planes fit the series grid in the same frame of reference.
    """
    base = s.folder.parent
    grid = s.grid()
    if grid is None or base == root.parent:
        return []
    out = []
    for path, kind, ds in masks:
        if not path.is_relative_to(base):
            continue
        ref_series, _, for_uid, rois = (_rtstruct_entries if kind == "RTSTRUCT" else _seg_entries)(ds)
        if for_uid != str(getattr(s.header, "FrameOfReferenceUID", "")):
            continue
        if not ref_series or any(u not in series or series[u].folder.is_relative_to(base) for u in ref_series):
            continue
        h = s.header
        out += [{"image": str(s.folder), "mask": str(path), "roi": roi, "label": None,
                 "modality": str(getattr(h, "Modality", "")), "series_uid": s.uid,
                 "patient_id": str(getattr(h, "PatientID", "") or getattr(ds, "PatientID", "")),
                 "study_uid": str(getattr(h, "StudyInstanceUID", "")), "mask_type": kind, "match": "folder+geometry"}
                for roi, planes in rois if planes and _fits(grid, planes) is not None]
    return out


def index_dicom(root: str | Path):
    """Find (image series, ROI) pairs in a DICOM tree.

    Parameters
    ----------
    root : str or Path
        Folder searched recursively; non-DICOM files are ignored.

    Returns
    -------
    pandas.DataFrame
        One row per ROI of every RTSTRUCT and per segment of every SEG that matches an
        image series (see the module docstring), with columns :data:`INDEX_COLUMNS`:
        ``case_id``, ``image`` (series folder), ``mask`` (file), ``roi`` (ROI name, SEG
        segment label, or segment number when labels repeat), ``label`` (empty),
        ``modality``, ``series_uid``, ``patient_id``, ``study_uid``, ``mask_type``
        (RTSTRUCT or SEG) and ``match`` (how the pair was found). Sorted by image and roi.
        ``attrs["warnings"]`` holds the explanations also issued as warnings (list of str).

    Warns
    -----
    GeometryWarning
        An RTSTRUCT/SEG whose ROIs match no series (what it references, why nothing fits).
    VoxelomicsWarning
        Image series without a paired mask, UID collisions, unreadable DICOM files, an
        empty tree (see the module docstring).

    Raises
    ------
    InputError
        If ``root`` is not a folder.
    """
    import pandas as pd

    root = Path(root)
    if not root.is_dir():
        raise InputError("DICOM root does not exist or is not a folder", path=root, step="index")
    series: dict[str, _Series] = {}
    masks: list[tuple[Path, str, object]] = []
    sop_files: dict[str, list[Path]] = {}
    unreadable: list[tuple[Path, str]] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        ds, problem = read_header(path)
        if problem is not None:
            unreadable.append((path, problem))
        if ds is None:
            continue
        sop = str(getattr(ds, "SOPInstanceUID", "") or "")
        if sop:
            sop_files.setdefault(sop, []).append(path)
        modality = str(getattr(ds, "Modality", "") or "")
        if modality in ("RTSTRUCT", "SEG"):
            masks.append((path, modality, ds))
        elif modality not in NON_IMAGE_MODALITIES and "ImagePositionPatient" in ds and "Rows" in ds:
            uid = str(getattr(ds, "SeriesInstanceUID", ""))
            series.setdefault(uid, _Series(uid)).add(path, ds)
    notes: list[tuple[type[Warning], str]] = []
    if unreadable:
        notes.append((VoxelomicsWarning, unreadable_message([(Path(_rel(p, root)), w) for p, w in unreadable])
                      + "; they are left out of the index"))
    notes += [(VoxelomicsWarning, text) for text in _collisions(sop_files, series, masks, root)]
    rows, paired = [], set()
    for path, kind, ds in masks:
        ref_series, sops, for_uid, rois = (_rtstruct_entries if kind == "RTSTRUCT" else _seg_entries)(ds)
        unmatched = []
        for roi, planes in rois:
            s, how = _match(series, ref_series, sops, for_uid, planes)
            if s is None:
                unmatched.append(roi)
                continue
            paired.add(s.uid)
            h = s.header
            rows.append({"image": str(s.folder), "mask": str(path), "roi": roi, "label": None,
                         "modality": str(getattr(h, "Modality", "")), "series_uid": s.uid,
                         "patient_id": str(getattr(h, "PatientID", "") or getattr(ds, "PatientID", "")),
                         "study_uid": str(getattr(h, "StudyInstanceUID", "")), "mask_type": kind, "match": how})
        if unmatched:
            notes.append((GeometryWarning, _unmatched_text(path, kind, ref_series, for_uid, series, unmatched, root)))
        elif not rois:
            notes.append((VoxelomicsWarning, f"{kind} {_rel(path, root)} holds no ROI with contours/segments; "
                          "nothing to index"))
    for s in sorted(series.values(), key=lambda s: str(s.folder)):
        if s.uid in paired:
            continue
        added = _pair_beside(s, series, masks, root)
        if added:
            rows += added
            names = sorted({_rel(Path(r["mask"]), root) for r in added})
            notes.append((VoxelomicsWarning, f"{_describe(s, root)} was paired with {', '.join(names)} beside it "
                          f"(match 'folder+geometry'): that file references a series in another folder, but "
                          f"its ROIs ({', '.join(r['roi'] for r in added)}) fit this series' grid"))
            continue
        notes.append((VoxelomicsWarning, f"{_describe(s, root)} has no RTSTRUCT/SEG paired with it (none references "
                      "it, none beside it fits its grid); no row written"))
    if not series and not masks:
        notes.append((VoxelomicsWarning, f"no DICOM image series and no RTSTRUCT/SEG found under {root}"))
    elif not rows:
        notes.append((VoxelomicsWarning, f"0 rows: {len(series)} image series and {len(masks)} RTSTRUCT/SEG file(s) "
                      f"found under {root}, but no pair (see the warnings above)"))
    for category, text in notes:
        warnings.warn(text, category, stacklevel=2)
    df = pd.DataFrame(rows, columns=[c for c in INDEX_COLUMNS if c != "case_id"])
    df = df.sort_values(["patient_id", "image", "roi"], kind="stable").reset_index(drop=True)
    ids = [_slug(f"{pid}_{mod}_{roi}")
           for pid, mod, roi in zip(df["patient_id"], df["modality"], df["roi"], strict=True)]
    seen: Counter = Counter()
    unique = []
    for cid in ids:
        seen[cid] += 1
        unique.append(cid if seen[cid] == 1 else f"{cid}_{seen[cid]}")
    df.insert(0, "case_id", unique)
    df.attrs["warnings"] = [text for _, text in notes]
    return df
