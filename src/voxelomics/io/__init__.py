"""Reading images, masks and cohort manifests: the only package of voxelomics that touches files.

Images (NIfTI, NRRD, MetaImage, DICOM series with per-slice rescale and PET SUV) become
:class:`~voxelomics.volume.Volume`; label maps, RTSTRUCT ROIs and SEG segments become
:class:`~voxelomics.volume.RoiMask` on the image grid.
"""

from voxelomics.io.dicom import SeriesInfo, list_series, read_dicom_series
from voxelomics.io.images import align_mask, load_case, read_image, read_mask
from voxelomics.io.index import index_dicom
from voxelomics.io.manifest import Case, read_manifest, write_manifest
from voxelomics.io.rtstruct import rtstruct_roi_names, rtstruct_to_mask
from voxelomics.io.seg import seg_segments, seg_to_mask
from voxelomics.io.suv import suv_factor

__all__ = [
    "read_image",
    "read_mask",
    "align_mask",
    "load_case",
    "read_dicom_series",
    "list_series",
    "SeriesInfo",
    "suv_factor",
    "rtstruct_to_mask",
    "rtstruct_roi_names",
    "seg_to_mask",
    "seg_segments",
    "Case",
    "read_manifest",
    "write_manifest",
    "index_dicom",
]
