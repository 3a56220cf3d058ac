"""Grey-level discretisation of the ROI intensities (IBSI 2.7, 4R0B).

Discretised grey levels start at 1 (never 0). Notation: ``X_gl`` are the intensities in
the intensity mask, ``X_d`` the grey levels, ``N_g`` the number of grey levels.

* Fixed bin number (FBN, K15C): ``X_d = floor(N_g (X - X_min) / (X_max - X_min)) + 1``,
  with ``X_d = N_g`` at ``X = X_max``; ``X_min``/``X_max`` are the ROI extremes (never the
  re-segmentation range).
* Fixed bin size (FBS, Q3RU): ``X_d = floor((X - X_min) / w_b) + 1``, with ``X_min`` the
  lower bound of the re-segmentation range when one is set (the caller passes it as
  ``lower_bound``), otherwise the ROI minimum.
* ``"none"``: the intensities already are integer grey levels >= 1 (IBSI digital phantom).
"""

from __future__ import annotations

import numpy as np

from voxelomics.errors import EmptyRoiError, GeometryError, SettingsError

__all__ = ["discretise", "discretise_values", "METHODS"]

METHODS = ("fbn", "fbs", "none")

# Relative guard against floating-point noise in (X - X_min) / w, e.g. 0.3 / 0.1 =
# 2.9999999999999996 must fall in bin 4 (floor 3), as in exact arithmetic.
_FLOOR_GUARD = 1e-9


def _check_params(method, n_bins, bin_width, lower_bound):
    if method not in METHODS:
        raise SettingsError(f"unknown discretisation method {method!r} (valid: {', '.join(METHODS)})")
    if method == "fbn":
        if n_bins is None or int(n_bins) != n_bins or n_bins < 1:
            raise SettingsError(f"method 'fbn' needs an integer n_bins >= 1, got {n_bins!r}")
        if bin_width is not None or lower_bound is not None:
            raise SettingsError(
                "method 'fbn' uses the ROI range: bin_width and lower_bound must be None, "
                f"got bin_width={bin_width!r}, lower_bound={lower_bound!r}"
            )
    elif method == "fbs":
        if bin_width is None or not (np.isfinite(bin_width) and bin_width > 0):
            raise SettingsError(f"method 'fbs' needs a positive bin_width, got {bin_width!r}")
        if n_bins is not None:
            raise SettingsError(f"method 'fbs' takes no n_bins (got {n_bins!r}); set bin_width")
        if lower_bound is not None and not np.isfinite(lower_bound):
            raise SettingsError(f"lower_bound must be finite or None, got {lower_bound!r}")
    elif any(p is not None for p in (n_bins, bin_width, lower_bound)):
        raise SettingsError(
            "method 'none' takes no n_bins, bin_width or lower_bound; got "
            f"n_bins={n_bins!r}, bin_width={bin_width!r}, lower_bound={lower_bound!r}"
        )


def discretise_values(
    values: np.ndarray,
    *,
    method: str,
    n_bins: int | None = None,
    bin_width: float | None = None,
    lower_bound: float | None = None,
) -> tuple[np.ndarray, int]:
    """Discretise ROI intensities to grey levels 1 … N_g (IBSI: K15C, Q3RU).

    Parameters
    ----------
    values : ndarray of shape (n,)
        Intensities of the voxels in the intensity mask, in image units.
    method : {"fbn", "fbs", "none"}
        Fixed bin number, fixed bin size, or none (values are integer grey levels >= 1).
    n_bins : int or None, default=None
        Number of bins, for ``"fbn"``.
    bin_width : float or None, default=None
        Bin width ``w_b`` in image units, for ``"fbs"``.
    lower_bound : float or None, default=None
        ``X_min`` of ``"fbs"`` (the re-segmentation ``range_min``); ``None``: the ROI
        minimum.

    Returns
    -------
    levels : ndarray of int64, shape (n,)
        Grey levels, >= 1.
    n_levels : int
        ``N_g``: ``n_bins`` for FBN; for FBS, ``floor((max(X) - X_min) / w_b) + 1``, the
        highest grey level in the ROI; for ``"none"``, the highest grey level.

    Raises
    ------
    EmptyRoiError
        ``values`` is empty.
    SettingsError
        Parameters that do not fit the method, FBS intensities below ``lower_bound``, or
        ``"none"`` with non-integer or < 1 values.

    Notes
    -----
    A constant ROI under FBN (``X_max = X_min``, where the formula is 0/0) is mapped to
    grey level 1. "Constant" allows floating-point noise: a range below 1e-9 of the
    intensity scale (e.g. a constant image after interpolation) would otherwise be
    stretched over all ``N_g`` bins.
    """
    _check_params(method, n_bins, bin_width, lower_bound)
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise EmptyRoiError("cannot discretise an empty ROI; expected at least one voxel")
    if not np.all(np.isfinite(x)):
        raise SettingsError(f"the ROI holds {int(np.sum(~np.isfinite(x)))} non-finite intensities")
    x_min, x_max = float(x.min()), float(x.max())
    if method == "fbn":
        n_g = int(n_bins)
        if x_max - x_min <= 1e-9 * max(1.0, abs(x_min), abs(x_max)):
            return np.ones(x.size, dtype=np.int64), n_g
        q = n_g * (x - x_min) / (x_max - x_min)
        levels = np.floor(q + _FLOOR_GUARD * n_g).astype(np.int64) + 1
        levels = np.minimum(levels, n_g)  # X = X_max -> N_g
        return levels, n_g
    if method == "fbs":
        lb = x_min if lower_bound is None else float(lower_bound)
        if x_min < lb:
            raise SettingsError(
                f"fixed bin size: the ROI minimum {x_min:g} is below lower_bound {lb:g}; expected "
                "lower_bound <= every ROI intensity (use the re-segmentation range_min)"
            )
        q = (x - lb) / float(bin_width)
        levels = np.floor(q + _FLOOR_GUARD * np.maximum(1.0, q)).astype(np.int64) + 1
        return levels, int(levels.max())
    # "none"
    if np.any(x != np.round(x)) or x_min < 1:
        raise SettingsError(
            "discretisation 'none' needs integer grey levels >= 1; found values in "
            f"[{x_min:g}, {x_max:g}]" + ("" if np.all(x == np.round(x)) else " that are not integers")
        )
    levels = x.astype(np.int64)
    return levels, int(levels.max())


def discretise(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    method: str,
    n_bins: int | None = None,
    bin_width: float | None = None,
    lower_bound: float | None = None,
) -> tuple[np.ndarray, int]:
    """Discretise the intensities inside the intensity mask (IBSI: 4R0B).

    Parameters
    ----------
    image : ndarray of shape (z, y, x)
        Intensities in image units (HU, SUV, ...).
    mask : ndarray of bool, shape (z, y, x)
        Intensity mask (after re-segmentation).
    method : {"fbn", "fbs", "none"}
        Fixed bin number (K15C), fixed bin size (Q3RU), or none (the intensities are
        already integer grey levels >= 1).
    n_bins : int or None, default=None
        Number of bins ``N_g``, for ``"fbn"``.
    bin_width : float or None, default=None
        Bin width ``w_b`` in image units, for ``"fbs"``.
    lower_bound : float or None, default=None
        Lower edge of the first FBS bin, in image units; IBSI: the lower bound of the
        re-segmentation range when set. ``None``: the ROI minimum.

    Returns
    -------
    levels : ndarray of int64, shape (z, y, x)
        Grey levels ``1 … N_g`` inside ``mask``, 0 outside.
    n_levels : int
        ``N_g``, the number of grey levels the texture matrices must use (see
        :func:`discretise_values`).

    Raises
    ------
    EmptyRoiError
        The mask holds no voxel.
    GeometryError
        ``image`` and ``mask`` differ in shape or are not 3D.
    SettingsError
        Parameters that do not fit the method (e.g. ``"fbn"`` without ``n_bins``), FBS
        intensities below ``lower_bound``, or ``"none"`` on non-integer intensities.

    Examples
    --------
    >>> img = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    >>> levels, n_g = discretise(img, img > 0, method="fbn", n_bins=2)
    >>> levels.tolist(), n_g
    ([[[1, 1, 2, 2]]], 2)

    References
    ----------
    Zwanenburg A. et al., arXiv:1612.07003, section 2.7 (Intensity discretisation).
    """
    img = np.asarray(image)
    m = np.asarray(mask, dtype=bool)
    if img.ndim != 3 or img.shape != m.shape:
        raise GeometryError(
            f"image and mask must be 3D arrays of the same shape (z, y, x); got {img.shape} and {m.shape}"
        )
    _check_params(method, n_bins, bin_width, lower_bound)
    if not m.any():
        raise EmptyRoiError("the intensity mask holds no voxel; expected at least one to discretise")
    lv, n_g = discretise_values(img[m], method=method, n_bins=n_bins, bin_width=bin_width, lower_bound=lower_bound)
    out = np.zeros(img.shape, dtype=np.int64)
    out[m] = lv
    return out, n_g
