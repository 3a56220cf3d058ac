"""Saved deep models: a state dict and a JSON sidecar; loading never runs code.

A model folder holds

* ``model.pt``: the network's state dict (tensors only), read back with
  ``torch.load(weights_only=True)``;
* ``model.json``: what is needed to rebuild and use it: format version, architecture, the full
  deep settings (crop, network, training), task, classes, target columns and scale, input
  channels, training summary, package versions and hashed training case identifiers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from voxelomics.errors import ModelError

__all__ = ["FORMAT", "SavedModel", "save_deep_model", "load_deep_model", "id_hash"]

#: ``format`` of ``model.json``.
FORMAT = "voxelomics-deep-model/1"


@dataclass
class SavedModel:
    """A loaded model folder.

    Attributes
    ----------
    net : voxelomics.deep.nets.Net
        In evaluation mode, on the CPU.
    meta : dict
        ``model.json``.
    settings : voxelomics.deep.config.DeepSettings
        The settings the model was trained with (its crops must be made the same way).
    """

    net: object
    meta: dict
    settings: object


def id_hash(value) -> str:
    """Short SHA-256 of an identifier (so sidecars never hold identifiers in plain text).

    Parameters
    ----------
    value : object

    Returns
    -------
    str
        16 hexadecimal digits.
    """
    return hashlib.sha256(str(value).strip().encode()).hexdigest()[:16]


def save_deep_model(net, meta: dict, out: str | Path) -> Path:
    """Write ``out/model.pt`` and ``out/model.json``.

    Parameters
    ----------
    net : voxelomics.deep.nets.Net
    meta : dict
        Sidecar content; must hold ``settings`` (a DeepSettings dump), ``task``,
        ``n_outputs`` and ``in_channels``. ``format`` and ``versions`` are added.
    out : str or Path
        Folder (created).

    Returns
    -------
    Path
        The folder.
    """
    import torch

    from voxelomics.cohort.outputs import package_versions

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    torch.save(state, out / "model.pt")
    versions = package_versions()
    versions.update(torch=torch.__version__)
    try:
        import monai

        versions["monai"] = monai.__version__
    except ImportError:  # pragma: no cover - monai is part of the deep extra
        pass
    meta = {"format": FORMAT, **meta, "versions": versions}
    (out / "model.json").write_text(json.dumps(meta, indent=2, default=str, allow_nan=True))
    return out


def load_deep_model(path: str | Path) -> SavedModel:
    """Rebuild a saved model from its folder.

    Parameters
    ----------
    path : str or Path
        Folder written by :func:`save_deep_model` (or its ``model.json``).

    Returns
    -------
    SavedModel

    Raises
    ------
    ModelError
        Missing files, another format, or weights that do not fit the recorded architecture.
    """
    import torch

    from voxelomics.deep.config import DeepSettings
    from voxelomics.deep.nets import build_net

    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    side, weights = folder / "model.json", folder / "model.pt"
    if not side.is_file() or not weights.is_file():
        raise ModelError("not a voxelomics deep model folder (model.json and model.pt expected; "
                         "write one with 'voxelomics deep train')", path=folder)
    try:
        meta = json.loads(side.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"model.json cannot be read: {exc}", path=side) from None
    if meta.get("format") != FORMAT:
        raise ModelError(f"model.json has format {meta.get('format')!r}, expected {FORMAT!r}",
                         path=side)
    settings = DeepSettings.model_validate(meta["settings"])
    net = build_net(settings.net, int(meta["in_channels"]), int(meta["n_outputs"]))
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
    except Exception as exc:
        raise ModelError(f"the weights do not fit the architecture {settings.net.arch!r} recorded "
                         f"in model.json: {str(exc).splitlines()[0]}", path=weights) from None
    net.eval()
    return SavedModel(net, meta, settings)
