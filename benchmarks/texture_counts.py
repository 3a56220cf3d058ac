"""CPU time of the texture families' counting stage and of the whole family (not a test).

The IBSI CT phantom (default) or any CT case is resampled to 2 mm (linear image, mask >= 0.5;
for timing, not the IBSI resampling), re-segmented to [-1000, 400] HU and discretised with
32 bins (FBN, as the response maps of ``vs_peers.py --setting filtered``). For GLCM, GLRLM,
NGTDM and NGLDM the script times the matrices alone (``*_matrices``: the counting that
``features/_kernels.pyx`` does) and ``compute`` with every aggregation (counting, merging and
the features), CPU time (``time.process_time``), minimum of ``--repeat``.

It times whichever ``voxelomics`` is importable, so that two checkouts compare like for like::

    PYTHONPATH=OLD/src python benchmarks/texture_counts.py --repeat 7
    PYTHONPATH=NEW/src python benchmarks/texture_counts.py --repeat 7
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = (ROOT / "data/ibsi1/ct_phantom/nifti/image/phantom.nii.gz",
           ROOT / "data/ibsi1/ct_phantom/nifti/mask/mask.nii.gz")


def _resample(img: sitk.Image, spacing: float) -> np.ndarray:
    size = [int(round(n * s / spacing)) for n, s in zip(img.GetSize(), img.GetSpacing(), strict=True)]
    out = sitk.Resample(sitk.Cast(img, sitk.sitkFloat64), size, sitk.Transform(), sitk.sitkLinear,
                        img.GetOrigin(), (spacing,) * 3, img.GetDirection(), 0.0, sitk.sitkFloat64)
    return sitk.GetArrayFromImage(out)


def _levels(image: Path, mask: Path, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    hu = _resample(sitk.ReadImage(str(image)), 2.0)
    roi = (_resample(sitk.ReadImage(str(mask)), 2.0) >= 0.5) & (hu >= -1000) & (hu <= 400)
    x = hu[roi]
    levels = np.zeros(hu.shape, dtype=np.int64)
    levels[roi] = np.minimum(np.floor(n_bins * (x - x.min()) / (x.max() - x.min())), n_bins - 1) + 1
    return levels, roi


def _cpu_ms(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return 1e3 * best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?", type=Path, default=DEFAULT[0])
    parser.add_argument("mask", nargs="?", type=Path, default=DEFAULT[1])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--bins", type=int, default=32)
    args = parser.parse_args()

    import voxelomics
    from voxelomics.features import glcm, glrlm, ngldm, ngtdm
    from voxelomics.features._texture import DIRECTIONS_2D, DIRECTIONS_3D

    levels, roi = _levels(args.image, args.mask, args.bins)
    n_g = int(levels.max())
    print(f"voxelomics from {Path(voxelomics.__file__).parent}")
    print(f"{args.image.name}: ROI {int(roi.sum())} voxels, {n_g} grey levels, grid (z, y, x) {levels.shape}")
    counting = {
        "glcm": lambda: (glcm.glcm_matrices(levels, roi, n_levels=n_g, directions=DIRECTIONS_3D, per_slice=False),
                         glcm.glcm_matrices(levels, roi, n_levels=n_g, directions=DIRECTIONS_2D, per_slice=True)),
        "glrlm": lambda: (glrlm.glrlm_matrices(levels, roi, n_levels=n_g, directions=DIRECTIONS_3D, per_slice=False),
                          glrlm.glrlm_matrices(levels, roi, n_levels=n_g, directions=DIRECTIONS_2D, per_slice=True)),
        "ngtdm": lambda: [ngtdm.ngtdm_matrices(levels, roi, n_g, aggregation=a) for a in ("2d", "3d")],
        "ngldm": lambda: [ngldm.ngldm_matrices(levels, roi, n_g, aggregation=a) for a in ("2d", "3d")],
    }
    families = {
        "glcm": lambda: glcm.compute(levels, roi, n_g, aggregations=glcm.DIRECTIONAL_AGGREGATIONS),
        "glrlm": lambda: glrlm.compute(levels, roi, n_g, aggregations=glrlm.DIRECTIONAL_AGGREGATIONS),
        "ngtdm": lambda: ngtdm.compute(levels, roi, n_g, aggregations=("2d", "2_5d", "3d")),
        "ngldm": lambda: ngldm.compute(levels, roi, n_g, aggregations=("2d", "2_5d", "3d")),
    }
    print(f"{'family':<8} {'matrices (2D + 3D) ms':>22} {'compute, every aggregation ms':>31}")
    for name in counting:
        print(f"{name:<8} {_cpu_ms(counting[name], args.repeat):22.1f} {_cpu_ms(families[name], args.repeat):31.1f}")


if __name__ == "__main__":
    main()
