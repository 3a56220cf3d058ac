"""Shared definitions for the texture families: directions and IBSI aggregation methods.

Offsets are in (z, y, x) voxel steps at Chebyshev distance 1. The 13 unique 3D directions
(IBSI: the 26-neighbourhood halved by symmetry) and the 4 unique in-plane directions are
listed once here so every family uses the same set in the same order.

IBSI aggregation (reference manual, section "Feature aggregation"):

========================  ==========  =====================  ================
method                    IBSI id     readable suffix        IBSI tag suffix
========================  ==========  =====================  ================
2D, averaged              BTW3        ``2d_avg``             ``2D_avg``
2D, slice-merged          SUJT        ``2d_smrg``            ``2D_comb``
2.5D, direction-merged    JJUI        ``2_5d_dmrg``          ``2_5D_avg``
2.5D, merged              ZW7Z        ``2_5d_vmrg``          ``2_5D_comb``
3D, averaged              ITBB        ``3d_avg``             ``3D_avg``
3D, merged                IAZD        ``3d_mrg``             ``3D_comb``
2D (zone families)        8QNN        ``2d``                 ``2D``
2.5D (zone families)      62GR        ``2_5d``               ``2_5D``
3D (zone families)        KOBO        ``3d``                 ``3D``
========================  ==========  =====================  ================

GLCM and GLRLM use the first six (directional matrices); GLSZM, GLDZM, NGTDM and NGLDM
use the last three.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

import numpy as np

__all__ = [
    "Aggregation",
    "Dimension",
    "DIRECTIONS_3D",
    "DIRECTIONS_2D",
    "directional_aggregations",
    "zone_aggregations",
    "IBSI_SUFFIX",
    "IBSI_AGGREGATION_ID",
]

Dimension = Literal["2d", "2_5d", "3d"]


class Aggregation(StrEnum):
    """IBSI texture aggregation methods; the value is the readable column suffix."""

    D2_AVG = "2d_avg"
    D2_SMRG = "2d_smrg"
    D25_DMRG = "2_5d_dmrg"
    D25_VMRG = "2_5d_vmrg"
    D3_AVG = "3d_avg"
    D3_MRG = "3d_mrg"
    ZONE_2D = "2d"
    ZONE_25D = "2_5d"
    ZONE_3D = "3d"


IBSI_SUFFIX: dict[Aggregation, str] = {
    Aggregation.D2_AVG: "2D_avg",
    Aggregation.D2_SMRG: "2D_comb",
    Aggregation.D25_DMRG: "2_5D_avg",
    Aggregation.D25_VMRG: "2_5D_comb",
    Aggregation.D3_AVG: "3D_avg",
    Aggregation.D3_MRG: "3D_comb",
    Aggregation.ZONE_2D: "2D",
    Aggregation.ZONE_25D: "2_5D",
    Aggregation.ZONE_3D: "3D",
}

IBSI_AGGREGATION_ID: dict[Aggregation, str] = {
    Aggregation.D2_AVG: "BTW3",
    Aggregation.D2_SMRG: "SUJT",
    Aggregation.D25_DMRG: "JJUI",
    Aggregation.D25_VMRG: "ZW7Z",
    Aggregation.D3_AVG: "ITBB",
    Aggregation.D3_MRG: "IAZD",
    Aggregation.ZONE_2D: "8QNN",
    Aggregation.ZONE_25D: "62GR",
    Aggregation.ZONE_3D: "KOBO",
}

#: 13 unique 3D directions, (dz, dy, dx), Chebyshev distance 1.
DIRECTIONS_3D: np.ndarray = np.array(
    [
        (0, 0, 1),
        (0, 1, 0),
        (0, 1, 1),
        (0, 1, -1),
        (1, 0, 0),
        (1, 0, 1),
        (1, 0, -1),
        (1, 1, 0),
        (1, -1, 0),
        (1, 1, 1),
        (1, 1, -1),
        (1, -1, 1),
        (1, -1, -1),
    ],
    dtype=np.int64,
)

#: 4 unique in-plane directions, (dz, dy, dx) with dz = 0.
DIRECTIONS_2D: np.ndarray = DIRECTIONS_3D[:4].copy()


def directional_aggregations(dimensions) -> list[Aggregation]:
    """Aggregation methods of GLCM/GLRLM for the requested dimensions.

    Parameters
    ----------
    dimensions : iterable of {"2d", "2_5d", "3d"}

    Returns
    -------
    list of Aggregation
        ``2d`` → 2D averaged and slice-merged; ``2_5d`` → 2.5D direction-merged and merged;
        ``3d`` → 3D averaged and merged.
    """
    table = {
        "2d": [Aggregation.D2_AVG, Aggregation.D2_SMRG],
        "2_5d": [Aggregation.D25_DMRG, Aggregation.D25_VMRG],
        "3d": [Aggregation.D3_AVG, Aggregation.D3_MRG],
    }
    return [a for d in dimensions for a in table[str(d)]]


def zone_aggregations(dimensions) -> list[Aggregation]:
    """Aggregation methods of GLSZM/GLDZM/NGTDM/NGLDM for the requested dimensions.

    Parameters
    ----------
    dimensions : iterable of {"2d", "2_5d", "3d"}

    Returns
    -------
    list of Aggregation
    """
    table = {"2d": Aggregation.ZONE_2D, "2_5d": Aggregation.ZONE_25D, "3d": Aggregation.ZONE_3D}
    return [table[str(d)] for d in dimensions]
