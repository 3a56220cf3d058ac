"""Feature column names: readable (``glcm_joint_max_3d_avg``) or IBSI tags (``cm_joint_max_3D_avg``).

Features of a filter response map carry the filter's prefix (:mod:`voxelomics.filters.spec`)
before either name: ``log_s1.5mm_statistics_mean`` (readable) or ``log_s1.5mm_stat_mean``
(IBSI), ``wavelet_coif1_llh_glcm_joint_max_3d_avg`` / ``wavelet_coif1_llh_cm_joint_max_3D_avg``.
The image's own features have no prefix.
"""

from __future__ import annotations

from typing import Literal

from voxelomics.errors import SettingsError

__all__ = ["Naming", "rename", "columns"]

Naming = Literal["readable", "ibsi"]


def rename(features: dict[str, float], naming: Naming) -> dict[str, float]:
    """Rename readable feature names to IBSI tags (``naming="ibsi"``) or keep them.

    A response map's feature keeps its filter prefix: ``log_s1.5mm_statistics_mean`` becomes
    ``log_s1.5mm_stat_mean`` (the longest suffix that is a readable feature name is renamed).

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
    return {_ibsi_name(k, table): v for k, v in features.items()}


def _ibsi_name(key: str, table: dict[str, str]) -> str:
    from voxelomics.features.registry import split_feature_column

    split = split_feature_column(key)
    if split is None or split[1] not in table:
        return key
    prefix, name = split
    return table[name] if prefix is None else f"{prefix}_{table[name]}"


def columns(groups, naming: Naming) -> dict[str, float]:
    """Flatten features grouped by image type into one row's columns.

    Parameters
    ----------
    groups : iterable of (str or None, dict of str to float)
        ``(None, features)`` for the image itself, ``(prefix, features)`` for each response
        map; features under their readable names.
    naming : {"readable", "ibsi"}

    Returns
    -------
    dict of str to float
        ``name`` for the image's features, ``prefix_name`` for a response map's.

    Raises
    ------
    SettingsError
        Unknown naming scheme.
    """
    out: dict[str, float] = {}
    for prefix, feats in groups:
        named = rename(feats, naming)
        if prefix is None:
            out.update(named)
        else:
            out.update({f"{prefix}_{k}": v for k, v in named.items()})
    return out
