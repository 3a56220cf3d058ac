"""Boundary conditions of the IBSI-2 filters: how an image is extended beyond its edge.

A convolution near the edge of an image needs intensities outside it. IBSI chapter 2
(reference manual, section "Boundary conditions") defines four ways to make them up; the
names below are the ones the manual and its phase-1 tests use:

==============  =================================================  ================  =============
name            the image ``a b c d`` is extended as               scipy.ndimage     numpy.pad
==============  =================================================  ================  =============
``constant``    ``0 0 0 | a b c d | 0 0 0`` (zero padding)         ``constant``      ``constant``
``nearest``     ``a a a | a b c d | d d d`` (edge value)           ``nearest``       ``edge``
``periodic``    ``b c d | a b c d | a b c``  (wrap around)         ``wrap``          ``wrap``
``mirror``      ``c b a | a b c d | d c b``  (symmetric)           ``reflect``       ``symmetric``
==============  =================================================  ================  =============

``mirror`` repeats the edge voxel (half-sample symmetric reflection), as the IBSI reference
response maps do; scipy calls this ``reflect`` and its own ``mirror`` is something else.

In the extraction pipeline the image is cropped around the ROI with a margin at least as
wide as the filter's support, so the boundary condition only changes voxels far from the
ROI, except where the ROI touches the edge of the scan itself.

References
----------
Depeursinge A., Andrearczyk V., Whybra P. et al., Standardised convolutional filtering for
radiomics, arXiv:2006.05470 (IBSI reference manual, chapter 2), section 2.2 "Boundary
conditions".
"""

from __future__ import annotations

import difflib
from typing import Literal, get_args

import numpy as np

from voxelomics.errors import SettingsError

__all__ = ["Padding", "PADDINGS", "check_padding", "scipy_mode", "pad"]

#: The four IBSI boundary conditions.
Padding = Literal["constant", "nearest", "periodic", "mirror"]
PADDINGS: tuple[str, ...] = get_args(Padding)

_SCIPY = {"constant": "constant", "nearest": "nearest", "periodic": "wrap", "mirror": "reflect"}
_NUMPY = {"constant": "constant", "nearest": "edge", "periodic": "wrap", "mirror": "symmetric"}


def check_padding(padding: str) -> str:
    """Return ``padding`` if it is an IBSI boundary condition.

    Parameters
    ----------
    padding : str
        ``"constant"`` (zero), ``"nearest"``, ``"periodic"`` or ``"mirror"``.

    Returns
    -------
    str
        The same name.

    Raises
    ------
    SettingsError
        Unknown name, with a "did you mean" hint (``"zero"`` and ``"reflect"`` are pointed
        to ``"constant"`` and ``"mirror"``).

    Examples
    --------
    >>> check_padding("mirror")
    'mirror'
    """
    if padding in PADDINGS:
        return padding
    aliases = {"zero": "constant", "reflect": "mirror", "symmetric": "mirror", "wrap": "periodic",
               "edge": "nearest", "replicate": "nearest", "circular": "periodic"}
    hint = aliases.get(str(padding).lower()) or next(
        iter(difflib.get_close_matches(str(padding), PADDINGS, n=1)), None)
    msg = f"unknown boundary condition (padding) {padding!r}; valid: {', '.join(PADDINGS)}"
    if hint:
        msg += f"; did you mean {hint!r}?"
    raise SettingsError(msg)


def scipy_mode(padding: str) -> str:
    """The ``mode`` argument of :mod:`scipy.ndimage` for an IBSI boundary condition.

    Parameters
    ----------
    padding : {"constant", "nearest", "periodic", "mirror"}

    Returns
    -------
    str
        ``"constant"`` (with ``cval=0``), ``"nearest"``, ``"wrap"`` or ``"reflect"``.

    Raises
    ------
    SettingsError
        Unknown boundary condition.
    """
    return _SCIPY[check_padding(padding)]


def pad(array: np.ndarray, widths, padding: str) -> np.ndarray:
    """Extend an array beyond its edges by an IBSI boundary condition.

    Parameters
    ----------
    array : ndarray of shape (z, y, x)
        Image (any float dtype; kept).
    widths : sequence of (int, int), one per axis
        Voxels added before and after each axis (``numpy.pad`` convention).
    padding : {"constant", "nearest", "periodic", "mirror"}
        Boundary condition; ``constant`` pads with zeros.

    Returns
    -------
    ndarray
        The padded array; widths wider than the axis repeat the rule (mirror and periodic
        tile the image, as ``numpy.pad`` does).

    Raises
    ------
    SettingsError
        Unknown boundary condition.

    Examples
    --------
    >>> pad(np.array([[[1.0, 2.0, 3.0]]]), [(0, 0), (0, 0), (2, 2)], "mirror")[0, 0]
    array([2., 1., 1., 2., 3., 3., 2.])
    """
    mode = _NUMPY[check_padding(padding)]
    widths = [(int(a), int(b)) for a, b in widths]
    if not any(a or b for a, b in widths):
        return array
    return np.pad(array, widths, mode=mode)
