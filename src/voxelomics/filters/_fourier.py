"""Filters defined in the Fourier domain: pad, transform, multiply, transform back, crop.

The Simoncelli wavelet and the Riesz transform are defined by their frequency response and
have no finite kernel. The image is padded by ``margin`` voxels per filtered axis with the
boundary condition (none for ``periodic``: the discrete Fourier transform is periodic), the
frequency response is sampled on the padded grid, and the centre is cropped back.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import fft as sfft

from voxelomics.filters.boundary import pad

__all__ = ["fourier_filter", "ibsi_frequency_grid", "dft_frequency_grid"]


def ibsi_frequency_grid(n: int) -> np.ndarray:
    """Normalised frequencies of an axis of ``n`` voxels as the IBSI consensus samples them.

    ``n`` points evenly spaced from -1 to 1 (1 = the Nyquist frequency), in FFT order
    (``ifftshift``). This is the grid on which the teams behind the IBSI-2 consensus
    response maps sampled the Simoncelli wavelet: the reference maps 8.a.2 and 8.a.3 are
    reproduced to 1e-6 of their range on it, against 2.5 and 8 times the tolerance on the
    exact DFT grid. For even ``n`` it is half a bin off the DFT frequencies, so the
    filtered image has a small imaginary part, which is dropped (real part kept).
    """
    if n == 1:
        return np.zeros(1)
    return np.fft.ifftshift(np.linspace(-1.0, 1.0, n))


def dft_frequency_grid(n: int) -> np.ndarray:
    """Angular DFT frequencies (radians per voxel, in [-π, π)) of an axis of ``n`` voxels."""
    return np.fft.fftfreq(n) * 2 * np.pi


def fourier_filter(array: np.ndarray, axes: tuple[int, ...], margin: int, padding: str,
                   response: Callable[[tuple[int, ...]], np.ndarray]) -> np.ndarray:
    """Filter ``array`` along ``axes`` by a frequency response.

    Parameters
    ----------
    array : ndarray of shape (z, y, x)
        float32 (complex64 transforms) or float64.
    axes : tuple of int
        Array axes transformed (the others are filtered independently, e.g. slice by slice).
    margin : int
        Voxels of padding per side of each transformed axis (ignored for ``periodic``).
    padding : str
        IBSI boundary condition.
    response : callable
        Given the padded lengths along ``axes``, returns the frequency response as an array
        of that shape (FFT order), real or complex.

    Returns
    -------
    ndarray
        Real part of the filtered array, same shape and dtype as ``array``.
    """
    m = 0 if padding == "periodic" else int(margin)
    widths = [(m, m) if a in axes else (0, 0) for a in range(array.ndim)]
    padded = pad(array, widths, padding)
    lengths = tuple(padded.shape[a] for a in axes)
    spectrum = sfft.fftn(padded, axes=axes)
    del padded
    h = np.asarray(response(lengths))
    shape = [1] * array.ndim
    for a, n in zip(axes, lengths, strict=True):
        shape[a] = n
    cdt = np.complex64 if array.dtype == np.float32 else np.complex128
    spectrum *= h.reshape(shape).astype(cdt if np.iscomplexobj(h) else array.dtype, copy=False)
    out = sfft.ifftn(spectrum, axes=axes, overwrite_x=True)
    keep = tuple(slice(m, m + array.shape[a]) if a in axes else slice(None) for a in range(array.ndim))
    return np.ascontiguousarray(out.real[keep], dtype=array.dtype)
