"""The label-value shortcut of the label-map reader agrees with ``np.unique``."""

import numpy as np
import pytest

from voxelomics.io.images import _label_values


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.int32, np.int64, np.float32])
@pytest.mark.parametrize("low", [-2, 0, 1, 3])
@pytest.mark.parametrize("span", [0, 1, 2, 5, 8, 9, 20])
def test_label_values_match_unique(dtype, low, span):
    if low < 0 and np.issubdtype(dtype, np.unsignedinteger):
        pytest.skip("negative labels in an unsigned type")
    rng = np.random.default_rng(span * 31 + low + 2)
    arr = rng.integers(low, low + span + 1, size=(3, 4, 5)).astype(dtype)
    arr[arr == low + span // 2] = low  # leave a gap inside the range
    got, want = _label_values(arr), np.unique(arr)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_label_values_empty_array():
    assert _label_values(np.zeros((0, 2, 2), dtype=np.int16)).size == 0
