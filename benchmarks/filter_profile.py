"""Where a filtered extraction spends its time: per stage, per filter and per family.

One case, the matched filtered setting of ``vs_peers.py --setting filtered`` (IBSI
configuration C, LoG σ 1, 2, 3 mm, the 8 coif1 sub-bands, first-order and texture families
on every response map), timed stage by stage as the extraction runs them: reading,
preprocessing, the image's own families, then for every response map its filter and its
families. CPU time (``time.process_time``, single-threaded) so that the figures do not
depend on the machine's load; the minimum of ``--repeat`` runs is kept.

Usage::

    python benchmarks/filter_profile.py [IMAGE MASK] --repeat 3
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = (ROOT / "data/cases/sts_001_ct_image.nii.gz", ROOT / "data/cases/sts_001_ct_mask.nii.gz")
MAP_FAMILIES = ["statistics", "histogram", "glcm", "glrlm", "glszm", "ngtdm", "ngldm"]


def settings():
    from voxelomics.settings import Settings

    return Settings.from_dict({
        "preset": "ibsi-c",
        "filters": [{"type": "log", "sigma_mm": s} for s in (1.0, 2.0, 3.0)]
                   + [{"type": "wavelet", "wavelet": "coif1", "subbands": "all"}],
        "response_maps": {"families": MAP_FAMILIES},
    })


def profile(image: Path, mask: Path) -> dict[str, float]:
    """CPU seconds per stage of one extraction."""
    from voxelomics.extract.case import PreprocessedCase, preprocess_case
    from voxelomics.extract.families import (
        FILTER_DTYPE,
        _response_box,
        compute_features,
        response_settings,
    )
    from voxelomics.filters import iter_responses
    from voxelomics.io import load_case

    clock = time.process_time
    out: dict[str, float] = defaultdict(float)
    t = clock()
    volume, roi = load_case(image, mask)
    out["read"] = clock() - t
    s = settings().for_modality(volume.modality or "CT")
    t = clock()
    pre = preprocess_case(volume, roi, s)
    out["preprocess"] = clock() - t
    t = clock()
    compute_features(pre, s, n_threads=1)
    out["image families"] = clock() - t
    per = response_settings(s)
    image32 = pre.image.astype(FILTER_DTYPE)
    box = _response_box(pre, per.families)
    boxed = PreprocessedCase(None, pre.morph_mask[box], pre.intensity_mask[box], pre.spacing_mm)
    for spec in s.filters:
        t = clock()
        for prefix, response in iter_responses(image32, pre.spacing_mm, spec):
            out[f"filter {prefix}"] += clock() - t
            response = response[box].astype(np.float64)
            for fam in per.families:
                one = per.model_copy(update={"families": [fam]})
                t = clock()
                compute_features(boxed.with_image(response), one, n_threads=1)
                out[f"maps: {fam}"] += clock() - t
            t = clock()
    return dict(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?", type=Path, default=DEFAULT[0])
    parser.add_argument("mask", nargs="?", type=Path, default=DEFAULT[1])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    profile(args.image, args.mask)  # warm-up (imports, caches)
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        run = profile(args.image, args.mask)
        best = run if not best else {k: min(best[k], v) for k, v in run.items()}
    total = sum(best.values())
    filters = sum(v for k, v in best.items() if k.startswith("filter "))
    maps = sum(v for k, v in best.items() if k.startswith("maps: "))
    print(f"case {args.image.name}: CPU ms (min of {args.repeat}), single thread")
    for k, v in best.items():
        print(f"  {k:<32} {1000 * v:8.1f}")
    print(f"  {'all filters':<32} {1000 * filters:8.1f}  ({100 * filters / total:.0f} %)")
    print(f"  {'all response-map families':<32} {1000 * maps:8.1f}  ({100 * maps / total:.0f} %)")
    print(f"  {'total':<32} {1000 * total:8.1f}")


if __name__ == "__main__":
    main()
