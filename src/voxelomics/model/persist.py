"""Saving and loading fitted models without executing code on load.

A model folder holds two files:

- ``model.skops``: the fitted pipeline, written with :func:`skops.io.dump`. Loading
  uses :func:`skops.io.load` with an explicit list of trusted types: only types from
  scikit-learn, scikit-survival, numpy, scipy and voxelomics itself are accepted, and
  a file naming any other type is refused (no pickle, no arbitrary code).
- ``model.json``: a sidecar with the task, model settings, feature list, batch levels,
  target classes, a training-data summary (n, class balance or events, per-feature
  mean and sd) and package versions.
- ``comparators.skops`` (optional): the comparators fitted on the same training rows
  (volume-only, clinical-only, batch-only, fixed pipeline) as a dict name -> pipeline,
  loaded with the same trusted-type check; ``model validate`` scores them.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from voxelomics.errors import ModelError
from voxelomics.model.survival import event_field as _ev
from voxelomics.model.survival import time_field as _tm

__all__ = ["SavedModel", "save_model", "load_model", "training_summary", "versions"]

MODEL_FILE = "model.skops"
SIDECAR_FILE = "model.json"
COMPARATORS_FILE = "comparators.skops"
_TRUSTED_PREFIXES = ("sklearn.", "sksurv.", "numpy.", "scipy.", "voxelomics.model.")
_TRUSTED_BUILTINS = {"builtins.slice", "builtins.list", "builtins.dict", "builtins.tuple"}


@dataclass
class SavedModel:
    """A fitted model with its sidecar metadata.

    Attributes
    ----------
    estimator : sklearn estimator
        The fitted pipeline.
    meta : dict
        The sidecar (``task``, ``features``, ``batch``, ``batch_levels``, ``classes``,
        ``settings``, ``training``, ``versions``).
    path : Path
        Model folder.
    comparators : dict of str to estimator or None
        Comparators fitted with the model (None for a model folder without them).
    """

    estimator: object
    meta: dict
    path: Path
    comparators: dict | None = None


def versions() -> dict[str, str]:
    """Versions of Python and the packages that define the saved model.

    Returns
    -------
    versions : dict of str to str
    """
    import sklearn
    import skops

    out = {"python": platform.python_version(), "numpy": np.__version__,
           "scikit-learn": sklearn.__version__, "skops": skops.__version__}
    try:
        import sksurv

        out["scikit-survival"] = sksurv.__version__
    except ImportError:  # pragma: no cover - survival extra absent
        pass
    try:
        from importlib.metadata import version

        out["voxelomics"] = version("voxelomics")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        out["voxelomics"] = "unknown"
    return out


def training_summary(X, y, feature_names: list[str], task: str, classes=None) -> dict:
    """Summary of the training data stored with a model.

    Parameters
    ----------
    X : DataFrame of shape (n_samples, n_features)
        Training features (batch column excluded).
    y : ndarray of shape (n_samples,)
        0/1 labels or sksurv structured array.
    feature_names : list of str
    task : {"classification", "survival", "regression"}
    classes : list or None, default=None
        Original labels of classes 0 and 1 (keys of ``class_balance``); None: "0", "1".

    Returns
    -------
    summary : dict
        ``n``, ``class_balance`` (``{label0: n0, label1: n1}``), ``events``/``median_time``
        or ``target`` (mean, sd, min, max of a continuous target),
        and ``features``: ``{name: {"mean": float, "sd": float, "missing": int}}``.
    """
    arr = np.asarray(X, dtype=float)
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(arr, axis=0)
        sd = np.nanstd(arr, axis=0, ddof=1) if arr.shape[0] > 1 else np.zeros(arr.shape[1])
    miss = np.isnan(arr).sum(axis=0)
    out: dict = {"n": int(arr.shape[0])}
    if task == "survival":
        out["events"] = int(np.sum(_ev(y)))
        out["median_time"] = float(np.median(_tm(y)))
    elif task == "regression":
        t = np.asarray(y, float)
        out["target"] = {"mean": float(t.mean()), "sd": float(t.std(ddof=1)),
                         "min": float(t.min()), "max": float(t.max())}
    else:
        k0, k1 = (str(c) for c in classes) if classes else ("0", "1")
        out["class_balance"] = {k0: int(np.sum(y == 0)), k1: int(np.sum(y == 1))}
    out["features"] = {
        f: {"mean": float(m), "sd": float(s), "missing": int(k)}
        for f, m, s, k in zip(feature_names, mean, sd, miss, strict=True)
    }
    return out


def save_model(estimator, meta: dict, folder: str | Path, *,
               comparators: dict | None = None) -> Path:
    """Write a fitted model and its sidecar to a folder.

    Parameters
    ----------
    estimator : fitted sklearn estimator
    meta : dict
        JSON-serialisable metadata; ``versions`` and ``saved_at`` are added.
    folder : str or Path
        Created if missing; existing model files are overwritten.
    comparators : dict of str to fitted estimator or None, default=None
        Written to ``comparators.skops`` when given.

    Returns
    -------
    folder : Path
    """
    import skops.io as sio

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sio.dump(estimator, folder / MODEL_FILE)
    if comparators:
        sio.dump(dict(comparators), folder / COMPARATORS_FILE)
    elif (folder / COMPARATORS_FILE).exists():
        (folder / COMPARATORS_FILE).unlink()
    meta = {**meta, "versions": versions(),
            "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "format": {"model": MODEL_FILE, "serialiser": "skops"}}
    (folder / SIDECAR_FILE).write_text(json.dumps(meta, indent=2, default=_json_default))
    return folder


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _trusted(types: list[str]) -> tuple[list[str], list[str]]:
    ok = [t for t in types if t.startswith(_TRUSTED_PREFIXES) or t in _TRUSTED_BUILTINS]
    bad = [t for t in types if t not in ok]
    return ok, bad


def load_model(folder: str | Path) -> SavedModel:
    """Load a model folder written by :func:`save_model`.

    Parameters
    ----------
    folder : str or Path

    Returns
    -------
    SavedModel

    Raises
    ------
    ModelError
        If the folder or a file is missing, the sidecar is not valid JSON, the model
        file is corrupt, or it names a type outside the trusted packages.
    """

    folder = Path(folder)
    model_file, sidecar = folder / MODEL_FILE, folder / SIDECAR_FILE
    for f in (model_file, sidecar):
        if not f.is_file():
            raise ModelError(
                f"saved model incomplete: {f.name} not found (expected {MODEL_FILE} and "
                f"{SIDECAR_FILE} written by 'voxelomics model fit')", path=folder,
            )
    try:
        meta = json.loads(sidecar.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"model sidecar is not valid JSON: {exc}", path=sidecar) from exc
    est = _load_skops(model_file)
    comp_file = folder / COMPARATORS_FILE
    comps = _load_skops(comp_file) if comp_file.is_file() else None
    return SavedModel(estimator=est, meta=meta, path=folder, comparators=comps)


def _load_skops(path: Path):
    import skops.io as sio

    try:
        types = sio.get_untrusted_types(file=path)
    except Exception as exc:  # noqa: BLE001 - skops raises zipfile/JSON/key errors
        raise ModelError(f"model file is corrupt or not a skops file: {exc}",
                         path=path) from exc
    ok, bad = _trusted(types)
    if bad:
        raise ModelError(f"model file names untrusted types {bad}; refusing to load",
                         path=path)
    try:
        return sio.load(path, trusted=ok)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"model file could not be loaded: {exc}", path=path) from exc
