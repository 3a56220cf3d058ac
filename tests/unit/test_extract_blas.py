"""extract_features runs BLAS single-threaded and restores the caller's thread count."""

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import voxelomics.extract.pipeline as extract_module
from voxelomics import extract_features
from voxelomics.volume import RoiMask, Volume


def _blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_blas_is_single_threaded_during_extraction_and_restored(monkeypatch):
    arr = np.arange(6 * 6 * 6, dtype=np.float64).reshape(6, 6, 6)
    m = np.zeros(arr.shape, dtype=bool)
    m[1:5, 1:5, 1:5] = True
    vol, roi = Volume(arr, spacing_mm=(1.0, 1.0, 1.0)), RoiMask(m, spacing_mm=(1.0, 1.0, 1.0))
    extract_features(vol, roi, "ibsi-a")  # loads every BLAS library (a later-loaded one is not limited)
    seen = []
    original = extract_module.compute_features

    def spy(case, settings, **kwargs):
        seen.extend(_blas_threads())
        return original(case, settings, **kwargs)

    monkeypatch.setattr(extract_module, "compute_features", spy)
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        feats = extract_features(vol, roi, "ibsi-a")
        after = _blas_threads()
    assert feats
    assert seen and set(seen) == {1}
    assert after == before
