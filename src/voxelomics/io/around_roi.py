"""Read only the part of a NIfTI image around the ROI (a speed-up of extraction).

Used by :mod:`voxelomics.extract.read_overlap` for label-map cases: the mask is read first, then
only the crop box of the image (ROI bounding box plus the crop margin), which SimpleITK
decodes no further than needed for NIfTI. The result equals reading the whole image and
cropping with :func:`~voxelomics.preprocess.crop_to_roi` (``tests/unit/io/test_read_around_roi.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voxelomics.io.images import _suffix
from voxelomics.io.nifti import nifti_data_problem
from voxelomics.volume import RoiMask, Volume, from_sitk

__all__ = ["readable_around_roi", "read_image_around_roi"]


def readable_around_roi(path: str | Path) -> bool:
    """Whether :func:`read_image_around_roi` may apply to this image path (a NIfTI file).

    Lets callers skip reading the mask first when the image will be read whole anyway.

    Parameters
    ----------
    path : str or Path
        Image path.

    Returns
    -------
    bool
        True for an existing ``.nii`` / ``.nii.gz`` file.
    """
    path = Path(path)
    return _suffix(path) in (".nii", ".nii.gz") and path.is_file()


def read_image_around_roi(
    path: str | Path, mask: RoiMask, *, margin_mm: float, modality: str | None = None,
) -> tuple[Volume, RoiMask] | None:
    """Read only the part of an image file around the ROI, when that is exactly equivalent.

    A shortcut of ``read_image`` + ``align_mask`` + :func:`~voxelomics.preprocess.crop_to_roi`
    for a NIfTI file whose grid equals the mask's exactly: the file header is read, then only
    the crop box (ROI bounding box plus ``margin_mm``) is requested from SimpleITK, which
    decodes NIfTI no further than the box (about half the reading time and memory of the CT
    phantom). NRRD is always read whole by SimpleITK and a truncated MetaImage file can
    stream a box from the part that is present, so both take the ordinary path. The result
    equals the cropped
    output of the ordinary path voxel for voxel, with the same origin and the whole file's
    grid in ``metadata["parent_grid"]`` (IBSI grid alignment is unchanged).

    Parameters
    ----------
    path : str or Path
        Image file.
    mask : RoiMask
        ROI read from its own file (any grid).
    margin_mm : float
        Crop margin (mm), as given to :func:`~voxelomics.preprocess.crop_to_roi`.
    modality : str or None, default=None
        Modality recorded on the volume.

    Returns
    -------
    (Volume, RoiMask) or None
        The cropped image (array (z, y, x) in the file's type) and the mask cropped alike;
        None whenever the shortcut does not apply (not a NIfTI 3-D scalar file of several
        slices, unreadable header or data, truncated file, grids not exactly equal, empty
        ROI, non-finite margin). The caller then takes the ordinary path, which reports any
        problem with its usual message.
    """
    import SimpleITK as sitk

    from voxelomics.preprocess.roi import PARENT_GRID_KEY, crop_box
    from voxelomics.volume import Grid

    path = Path(path)
    if not readable_around_roi(path) or not np.isfinite(margin_mm):
        return None
    if nifti_data_problem(path):
        return None  # the ordinary path reports it
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        return None
    if reader.GetDimension() != 3 or reader.GetNumberOfComponents() != 1 or reader.GetSize()[2] < 2:
        return None  # 2-D or one-slice files warn on the ordinary path
    full = Grid(tuple(reader.GetSize())[::-1], tuple(reader.GetSpacing())[::-1], tuple(reader.GetOrigin()),
                np.asarray(reader.GetDirection(), dtype=float).reshape(3, 3))
    if not (tuple(full.shape) == tuple(mask.array.shape) and np.array_equal(full.spacing_mm, mask.spacing_mm)
            and np.array_equal(full.origin_mm, mask.origin_mm) and np.array_equal(full.direction, mask.direction)):
        return None
    if not mask.array.any():
        return None
    crop = crop_box(mask.array, full.spacing_mm, margin_mm)
    reader.SetExtractIndex([c.start for c in crop][::-1])
    reader.SetExtractSize([c.stop - c.start for c in crop][::-1])
    try:
        img = reader.Execute()
    except RuntimeError:
        return None
    origin = tuple(float(v) for v in full.index_to_physical(np.array([[c.start for c in crop]], dtype=float))[0])
    volume = from_sitk(img, modality=modality, source=str(path), metadata={PARENT_GRID_KEY: full})
    volume = volume.with_array(volume.array, origin_mm=origin)  # as crop_to_roi computes it
    return volume, mask.with_array(np.ascontiguousarray(mask.array[crop]), origin_mm=origin)
