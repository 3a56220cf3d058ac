"""Synthetic CT-like cases written as NIfTI (helpers of the deep-learning tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_case(folder: Path, name: str, *, radius_mm: float, hu: float, shape=(20, 20, 20),
               spacing=(1.5, 1.5, 1.5), centre=None, seed: int = 0, direction=None) -> tuple[Path, Path]:
    """Write image and mask NIfTI files of one sphere; returns their paths."""
    import SimpleITK as sitk

    rng = np.random.default_rng(seed)
    zz, yy, xx = np.indices(shape).astype(float)
    c = np.asarray(centre if centre is not None else [(n - 1) / 2 for n in shape], float)
    dist = np.sqrt(sum(((g - ci) * s) ** 2 for g, ci, s in zip((zz, yy, xx), c, spacing, strict=True)))
    mask = dist <= radius_mm
    image = np.full(shape, -1000.0) + rng.normal(0, 20, shape)
    image[mask] = hu + rng.normal(0, 20, int(mask.sum()))
    paths = []
    for arr, kind, dtype in ((image, "image", np.int16), (mask, "mask", np.uint8)):
        img = sitk.GetImageFromArray(arr.astype(dtype))
        img.SetSpacing(tuple(float(s) for s in spacing[::-1]))
        if direction is not None:
            img.SetDirection(tuple(float(v) for v in np.asarray(direction).ravel()))
        p = folder / f"{name}_{kind}.nii.gz"
        sitk.WriteImage(img, str(p))
        paths.append(p)
    return paths[0], paths[1]
