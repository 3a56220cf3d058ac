"""Bundled IBSI reference data: where it lives and how to read it.

The repository ships the IBSI-1 phantoms and reference tables under ``data/ibsi1`` and
the IBSI-2 tables (phase-1 test list, phase-2 configurations and reference values) under
``data/ibsi2`` (see ``data/README.md`` for provenance and licences). ``VOXELOMICS_DATA``
overrides the location (e.g. for a wheel installed without the repository).

The IBSI-2 phase-1 digital phantoms and the 33 consensus response maps (13 MB) are not
bundled: they are read from ``shared/data/ibsi/ibsi2`` beside the repository, or from
``$VOXELOMICS_SHARED_DATA/ibsi/ibsi2``.
"""

from __future__ import annotations

import os
from pathlib import Path

from voxelomics.errors import InputError

__all__ = [
    "bundled_data_dir",
    "ibsi1_dir",
    "read_ibsi1_reference",
    "read_ibsi1_diagnostics",
    "ibsi2_dir",
    "ibsi2_phase1_dir",
    "read_ibsi2_phase1_tests",
    "read_ibsi2_phase2_reference",
    "read_ibsi2_phantom",
    "read_ibsi2_response_map",
]


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


def ibsi2_dir() -> Path:
    """Folder of the bundled IBSI-2 tables.

    Returns
    -------
    Path
        ``data/ibsi2`` under :func:`bundled_data_dir`.

    Raises
    ------
    InputError
        The bundled data folder cannot be found.
    """
    return bundled_data_dir() / "ibsi2"


def ibsi2_phase1_dir() -> Path:
    """Folder holding the IBSI-2 phase-1 phantoms and consensus response maps.

    Returns
    -------
    Path
        ``$VOXELOMICS_SHARED_DATA/ibsi/ibsi2`` when that variable is set, otherwise
        ``shared/data/ibsi/ibsi2`` beside the repository; it holds ``digital_phantoms/`` and
        ``reference_response_maps/``.

    Raises
    ------
    InputError
        Neither folder holds the phase-1 data.
    """
    env = os.environ.get("VOXELOMICS_SHARED_DATA")
    candidates = [Path(env) / "ibsi" / "ibsi2"] if env else []
    candidates.append(Path(__file__).resolve().parents[4] / "shared" / "data" / "ibsi" / "ibsi2")
    for cand in candidates:
        if (cand / "reference_response_maps").is_dir() and (cand / "digital_phantoms").is_dir():
            return cand
    raise InputError(
        "IBSI-2 phase-1 phantoms and response maps not found (13 MB, not bundled); put the "
        "shared data beside the repository or set VOXELOMICS_SHARED_DATA",
        path=candidates[-1],
    )


def read_ibsi2_phase1_tests():
    """Read the IBSI-2 phase-1 test list.

    Returns
    -------
    pandas.DataFrame
        Columns ``test_id, phantom, filter, parameters, dimensionality, padding,
        reference_response_map, has_reference_map`` (36 tests, 33 with a map).

    Raises
    ------
    InputError
        The bundled table is missing.
    """
    import pandas as pd

    path = ibsi2_dir() / "ibsi2_phase1_tests.csv"
    if not path.is_file():
        raise InputError("IBSI-2 phase-1 test table not found", path=path)
    return pd.read_csv(path, dtype={"test_id": str})


def read_ibsi2_phase2_reference(*, with_value_only: bool = True):
    """Read the IBSI-2 phase-2 reference values (CT phantom, configurations 1.A–9.B).

    Parameters
    ----------
    with_value_only : bool, default=True
        Drop the row without a reference value (8.B quartile coefficient of dispersion).

    Returns
    -------
    pandas.DataFrame
        Columns ``filter_id, filter, dimensionality, family, family_code, feature, ibsi_code,
        tag, value, tolerance, has_reference, note`` (323 rows with a value).

    Raises
    ------
    InputError
        The bundled table is missing.
    """
    import pandas as pd

    path = ibsi2_dir() / "ibsi2_phase2_reference_values.csv"
    if not path.is_file():
        raise InputError("IBSI-2 phase-2 reference table not found", path=path)
    ref = pd.read_csv(path)
    if with_value_only:
        ref = ref[ref["has_reference"]].reset_index(drop=True)
    return ref


def _read_nifti_array(path: Path):
    import numpy as np
    import SimpleITK as sitk

    if not path.is_file():
        raise InputError("IBSI-2 file not found", path=path)
    img = sitk.ReadImage(str(path))
    return sitk.GetArrayFromImage(img).astype(np.float64), tuple(float(s) for s in img.GetSpacing()[::-1])


def read_ibsi2_phantom(name: str):
    """Read one IBSI-2 phase-1 digital phantom.

    Parameters
    ----------
    name : str
        ``checkerboard``, ``impulse``, ``sphere``, ``noise``, ``orientation``, ``pattern_1``,
        ``pattern_2``, ``pattern_3`` or ``empty``.

    Returns
    -------
    image : ndarray of float64, shape (z, y, x)
        Intensities (0–255).
    spacing_mm : tuple of float
        Voxel size (z, y, x) in mm (2 mm isotropic).

    Raises
    ------
    InputError
        The phase-1 data or this phantom is missing.
    """
    return _read_nifti_array(ibsi2_phase1_dir() / "digital_phantoms" / name / "image" / f"{name}.nii.gz")


def read_ibsi2_response_map(test_id: str):
    """Read the IBSI-2 consensus response map of a phase-1 test.

    Parameters
    ----------
    test_id : str
        E.g. ``"2.a"`` or ``"3.b.2"``.

    Returns
    -------
    ndarray of float64, shape (z, y, x)
        The consensus response map (stored as float32).

    Raises
    ------
    InputError
        The phase-1 data or this map is missing.
    """
    name = test_id.replace(".", "_") + "-ValidCRM.nii.gz"
    return _read_nifti_array(ibsi2_phase1_dir() / "reference_response_maps" / name)[0]
