"""The feature registry: every feature's stable name, family and IBSI identity.

Each family module declares a tuple ``FEATURES`` of :class:`FeatureSpec`; this module
collects them. Column names are built here, in one place:

* readable: ``{spec.name}`` for whole-ROI families, ``{spec.name}_{aggregation}`` for
  texture families (e.g. ``glcm_joint_max_3d_avg``);
* IBSI: ``{spec.ibsi_tag}`` or ``{spec.ibsi_tag}_{IBSI suffix}`` exactly as the ``tag``
  column of the IBSI-1 reference table (e.g. ``cm_joint_max_3D_avg``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache

from voxelomics.features._texture import IBSI_SUFFIX, Aggregation

__all__ = [
    "FeatureSpec",
    "FAMILIES",
    "TEXTURE_FAMILIES",
    "all_features",
    "feature_specs",
    "column_name",
    "ibsi_column_name",
    "readable_to_ibsi",
    "split_feature_column",
    "table_columns",
]

#: Families in IBSI order; the value is the IBSI family identifier.
FAMILIES: dict[str, str] = {
    "morphology": "HCUG",
    "local_intensity": "9ST6",
    "statistics": "UHIW",
    "histogram": "ZVCW",
    "ivh": "P88C",
    "glcm": "LFYI",
    "glrlm": "TP0I",
    "glszm": "9SAK",
    "gldzm": "VMDZ",
    "ngtdm": "IPET",
    "ngldm": "REK0",
}

#: Families whose features carry an aggregation suffix.
TEXTURE_FAMILIES = ("glcm", "glrlm", "glszm", "gldzm", "ngtdm", "ngldm")


@dataclass(frozen=True)
class FeatureSpec:
    """Identity of one feature.

    Parameters
    ----------
    name : str
        Readable base name, ``family_feature`` (e.g. ``glcm_joint_max``).
    family : str
        One of :data:`FAMILIES`.
    ibsi_id : str
        Four-character IBSI identifier (e.g. ``GYBY``).
    ibsi_tag : str
        Base of the IBSI-1 reporting tag (e.g. ``cm_joint_max``).
    title : str
        Feature name as in the IBSI reference manual.
    unit : str, default=""
        Unit of the value ("mm3", "image units" (HU for CT, SUV for PET), "" for
        dimensionless values and grey-level units).
    ibsi_compliant : bool, default=True
        False when IBSI publishes no reference or the method deviates from IBSI.
    """

    name: str
    family: str
    ibsi_id: str
    ibsi_tag: str
    title: str
    unit: str = ""
    ibsi_compliant: bool = True


def column_name(spec: FeatureSpec, aggregation: Aggregation | str | None = None) -> str:
    """Readable column name of a feature, e.g. ``glcm_joint_max_3d_avg``.

    Parameters
    ----------
    spec : FeatureSpec
    aggregation : Aggregation or str or None
        Required for texture families, ignored otherwise.

    Returns
    -------
    str
    """
    if spec.family in TEXTURE_FAMILIES:
        return f"{spec.name}_{Aggregation(aggregation).value}"
    return spec.name


def ibsi_column_name(spec: FeatureSpec, aggregation: Aggregation | str | None = None) -> str:
    """IBSI-1 tag of a feature, e.g. ``cm_joint_max_3D_avg``.

    Parameters
    ----------
    spec : FeatureSpec
    aggregation : Aggregation or str or None
        Required for texture families, ignored otherwise.

    Returns
    -------
    str
    """
    if spec.family in TEXTURE_FAMILIES:
        return f"{spec.ibsi_tag}_{IBSI_SUFFIX[Aggregation(aggregation)]}"
    return spec.ibsi_tag


def feature_specs(family: str) -> tuple[FeatureSpec, ...]:
    """Features declared by one family module.

    Parameters
    ----------
    family : str
        One of :data:`FAMILIES`.

    Returns
    -------
    tuple of FeatureSpec
    """
    module = importlib.import_module(f"voxelomics.features.{family}")
    return tuple(module.FEATURES)


@cache
def all_features() -> tuple[FeatureSpec, ...]:
    """Every registered feature, family by family in IBSI order."""
    out: list[FeatureSpec] = []
    for fam in FAMILIES:
        try:
            out.extend(feature_specs(fam))
        except ModuleNotFoundError:
            continue
    return tuple(out)


@cache
def readable_to_ibsi() -> dict[str, str]:
    """Map every readable column name to its IBSI tag (all aggregations expanded)."""
    mapping: dict[str, str] = {}
    for spec in all_features():
        if spec.family in ("glcm", "glrlm"):
            aggs = [a for a in Aggregation if a.value not in ("2d", "2_5d", "3d")]
        elif spec.family in TEXTURE_FAMILIES:
            aggs = [Aggregation.ZONE_2D, Aggregation.ZONE_25D, Aggregation.ZONE_3D]
        else:
            aggs = [None]
        for a in aggs:
            mapping[column_name(spec, a)] = ibsi_column_name(spec, a)
    return mapping


def split_feature_column(column: str) -> tuple[str | None, str] | None:
    """Split a feature column into its filter prefix and its registered feature name.

    Parameters
    ----------
    column : str
        A column of a feature table: a readable name or IBSI tag (``glcm_joint_max_3d_avg``,
        ``stat_mean``), optionally after the prefix of a filter's response map
        (``log_s1.5mm_statistics_mean``, ``wavelet_coif1_llh_cm_joint_max_3D_avg``).

    Returns
    -------
    (str or None, str) or None
        ``(prefix, name)`` with ``prefix`` None for the image's own features; None when no
        suffix of the column is a registered name (not a feature column).

    Examples
    --------
    >>> split_feature_column("log_s1.5mm_statistics_mean")
    ('log_s1.5mm', 'statistics_mean')
    >>> split_feature_column("age") is None
    True
    """
    names = _all_names()
    if column in names:
        return None, column
    start = column.find("_")
    while start != -1:  # longest registered suffix first: what precedes it is the prefix
        if column[start + 1:] in names:
            return column[:start], column[start + 1:]
        start = column.find("_", start + 1)
    return None


@cache
def _all_names() -> frozenset[str]:
    table = readable_to_ibsi()
    return frozenset(table) | frozenset(table.values())


def table_columns(families, dimensions) -> list[tuple[FeatureSpec, Aggregation | None]]:
    """The feature columns an extraction writes for these families and texture dimensions.

    Parameters
    ----------
    families : iterable of str
        Families to compute (:data:`voxelomics.settings.FAMILY_NAMES`).
    dimensions : iterable of {"2d", "2_5d", "3d"}
        ``texture.dimensions`` of the settings.

    Returns
    -------
    list of (FeatureSpec, Aggregation or None)
        In registry order, texture features aggregation by aggregation as the families
        write them; :func:`column_name` / :func:`ibsi_column_name` give the column names.
    """
    from voxelomics.features._texture import directional_aggregations, zone_aggregations

    wanted = set(families)
    out: list[tuple[FeatureSpec, Aggregation | None]] = []
    for fam in FAMILIES:
        if fam not in wanted:
            continue
        specs = feature_specs(fam)
        if fam in ("glcm", "glrlm"):
            aggs = directional_aggregations(dimensions)
        elif fam in TEXTURE_FAMILIES:
            aggs = zone_aggregations(dimensions)
        else:
            aggs = [None]
        out.extend((spec, agg) for agg in aggs for spec in specs)
    return out
