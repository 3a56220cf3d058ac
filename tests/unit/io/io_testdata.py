"""Paths and helpers shared by the io tests (imported as a plain module)."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
CT_DICOM = REPO / "data/ibsi1/ct_phantom/dicom/image"
CT_RTSTRUCT = REPO / "data/ibsi1/ct_phantom/dicom/mask/DCM_RS_00060.dcm"
CT_NIFTI_IMAGE = REPO / "data/ibsi1/ct_phantom/nifti/image/phantom.nii.gz"
CT_NIFTI_MASK = REPO / "data/ibsi1/ct_phantom/nifti/mask/mask.nii.gz"
LIVER = REPO / "data/dicom/dcmqi_ct3slice_liver"


def save(folder: Path, datasets) -> None:
    """Overwrite the copies in ``folder`` with modified datasets."""
    shutil.rmtree(folder)
    folder.mkdir()
    for i, ds in enumerate(datasets):
        ds.save_as(folder / f"slice_{i:02d}.dcm")


def dice(a, b) -> float:
    return float(2 * (a & b).sum() / (a.sum() + b.sum()))
