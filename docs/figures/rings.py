"""Draw docs/figures/rings_sts_001.png: the sarcoma CT with its GTV and two peritumoral rings.

Run from the repository root: ``python docs/figures/rings.py`` (needs matplotlib and the
bundled ``data/cases/sts_001_ct_*``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from voxelomics.io import load_case  # noqa: E402
from voxelomics.preprocess.roi import peritumoral_ring  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def main() -> Path:
    image, mask = load_case(ROOT / "data/cases/sts_001_ct_image.nii.gz", ROOT / "data/cases/sts_001_ct_mask.nii.gz")
    rings = {mm: peritumoral_ring(image, mask, outside_mm=mm, body_threshold=-300)[0].array for mm in (5, 10)}
    z = int(np.argmax(mask.array.sum(axis=(1, 2))))
    y = int(np.argmax(mask.array.sum(axis=(0, 2))))
    sy, sx = image.spacing_mm[1], image.spacing_mm[2]
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.6), gridspec_kw={"width_ratios": [1, 1]})
    width = image.shape[2] * sx
    views = [
        (f"axial slice (z = {z})", lambda a: a[z], (0, width, image.shape[1] * sy, 0)),
        (f"coronal slice (y = {y}), 3.27 mm slices", lambda a: a[:, y],
         (0, width, image.shape[0] * image.spacing_mm[0], 0)),
    ]
    for ax, (title, cut, extent) in zip(axes, views, strict=True):
        ax.imshow(cut(image.array), cmap="gray", vmin=-160, vmax=240, extent=extent, interpolation="nearest")
        for arr, colour, label in ((rings[10], "tab:orange", "ring 5-10 mm"), (rings[5], "tab:cyan", "ring 0-5 mm"),
                                   (mask.array, "tab:red", "GTV")):
            show = arr & ~rings[5] if arr is rings[10] else arr
            ax.contour(cut(show), levels=[0.5], colors=colour, linewidths=1.0, extent=extent, origin="upper")
            ax.plot([], [], color=colour, label=label)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("mm")
        ax.set_ylabel("mm")
        ax.set_aspect("equal")
    axes[0].legend(loc="lower left", fontsize=8, framealpha=0.8)
    fig.suptitle("STS_001 CT: GTV_Mass, 5 mm and 10 mm peritumoral rings (clipped to the body at -300 HU)",
                 fontsize=10)
    fig.tight_layout()
    out = Path(__file__).with_name("rings_sts_001.png")
    fig.savefig(out, dpi=110)
    return out


if __name__ == "__main__":
    print(main())
