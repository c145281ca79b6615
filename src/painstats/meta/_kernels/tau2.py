"""Heterogeneity (tau^2) estimators of the normal-normal random-effects model, batch-first.

Each estimator takes responses ``y`` and sampling variances ``v`` shaped ``(..., k)``, a
float mask ``m`` (1 = study present, 0 = padding; padded entries carry v = 1, y = 0), the
design, and returns ``(tau2, tau2_se)`` shaped ``(...)``. Standard errors follow the
conventions of metafor 3.8 (Viechtbauer 2010), which differ by estimator.

References
----------
DerSimonian R, Laird N (1986). Meta-analysis in clinical trials. Control Clin Trials 7:177-188.
Hedges LV, Olkin I (1985). Statistical Methods for Meta-Analysis. Academic Press.
Hunter JE, Schmidt FL (2004). Methods of Meta-Analysis. 2nd ed. Sage.
Sidik K, Jonkman JN (2005). Simple heterogeneity variance estimation for meta-analysis.
    J R Stat Soc C 54:367-384.
Paule RC, Mandel J (1982). Consensus values and weighting factors. J Res Natl Bur Stand 87:377-385.
Morris CN (1983). Parametric empirical Bayes inference. J Am Stat Assoc 78:47-55.
Viechtbauer W (2005). Bias and efficiency of meta-analytic variance estimators in the
    random-effects model. J Educ Behav Stat 30:261-293.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from painstats.errors import ConvergenceError
from painstats.meta._kernels.design import Design, _rowdot, trace_pd
from painstats.meta._kernels.roots import decreasing_convex_root, fisher_scoring

__all__ = ["Tau2Estimate", "estimate_flat", "problem", "generalised_q", "ESTIMATORS"]


class Tau2Estimate(NamedTuple):
    tau2: np.ndarray
    se: np.ndarray


class _Problem:
    """One batch of problems, flattened to (n, k) so solvers can work on sub-batches."""

    def __init__(self, y, v, m, design: Design, k, p):
        self.shape = np.shape(k)
        self.k_dim = y.shape[-1]
        self.y = y.reshape(-1, self.k_dim)
        self.v = v.reshape(-1, self.k_dim)
        self.m = m.reshape(-1, self.k_dim)
        self.design = design
        X = getattr(design, "X", None)
        self.X = None if X is None else np.broadcast_to(
            X, (*np.shape(k), self.k_dim, design.p)
        ).reshape(-1, self.k_dim, design.p)
        self.k = np.asarray(k, float).reshape(-1)
        self.p = p
        #: problems with k > p; the others (e.g. k = 1) get tau^2 = 0 as in metafor
        self.estimable = self.k - p > 0
        # padded studies get an infinite variance, hence weight 1/(inf + tau^2) = 0
        self._v_pad = np.where(self.m > 0, self.v, np.inf)
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._fe = None
        self._trp_fe = None
        self._at = None

    def rows(self, a, idx, name: str | None = None):
        """Rows ``idx`` of a batch array: the array itself for the whole batch; named
        sub-batches are cached, since a solver's active set stays the same for many
        iterations near convergence."""
        if idx.size == a.shape[0]:
            return a
        if name is None:
            return a[idx]
        hit = self._cache.get(name)
        if hit is None or not np.array_equal(hit[0], idx):
            hit = (idx, a[idx])
            self._cache[name] = hit
        return hit[1]

    def design_all(self):
        """The design of the whole (flattened) batch."""
        return self.design if self.X is None else type(self.design)(self.X)

    def sub_design(self, idx):
        if self.X is None:
            return self.design
        return type(self.design)(self.rows(self.X, idx, "X"))

    def sub_y(self, idx):
        return self.rows(self.y, idx, "y")

    def weights(self, tau2, idx):
        """Random-effects weights 1/(v + tau^2), 0 for padded studies."""
        return 1.0 / (self.rows(self._v_pad, idx, "v") + tau2[..., None])

    def fe(self):
        """Common-effect fit with weights 1/v (shared by DL, HS and the Q statistic)."""
        if self._fe is None:
            w = self.m / self.v
            design = self.sub_design(np.arange(self.y.shape[0]))
            fit = design.wls(w, self.y)
            self._fe = (w, design, fit, _rowdot(w * fit.resid, fit.resid))
        return self._fe

    def trp_fe(self):
        """tr P of the common-effect fit (DL, I^2 and H^2 all use it); cached."""
        if self._trp_fe is None:
            w, _, fit, _ = self.fe()
            self._trp_fe = trace_pd(w, fit, 1.0)
        return self._trp_fe

    def fit_at(self, tau2):
        """Weights and WLS fit of the whole batch at ``tau2``.

        The last call is remembered (keyed on the identity of ``tau2``): an estimator's
        final evaluation at its estimate is also the model fit that ``fit_rma`` reports.
        """
        if self._at is not None and self._at[0] is tau2:
            return self._at[1], self._at[2]
        w = 1.0 / (self._v_pad + tau2[..., None])
        fit = self.design_all().wls(w, self.y)
        self._at = (tau2, w, fit)
        return w, fit

    def out(self, a):
        return a.reshape(self.shape)


def generalised_q(prob: _Problem, tau2: np.ndarray, idx: np.ndarray):
    """Generalised Q(tau^2) = y'P y and its derivative -y'PPy on a sub-batch."""
    w = prob.weights(tau2, idx)
    fit = prob.sub_design(idx).wls(w, prob.sub_y(idx))
    wr = w * fit.resid
    return np.sum(wr * fit.resid, axis=-1), -np.sum(wr * wr, axis=-1)


def _fe_parts(prob: _Problem):
    """Common-effect fit (weights 1/v) of the whole batch: (w, design, fit, Q); cached."""
    return prob.fe()


def _dl(prob: _Problem, with_se: bool = True) -> Tau2Estimate:
    w, design, fit, q = _fe_parts(prob)
    trp = prob.trp_fe()
    tau2 = np.maximum(0.0, (q - (prob.k - prob.p)) / trp)
    if not with_se:
        return Tau2Estimate(tau2, None)
    trpp = design.quad_trace(w, fit, 1.0, 1.0)
    se = np.sqrt((2 * (prob.k - prob.p) + 4 * tau2 * trp + 2 * tau2**2 * trpp) / trp**2)
    return Tau2Estimate(tau2, se)


def _hs(prob: _Problem) -> Tau2Estimate:
    w, design, fit, q = _fe_parts(prob)
    sw = np.sum(w, axis=-1)
    tau2 = np.maximum(0.0, (q - prob.k) / sw)
    trp = prob.trp_fe()
    trpp = design.quad_trace(w, fit, 1.0, 1.0)
    se = np.sqrt((2 * (prob.k - prob.p) + 4 * tau2 * trp + 2 * tau2**2 * trpp) / sw**2)
    return Tau2Estimate(tau2, se)


def _he_raw(prob: _Problem, with_se: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Unweighted (OLS) moment estimator before truncation, and (optionally) its SE."""
    idx = np.arange(prob.y.shape[0])
    design = prob.sub_design(idx)
    fit = design.wls(prob.m, prob.y)
    rss = np.sum(prob.m * fit.resid**2, axis=-1)
    trpv = trace_pd(prob.m, fit, prob.v)
    df = prob.k - prob.p
    raw = (rss - trpv) / df
    if not with_se:
        return raw, None
    t = np.maximum(raw, 0.0)
    trpvpv = design.quad_trace(prob.m, fit, prob.v, prob.v)
    se = np.sqrt((2 * trpvpv + 4 * t * trpv + 2 * t**2 * df) / df**2)
    return raw, se


def _he(prob: _Problem) -> Tau2Estimate:
    raw, se = _he_raw(prob)
    return Tau2Estimate(np.maximum(raw, 0.0), se)


def _sj(prob: _Problem) -> Tau2Estimate:
    k = prob.k
    ybar = np.sum(prob.m * prob.y, axis=-1) / k
    tau0 = np.sum(prob.m * (prob.y - ybar[:, None]) ** 2, axis=-1) / k
    idx = np.arange(prob.y.shape[0])
    w = prob.weights(tau0, idx)
    design = prob.sub_design(idx)
    fit = design.wls(w, prob.y)
    rss = np.sum(w * fit.resid**2, axis=-1)
    df = k - prob.p
    tau2 = np.maximum(0.0, tau0 * rss / df)
    trpvpv = design.quad_trace(w, fit, prob.v, prob.v)
    trpvp = design.quad_trace(w, fit, prob.v, 1.0)
    trpp = design.quad_trace(w, fit, 1.0, 1.0)
    se = np.sqrt(tau0**2 / df**2 * (2 * trpvpv + 4 * tau2 * trpvp + 2 * tau2**2 * trpp))
    return Tau2Estimate(tau2, se)


def _likelihood(prob: _Problem, restricted: bool) -> Tau2Estimate:
    start = _dl(prob, with_se=False).tau2
    # Newton steps are taken in phi = log(tau^2 + c), c = the smallest sampling variance:
    # on that scale the log-likelihood is closer to quadratic than in tau^2 (whose curvature
    # falls off like 1/(v + tau^2)^2), so fewer steps undershoot (cf. the log-scale variance
    # parameters of Lindstrom & Bates 1988).
    c_all = np.min(prob._v_pad, axis=-1)

    def step(t, idx):
        # Newton step on the (restricted) log-likelihood where it is locally concave in phi,
        # else the Fisher-scoring step (expected information), as metafor uses throughout.
        s = prob.sub_design(idx).score_terms(prob.weights(t, idx), prob.sub_y(idx))
        score, info = (s.ypp - s.trp, s.trpp) if restricted else (s.ypp - s.sw, s.sw2)
        # with score = 2 dl/dtau^2 and hess = -2 d2l/d(tau^2)^2, the Newton step in phi is
        # score / (hess (tau^2 + c) - score), i.e. tau^2 -> (tau^2 + c) exp(that) - c
        tc = t + prob.rows(c_all, idx, "c")
        curv = (2.0 * s.yppp - info) * tc - score
        concave = curv > 0
        # (a step in phi is capped at 5: tau^2 + c grows at most ~150-fold per step; where
        # curv <= 0 the quotient may be inf or NaN, unused, and fit_rma's errstate is quiet)
        newton = tc * np.expm1(np.minimum(score / curv, 5.0))
        # a step that would leave tau^2 >= 0 falls back to the Fisher step, which follows
        # metafor's path near the boundary (and away from spurious boundary maxima)
        use = concave & (t + newton >= 0)
        # the next step is ~ C (tau^2 + c) dphi^2 = C step^2 / (tau^2 + c), where C, the ratio
        # of the third to twice the second derivative in phi, is about 1/2 for a variance on
        # the log scale: 1 / (tau^2 + c) bounds it
        return np.where(use, newton, score / info), use / tc

    name = "REML" if restricted else "ML"
    tau2, ok = fisher_scoring(start, step)
    if not ok.all():
        _raise_unconverged(ok | ~prob.estimable, name, "Fisher scoring")
    # as metafor's ll0check: an interior stationary point that is worse than the boundary
    # (the likelihood can be bimodal) gives way to tau^2 = 0
    w, fit = prob.fit_at(tau2)
    interior = tau2 > 0
    if interior.any():
        worse = interior & (
            _loglik_zero(prob, restricted) > _loglik(prob, tau2, w, fit, restricted) + 1e-10)
        if worse.any():
            tau2 = np.where(worse, 0.0, tau2)
            w, fit = prob.fit_at(tau2)
    if restricted:
        se = np.sqrt(2.0 / prob.design_all().trace_pp(w, fit))
    else:
        se = np.sqrt(2.0 / _rowdot(w, w))
    return Tau2Estimate(tau2, se)


def _loglik(prob: _Problem, tau2: np.ndarray, w, fit, restricted: bool) -> np.ndarray:
    """(Restricted) log-likelihood at tau2 given the weights and WLS fit there, up to a
    constant that does not depend on tau2."""
    ll = -0.5 * (_rowdot(prob.m, np.log(prob.v + tau2[..., None]))
                 + _rowdot(w * fit.resid, fit.resid))
    return ll + 0.5 * _logdet(fit.vcov) if restricted else ll


def _loglik_zero(prob: _Problem, restricted: bool) -> np.ndarray:
    """The log-likelihood at tau^2 = 0, from the cached common-effect fit (same constant)."""
    _, _, fit, q = prob.fe()
    ll = -0.5 * (_rowdot(prob.m, np.log(prob.v)) + q)
    return ll + 0.5 * _logdet(fit.vcov) if restricted else ll


def _logdet(vcov: np.ndarray) -> np.ndarray:
    """log|(X'WX)^-1| = -log|X'WX| (enters the restricted likelihood with factor 1/2)."""
    return np.log(vcov[..., 0, 0]) if vcov.shape[-1] == 1 else np.linalg.slogdet(vcov)[1]


def _pm(prob: _Problem) -> Tau2Estimate:
    df = prob.k - prob.p
    tau2, ok = decreasing_convex_root(
        lambda t, idx: generalised_q(prob, t, idx), df, np.zeros_like(prob.k)
    )
    _raise_unconverged(ok | ~prob.estimable, "PM/EB", "Newton root search")
    w, _ = prob.fit_at(tau2)
    se = np.sqrt(2 * prob.k**2 / df) / np.sum(w, axis=-1)
    return Tau2Estimate(tau2, se)


def _fe(prob: _Problem) -> Tau2Estimate:
    z = np.zeros_like(prob.k)
    return Tau2Estimate(z, np.full_like(z, np.nan))


def _raise_unconverged(ok: np.ndarray, name: str, algorithm: str) -> None:
    """Raise ConvergenceError naming the estimator when any problem did not converge."""
    if not np.all(ok):
        bad = np.flatnonzero(~ok)
        raise ConvergenceError(
            f"the {name} estimator of tau^2 did not converge ({algorithm}) for "
            f"{bad.size} problem(s), e.g. batch index {bad[:5].tolist()}; "
            "try method='DL' or 'PM', or check the data for extreme variances"
        )


ESTIMATORS = {
    "FE": _fe,
    "DL": _dl,
    "HE": _he,
    "HS": _hs,
    "SJ": _sj,
    "ML": lambda prob: _likelihood(prob, restricted=False),
    "REML": lambda prob: _likelihood(prob, restricted=True),
    "PM": _pm,
    "EB": _pm,  # Morris' empirical Bayes solves the same equation Q(tau^2) = k - p
}


def estimate_flat(prob: _Problem, method: str) -> Tau2Estimate:
    """tau^2 and its SE on a built problem, as flat (n,) arrays."""
    est = ESTIMATORS[method](prob)
    if prob.estimable.all():
        return est
    # k = p (e.g. a single study): tau^2 = 0 with no standard error, as metafor's "k1" path
    tau2 = np.where(prob.estimable, est.tau2, 0.0)
    se = np.where(prob.estimable, est.se, np.nan)
    return Tau2Estimate(tau2, se)


def problem(y, v, m, design: Design, k, p: int) -> _Problem:
    """Build the flattened batch problem (used by the Q-profile solver)."""
    return _Problem(y, v, m, design, k, p)
