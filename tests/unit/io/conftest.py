"""Fixtures for the io tests: copies of IBSI CT phantom slices to modify with pydicom."""

from __future__ import annotations

import pytest
from io_testdata import CT_DICOM


@pytest.fixture
def ct_slices(tmp_path):
    """Copy 6 consecutive CT phantom slices to ``tmp_path/series``; return (folder, datasets sorted by z)."""
    import pydicom

    datasets = sorted((pydicom.dcmread(p) for p in CT_DICOM.glob("*.dcm")),
                      key=lambda d: float(d.ImagePositionPatient[2]))[20:26]
    folder = tmp_path / "series"
    folder.mkdir()
    for i, ds in enumerate(datasets):
        # file names in reverse order of position: readers must sort by position, not by name
        ds.save_as(folder / f"slice_{len(datasets) - i:02d}.dcm")
    return folder, datasets
