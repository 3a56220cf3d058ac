"""Ellipsoids of an ROI: PCA semi-axes, the ellipsoid surface series and the MVEE (IBSI 3.1).

Notation follows the IBSI reference manual: :math:`\\lambda_{major} \\geq \\lambda_{minor} \\geq
\\lambda_{least}` are the eigenvalues of the covariance matrix of the voxel-centre point set
:math:`\\mathbf{X}_c` (mm²); the semi-axes of the approximate enclosing ellipsoid are
:math:`a = 2\\sqrt{\\lambda_{major}}`, :math:`b = 2\\sqrt{\\lambda_{minor}}`,
:math:`c = 2\\sqrt{\\lambda_{least}}` (mm).
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial import legendre

from voxelomics.errors import FeatureError

__all__ = ["pca_eigenvalues", "ellipsoid_surface_area", "mvee_semi_axes"]

#: Last degree of the Legendre series of the ellipsoid surface (IBSI default: 20).
N_LEGENDRE = 20

#: Khachiyan iterations between exact recomputations of the Mahalanobis norms (the steps in
#: between are rank-one Sherman-Morrison updates).
_MVEE_REFRESH = 64

# Power-basis coefficients of P_0 ... P_20, computed once.
_LEGENDRE_POWER = [legendre.leg2poly([0] * nu + [1]) for nu in range(N_LEGENDRE + 1)]


def pca_eigenvalues(points: np.ndarray) -> np.ndarray:
    """Eigenvalues of the covariance of a point set, largest first (IBSI: TDIC, P9VJ, 7J51).

    Parameters
    ----------
    points : ndarray of shape (n_points, 3)
        Voxel-centre coordinates (mm) of the morphological mask.

    Returns
    -------
    ndarray of shape (3,)
        :math:`(\\lambda_{major}, \\lambda_{minor}, \\lambda_{least})` in mm², using the unbiased
        covariance (divisor :math:`n - 1`), as the IBSI digital-phantom values require.
        All NaN for fewer than two points (covariance undefined). Round-off negatives are
        clipped to 0.
    """
    if len(points) < 2:
        return np.full(3, np.nan)
    ev = np.linalg.eigvalsh(np.cov(points, rowvar=False, ddof=1))
    return np.clip(ev[::-1], 0.0, None)


def ellipsoid_surface_area(a: float, b: float, c: float) -> float:
    """Surface area of an ellipsoid by the IBSI Legendre series (IBSI: RDD2, BRI8).

    Parameters
    ----------
    a, b, c : float
        Semi-axis lengths (mm) with ``a >= b >= c >= 0`` and ``a > 0``.

    Returns
    -------
    float
        :math:`A = 4\\pi a b \\sum_{\\nu=0}^{20} \\frac{(\\alpha\\beta)^\\nu}{1-4\\nu^2}
        P_\\nu\\left(\\frac{\\alpha^2+\\beta^2}{2\\alpha\\beta}\\right)` (mm²) with
        :math:`\\alpha=\\sqrt{1-b^2/a^2}`, :math:`\\beta=\\sqrt{1-c^2/a^2}`.

    Notes
    -----
    :math:`(\\alpha\\beta)^\\nu P_\\nu(x)` is expanded into a polynomial in
    :math:`s=(\\alpha^2+\\beta^2)/2` and :math:`\\alpha\\beta`, so the series stays finite when
    :math:`\\alpha\\beta = 0` (spheroids with ``b == a``, and the sphere, where it gives
    :math:`4\\pi a^2`).

    References
    ----------
    IBSI reference manual, section 3.1 "Area density (approximate enclosing ellipsoid)".
    """
    alpha = np.sqrt(max(0.0, 1.0 - (b / a) ** 2))
    beta = np.sqrt(max(0.0, 1.0 - (c / a) ** 2))
    s = 0.5 * (alpha**2 + beta**2)
    p = alpha * beta
    total = 0.0
    for nu, coef in enumerate(_LEGENDRE_POWER):
        k = np.arange(len(coef))
        # (αβ)^ν x^k = (αβ)^(ν-k) s^k; only k with ν - k even and >= 0 have coef != 0
        term = float(np.sum(coef * p ** (nu - k) * s**k))
        total += term / (1.0 - 4.0 * nu * nu)
    return float(4.0 * np.pi * a * b * total)


def mvee_semi_axes(points: np.ndarray, *, tolerance: float = 1e-3, max_iter: int = 20000) -> np.ndarray:
    """Semi-axes of the minimum-volume enclosing ellipsoid by Khachiyan's method (IBSI: SWZ1).

    Parameters
    ----------
    points : ndarray of shape (n_points, 3)
        Convex hull vertices of the ROI mesh (mm); at least 4 affinely independent points.
    tolerance : float, default=1e-3
        Stop when the barycentric weights change by less than this (Euclidean norm), the
        IBSI default :math:`\\tau = 0.001`.
    max_iter : int, default=20000
        Iteration cap.

    Returns
    -------
    ndarray of shape (3,)
        Semi-axis lengths (mm), largest first.

    Raises
    ------
    FeatureError
        The iteration did not converge within ``max_iter`` steps, or the points are flat.

    Notes
    -----
    Khachiyan's barycentric coordinate ascent: with lifted points
    :math:`q_i = (x_i, 1)` and weights :math:`u`, repeat
    :math:`X = Q\\,\\mathrm{diag}(u)\\,Q^T`, :math:`M_i = q_i^T X^{-1} q_i`,
    :math:`j = \\arg\\max M`, step :math:`(M_j - d - 1)/((d + 1)(M_j - 1))` towards vertex
    :math:`j`. :math:`X^{-1}` and :math:`M` are updated by the Sherman–Morrison formula
    (the step is a rank-one change of :math:`X`) and recomputed exactly every
    :data:`_MVEE_REFRESH` iterations. The ellipsoid is :math:`(x-c)^T E (x-c) \\le 1` with :math:`c = P^T u`,
    :math:`E = \\left(P^T \\mathrm{diag}(u) P - c c^T\\right)^{-1} / d`; semi-axes are
    :math:`1/\\sqrt{\\mathrm{eig}(E)}`.

    .. warning:: IBSI has no consensus reference for the MVEE features.

    References
    ----------
    Khachiyan L.G. (1996), Math. Oper. Res. 21:307; Todd & Yildirim (2007).
    """
    pts = np.asarray(points, dtype=np.float64)
    pts = pts - pts.mean(axis=0)
    n, d = pts.shape
    q = np.hstack([pts, np.ones((n, 1))])  # (n, d+1)
    u = np.full(n, 1.0 / n)
    g = np.empty(n)
    # ~700 iterations of a few small array operations each: the loop keeps scalars as Python
    # floats, updates arrays in place and carries u.u as a scalar (recomputed at every
    # refresh); same results as the plain formulas on the CT cases, ~30 % less time
    for it in range(max_iter):
        if it % _MVEE_REFRESH == 0:  # exact M now and then; rank-one updates in between
            try:
                x_inv = np.linalg.inv(q.T @ (u[:, None] * q))
            except np.linalg.LinAlgError as exc:
                raise FeatureError(
                    f"MVEE: the {n} hull points are flat (singular scatter matrix); expected a "
                    "3D point set"
                ) from exc
            m = np.einsum("ij,ij->i", q @ x_inv, q)
            if not np.all(np.isfinite(m)):
                raise FeatureError(
                    f"MVEE: the {n} hull points are flat (singular scatter matrix); expected a "
                    "3D point set"
                )
            uu = float(u @ u)
        j = int(m.argmax())
        mj = float(m[j])
        step = (mj - d - 1.0) / ((d + 1.0) * (mj - 1.0))
        keep = 1.0 - step
        uj = float(u[j])
        # |new - u| with new = (1 - step) u + step e_j
        change = step * (uu - 2.0 * uj + 1.0) ** 0.5
        u *= keep
        u[j] += step
        uu = keep * keep * uu + 2.0 * keep * step * uj + step * step
        # Sherman-Morrison: X <- (1 - step) X + step q_j q_j^T
        v = x_inv @ q[j]
        np.matmul(q, v, out=g)
        c = step / (keep + step * mj)
        t = g * c
        t *= g
        m -= t
        m /= keep
        x_inv -= c * (v[:, None] * v)
        x_inv /= keep
        if change < tolerance:
            break
    else:
        raise FeatureError(f"MVEE: Khachiyan's method did not converge in {max_iter} iterations")
    centre = pts.T @ u
    scatter = pts.T @ (u[:, None] * pts) - np.outer(centre, centre)
    shape = np.linalg.inv(scatter) / d
    return np.sort(1.0 / np.sqrt(np.linalg.eigvalsh(shape)))[::-1]
