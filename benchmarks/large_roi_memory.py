"""Peak memory and time of one large case: a 512×512×300 CT with a whole-lung-sized ROI.

The image is synthetic (lung-like HU texture with noise) so the benchmark needs no large data;
the ROI is two ellipsoids of about 5 litres in total, the size of both lungs. Prints the time
and peak resident memory of ``extract_features`` with the ``default`` preset (CT).

Usage::

    python benchmarks/large_roi_memory.py [--spacing-mm 2] [--slices 300]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


def build_case(folder: Path, n_slices: int) -> tuple[Path, Path]:
    import SimpleITK as sitk

    rng = np.random.default_rng(0)
    shape = (n_slices, 512, 512)
    spacing_xyz = (0.7, 0.7, 1.0)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    zc, yc = shape[0] / 2, shape[1] / 2
    mask = np.zeros(shape, dtype=np.uint8)
    for xc in (170, 342):  # two lungs
        inside = ((z - zc) / (0.45 * shape[0])) ** 2 + ((y - yc) / 150) ** 2 + ((x - xc) / 75) ** 2 <= 1
        mask[inside] = 1
    image = np.full(shape, 40, dtype=np.int16)  # soft tissue
    image[mask > 0] = -850
    image += rng.normal(0, 60, size=shape).astype(np.int16)
    img = sitk.GetImageFromArray(image)
    img.SetSpacing(spacing_xyz)
    msk = sitk.GetImageFromArray(mask)
    msk.CopyInformation(img)
    paths = folder / "ct.nii.gz", folder / "lungs.nii.gz"
    sitk.WriteImage(img, str(paths[0]))
    sitk.WriteImage(msk, str(paths[1]))
    roi_ml = mask.sum() * np.prod(spacing_xyz) / 1000
    print(f"image {shape[::-1]} (x, y, z) at {spacing_xyz} mm, ROI {mask.sum()} voxels = {roi_ml:.0f} ml")
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--spacing-mm", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # Build the case in a child process so its memory does not count as ours.
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        proc = ctx.Process(target=build_case, args=(Path(tmp), args.slices))
        proc.start()
        proc.join()
        image, mask = Path(tmp) / "ct.nii.gz", Path(tmp) / "lungs.nii.gz"
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        from voxelomics import extract_features
        from voxelomics.settings import Settings

        settings = Settings.from_dict(
            {"preset": "default", "resampling": {"spacing_mm": [args.spacing_mm] * 3}}
        )
        t0 = time.perf_counter()
        feats = extract_features(image, mask, settings, modality="CT")
        dt = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"extract_s={dt:.1f} n_features={len(feats)} peak_rss_mib={peak:.0f} "
          f"(before extraction: {before:.0f})")


if __name__ == "__main__":
    main()
