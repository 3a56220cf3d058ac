"""Feature column names: readable (``glcm_joint_max_3d_avg``) or IBSI tags (``cm_joint_max_3D_avg``)."""

from __future__ import annotations

from typing import Literal

from voxelomics.errors import SettingsError

__all__ = ["Naming", "rename"]

Naming = Literal["readable", "ibsi"]


def rename(features: dict[str, float], naming: Naming) -> dict[str, float]:
    """Rename readable feature names to IBSI tags (``naming="ibsi"``) or keep them.

    Parameters
    ----------
    features : dict of str to float
    naming : {"readable", "ibsi"}

    Returns
    -------
    dict of str to float

    Raises
    ------
    SettingsError
        Unknown naming scheme.
    """
    if naming == "readable":
        return features
    if naming != "ibsi":
        raise SettingsError(f"unknown naming {naming!r}; valid: 'readable', 'ibsi'")
    from voxelomics.features.registry import readable_to_ibsi

    table = readable_to_ibsi()
    return {table.get(k, k): v for k, v in features.items()}
