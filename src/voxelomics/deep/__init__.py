"""Deep learning on 3-D scans (PyTorch and MONAI; the ``deep`` extra).

The same manifest and readers as ``voxelomics extract`` (:mod:`voxelomics.deep.data`), small and
MONAI networks (:mod:`~voxelomics.deep.nets`), a reproducible training loop
(:mod:`~voxelomics.deep.train`), cross-validation on the outer folds and with the metrics of
``voxelomics model cv`` (:mod:`~voxelomics.deep.workflow`), size baselines, radiomic and fused
comparators (:mod:`~voxelomics.deep.compare`), deep features joinable with the radiomic table
(:mod:`~voxelomics.deep.features`) and saliency maps (:mod:`~voxelomics.deep.saliency`).

Importing this package does not import torch; its modules that need torch import it. See
``docs/deep.md``.

>>> from voxelomics.deep import run_cv, load_deep_settings        # doctest: +SKIP
>>> s = load_deep_settings(None, crop__beyond_image="pad")         # doctest: +SKIP
>>> m = run_cv("manifest.csv", s, "cv", target="malignant", baselines=["diameter_mm"])  # doctest: +SKIP
"""

from __future__ import annotations

__all__ = ["load_deep_settings", "DeepSettings", "run_cv", "train_model", "predict_manifest",
           "deep_features", "explain_cases"]


def __getattr__(name: str):
    if name in ("load_deep_settings", "DeepSettings"):
        from voxelomics.deep import config

        return getattr(config, name)
    if name in ("run_cv", "train_model", "predict_manifest"):
        from voxelomics.deep import workflow

        return getattr(workflow, name)
    if name == "deep_features":
        from voxelomics.deep.features import deep_features

        return deep_features
    if name == "explain_cases":
        from voxelomics.deep.saliency import explain_cases

        return explain_cases
    raise AttributeError(f"module 'voxelomics.deep' has no attribute {name!r}")
