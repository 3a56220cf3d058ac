"""A small real study on the bundled data, run once and shared by the report and study tests.

The study (``make_study``) uses the small real cases bundled in ``data/``: the STS_001 CT
and PET (NIfTI), the PyRadiomics breast1 and brain2 MR (NRRD) and the dcmqi 3-slice liver
CT with its DICOM SEG (6 segments, two of which are too thin for 2 mm resampling and fail).
Its outcomes are made up for the test (a fixed table, see ``CLINICAL``). Test workers
share one run: the first builds it under a file lock, the others reuse it; tests that run
the study again work on a private copy (``study_copy``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest
from study_data import make_study


def _shared(tmp_path_factory) -> Path:
    # this session's temporary root: shared by the xdist workers (each has its own
    # basetemp below it), never by two sessions
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "voxelomics-study"
    shared.mkdir(exist_ok=True)
    return shared


class _Locked:
    """Exclusive lock on the shared study folder (between pytest-xdist workers)."""

    def __init__(self, shared: Path):
        self.path = shared / ".lock"

    def __enter__(self):
        self.fh = open(self.path, "w")  # noqa: SIM115 - closed in __exit__
        fcntl.flock(self.fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


@pytest.fixture(scope="session")
def study_run(tmp_path_factory):
    """(study file, results folder) of the test study, run once for all test workers."""
    from voxelomics.study import run_study

    shared = _shared(tmp_path_factory)
    study = shared / "study.yaml"
    with _Locked(shared):
        if not (shared / "results" / "report.html").is_file():
            make_study(shared)
            result = run_study(study, progress=False)
            assert result.exit_code == 0, [s for s in result.steps if s.status == "failed"]
    return study, shared / "results"


@pytest.fixture
def study_copy(study_run, tmp_path, tmp_path_factory):
    """A private copy of the test study and its results (modification times kept)."""
    study, results = study_run
    with _Locked(_shared(tmp_path_factory)):
        for name in ("study.yaml", "cases.csv", "external.csv", "clinical.csv"):
            shutil.copy2(study.parent / name, tmp_path / name)
        shutil.copytree(results, tmp_path / "results", copy_function=shutil.copy2)
    return tmp_path / "study.yaml", tmp_path / "results"
