"""The local-intensity FFT convolution reproduces scipy.signal.fftconvolve(mode="same") bit for bit."""

import numpy as np
import pytest
from scipy.signal import fftconvolve

from voxelomics.features.local_intensity import _convolve_same


@pytest.mark.parametrize("shape, kshape", [((20, 31, 17), (5, 7, 7)), ((9, 9, 9), (3, 3, 3)),
                                           ((4, 4, 4), (7, 7, 7)), ((40, 12, 33), (7, 9, 9))])
def test_convolve_same_equals_fftconvolve(shape, kshape):
    rng = np.random.default_rng(sum(shape))
    a = rng.normal(size=shape) * 100
    k = rng.random(kshape)
    sums, ones = _convolve_same(a, np.ones_like(a), kernel=k)
    np.testing.assert_array_equal(sums, fftconvolve(a, k, mode="same"))
    np.testing.assert_array_equal(ones, fftconvolve(np.ones_like(a), k, mode="same"))
