"""Tiny cohorts for the cohort-runner tests, and the case functions they run.

``make_cohort`` crops a real bundled case (``data/cases/breast1``: a 143-voxel ROI) to a
small box and perturbs it (noise, shifted ROI) so each case differs. ``case_function``
returns the project's real ``voxelomics.extract.extract_case`` when the reading and
preprocessing it needs are installed; until then a minimal stand-in that reads with
SimpleITK, checks the grids and returns the same kind of row (identifier columns,
float features, extra columns), raising the same voxelomics errors.

This module lives beside the tests (not in ``src``); the Dask workers started by the
tests get its folder on ``PYTHONPATH`` so they can import it.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
BREAST = REPO / "data" / "cases"


@dataclass
class Case:
    """Stand-in of ``voxelomics.io.manifest.Case`` (same attribute names)."""

    case_id: str
    image: str
    mask: str
    label: int | None = None
    roi: str | None = None
    modality: str | None = None
    extra: dict = field(default_factory=dict)


def manifest_case_class():
    try:
        from voxelomics.io.manifest import Case as RealCase  # noqa: F401

        return RealCase
    except ImportError:
        return Case


def new_case(case_id, image, mask, **kw):
    cls = manifest_case_class()
    return cls(case_id=case_id, image=str(image), mask=str(mask), **{
        "label": kw.get("label"), "roi": kw.get("roi"), "modality": kw.get("modality"),
        "extra": kw.get("extra", {})})


def _write(arr, like, path: Path):
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(like.GetSpacing())
    img.SetOrigin(like.GetOrigin())
    img.SetDirection(like.GetDirection())
    sitk.WriteImage(img, str(path))
    return path


def make_cohort(folder: Path, n: int, *, seed: int = 0) -> list:
    """``n`` small, distinct good cases (breast1 crop with noise and a shifted ROI)."""
    import SimpleITK as sitk

    folder.mkdir(parents=True, exist_ok=True)
    img = sitk.ReadImage(str(BREAST / "breast1_image.nrrd"))
    lab = sitk.ReadImage(str(BREAST / "breast1_label.nrrd"))
    box = (slice(6, 13), slice(60, 80), slice(18, 33))  # (z, y, x) around the ROI
    img = img[box[2].start:box[2].stop, box[1].start:box[1].stop, box[0].start:box[0].stop]
    lab = lab[box[2].start:box[2].stop, box[1].start:box[1].stop, box[0].start:box[0].stop]
    base = sitk.GetArrayFromImage(img).astype(np.int16)
    roi = sitk.GetArrayFromImage(lab) > 0
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        arr = (base + rng.normal(0, 4, base.shape)).round().astype(np.int16)
        m = np.roll(roi, shift=(0, int(rng.integers(-1, 2)), int(rng.integers(-1, 2))), axis=(0, 1, 2))
        ip = _write(arr, img, folder / f"c{i:03d}_image.nii.gz")
        mp = _write(m.astype(np.uint8), lab, folder / f"c{i:03d}_mask.nii.gz")
        cases.append(new_case(f"P{i:03d}", ip, mp, extra={"site": "A" if i % 2 else "B"}))
    return cases


def make_broken(folder: Path, good) -> dict:
    """Broken cases built from a good one: unreadable file, empty ROI, other grid."""
    import SimpleITK as sitk

    folder.mkdir(parents=True, exist_ok=True)
    bad = folder / "garbage.nii.gz"
    bad.write_bytes(b"this is not an image\n" * 10)
    msk = sitk.ReadImage(good.mask)
    empty = _write(np.zeros(sitk.GetArrayFromImage(msk).shape, np.uint8), msk, folder / "empty.nii.gz")
    arr = sitk.GetArrayFromImage(msk)[:, :-3, :]
    other = _write(arr, msk, folder / "other_grid.nii.gz")
    return {
        "unreadable": new_case("BAD_unreadable", bad, good.mask),
        "empty": new_case("BAD_empty_roi", good.image, empty),
        "geometry": new_case("BAD_geometry", good.image, other),
        "crash": new_case("BAD_crash", good.image, good.mask),
        "segfault": new_case("BAD_segfault", good.image, good.mask),
    }


# ---- case functions -------------------------------------------------------------------
def _real_available() -> bool:
    try:
        import voxelomics.extract  # noqa: F401
        from voxelomics.features import morphology, statistics  # noqa: F401
        from voxelomics.io import load_case  # noqa: F401
        from voxelomics.io.manifest import read_manifest  # noqa: F401
    except ImportError:
        return False
    return True


def standin_case(case, settings, naming: str = "readable") -> dict:
    """Minimal extract_case: read, check the grids, a few intensity features."""
    import SimpleITK as sitk

    from voxelomics.errors import EmptyRoiError, GeometryError, InputError

    def read(path, step):
        try:
            return sitk.ReadImage(str(path))
        except RuntimeError as exc:
            raise InputError(f"cannot read the file ({str(exc).strip().splitlines()[-1]}); "
                             "expected NIfTI, NRRD or MHA", case_id=case.case_id, path=path,
                             step=step) from None

    img, msk = read(case.image, "read_image"), read(case.mask, "read_mask")
    if img.GetSize() != msk.GetSize():
        raise GeometryError(f"mask size {msk.GetSize()} differs from image size {img.GetSize()}",
                            case_id=case.case_id, path=case.mask, step="align")
    a = sitk.GetArrayFromImage(img).astype(np.float64)
    m = sitk.GetArrayFromImage(msk) > 0
    if not m.any():
        raise EmptyRoiError("the ROI holds no voxel", case_id=case.case_id, path=case.mask,
                            step="preprocess")
    v = a[m]
    feats = {"stat_mean": v.mean(), "stat_var": v.var(), "stat_min": v.min(), "stat_max": v.max(),
             "morph_n_voxels": float(m.sum()),
             "morph_volume_mm3": float(m.sum() * np.prod(img.GetSpacing()))}
    if naming == "readable":
        feats = {"statistics_" + k[5:] if k.startswith("stat_") else "morphology_" + k[6:]: x
                 for k, x in feats.items()}
    row = {"case_id": case.case_id, "roi": str(case.roi or case.label or 1), "image_type": "original"}
    row.update({k: float(x) for k, x in feats.items()})
    row.update(case.extra or {})
    return row


def case_function():
    """The real ``extract_case`` when its dependencies have landed, else the stand-in."""
    if _real_available():
        from voxelomics.extract import extract_case

        return extract_case
    return standin_case


def breaking_case(case, settings, naming: str = "readable") -> dict:
    """Like :func:`case_function`, but crashes the worker for ``BAD_crash`` / ``BAD_segfault``
    and never ends for ``BAD_hang`` (it writes ``<image>.hang-started`` when it starts)."""
    if case.case_id == "BAD_crash":
        os._exit(3)
    if case.case_id == "BAD_segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    if case.case_id == "BAD_hang":
        Path(case.image).with_suffix(".hang-started").write_text(str(os.getpid()))
        while True:  # never ends; short sleeps let a Dask time-out interrupt the thread
            time.sleep(0.05)
    return case_function()(case, settings, naming=naming)


def stalling_case(case, settings, naming: str = "readable", *, computed=("P000", "P001")) -> dict:
    """Computes the cases in ``computed`` (and fails the ``BAD_*`` ones as usual); every other
    case stalls until its worker process is orphaned, then ends the worker without a result.

    For the interruption tests: the cases that are saved before the signal are known
    exactly, and the run cannot finish first, however fast or slow the machine.
    """
    if case.case_id not in computed and not case.case_id.startswith("BAD"):
        parent = os.getppid()
        while os.getppid() == parent:  # the runner kills this worker, or its parent dies
            time.sleep(0.05)
        os._exit(0)
    return case_function()(case, settings, naming=naming)


def flaky_case(case, settings, naming: str = "readable") -> dict:
    """Crashes the worker the first time it sees a case (marker file), then succeeds."""
    marker = Path(case.image).with_suffix(".crashed-once")
    if case.case_id == "FLAKY" and not marker.exists():
        marker.write_text("1")
        os._exit(1)
    return case_function()(case, settings, naming=naming)
