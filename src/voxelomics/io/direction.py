"""Direction cosines read from files: orthonormal, or made so within a stated tolerance.

A voxel grid's direction matrix must be orthonormal: its columns are the unit vectors of
the index axes and they are perpendicular. Converters often store them in single
precision (the NIfTI ``srow`` rows are float32) or from rounded DICOM
``ImageOrientationPatient`` values, so a file's axes can be perpendicular only to about
1e-7–1e-4. SimpleITK refuses a NIfTI file beyond about 1e-4 ("ITK only supports
orthonormal direction cosines") and passes the slightly skewed matrix through below it.

Rule (decision), applied to every image and label map read from a file
(:func:`voxelomics.io.read_image`, :func:`voxelomics.io.read_mask`):

* the deviation is ``max |C^T C - I|`` over the matrix ``C`` of the axis directions
  normalised to unit length: the cosine of the angle between two axes, or a length error;
* at most :data:`SILENT_DEVIATION` (1e-6, single-precision rounding): re-orthonormalised
  silently;
* at most :data:`DIRECTION_TOLERANCE` (1e-3, axes perpendicular to within 0.057°):
  re-orthonormalised with a :class:`~voxelomics.errors.GeometryWarning` that gives the
  deviation; the correction moves a voxel by at most ``1e-3`` of its distance from the
  origin voxel (0.5 mm at 500 mm);
* beyond: :class:`~voxelomics.errors.GeometryError`, a sheared grid (e.g. a CT series
  reconstructed with gantry tilt) that voxelomics does not resample implicitly.

The orthonormal matrix is the nearest one in the Frobenius norm (the polar factor
``U V^T`` of the singular value decomposition ``C = U S V^T``), which treats the three axes
alike.
"""

from __future__ import annotations

import warnings

import numpy as np

from voxelomics.errors import GeometryError, GeometryWarning

__all__ = ["DIRECTION_TOLERANCE", "SILENT_DEVIATION", "direction_deviation", "orthonormal_direction"]

#: Largest accepted deviation from orthonormality (cosine of the angle error between axes).
DIRECTION_TOLERANCE = 1e-3
#: Deviations up to this (single-precision rounding) are corrected without a warning.
SILENT_DEVIATION = 1e-6


def direction_deviation(direction) -> float:
    """Deviation of a direction matrix from orthonormality.

    Parameters
    ----------
    direction : array-like of shape (3, 3) or (9,)
        ITK direction cosines (column ``k``: direction of index axis ``k``, x, y, z).

    Returns
    -------
    float
        ``max |C^T C - I|`` with ``C`` the columns scaled to unit length (the cosine of the
        largest angle error between two axes); ``inf`` for a singular matrix.

    Examples
    --------
    >>> direction_deviation(np.eye(3))
    0.0
    """
    d = np.asarray(direction, dtype=float).reshape(3, 3)
    norms = np.linalg.norm(d, axis=0)
    if not np.all(np.isfinite(d)) or np.any(norms == 0):
        return float("inf")
    c = d / norms
    return float(np.max(np.abs(c.T @ c - np.eye(3))))


def orthonormal_direction(direction, *, path=None) -> np.ndarray:
    """The orthonormal direction matrix nearest to ``direction``, within the tolerance.

    Parameters
    ----------
    direction : array-like of shape (3, 3) or (9,)
        ITK direction cosines read from a file.
    path : str or Path or None, default=None
        The file, named in the warning and the error.

    Returns
    -------
    ndarray of shape (3, 3)
        ``direction`` itself (as float) when it is orthonormal to machine precision,
        otherwise the polar factor of its unit-length columns (see the module docstring).

    Warns
    -----
    GeometryWarning
        The deviation is above :data:`SILENT_DEVIATION` and within
        :data:`DIRECTION_TOLERANCE`: the axes were re-orthonormalised.

    Raises
    ------
    GeometryError
        The deviation is above :data:`DIRECTION_TOLERANCE` (a sheared or degenerate grid);
        the message gives the deviation and the largest angle error in degrees.
    """
    d = np.asarray(direction, dtype=float).reshape(3, 3)
    dev = direction_deviation(d)
    if dev <= 1e-12:
        return d
    where = f"{path}: " if path is not None else ""
    if not dev <= DIRECTION_TOLERANCE:
        angle = "" if not np.isfinite(dev) else f" (axes {np.degrees(np.arcsin(min(dev, 1.0))):.3g}° from perpendicular)"
        raise GeometryError(
            f"the direction cosines are not orthonormal: deviation {dev:.3g}{angle}, beyond the "
            f"accepted {DIRECTION_TOLERANCE:g} (rounding of the stored matrix); the grid is "
            "sheared (e.g. a CT reconstructed with gantry tilt): resample it onto an orthogonal "
            "grid first", path=path)
    u, _, vt = np.linalg.svd(d / np.linalg.norm(d, axis=0))
    q = u @ vt
    if dev > SILENT_DEVIATION:
        warnings.warn(
            f"{where}direction cosines orthonormal only to {dev:.2g} (within the accepted "
            f"{DIRECTION_TOLERANCE:g}, the rounding a converter may leave in the stored matrix); "
            "re-orthonormalised (nearest orthonormal matrix)", GeometryWarning, stacklevel=2)
    return q
