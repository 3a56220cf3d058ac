"""Outer cross-validation folds shared by every model of voxelomics.

Radiomic models (:mod:`voxelomics.model`), deep models (:mod:`voxelomics.deep`) and fused
models must be compared on *identical* splits, so the outer folds are made here, once, from
the outcome, the optional patient groups and the seed, and nowhere else.

Rules
-----
* Classification: stratified on the class, so every fold keeps the prevalence.
* Survival: stratified on the event indicator.
* Continuous outcome: stratified on the outcome's quantile bins (at most ``n_splits`` bins),
  so every fold spans the range of the target.
* Groups (``patient_id``): when given, no group is split across a training and a test fold
  (:class:`~sklearn.model_selection.StratifiedGroupKFold`): several lesions or time points of
  one patient are always on the same side.
* Repeat ``r`` uses the seed ``random_state + r``; the same arguments always give the same
  folds, whatever model is evaluated on them.

References
----------
Varma S, Simon R. Bias in error estimation when using cross-validation for model
selection. BMC Bioinformatics 7 (2006) 91.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from voxelomics.errors import ModelError

__all__ = ["Fold", "inner_folds", "outer_folds", "split_strata"]

Task = Literal["classification", "survival", "regression"]

#: One outer fold: (repeat, fold index, training indices, test indices).
Fold = tuple[int, int, np.ndarray, np.ndarray]


def split_strata(y, task: Task, n_splits: int) -> np.ndarray:
    """Labels the folds are stratified on.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Class labels (classification), an sksurv structured array with an ``event`` field
        (survival), or a continuous outcome (regression).
    task : {"classification", "survival", "regression"}
    n_splits : int
        Number of folds (a continuous outcome is cut into at most this many quantile bins).

    Returns
    -------
    strata : ndarray of int of shape (n_samples,)

    Raises
    ------
    ModelError
        Unknown task.
    """
    if task == "classification":
        _, codes = np.unique(np.asarray(y), return_inverse=True)
        return codes.astype(int)
    if task == "survival":
        from voxelomics.model.survival import event_field

        return event_field(y).astype(int)
    if task == "regression":
        v = np.asarray(y, dtype=float)
        edges = np.unique(np.quantile(v, np.linspace(0, 1, n_splits + 1)[1:-1]))
        return np.searchsorted(edges, v, side="right").astype(int)
    raise ModelError(f"unknown task {task!r}; expected 'classification', 'survival' or 'regression'")


def outer_folds(
    y,
    *,
    task: Task = "classification",
    n_splits: int = 5,
    n_repeats: int = 3,
    random_state: int = 0,
    groups=None,
) -> list[Fold]:
    """The outer folds of a repeated cross-validation, identical for every model.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Outcome (see :func:`split_strata`).
    task : {"classification", "survival", "regression"}, default="classification"
    n_splits : int, default=5
        Folds per repeat.
    n_repeats : int, default=3
        Repeats, each with its own shuffle (seed ``random_state + r``).
    random_state : int, default=0
    groups : array-like of shape (n_samples,) or None, default=None
        Group of each row (e.g. ``patient_id``); rows of one group never sit in the training
        and the test fold at once.

    Returns
    -------
    folds : list of (repeat, fold, train_idx, test_idx)
        ``n_repeats * n_splits`` folds; every sample is in exactly one test fold per repeat.

    Raises
    ------
    ModelError
        Fewer groups than ``n_splits``, or ``groups`` of the wrong length.
    """
    strata = split_strata(y, task, n_splits)
    n = strata.size
    placeholder = np.zeros(n)
    folds: list[Fold] = []
    if groups is not None:
        g = np.asarray(groups)
        if g.shape != (n,):
            raise ModelError(f"groups has {g.size} values for {n} samples")
        n_groups = np.unique(g).size
        if n_groups < n_splits:
            raise ModelError(
                f"{n_groups} patients (groups) cannot fill {n_splits} folds; lower the number "
                f"of folds (--folds) to at most {n_groups}")
    for r in range(n_repeats):
        if groups is None:
            cv = StratifiedKFold(n_splits, shuffle=True, random_state=random_state + r)
            parts = cv.split(placeholder, strata)
        else:
            cv = StratifiedGroupKFold(n_splits, shuffle=True, random_state=random_state + r)
            parts = cv.split(placeholder, strata, g)
        for f, (tr, te) in enumerate(parts):
            folds.append((r, f, tr, te))
    return folds


def inner_folds(
    y,
    *,
    task: Task = "classification",
    n_splits: int = 5,
    n_repeats: int = 1,
    random_state: int = 0,
    groups=None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds of an inner (tuning) cross-validation on an outer training set.

    The same rules as :func:`outer_folds` (stratified; grouped when ``groups`` is given, so
    that no patient is on both sides of an inner split either), returned as the
    ``(train, test)`` pairs that :class:`~sklearn.model_selection.GridSearchCV` takes as
    ``cv``.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Outcome of the outer training rows.
    task : {"classification", "survival", "regression"}, default="classification"
    n_splits : int, default=5
    n_repeats : int, default=1
        Repeats of the inner split (repeated inner CV lowers the noise of the choice).
    random_state : int, default=0
    groups : array-like of shape (n_samples,) or None, default=None

    Returns
    -------
    folds : list of (train_idx, test_idx)
        ``n_repeats * n_splits`` pairs of index arrays into the rows given.

    Raises
    ------
    ModelError
        Fewer groups than ``n_splits``.
    """
    return [(tr, te) for _, _, tr, te in outer_folds(
        y, task=task, n_splits=n_splits, n_repeats=n_repeats, random_state=random_state,
        groups=groups)]
