"""Honest, validated models from radiomic feature tables.

Modules (import what you need; nothing heavy is imported here, so that the CLI starts fast):

- :mod:`~voxelomics.model.tables`: read CSV/Parquet tables, join a clinical table, split
  features / outcome / batch (:func:`~voxelomics.model.tables.prepare_data`).
- :mod:`~voxelomics.model.harmonise`: :class:`~voxelomics.model.harmonise.ComBat`
  (empirical-Bayes batch harmonisation fitted on training rows only).
- :mod:`~voxelomics.model.select`: correlation filter, univariate (ANOVA, Mann-Whitney),
  mRMR and L1/elastic-net selection.
- :mod:`~voxelomics.model.estimators`: model pipelines and their hyper-parameter grids
  (elastic-net LR, SVM, random forest, gradient boosting; Cox elastic-net, random
  survival forest).
- :mod:`~voxelomics.model.validation`: nested cross-validation and the permutation test.
- :mod:`~voxelomics.model.metrics`, :mod:`~voxelomics.model.survival`: metrics with
  bootstrap confidence intervals.
- :mod:`~voxelomics.model.persist`: skops model files with a JSON sidecar.
- :mod:`~voxelomics.model.plots`: ROC, calibration and Kaplan-Meier figures.
- :mod:`~voxelomics.model.workflow`: the ``cv``, ``fit``, ``predict`` and ``validate``
  workflows; :mod:`~voxelomics.model.cli` exposes them as ``voxelomics model``.
"""
