"""Fixtures of the cohort tests: a tiny real-image cohort and light settings."""

from __future__ import annotations

import pytest
from cohort_standin import make_broken, make_cohort


@pytest.fixture(scope="session")
def light_settings():
    """Statistics and morphology only, no resampling: a case takes milliseconds."""
    from voxelomics.settings import Settings

    return Settings(name="cohort-test", families=["statistics", "morphology"])


@pytest.fixture(scope="session")
def cohort(tmp_path_factory):
    """Eight small, distinct good cases (cropped, perturbed breast1)."""
    return make_cohort(tmp_path_factory.mktemp("cohort"), 8)


@pytest.fixture(scope="session")
def broken(tmp_path_factory, cohort):
    """Broken cases: unreadable image, empty ROI, mismatched grid, worker crashes."""
    return make_broken(tmp_path_factory.mktemp("broken"), cohort[0])
