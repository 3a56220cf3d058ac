"""Training loop: early stopping, class weights, seeds, checkpoints and resume, CPU or CUDA.

One call of :func:`train_net` trains one network on the rows ``train_idx`` of a stack of crops
and stops early on the rows ``val_idx`` (the inner validation split, see :func:`inner_split`):

* weights start from ``torch.manual_seed(seed)``; every epoch reseeds the batch order, the
  augmentation and dropout from ``(seed, epoch)``, and deterministic algorithms are required, so
  the same seed on the same machine gives the same weights, and a run resumed from a checkpoint
  gives the weights of the run that was never interrupted;
* AdamW; binary targets weight the positive class by ``n_negative / n_positive``, multi-class
  targets each class by ``n / (k n_class)`` (``train.class_weights``); continuous targets are
  standardised with the training rows' mean and SD; survival uses the Cox loss;
* binary outputs are recalibrated on the validation rows (:func:`platt`), so that probabilities
  are calibrated despite class weights and comparable between the networks of different folds;
* after each epoch the validation loss decides: the best epoch's weights are kept, and training
  stops after ``train.patience`` epochs without improvement;
* with ``checkpoint=`` the state (weights, optimiser, best weights, history) is saved after
  every epoch; ``resume=True`` continues from it;
* CUDA when present (``train.device: auto``), with mixed precision (``train.amp``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from voxelomics.deep.config import DeepSettings
from voxelomics.deep.nets import Net, build_net
from voxelomics.deep.targets import Target, cox_loss
from voxelomics.errors import ModelError

__all__ = ["TrainResult", "inner_split", "resolve_device", "train_net", "predict_outputs",
           "embeddings", "scores_from_outputs", "deterministic", "platt"]


@dataclass
class TrainResult:
    """A trained network and how it got there.

    Attributes
    ----------
    net : Net
        Weights of the best epoch, in evaluation mode, on the CPU.
    history : list of dict
        Per epoch: ``epoch``, ``loss`` (training), ``val_loss``, ``val_metric``, ``seconds``.
    best_epoch : int
    stopped_early : bool
    output_affine : tuple of float
        ``(a, b)`` mapping the network's first output ``o`` to ``a + b o`` before
        :func:`scores_from_outputs`: the training mean and SD of a continuous target (it is
        learnt standardised); for a binary target the Platt recalibration of the logit fitted
        on the validation rows (``train.calibrate``); else (0, 1).
    """

    net: Net
    history: list = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    output_affine: tuple = (0.0, 1.0)


def resolve_device(name: str) -> torch.device:
    """The torch device of a ``train.device`` setting.

    Parameters
    ----------
    name : {"auto", "cpu", "cuda"}

    Returns
    -------
    torch.device

    Raises
    ------
    ModelError
        ``cuda`` asked for and not available.
    """
    if name == "cuda" and not torch.cuda.is_available():
        raise ModelError("train.device is 'cuda' but torch sees no CUDA device (use auto or cpu)")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


@contextlib.contextmanager
def deterministic(threads: int | None = None):
    """Require deterministic torch algorithms (and set the CPU threads) inside the block.

    MONAI's metadata tracking is switched off inside the block too (the crops are plain
    tensors; tracking only slows the augmentation down).

    Parameters
    ----------
    threads : int or None
        CPU threads for torch inside the block; None leaves torch's setting.

    Yields
    ------
    None
    """
    from monai.data import get_track_meta, set_track_meta

    was = torch.are_deterministic_algorithms_enabled()
    was_threads = torch.get_num_threads()
    was_meta = get_track_meta()
    torch.use_deterministic_algorithms(True, warn_only=True)
    set_track_meta(False)  # plain tensors through the MONAI transforms: 5-10x faster per crop
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was)
        torch.set_num_threads(was_threads)
        set_track_meta(was_meta)


def inner_split(target: Target, rows, *, val_fraction: float, seed: int, groups=None):
    """Split training rows into fitting and early-stopping rows (one fold of the shared splitter).

    Parameters
    ----------
    target : Target
        Outcome of every case.
    rows : array of int
        Indices of the training cases.
    val_fraction : float
        The split is fold 0 of a ``round(1 / val_fraction)``-fold
        :func:`voxelomics.model.splits.outer_folds` (stratified; grouped when ``groups``).
    seed : int
    groups : array-like of shape (n_cases,) or None
        Patient of every case; no patient is on both sides.

    Returns
    -------
    fit_rows, val_rows : ndarray of int
        Indices into the cohort (subsets of ``rows``).

    Raises
    ------
    ModelError
        Too few rows or patients for the split.
    """
    from voxelomics.model.splits import outer_folds

    rows = np.asarray(rows)
    k = max(2, int(round(1.0 / val_fraction)))
    sub = target.subset(rows)
    g = None if groups is None else np.asarray(groups)[rows]
    strata = sub.strata()
    k = min(k, max(2, int(np.bincount(strata).min()) if sub.task != "regression" else k))
    _, _, fit, val = outer_folds(sub.y, task=sub.split_task, n_splits=k, n_repeats=1,
                                 random_state=seed, groups=g)[0]
    return rows[fit], rows[val]


def _loss_fn(target: Target, fit_rows, settings: DeepSettings, device):
    task = target.task
    if task == "classification":
        y = np.asarray(target.y)[fit_rows]
        pos = max(int(y.sum()), 1)
        w = (len(y) - pos) / pos if settings.train.class_weights else 1.0
        bce = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([w], device=device))
        return lambda out, b: bce(out[:, 0].float(), b["y"])
    if task == "multiclass":
        y = np.asarray(target.y, int)[fit_rows]
        k = target.n_outputs
        counts = np.bincount(y, minlength=k).astype(float)
        weight = (len(y) / (k * np.maximum(counts, 1))) if settings.train.class_weights else np.ones(k)
        ce = torch.nn.CrossEntropyLoss(weight=torch.tensor(weight, dtype=torch.float32, device=device))
        return lambda out, b: ce(out.float(), b["y"].long())
    if task == "regression":
        return lambda out, b: torch.nn.functional.mse_loss(out[:, 0].float(), b["y"])
    return lambda out, b: cox_loss(out[:, 0], b["time"], b["event"])


def _val_metric(target: Target, rows, outputs: np.ndarray) -> float:
    """Quick validation metric shown in the progress bar (no bootstrap)."""
    sub = target.subset(rows)
    try:
        if sub.task == "classification":
            from voxelomics.model.metrics import roc_auc

            return roc_auc(sub.y, outputs[:, 0])
        if sub.task == "multiclass":
            return float(np.mean(outputs.argmax(1) == sub.y))
        if sub.task == "regression":
            y = sub.y
            return float(1 - np.sum((y - outputs[:, 0]) ** 2) / max(np.sum((y - y.mean()) ** 2), 1e-12))
        from voxelomics.model.survival import harrell_c

        return harrell_c(sub.y, outputs[:, 0])
    except Exception:  # a metric undefined on a tiny split must not stop training
        return float("nan")


def _batches(arrays, target_arrays, rows, batch_size, augment, device, rng=None):
    rows = np.asarray(rows)
    if rng is not None:
        rows = rows[rng.permutation(rows.size)]
    for i in range(0, rows.size, batch_size):
        chunk = rows[i:i + batch_size]
        if rng is not None and chunk.size < 2 and rows.size > 1:
            continue  # batch normalisation cannot train on a batch of one
        x = torch.from_numpy(np.ascontiguousarray(arrays[chunk]))
        if augment is not None:
            x = torch.stack([augment(xi) for xi in x])
        batch = {k: torch.from_numpy(v[chunk]).to(device) for k, v in target_arrays.items()}
        yield x.to(device, non_blocking=True), batch


def _run_fingerprint(settings: DeepSettings, target: Target, fit_rows, val_rows, seed, shape) -> str:
    blob = json.dumps({"settings": settings.model_dump(mode="json"), "task": target.task,
                       "fit": np.asarray(fit_rows).tolist(), "val": np.asarray(val_rows).tolist(),
                       "seed": seed, "shape": list(shape)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def train_net(arrays: np.ndarray, target: Target, fit_rows, val_rows, settings: DeepSettings, *,
              seed: int | None = None, checkpoint: str | Path | None = None, resume: bool = False,
              progress=None, label: str = "train") -> TrainResult:
    """Train one network with early stopping.

    Parameters
    ----------
    arrays : ndarray of float32 of shape (n_cases, channels, z, y, x)
        Crops of the cohort (see :func:`voxelomics.deep.data.build_crops`).
    target : Target
        Outcome of every case.
    fit_rows, val_rows : array of int
        Cases to train on and to stop early on.
    settings : DeepSettings
    seed : int or None
        Seed of the weights, batches and augmentation; None: ``settings.random_state``.
    checkpoint : str or Path or None
        File to save the state to after every epoch.
    resume : bool, default=False
        Continue from ``checkpoint`` when it exists (it must come from the same settings, rows
        and seed).
    progress : rich.progress.Progress or None
        Where to show the epoch bar with loss and validation metric.
    label : str
        Text of the progress bar.

    Returns
    -------
    TrainResult

    Raises
    ------
    ModelError
        No validation row, or a checkpoint from another run.
    """
    from voxelomics.deep.data import Augmenter

    seed = settings.random_state if seed is None else seed
    fit_rows, val_rows = np.asarray(fit_rows), np.asarray(val_rows)
    if fit_rows.size < 2 or val_rows.size < 1:
        raise ModelError(f"training needs at least 2 training and 1 validation case "
                         f"(got {fit_rows.size} and {val_rows.size})")
    tr = settings.train
    device = resolve_device(tr.device)
    amp = bool(tr.amp and device.type == "cuda")
    tarr = target.arrays()
    scale = (0.0, 1.0)
    if target.task == "regression":
        y = tarr["y"][fit_rows]
        scale = (float(y.mean()), float(y.std()) or 1.0)
        tarr = {"y": ((tarr["y"] - scale[0]) / scale[1]).astype(np.float32)}
    fingerprint = _run_fingerprint(settings, target, fit_rows, val_rows, seed, arrays.shape)
    with deterministic(tr.threads):
        torch.manual_seed(seed)
        net = build_net(settings.net, arrays.shape[1], target.n_outputs).to(device)
        opt = torch.optim.AdamW(net.parameters(), lr=tr.learning_rate, weight_decay=tr.weight_decay)
        scaler = torch.amp.GradScaler("cuda", enabled=amp)
        loss_fn = _loss_fn(target, fit_rows, settings, device)
        augment = Augmenter(settings.augment, seed) if settings.augment.enabled else None
        state = {"epoch": 0, "best_loss": float("inf"), "best_epoch": 0, "bad_epochs": 0,
                 "history": [], "best_state": None}
        ckpt = Path(checkpoint) if checkpoint is not None else None
        if resume and ckpt is not None and ckpt.is_file():
            state = _load_checkpoint(ckpt, fingerprint, net, opt)
        task_id = None
        if progress is not None:
            task_id = progress.add_task(label, total=tr.epochs, completed=state["epoch"],
                                        loss=float("nan"), val_loss=float("nan"), metric=float("nan"))
        epoch = state["epoch"]
        while epoch < tr.epochs and state["bad_epochs"] < tr.patience:
            t0 = time.perf_counter()
            torch.manual_seed(seed * 100_003 + epoch)  # dropout
            rng = np.random.default_rng([seed, epoch])
            if augment is not None:
                augment.reseed(seed * 7919 + epoch)
            net.train()
            total, n = 0.0, 0
            for x, b in _batches(arrays, tarr, fit_rows, tr.batch_size, augment, device, rng):
                opt.zero_grad(set_to_none=True)
                with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                    out = net(x)
                loss = loss_fn(out, b)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                total += float(loss.detach()) * x.shape[0]
                n += x.shape[0]
            val_out = predict_outputs(net, arrays, val_rows, batch_size=tr.batch_size, device=device)
            with torch.no_grad():
                vb = {k: torch.from_numpy(v[val_rows]) for k, v in tarr.items()}
                val_loss = float(_loss_fn(target, fit_rows, settings, "cpu")(torch.from_numpy(val_out), vb))
            metric = _val_metric(target, val_rows, val_out)
            epoch += 1
            state["history"].append({"epoch": epoch, "loss": total / max(n, 1), "val_loss": val_loss,
                                     "val_metric": metric, "seconds": time.perf_counter() - t0})
            if val_loss < state["best_loss"] - 1e-6:
                state.update(best_loss=val_loss, best_epoch=epoch, bad_epochs=0,
                             best_state={k: v.detach().cpu().clone() for k, v in net.state_dict().items()})
            else:
                state["bad_epochs"] += 1
            state["epoch"] = epoch
            if ckpt is not None:
                _save_checkpoint(ckpt, fingerprint, net, opt, state)
            if task_id is not None:
                progress.update(task_id, completed=epoch, loss=total / max(n, 1), val_loss=val_loss,
                                metric=metric)
        if task_id is not None:
            progress.remove_task(task_id)
    net = net.cpu()
    if state["best_state"] is not None:
        net.load_state_dict(state["best_state"])
    net.eval()
    affine = scale
    if target.task == "classification" and tr.calibrate:
        affine = platt(predict_outputs(net, arrays, val_rows, batch_size=tr.batch_size)[:, 0],
                       np.asarray(target.y)[val_rows])
    return TrainResult(net, state["history"], state["best_epoch"],
                       stopped_early=epoch < tr.epochs, output_affine=affine)


def platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Logistic recalibration ``P(y=1) = sigmoid(a + b logit)`` fitted on held-out rows.

    Class weights in the loss and batch-normalisation statistics shift a network's logits;
    refitting ``a`` and ``b`` on the validation rows (never the test rows) gives probabilities
    that are calibrated and comparable between the networks of different folds. The AUC of one
    network does not change (``b > 0``).

    Parameters
    ----------
    logits : ndarray of shape (n_val,)
    y : ndarray of shape (n_val,)
        Labels 0/1.

    Returns
    -------
    a, b : float
        (0, 1) (no change) when the rows hold one class or the fitted slope is not positive.
        Fitted by maximum likelihood without penalty on Platt's regularised targets
        ``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)``, so the slope stays finite and is not
        shrunk towards 0 on a small validation split.

    References
    ----------
    Platt J. Probabilistic outputs for support vector machines. Adv Large Margin Classif (1999).
    """
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y).astype(int)
    x = np.asarray(logits, float)
    if y.min() == y.max() or np.ptp(x) == 0:
        return 0.0, 1.0
    # Platt's fit: no penalty, but regularised targets (N+ + 1)/(N+ + 2) and 1/(N- + 2), so a
    # small or separable validation split gives a finite slope; an L2 penalty (sklearn's
    # default C=1) instead shrinks the slope towards 0 on a few rows, which made every
    # probability of a fold nearly the same value
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    t = np.where(y == 1, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    lr = LogisticRegression(C=np.inf, max_iter=1000).fit(
        np.concatenate([x, x])[:, None], np.r_[np.ones_like(y), np.zeros_like(y)], sample_weight=np.r_[t, 1 - t])
    b = float(lr.coef_[0, 0])
    return (float(lr.intercept_[0]), b) if b > 0 else (0.0, 1.0)


def _save_checkpoint(path: Path, fingerprint, net, opt, state) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"fingerprint": fingerprint, "model": net.state_dict(), "optimizer": opt.state_dict(),
                **state}, tmp)
    tmp.replace(path)


def _load_checkpoint(path: Path, fingerprint, net, opt) -> dict:
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"cannot read the checkpoint: {exc}", path=path) from None
    if ck.get("fingerprint") != fingerprint:
        raise ModelError("the checkpoint comes from another run (other settings, cases, split or "
                         "seed); delete it or start without --resume", path=path)
    net.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    return {k: ck[k] for k in ("epoch", "best_loss", "best_epoch", "bad_epochs", "history", "best_state")}


def predict_outputs(net: Net, arrays: np.ndarray, rows=None, *, batch_size: int = 32,
                    device=None) -> np.ndarray:
    """Raw network outputs for some cases (evaluation mode, no augmentation).

    Parameters
    ----------
    net : Net
    arrays : ndarray of float32 of shape (n_cases, channels, z, y, x)
    rows : array of int or None
        Cases to predict (default: all).
    batch_size : int, default=32
    device : torch.device or None
        Default: the device of the network's weights.

    Returns
    -------
    ndarray of float32 of shape (n_rows, n_outputs)
    """
    return _forward(net, arrays, rows, batch_size, device, embed=False)


def embeddings(net: Net, arrays: np.ndarray, rows=None, *, batch_size: int = 32,
               device=None) -> np.ndarray:
    """Penultimate-layer embeddings for some cases.

    Parameters
    ----------
    net : Net
    arrays : ndarray of float32 of shape (n_cases, channels, z, y, x)
    rows : array of int or None
    batch_size : int, default=32
    device : torch.device or None

    Returns
    -------
    ndarray of float32 of shape (n_rows, n_embedding)
    """
    return _forward(net, arrays, rows, batch_size, device, embed=True)


def _forward(net, arrays, rows, batch_size, device, *, embed: bool) -> np.ndarray:
    rows = np.arange(len(arrays)) if rows is None else np.asarray(rows)
    device = device or next(net.parameters()).device
    was_training = net.training
    net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, rows.size, batch_size):
            x = torch.from_numpy(np.ascontiguousarray(arrays[rows[i:i + batch_size]])).to(device)
            with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
                y = net.embed(x) if embed else net(x)
            out.append(y.float().cpu().numpy())
    net.train(was_training)
    width = net.head.in_features if embed else net.head.out_features
    return np.concatenate(out) if out else np.zeros((0, width), np.float32)


def scores_from_outputs(task: str, outputs: np.ndarray, affine=(0.0, 1.0)) -> np.ndarray:
    """Scores the metrics use, from raw outputs.

    Parameters
    ----------
    task : {"classification", "multiclass", "regression", "survival"}
    outputs : ndarray of shape (n_cases, n_outputs)
    affine : tuple of float
        :attr:`TrainResult.output_affine` (binary: calibration; continuous: target scale).

    Returns
    -------
    ndarray
        Probability of class 1 (n_cases,), class probabilities (n_cases, n_classes), value in
        the target's unit (n_cases,), or log-risk (n_cases,).
    """
    out = np.asarray(outputs, np.float64)
    if task == "multiclass":
        e = np.exp(out - out.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)
    first = affine[0] + affine[1] * out[:, 0]
    if task == "classification":
        return 1.0 / (1.0 + np.exp(-first))
    return first
