"""Images and regions of interest on a physical grid.

Axis convention, used everywhere inside voxelomics:

* ``array`` is indexed ``(z, y, x)``: slice, row, column.
* ``spacing_mm`` is ``(z, y, x)``, matching the array axes, in mm.
* ``origin_mm`` is the patient-space position (LPS, mm) of voxel ``(0, 0, 0)``,
  given as the point ``(x, y, z)``.
* ``direction`` is the 3×3 ITK direction-cosine matrix: column ``k`` is the unit
  patient-space vector of index axis ``k`` in ITK order (``i`` = x, ``j`` = y, ``k`` = z).

This module is the only place that converts between SimpleITK (x, y, z) and
numpy (z, y, x) order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from voxelomics.errors import GeometryError

__all__ = ["Volume", "RoiMask", "Grid", "from_sitk", "to_sitk", "mask_from_sitk"]


@dataclass(frozen=True)
class Grid:
    """Geometry of a voxel grid.

    Parameters
    ----------
    shape : tuple of int
        Number of voxels ``(z, y, x)``.
    spacing_mm : tuple of float
        Voxel size ``(z, y, x)`` in mm.
    origin_mm : tuple of float
        Patient position (LPS, mm) of the centre of voxel ``(0, 0, 0)``, as ``(x, y, z)``.
    direction : ndarray of shape (3, 3)
        ITK direction cosines; column ``k`` is the direction of index axis ``k`` (x, y, z).
    """

    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float]
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))

    def index_to_physical(self, index_zyx: np.ndarray) -> np.ndarray:
        """Convert voxel indices to patient coordinates.

        Parameters
        ----------
        index_zyx : ndarray of shape (n, 3)
            Voxel indices in (z, y, x) order (may be fractional).

        Returns
        -------
        ndarray of shape (n, 3)
            Patient coordinates (x, y, z) in mm.
        """
        idx = np.asarray(index_zyx, dtype=float)[:, ::-1]  # -> (i, j, k) = (x, y, z)
        spacing_xyz = np.asarray(self.spacing_mm, dtype=float)[::-1]
        return np.asarray(self.origin_mm) + (idx * spacing_xyz) @ np.asarray(self.direction).T

    def physical_to_index(self, points_xyz: np.ndarray) -> np.ndarray:
        """Convert patient coordinates to fractional voxel indices.

        Parameters
        ----------
        points_xyz : ndarray of shape (n, 3)
            Patient coordinates (x, y, z) in mm.

        Returns
        -------
        ndarray of shape (n, 3)
            Fractional voxel indices in (z, y, x) order.
        """
        spacing_xyz = np.asarray(self.spacing_mm, dtype=float)[::-1]
        rel = np.asarray(points_xyz, dtype=float) - np.asarray(self.origin_mm)
        ijk = (rel @ np.asarray(self.direction)) / spacing_xyz
        return ijk[:, ::-1]

    def compare(self, other: Grid, *, tolerance_voxels: float = 1e-3) -> tuple[bool, str]:
        """Compare two grids in physical units.

        Parameters
        ----------
        other : Grid
            The grid to compare with (e.g. the mask grid).
        tolerance_voxels : float, default=1e-3
            Largest accepted difference, as a fraction of a voxel of ``self``.

        Returns
        -------
        same : bool
            True when every difference is below the tolerance.
        description : str
            Human-readable description of the differences (empty when the same).
        """
        problems = []
        if tuple(self.shape) != tuple(other.shape):
            problems.append(f"size (z, y, x) {tuple(other.shape)} != image {tuple(self.shape)}")
        sp = np.asarray(self.spacing_mm, float)
        osp = np.asarray(other.spacing_mm, float)
        if np.any(np.abs(sp - osp) > tolerance_voxels * sp):
            problems.append(
                f"spacing (z, y, x) {tuple(round(float(v), 6) for v in osp)} mm != image "
                f"{tuple(round(float(v), 6) for v in sp)} mm"
            )
        dmax = float(np.max(np.abs(np.asarray(self.direction) - np.asarray(other.direction))))
        if dmax > 1e-4:
            problems.append(f"direction cosines differ by up to {dmax:.2g}")
        off_xyz = np.asarray(other.origin_mm, float) - np.asarray(self.origin_mm, float)
        off_vox_zyx = (off_xyz @ np.asarray(self.direction))[::-1] / sp
        if np.any(np.abs(off_vox_zyx) > tolerance_voxels):
            problems.append(
                "origin offset (x, y, z) = ({:.4g}, {:.4g}, {:.4g}) mm = ({:.4g}, {:.4g}, {:.4g}) voxels "
                "along (x, y, z)".format(*off_xyz, *off_vox_zyx[::-1])
            )
        return (not problems, "; ".join(problems))


def _grid_of(obj: Any) -> Grid:
    return Grid(tuple(obj.array.shape), obj.spacing_mm, obj.origin_mm, obj.direction)


@dataclass(frozen=True, repr=False)
class Volume:
    """A 3D image on a physical grid.

    Parameters
    ----------
    array : ndarray of shape (z, y, x)
        Intensities in image units (HU for CT, SUV for PET when converted, arbitrary for MR).
    spacing_mm : tuple of float
        Voxel size ``(z, y, x)`` in mm.
    origin_mm : tuple of float, default=(0, 0, 0)
        Patient position (LPS, mm) of voxel ``(0, 0, 0)``, as ``(x, y, z)``.
    direction : ndarray of shape (3, 3), default=identity
        ITK direction cosines (columns = index axes x, y, z).
    modality : str or None, default=None
        DICOM modality (``"CT"``, ``"PT"``, ``"MR"``) when known.
    source : str or None, default=None
        File or folder the image was read from.
    metadata : dict, default={}
        Provenance, e.g. the SUV conversion and its assumptions.
    """

    array: np.ndarray
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    modality: str | None = None
    source: str | None = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        if np.asarray(self.array).ndim != 3:
            raise GeometryError(
                f"a Volume must be 3D (z, y, x); got an array of shape {np.shape(self.array)}",
                path=self.source,
            )
        object.__setattr__(self, "spacing_mm", tuple(float(s) for s in self.spacing_mm))
        object.__setattr__(self, "origin_mm", tuple(float(s) for s in self.origin_mm))
        object.__setattr__(self, "direction", np.asarray(self.direction, dtype=float).reshape(3, 3))
        if any(s <= 0 for s in self.spacing_mm):
            raise GeometryError(f"spacing must be positive, got {self.spacing_mm} mm", path=self.source)

    @property
    def grid(self) -> Grid:
        """Geometry of this volume."""
        return _grid_of(self)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape ``(z, y, x)``."""
        return tuple(self.array.shape)

    def with_array(self, array: np.ndarray, **changes) -> Volume:
        """Return a copy with another array (and optionally other fields)."""
        return replace(self, array=array, **changes)

    def __repr__(self) -> str:
        return (
            f"Volume(shape(z,y,x)={self.shape}, spacing_mm(z,y,x)={tuple(round(s, 4) for s in self.spacing_mm)}, "
            f"modality={self.modality!r}, dtype={self.array.dtype}, source={self.source!r})"
        )


@dataclass(frozen=True, repr=False)
class RoiMask:
    """A binary region of interest on a physical grid.

    Parameters
    ----------
    array : ndarray of bool, shape (z, y, x)
        True inside the ROI.
    spacing_mm, origin_mm, direction
        Geometry, as in :class:`Volume`.
    label : int or None, default=None
        Label value selected from a label map, when any.
    name : str or None, default=None
        ROI name (RTSTRUCT ROI name or SEG segment label), when any.
    source : str or None, default=None
        File the mask was read from.
    metadata : dict, default={}
        Provenance notes, e.g. ``"reoriented"`` when the file's axes were flipped or
        permuted onto the image grid (:func:`voxelomics.io.align_mask`).
    """

    array: np.ndarray
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    label: int | None = None
    name: str | None = None
    source: str | None = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        arr = np.asarray(self.array)
        if arr.ndim != 3:
            raise GeometryError(
                f"a RoiMask must be 3D (z, y, x); got an array of shape {arr.shape}", path=self.source
            )
        object.__setattr__(self, "array", arr.astype(bool, copy=False))
        object.__setattr__(self, "spacing_mm", tuple(float(s) for s in self.spacing_mm))
        object.__setattr__(self, "origin_mm", tuple(float(s) for s in self.origin_mm))
        object.__setattr__(self, "direction", np.asarray(self.direction, dtype=float).reshape(3, 3))

    @property
    def grid(self) -> Grid:
        """Geometry of this mask."""
        return _grid_of(self)

    @property
    def n_voxels(self) -> int:
        """Number of voxels in the ROI."""
        return int(np.count_nonzero(self.array))

    def with_array(self, array: np.ndarray, **changes) -> RoiMask:
        """Return a copy with another array (and optionally other fields)."""
        return replace(self, array=array, **changes)

    def __repr__(self) -> str:
        return (
            f"RoiMask(shape(z,y,x)={tuple(self.array.shape)}, n_voxels={self.n_voxels}, "
            f"label={self.label!r}, name={self.name!r}, source={self.source!r})"
        )


def _sitk_geometry(img) -> dict:
    spacing = tuple(img.GetSpacing())[::-1]
    origin = tuple(img.GetOrigin())
    direction = np.asarray(img.GetDirection(), dtype=float).reshape(3, 3)
    return {"spacing_mm": spacing, "origin_mm": origin, "direction": direction}


def from_sitk(img, *, modality: str | None = None, source: str | None = None, metadata=None) -> Volume:
    """Convert a 3D SimpleITK image to a :class:`Volume`.

    Parameters
    ----------
    img : SimpleITK.Image
        A 3D scalar image (x, y, z order in SimpleITK).
    modality, source, metadata
        Passed to :class:`Volume`.

    Returns
    -------
    Volume
        Array in (z, y, x) order with matching spacing.

    Raises
    ------
    GeometryError
        If the image is not 3D.
    """
    import SimpleITK as sitk

    if img.GetDimension() != 3:
        raise GeometryError(f"expected a 3D image, got {img.GetDimension()}D", path=source)
    arr = sitk.GetArrayFromImage(img)
    return Volume(arr, modality=modality, source=source, metadata=dict(metadata or {}), **_sitk_geometry(img))


def mask_from_sitk(img, *, label=None, name=None, source=None, array=None) -> RoiMask:
    """Convert a 3D SimpleITK image to a :class:`RoiMask` (``array`` overrides the voxel values).

    Parameters
    ----------
    img : SimpleITK.Image
        3D image giving the geometry (and the voxels, unless ``array`` is given).
    label : int or None
        Label value recorded on the mask.
    name : str or None
        ROI name recorded on the mask.
    source : str or None
        File the mask came from.
    array : ndarray of shape (z, y, x) or None
        Boolean voxels to use instead of ``img``'s values.

    Returns
    -------
    RoiMask
    """
    import SimpleITK as sitk

    arr = sitk.GetArrayFromImage(img) if array is None else array
    return RoiMask(arr, label=label, name=name, source=source, **_sitk_geometry(img))


def to_sitk(obj: Volume | RoiMask):
    """Convert a :class:`Volume` or :class:`RoiMask` to a SimpleITK image.

    Parameters
    ----------
    obj : Volume or RoiMask

    Returns
    -------
    SimpleITK.Image
        With spacing, origin and direction set (x, y, z order). Masks become uint8.
    """
    import SimpleITK as sitk

    arr = obj.array.astype(np.uint8) if isinstance(obj, RoiMask) else obj.array
    img = sitk.GetImageFromArray(np.ascontiguousarray(arr))
    img.SetSpacing(tuple(float(s) for s in obj.spacing_mm[::-1]))
    img.SetOrigin(tuple(float(s) for s in obj.origin_mm))
    img.SetDirection(tuple(float(v) for v in np.asarray(obj.direction).ravel()))
    return img
