"""Run a cohort: every case of a manifest, on local cores or a Dask cluster, resumably.

>>> from voxelomics.cohort import extract_cohort            # doctest: +SKIP
>>> result = extract_cohort("manifest.csv", out="out")      # doctest: +SKIP
>>> result.n_done, result.n_failed, result.n_reused         # doctest: +SKIP

See :func:`extract_cohort` and ``docs/cohorts.md``.
"""

from voxelomics.cohort.cache import case_key
from voxelomics.cohort.outputs import read_provenance
from voxelomics.cohort.runner import CohortInterrupted, CohortResult, extract_cohort

__all__ = ["extract_cohort", "CohortResult", "CohortInterrupted", "case_key", "read_provenance"]
