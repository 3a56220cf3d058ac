"""A whole study in one file: ``voxelomics run study.yaml``.

- :mod:`~voxelomics.study.spec`: the study file's sections, validated with pydantic
  (unknown keys refused with a "did you mean"), :func:`load_study`, :func:`example_study`;
- :mod:`~voxelomics.study.checks`: :func:`check_study` refuses a study whose files or
  columns are missing before any work starts;
- :mod:`~voxelomics.study.runner`: :func:`run_study` runs cohort -> extraction -> QC ->
  models -> report through the public functions of the separate commands, skipping
  unchanged steps, and writes ``run_log.json``.

``docs/run_and_report.md`` documents the file, the steps and the outputs.
"""

from voxelomics.study.checks import check_study
from voxelomics.study.runner import StepRecord, StudyResult, run_study
from voxelomics.study.spec import Study, example_study, load_study

__all__ = ["Study", "load_study", "check_study", "run_study", "StudyResult", "StepRecord",
           "example_study"]
