"""Filter families against independent computations and known mathematical properties.

The IBSI consensus maps (``tests/ibsi/test_ibsi2_phase1.py``) are the reference; these
tests check what the maps do not: other spacings and shapes, float32, every boundary
condition, the errors, and the fast paths against brute force (full 3-D kernels convolved
with ``scipy.ndimage.convolve``, rotations made with ``numpy.rot90``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import ndimage as ndi

from voxelomics.errors import FilterError, SettingsError
from voxelomics.filters import (
    gabor_filter,
    laplacian_of_gaussian,
    laws_filter,
    mean_filter,
    riesz_log,
    separable_wavelet,
    simoncelli_wavelet,
    wavelet_subbands,
)
from voxelomics.filters.boundary import pad, scipy_mode
from voxelomics.filters.laws import LAWS_KERNELS
from voxelomics.filters.riesz import riesz_response

RNG = np.random.default_rng(7)
IMG = RNG.normal(size=(12, 14, 16))
PADDINGS = ("constant", "nearest", "periodic", "mirror")


def _rotations_3d(kernel):
    """The 24 right-angle rotations of a 3-D array, made with numpy.rot90 only."""
    def turn(k, a, b, c):
        return np.rot90(np.rot90(np.rot90(k, a, (0, 1)), b, (0, 2)), c, (1, 2))

    labels = np.arange(27.0).reshape(3, 3, 3)  # tells the rotations apart, whatever the kernel
    out, seen = [], set()
    for a, b, c in itertools.product(range(4), repeat=3):
        key = turn(labels, a, b, c).tobytes()
        if key not in seen:
            seen.add(key)
            out.append(turn(kernel, a, b, c))
    return out


# ------------------------------------------------------------------------ boundary
def test_boundary_conditions_match_the_ibsi_definitions():
    row = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    w = [(0, 0), (0, 0), (3, 3)]
    assert pad(row, w, "constant")[0, 0].tolist() == [0, 0, 0, 1, 2, 3, 4, 0, 0, 0]
    assert pad(row, w, "nearest")[0, 0].tolist() == [1, 1, 1, 1, 2, 3, 4, 4, 4, 4]
    assert pad(row, w, "periodic")[0, 0].tolist() == [2, 3, 4, 1, 2, 3, 4, 1, 2, 3]
    assert pad(row, w, "mirror")[0, 0].tolist() == [3, 2, 1, 1, 2, 3, 4, 4, 3, 2]


@pytest.mark.parametrize("padding", PADDINGS)
def test_scipy_mode_pads_like_numpy_pad(padding):
    kernel = np.zeros(7)
    kernel[0] = 1.0  # correlate with a tap 3 voxels to the left: reads the padding
    via_scipy = ndi.correlate1d(IMG, kernel, axis=2, mode=scipy_mode(padding), cval=0.0)
    via_pad = pad(IMG, [(0, 0), (0, 0), (3, 3)], padding)[:, :, 0:16]
    np.testing.assert_allclose(via_scipy, via_pad)


def test_unknown_padding_gets_a_hint():
    with pytest.raises(SettingsError, match="did you mean 'constant'"):
        mean_filter(IMG, (1, 1, 1), support_voxels=3, padding="zero")


# ----------------------------------------------------------------------------- mean
@pytest.mark.parametrize("padding", PADDINGS)
def test_mean_is_a_box_convolution(padding):
    out = mean_filter(IMG, (1, 1, 1), support_voxels=5, padding=padding)
    brute = ndi.convolve(IMG, np.full((5, 5, 5), 1 / 125), mode=scipy_mode(padding), cval=0.0)
    np.testing.assert_allclose(out, brute, atol=1e-12)


def test_mean_2d_leaves_slices_independent():
    out = mean_filter(IMG, (3, 1, 1), support_voxels=3, dimensions="2d")
    for z in range(IMG.shape[0]):
        ref = ndi.uniform_filter(IMG[z], 3, mode="reflect")
        np.testing.assert_allclose(out[z], ref, atol=1e-12)


def test_mean_rejects_even_support():
    with pytest.raises(SettingsError, match="odd"):
        mean_filter(IMG, (1, 1, 1), support_voxels=4)


# ------------------------------------------------------------------------------ LoG
def _log_formula(sigma_vox, radius, ndim):
    grid = np.meshgrid(*[np.arange(-radius, radius + 1)] * ndim, indexing="ij")
    r2 = sum(g.astype(float) ** 2 for g in grid) / sigma_vox**2
    return -1 / sigma_vox**2 * (1 / (math.sqrt(2 * math.pi) * sigma_vox)) ** ndim * (ndim - r2) * np.exp(-r2 / 2)


@pytest.mark.parametrize("spacing", [1.0, 0.8])
def test_log_impulse_response_is_the_ibsi_formula(spacing):
    img = np.zeros((31, 31, 31))
    img[15, 15, 15] = 1.0
    out = laplacian_of_gaussian(img, (spacing,) * 3, sigma_mm=2.0, padding="constant")
    s = 2.0 / spacing
    r = int(math.floor(4 * s + 0.5))
    expected = _log_formula(s, r, 3)
    np.testing.assert_allclose(out[15 - r:16 + r, 15 - r:16 + r, 15 - r:16 + r], expected, atol=1e-12)
    assert np.all(out[:15 - r] == 0)  # truncated at 4 sigma


def test_log_2d_uses_the_2d_formula_per_slice():
    img = np.zeros((3, 21, 21))
    img[1, 10, 10] = 1.0
    out = laplacian_of_gaussian(img, (5.0, 1.0, 1.0), sigma_mm=1.5, dimensions="2d", padding="constant")
    r = int(math.floor(4 * 1.5 + 0.5))
    np.testing.assert_allclose(out[1, 10 - r:11 + r, 10 - r:11 + r], _log_formula(1.5, r, 2), atol=1e-12)
    assert not out[0].any() and not out[2].any()


def test_log_float32_stays_float32_and_close():
    out32 = laplacian_of_gaussian(IMG.astype(np.float32), (1, 1, 1), sigma_mm=1.0)
    out64 = laplacian_of_gaussian(IMG, (1, 1, 1), sigma_mm=1.0)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, atol=1e-5 * np.abs(out64).max())


def test_kernel_larger_than_image_is_a_filter_error():
    with pytest.raises(FilterError, match="larger than the image"):
        laplacian_of_gaussian(IMG, (1, 1, 1), sigma_mm=5.0)


def test_3d_filter_on_one_slice_is_a_filter_error_pointing_to_2d():
    one = IMG[:1]
    with pytest.raises(FilterError, match="dimensions '2d'"):
        laplacian_of_gaussian(one, (1, 1, 1), sigma_mm=1.0)
    assert laplacian_of_gaussian(one, (1, 1, 1), sigma_mm=1.0, dimensions="2d").shape == one.shape


# ----------------------------------------------------------------------------- Laws
def _laws_kernel(names):
    """Full 3-D kernel (z, y, x) of a Laws name given as x, y, z."""
    kx, ky, kz = (LAWS_KERNELS[n] for n in names)
    return np.einsum("i,j,k->ijk", kz, ky, kx)


@pytest.mark.parametrize("padding", PADDINGS)
def test_laws_is_a_convolution_with_the_outer_product(padding):
    out = laws_filter(IMG, (1, 1, 1), kernel="E5L5S5", padding=padding)
    brute = ndi.convolve(IMG, _laws_kernel(("E5", "L5", "S5")), mode=scipy_mode(padding), cval=0.0)
    np.testing.assert_allclose(out, brute, atol=1e-12)


@pytest.mark.parametrize("pooling", ["max", "average", "min"])
@pytest.mark.parametrize("kernel", ["E5L5S5", "E3W5R5", "L5S5E5", "S3S3L3"])
def test_laws_rotation_invariance_equals_24_rotated_kernels(kernel, pooling):
    names = (kernel[0:2], kernel[2:4], kernel[4:6])
    responses = [ndi.convolve(IMG, k, mode="reflect") for k in _rotations_3d(_laws_kernel(names))]
    assert len(responses) == 24
    stack = np.stack(responses)
    brute = {"max": stack.max(0), "average": stack.mean(0), "min": stack.min(0)}[pooling]
    out = laws_filter(IMG, (1, 1, 1), kernel=kernel, rotation_invariance=True, pooling=pooling)
    np.testing.assert_allclose(out, brute, atol=1e-12)


def test_laws_energy_map_is_the_mean_absolute_response():
    resp = laws_filter(IMG, (1, 1, 1), kernel="L5E5", dimensions="2d")
    energy = laws_filter(IMG, (1, 1, 1), kernel="L5E5", dimensions="2d", energy_distance=2)
    brute = ndi.uniform_filter(np.abs(resp), (1, 5, 5), mode="reflect")
    np.testing.assert_allclose(energy, brute, atol=1e-12)


def test_laws_kernel_names_are_checked():
    with pytest.raises(SettingsError, match="unknown 1-D Laws kernel 'Q5'"):
        laws_filter(IMG, (1, 1, 1), kernel="L5Q5E5")
    with pytest.raises(SettingsError, match="needs 2"):
        laws_filter(IMG, (1, 1, 1), kernel="L5E5E5", dimensions="2d")


# ---------------------------------------------------------------------------- Gabor
def _gabor_brute(img, spacing, sigma, lam, gamma, theta_deg, padding, truncate=4.0):
    sr, sc = spacing[1], spacing[2]
    reach = truncate * max(sigma, sigma / gamma)
    rr, rc = int(math.floor(reach / sr + 0.5)), int(math.floor(reach / sc + 0.5))
    y = np.arange(-rr, rr + 1)[:, None] * sr
    x = np.arange(-rc, rc + 1)[None, :] * sc
    t = math.radians(theta_deg)
    xr, yr = x * math.cos(t) + y * math.sin(t), -x * math.sin(t) + y * math.cos(t)
    k = np.exp(-(xr**2 + gamma**2 * yr**2) / (2 * sigma**2)) * np.exp(2j * math.pi * xr / lam)
    mode = scipy_mode(padding)
    re = ndi.convolve(img, k.real[None], mode=mode, cval=0.0)
    im = ndi.convolve(img, k.imag[None], mode=mode, cval=0.0)
    return re + 1j * im


@pytest.mark.parametrize("padding", PADDINGS)
def test_gabor_fft_equals_direct_convolution(padding):
    img = RNG.normal(size=(3, 30, 26))
    spacing = (2.0, 0.9, 1.1)
    brute = _gabor_brute(img, spacing, 2.0, 3.0, 0.7, 30.0, padding)
    out = gabor_filter(img, spacing, sigma_mm=2.0, lambda_mm=3.0, gamma=0.7, theta_deg=30.0, padding=padding)
    np.testing.assert_allclose(out, np.abs(brute), atol=1e-10)
    real = gabor_filter(img, spacing, sigma_mm=2.0, lambda_mm=3.0, gamma=0.7, theta_deg=30.0, padding=padding,
                        response="real")
    np.testing.assert_allclose(real, brute.real, atol=1e-10)


def test_gabor_rotation_invariance_averages_a_full_turn():
    img = RNG.normal(size=(2, 30, 30))
    kw = dict(sigma_mm=2.0, lambda_mm=3.0, gamma=1.5)
    full = np.mean([np.abs(_gabor_brute(img, (1, 1, 1), 2.0, 3.0, 1.5, t, "mirror")) for t in range(0, 360, 45)], 0)
    out = gabor_filter(img, (1, 1, 1), **kw, rotation_invariance=True, theta_step_deg=45.0)
    np.testing.assert_allclose(out, full, atol=1e-10)
    with pytest.raises(SettingsError, match="divide 360"):
        gabor_filter(img, (1, 1, 1), **kw, rotation_invariance=True, theta_step_deg=50.0)


def test_gabor_3d_averages_axial_coronal_and_sagittal_planes():
    img = RNG.normal(size=(20, 22, 24))
    kw = dict(sigma_mm=1.5, lambda_mm=3.0, gamma=1.5, rotation_invariance=True, theta_step_deg=45.0)
    axial = gabor_filter(img, (1, 1, 1), **kw)
    # coronal planes: rows z, columns x (slices along y); sagittal: rows z, columns y
    coronal = np.transpose(gabor_filter(np.transpose(img, (1, 0, 2)), (1, 1, 1), **kw), (1, 0, 2))
    sagittal = np.transpose(gabor_filter(np.transpose(img, (2, 0, 1)), (1, 1, 1), **kw), (1, 2, 0))
    out = gabor_filter(img, (1, 1, 1), **kw, dimensions="3d")
    np.testing.assert_allclose(out, (axial + coronal + sagittal) / 3, atol=1e-10)


# -------------------------------------------------------------------------- wavelets
@pytest.mark.parametrize("wavelet", ["haar", "db2", "db3", "coif1", "sym4", "bior1.3"])
@pytest.mark.parametrize("band", ["LLL", "HLH", "HHH"])
def test_wavelet_level1_is_the_separable_filter_bank(wavelet, band):
    import pywt

    w = pywt.Wavelet(wavelet)
    out = separable_wavelet(IMG, (1, 1, 1), wavelet=wavelet, subband=band, padding="periodic")
    brute = IMG
    for letter, axis in zip(band, (2, 1, 0), strict=True):  # x, y, z
        brute = ndi.convolve1d(brute, np.array(w.dec_lo if letter == "L" else w.dec_hi), axis=axis, mode="wrap")
    np.testing.assert_allclose(out, brute, atol=1e-12)


def test_wavelet_level2_uses_a_trous_filters():
    import pywt

    lo = np.array(pywt.Wavelet("db2").dec_lo)
    hi = np.array(pywt.Wavelet("db2").dec_hi)
    out = separable_wavelet(IMG, (1, 1, 1), wavelet="db2", subband="HLL", level=2, padding="periodic")
    brute = IMG
    for axis, k2 in zip((2, 1, 0), (hi, lo, lo), strict=True):
        brute = ndi.convolve1d(brute, lo, axis=axis, mode="wrap")
        up = np.zeros(2 * len(k2))
        up[0::2] = k2  # offsets (2 - j) * 2 for tap j: kernel of length 8 centred at index 4
        brute = ndi.convolve1d(brute, up, axis=axis, mode="wrap")
    np.testing.assert_allclose(out, brute, atol=1e-12)


def test_wavelet_subbands_share_passes_and_keep_the_order():
    names = ["HHH", "LLL", "LHL"]
    got = dict(wavelet_subbands(IMG, (1, 1, 1), wavelet="coif1", subbands=names))
    assert list(got) == names
    for b in names:
        np.testing.assert_allclose(got[b], separable_wavelet(IMG, (1, 1, 1), wavelet="coif1", subband=b))
    everything = dict(wavelet_subbands(IMG, (1, 1, 1), wavelet="haar", subbands="all"))
    assert len(everything) == 8 and set(everything) == {"".join(p) for p in itertools.product("LH", repeat=3)}


def test_wavelet_rotation_invariance_of_lll_haar_is_the_plain_band():
    # the 24 rotations of the Haar low-pass kernel are shifts of it; the average of a
    # rotation-invariant LLL equals the mean of those shifted kernels: check against rot90
    w = np.array([1.0, 1.0]) / math.sqrt(2)
    kernel = np.einsum("i,j,k->ijk", w, w, w)
    padded = np.zeros((3, 3, 3))
    padded[:2, :2, :2] = kernel  # the taps at offsets +1 and 0, as scipy centres a 2-tap kernel
    brute = np.mean([ndi.convolve(IMG, k, mode="wrap") for k in _rotations_3d(padded)], axis=0)
    out = separable_wavelet(IMG, (1, 1, 1), wavelet="haar", subband="LLL", rotation_invariance=True,
                            padding="periodic")
    np.testing.assert_allclose(out, brute, atol=1e-12)


def test_unknown_wavelet_gets_a_hint():
    with pytest.raises(SettingsError, match="did you mean 'coif1'"):
        separable_wavelet(IMG, (1, 1, 1), wavelet="coif", subband="LLL")
    with pytest.raises(SettingsError, match="did you mean 'db3'"):
        separable_wavelet(IMG, (1, 1, 1), wavelet="db3x", subband="LLL")
    with pytest.raises(SettingsError, match="3 letters"):
        separable_wavelet(IMG, (1, 1, 1), wavelet="db3", subband="LH")


# ------------------------------------------------------------------------ Simoncelli
@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("shape", [(16, 16, 16), (9, 40, 41)])
def test_simoncelli_removes_constants_at_every_level(level, shape):
    # the consensus frequency grid puts an even axis' DC half a bin off zero; the DC term
    # itself is outside every band and is zeroed explicitly
    out = simoncelli_wavelet(np.full(shape, 3.0), (1, 1, 1), level=level, padding="periodic")
    assert np.abs(out).max() < 1e-12


def test_simoncelli_is_shift_equivariant_when_periodic():
    img = RNG.normal(size=(16, 16, 16))
    shifted = np.roll(img, (3, -2, 5), axis=(0, 1, 2))
    a = simoncelli_wavelet(img, (1, 1, 1), level=2, padding="periodic")
    b = simoncelli_wavelet(shifted, (1, 1, 1), level=2, padding="periodic")
    np.testing.assert_allclose(np.roll(a, (3, -2, 5), axis=(0, 1, 2)), b, atol=1e-10)


def test_simoncelli_keeps_its_octave():
    # a cosine at 0.6 x Nyquist is in the level-1 band (0.25, 1) and outside level 3 (0.0625, 0.25)
    n = 65  # odd: the consensus grid is then symmetric and holds 0
    x = np.cos(2 * np.pi * 20 / n * np.arange(n))  # DFT bin 20: 0.62 x Nyquist
    img = np.broadcast_to(x, (9, 9, n)).copy()
    lvl1 = simoncelli_wavelet(img, (1, 1, 1), level=1, padding="periodic")
    lvl3 = simoncelli_wavelet(img, (1, 1, 1), level=3, padding="periodic")
    assert np.abs(lvl1).max() > 0.5 and np.abs(lvl3).max() < 1e-9


# ----------------------------------------------------------------------------- Riesz
def test_riesz_first_order_transforms_square_to_minus_identity():
    lengths = (10, 12, 14)
    total = sum(riesz_response(lengths, o, (0, 1, 2)) ** 2 for o in [(1, 0, 0), (0, 1, 0), (0, 0, 1)])
    expected = -np.ones(lengths)
    expected[0, 0, 0] = 0  # the DC term is set to zero
    np.testing.assert_allclose(total, expected, atol=1e-12)


def test_riesz_order_is_given_x_first():
    img = np.zeros((17, 17, 17))
    img[8, 8, 8] = 1.0
    out = riesz_log(img, (1, 1, 1), order=(1, 0, 0), sigma_mm=1.5, padding="constant")
    # odd along x, even along y and z
    np.testing.assert_allclose(out, -out[:, :, ::-1], atol=1e-12)
    np.testing.assert_allclose(out, out[:, ::-1, :], atol=1e-12)
    np.testing.assert_allclose(out, out[::-1, :, :], atol=1e-12)
    assert np.abs(out[8, 8, :]).max() > 10 * np.abs(out[:, 8, 8]).max()
