"""Separable wavelets, undecimated (IBSI-2 section 2.7; phase-1 tests 5–7; phase-2 6–7).

The filter banks are PyWavelets' decomposition filters (``pywt.Wavelet(name).dec_lo`` and
``.dec_hi``): Haar, Daubechies (``db1`` … ``db38``), Symlets, Coiflets (``coif1`` …),
biorthogonal and the other discrete families of :func:`pywt.wavelist`.

A sub-band is named by one letter per axis in the order x, y, z: ``LHL`` is the low-pass
filter along x, the high-pass along y and the low-pass along z (``LH`` in 2D). The
transform is undecimated (stationary): level ``j`` applies, along each axis, the low-pass
filter of every level before it, then the sub-band's filter of level ``j``; the filters of
level ``l`` are *à trous*, their taps spread ``2^(l-1)`` voxels apart. The boundary condition
is applied at every pass.

Rotation invariance pools the sub-band over the right-angle rotations of the separable
kernel (24 in 3D, 4 in 2D): each rotation permutes which axis gets which letter and
reverses the filters along some axes. Pooling is ``average`` in IBSI (``max`` and ``min``
are available too).

Speed: the passes along one axis commute with those along the others, so the 1-D chains
are applied axis by axis (z, then y, then x) and a chain already applied is reused by every
rotation or sub-band that shares it.

References
----------
Depeursinge A. et al., arXiv:2006.05470 (IBSI reference manual, chapter 2), section 2.7
"Separable wavelets"; Mallat S., A theory for multiresolution signal decomposition, IEEE
TPAMI 1989;11:674; Lee G. et al., PyWavelets, JOSS 2019;4:1237.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from functools import cache

import numpy as np

from voxelomics.errors import SettingsError
from voxelomics.filters._common import (
    ARRAY_AXIS,
    Pool,
    as_image,
    check_support,
    correlate_taps,
    filtered_axes,
    proper_rotations,
    taps,
)

__all__ = ["separable_wavelet", "wavelet_subbands", "all_subbands", "check_wavelet", "check_subband",
           "wavelet_radius"]


@cache
def _discrete_wavelets() -> tuple[str, ...]:
    import pywt

    return tuple(pywt.wavelist(kind="discrete"))


def check_wavelet(name: str) -> str:
    """Return a PyWavelets discrete wavelet name, or raise with a "did you mean".

    Parameters
    ----------
    name : str
        E.g. ``"haar"``, ``"db3"``, ``"coif1"``, ``"sym4"``, ``"bior1.3"``.

    Returns
    -------
    str
        The name, lower case.

    Raises
    ------
    SettingsError
        Not a discrete wavelet of PyWavelets.

    Examples
    --------
    >>> check_wavelet("Coif1")
    'coif1'
    """
    key = str(name).strip().lower()
    valid = _discrete_wavelets()
    if key in valid:
        return key
    import pywt

    families = pywt.families(short=True)
    hint = [f"{key}1"] if key in families and f"{key}1" in valid else difflib.get_close_matches(key, valid, n=1)
    msg = f"unknown wavelet {name!r}: not a discrete wavelet of PyWavelets (e.g. haar, db2, coif1, sym4)"
    if hint:
        msg += f"; did you mean {hint[0]!r}?"
    raise SettingsError(msg)


def all_subbands(dimensions: str = "3d") -> tuple[str, ...]:
    """Every sub-band of one decomposition level (8 in 3D, 4 in 2D).

    Parameters
    ----------
    dimensions : {"3d", "2d"}, default="3d"

    Returns
    -------
    tuple of str
        In the order that shares the most 1-D passes (the z letter varies slowest):
        ``LLL, HLL, LHL, HHL, LLH, HLH, LHH, HHH`` (3D).
    """
    n = 2 if dimensions == "2d" else 3
    out = []
    for i in range(2**n):
        bits = [(i >> k) & 1 for k in range(n)]  # x fastest
        out.append("".join("H" if b else "L" for b in bits))
    return tuple(out)


def check_subband(subband: str, dimensions: str = "3d") -> str:
    """Return a sub-band name (upper case) if it fits the dimensions.

    Parameters
    ----------
    subband : str
        ``L``/``H`` letters in the order x, y[, z], e.g. ``"LLH"``.
    dimensions : {"3d", "2d"}, default="3d"

    Returns
    -------
    str

    Raises
    ------
    SettingsError
        Not made of L and H, or the wrong length.
    """
    text = str(subband).strip().upper()
    n = 2 if dimensions == "2d" else 3
    if not re.fullmatch(r"[LH]+", text) or len(text) != n:
        raise SettingsError(f"wavelet sub-band {subband!r} must be {n} letters L or H (order x, y"
                            + (", z" if n == 3 else "") + f"), e.g. {'LLH' if n == 3 else 'LH'!r}")
    return text


def wavelet_radius(wavelet: str, level: int = 1, *, dimensions: str = "3d") -> tuple[int, int, int]:
    """Reach of a level-``level`` undecimated sub-band, in voxels per axis (z, y, x).

    Parameters
    ----------
    wavelet : str
        PyWavelets name.
    level : int, default=1
        Decomposition level.
    dimensions : {"3d", "2d"}, default="3d"

    Returns
    -------
    tuple of int
        The largest offset any pass chain reaches (filter half-length times ``2^level - 1``).
    """
    lo, hi = _filters(check_wavelet(wavelet))
    half = max(abs(o) for o, _ in taps(lo) + taps(hi))
    reach = half * (2**level - 1)
    axes = filtered_axes(dimensions)
    return tuple(reach if a in axes else 0 for a in range(3))


@cache
def _filters(wavelet: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    import pywt

    w = pywt.Wavelet(wavelet)
    return tuple(w.dec_lo), tuple(w.dec_hi)


def _chain(wavelet: str, letter: str, flipped: bool, level: int) -> list[list[tuple[int, float]]]:
    """The 1-D passes along one axis: low-pass of levels 1..level-1, then ``letter`` at ``level``."""
    lo, hi = _filters(wavelet)
    passes = []
    for lev in range(1, level + 1):
        kernel = (lo if letter == "L" else hi) if lev == level else lo
        step = 2 ** (lev - 1)
        passes.append([((-o if flipped else o) * step, v) for o, v in taps(kernel)])
    return passes


def wavelet_subbands(image, spacing_mm, *, wavelet: str, subbands, level: int = 1,
                     rotation_invariance: bool = False, pooling: str = "average",
                     dimensions: str = "3d", padding: str = "mirror") -> Iterator[tuple[str, np.ndarray]]:
    """Yield several sub-bands of one wavelet and level, sharing their common passes.

    Parameters
    ----------
    image : ndarray of shape (z, y, x)
        Intensities. float32 is kept, other types become float64.
    spacing_mm : tuple of float
        Voxel size (z, y, x) in mm (wavelets work in voxels; only checked).
    wavelet : str
        PyWavelets discrete wavelet name.
    subbands : sequence of str or "all"
        Sub-band names (``"LLH"``, …; order x, y, z) or ``"all"`` (:func:`all_subbands`).
    level : int, default=1
        Decomposition level (1 = finest).
    rotation_invariance : bool, default=False
        Pool each sub-band over the right-angle rotations of its kernel.
    pooling : {"average", "max", "min"}, default="average"
    dimensions : {"3d", "2d"}, default="3d"
    padding : {"mirror", "constant", "nearest", "periodic"}, default="mirror"

    Yields
    ------
    (str, ndarray of shape (z, y, x))
        Sub-band name and its response map (image units), in the order asked.

    Raises
    ------
    SettingsError
        Unknown wavelet, sub-band, level, pooling, dimensions or padding.
    FilterError
        The filter chain reaches further than the image.
    """
    arr, _ = as_image(image, spacing_mm)
    wavelet = check_wavelet(wavelet)
    if isinstance(level, bool) or int(level) != level or level < 1:
        raise SettingsError(f"wavelet level must be an integer >= 1, got {level!r}")
    level = int(level)
    axes = filtered_axes(dimensions)
    names = all_subbands(dimensions) if subbands == "all" else [check_subband(b, dimensions) for b in subbands]
    check_support(arr.shape, wavelet_radius(wavelet, level, dimensions=dimensions),
                  f"the {wavelet} wavelet at level {level}")
    ndim = len(axes)
    rotations = proper_rotations(ndim) if rotation_invariance else [(tuple(range(ndim)), (1,) * ndim)]
    # one computation path per (sub-band, rotation): the (letter, flipped) pair along each
    # kernel position, visited z first so that consecutive paths share their prefix
    cache: dict[tuple, np.ndarray] = {}

    def apply(path: tuple) -> np.ndarray:
        """Response of the chains ``path`` (one per position, z first), prefix cached."""
        if not path:
            return arr
        if path in cache:
            return cache[path]
        parent = apply(path[:-1])
        pos = ndim - len(path)  # z (ndim-1) first, then y, then x
        out = parent
        for tap_list in _chain(wavelet, path[-1][0], path[-1][1], level):
            out = correlate_taps(out, tap_list, ARRAY_AXIS[pos], padding)
        # keep only the latest chain of prefixes: memory stays at one array per axis
        for key in [k for k in cache if len(k) >= len(path)]:
            del cache[key]
        if len(path) < ndim:
            cache[path] = out
        return out

    for band in names:
        pool = Pool(pooling)
        paths = []
        for perm, flips in rotations:
            per_pos = [(band[perm[pos]], flips[pos] == -1) for pos in range(ndim)]
            paths.append(tuple(reversed(per_pos)))  # z first
        for path in sorted(set(paths)):
            # a full path is never cached: the pool may keep the array itself
            pool.add(apply(path), weight=float(paths.count(path)), owned=True)
        yield band, pool.result()


def separable_wavelet(image, spacing_mm, *, wavelet: str, subband: str, level: int = 1,
                      rotation_invariance: bool = False, pooling: str = "average",
                      dimensions: str = "3d", padding: str = "mirror") -> np.ndarray:
    """One undecimated sub-band of a separable wavelet (optionally rotation-invariant).

    Parameters
    ----------
    image : ndarray of shape (z, y, x)
        Intensities. float32 is kept, other types become float64.
    spacing_mm : tuple of float
        Voxel size (z, y, x) in mm (only checked).
    wavelet : str
        PyWavelets discrete wavelet (``"haar"``, ``"db3"``, ``"coif1"``, …).
    subband : str
        ``L``/``H`` per axis in the order x, y[, z], e.g. ``"LLH"`` (3D), ``"HH"`` (2D).
    level : int, default=1
        Decomposition level.
    rotation_invariance : bool, default=False
        Pool over the 24 (3D) or 4 (2D) right-angle rotations of the kernel.
    pooling : {"average", "max", "min"}, default="average"
    dimensions : {"3d", "2d"}, default="3d"
    padding : {"mirror", "constant", "nearest", "periodic"}, default="mirror"

    Returns
    -------
    ndarray of shape (z, y, x)
        Sub-band coefficients (image units).

    Raises
    ------
    SettingsError
        Unknown wavelet (with a "did you mean"), sub-band, level, pooling, dimensions or padding.
    FilterError
        The filter chain reaches further than the image.

    Examples
    --------
    >>> img = np.zeros((1, 1, 6)); img[0, 0, 3] = 1.0
    >>> out = separable_wavelet(img, (1, 1, 1), wavelet="haar", subband="HL", dimensions="2d", padding="constant")
    >>> np.round(out[0, 0] * np.sqrt(2), 6) + 0.0    # Haar high-pass along x: -1, 1
    array([ 0.,  0., -1.,  1.,  0.,  0.])

    References
    ----------
    Depeursinge A. et al., arXiv:2006.05470, section 2.7.
    """
    ((_, out),) = wavelet_subbands(image, spacing_mm, wavelet=wavelet, subbands=[subband], level=level,
                                   rotation_invariance=rotation_invariance, pooling=pooling,
                                   dimensions=dimensions, padding=padding)
    return out
