"""The report a clinician reads: one self-contained HTML page from a results folder.

- :mod:`~voxelomics.report.figures`: pure functions from tables and arrays to matplotlib
  figures (ROC with CI band, calibration, decision curve, Kaplan-Meier with numbers at risk,
  metrics with CIs, correlation clustermap, distributions, QC overlays of contours);
- :mod:`~voxelomics.report.qc`: per-case QC measurements, flags and thumbnails (images read
  through :mod:`voxelomics.io`), cached in ``RESULTS/qc``;
- :mod:`~voxelomics.report.results`: what a results folder holds;
- :mod:`~voxelomics.report.sections` and :mod:`~voxelomics.report.html`: the page
  (:func:`write_report`, used by ``voxelomics report`` and ``voxelomics run``).

Nothing heavy is imported here, so that the command line starts fast.
"""

from __future__ import annotations

__all__ = ["build_report", "write_report"]


def __getattr__(name: str):
    if name in __all__:
        from voxelomics.report import html

        return getattr(html, name)
    raise AttributeError(f"module 'voxelomics.report' has no attribute {name!r}")
