"""Grey levels laid out for the compiled counting kernels (:mod:`voxelomics.features._kernels`).

Private to :mod:`voxelomics.features`. GLCM, GLRLM, NGTDM and NGLDM count over the ROI
voxels and their neighbours. :func:`level_grid` lays the grey levels out once for them: the
ROI bounding box, padded with zeros (so that a neighbour step never leaves the array or wraps
to another row, and "outside the ROI" ends every run and neighbourhood), in the smallest
unsigned integer type that holds ``N_g`` (1 byte per voxel for up to 255 grey levels), and
the flat indices of the ROI voxels.

Arrays are (z, y, x).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxelomics.features._directional import bounding_box

__all__ = ["LevelGrid", "level_grid", "level_dtype", "kernels"]


def kernels():
    """The compiled kernel module, with a clear error when it was not built.

    Returns
    -------
    module
        :mod:`voxelomics.features._kernels`.

    Raises
    ------
    ImportError
        The extension is missing (a source checkout used without ``make install``).
    """
    try:
        from voxelomics.features import _kernels
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            "voxelomics' compiled texture kernels (voxelomics/features/_kernels.pyx) are not "
            "built in this checkout: run `make install` (or `python setup.py build_ext "
            "--inplace` with Cython installed)"
        ) from exc
    return _kernels


def level_dtype(n_levels: int) -> np.dtype:
    """Smallest unsigned integer type holding grey levels ``0..n_levels``.

    Parameters
    ----------
    n_levels : int

    Returns
    -------
    numpy.dtype
        uint8, uint16 or uint32.

    Raises
    ------
    ValueError
        ``n_levels`` of 2**32 or more (no texture matrix of that size fits in memory).
    """
    for dtype in (np.uint8, np.uint16, np.uint32):
        if n_levels <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise ValueError(f"{n_levels} grey levels do not fit in 32 bits")


@dataclass(frozen=True, eq=False)
class LevelGrid:
    """Padded grey levels of the ROI box and the flat indices of the ROI voxels.

    Attributes
    ----------
    flat : ndarray of uint8, uint16 or uint32, shape (n,)
        Grey levels of the ROI bounding box padded by ``margin`` zeros on every side,
        raveled in C order; 0 outside the ROI.
    roi : ndarray of int64, shape (n_roi,)
        Flat indices of the ROI voxels, increasing (C order of the voxels).
    shape : tuple of int
        Padded shape (z, y, x).
    margin : int
        Zeros on every side.
    """

    flat: np.ndarray
    roi: np.ndarray
    shape: tuple[int, int, int]
    margin: int

    @property
    def box_shape(self) -> tuple[int, int, int]:
        """Shape (z, y, x) of the ROI bounding box (without the margin)."""
        return tuple(n - 2 * self.margin for n in self.shape)  # type: ignore[return-value]

    def steps(self, offsets: np.ndarray) -> np.ndarray:
        """Flat steps of neighbour offsets.

        Parameters
        ----------
        offsets : ndarray of int, shape (n, 3)
            ``(dz, dy, dx)``, each component at most ``margin`` in absolute value.

        Returns
        -------
        ndarray of int64, shape (n,)
        """
        strides = np.array([self.shape[1] * self.shape[2], self.shape[2], 1], dtype=np.int64)
        return np.ascontiguousarray(np.asarray(offsets, dtype=np.int64) @ strides)

    def slice_index(self) -> np.ndarray:
        """Slice of each ROI voxel, ``0..box_shape[0] - 1``.

        Returns
        -------
        ndarray of int64, shape (n_roi,)
        """
        return self.roi // (self.shape[1] * self.shape[2]) - self.margin

    def levels(self) -> np.ndarray:
        """Grey level of each ROI voxel, in the order of :attr:`roi`.

        Returns
        -------
        ndarray of int64, shape (n_roi,)
        """
        return self.flat[self.roi].astype(np.int64)


def level_grid(levels: np.ndarray, mask: np.ndarray, n_levels: int, *, margin: int) -> LevelGrid:
    """Lay out validated grey levels for the kernels.

    Parameters
    ----------
    levels : ndarray of int, shape (z, y, x)
        Grey levels ``1..n_levels`` inside ``mask`` and 0 outside (as returned by
        :func:`voxelomics.features._zones.check_inputs`).
    mask : ndarray of bool, shape (z, y, x)
        Non-empty ROI mask.
    n_levels : int
        :math:`N_g`.
    margin : int
        Zeros added on every side (at least the largest neighbour offset, and 1).

    Returns
    -------
    LevelGrid
    """
    box = bounding_box(mask)
    core = levels[box]
    padded = np.zeros(tuple(n + 2 * margin for n in core.shape), dtype=level_dtype(n_levels))
    padded[tuple(slice(margin, margin + n) for n in core.shape)] = core
    flat = padded.ravel()
    return LevelGrid(flat, np.flatnonzero(flat), padded.shape, margin)
