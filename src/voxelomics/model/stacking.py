"""The default classifier: a super learner (convex stacking) of a linear model and two forests.

Why this design (the full reasoning, with references, is in ``docs/modelling.md``)
---------------------------------------------------------------------------------
No single fixed pipeline is best on every radiomic table: additive linear signatures win
on some, forests on others. A *super learner* (van der Laan, Polley & Hubbard 2007;
stacking, Breiman 1996) lets the training rows weight a small library of diverse members:
the weights are fitted on *cross-validated* predictions of the members, so they reward
what each member predicts out of sample. Its oracle inequality says that, for a library of
fixed size, it does asymptotically as well as the best member and the best fixed convex
combination of members (for the loss it minimises).

Library (after the shared imputation, constant-feature and decorrelation steps of the
pipeline, :func:`~voxelomics.model.estimators.make_pipeline`):

* ``linear``: winsorise, z-score, top ``k`` by ANOVA F, L2 logistic regression; ``k`` and
  ``C`` by repeated inner CV with the one-standard-error rule (as in
  :class:`~voxelomics.model.ensemble.RadiomicsEnsemble`);
* ``forest``: top 64 by the Mann-Whitney effect, random forest (300 trees, minimum leaf 2);
* ``extra_trees``: top 32 by extra-trees importance (250 trees), the same random forest.

Fit, on the training rows given to :meth:`SuperLearner.fit`:

1. **cross-validated predictions**: on the first repeat of the inner folds (one V-fold
   split), each member's whole procedure (selection included) is fitted on the inner
   training rows and predicts the inner test rows. The linear member's candidate on an
   inner fold is the one the one-SE rule picks on the *other* folds of that split (its
   final ``k`` and ``C`` are tuned on every repeat).
2. **weights**: logistic regression of the outcome on the members' cross-validated logits
   (probabilities clipped to [0.01, 0.99]) with non-negative coefficients and a free
   intercept; the weights are the coefficients over their sum (convex). This is the
   log-likelihood super learner on the logit scale (``method.NNloglik`` of the
   SuperLearner R package); the logit scale separates what a member adds to the ranking
   from the scale of its probabilities (the sum of the coefficients).
3. **shrinkage towards equal weights** (empirical Bayes; Efron & Morris 1973):
   ``w = 1/M + lambda (w_hat - 1/M)``, ``lambda = max(0, 1 - tr Cov(w_hat) / ||w_hat -
   1/M||^2)``, ``Cov(w_hat)`` from refitting step 2 on bootstrap resamples of the rows'
   cross-validated predictions. Estimated combination weights are noisy on small samples
   and often lose to the plain average there (the forecast combination puzzle; Smith &
   Wallis 2009); the variance falls like 1/n, so small cohorts keep near-equal weights.
4. **recalibration**: ``logit P = a + b sum_m w_m logit(p_m)`` on the same cross-validated
   predictions (monotone: calibration, not ranking).

References
----------
van der Laan MJ, Polley EC, Hubbard AE. Super learner. Stat Appl Genet Mol Biol 6 (2007) 25.
Breiman L. Stacked regressions. Machine Learning 24 (1996) 49-64.
LeBlanc M, Tibshirani R. Combining estimates in regression and classification. JASA 91
(1996) 1641-1650.
Efron B, Morris C. Stein's estimation rule and its competitors: an empirical Bayes
approach. JASA 68 (1973) 117-130.
Smith J, Wallis KF. A simple explanation of the forecast combination puzzle. Oxford Bull
Econ Stat 71 (2009) 331-355.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.feature_selection import SelectFromModel
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from voxelomics.model.ensemble import (
    RadiomicsEnsemble,
    _forest,
    _linear,
    _logit,
    _recalibration,
    linear_candidates,
    one_se_choice,
)
from voxelomics.model.metrics import roc_auc

__all__ = ["MEMBERS", "SuperLearner", "convex_stacking_weights", "shrink_to_equal"]

#: Members of the library, in the order of the weights.
MEMBERS = ("linear", "forest", "extra_trees")

#: Member probabilities are clipped to [CLIP, 1 - CLIP] before their logits are combined.
CLIP = 0.01


def _clip_logit(p: np.ndarray) -> np.ndarray:
    return _logit(p, CLIP)


def _logistic_newton(Z: np.ndarray, y: np.ndarray, ridge: float) -> tuple[np.ndarray, float]:
    """Unpenalised intercept and ridge-penalised slopes of a logistic regression (Newton).

    Returns the coefficients ``[a, beta...]`` and the penalised mean log-loss.
    """
    n, m = Z.shape
    A = np.column_stack([np.ones(n), Z])
    pen = np.full(m + 1, ridge)
    pen[0] = 0.0
    prev = float(np.clip(y.mean(), 1e-3, 1 - 1e-3))
    theta = np.zeros(m + 1)
    theta[0] = np.log(prev / (1 - prev))

    def loss(t):
        eta = A @ t
        return float(np.mean(np.logaddexp(0.0, eta) - y * eta) + 0.5 * pen @ t**2)

    cur = loss(theta)
    for _ in range(100):
        q = 1.0 / (1.0 + np.exp(-(A @ theta)))
        grad = A.T @ (q - y) / n + pen * theta
        hess = (A.T * (q * (1 - q))) @ A / n + np.diag(pen) + 1e-12 * np.eye(m + 1)
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while t > 1e-8:
            new = loss(theta - t * step)
            if new <= cur + 1e-14:
                break
            t /= 2
        theta = theta - t * step
        done = abs(cur - new) < 1e-13 or np.max(np.abs(t * step)) < 1e-10
        cur = new
        if done:
            break
    return theta, cur


def _nonneg_logistic(Z: np.ndarray, y: np.ndarray, ridge: float = 1e-4
                     ) -> tuple[float, np.ndarray]:
    """Intercept and non-negative slopes of ``logit P(y=1) = a + Z beta``, ``beta >= 0``.

    Exact for a few members: the constrained optimum of this strictly convex problem is the
    unconstrained optimum on the face of its own support, so it is the best of the faces
    whose unconstrained optimum is feasible (every slope >= 0). A negligible ridge on
    ``beta`` keeps the fit finite when ``Z`` separates the classes.
    """
    from itertools import combinations

    n, m = Z.shape
    y = np.asarray(y, float)
    best_loss, best = _logistic_newton(Z[:, :0], y, ridge)[::-1]
    best_beta = np.zeros(m)
    for size in range(1, m + 1):
        for face in combinations(range(m), size):
            theta, val = _logistic_newton(Z[:, face], y, ridge)
            if np.all(theta[1:] >= 0) and val < best_loss:
                best_loss, best = val, theta
                best_beta = np.zeros(m)
                best_beta[list(face)] = theta[1:]
    return float(best[0]), best_beta


def convex_stacking_weights(Z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Convex weights of members from their cross-validated logits (log-likelihood loss).

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_members)
        Cross-validated logits of each member (finite).
    y : ndarray of shape (n_samples,)
        Labels coded 0/1.

    Returns
    -------
    weights : ndarray of shape (n_members,)
        Non-negative, summing to 1: the non-negative coefficients of a logistic regression
        of ``y`` on ``Z`` (free intercept) over their sum; equal weights when every
        coefficient is 0.
    """
    m = Z.shape[1]
    if m == 1:
        return np.ones(1)
    _, beta = _nonneg_logistic(Z, np.asarray(y, float))
    total = beta.sum()
    return beta / total if total > 1e-12 else np.full(m, 1.0 / m)


def shrink_to_equal(weights: np.ndarray, boot: np.ndarray) -> tuple[np.ndarray, float]:
    """Empirical-Bayes shrinkage of convex weights towards equal weights.

    Parameters
    ----------
    weights : ndarray of shape (n_members,)
        Estimated convex weights ``w_hat``.
    boot : ndarray of shape (n_boot, n_members)
        The weights re-estimated on bootstrap resamples.

    Returns
    -------
    weights : ndarray of shape (n_members,)
        ``1/M + lambda (w_hat - 1/M)`` (still convex).
    lam : float
        ``max(0, 1 - trace(Cov w_hat) / ||w_hat - 1/M||^2)`` in [0, 1] (1: no shrinkage).
    """
    m = weights.size
    eq = np.full(m, 1.0 / m)
    dist = float(np.sum((weights - eq) ** 2))
    if m == 1 or dist < 1e-12:
        return weights.copy(), 1.0
    var = float(np.trace(np.atleast_2d(np.cov(boot, rowvar=False)))) if len(boot) > 1 else 0.0
    lam = float(np.clip(1.0 - var / dist, 0.0, 1.0))
    return eq + lam * (weights - eq), lam


def _extra_trees(k: int, n_select_trees: int, n_trees: int, min_leaf: int, random_state: int
                 ) -> Pipeline:
    et = ExtraTreesClassifier(n_estimators=n_select_trees, n_jobs=1, random_state=random_state)
    return Pipeline([
        ("select", SelectFromModel(et, threshold=-np.inf, max_features=k)),
        ("clf", RandomForestClassifier(n_estimators=n_trees, min_samples_leaf=min_leaf,
                                       max_features="sqrt", n_jobs=1,
                                       random_state=random_state)),
    ])


class SuperLearner(RadiomicsEnsemble):
    """Convex stacking of a tuned L2 logistic regression and two random forests.

    See the module notes for the design and its references. It is a
    :class:`~voxelomics.model.ensemble.RadiomicsEnsemble` (same linear member, tuning and
    reporting attributes) whose members are weighted by a super learner instead of averaged.

    Parameters
    ----------
    members : tuple of str, default=("linear", "forest", "extra_trees")
        The library, a non-empty subset of :data:`MEMBERS`.
    k_grid, c_grid, inner_splits, inner_repeats, one_se, forest_k, n_trees, min_samples_leaf,
    random_state
        As for :class:`~voxelomics.model.ensemble.RadiomicsEnsemble`.
    extra_k : int, default=32
        Features the ``extra_trees`` member keeps (extra-trees importance).
    extra_select_trees : int, default=250
        Trees of the extra-trees selector.
    n_weight_boot : int, default=100
        Bootstrap resamples that estimate the weights' variance (0: no shrinkage).
    score_members : bool, default=False
        Accepted for compatibility; member scores are always computed (``inner_scores_``).
    recalibrate : bool, default=True
        Logistic recalibration of the combination.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    members_ : dict of str to sklearn.pipeline.Pipeline
        The fitted members, refitted on all training rows.
    weights_ : dict of str to float
        The weights used (after shrinkage), summing to 1.
    raw_weights_ : dict of str to float
        The stacking weights before shrinkage.
    shrinkage_ : float
        ``lambda`` of the shrinkage (1: none, 0: equal weights).
    k_, C_ : int, float or None
        The linear member's hyper-parameters (None without a linear member).
    candidates_ : list of dict
        Every linear candidate with ``k``, ``C``, ``mean``, ``se`` of its inner AUC.
    inner_score_ : float
        Mean inner AUC of the chosen linear candidate (NaN without a linear member).
    inner_scores_ : dict
        Mean inner AUC per member and of the weighted combination (``"ensemble"``; the
        weights were fitted on the same predictions, so it is slightly optimistic).
    calibration_ : tuple of float
        Intercept and slope of the recalibration ((0, 1): none).
    oof_ : ndarray of shape (n_samples, n_members)
        The cross-validated member probabilities the weights were fitted on.
    n_features_in_ : int
    """

    _parameter_constraints = {
        **RadiomicsEnsemble._parameter_constraints,
        "members": [tuple, list],
        "extra_k": [Interval(Integral, 1, None, closed="left")],
        "extra_select_trees": [Interval(Integral, 1, None, closed="left")],
        "n_weight_boot": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, *, members=MEMBERS, k_grid=(4, 8, 16, 32), c_grid=(0.01, 0.1, 1.0),
                 inner_splits=5, inner_repeats=2, one_se=True, forest_k=64, extra_k=32,
                 extra_select_trees=250, n_trees=300, min_samples_leaf=2, n_weight_boot=100,
                 score_members=False, recalibrate=True, random_state=0):
        super().__init__(k_grid=k_grid, c_grid=c_grid, inner_splits=inner_splits,
                         inner_repeats=inner_repeats, one_se=one_se, forest_k=forest_k,
                         n_trees=n_trees, min_samples_leaf=min_samples_leaf,
                         score_members=score_members, recalibrate=recalibrate,
                         random_state=random_state)
        self.members = members
        self.extra_k = extra_k
        self.extra_select_trees = extra_select_trees
        self.n_weight_boot = n_weight_boot

    def _members(self) -> tuple[str, ...]:
        names = tuple(self.members)
        unknown = [m for m in names if m not in MEMBERS]
        if not names or unknown or len(set(names)) != len(names):
            raise ValueError(f"members must be distinct names from {MEMBERS}, got {names!r}")
        return names

    def _make(self, name: str, n_features: int) -> Pipeline:
        if name == "forest":
            return _forest(self.forest_k, self.n_trees, self.min_samples_leaf, self.random_state)
        if name == "extra_trees":
            return _extra_trees(min(self.extra_k, n_features), self.extra_select_trees,
                                self.n_trees, self.min_samples_leaf, self.random_state)
        return _linear(self.k_, self.C_, self.random_state)

    def _folds(self, y01, groups):
        from voxelomics.model.splits import outer_folds

        n_min = int(np.bincount(y01, minlength=2).min())
        splits = min(self.inner_splits, n_min) if groups is None else self.inner_splits
        return outer_folds(y01, n_splits=max(2, splits), n_repeats=self.inner_repeats,
                           random_state=self.random_state, groups=groups)

    def fit(self, X, y, groups=None):
        """Cross-validate the members, fit the weights, refit the members on all rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Imputed, decorrelated features of the training rows.
        y : array-like of shape (n_samples,)
            Binary labels.
        groups : array-like of shape (n_samples,) or None, default=None
            Patient of each row; the inner folds never split a patient.

        Returns
        -------
        self : SuperLearner

        Raises
        ------
        ValueError
            If ``y`` does not hold exactly two classes, or ``members`` is invalid.
        """
        self._validate_params()
        names = self._members()
        X, y = validate_data(self, X, y, dtype=np.float64)
        self.classes_ = np.unique(y)
        if self.classes_.size != 2:
            raise ValueError(f"SuperLearner needs exactly 2 classes, got {self.classes_.size}")
        y01 = (y == self.classes_[1]).astype(int)
        n, p = X.shape
        folds = self._folds(y01, groups)
        has_linear = "linear" in names
        grid = self._grid(int(np.bincount(y01, minlength=2).min()), p) if has_linear else []
        scores = np.full((len(grid), len(folds)), np.nan)
        # the linear candidates are scored on every inner fold (all repeats: tuning); the
        # members' cross-validated predictions come from the first repeat's folds (one
        # V-fold split, as in the super learner; every row is predicted once)
        stack = [f for f, (r, _, _, _) in enumerate(folds) if r == folds[0][0]]
        fold_preds: dict[int, dict[str, np.ndarray]] = {f: {} for f in stack}
        lin_preds = {}
        for f, (_, _, tr, te) in enumerate(folds):
            if has_linear:
                lin_preds[f], scores[:, f] = linear_candidates(X, y01, tr, te, grid,
                                                               self.random_state)
            if f in fold_preds:
                for m in names:
                    if m != "linear":
                        pipe = self._make(m, p).fit(X[tr], y01[tr])
                        fold_preds[f][m] = pipe.predict_proba(X[te])[:, 1]
        self.k_ = self.C_ = None
        self.candidates_, self.inner_score_ = [], float("nan")
        if has_linear:
            with np.errstate(invalid="ignore"):
                means = np.nanmean(np.where(np.isfinite(scores), scores, np.nan), axis=1)
                ses = (np.nanstd(scores, axis=1, ddof=1)
                       / np.sqrt(np.isfinite(scores).sum(axis=1)))
            best = one_se_choice(means, ses) if self.one_se else int(np.nanargmax(means))
            self.k_, self.C_ = grid[best]
            self.candidates_ = [{"k": k, "C": c, "mean": float(m), "se": float(s)}
                                for (k, c), m, s in zip(grid, means, ses, strict=True)]
            self.inner_score_ = float(means[best])
            for f in stack:
                # the candidate the one-SE rule picks on the other folds of the split
                # predicts this fold (those predictions did not choose it)
                sub = scores[:, [g for g in stack if g != f]]
                with np.errstate(invalid="ignore"):
                    m_o = np.nanmean(np.where(np.isfinite(sub), sub, np.nan), axis=1)
                    s_o = np.nanstd(sub, axis=1, ddof=1) / np.sqrt(np.isfinite(sub).sum(axis=1))
                if not np.isfinite(m_o).any():
                    g = best
                else:
                    g = one_se_choice(m_o, s_o) if self.one_se else int(np.nanargmax(m_o))
                fold_preds[f]["linear"] = lin_preds[f][g]
        self.oof_ = np.full((n, len(names)), np.nan)
        for f in stack:
            self.oof_[folds[f][3]] = np.column_stack([fold_preds[f][m] for m in names])
        seen = np.isfinite(self.oof_).all(axis=1)
        Z, yz = _clip_logit(self.oof_[seen]), y01[seen]
        w_hat = convex_stacking_weights(Z, yz)
        w, lam = w_hat, 1.0
        if len(names) > 1 and self.n_weight_boot > 0:
            rng = np.random.default_rng(self.random_state)
            boot = []
            for _ in range(self.n_weight_boot):
                idx = rng.integers(0, len(yz), len(yz))
                if np.unique(yz[idx]).size == 2:
                    boot.append(convex_stacking_weights(Z[idx], yz[idx]))
            w, lam = shrink_to_equal(w_hat, np.asarray(boot).reshape(-1, len(names)))
        self.raw_weights_ = dict(zip(names, w_hat.tolist(), strict=True))
        self.weights_ = dict(zip(names, w.tolist(), strict=True))
        self.shrinkage_ = lam
        self.calibration_ = (0.0, 1.0)
        if self.recalibrate:
            self.calibration_ = _recalibration(y01[seen], self._combine(self.oof_[seen]))
        self.inner_scores_ = self._inner_scores([folds[f] for f in stack],
                                                [fold_preds[f] for f in stack], y01, names)
        self.members_ = {m: self._make(m, p).fit(X, y01) for m in names}
        if has_linear:
            self.linear_ = self.members_["linear"]
        if "forest" in names:
            self.forest_ = self.members_["forest"]
        return self

    def _combine(self, P: np.ndarray) -> np.ndarray:
        """Weighted combination of member probabilities (columns in ``members`` order)."""
        w = np.array([self.weights_[m] for m in self._members()])
        if w.size == 1:
            return P[:, 0].astype(float)
        return 1.0 / (1.0 + np.exp(-(_clip_logit(P) @ w)))

    def _inner_scores(self, folds, fold_preds, y01, names) -> dict[str, float]:
        out = {}
        for m in (*names, "ensemble"):
            aucs = []
            for (_, _, _, te), fp in zip(folds, fold_preds, strict=True):
                pred = (self._combine(np.column_stack([fp[k] for k in names]))
                        if m == "ensemble" else fp[m])
                aucs.append(roc_auc(y01[te], pred))
            with np.errstate(invalid="ignore"):
                out[m] = float(np.nanmean(aucs)) if np.isfinite(aucs).any() else float("nan")
        return out

    def predict_proba(self, X):
        """Weighted, recalibrated combination of the members' probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, 2)
        """
        check_is_fitted(self, "members_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        P = np.column_stack([self.members_[m].predict_proba(X)[:, 1] for m in self._members()])
        p = self._combine(P)
        a, b = self.calibration_
        if (a, b) != (0.0, 1.0):
            p = 1.0 / (1.0 + np.exp(-(a + b * _logit(p))))
        return np.column_stack([1 - p, p])

    def selected_features(self) -> dict[str, list[int]]:
        """Input columns each member uses.

        Returns
        -------
        selected : dict
            Member name -> column indices into the columns given to ``fit``.
        """
        check_is_fitted(self, "members_")
        return {m: np.flatnonzero(pipe.named_steps["select"].get_support()).tolist()
                for m, pipe in self.members_.items()}

    @property
    def feature_importances_(self) -> np.ndarray:
        """Share of the combination's weight on each input column, summing to 1.

        Each member's importances (|coefficient| on standardised features for the linear
        member, impurity importances for the forests) are normalised to 1 and weighted by
        the member's weight; columns no member uses get 0.

        Returns
        -------
        importances : ndarray of shape (n_features_in_,)

        Raises
        ------
        AttributeError
            Before ``fit``.
        """
        if not hasattr(self, "members_"):
            raise AttributeError("SuperLearner is not fitted")
        imp = np.zeros(self.n_features_in_)
        sel = self.selected_features()
        for m, pipe in self.members_.items():
            clf = pipe.named_steps["clf"]
            v = (np.abs(clf.coef_.ravel()) if m == "linear" else clf.feature_importances_)
            if v.sum() > 0:
                np.add.at(imp, sel[m], self.weights_[m] * v / v.sum())
        return imp / imp.sum() if imp.sum() > 0 else imp

    def describe(self) -> str:
        """One line naming the members, their weights and the chosen hyper-parameters.

        Returns
        -------
        text : str
        """
        check_is_fitted(self, "members_")
        text = {
            "linear": (f"L2 logistic regression (top {self.k_} ANOVA features, C={self.C_:g}; "
                       f"one-SE rule over {len(self.candidates_)} candidates)"),
            "forest": (f"random forest ({self.n_trees} trees, top {self.forest_k} "
                       "Mann-Whitney features)"),
            "extra_trees": (f"random forest ({self.n_trees} trees, top {self.extra_k} "
                            "extra-trees features)"),
        }
        parts = " + ".join(f"{self.weights_[m]:.2f} x {text[m]}" for m in self._members())
        a, b = self.calibration_
        return (f"{parts} (convex weights on the logit scale from inner-CV predictions, "
                f"shrunk towards equal weights, lambda={self.shrinkage_:.2f})"
                + (f", recalibrated (intercept {a:+.2f}, slope {b:.2f})"
                   if (a, b) != (0.0, 1.0) else ""))
