"""Time the public API ``extract_features`` from file paths to the feature dict.

Warm process: imports and one warm-up call are excluded; file reading is included.

Usage::

    python benchmarks/extract_speed.py IMAGE MASK --preset ibsi-c --repeat 5 [--threads N]

``--threads`` is passed as ``n_threads`` (families of the case in N threads; default: the
API default, ``min(4, os.cpu_count())``; ``1``: serial).

Prints one line per repetition: ``extract_s=SECONDS n_features=N``, then the median and
the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("mask")
    parser.add_argument("--preset", default="ibsi-c")
    parser.add_argument("--settings", default=None, help="settings YAML (overrides --preset)")
    parser.add_argument("--modality", default=None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-warmup", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="n_threads (default: the API default)")
    args = parser.parse_args()
    kw = {} if args.threads is None else {"n_threads": args.threads}

    from voxelomics import extract_features

    settings = args.settings or args.preset
    if not args.no_warmup:
        extract_features(args.image, args.mask, settings, modality=args.modality, **kw)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        feats = extract_features(args.image, args.mask, settings, modality=args.modality, **kw)
        dt = time.perf_counter() - t0
        times.append(dt)
        print(f"extract_s={dt:.4f} n_features={len(feats)}", flush=True)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"median_s={statistics.median(times):.4f} peak_rss_mib={peak_mib:.0f}")


if __name__ == "__main__":
    main()
