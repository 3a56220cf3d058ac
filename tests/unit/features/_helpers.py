"""Helpers shared by the feature-family unit tests (one definition each).

Comparisons with IBSI values go through ``assert_matches_reference`` (``tests/conftest.py``),
which uses :func:`voxelomics.compliance.within_tolerance`: tolerance-0 rows (values the
manual prints to three significant digits) are compared after rounding the computed value
the same way, so the tests no longer round by hand.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd

from testdata import IBSI1
from voxelomics.features._texture import Aggregation
from voxelomics.features.registry import column_name, ibsi_column_name

#: The IBSI manual's 2D example image (one slice, grey levels 1..4), used by the texture
#: sections (GLCM, GLRLM, GLSZM, GLDZM, NGTDM, NGLDM) for their worked matrices.
IBSI_EXAMPLE = np.array([[[1, 2, 2, 3], [1, 2, 3, 3], [4, 2, 4, 1], [4, 1, 2, 3]]])

#: Aggregations of the zone families (GLSZM, GLDZM, NGTDM, NGLDM).
ZONE_AGGS = [Aggregation.ZONE_2D, Aggregation.ZONE_25D, Aggregation.ZONE_3D]

#: The 2D and 2.5D directional aggregations (GLCM, GLRLM) reported for configuration A.
AGGS_2D = [Aggregation.D2_AVG, Aggregation.D2_SMRG, Aggregation.D25_DMRG, Aggregation.D25_VMRG]

#: Number of FBS bins of configuration A: [-500, 400] HU in 25 HU bins.
CONFIG_A_LEVELS = 36


def to_ibsi(values: dict[str, float], module, aggregation=None) -> dict[str, float]:
    """Rename a family's readable columns to IBSI tags (columns of other families are dropped)."""
    out = {}
    for spec in module.FEATURES:
        name = column_name(spec, aggregation)
        if name in values:
            out[ibsi_column_name(spec, aggregation)] = values[name]
    return out


def as_ibsi(values, module, aggregation, reference, config) -> tuple[dict[str, float], list[str]]:
    """IBSI-tagged values of one family and aggregation, and the tags the reference lists."""
    known = set(reference.loc[reference["config"] == config, "tag"])
    ibsi = {t: v for t, v in to_ibsi(values, module, aggregation).items() if t in known}
    return ibsi, list(ibsi)


def phantom_levels(digital_phantom):
    """Digital phantom grey levels (already 1..6) with 0 outside the mask, and the mask."""
    image, mask, _ = digital_phantom
    return np.where(mask, image, 0).astype(np.int64), mask


def read_ct_phantom():
    """CT phantom as (HU image (z, y, x) float, GTV mask (z, y, x) bool, spacing_mm (z, y, x))."""
    import SimpleITK as sitk

    img = sitk.ReadImage(str(IBSI1 / "ct_phantom/nifti/image/phantom.nii.gz"))
    msk = sitk.ReadImage(str(IBSI1 / "ct_phantom/nifti/mask/mask.nii.gz"))
    hu = sitk.GetArrayFromImage(img).astype(np.float64)
    return hu, sitk.GetArrayFromImage(msk) > 0, tuple(img.GetSpacing())[::-1]


def ct_config_a():
    """CT phantom, IBSI configuration A: no resampling, [-500, 400] HU, FBS 25 HU from -500.

    Returns
    -------
    levels : ndarray of int64, (z, y, x)
        Grey levels 1..36 inside the re-segmented ROI, 0 elsewhere.
    roi : ndarray of bool
        Intensity mask (GTV within [-500, 400] HU).
    morph : ndarray of bool
        Morphological mask (the GTV).
    n_levels : int
        36.
    """
    hu, morph, _ = read_ct_phantom()
    roi = morph & (hu >= -500) & (hu <= 400)
    levels = np.zeros(hu.shape, dtype=np.int64)
    levels[roi] = np.floor((hu[roi] + 500) / 25).astype(np.int64) + 1
    return levels, roi, morph, CONFIG_A_LEVELS


def table_ids(reference: pd.DataFrame, prefix: str) -> dict[str, str]:
    """IBSI tag base (aggregation suffix removed) to IBSI code, for tags starting with ``prefix``."""
    ref = reference[reference["tag"].str.startswith(prefix)]
    base = ref["tag"].str.replace(r"_(2D|2_5D|3D)(_(avg|comb))?$", "", regex=True)
    return dict(zip(base, ref["ibsi_code"], strict=True))


def assert_feature_functions_cite_ids(table) -> None:
    """Every ``(spec, function)`` pair: the summary ends with ``(IBSI: ID).`` and has Notes."""
    for spec, fn in table:
        doc = inspect.getdoc(fn)
        summary = doc.splitlines()[0]
        assert summary.endswith(f"(IBSI: {spec.ibsi_id}).") and "Notes" in doc, fn.__name__
