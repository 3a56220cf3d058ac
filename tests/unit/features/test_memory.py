"""Memory pre-flight: the estimates bound the kernels' peaks, and huge matrices are refused early."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from voxelomics.errors import SettingsError
from voxelomics.extract import extract_features
from voxelomics.features import glcm, gldzm, glrlm, glszm, histogram, ivh, ngldm, ngtdm
from voxelomics.features._memory import family_bytes, ivh_bytes
from voxelomics.features._texture import directional_aggregations, zone_aggregations
from voxelomics.volume import RoiMask, Volume


def _case(n_levels: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    shape = (6, 9, 11)
    mask = rng.random(shape) < 0.8
    mask[2:4, 3:6, 3:7] = True
    levels = np.where(mask, rng.integers(1, n_levels + 1, shape), 0)
    return levels, mask


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("dims", [["3d"], ["2d", "2_5d"], ["2d", "2_5d", "3d"]])
@pytest.mark.parametrize("family", ["histogram", "glcm", "glrlm", "glszm", "gldzm", "ngtdm", "ngldm"])
def test_estimate_bounds_the_measured_peak(family, dims):
    """Issue 10, item 9: each family's estimate is at least its tracemalloc peak.

    A small box (594 voxels) with many grey levels (400), so that the grey-level-dependent
    matrices dominate; the kernels' arrays of one value per box voxel (labels, neighbour
    sums: at most 40 of 8 bytes) are allowed on top.
    """
    n_g = 400
    levels, mask = _case(n_g)
    dir_aggs, zone_aggs = directional_aggregations(dims), zone_aggregations(dims)
    run = {
        "histogram": lambda: histogram.compute(levels[mask], n_g),
        "glcm": lambda: glcm.compute(levels, mask, n_g, aggregations=dir_aggs),
        "glrlm": lambda: glrlm.compute(levels, mask, n_g, aggregations=dir_aggs),
        "glszm": lambda: glszm.compute(levels, mask, n_g, aggregations=zone_aggs),
        "gldzm": lambda: gldzm.compute(levels, mask, n_g, aggregations=zone_aggs, morph_mask=mask),
        "ngtdm": lambda: ngtdm.compute(levels, mask, n_g, aggregations=zone_aggs),
        "ngldm": lambda: ngldm.compute(levels, mask, n_g, aggregations=zone_aggs),
    }[family]
    run()  # imports and caches outside the measurement
    peak = _peak(run)
    estimate = family_bytes(family, n_g, box_shape=levels.shape, n_voxels=int(mask.sum()),
                            two_d=any(d != "3d" for d in dims), three_d="3d" in dims)
    per_voxel = 40 * 8 * levels.size
    assert peak <= estimate + per_voxel, (family, dims, peak, estimate)
    assert estimate <= 50 * (peak + per_voxel)  # an upper bound, not a wild one


def test_ivh_estimate_bounds_the_measured_peak():
    values = np.random.default_rng(1).normal(5.0, 2.0, 500)
    kw = dict(method="fbs", bin_width=0.001)
    n_grid = ivh.grid_size(values, **kw)
    built = ivh.intensity_volume_histogram(values, **kw)
    assert n_grid == built.intensity.size
    for other in (dict(method="fbn", n_bins=1000), dict(method="none", range_min=-3, range_max=20)):
        vals = np.round(values) if other["method"] == "none" else values
        assert ivh.grid_size(vals, **other) == ivh.intensity_volume_histogram(vals, **other).intensity.size
    ivh.compute(values, **kw)
    assert _peak(lambda: ivh.compute(values, **kw)) <= ivh_bytes(n_grid, values.size)


def _pet_bqml():
    """A PET-like ROI in Bq/ml (0 .. 60,000), as read from DICOM without SUV conversion."""
    rng = np.random.default_rng(3)
    arr = rng.gamma(2.0, 6000.0, (12, 14, 14))
    mask = np.zeros(arr.shape, bool)
    mask[2:10, 3:11, 3:11] = True
    return Volume(arr, (2.0, 2.0, 2.0), modality="PT"), RoiMask(mask, (2.0, 2.0, 2.0))


@pytest.mark.parametrize(("disc", "families", "message"), [
    ({"discretisation": {"method": "fbs", "bin_width": 0.01}}, ["glcm"],
     r"discretisation.bin_width = 0.01 gives [\d,]+ grey levels over the ROI's intensities .*: the GLCM "
     r"matrices would need [\d.e+]+ TiB, more than the .* allowed .*use a larger discretisation.bin_width"),
    ({"discretisation": {"method": "fbn", "n_bins": 10**9}}, ["glrlm", "histogram"],
     r"discretisation.n_bins = 1000000000 gives 1,000,000,000 grey levels: the GLRLM matrices would need"),
    ({"ivh_discretisation": {"method": "fbs", "bin_width": 1e-9}}, ["ivh"],
     r"ivh_discretisation.bin_width = 1e-09 gives [\d,]+ IVH bins .*: the intensity-volume histogram would need"),
])
def test_a_matrix_too_large_for_memory_is_refused_before_it_is_built(disc, families, message):
    """Issue 10, item 9: FBS with a tiny bin width on raw Bq/ml, or a huge n_bins."""
    volume, mask = _pet_bqml()
    settings = {"preset": "ibsi-digital", "families": families, **disc}
    with pytest.raises(SettingsError, match=message) as info:
        extract_features(volume, mask, settings, case_id="pet1")
    assert info.value.case_id == "pet1" and info.value.step.startswith("features:")
