"""Cox proportional-hazards regression on one covariate (a score), with Wald inference.

Used to test a transferred score against survival (``voxelomics model validate``): the
hazard ratio per unit of the score, per standard deviation, and of the high- against the
low-score group. The model is :math:`h(t | x) = h_0(t) e^{\\beta x}`, fitted by maximising
the partial likelihood with **Efron's** handling of tied event times (the default of R's
``survival::coxph`` and of lifelines), by Newton-Raphson on the centred and scaled
covariate (the estimate is then returned on the covariate's own scale).

With :math:`D_j` the rows with an event at the :math:`j`-th distinct event time
(:math:`d_j` of them), :math:`R_j` the rows still at risk then, :math:`S^{(k)}_A =
\\sum_{i \\in A} x_i^k e^{\\beta x_i}` and :math:`\\phi_{jl} = l / d_j`:

.. math::

    \\ell(\\beta) = \\sum_j \\Big[ \\beta \\sum_{i \\in D_j} x_i
        - \\sum_{l=0}^{d_j-1} \\log\\big(S^{(0)}_{R_j} - \\phi_{jl} S^{(0)}_{D_j}\\big) \\Big]

The standard error is the inverse square root of the observed information at the
estimate; the interval and p-value are Wald's (:math:`\\hat\\beta \\pm 1.96\\,SE`,
:math:`2\\Phi(-|\\hat\\beta|/SE)`), as lifelines and R report them. The likelihood-ratio
test against :math:`\\beta = 0` is returned too. The numbers are checked against
lifelines' ``CoxPHFitter`` in ``tests/model/test_score.py``.

References
----------
Cox DR. Regression models and life-tables. J R Stat Soc B 34 (1972) 187-220.
Efron B. The efficiency of Cox's likelihood function for censored data. JASA 72 (1977)
557-565.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from voxelomics.errors import ModelError

__all__ = ["cox_univariable", "hazard_ratio"]


def _efron_terms(beta: float, x: np.ndarray, time: np.ndarray, event: np.ndarray):
    """Log partial likelihood, score and information at ``beta`` (x centred and scaled).

    Vectorised over the event rows: the risk-set sums are cumulative sums over rows sorted
    by decreasing time; the ``d_j`` rows of the ``j``-th event time share its sums, and
    each takes one ``phi = l / d_j`` (``l = 0 .. d_j - 1``) of Efron's correction.
    """
    eta = beta * x
    eta = eta - eta.max()  # a common shift cancels in every ratio below
    r = np.exp(eta)
    order = np.argsort(-time, kind="stable")        # latest first: cumulative = at risk
    t, xs, rs, ev, es = time[order], x[order], r[order], event[order], eta[order]
    c0, c1, c2 = np.cumsum(rs), np.cumsum(rs * xs), np.cumsum(rs * xs * xs)
    rows = np.flatnonzero(ev)                        # event rows, by decreasing time
    tj, inv, d = np.unique(t[rows], return_inverse=True, return_counts=True)
    last = np.searchsorted(-t, -tj, side="right") - 1   # last row with time >= t_j
    s0d = np.bincount(inv, weights=rs[rows], minlength=tj.size)
    s1d = np.bincount(inv, weights=(rs * xs)[rows], minlength=tj.size)
    s2d = np.bincount(inv, weights=(rs * xs * xs)[rows], minlength=tj.size)
    # position l of each event row within its tied group (rows of a group are contiguous)
    neg = -t[rows]                                   # non-decreasing
    phi = (np.arange(rows.size) - np.searchsorted(neg, neg, side="left")) / d[inv]
    den = c0[last][inv] - phi * s0d[inv]
    m1 = (c1[last][inv] - phi * s1d[inv]) / den
    m2 = (c2[last][inv] - phi * s2d[inv]) / den
    ll = float(es[rows].sum() - np.log(den).sum())
    score = float(xs[rows].sum() - m1.sum())
    info = float(np.sum(m2 - m1 ** 2))
    return ll, score, info


def cox_univariable(x, time, event, *, max_iter: int = 50, tol: float = 1e-9) -> dict:
    """Fit a Cox model on one covariate (Efron ties) with Wald and likelihood-ratio tests.

    Parameters
    ----------
    x : array-like of shape (n_samples,)
        Covariate (a score, or a 0/1 group indicator).
    time : array-like of shape (n_samples,)
        Follow-up time (any unit, >= 0).
    event : array-like of shape (n_samples,)
        1/True for an event, 0/False for censoring.
    max_iter : int, default=50
    tol : float, default=1e-9
        Convergence tolerance on the Newton step (scaled covariate).

    Returns
    -------
    fit : dict
        ``coef`` (log hazard ratio per unit of ``x``), ``se``, ``hr`` (``exp(coef)``),
        ``ci95`` (Wald, of the hazard ratio), ``z``, ``p_value`` (Wald, two-sided),
        ``lr_chi2`` and ``lr_p_value`` (likelihood-ratio test of coef = 0), ``n``,
        ``n_events``, ``converged``. When the estimate diverges (e.g. a group without
        events: the hazard ratio is 0 or infinite; a hazard ratio per standard deviation
        beyond :math:`e^{15}`), ``converged`` is False and the estimates are NaN.

    Raises
    ------
    ModelError
        Fewer than 2 rows, no event, a constant covariate, or missing values.
    """
    x = np.asarray(x, float)
    time = np.asarray(time, float)
    event = np.asarray(event).astype(bool)
    n = x.size
    if not (time.size == event.size == n) or n < 2:
        raise ModelError(f"a Cox fit needs x, time and event of one length >= 2 (got {n}, "
                         f"{time.size}, {event.size})")
    bad = ~(np.isfinite(x) & np.isfinite(time))
    if bad.any():
        raise ModelError(f"{int(bad.sum())} row(s) have a missing score or time")
    if not event.any():
        raise ModelError("a Cox fit needs at least one event")
    sd = float(np.std(x))
    if sd == 0:
        raise ModelError("the covariate of the Cox fit is constant")
    z = (x - x.mean()) / sd
    ll0, _, _ = _efron_terms(0.0, z, time, event)
    beta = 0.0
    converged = False
    ll = ll0
    for _ in range(max_iter):
        ll, score, info = _efron_terms(beta, z, time, event)
        if info <= 0 or not np.isfinite(info):
            break
        step = score / info
        # step halving keeps the likelihood increasing (Newton can overshoot on flat tails)
        for _h in range(30):
            ll_new = _efron_terms(beta + step, z, time, event)[0]
            if np.isfinite(ll_new) and ll_new >= ll - 1e-12:
                break
            step /= 2
        beta += step
        if abs(step) < tol:
            converged = True
            break
        if abs(beta) > 30:  # hazard ratio per SD beyond e^30: stop, it diverges
            break
    ll, _, info = _efron_terms(beta, z, time, event)
    nan = float("nan")
    # a hazard ratio per SD beyond e^15 is a diverging estimate (the likelihood flattens
    # towards it, e.g. a group without events), even when the Newton steps became small
    if not converged or info <= 0 or abs(beta) > 15:
        return {"coef": nan, "se": nan, "hr": nan, "ci95": [nan, nan], "z": nan,
                "p_value": nan, "lr_chi2": nan, "lr_p_value": nan, "n": int(n),
                "n_events": int(event.sum()), "converged": False}
    coef, se = beta / sd, 1.0 / np.sqrt(info) / sd
    zval = coef / se
    lr = max(0.0, 2.0 * (ll - ll0))
    return {"coef": float(coef), "se": float(se), "hr": float(np.exp(coef)),
            "ci95": [float(np.exp(coef - 1.959963984540054 * se)),
                     float(np.exp(coef + 1.959963984540054 * se))],
            "z": float(zval), "p_value": float(2 * stats.norm.sf(abs(zval))),
            "lr_chi2": float(lr), "lr_p_value": float(stats.chi2.sf(lr, 1)),
            "n": int(n), "n_events": int(event.sum()), "converged": True}


def hazard_ratio(fit: dict, unit: float = 1.0) -> dict:
    """The hazard ratio of a :func:`cox_univariable` fit for a change of ``unit`` in x.

    Parameters
    ----------
    fit : dict
        Output of :func:`cox_univariable`.
    unit : float, default=1.0
        Change of the covariate (e.g. its standard deviation).

    Returns
    -------
    hr : dict
        ``hr``, ``ci95`` (Wald), ``p_value`` (Wald; unchanged by the unit), ``coef`` and
        ``se`` on the scale of ``unit``.
    """
    coef, se = fit["coef"] * unit, fit["se"] * abs(unit)
    q = 1.959963984540054
    return {"hr": float(np.exp(coef)), "ci95": [float(np.exp(coef - q * se)),
                                               float(np.exp(coef + q * se))],
            "p_value": fit["p_value"], "coef": float(coef), "se": float(se)}
