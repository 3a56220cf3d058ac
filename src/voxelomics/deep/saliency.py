"""Where the network looks: Grad-CAM or occlusion maps, drawn over the crop with the contour.

Two methods, both from MONAI (:mod:`monai.visualize`):

``gradcam``
    Grad-CAM (Selvaraju et al. 2017) on the last convolutional stage
    (:func:`voxelomics.deep.nets.gradcam_layer`): the stage's activations weighted by the
    spatially averaged gradient of the output, ReLU, upsampled to the crop, scaled to [0, 1].
    One backward pass; coarse (the last stage of ``small_cnn`` is 1/8 of the crop).
``occlusion``
    Occlusion sensitivity (Zeiler & Fergus 2014): the output drop when a Gaussian-weighted
    cube of ``mask_size`` voxels is hidden, for cubes over the whole crop. Model-agnostic and
    finer, but one forward pass per cube position.

The explained output is the predicted one: class 1 or class 0 of a binary target (the logit or
its negative), the predicted class of a multi-class target, a higher value or risk otherwise. Each case gives one PNG: axial slices through the ROI, the
image in grey (the window of the crop), the map in colour, the ROI contour in white.

References
----------
Selvaraju RR et al. Grad-CAM: visual explanations from deep networks via gradient-based
localization. ICCV 2017.
Zeiler MD, Fergus R. Visualizing and understanding convolutional networks. ECCV 2014.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from voxelomics.errors import ModelError

__all__ = ["METHODS", "saliency_map", "draw_saliency", "explain_cases"]

METHODS = ("gradcam", "occlusion")


class _TwoSided:
    """Wraps a one-output network as ``[-output, output]``, so both directions can be explained."""

    def __new__(cls, net):
        import torch

        class TwoSided(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.net = inner

            def forward(self, x):
                out = self.net(x)
                return torch.cat([-out, out], dim=1)

        return TwoSided(net)


def saliency_map(net, crop: np.ndarray, *, method: str = "gradcam", class_idx: int | None = None,
                 mask_size: int = 8) -> np.ndarray:
    """Saliency of one crop.

    Parameters
    ----------
    net : voxelomics.deep.nets.Net
    crop : ndarray of float32 of shape (channels, z, y, x)
    method : {"gradcam", "occlusion"}, default="gradcam"
    class_idx : int or None, default=None
        Output explained. For a one-output network (binary, continuous, survival) the output is
        seen as two, ``[-o, o]``: 1 explains what raises it (class 1, a higher value or risk), 0
        what lowers it; None explains the predicted side (class 1 when ``o > 0``). For a
        multi-class network, the class index; None: the predicted class.
    mask_size : int, default=8
        Occlusion cube edge (voxels).

    Returns
    -------
    ndarray of float32 of shape (z, y, x)
        Values in [0, 1] (1 = most important); all 0 when nothing in the crop supports the
        explained output.

    Raises
    ------
    ModelError
        Unknown method.
    """
    import torch

    from voxelomics.deep.nets import gradcam_layer

    net.eval()
    x = torch.from_numpy(np.ascontiguousarray(crop[None], np.float32))
    with torch.no_grad():
        out = net(x)[0]
    model, prefix = net, ""
    if out.numel() == 1:
        model, prefix = _TwoSided(net), "net."
        if class_idx is None:
            class_idx = int(float(out[0]) > 0)
    elif class_idx is None:
        class_idx = int(out.argmax())
    model.eval()
    if method == "gradcam":
        from monai.visualize import GradCAM

        cam = GradCAM(nn_module=model, target_layers=prefix + gradcam_layer(net))
        with torch.enable_grad():
            sal = np.asarray(cam(x, class_idx=class_idx).detach().cpu())[0, 0]
    elif method == "occlusion":
        from monai.visualize import OcclusionSensitivity

        occ = OcclusionSensitivity(nn_module=model, mask_size=mask_size, n_batch=16, verbose=False,
                                   activate=False)
        with torch.no_grad(), warnings.catch_warnings():
            # MONAI's occlusion indexes tensors with lists (a torch deprecation, not ours)
            warnings.filterwarnings("ignore", message=".*non-tuple sequence for multidimensional")
            base = float(model(x)[0, class_idx])
            occ_map, _ = occ(x)
        sal = np.maximum(base - np.asarray(occ_map.detach().cpu())[0, class_idx], 0.0)
    else:
        raise ModelError(f"unknown saliency method {method!r}; expected one of {', '.join(METHODS)}")
    sal = np.nan_to_num(sal.astype(np.float64))
    top = float(sal.max())
    return (sal / top if top > 0 else sal).astype(np.float32)


def draw_saliency(crop: np.ndarray, sal: np.ndarray, path: str | Path, *, title: str = "",
                  n_slices: int = 5) -> Path:
    """PNG of axial slices through the ROI: image, saliency and contour.

    Parameters
    ----------
    crop : ndarray of shape (channels, z, y, x)
        Channel 0 the windowed image; channel 1 (when present) the ROI mask.
    sal : ndarray of shape (z, y, x)
        Saliency in [0, 1].
    path : str or Path
        Output PNG.
    title : str
    n_slices : int, default=5
        Slices evenly spread over the ROI's z extent (over the crop without a mask).

    Returns
    -------
    Path
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    mask = crop[1] >= 0.5 if crop.shape[0] > 1 else None
    zs = np.flatnonzero(mask.any(axis=(1, 2))) if mask is not None and mask.any() else np.arange(crop.shape[1])
    pick = np.unique(np.round(np.linspace(zs[0], zs[-1], min(n_slices, zs.size))).astype(int))
    fig, axes = plt.subplots(1, pick.size, figsize=(2.4 * pick.size, 2.8), squeeze=False)
    for ax, z in zip(axes[0], pick, strict=True):
        ax.imshow(crop[0, z], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        # weak saliency is left transparent, so the image stays readable
        ax.imshow(np.ma.masked_less(sal[z], 0.1), cmap="jet", alpha=0.45, vmin=0, vmax=1,
                  interpolation="bilinear")
        if mask is not None and mask[z].any():
            ax.contour(mask[z].astype(float), levels=[0.5], colors="white", linewidths=1.0)
        ax.set_title(f"z = {z}", fontsize=8)
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def explain_cases(model_dir, manifest, out, *, cases=None, method: str = "gradcam",
                  cache_dir=None, progress: bool = True) -> list[Path]:
    """Saliency PNGs of some cases of a manifest with a saved model.

    Parameters
    ----------
    model_dir : str or Path
        Folder written by ``voxelomics deep train``.
    manifest : str or Path
    out : str or Path
        Folder for ``<case_id>_<roi>_<method>.png``.
    cases : sequence of str or None
        Case identifiers (default: every case).
    method : {"gradcam", "occlusion"}, default="gradcam"
    cache_dir : str or Path or None
    progress : bool, default=True

    Returns
    -------
    list of Path

    Raises
    ------
    ModelError
        Unknown method or case identifiers not in the manifest.
    """
    from voxelomics.deep.persist import load_deep_model
    from voxelomics.deep.train import predict_outputs, scores_from_outputs
    from voxelomics.deep.workflow import load_cohort

    if method not in METHODS:
        raise ModelError(f"unknown saliency method {method!r}; expected one of {', '.join(METHODS)}")
    saved = load_deep_model(model_dir)
    cohort = load_cohort(manifest, saved.settings, cache_dir=cache_dir, progress=progress,
                         group=None, allow_failures=False)
    wanted = list(range(len(cohort.ids)))
    if cases:
        unknown = [c for c in cases if c not in cohort.ids]
        if unknown:
            raise ModelError(f"case(s) {unknown[:5]} are not in the manifest", path=manifest)
        wanted = [i for i, c in enumerate(cohort.ids) if c in set(cases)]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    task = saved.meta["task"]
    raw = predict_outputs(saved.net, cohort.arrays, wanted)
    scores = scores_from_outputs(task, raw, tuple(saved.meta.get("output_affine", (0.0, 1.0))))
    paths = []
    for j, i in enumerate(wanted):
        k = int(raw[j].argmax()) if task == "multiclass" else 1
        # binary: the predicted class (calibrated probability); others: the predicted class or
        # what raises the value / risk
        explained = int(float(scores[j]) >= 0.5) if task == "classification" else k
        sal = saliency_map(saved.net, cohort.arrays[i], method=method, class_idx=explained)
        s = scores[j]
        what = {"classification": f"P(class 1) = {float(s):.2f}, explaining class "
                                  f"{saved.meta['classes'][int(float(s) >= 0.5)]}", "regression": f"prediction {float(s):.3g}",
                "survival": f"log-risk {float(s):.2f}"}.get(task, f"class {saved.meta['classes'][k]}")
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{cohort.ids[i]}_{cohort.crops.rois[i]}")
        paths.append(draw_saliency(cohort.arrays[i], sal, out / f"{safe}_{method}.png",
                                   title=f"{cohort.ids[i]} ({cohort.crops.rois[i]}): {what}, {method}"))
    return paths
