"""One case, from files to a feature row (see :mod:`voxelomics.extract.pipeline`).

Modules: :mod:`.pipeline` (``extract_features``, ``extract_case``: the one place that orders
the steps), :mod:`.case` (preprocessing and the crop margin), :mod:`.families` (which
families run, in which threads), :mod:`.naming` (column names), :mod:`.read_overlap`
(reading the image around the ROI while the mask-only morphology runs).
"""

from voxelomics.extract.case import PreprocessedCase, preprocess_case
from voxelomics.extract.families import compute_features
from voxelomics.extract.naming import rename
from voxelomics.extract.pipeline import extract_case, extract_features

__all__ = [
    "extract_features",
    "extract_case",
    "preprocess_case",
    "PreprocessedCase",
    "compute_features",
    "rename",
]
