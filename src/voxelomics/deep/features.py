"""Deep features: one penultimate-layer embedding per case, as a table joinable with radiomics.

``voxelomics deep features`` writes ``deep_features.parquet``: one row per manifest row with the
identifiers ``case_id`` and ``roi`` (named exactly as ``voxelomics extract`` names them, so the two
tables join on them), then the embedding columns ``deep_<arch>_<k>``, and nothing else: the
manifest's other columns (outcomes, readers' ratings) stay out, so every non-identifier column
of the table is a feature and no outcome can leak into a model through it (join the manifest
as the clinical table). The Parquet metadata holds the settings, the network's
provenance (a model trained here, or a user's checkpoint with its SHA-256) and the package
versions. Failed cases go to ``errors.csv`` beside it.

The network is either a model folder written by ``voxelomics deep train``, or a user's checkpoint
(``--weights FILE --arch NAME``, e.g. MedicalNet's 3-D ResNets or the foundation model of Pai et
al. 2024), loaded with ``torch.load(weights_only=True)``. Nothing is downloaded.

.. warning::
   Embeddings of a network trained on the same cases and outcome (``deep train`` on this
   cohort) are fitted to those labels: cross-validating a model on them is optimistic. The
   metadata records how many of the cases the network was trained on, and a warning is given.
   Use a network trained elsewhere (a checkpoint, or a model trained on another cohort), or
   ``voxelomics deep cv --radiomics`` for fusion inside the folds.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from voxelomics.errors import SettingsError, VoxelomicsWarning

__all__ = ["FeatureResult", "TrainedOnCasesWarning", "deep_features", "feature_network"]


class TrainedOnCasesWarning(VoxelomicsWarning):
    """Deep features were written for cases the network was trained on (with their labels)."""


@dataclass
class FeatureResult:
    """Outcome of :func:`deep_features`.

    Attributes
    ----------
    table : pandas.DataFrame
        The rows written.
    path : Path
        The Parquet file.
    errors : list of dict
        Failed cases (also in ``errors.csv``).
    n_trained_on : int
        Cases of the table the network was trained on.
    """

    table: pd.DataFrame
    path: Path
    errors: list
    n_trained_on: int = 0

    @property
    def exit_code(self) -> int:
        """0 when every case succeeded, 1 when some failed."""
        return 1 if self.errors else 0


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def feature_network(*, model_dir=None, weights=None, arch: str | None = None, settings=None):
    """The network whose embeddings are written, with its settings and provenance.

    Parameters
    ----------
    model_dir : str or Path or None
        Folder written by ``voxelomics deep train``.
    weights : str or Path or None
        A user's checkpoint (state dict), with ``arch``.
    arch : str or None
        Architecture of ``weights`` (see :data:`voxelomics.deep.config.ARCHITECTURES`).
    settings : DeepSettings or None
        Crop settings for ``weights`` (default: the defaults, with ``net.arch = arch`` and, for
        one-channel layouts, no mask channel).

    Returns
    -------
    net : voxelomics.deep.nets.Net
    settings : DeepSettings
    provenance : dict
        ``source`` (``"model"`` or ``"weights"``), the file, its SHA-256 or the model's
        training summary, and the hashed training case identifiers (models only).

    Raises
    ------
    SettingsError
        Neither or both of ``model_dir`` and ``weights``; ``weights`` without ``arch``.
    ModelError
        Unreadable files, or a checkpoint whose layout does not fit ``arch``.
    """
    from voxelomics.deep.config import PRETRAINED_LAYOUTS, DeepSettings
    from voxelomics.deep.nets import build_net, load_backbone_weights
    from voxelomics.deep.persist import load_deep_model

    if (model_dir is None) == (weights is None):
        raise SettingsError("give a model folder (--model DIR) or a checkpoint (--weights FILE "
                            "--arch NAME), one of the two")
    if model_dir is not None:
        saved = load_deep_model(model_dir)
        prov = {"source": "model", "model_dir": str(model_dir), "arch": saved.settings.net.arch,
                "task": saved.meta.get("task"), "target_columns": saved.meta.get("target_columns"),
                "training": saved.meta.get("training"),
                "training_ids_sha256": saved.meta.get("training_ids_sha256") or []}
        return saved.net, saved.settings, prov
    if arch is None:
        raise SettingsError("--weights needs --arch NAME (the architecture the file was saved from)")
    if settings is None:
        settings = DeepSettings()
    crop = settings.crop
    if arch in PRETRAINED_LAYOUTS and crop.mask_channel:
        crop = crop.model_copy(update={"mask_channel": False})
    settings = DeepSettings.model_validate({**settings.model_dump(mode="json"),
                                            "crop": crop.model_dump(mode="json"),
                                            "net": {**settings.net.model_dump(mode="json"), "arch": arch}})
    net = build_net(settings.net, settings.crop.n_channels, 1)
    report = load_backbone_weights(net, weights, arch=arch)
    net.eval()
    prov = {"source": "weights", "weights": str(weights), "weights_sha256": _sha256(Path(weights)),
            "arch": arch, "load_report": report, "training_ids_sha256": []}
    return net, settings, prov


def deep_features(manifest: str | Path, out: str | Path, *, model_dir=None, weights=None,
                  arch: str | None = None, settings=None, cache_dir: str | Path | None = None,
                  progress: bool = True) -> FeatureResult:
    """Write the penultimate-layer embedding of every case to Parquet.

    Parameters
    ----------
    manifest : str or Path
        Cohort manifest (as for ``voxelomics extract``).
    out : str or Path
        Parquet file to write (``errors.csv`` goes beside it).
    model_dir, weights, arch, settings
        The network: see :func:`feature_network`.
    cache_dir : str or Path or None
        Crop cache; default ``<out folder>/.crops``.
    progress : bool, default=True

    Returns
    -------
    FeatureResult

    Raises
    ------
    SettingsError, ModelError
        See :func:`feature_network`.

    Warns
    -----
    TrainedOnCasesWarning
        Some cases were in the network's training set.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from voxelomics.cohort.outputs import package_versions, utc_now
    from voxelomics.deep.persist import id_hash
    from voxelomics.deep.train import embeddings
    from voxelomics.deep.workflow import load_cohort

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    net, settings, prov = feature_network(model_dir=model_dir, weights=weights, arch=arch,
                                          settings=settings)
    cohort = load_cohort(manifest, settings, cache_dir=cache_dir or out.parent / ".crops",
                         progress=progress, errors_csv=out.parent / "errors.csv",
                         allow_failures=True, group=None)
    emb = embeddings(net, cohort.arrays, batch_size=settings.train.batch_size)
    arch_name = settings.net.arch
    cols = [f"deep_{arch_name}_{k:03d}" for k in range(emb.shape[1])]
    table = pd.DataFrame({"case_id": cohort.ids, "roi": cohort.crops.rois})
    table = pd.concat([table, pd.DataFrame(emb.astype(np.float64), columns=cols)], axis=1)
    trained = set(prov.get("training_ids_sha256") or [])
    n_trained = sum(id_hash(i) in trained for i in cohort.ids) if trained else 0
    if n_trained:
        warnings.warn(
            f"{n_trained} of the {len(cohort.ids)} cases were in the training set of this network "
            "(with their labels): their embeddings are fitted to that outcome, and cross-validating "
            "a model of the same outcome on them is optimistic", TrainedOnCasesWarning, stacklevel=2)
    prov = {k: v for k, v in prov.items() if k != "training_ids_sha256"}
    meta = {
        "voxelomics.kind": "deep_features",
        "voxelomics.deep.settings": settings.model_dump_json(),
        "voxelomics.deep.crop_hash": settings.crop.crop_hash(),
        "voxelomics.deep.network": json.dumps(prov, default=str),
        "voxelomics.deep.n_trained_on": str(n_trained),
        "voxelomics.versions": json.dumps(_versions(package_versions())),
        "voxelomics.created": utc_now(),
    }
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}),
                                           **{k.encode(): v.encode() for k, v in meta.items()}})
    tmp = out.with_name(f".{out.name}.tmp")
    pq.write_table(arrow, tmp)
    tmp.replace(out)
    return FeatureResult(table, out, cohort.crops.errors, n_trained)


def _versions(base: dict) -> dict:
    import torch

    out = dict(base, torch=torch.__version__)
    try:
        import monai

        out["monai"] = monai.__version__
    except ImportError:  # pragma: no cover
        pass
    return out
