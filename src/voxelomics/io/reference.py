"""Bundled IBSI reference data: where it lives and how to read it.

The repository ships the IBSI-1 phantoms and reference tables under ``data/ibsi1``
(see ``data/README.md`` for provenance and licences). ``VOXELOMICS_DATA`` overrides
the location (e.g. for a wheel installed without the repository).
"""

from __future__ import annotations

import os
from pathlib import Path

from voxelomics.errors import InputError

__all__ = ["bundled_data_dir", "ibsi1_dir", "read_ibsi1_reference", "read_ibsi1_diagnostics"]


def bundled_data_dir() -> Path:
    """Folder of the bundled data (``data/`` at the repository root).

    Returns
    -------
    Path

    Raises
    ------
    InputError
        The folder cannot be found (set ``VOXELOMICS_DATA``).
    """
    env = os.environ.get("VOXELOMICS_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[3] / "data")
    for cand in candidates:
        if (cand / "ibsi1").is_dir():
            return cand
    raise InputError(
        "bundled data folder not found; run from a repository checkout or set VOXELOMICS_DATA",
        path=candidates[-1],
    )


def ibsi1_dir() -> Path:
    """Folder of the bundled IBSI-1 phantoms and tables.

    Returns
    -------
    Path
        ``data/ibsi1`` under :func:`bundled_data_dir`.

    Raises
    ------
    InputError
        The bundled data folder cannot be found.
    """
    return bundled_data_dir() / "ibsi1"


def read_ibsi1_reference(*, with_value_only: bool = True):
    """Read the IBSI-1 reference table.

    Parameters
    ----------
    with_value_only : bool, default=True
        Drop the rows that have no reference value.

    Returns
    -------
    pandas.DataFrame
        Columns ``family, family_code, feature, ibsi_code, ibsi_instance_code, tag, config,
        aggregation, aggregation_code, value, tolerance, consensus, has_reference, note``.
    """
    import pandas as pd

    path = ibsi1_dir() / "ibsi1_reference_values.csv"
    if not path.is_file():
        raise InputError("IBSI-1 reference table not found", path=path)
    ref = pd.read_csv(path)
    if with_value_only:
        ref = ref[ref["has_reference"]].reset_index(drop=True)
    return ref


def read_ibsi1_diagnostics():
    """Read the IBSI-1 diagnostic values (grid sizes and voxel counts after each step).

    Returns
    -------
    pandas.DataFrame
        Columns ``config, stage, diagnostic, tag, value, tolerance``.
    """
    import pandas as pd

    path = ibsi1_dir() / "ibsi1_diagnostic_reference_values.csv"
    if not path.is_file():
        raise InputError("IBSI-1 diagnostic table not found", path=path)
    return pd.read_csv(path)
