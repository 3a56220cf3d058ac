"""Inputs and values of the texture regression guard (``test_texture_regression.py``).

The fixture ``texture_regression_ct_phantom.json`` holds every feature of every family and
aggregation on a few discretised versions of the IBSI-1 CT phantom, computed by the code of
``main`` at commit 374ab1a (before the texture kernels were rewritten for speed). It is a
**regression guard, not a reference**: IBSI's reference values are checked by ``tests/ibsi``;
this fixture checks that a faster kernel gives the same numbers as the code it replaced
(bit-identical, or within 1e-12 relative where the summation order changed).

Run this module to print the values of the current code as JSON (``python
tests/unit/features/texture_regression.py > new.json``); never overwrite the fixture with
it to make a test pass: a difference is a change of the feature values and must be
explained.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "texture_regression_ct_phantom.json"
REPO = HERE.parents[2]
PHANTOM = REPO / "data/ibsi1/ct_phantom/nifti"

ALL_DIRECTIONAL = ("2d_avg", "2d_smrg", "2_5d_dmrg", "2_5d_vmrg", "3d_avg", "3d_mrg")
ALL_ZONE = ("2d", "2_5d", "3d")


def inputs() -> dict[str, dict]:
    """Discretised inputs: name -> {levels, mask, morph_mask, n_levels, values}.

    * ``c_fbs25``: IBSI configuration C (2 mm isotropic, [-1000, 400] HU, FBS 25 HU);
    * ``b_fbn32``: configuration B (2 mm in-plane, slices kept, [-500, 400] HU, FBN 32);
    * ``c_log2mm_fbn32``, ``c_coif1_hhl_fbn32``: configuration C's image filtered (LoG
      σ 2 mm; coif1 sub-band HHL), FBN 32 in the intensity mask, as a response map.
    """
    from voxelomics.extract.case import fbs_lower_bound, preprocess_case
    from voxelomics.extract.families import FILTER_DTYPE
    from voxelomics.filters import iter_responses
    from voxelomics.filters.spec import parse_filter
    from voxelomics.io import load_case
    from voxelomics.preprocess import discretise
    from voxelomics.settings import load_preset

    volume, roi = load_case(PHANTOM / "image/phantom.nii.gz", PHANTOM / "mask/mask.nii.gz")
    out = {}
    for key, preset in (("c_fbs25", "ibsi-c"), ("b_fbn32", "ibsi-b")):
        s = load_preset(preset).for_modality("CT")
        pre = preprocess_case(volume, roi, s)
        d = s.discretisation
        levels, n = discretise(pre.image, pre.intensity_mask, method=d.method, n_bins=d.n_bins,
                               bin_width=d.bin_width, lower_bound=fbs_lower_bound(s, d))
        out[key] = dict(levels=levels, mask=pre.intensity_mask, morph_mask=pre.morph_mask,
                        n_levels=n, values=pre.image[pre.intensity_mask])
        if key == "c_fbs25":
            c_pre = pre
    image32 = c_pre.image.astype(FILTER_DTYPE)
    for key, spec in (("c_log2mm_fbn32", {"type": "log", "sigma_mm": 2.0}),
                      ("c_coif1_hhl_fbn32", {"type": "wavelet", "wavelet": "coif1", "subbands": ["HHL"]})):
        _, response = next(iter_responses(image32, c_pre.spacing_mm, parse_filter(spec)))
        response = response.astype(np.float64)
        levels, n = discretise(response, c_pre.intensity_mask, method="fbn", n_bins=32)
        out[key] = dict(levels=levels, mask=c_pre.intensity_mask, morph_mask=c_pre.morph_mask,
                        n_levels=n, values=response[c_pre.intensity_mask])
    return out


def family_values(inp: dict) -> dict[str, float]:
    """Every feature of every family and aggregation on one input (family functions only)."""
    from voxelomics.features import glcm, gldzm, glrlm, glszm, histogram, ngldm, ngtdm, statistics

    lv, im, mm, n = inp["levels"], inp["mask"], inp["morph_mask"], inp["n_levels"]
    out: dict[str, float] = {}
    out.update(statistics.compute(inp["values"]))
    out.update(histogram.compute(lv[im], n))
    out.update(glcm.compute(lv, im, n, aggregations=ALL_DIRECTIONAL))
    out.update({f"d2:{k}": v for k, v in glcm.compute(lv, im, n, aggregations=ALL_DIRECTIONAL,
                                                      distance=2).items()})
    out.update(glrlm.compute(lv, im, n, aggregations=ALL_DIRECTIONAL))
    out.update(glszm.compute(lv, im, n, aggregations=ALL_ZONE))
    out.update(gldzm.compute(lv, im, n, aggregations=ALL_ZONE, morph_mask=mm))
    out.update(ngtdm.compute(lv, im, n, aggregations=ALL_ZONE))
    out.update({f"d2:{k}": v for k, v in ngtdm.compute(lv, im, n, aggregations=ALL_ZONE,
                                                       distance=2).items()})
    out.update(ngldm.compute(lv, im, n, aggregations=ALL_ZONE))
    out.update({f"d2a1:{k}": v for k, v in ngldm.compute(lv, im, n, aggregations=ALL_ZONE,
                                                         distance=2, alpha=1).items()})
    return out


def all_values() -> dict[str, dict[str, float]]:
    """{input name: {feature: value}} for every input of :func:`inputs`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {key: family_values(inp) for key, inp in inputs().items()}


def _encode(v: float):
    return v if np.isfinite(v) else repr(float(v))  # JSON has no NaN/inf


ABOUT = ("Regression guard, not a reference: values of the code of main at 374ab1a (before the "
         "texture kernels were rewritten for speed) on the IBSI-1 CT phantom; see "
         "tests/unit/features/texture_regression.py. IBSI reference values are in tests/ibsi.")

if __name__ == "__main__":
    values = {k: {f: _encode(v) for f, v in d.items()} for k, d in all_values().items()}
    print(json.dumps({"_about": ABOUT, "values": values}, indent=0))
