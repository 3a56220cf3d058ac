"""IBSI image processing: ROI cropping, interpolation, re-segmentation, discretisation.

Plain functions on :class:`~voxelomics.volume.Volume` / :class:`~voxelomics.volume.RoiMask`
or on (z, y, x) arrays; :mod:`voxelomics.extract` orders them for one case.
"""

from voxelomics.preprocess.discretise import discretise, discretise_values
from voxelomics.preprocess.resample import aligned_grid_positions, resample
from voxelomics.preprocess.resegment import resegment, resegmentation_range
from voxelomics.preprocess.roi import bounding_box, crop_to_roi

__all__ = [
    "bounding_box",
    "crop_to_roi",
    "resample",
    "aligned_grid_positions",
    "resegment",
    "resegmentation_range",
    "discretise",
    "discretise_values",
]
