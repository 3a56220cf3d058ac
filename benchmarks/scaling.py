"""Extraction time per stage against ROI size: one case resampled at several voxel sizes.

The case is read once; for each voxel size the ``ibsi-c`` settings get that isotropic
spacing, and every stage (preprocessing, each feature family) is timed ``--repeat`` times
(minimum kept). A stage is flagged when its time grows faster than :math:`n \\log n` in the
number of ROI voxels :math:`n`: the least-squares slope of log(time) on log(n) exceeds the
slope of :math:`n \\log n` over the same range by more than ``--slack`` (stages under
``--min-ms`` at the largest size are not judged: timer noise).

Usage::

    python benchmarks/scaling.py [IMAGE MASK] --spacings 3 2 1.5 1 0.75 --repeat 3
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = (ROOT.parent / "shared/data/cases/lung2_image.nrrd", ROOT.parent / "shared/data/cases/lung2_label.nrrd")
FALLBACK = (ROOT / "data/ibsi1/ct_phantom/nifti/image/phantom.nii.gz",
            ROOT / "data/ibsi1/ct_phantom/nifti/mask/mask.nii.gz")


def stage_times(volume, mask, settings) -> tuple[int, dict[str, float]]:
    """ROI voxel count and seconds per stage for one settings object."""
    from voxelomics.extract.case import fbs_lower_bound as _fbs_lower_bound
    from voxelomics.extract.case import preprocess_case
    from voxelomics.features import (
        glcm,
        gldzm,
        glrlm,
        glszm,
        histogram,
        ivh,
        local_intensity,
        morphology,
        ngldm,
        ngtdm,
        statistics,
    )
    from voxelomics.features._texture import directional_aggregations, zone_aggregations
    from voxelomics.features._zone_labels import label_zones
    from voxelomics.preprocess import discretise

    times: dict[str, float] = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        out = fn()
        times[name] = time.perf_counter() - t0
        return out

    pre = timed("preprocess", lambda: preprocess_case(volume, mask, settings))
    img, mm, im, sp = pre.image, pre.morph_mask, pre.intensity_mask, pre.spacing_mm
    values = img[im]
    ms, t, d, di, rg = (settings.morphology, settings.texture, settings.discretisation,
                        settings.ivh_discretisation, settings.resegmentation)
    timed("morphology", lambda: morphology.compute(
        mm, im, img, sp, spatial_exact_max_voxels=ms.spatial_exact_max_voxels, seed=ms.seed))
    timed("local_intensity", lambda: local_intensity.compute(img, im, sp))
    timed("statistics", lambda: statistics.compute(values))
    timed("ivh", lambda: ivh.compute(values, method=di.method, n_bins=di.n_bins, bin_width=di.bin_width,
                                     lower_bound=_fbs_lower_bound(settings, di), range_min=rg.range_min,
                                     range_max=rg.range_max))
    levels, n_levels = timed("discretise", lambda: discretise(
        img, im, method=d.method, n_bins=d.n_bins, bin_width=d.bin_width, lower_bound=_fbs_lower_bound(settings, d)))
    da, za = directional_aggregations(t.dimensions), zone_aggregations(t.dimensions)
    timed("histogram", lambda: histogram.compute(levels[im], n_levels))
    timed("glcm", lambda: glcm.compute(levels, im, n_levels, aggregations=da, distance=t.glcm_distance))
    timed("glrlm", lambda: glrlm.compute(levels, im, n_levels, aggregations=da))
    zones = timed("zones", lambda: {td: label_zones(levels, im, n_levels, two_d=td) for td in (False, True)})
    timed("glszm", lambda: glszm.compute(levels, im, n_levels, aggregations=za, _zones=zones))
    timed("gldzm", lambda: gldzm.compute(levels, im, n_levels, aggregations=za, morph_mask=mm, _zones=zones))
    timed("ngtdm", lambda: ngtdm.compute(levels, im, n_levels, aggregations=za, distance=t.ngtdm_distance))
    timed("ngldm", lambda: ngldm.compute(levels, im, n_levels, aggregations=za, distance=t.ngldm_distance,
                                         alpha=t.ngldm_alpha))
    return int(mm.sum()), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?", default=None)
    parser.add_argument("mask", nargs="?", default=None)
    parser.add_argument("--preset", default="ibsi-c")
    parser.add_argument("--spacings", type=float, nargs="+", default=[3.0, 2.0, 1.5, 1.0, 0.75])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--slack", type=float, default=0.25, help="allowed excess of the log-log slope")
    parser.add_argument("--min-ms", type=float, default=5.0)
    args = parser.parse_args()

    from voxelomics.io import load_case
    from voxelomics.settings import load_preset

    if args.image is None:
        image, mask = DEFAULT if DEFAULT[0].exists() else FALLBACK
    else:
        image, mask = Path(args.image), Path(args.mask)
    t0 = time.perf_counter()
    volume, roi = load_case(image, mask)
    read_s = time.perf_counter() - t0
    base = load_preset(args.preset).for_modality(volume.modality)
    print(f"case {image.name}: read {read_s:.3f} s (not repeated below)")

    rows = []
    warnings.simplefilter("ignore")
    for sp in sorted(args.spacings, reverse=True):
        settings = base.model_copy(update={"resampling": base.resampling.model_copy(
            update={"spacing_mm": (sp, sp, sp)})})
        best: dict[str, float] = {}
        for _ in range(args.repeat + 1):  # the first run warms caches and is discarded
            n, times = stage_times(volume, roi, settings)
            best = times if not best else {k: min(best[k], v) for k, v in times.items()}
        rows.append((sp, n, times if args.repeat == 0 else best))

    stages = list(rows[0][2])
    width = max(len(s) for s in stages)
    print(f"{'stage':<{width}} " + " ".join(f"{f'{sp:g}mm n={n}':>16}" for sp, n, _ in rows)
          + "   slope  nlogn  flag")
    ns = np.array([n for _, n, _ in rows], dtype=float)
    log_n = np.log(ns)
    ref = np.polyfit(log_n, np.log(ns * np.log(ns)), 1)[0]
    totals = np.zeros(len(rows))
    for stage in stages + ["total"]:
        if stage == "total":
            ts = totals
        else:
            ts = np.array([r[2][stage] for r in rows])
            totals += ts
        slope = np.polyfit(log_n, np.log(np.maximum(ts, 1e-6)), 1)[0] if len(rows) > 1 else math.nan
        judged = ts[-1] * 1000.0 >= args.min_ms
        flag = "FASTER THAN n log n" if judged and slope > ref + args.slack else ""
        print(f"{stage:<{width}} " + " ".join(f"{1000 * t:14.1f}ms" for t in ts)
              + f"   {slope:5.2f}  {ref:5.2f}  {flag}")


if __name__ == "__main__":
    main()
