"""Timing of the GLCM and GLRLM families on the IBSI CT phantom (not a test).

Resamples the phantom to 2 mm isotropic (linear image, mask >= 0.5; good enough for
timing, not the IBSI resampling), discretises with FBS 25 HU from -1000 HU, and times
every aggregation of both families.

Run: ``.venv/bin/python benchmarks/texture_speed.py``
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from voxelomics.features import glcm, glrlm
from voxelomics.features.glcm import DIRECTIONAL_AGGREGATIONS

ROOT = Path(__file__).resolve().parents[1] / "data" / "ibsi1" / "ct_phantom" / "nifti"


def _resample(img: sitk.Image, spacing: float, interpolator) -> sitk.Image:
    size = [
        int(round(n * s / spacing)) for n, s in zip(img.GetSize(), img.GetSpacing(), strict=True)
    ]
    return sitk.Resample(
        img,
        size,
        sitk.Transform(),
        interpolator,
        img.GetOrigin(),
        (spacing,) * 3,
        img.GetDirection(),
        0.0,
        sitk.sitkFloat64,
    )


def main() -> None:
    image = sitk.ReadImage(str(ROOT / "image" / "phantom.nii.gz"))
    mask = sitk.ReadImage(str(ROOT / "mask" / "mask.nii.gz"))
    hu = sitk.GetArrayFromImage(_resample(image, 2.0, sitk.sitkLinear))
    roi = (
        sitk.GetArrayFromImage(_resample(sitk.Cast(mask, sitk.sitkFloat64), 2.0, sitk.sitkLinear))
        >= 0.5
    )
    roi &= (hu >= -1000) & (hu <= 400)
    levels = np.zeros(hu.shape, dtype=np.int64)
    levels[roi] = np.floor((hu[roi] + 1000) / 25).astype(np.int64) + 1
    n_levels = int(levels[roi].max())
    print(f"ROI: {int(roi.sum())} voxels, {n_levels} grey levels, grid (z, y, x) {hu.shape}")
    for module in (glcm, glrlm):
        for agg in DIRECTIONAL_AGGREGATIONS:
            t0 = time.perf_counter()
            module.compute(levels, roi, n_levels, aggregations=[agg])
            print(
                f"{module.__name__.rsplit('.', 1)[-1]:6s} {agg.value:10s} {time.perf_counter() - t0:7.3f} s"
            )
        t0 = time.perf_counter()
        module.compute(levels, roi, n_levels)
        print(
            f"{module.__name__.rsplit('.', 1)[-1]:6s} {'all six':10s} {time.perf_counter() - t0:7.3f} s"
        )


if __name__ == "__main__":
    main()
