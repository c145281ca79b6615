"""Log-likelihood of p-value selection models for meta-analysis, with its gradient.

Array-only kernel behind :func:`painstats.meta.selection_model`. Under a selection model
a study with effect size y_i (sampling variance v_i) and one-sided p-value
p_i = 1 - Phi(y_i / sqrt(v_i)) is published with a relative probability w(p_i; delta),
so the density of the observed y_i is

    f(y_i) = w(p_i; delta) phi(y_i; mu, v_i + tau^2) / A_i,
    A_i    = E[w(p(Y); delta)],  Y ~ N(mu, v_i + tau^2)

(Hedges 1992; Vevea & Hedges 1995). The weight functions and their parameter ranges are
those of R metafor's ``selmodel()`` (3.8): a step function with one delta per p-value
interval, and the continuous beta, half-normal, negative-exponential, logistic and power
functions (Citkovitz & Vevea 2017; Preston, Ashby & Smith 2004).

A_i is a closed form for the step function. For the continuous functions it is integrated
on the scale of the standardised statistic z = y / sqrt(v_i), where the weight w(p(z)) is
the same function for every study and its kinks (the threshold alpha, the clamping of p at
``pval_min``) sit at fixed points: composite Gauss-Legendre on panels of width
<= ``PANEL_WIDTH`` in [-Z_TAIL, Z_TAIL] with the kinks as panel ends, plus the two tails
beyond +/- Z_TAIL, where w is constant to double precision and the normal probability is
closed form. The integral is accurate to ~1e-14 relative (metafor uses ``integrate()``
at rel.tol = eps^0.25), which the gradient and Hessian need.

The kernel works on "greater" and "two.sided" p-values; "less" is "greater" for -y, -mu.

References
----------
Hedges LV (1992). Modeling publication selection effects in meta-analysis. Stat Sci 7:246-255.
Vevea JL, Hedges LV (1995). A general linear model for estimating effect size in the presence
    of publication bias. Psychometrika 60:419-435.
Preston C, Ashby D, Smith R (2004). Adjusting for publication bias: modelling the selection
    process. J Eval Clin Pract 10:313-322.
Citkovitz M, Vevea JL (2017). Selection models for publication bias with continuous weight
    functions. (Presentation; the functions as implemented in metafor's selmodel().)
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np
from scipy import special

__all__ = [
    "SELECTION_TYPES",
    "SelectionFit",
    "SelectionLikelihood",
    "SelectionSpec",
    "hessian",
    "make_spec",
    "maximise",
    "one_sided_pvalues",
]

#: The weight functions of metafor's selmodel() that painstats implements.
SELECTION_TYPES = ("stepfun", "beta", "halfnorm", "negexp", "logistic", "power")

Z_TAIL = 8.5  #: beyond |z| > Z_TAIL, p is within 1e-17 of 0 or 1 and w(p) is constant
PANEL_WIDTH = 0.5  #: Gauss-Legendre panel width on the z scale
GL_NODES = 16  #: nodes per panel

_LOG_2PI = np.log(2.0 * np.pi)


class SelectionSpec(NamedTuple):
    """The weight function: its type, cut points and parameter ranges (as metafor 3.8)."""

    type: str
    steps: np.ndarray  #: stepfun: right ends of the intervals, last = 1; others: (alpha,) or ()
    two_sided: bool
    n_delta: int
    fixed: np.ndarray  #: bool per delta: fixed at ``fixed_value`` (stepfun's delta_1 = 1)
    fixed_value: np.ndarray
    delta_min: np.ndarray
    delta_max: np.ndarray
    delta_init: np.ndarray
    h0: np.ndarray  #: delta under "no selection" (the Wald tests of delta)
    pval_min: float  #: p-values are clamped to [pval_min, 1 - pval_min]


def make_spec(type_: str, steps: tuple[float, ...], two_sided: bool) -> SelectionSpec:
    """Parameter layout of one selection model type; ``steps`` already validated."""
    cuts = np.asarray(steps, dtype=float)
    if type_ == "stepfun":
        ends = np.append(cuts, 1.0)
        n = ends.size
        fixed = np.zeros(n, dtype=bool)
        fixed[0] = True
        return SelectionSpec(type_, ends, two_sided, n, fixed, np.ones(n), np.zeros(n),
                             np.full(n, 100.0), np.ones(n), np.ones(n), 0.0)
    if type_ == "beta":
        two = np.ones(2)
        return SelectionSpec(type_, cuts, two_sided, 2, np.zeros(2, dtype=bool), two,
                             np.full(2, 1e-5), np.full(2, 100.0), two, two, 1e-5)
    pmin = 1e-5 if type_ == "power" else 0.0
    return SelectionSpec(type_, cuts, two_sided, 1, np.zeros(1, dtype=bool), np.ones(1),
                         np.zeros(1), np.full(1, 100.0), np.ones(1), np.zeros(1), pmin)


def one_sided_pvalues(y: np.ndarray, v: np.ndarray, alternative: str) -> np.ndarray:
    """p-values of the studies as metafor: 1 - Phi(z), Phi(z) or 2(1 - Phi(|z|))."""
    z = y / np.sqrt(v)
    if alternative == "greater":
        return special.ndtr(-z)
    if alternative == "less":
        return special.ndtr(z)
    return 2.0 * special.ndtr(-np.abs(z))


# ---------------------------------------------------------------------------------------
# weight functions w(p; delta) and d log w / d delta


def _weight(spec: SelectionSpec, p: np.ndarray, delta: np.ndarray):
    """w(p; delta) and g = d log w / d delta (shape p.shape + (n_delta,))."""
    p = np.clip(p, spec.pval_min, 1.0 - spec.pval_min)
    t = spec.type
    if t == "beta":
        lp, lq = np.log(p), np.log1p(-p)
        logw = (delta[0] - 1.0) * lp + (delta[1] - 1.0) * lq
        return np.exp(logw), np.stack([lp, lq], axis=-1)
    alpha = spec.steps[0] if spec.steps.size else 0.0
    d = delta[0]
    with np.errstate(over="ignore"):
        if t == "halfnorm":
            f, f0 = p**2, alpha**2
            g = -(f - f0)
            logw = d * g
        elif t == "negexp":
            g = -(p - alpha)
            logw = d * g
        elif t == "logistic":
            # log(2 e^{-dp} / (1 + e^{-dp})) = log 2 - log(1 + e^{dp})
            logw = -np.logaddexp(0.0, d * p) + np.logaddexp(0.0, d * alpha)
            g = -p * special.expit(d * p) + alpha * special.expit(d * alpha)
        else:  # power
            g = np.log1p(-p) - np.log1p(-alpha)
            logw = d * g
    above = p > alpha
    logw = np.where(above, logw, 0.0)
    g = np.where(above, g, 0.0)
    return np.exp(logw), g[..., None]


# ---------------------------------------------------------------------------------------
# quadrature grid on the z scale


def _gauss_legendre_grid(breaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of composite Gauss-Legendre over panels between sorted breaks."""
    edges = [breaks[0]]
    for a, b in itertools.pairwise(breaks):
        n = max(1, int(np.ceil((b - a) / PANEL_WIDTH - 1e-12)))
        edges.extend(np.linspace(a, b, n + 1)[1:])
    edges = np.asarray(edges)
    x, w = np.polynomial.legendre.leggauss(GL_NODES)
    a, b = edges[:-1, None], edges[1:, None]
    nodes = 0.5 * (b - a) * x + 0.5 * (a + b)
    weights = 0.5 * (b - a) * w
    return nodes.ravel(), weights.ravel()


def _kinks(spec: SelectionSpec) -> list[float]:
    """z values where w(p(z)) is not smooth: the threshold alpha and the p clamps."""
    ps = list(spec.steps[:1]) if spec.type != "stepfun" else []
    if spec.pval_min > 0:
        ps += [spec.pval_min, 1.0 - spec.pval_min]
    out = [0.0] if spec.two_sided else []
    for p in ps:
        if 0 < p < 1:
            z = special.ndtri(1.0 - p / 2.0) if spec.two_sided else special.ndtri(1.0 - p)
            out += [z, -z] if spec.two_sided else [z]
    if spec.two_sided and spec.pval_min > 0:
        # (1 - p)^c behaves like |z|^c near z = 0: grade the panels geometrically towards
        # the clamp point so that Gauss-Legendre keeps its accuracy
        z0 = special.ndtri(0.5 + spec.pval_min / 2.0)
        out += [sign * z0 * 4.0**j for j in range(1, 40) if z0 * 4.0**j < 1.0
                for sign in (1.0, -1.0)]
    return [z for z in out if -Z_TAIL < z < Z_TAIL]


def _p_of_z(z: np.ndarray, two_sided: bool) -> np.ndarray:
    return 2.0 * special.ndtr(-np.abs(z)) if two_sided else special.ndtr(-z)


# ---------------------------------------------------------------------------------------
# likelihood


class SelectionLikelihood:
    """Log-likelihood l(mu, tau^2, delta) of one selection model and its exact gradient.

    ``y`` and ``v`` are the studies' effects and variances already on the "greater" (or
    "two.sided") scale; ``pvals`` their (unclamped) p-values. Parameters are on the
    original scale: theta = (mu, tau^2, delta_1, ..., delta_D). tau^2 may be slightly
    negative (the formula is analytic for tau^2 > -min v), which the Hessian uses at the
    tau^2 = 0 boundary.
    """

    def __init__(self, y: np.ndarray, v: np.ndarray, pvals: np.ndarray, spec: SelectionSpec):
        self.y = np.asarray(y, dtype=float)
        self.v = np.asarray(v, dtype=float)
        self.spec = spec
        self.sv = np.sqrt(self.v)
        if spec.type == "stepfun":
            self.group = np.searchsorted(spec.steps, np.asarray(pvals), side="left")
            self._setup_step_bounds()
        else:
            self.p_obs = np.clip(pvals, spec.pval_min, 1.0 - spec.pval_min)
            breaks = np.array(sorted({-Z_TAIL, Z_TAIL, *_kinks(spec)}))
            self.z, self.wz = _gauss_legendre_grid(breaks)
            self.p_nodes = _p_of_z(self.z, spec.two_sided)
            self.p_right = _p_of_z(np.array([np.inf]), spec.two_sided)
            self.p_left = _p_of_z(np.array([-np.inf]), spec.two_sided)

    # -- step function ------------------------------------------------------------------

    def _setup_step_bounds(self) -> None:
        """y-ranges [lo, hi) of each p-value interval, in units of sqrt(v_i)."""
        s = self.spec.steps
        prev = np.concatenate([[0.0], s[:-1]])
        if self.spec.two_sided:
            c_hi = special.ndtri(1.0 - prev / 2.0)  # +inf for prev = 0
            c_lo = special.ndtri(1.0 - s / 2.0)  # 0 for s = 1
            self.ranges = [(c_lo, c_hi), (-c_hi, -c_lo)]
        else:
            self.ranges = [(special.ndtri(1.0 - s), special.ndtri(1.0 - prev))]

    def _step_parts(self, mu: float, s: np.ndarray):
        """pi_ij = P(p(Y_i) in interval j) and its derivatives in mu and tau^2."""
        shape = (self.y.size, self.spec.n_delta)
        pi, dmu, dt2 = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        sv, s_ = self.sv[:, None], s[:, None]
        for lo, hi in self.ranges:
            a = (sv * lo[None, :] - mu) / s_
            b = (sv * hi[None, :] - mu) / s_
            pi += _prob_between(a, b)
            pa, pb = _phi(a), _phi(b)
            dmu += (pa - pb) / s_
            dt2 += (_phi_times(a) - _phi_times(b)) / (2.0 * s_**2)
        return pi, dmu, dt2

    # -- continuous weight functions ------------------------------------------------------

    def _cont_parts(self, mu: float, s: np.ndarray, delta: np.ndarray):
        """A_i and its derivatives in mu, tau^2 and delta by quadrature plus closed tails."""
        spec = self.spec
        w, g = _weight(spec, self.p_nodes, delta)
        sv, s_ = self.sv[:, None], s[:, None]
        t = (sv * self.z[None, :] - mu) / s_
        k_in = np.exp(-0.5 * t * t - 0.5 * _LOG_2PI) * (self.wz[None, :] * sv / s_)
        e = k_in * w[None, :]
        A = e.sum(axis=1)
        dmu = (e * t).sum(axis=1) / s
        dt2 = (e * (t * t - 1.0)).sum(axis=1) / (2.0 * s**2)
        dd = e @ g
        # tails: w is constant beyond +/- Z_TAIL
        for p_tail, sign in ((self.p_right, 1.0), (self.p_left, -1.0)):
            wt, gt = _weight(spec, p_tail, delta)
            c = (sign * Z_TAIL * self.sv - mu) / s  # standardised tail boundary
            prob = special.ndtr(-sign * c)
            A = A + wt[0] * prob
            dmu = dmu + sign * wt[0] * _phi(c) / s
            dt2 = dt2 + sign * wt[0] * _phi(c) * c / (2.0 * s**2)
            dd = dd + wt[0] * prob[:, None] * gt[0][None, :]
        return A, dmu, dt2, dd

    # -- the log-likelihood -----------------------------------------------------------------

    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """l(theta) and dl/dtheta, theta = (mu, tau^2, delta_1..delta_D)."""
        mu, tau2 = float(theta[0]), float(theta[1])
        delta = np.asarray(theta[2:], dtype=float)
        s2 = self.v + tau2
        s = np.sqrt(s2)
        r = self.y - mu
        ll_norm = -0.5 * (_LOG_2PI + np.log(s2) + r * r / s2)
        g_mu = r / s2
        g_t2 = 0.5 * (r * r / s2 - 1.0) / s2
        if self.spec.type == "stepfun":
            pi, dmu, dt2 = self._step_parts(mu, s)
            A = pi @ delta
            dA_mu, dA_t2, dA_d = dmu @ delta, dt2 @ delta, pi
            gw = np.zeros((self.y.size, delta.size))
            with np.errstate(divide="ignore", invalid="ignore"):
                logw = np.log(delta[self.group])
                gw[np.arange(self.y.size), self.group] = 1.0 / delta[self.group]
        else:
            A, dA_mu, dA_t2, dA_d = self._cont_parts(mu, s, delta)
            wo, gw = _weight(self.spec, self.p_obs, delta)
            with np.errstate(divide="ignore"):
                logw = np.log(wo)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ll = float(np.sum(logw + ll_norm - np.log(A)))
            grad = np.empty(theta.size)
            grad[0] = np.sum(g_mu - dA_mu / A)
            grad[1] = np.sum(g_t2 - dA_t2 / A)
            grad[2:] = np.sum(gw - dA_d / A[:, None], axis=0)
        return ll, grad


def _phi(x: np.ndarray) -> np.ndarray:
    """Standard normal density; 0 at +/- inf."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(np.isfinite(x), np.exp(-0.5 * x * x - 0.5 * _LOG_2PI), 0.0)


def _phi_times(x: np.ndarray) -> np.ndarray:
    """x phi(x), 0 at +/- inf."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(x), x * _phi(x), 0.0)


def _prob_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """P(a < Z <= b) for a standard normal Z, accurate in both tails."""
    return np.where(a > 0, special.ndtr(-a) - special.ndtr(-b), special.ndtr(b) - special.ndtr(a))


# ---------------------------------------------------------------------------------------
# maximisation and the observed information


class SelectionFit(NamedTuple):
    """Maximum-likelihood fit of one selection model (original scale)."""

    theta: np.ndarray  #: (mu, tau^2, delta_1..delta_D)
    loglik: float
    proj_grad: float  #: largest projected gradient component, in units of ``scale``
    n_eval: int


def _projected(grad: np.ndarray, theta: np.ndarray, lower: np.ndarray, upper: np.ndarray):
    """Gradient with the components that push against an active bound set to 0."""
    pg = grad.copy()
    pg[(theta <= lower) & (grad < 0)] = 0.0
    pg[(theta >= upper) & (grad > 0)] = 0.0
    return pg


def maximise(lik: SelectionLikelihood, theta0: np.ndarray, free: np.ndarray,
             lower: np.ndarray, upper: np.ndarray, scale: np.ndarray,
             max_iter: int = 500) -> SelectionFit:
    """Maximise l(theta) over the free parameters within the box [lower, upper].

    A projected Newton method with Levenberg-Marquardt damping on parameters scaled by
    ``scale`` (about one standard error each): the Hessian on the parameters not held at a
    bound comes from central differences of the exact gradient, the step is damped until
    the Newton system is positive definite and shortened until the likelihood increases.
    With a handful of parameters this converges quadratically to machine precision, in a
    few dozen gradient evaluations (BFGS-type methods, as metafor's ``optim``, stop earlier).
    """
    idx = np.flatnonzero(free)
    theta = np.clip(np.array(theta0, dtype=float), lower, upper)
    ll, g = lik.value_and_grad(theta)
    n_eval = 1
    lam = 0.0
    for _ in range(max_iter):
        pg = _projected(g, theta, lower, upper)
        if not np.isfinite(ll) or np.max(np.abs(pg[idx] * scale[idx]), initial=0.0) < 1e-11:
            break
        inner = idx[(pg[idx] != 0)]
        sc = scale[inner]
        H = hessian(lik, theta, inner, _fd_step(theta, inner, scale, lower), richardson=False)
        n_eval += 2 * inner.size
        Hs = -H * np.outer(sc, sc)  # minus the Hessian in scaled units
        gs = g[inner] * sc
        eig_min = float(np.linalg.eigvalsh(Hs)[0]) if np.all(np.isfinite(Hs)) else -np.inf
        if not np.isfinite(eig_min):
            break
        lam = max(0.0, 1e-3 - eig_min) if eig_min < 1e-10 else 0.0
        improved = False
        for _ in range(60):
            step = np.linalg.solve(Hs + lam * np.eye(inner.size), gs) * sc
            cand = theta.copy()
            cand[inner] = np.clip(theta[inner] + step, lower[inner], upper[inner])
            ll_c, g_c = lik.value_and_grad(cand)
            n_eval += 1
            if np.isfinite(ll_c) and ll_c >= ll - 1e-14 * max(1.0, abs(ll)):
                improved = True
                break
            lam = max(4.0 * lam, 1e-3)
        if not improved:
            break
        moved = np.max(np.abs(cand[inner] - theta[inner]) / sc)
        theta, ll, g = cand, ll_c, g_c
        if moved < 1e-14:
            break
    pg = _projected(g, theta, lower, upper)[idx] * scale[idx]
    return SelectionFit(theta, ll, float(np.max(np.abs(pg), initial=0.0)), n_eval)


def _fd_step(theta, idx, scale, lower):
    """Difference steps: 1e-5 of the scale, kept inside delta > lower / 2 where needed."""
    h = 1e-5 * scale[idx]
    room = theta[idx] - lower[idx]
    cap = np.where(np.isfinite(room) & (room > 0) & (idx >= 2), 0.5 * room, np.inf)
    return np.minimum(h, cap)


def hessian(lik: SelectionLikelihood, theta: np.ndarray, idx: np.ndarray, step: np.ndarray,
            *, richardson: bool = True) -> np.ndarray:
    """Hessian of l over theta[idx] by central differences of the exact gradient.

    With ``richardson`` the differences at h and h/2 are combined (error O(h^4)).
    Symmetrised.
    """
    def central(h):
        H = np.empty((idx.size, idx.size))
        for a, (j, hj) in enumerate(zip(idx, h)):
            up, dn = theta.copy(), theta.copy()
            up[j] += hj
            dn[j] -= hj
            H[:, a] = (lik.value_and_grad(up)[1][idx] - lik.value_and_grad(dn)[1][idx]) / (2 * hj)
        return H

    H = central(step)
    if richardson:
        H = (4.0 * central(step / 2.0) - H) / 3.0
    return 0.5 * (H + H.T)


#: delta values per free parameter of the grid that seeds the maximisation
DELTA_GRID = {
    "stepfun": (0.25, 1.0, 4.0),
    "beta": (0.05, 0.22, 1.0, 4.5, 20.0),
    "halfnorm": (0.0, 0.5, 2.0, 8.0, 32.0),
    "negexp": (0.0, 0.5, 2.0, 8.0, 32.0),
    "logistic": (0.0, 0.5, 2.0, 8.0, 32.0),
    "power": (0.0, 0.25, 1.0, 4.0, 16.0),
}
#: grids larger than this (step functions with many steps) are not searched
MAX_GRID = 125


def grid_starts(lik: SelectionLikelihood, theta0: np.ndarray, free: np.ndarray,
                lower: np.ndarray, upper: np.ndarray, scale: np.ndarray,
                n_best: int = 3) -> list[np.ndarray]:
    """Starting values from a grid over delta: the likelihood of a selection model can have
    several maxima. At each grid point the free (mu, tau^2) are maximised for a few Newton
    steps; ``theta0`` (metafor's start) comes first, then the ``n_best`` best grid points
    whose delta differs from it."""
    spec = lik.spec
    free_d = np.flatnonzero(free[2:])
    values = DELTA_GRID[spec.type]
    starts = [theta0]
    if free_d.size == 0 or len(values) ** free_d.size > MAX_GRID:
        return starts
    inner = free.copy()
    inner[2:] = False
    scored = []
    for point in itertools.product(values, repeat=free_d.size):
        th = theta0.copy()
        th[2 + free_d] = np.clip(point, lower[2 + free_d], upper[2 + free_d])
        if np.allclose(th[2:], theta0[2:]):
            continue
        fit = maximise(lik, th, inner, lower, upper, scale, max_iter=8)
        if np.isfinite(fit.loglik):
            scored.append((fit.loglik, fit.theta))
    scored.sort(key=lambda s: -s[0])
    return starts + [th for _, th in scored[:n_best]]


def probe_flat_direction(lik: SelectionLikelihood, fit: SelectionFit, free: np.ndarray,
                         lower: np.ndarray, upper: np.ndarray, scale: np.ndarray,
                         multiples: tuple[float, ...] = (2.0, 8.0)) -> np.ndarray | None:
    """A point higher than ``fit`` along its flattest direction, or None if there is none.

    A maximum of a smooth likelihood is higher than the points a few standard errors away
    along the direction of least curvature (the largest eigenvector of the inverse
    information). On a ridge whose likelihood keeps rising towards an asymptote (no finite
    maximum) or next to a higher mode, one of them is higher; the caller restarts there.
    """
    theta = fit.theta
    pg = _projected(lik.value_and_grad(theta)[1], theta, lower, upper)
    inner = np.flatnonzero(free & ((pg != 0) | ((theta > lower) & (theta < upper))))
    if inner.size == 0:
        return None
    sc = scale[inner]
    H = hessian(lik, theta, inner, _fd_step(theta, inner, scale, lower), richardson=False)
    Hs = -H * np.outer(sc, sc)
    if not np.all(np.isfinite(Hs)):
        return None
    eig, vec = np.linalg.eigh(Hs)
    direction = vec[:, 0] * sc
    length = 1.0 / np.sqrt(eig[0]) if eig[0] > 0 else 1e3
    best, best_ll = None, fit.loglik + 1e-8 * max(1.0, abs(fit.loglik))
    for c in multiples:
        for sign in (1.0, -1.0):
            cand = theta.copy()
            cand[inner] = np.clip(theta[inner] + sign * c * length * direction,
                                  lower[inner], upper[inner])
            ll = lik.value_and_grad(cand)[0]
            if np.isfinite(ll) and ll > best_ll:
                best, best_ll = cand, ll
    return best
