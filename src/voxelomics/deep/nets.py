"""3-D networks: a small CNN for CPUs, MONAI's ResNets and DenseNet121, and checkpoint loading.

Every network is a :class:`Net`: a *backbone* that maps a batch of crops of shape
(batch, channels, z, y, x) to one embedding vector per crop (the penultimate layer, written by
``voxelomics deep features``), then a linear *head* to the outputs (1 logit for a binary target,
one per class, 1 value for a continuous target, 1 log-risk for survival). State-dict keys are
``backbone.*`` and ``head.*``.

``small_cnn`` is ours: four blocks of 3x3x3 convolution, batch normalisation and ReLU, with
2x max pooling between them and global average pooling at the end; channels ``width``,
``2 width``, ``4 width``, ``8 width``. With ``width=8`` on 32^3 crops it has ~100 k weights and
trains on a laptop CPU in minutes. The MONAI networks (Hara et al. 2018 3-D ResNets, Huang et
al. 2017 DenseNet) are for GPUs.

Checkpoints of other projects (:func:`load_backbone_weights`) are read with
``torch.load(weights_only=True)``, so a file cannot run code. Nothing is ever downloaded.

References
----------
Hara K, Kataoka H, Satoh Y. Can spatiotemporal 3D CNNs retrace the history of 2D CNNs and
ImageNet? CVPR 2018 (3-D ResNets).
Chen S, Ma K, Zheng Y. Med3D: transfer learning for 3D medical image analysis.
arXiv:1904.00625, 2019 (MedicalNet).
Pai S et al. Foundation model for cancer imaging biomarkers. Nat Mach Intell 6 (2024) 354-367.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from voxelomics.deep.config import ARCHITECTURES, NetSettings
from voxelomics.errors import ModelError

__all__ = ["Net", "SmallCNN", "build_net", "load_backbone_weights", "gradcam_layer"]


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm3d(c_out),
                         nn.ReLU(inplace=True))


class SmallCNN(nn.Module):
    """Four convolution blocks and global average pooling (the ``small_cnn`` backbone).

    Parameters
    ----------
    in_channels : int
    width : int, default=8
        Channels of the first block; doubled at each block.

    Attributes
    ----------
    out_features : int
        Embedding size, ``8 * width``.
    """

    def __init__(self, in_channels: int, width: int = 8):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _block(in_channels, w), nn.MaxPool3d(2),
            _block(w, 2 * w), nn.MaxPool3d(2),
            _block(2 * w, 4 * w), nn.MaxPool3d(2),
            _block(4 * w, 8 * w),
        )
        self.pool = nn.Sequential(nn.AdaptiveAvgPool3d(1), nn.Flatten())
        self.out_features = 8 * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings of a batch.

        Parameters
        ----------
        x : Tensor of shape (batch, channels, z, y, x)

        Returns
        -------
        Tensor of shape (batch, out_features)
        """
        return self.pool(self.features(x))


class _DenseNetBackbone(nn.Module):
    """MONAI DenseNet121 without its output layer (features, ReLU, pooling)."""

    def __init__(self, in_channels: int):
        super().__init__()
        from monai.networks.nets import DenseNet121

        net = DenseNet121(spatial_dims=3, in_channels=in_channels, out_channels=1)
        self.features = net.features
        self.pool = nn.Sequential(nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten())
        self.out_features = net.class_layers.out.in_features

    def forward(self, x):
        return self.pool(self.features(x))


def _resnet(arch: str, in_channels: int) -> nn.Module:
    from monai.networks.nets import resnet
    from monai.networks.nets.resnet import get_medicalnet_pretrained_resnet_args

    depth = int(arch.rsplit("resnet", 1)[1])
    kwargs: dict = dict(spatial_dims=3, n_input_channels=in_channels, feed_forward=False)
    if arch.startswith("medicalnet_"):
        # MedicalNet's layout: a 7^3 stem with stride 2, shortcut and bias as published per depth
        bias_downsample, shortcut = get_medicalnet_pretrained_resnet_args(depth)
        kwargs.update(conv1_t_stride=2, shortcut_type=shortcut, bias_downsample=bias_downsample)
    elif arch == "fmcib_resnet50":
        # Pai et al.'s trunk: MONAI resnet50, twice as wide, stride-2 stem
        kwargs.update(widen_factor=2, conv1_t_stride=2, bias_downsample=True)
    net = getattr(resnet, f"resnet{depth}")(pretrained=False, **kwargs)
    net.out_features = int(512 * (4 if depth >= 50 else 1) * kwargs.get("widen_factor", 1))
    return net


class Net(nn.Module):
    """Backbone (to embeddings) plus a linear head (to outputs).

    Parameters
    ----------
    backbone : nn.Module
        Maps (batch, channels, z, y, x) to (batch, ``backbone.out_features``).
    n_outputs : int
    dropout : float, default=0.0
        Dropout before the head.
    """

    def __init__(self, backbone: nn.Module, n_outputs: int, dropout: float = 0.0):
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(backbone.out_features, n_outputs)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer embeddings.

        Parameters
        ----------
        x : Tensor of shape (batch, channels, z, y, x)

        Returns
        -------
        Tensor of shape (batch, n_embedding)
        """
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs (logits, values or log-risks).

        Parameters
        ----------
        x : Tensor of shape (batch, channels, z, y, x)

        Returns
        -------
        Tensor of shape (batch, n_outputs)
        """
        return self.head(self.dropout(self.backbone(x)))


def build_net(settings: NetSettings, in_channels: int, n_outputs: int) -> Net:
    """The network named by ``settings.arch``, with fresh weights from torch's current seed.

    Parameters
    ----------
    settings : NetSettings
    in_channels : int
        1 (image) or 2 (image and mask).
    n_outputs : int

    Returns
    -------
    Net

    Raises
    ------
    ModelError
        Unknown architecture.
    """
    arch = settings.arch
    if arch == "small_cnn":
        backbone = SmallCNN(in_channels, settings.width)
    elif arch == "densenet121":
        backbone = _DenseNetBackbone(in_channels)
    elif "resnet" in arch and arch in ARCHITECTURES:
        backbone = _resnet(arch, in_channels)
    else:
        raise ModelError(f"unknown architecture {arch!r}; expected one of {', '.join(ARCHITECTURES)}")
    return Net(backbone, n_outputs, settings.dropout)


#: Keys under which other projects store the weights inside a checkpoint file.
_WRAPPERS = ("state_dict", "model_state_dict", "trunk_state_dict", "model", "net", "network")
#: Prefixes other projects put before the layer names (DataParallel, their own wrappers).
_PREFIXES = ("module.", "trunk.", "backbone.", "model.", "encoder.")


def _read_state(path: Path) -> dict:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelError("weights file not found", path=path) from None
    except Exception as exc:  # pickle refused (code inside) or not a torch file
        raise ModelError(
            f"cannot read the weights with torch.load(weights_only=True): {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''} (only tensors and plain containers are "
            "loaded, never code; save a state dict: torch.save(model.state_dict(), FILE))",
            path=path) from None
    for _ in range(2):
        if isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
            inner = next((obj[k] for k in _WRAPPERS if isinstance(obj.get(k), dict)), None)
            if inner is None:
                break
            obj = inner
    if not isinstance(obj, dict) or not any(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(
            "the file holds no state dict (a mapping of layer names to tensors, possibly under "
            f"one of the keys {', '.join(_WRAPPERS)})", path=path)
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def _strip(state: dict, expected: set[str]) -> dict:
    """Drop the wrapper prefixes that keep the names from matching the backbone's."""
    for _ in range(3):
        if len(expected & set(state)) >= len(expected) // 2:
            break
        for prefix in _PREFIXES:
            if sum(k.startswith(prefix) for k in state) > len(state) // 2:
                state = {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in state.items()}
                break
        else:
            break
    return state


def load_backbone_weights(net: Net, path: str | Path, *, arch: str) -> dict:
    """Load a user's checkpoint into the backbone of ``net`` (the head keeps its weights).

    Accepted: a state dict of the backbone (MONAI / MedicalNet / Pai et al. layer names, with
    or without ``module.``/``trunk.`` prefixes, possibly under ``state_dict`` or
    ``trunk_state_dict``), or a whole :class:`Net` state dict saved by voxelomics.

    Parameters
    ----------
    net : Net
    path : str or Path
        File written by ``torch.save``; read with ``weights_only=True``.
    arch : str
        Architecture name, for the messages.

    Returns
    -------
    report : dict
        ``n_loaded`` (tensors loaded), ``ignored`` (names in the file that are not part of the
        backbone, e.g. a classifier head), ``head_loaded`` (bool).

    Raises
    ------
    ModelError
        Unreadable file; a layer of the backbone missing from the file, or of another shape
        (the file's layout does not fit ``arch``), with the first differences named.
    """
    path = Path(path)
    state = _read_state(path)
    full = net.state_dict()
    backbone = {k[len("backbone."):]: v for k, v in full.items() if k.startswith("backbone.")}
    head_state = {}
    if any(k.startswith("backbone.") for k in state):
        head_state = {k[len("head."):]: v for k, v in state.items() if k.startswith("head.")}
        state = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
    state = _strip(state, set(backbone))
    missing = [k for k in backbone if k not in state]
    wrong = [f"{k}: file {tuple(state[k].shape)} vs {arch} {tuple(v.shape)}"
             for k, v in backbone.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or wrong:
        found = len(backbone) - len(missing)
        parts = [f"the file's layout does not fit architecture {arch!r}: {found} of "
                 f"{len(backbone)} backbone tensors found by name"]
        if wrong:
            parts.append(f"{len(wrong)} of another shape (first: {'; '.join(wrong[:3])})")
            first = next((k for k, v in backbone.items() if v.ndim == 5), None)
            if first in state and state[first].ndim == 5 and state[first].shape[1] != backbone[first].shape[1]:
                parts.append(f"the file's first convolution takes {state[first].shape[1]} input "
                             f"channel(s), this network {backbone[first].shape[1]}: set "
                             "crop.mask_channel to match the checkpoint (false: image only)")
        if missing:
            parts.append(f"missing: {', '.join(missing[:3])}" + (" ..." if len(missing) > 3 else ""))
        extra = [k for k in state if k not in backbone]
        if extra:
            parts.append(f"the file holds e.g. {', '.join(extra[:3])}")
        raise ModelError("; ".join(parts), path=path)
    net.backbone.load_state_dict({k: state[k] for k in backbone}, strict=True)
    head_loaded = False
    if head_state and all(k in head_state and head_state[k].shape == v.shape
                          for k, v in net.head.state_dict().items()):
        net.head.load_state_dict(head_state)
        head_loaded = True
    return {"n_loaded": len(backbone), "ignored": sorted(k for k in state if k not in backbone),
            "head_loaded": head_loaded}


def gradcam_layer(net: Net) -> str:
    """Name of the last convolutional stage of ``net`` (the Grad-CAM target layer).

    Parameters
    ----------
    net : Net

    Returns
    -------
    str
        A module name of ``net``: ``backbone.features.6`` (small CNN), ``backbone.layer4``
        (ResNets), ``backbone.features.norm5`` (DenseNet121), else the last Conv3d.
    """
    names = dict(net.named_modules())
    for name in ("backbone.features.6", "backbone.layer4", "backbone.features.norm5"):
        if name in names:
            return name
    return [n for n, m in names.items() if isinstance(m, nn.Conv3d)][-1]
