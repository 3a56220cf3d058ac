"""Honest, validated models from radiomic feature tables.

Modules (import what you need; nothing heavy is imported here, so that the CLI starts fast):

- :mod:`~voxelomics.model.tables`, :mod:`~voxelomics.model.columns`: read CSV/Parquet
  tables, join a clinical table, split features / outcome / batch / patient groups
  (:func:`~voxelomics.model.tables.prepare_data`).
- :mod:`~voxelomics.model.join`: several feature tables joined on the case (fusion), the
  volume column, the clinical-only inputs.
- :mod:`~voxelomics.model.splits`: the outer and inner folds every model uses
  (:func:`~voxelomics.model.splits.outer_folds`), grouped by patient.
- :mod:`~voxelomics.model.harmonise`: :class:`~voxelomics.model.harmonise.ComBat`
  (empirical-Bayes batch harmonisation fitted on training rows only).
- :mod:`~voxelomics.model.select`: correlation filter, univariate (ANOVA, Mann-Whitney,
  Cox score), mRMR and L1/elastic-net selection.
- :mod:`~voxelomics.model.stacking`: the default classifier, a super learner (convex
  stacking of a linear signature and two random forests on inner cross-validated
  predictions, weights shrunk towards equal, recalibrated).
- :mod:`~voxelomics.model.ensemble`: its linear member (one-SE rule) and the former
  default (mean of a linear signature and a random forest, recalibrated).
- :mod:`~voxelomics.model.estimators`: model pipelines and their hyper-parameter grids.
- :mod:`~voxelomics.model.baselines`: comparators (volume, clinical, batch, fixed pipelines).
- :mod:`~voxelomics.model.runner`: one outer fold, many folds in parallel, solver warnings.
- :mod:`~voxelomics.model.validation`: nested cross-validation and the permutation test.
- :mod:`~voxelomics.model.metrics`, :mod:`~voxelomics.model.survival`: metrics with
  bootstrap confidence intervals over patients and paired differences.
- :mod:`~voxelomics.model.safeguards`: selection stability, volume and batch surrogates,
  flags (Welch et al. 2019).
- :mod:`~voxelomics.model.results`: comparators' results and the result files.
- :mod:`~voxelomics.model.persist`: skops model files with a JSON sidecar.
- :mod:`~voxelomics.model.plots`: ROC, calibration, Kaplan-Meier, comparators and
  permutation-null figures.
- :mod:`~voxelomics.model.workflow`, :mod:`~voxelomics.model.external`: the ``cv``, ``fit``,
  ``predict`` and ``validate`` workflows; :mod:`~voxelomics.model.cli` exposes them as
  ``voxelomics model``.
"""
