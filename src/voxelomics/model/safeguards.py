"""Safeguards of a radiomic signature (Welch et al. 2019) and the stability of its selection.

Published radiomic signatures have turned out to be surrogates of tumour volume, or of the
scanner, rather than texture biology. Every ``model cv`` result therefore says:

* **which features the model used in each outer fold** and how often each was chosen
  (selection stability: the frequency of each feature over the folds and Nogueira's
  stability index, 1 = the same features every time, about 0 = chance agreement);
* **the signature**: the features used in at least half of the outer folds (by the linear
  member of the default ensemble, or by the model);
* **the correlation of each signature feature with volume** (Spearman's rho over all
  rows) **and with the batch** (correlation ratio eta of the feature's ranks on the batch
  label, 0 = no association, 1 = the batch determines the feature's rank; computed after
  ComBat, fitted on all rows, when the model harmonises: what remains is what the model
  can still learn from the scanner);
* **flags** (``metrics.json`` ``flags`` and the summary):

  - ``does_not_beat_volume``: the lower 95% limit of the paired difference of the model
    and the volume-only model (AUC or C-index) is not above 0;
  - ``signature_mostly_volume``: more than half of the signature's features have
    ``|rho| >=`` :data:`VOLUME_RHO` with volume;
  - ``batch_predicts_outcome``: the batch-only model's lower 95% limit is above 0.5 (R²
    above 0 for a continuous target);
  - ``signature_mostly_batch``: more than half of the signature's features have
    ``eta >=`` :data:`BATCH_ETA`.

References
----------
Welch ML et al. Vulnerabilities of radiomic signature development: the need for
safeguards. Radiother Oncol 130 (2019) 2-9.
Nogueira S, Sechidis K, Brown G. On the stability of feature selection algorithms. JMLR 18
(2018) 1-54.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

__all__ = ["VOLUME_RHO", "BATCH_ETA", "SIGNATURE_FREQUENCY", "nogueira_stability",
           "selection_stability", "signature", "harmonised", "feature_associations",
           "flags_and_warnings"]

#: |Spearman rho| with volume above which a feature counts as a volume surrogate.
VOLUME_RHO = 0.7
#: Correlation ratio with the batch above which a feature counts as a batch surrogate.
BATCH_ETA = 0.5
#: Share of the outer folds in which a feature must be used to belong to the signature.
SIGNATURE_FREQUENCY = 0.5


def nogueira_stability(subsets: list[list[str]], n_features: int) -> float:
    """Nogueira et al.'s stability index of feature subsets chosen on resamples.

    ``1 - mean_f s_f^2 / (k/p (1 - k/p))`` with ``s_f^2`` the unbiased variance of the
    indicator "feature f chosen" over the ``M`` subsets, ``k`` the mean subset size and
    ``p`` the number of candidate features.

    Parameters
    ----------
    subsets : list of list of str
        Features chosen in each of ``M >= 2`` runs.
    n_features : int
        Number of candidate features ``p``.

    Returns
    -------
    stability : float
        1 for identical subsets; about 0 for subsets drawn at random; NaN when undefined
        (fewer than 2 subsets, or every subset empty or complete).
    """
    m = len(subsets)
    if m < 2 or n_features < 1:
        return float("nan")
    counts = Counter(f for s in subsets for f in set(s))
    freq = np.zeros(n_features)
    freq[: len(counts)] = np.fromiter(counts.values(), float) / m
    kbar = np.mean([len(set(s)) for s in subsets])
    denom = (kbar / n_features) * (1 - kbar / n_features)
    if denom <= 0:
        return float("nan")
    s2 = m / (m - 1) * freq * (1 - freq)
    return float(1 - s2.mean() / denom)


def selection_stability(folds: list[dict], n_features: int, limit: int = 100) -> dict:
    """Frequency of each feature over the outer folds, per model member.

    Parameters
    ----------
    folds : list of dict
        Fold records with ``features`` (member -> features used), see
        :class:`~voxelomics.model.validation.CVResult`.
    n_features : int
        Candidate features.
    limit : int, default=100
        Most frequent features listed per member.

    Returns
    -------
    stability : dict
        ``{member: {"nogueira": float, "mean_size": float, "frequency": {feature:
        share of folds}}}``.
    """
    members: dict[str, list[list[str]]] = {}
    for rec in folds:
        for member, feats in (rec.get("features") or {}).items():
            members.setdefault(member, []).append(list(feats))
    out = {}
    for member, subsets in members.items():
        counts = Counter(f for s in subsets for f in set(s))
        freq = {f: round(k / len(subsets), 4) for f, k in counts.most_common(limit)}
        out[member] = {"nogueira": nogueira_stability(subsets, n_features),
                       "mean_size": float(np.mean([len(s) for s in subsets])),
                       "frequency": freq}
    return out


def signature(stability: dict) -> tuple[str | None, list[str]]:
    """The features used in at least half of the folds by the primary member.

    Parameters
    ----------
    stability : dict
        Output of :func:`selection_stability`.

    Returns
    -------
    member : str or None
        ``"linear"`` for the ensemble, else ``"model"``.
    features : list of str
        By decreasing frequency; when none reaches :data:`SIGNATURE_FREQUENCY`, the five
        most frequent.
    """
    member = "linear" if "linear" in stability else ("model" if "model" in stability else None)
    if member is None:
        return None, []
    freq = stability[member]["frequency"]
    feats = [f for f, v in freq.items() if v >= SIGNATURE_FREQUENCY] or list(freq)[:5]
    return member, feats


def _eta(values: np.ndarray, batch: np.ndarray) -> float:
    ok = np.isfinite(values)
    v, b = values[ok], batch[ok]
    if v.size < 3 or np.unique(b).size < 2:
        return float("nan")
    r = pd.Series(v).rank().to_numpy()
    total = ((r - r.mean()) ** 2).sum()
    if total == 0:
        return float("nan")
    between = sum(((b == g).sum() * (r[b == g].mean() - r.mean()) ** 2) for g in np.unique(b))
    return float(np.sqrt(between / total))


def harmonised(X: pd.DataFrame, batch_labels: list[str]) -> pd.DataFrame:
    """Features after ComBat fitted on all rows (descriptive use only).

    Parameters
    ----------
    X : pandas.DataFrame of shape (n_samples, 1 + n_features)
        Batch codes in the first column (``batch``), then the features.
    batch_labels : list of str
        Batch levels in code order.

    Returns
    -------
    features : pandas.DataFrame of shape (n_samples, n_features)
    """
    from voxelomics.model.harmonise import ComBat

    Z = ComBat(batch_index=0, batch_labels=list(batch_labels)).fit_transform(X.to_numpy(float))
    return pd.DataFrame(Z, columns=[c for c in X.columns if c != "batch"], index=X.index)


def feature_associations(X: pd.DataFrame, features: list[str], *, volume: str | None,
                         batch: np.ndarray | None, frequency: dict | None = None,
                         X_batch: pd.DataFrame | None = None) -> list[dict]:
    """Association of each feature with tumour volume and with the batch.

    Parameters
    ----------
    X : pandas.DataFrame of shape (n_samples, n_columns)
        Feature table (all rows).
    features : list of str
        Features to describe (the signature).
    volume : str or None
        Volume column.
    batch : ndarray of shape (n_samples,) or None
        Batch labels.
    frequency : dict or None
        Share of the folds in which each feature was used.
    X_batch : pandas.DataFrame or None
        Features to relate to the batch (the harmonised features when the model uses
        ComBat); default ``X``.

    Returns
    -------
    rows : list of dict
        ``feature``, ``frequency``, ``spearman_volume`` (or None), ``eta_batch`` (or None),
        ``volume_surrogate`` and ``batch_surrogate`` (bool or None).
    """
    rows = []
    vol = X[volume] if volume is not None else None
    for f in features:
        if f not in X.columns:
            continue
        rho = None if vol is None else float(X[f].corr(vol, method="spearman"))
        src = X if X_batch is None else X_batch
        eta = None if batch is None else _eta(src[f].to_numpy(float), np.asarray(batch))
        rows.append({
            "feature": f, "frequency": (frequency or {}).get(f),
            "spearman_volume": rho, "eta_batch": eta,
            "volume_surrogate": None if rho is None or not np.isfinite(rho)
            else bool(abs(rho) >= VOLUME_RHO),
            "batch_surrogate": None if eta is None or not np.isfinite(eta)
            else bool(eta >= BATCH_ETA)})
    return rows


def _low(entry: dict | None, key: str) -> float | None:
    if not entry or key not in entry:
        return None
    return entry[key]["ci95"][0]


def flags_and_warnings(task: str, comparators: dict, associations: list[dict],
                       volume: str | None) -> tuple[dict, list[str]]:
    """Flags of :mod:`safeguards <voxelomics.model.safeguards>` and the warnings they raise.

    Parameters
    ----------
    task : {"classification", "survival", "regression"}
    comparators : dict
        ``metrics.json`` ``comparators`` section (name -> metrics and ``difference``).
    associations : list of dict
        Output of :func:`feature_associations` for the signature.
    volume : str or None
        Volume column (None: no volume flag).

    Returns
    -------
    flags : dict of str to bool or None
        None where the check could not be made (no volume column, no batch ...).
    warnings : list of str
    """
    metric = {"classification": "auc", "regression": "r2"}.get(task, "c_index")
    chance = 0.0 if task == "regression" else 0.5
    flags: dict = {"does_not_beat_volume": None, "signature_mostly_volume": None,
                   "batch_predicts_outcome": None, "signature_mostly_batch": None}
    warnings = []
    vol = comparators.get("volume")
    if vol is not None and "difference" in vol:
        diff = vol["difference"][metric]
        lo = diff["ci95"][0]
        flags["does_not_beat_volume"] = bool(not np.isfinite(lo) or lo <= 0)
        if flags["does_not_beat_volume"]:
            warnings.append(
                f"the model does not beat tumour volume alone ({volume!r}): {metric} "
                f"difference {diff['mean']:+.3f} (95% CI {diff['ci95'][0]:+.3f} to "
                f"{diff['ci95'][1]:+.3f}); the signature may be a surrogate of volume "
                "(Welch et al. 2019)")
    vs = [a["volume_surrogate"] for a in associations if a["volume_surrogate"] is not None]
    if vs:
        flags["signature_mostly_volume"] = bool(sum(vs) > len(vs) / 2)
        if flags["signature_mostly_volume"]:
            warnings.append(
                f"{sum(vs)} of the {len(vs)} signature features are strongly correlated with "
                f"volume (|Spearman rho| >= {VOLUME_RHO}): "
                + ", ".join(a["feature"] for a in associations if a["volume_surrogate"]))
    bat = comparators.get("batch")
    lo = _low(bat, metric)
    if lo is not None:
        flags["batch_predicts_outcome"] = bool(np.isfinite(lo) and lo > chance)
        if flags["batch_predicts_outcome"]:
            warnings.append(
                f"the batch alone predicts the outcome ({metric} {bat[metric]['mean']:.3f}, "
                f"95% CI {bat[metric]['ci95'][0]:.3f}-{bat[metric]['ci95'][1]:.3f}): batch and "
                "outcome are confounded, and any model can learn the scanner instead of the "
                "disease; harmonisation cannot separate them")
    bs = [a["batch_surrogate"] for a in associations if a["batch_surrogate"] is not None]
    if bs:
        flags["signature_mostly_batch"] = bool(sum(bs) > len(bs) / 2)
        if flags["signature_mostly_batch"]:
            warnings.append(
                f"{sum(bs)} of the {len(bs)} signature features are strongly associated with "
                f"the batch (eta >= {BATCH_ETA}, after ComBat when the model harmonises): "
                + ", ".join(a["feature"] for a in associations if a["batch_surrogate"]))
    return flags, warnings
