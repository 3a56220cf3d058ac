"""IBSI-2 phase 1: every consensus response map, one test each (33).

Each test filters an IBSI-2 digital phantom with the filter of the test
(:data:`voxelomics.compliance_ibsi2.PHASE1`) and applies IBSI-2's criterion: every voxel
within 1 % of the reference map's range. The phantoms and maps (13 MB) are read from
``../shared/data/ibsi/ibsi2``; the tests skip when it is absent.
"""

from __future__ import annotations

import numpy as np
import pytest

from voxelomics.compliance_ibsi2 import PHASE1, phase1_response
from voxelomics.errors import InputError
from voxelomics.io.reference import ibsi2_phase1_dir, read_ibsi2_phase1_tests

pytestmark = pytest.mark.ibsi


def _data_available() -> bool:
    try:
        ibsi2_phase1_dir()
    except InputError:
        return False
    return True


needs_data = pytest.mark.skipif(not _data_available(), reason="IBSI-2 phase-1 data (shared/data/ibsi/ibsi2) absent")


def test_every_reference_map_has_a_filter():
    """The bundled test list and :data:`PHASE1` agree: 33 maps, each with a filter."""
    tests = read_ibsi2_phase1_tests()
    with_map = set(tests.loc[tests["has_reference_map"], "test_id"])
    assert len(with_map) == 33
    assert with_map == set(PHASE1)


@needs_data
@pytest.mark.parametrize("test_id", list(PHASE1))
def test_response_map_within_one_percent_of_range(test_id):
    response, reference = phase1_response(test_id)
    assert response.shape == reference.shape == (64, 64, 64)
    tolerance = 0.01 * (reference.max() - reference.min())
    deviation = np.abs(response - reference)
    worst = np.unravel_index(int(deviation.argmax()), deviation.shape)
    assert deviation.max() <= tolerance, (
        f"{test_id}: max |deviation| {deviation.max():.4g} at (z, y, x) {worst} > tolerance {tolerance:.4g}"
    )
