"""The former default classifier (`model: ensemble`): a soft-voting ensemble of a sparse linear signature and a forest.

Why this design (the full reasoning, with references, is in ``docs/modelling.md``)
---------------------------------------------------------------------------------
Radiomic tables are small (50-300 patients), wide (100-2,500 features), heavy-tailed and
redundant. On such data the noise of an inner cross-validation is of the same size as the
differences between the candidate models, so *choosing one winner* among model families
on it (the former ``auto`` default) adds variance and optimism (Cawley & Talbot 2010).
The default therefore does not choose between families: it averages two that are known
to do well on clinical and radiomic tables and err in different ways (Deist et al. 2018;
Parmar et al. 2015; Couronne et al. 2018):

* **linear member**: features winsorised at the training rows' 1st/99th percentiles
  (bounded influence of heavy tails and of test values beyond the training range),
  z-scored, the top ``k`` by ANOVA F, L2-penalised logistic regression. ``k`` and the
  penalty ``C`` are tuned by a *repeated* inner cross-validation (lower selection noise)
  with the *one-standard-error rule* (Breiman et al. 1984; Hastie et al. 2009, 7.10): the
  simplest candidate (fewest features, then strongest penalty) whose mean inner AUC is
  within one standard error of the best. The standard error grows as the cohort shrinks,
  so smaller cohorts get sparser, more strongly penalised models; ``k`` is also capped at
  a fifth of the minority class of the training rows.
* **forest member**: the top ``forest_k`` features by the rank-based Mann-Whitney effect
  (robust to heavy tails), then a random forest with fixed, standard hyper-parameters
  (forests are among the least tunable learners, Probst et al. 2019: nothing is tuned).

The ensemble's score is the mean of the two members' probabilities. Averaging a strongly
penalised linear model with a forest pulls probabilities towards the prevalence
(calibration slope > 1), so the mean is *recalibrated* by a logistic fit of the outcome
on its logit (Cox 1958; Steyerberg 2019, ch. 15), estimated on out-of-sample
predictions of the training rows: the linear member's inner-CV predictions (chosen
candidate, averaged over inner repeats) and the forest's out-of-bag predictions. The
recalibration is monotone, so it changes the probabilities, not their ranking.
Decorrelation (|r| > 0.9) and imputation happen before this estimator, in the pipeline
(:func:`~voxelomics.model.estimators.make_pipeline`).

References
----------
Cawley GC, Talbot NLC. On over-fitting in model selection and subsequent selection bias
in performance evaluation. JMLR 11 (2010) 2079-2107.
Deist TM et al. Machine learning algorithms for outcome prediction in (chemo)radiotherapy:
an empirical comparison of classifiers. Med Phys 45 (2018) 3449-3459.
Parmar C et al. Machine learning methods for quantitative radiomic biomarkers. Sci Rep 5
(2015) 13087.
Couronne R, Probst P, Boulesteix A-L. Random forest versus logistic regression: a
large-scale benchmark experiment. BMC Bioinformatics 19 (2018) 270.
Probst P, Wright MN, Boulesteix A-L. Hyperparameters and tuning strategies for random
forest. WIREs Data Min Knowl Discov 9 (2019) e1301.
Breiman L, Friedman J, Olshen R, Stone C. Classification and Regression Trees. 1984.
Cox DR. Two further applications of a model for binary regression. Biometrika 45 (1958)
562-565.
Steyerberg EW. Clinical Prediction Models, 2nd ed. Springer, 2019.
Hastie T, Tibshirani R, Friedman J. The Elements of Statistical Learning, 2nd ed. 2009.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from voxelomics.model.metrics import roc_auc
from voxelomics.model.select import UnivariateSelector, anova_f

__all__ = ["RadiomicsEnsemble", "Winsorizer", "linear_candidates", "one_se_choice"]


class Winsorizer(TransformerMixin, BaseEstimator):
    """Clip every feature to quantiles of its training rows.

    Parameters
    ----------
    lower, upper : float in [0, 1], default=0.01, 0.99
        Quantiles of the training rows that bound each feature.

    Attributes
    ----------
    low_, high_ : ndarray of shape (n_features_in_,)
        Bounds learned in ``fit``.
    """

    _parameter_constraints = {"lower": [Interval(Real, 0, 1, closed="both")],
                              "upper": [Interval(Real, 0, 1, closed="both")]}

    def __init__(self, lower: float = 0.01, upper: float = 0.99):
        self.lower = lower
        self.upper = upper

    def fit(self, X, y=None):
        """Learn the bounds from the training rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self : Winsorizer
        """
        self._validate_params()
        X = validate_data(self, X, dtype=np.float64)
        self.low_, self.high_ = np.quantile(X, [self.lower, self.upper], axis=0)
        return self

    def transform(self, X):
        """Clip to the learned bounds.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        Xt : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self, "low_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return np.clip(X, self.low_, self.high_)


def one_se_choice(means: np.ndarray, ses: np.ndarray) -> int:
    """Index of the first (simplest) candidate within one standard error of the best.

    Parameters
    ----------
    means : ndarray of shape (n_candidates,)
        Mean inner-CV score of each candidate (higher is better; NaN = failed), ordered
        from the simplest to the most complex.
    ses : ndarray of shape (n_candidates,)
        Standard error of each mean.

    Returns
    -------
    index : int
    """
    means = np.where(np.isfinite(means), means, -np.inf)
    best = int(np.argmax(means))
    threshold = means[best] - (ses[best] if np.isfinite(ses[best]) else 0.0)
    return int(np.flatnonzero(means >= threshold)[0])


def linear_candidates(X: np.ndarray, y01: np.ndarray, train: np.ndarray, test: np.ndarray,
                      grid: list[tuple[int, float]], random_state: int
                      ) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Fit every linear candidate on one inner training fold and predict its test fold.

    Winsorising, scaling and the ANOVA ranking are fitted once per fold and shared by the
    candidates (they do not depend on ``k`` or ``C``).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y01 : ndarray of shape (n_samples,)
        Labels coded 0/1.
    train, test : ndarray of int
        Row indices of the inner fold.
    grid : list of (k, C)
        Candidates: number of ANOVA-ranked features and inverse L2 penalty.
    random_state : int

    Returns
    -------
    predictions : dict
        Candidate index -> probabilities of class 1 on ``test``, shape (len(test),).
    auc : ndarray of shape (len(grid),)
        Each candidate's AUC on ``test`` (NaN when ``test`` holds one class).
    """
    base = Pipeline([("winsorise", Winsorizer()), ("scale", StandardScaler())])
    Ztr = base.fit_transform(X[train])
    Zte = base.transform(X[test])
    order = np.argsort(-anova_f(Ztr, y01[train]), kind="stable")
    preds, auc = {}, np.full(len(grid), np.nan)
    for g, (k, c) in enumerate(grid):
        cols = order[:k]
        lr = LogisticRegression(C=c, max_iter=2000, random_state=random_state)
        lr.fit(Ztr[:, cols], y01[train])
        preds[g] = lr.predict_proba(Zte[:, cols])[:, 1]
        auc[g] = roc_auc(y01[test], preds[g])
    return preds, auc


def _linear(k: int, C: float, random_state: int) -> Pipeline:
    return Pipeline([
        ("winsorise", Winsorizer()),
        ("scale", StandardScaler()),
        ("select", UnivariateSelector(method="anova", k=k)),
        ("clf", LogisticRegression(C=C, max_iter=2000, random_state=random_state)),
    ])


def _forest(k: int, n_trees: int, min_leaf: int, random_state: int, oob: bool = False
            ) -> Pipeline:
    return Pipeline([
        ("select", UnivariateSelector(method="mannwhitney", k=k)),
        ("clf", RandomForestClassifier(n_estimators=n_trees, min_samples_leaf=min_leaf,
                                       max_features="sqrt", n_jobs=1, oob_score=oob,
                                       random_state=random_state)),
    ])


def _logit(p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """logit of ``p`` clipped to [eps, 1 - eps]."""
    p = np.clip(np.asarray(p, float), eps, 1 - eps)
    return np.log(p / (1 - p))


def _recalibration(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Intercept and slope of ``logit P(y=1) = a + b logit(p)``; (0, 1) when not estimable."""
    ok = np.isfinite(p)
    if ok.sum() < 10 or np.unique(y[ok]).size < 2 or np.ptp(p[ok]) < 1e-9:
        return 0.0, 1.0
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(p[ok])[:, None], y[ok])
    a, b = float(lr.intercept_[0]), float(lr.coef_[0, 0])
    if not (np.isfinite(a) and np.isfinite(b)) or b <= 0:
        return 0.0, 1.0
    return a, b


class RadiomicsEnsemble(ClassifierMixin, BaseEstimator):
    """Mean of a tuned sparse L2 logistic regression and a fixed random forest.

    See the module notes for the design and its references.

    Parameters
    ----------
    k_grid : tuple of int, default=(4, 8, 16, 32)
        Numbers of ANOVA-selected features tried for the linear member.
    c_grid : tuple of float, default=(0.01, 0.1, 1.0)
        Inverse L2 penalties tried for the linear member.
    inner_splits : int, default=5
        Folds of the inner cross-validation.
    inner_repeats : int, default=2
        Repeats of the inner cross-validation.
    one_se : bool, default=True
        Pick by the one-standard-error rule (else the best mean).
    forest_k : int, default=64
        Features given to the forest (Mann-Whitney effect).
    n_trees : int, default=300
    min_samples_leaf : int, default=2
    score_members : bool, default=False
        Also score the forest and the ensemble on the inner folds (``inner_scores_``;
        used by ``model fit`` to report an inner-CV score, costs ``inner_splits *
        inner_repeats`` forest fits).
    recalibrate : bool, default=True
        Logistic recalibration of the mean probability (see the module notes).
    random_state : int, default=0

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    k_, C_ : int, float
        Hyper-parameters chosen for the linear member.
    candidates_ : list of dict
        Every linear candidate with ``k``, ``C``, ``mean``, ``se`` of its inner AUC.
    inner_score_ : float
        Mean inner AUC of the chosen linear candidate.
    inner_scores_ : dict
        ``{"linear": float, "forest": float, "ensemble": float}`` with ``score_members``.
    calibration_ : tuple of float
        Intercept and slope of the recalibration ((0, 1): none).
    linear_, forest_ : sklearn.pipeline.Pipeline
        The fitted members.
    n_features_in_ : int
    """

    _parameter_constraints = {
        "inner_splits": [Interval(Integral, 2, None, closed="left")],
        "inner_repeats": [Interval(Integral, 1, None, closed="left")],
        "forest_k": [Interval(Integral, 1, None, closed="left")],
        "n_trees": [Interval(Integral, 1, None, closed="left")],
        "min_samples_leaf": [Interval(Integral, 1, None, closed="left")],
        "k_grid": [tuple, list],
        "c_grid": [tuple, list],
        "one_se": ["boolean"],
        "score_members": ["boolean"],
        "recalibrate": ["boolean"],
        "random_state": [Interval(Integral, None, None, closed="neither")],
    }

    def __init__(self, *, k_grid=(4, 8, 16, 32), c_grid=(0.01, 0.1, 1.0), inner_splits=5,
                 inner_repeats=2, one_se=True, forest_k=64, n_trees=300, min_samples_leaf=2,
                 score_members=False, recalibrate=True, random_state=0):
        self.k_grid = k_grid
        self.c_grid = c_grid
        self.inner_splits = inner_splits
        self.inner_repeats = inner_repeats
        self.one_se = one_se
        self.forest_k = forest_k
        self.n_trees = n_trees
        self.min_samples_leaf = min_samples_leaf
        self.score_members = score_members
        self.recalibrate = recalibrate
        self.random_state = random_state

    def _grid(self, n_minority: int, n_features: int) -> list[tuple[int, float]]:
        cap = max(min(self.k_grid), n_minority // 5)
        ks = sorted({min(k, n_features) for k in self.k_grid if k <= cap}
                    or {min(min(self.k_grid), n_features)})
        return [(k, float(c)) for k in ks for c in sorted(self.c_grid)]

    def _inner(self, X, y, groups):
        from voxelomics.model.splits import inner_folds

        n_min = int(np.bincount(y, minlength=2).min())
        splits = min(self.inner_splits, n_min) if groups is None else self.inner_splits
        return inner_folds(y, n_splits=max(2, splits), n_repeats=self.inner_repeats,
                           random_state=self.random_state, groups=groups)

    def fit(self, X, y, groups=None):
        """Tune the linear member by repeated inner CV (one-SE rule), fit both members.

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
        self : RadiomicsEnsemble

        Raises
        ------
        ValueError
            If ``y`` does not hold exactly two classes.
        """
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        self.classes_ = np.unique(y)
        if self.classes_.size != 2:
            raise ValueError(f"RadiomicsEnsemble needs exactly 2 classes, got {self.classes_.size}")
        y01 = (y == self.classes_[1]).astype(int)
        folds = self._inner(X, y01, groups)
        grid = self._grid(int(np.bincount(y01, minlength=2).min()), X.shape[1])
        scores = np.full((len(grid), len(folds)), np.nan)
        forest_oof, linear_oof = [], []
        for f, (tr, te) in enumerate(folds):
            preds, scores[:, f] = linear_candidates(X, y01, tr, te, grid, self.random_state)
            linear_oof.append((te, preds))
            if self.score_members:
                fo = _forest(self.forest_k, self.n_trees, self.min_samples_leaf,
                             self.random_state).fit(X[tr], y01[tr])
                forest_oof.append(fo.predict_proba(X[te])[:, 1])
        with np.errstate(invalid="ignore"):
            means = np.nanmean(np.where(np.isfinite(scores), scores, np.nan), axis=1)
            ses = np.nanstd(scores, axis=1, ddof=1) / np.sqrt(np.isfinite(scores).sum(axis=1))
        best = one_se_choice(means, ses) if self.one_se else int(np.nanargmax(means))
        self.k_, self.C_ = grid[best]
        self.candidates_ = [{"k": k, "C": c, "mean": float(m), "se": float(s)}
                            for (k, c), m, s in zip(grid, means, ses, strict=True)]
        self.inner_score_ = float(means[best])
        self.linear_ = _linear(self.k_, self.C_, self.random_state).fit(X, y01)
        self.forest_ = _forest(self.forest_k, self.n_trees, self.min_samples_leaf,
                               self.random_state, oob=self.recalibrate).fit(X, y01)
        self.calibration_ = (0.0, 1.0)
        if self.recalibrate:
            lin = np.zeros(len(y01))
            cnt = np.zeros(len(y01))
            for te, preds in linear_oof:
                np.add.at(lin, te, preds[best])
                np.add.at(cnt, te, 1)
            with np.errstate(invalid="ignore", divide="ignore"):
                lin = np.where(cnt > 0, lin / cnt, np.nan)
                oob = self.forest_.named_steps["clf"].oob_decision_function_[:, 1]
            self.calibration_ = _recalibration(y01, 0.5 * (lin + oob))
        self.inner_scores_ = {"linear": self.inner_score_}
        if self.score_members:
            fo_auc, en_auc = [], []
            for (te, preds), fp in zip(linear_oof, forest_oof, strict=True):
                fo_auc.append(roc_auc(y01[te], fp))
                en_auc.append(roc_auc(y01[te], 0.5 * (preds[best] + fp)))
            self.inner_scores_.update(forest=float(np.nanmean(fo_auc)),
                                      ensemble=float(np.nanmean(en_auc)))
        return self

    def predict_proba(self, X):
        """Mean of the members' probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, 2)
        """
        check_is_fitted(self, "linear_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        p = 0.5 * (self.linear_.predict_proba(X)[:, 1] + self.forest_.predict_proba(X)[:, 1])
        a, b = self.calibration_
        if (a, b) != (0.0, 1.0):
            p = 1.0 / (1.0 + np.exp(-(a + b * _logit(p))))
        return np.column_stack([1 - p, p])

    def predict(self, X):
        """Class with probability >= 0.5.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]

    def selected_features(self) -> dict[str, list[int]]:
        """Input columns each member uses.

        Returns
        -------
        selected : dict
            ``{"linear": [column indices], "forest": [column indices]}`` into the
            columns given to ``fit``.
        """
        check_is_fitted(self, "linear_")
        return {"linear": np.flatnonzero(self.linear_.named_steps["select"].support_).tolist(),
                "forest": np.flatnonzero(self.forest_.named_steps["select"].support_).tolist()}

    @property
    def feature_importances_(self) -> np.ndarray:
        """Share of the ensemble's weight on each input column, summing to 1.

        Half from the linear member (|coefficient| on standardised features, normalised),
        half from the forest (impurity importances, normalised); columns neither member
        uses get 0.

        Returns
        -------
        importances : ndarray of shape (n_features_in_,)

        Raises
        ------
        AttributeError
            Before ``fit``.
        """
        if not hasattr(self, "linear_"):
            raise AttributeError("RadiomicsEnsemble is not fitted")
        imp = np.zeros(self.n_features_in_)
        sel = self.selected_features()
        coef = np.abs(self.linear_.named_steps["clf"].coef_.ravel())
        trees = self.forest_.named_steps["clf"].feature_importances_
        for idx, w in ((sel["linear"], coef), (sel["forest"], trees)):
            if w.sum() > 0:
                np.add.at(imp, idx, 0.5 * w / w.sum())
        return imp / imp.sum() if imp.sum() > 0 else imp

    def describe(self) -> str:
        """One line naming the members and the chosen hyper-parameters.

        Returns
        -------
        text : str
        """
        check_is_fitted(self, "linear_")
        a, b = self.calibration_
        return (f"mean of L2 logistic regression (top {self.k_} ANOVA features, C={self.C_:g}; "
                f"one-SE rule over {len(self.candidates_)} candidates) and random forest "
                f"({self.n_trees} trees, top {self.forest_k} Mann-Whitney features)"
                + (f", recalibrated (intercept {a:+.2f}, slope {b:.2f})"
                   if (a, b) != (0.0, 1.0) else ""))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
