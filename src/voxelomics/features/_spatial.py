"""Moran's I and Geary's C with inverse-distance weights over all ROI voxel pairs (IBSI 3.1).

Notation: :math:`N_{v,gl}` voxels of the intensity mask with intensities :math:`X_{gl,k}`,
mean :math:`\\mu`, centred values :math:`d_k = X_{gl,k} - \\mu`, weights
:math:`w_{k_1k_2} = 1/\\lVert \\mathbf{x}_{k_1} - \\mathbf{x}_{k_2} \\rVert_2` (voxel centres in mm,
:math:`k_1 \\neq k_2`) and :math:`W = \\sum_{k_1 \\neq k_2} w_{k_1k_2}`.

Three ways to get the pair sums, chosen by cost:

``grid`` (exact)
    Voxels sit on a regular grid, so a weight depends only on the offset between two voxels.
    Every pair sum is then :math:`\\sum_{\\mathbf{o} \\neq 0} w(\\mathbf{o}) (f \\star g)(\\mathbf{o})`,
    with :math:`f \\star g` the cross-correlation of two arrays over the ROI bounding box,
    computed with FFTs in :math:`O(M \\log M)` for :math:`M` voxels of the doubled box. Used
    when the doubled box holds at most :data:`GRID_MAX_ELEMENTS` voxels.
``pairs`` (exact)
    Explicit distances in row blocks (bounded memory), :math:`O(N^2)`; used for sparse ROIs
    with a large bounding box and at most ``exact_max_voxels`` voxels.
``subsample`` (approximate)
    IBSI's allowed approximation ("repeated subsampling of the ROI"): the mean of both
    statistics over random sub-samples of ``exact_max_voxels`` voxels, with a fixed seed;
    an :class:`~voxelomics.errors.ApproximationWarning` is issued.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import fft

from voxelomics.errors import ApproximationWarning, SettingsError

__all__ = ["moran_geary", "GRID_MAX_ELEMENTS", "N_SUBSAMPLES"]

#: Largest doubled bounding box (voxels) for the exact FFT method: about 16.8 million voxels,
#: e.g. a 128 x 128 x 128 box; the method then holds two partial spectra (each a quarter of
#: the doubled box, complex128: 8 bytes per doubled-box voxel in all) and three float64 copies
#: of the box, about 0.2 GB.
GRID_MAX_ELEMENTS = 1 << 24

#: Number of random sub-samples averaged by the approximation.
N_SUBSAMPLES = 10

_PAIR_CHUNK = 1 << 21


def _finish(n: int, w_sum: float, cross: float, sq_sum_weighted: float, ss: float):
    """Moran's I and Geary's C from the pair sums (NaN when undefined)."""
    if n < 2 or ss <= 0.0 or w_sum <= 0.0:
        return float("nan"), float("nan")
    moran = n / w_sum * cross / ss
    geary = (n - 1) / (2.0 * w_sum) * (2.0 * sq_sum_weighted - 2.0 * cross) / ss
    return float(moran), float(geary)


def _sums_pairs(coords: np.ndarray, d: np.ndarray):
    """W, sum w d1 d2, sum w d1^2 by explicit distances in row blocks."""
    n = len(d)
    step = max(1, _PAIR_CHUNK // max(n, 1))
    sq = (coords**2).sum(axis=1)
    w_sum = cross = sq_w = 0.0
    for start in range(0, n, step):
        blk = slice(start, start + step)
        dist2 = sq[blk, None] + sq[None, :] - 2.0 * (coords[blk] @ coords.T)
        rows = np.arange(start, min(start + step, n))
        dist2[rows - start, rows] = np.inf  # k1 == k2 excluded
        w = 1.0 / np.sqrt(np.maximum(dist2, 1e-300))
        r = w.sum(axis=1)
        w_sum += float(r.sum())
        cross += float(d[blk] @ (w @ d))
        sq_w += float((d[blk] ** 2) @ r)
    return w_sum, cross, sq_w


def _even_fast_len(n: int) -> int:
    """Smallest fast FFT length >= n that is even (the DCT-I shortcut needs even lengths)."""
    m = fft.next_fast_len(n, real=True)
    while m % 2:
        m = fft.next_fast_len(m + 1, real=True)
    return m


def _weight_spectrum(full: list[int], spacing: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Half spectrum (rfftn layout, real) of the periodic 1/distance weights, times 1/M and
    with the last-axis Parseval multiplicity folded in, as its first octant and two index maps.

    The weights are even along every axis, so their DFT is real and equals the type-I DCT of
    the first half (offsets 0 … N/2 per axis): one eighth of the grid is transformed. The
    spectrum at frequencies (k0, k1, k2) is ``octant[mirror0[k0], mirror1[k1], k2]`` (W[k] =
    W[N - k] on the first two axes); :func:`_weighted_sums` expands it a block of planes at a
    time instead of holding it whole.
    """
    half = [n // 2 + 1 for n in full]
    axes = [np.arange(h) * s for h, s in zip(half, spacing, strict=True)]
    w = axes[0][:, None, None] ** 2 + axes[1][None, :, None] ** 2 + axes[2][None, None, :] ** 2
    w[0, 0, 0] = np.inf
    np.sqrt(w, out=w)
    np.reciprocal(w, out=w)
    spec = fft.dctn(w, type=1)
    del w
    # half spectrum along the last axis: interior frequencies stand for two conjugate bins
    mult = np.full(spec.shape[-1], 2.0)
    mult[0] = 1.0
    mult[-1] = 1.0  # full[-1] is even: the Nyquist bin stands alone
    spec *= mult / float(np.prod(full))  # 1/M of Parseval folded in
    m0, m1 = (np.concatenate([np.arange(n // 2 + 1), np.arange(n // 2 - 1, 0, -1)]) for n in full[:2])
    return spec, m0, m1


#: Elements of the half spectrum finished and multiplied at a time by :func:`_weighted_sums`
#: (bounded temporaries instead of whole spectra of the doubled box).
_SUM_BLOCK = 1 << 16


def _weighted_sums(weights, full: list[int], parts: list[np.ndarray], pairs) -> list[float]:
    """sum_o w(o) (a ⋆ b)(o) for each pair of :func:`_partial_rfftn` results, by Parseval:
    sum W Re(Fa conj(Fb)).

    The last transform (axis 1) and the products run over blocks of axis-0 planes, so the
    full half spectra are never held (the same per-line transforms as ``rfftn``).
    """
    spec, m0, m1 = weights
    per_plane = full[1] * parts[0].shape[2]
    step = max(1, _SUM_BLOCK // per_plane)
    totals = [0.0] * len(pairs)
    for i in range(0, full[0], step):
        w = spec[m0[i:i + step]][:, m1].ravel()
        f = [fft.fft(p[i:i + step], n=full[1], axis=1) for p in parts]
        for k, (a, b) in enumerate(pairs):
            re = f[a].real * f[b].real
            re += f[a].imag * f[b].imag
            totals[k] += float(np.dot(re.ravel(), w))
    return totals


def _partial_rfftn(a: np.ndarray, full: list[int]) -> np.ndarray:
    """``scipy.fft.rfftn(a, full)`` of a 3D array zero-padded to ``full``, but for the
    transform along axis 1 (done by :func:`_weighted_sums`, a block of planes at a time).

    Each 1D transform only runs over the lines that hold data: the last axis over the
    ``a.shape[0] * a.shape[1]`` input lines, then axis 0 over those columns; axis 1 comes
    last. With the box doubled on every axis this is ~3x less work than the plain ``rfftn``
    (which transforms the padding zeros too), and the result is half the full spectrum's size.
    """
    x = fft.rfft(a, n=full[2], axis=2)
    return fft.fft(x, n=full[0], axis=0, overwrite_x=True)


def _sums_grid(values: np.ndarray, mask: np.ndarray, spacing: np.ndarray, mu: float):
    """W, sum w d1 d2, sum w d1^2 by FFT cross-correlation on the ROI bounding box.

    Holds two partial spectra (each about half a full half spectrum of the doubled box) and
    one block of planes at a time.
    """
    full = [_even_fast_len(2 * s - 1) for s in mask.shape]
    weights = _weight_spectrum(full, spacing)
    dev = np.where(mask, values - mu, 0.0)
    parts = [_partial_rfftn(mask.astype(np.float64), full), _partial_rfftn(dev * dev, full)]
    w_sum, sq_w = _weighted_sums(weights, full, parts, [(0, 0), (1, 0)])
    del parts
    (cross,) = _weighted_sums(weights, full, [_partial_rfftn(dev, full)], [(0, 0)])
    return w_sum, cross, sq_w


def moran_geary(
    values: np.ndarray,
    mask: np.ndarray,
    spacing_mm,
    *,
    exact_max_voxels: int = 10000,
    seed: int = 0,
    method: str | None = None,
) -> tuple[float, float]:
    """Moran's I and Geary's C of the intensities in a mask (IBSI: N365, NPT7).

    Parameters
    ----------
    values : ndarray of float of shape (z, y, x)
        Image intensities.
    mask : ndarray of bool of shape (z, y, x)
        Intensity mask (non-empty).
    spacing_mm : tuple of float
        Voxel spacing (z, y, x) in mm.
    exact_max_voxels : int, default=10000
        Largest ROI for the explicit pair sums; also the sub-sample size of the approximation.
    seed : int, default=0
        Seed of the sub-sampling.
    method : {"grid", "pairs", "subsample"} or None, default=None
        Force a method (tests); None chooses as described in the module docstring.

    Returns
    -------
    moran_i, geary_c : float
        NaN when undefined: fewer than two voxels (no pairs) or all intensities equal
        (zero variance in the denominator).

    Raises
    ------
    SettingsError
        Unknown ``method``.

    Warns
    -----
    ApproximationWarning
        When the sub-sampling approximation is used.

    Notes
    -----
    .. math:: I = \\frac{N}{W} \\frac{\\sum_{k_1 \\neq k_2} w_{k_1k_2} d_{k_1} d_{k_2}}{\\sum_k d_k^2},
              \\qquad C = \\frac{N - 1}{2W}
              \\frac{\\sum_{k_1 \\neq k_2} w_{k_1k_2} (d_{k_1} - d_{k_2})^2}{\\sum_k d_k^2}

    Geary's numerator is evaluated as :math:`2\\sum w d_{k_1}^2 - 2\\sum w d_{k_1} d_{k_2}`
    (weights are symmetric).
    """
    spacing = np.asarray(spacing_mm, dtype=np.float64)
    idx = np.nonzero(mask)
    n = len(idx[0])
    x = values[idx].astype(np.float64)
    mu = float(x.mean())
    d = x - mu
    ss = float(d @ d)
    if n < 2 or ss <= 0.0:
        return float("nan"), float("nan")
    lo = [int(i.min()) for i in idx]
    hi = [int(i.max()) + 1 for i in idx]
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    if method is None:
        grid_size = int(np.prod([2 * (b - a) - 1 for a, b in zip(lo, hi, strict=True)]))
        if grid_size <= GRID_MAX_ELEMENTS:
            method = "grid"
        elif n <= exact_max_voxels:
            method = "pairs"
        else:
            method = "subsample"
    if method == "grid":
        sums = _sums_grid(values[box].astype(np.float64), mask[box], spacing, mu)
        return _finish(n, *sums, ss)
    coords = np.stack(idx, axis=1).astype(np.float64) * spacing
    coords -= coords.mean(axis=0)
    if method == "pairs":
        return _finish(n, *_sums_pairs(coords, d), ss)
    if method != "subsample":
        raise SettingsError(f"unknown method {method!r}; valid: 'grid', 'pairs', 'subsample'")
    size = min(n, exact_max_voxels)
    warnings.warn(
        f"Moran's I and Geary's C approximated: ROI of {n} voxels with a bounding box too large "
        f"for the exact grid method; mean over {N_SUBSAMPLES} random sub-samples of {size} "
        f"voxels (seed {seed})",
        ApproximationWarning,
        stacklevel=3,
    )
    rng = np.random.default_rng(seed)
    res = []
    for _ in range(N_SUBSAMPLES):
        pick = rng.choice(n, size=size, replace=False)
        xs = x[pick]
        ds = xs - xs.mean()
        res.append(_finish(size, *_sums_pairs(coords[pick], ds), float(ds @ ds)))
    arr = np.asarray(res)
    return float(np.nanmean(arr[:, 0])), float(np.nanmean(arr[:, 1]))
