"""Selection models for publication bias: ``selection_model`` (metafor ``selmodel``)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from painstats._validation import check_cut_points, resolve_option
from painstats.errors import ConvergenceError, InputTypeError, PainstatsWarning, ValidationError
from painstats.meta._kernels.fit import fit_rma
from painstats.meta._kernels.selection import (
    SELECTION_TYPES,
    SelectionLikelihood,
    SelectionSpec,
    grid_starts,
    hessian,
    make_spec,
    maximise,
    one_sided_pvalues,
    probe_flat_direction,
)
from painstats.meta._summary import SIGNIF_LEGEND, Summary, fmt, fmt_p, p_eq, stars, table
from painstats.meta.results import TIDY_COLUMNS, RandomEffectsResult

__all__ = ["ALTERNATIVES", "SELECTION_TYPES", "SelectionModelResult", "selection_model"]

#: p-value sidedness accepted by :func:`selection_model` (metafor's spellings).
ALTERNATIVES = ("greater", "less", "two.sided")

_TYPE_ALIASES = {t.upper(): t for t in SELECTION_TYPES}
_ALT_ALIASES = {"GREATER": "greater", "LESS": "less", "TWO.SIDED": "two.sided",
                "TWO-SIDED": "two.sided", "TWO_SIDED": "two.sided"}
#: a fitted projected gradient above this (in units of about one standard error) is a failure
_GRAD_TOL = 1e-6
#: restarts from a higher point along the flattest direction before giving up (a ridge)
_MAX_RESTARTS = 5
_LOG_2PI = np.log(2.0 * np.pi)


@dataclass(frozen=True, slots=True)
class SelectionModelResult:
    """A fitted selection model (metafor ``selmodel``) for an intercept-only meta-analysis.

    ``estimate`` is the selection-adjusted pooled effect; ``delta`` the parameters of the
    weight function (for ``"stepfun"`` one per p-value interval, the first fixed at 1);
    ``lrt`` tests all estimated ``delta`` against the model without selection.
    """

    estimate: float  #: selection-adjusted pooled effect (mu)
    se: float  #: from the inverse observed information (numerical Hessian)
    statistic: float  #: z = estimate / se
    pvalue: float
    ci_low: float
    ci_high: float
    tau2: float  #: between-study variance under the selection model (0 for a common-effect fit)
    tau2_se: float  #: NaN for a common-effect fit
    delta: np.ndarray  #: weight-function parameters (stepfun: [1, delta_2, ...])
    delta_se: np.ndarray  #: NaN for a fixed delta
    delta_statistic: np.ndarray  #: (delta - delta_H0)/se, delta_H0 = 1 (stepfun, beta) or 0
    delta_pvalue: np.ndarray
    delta_ci_low: np.ndarray  #: Wald bounds, truncated at the parameter's lower bound
    delta_ci_high: np.ndarray
    delta_fixed: tuple[bool, ...]
    lrt: float  #: likelihood-ratio test of the delta against the model without selection
    lrt_df: int
    lrt_pvalue: float
    lrt_tau2: float  #: LRT of tau^2 = 0 under the selection model; NaN for a common-effect fit
    lrt_tau2_pvalue: float
    loglik: float  #: maximised log-likelihood of the selection model
    loglik_null: float  #: log-likelihood of the ML (or common-effect) model without selection
    k: int
    type: str
    steps: tuple[float, ...]  #: the cut points in (0, 1) (stepfun intervals end at them and at 1)
    alternative: str
    method: str  #: "ML" (REML input is refitted by ML) or "FE"
    level: float
    n_per_interval: tuple[int, ...]  #: studies per p-value interval (stepfun; else empty)
    vcov: np.ndarray = field(repr=False)  #: inverse observed information of ``vcov_terms``
    vcov_terms: tuple[str, ...] = field(repr=False)
    pvals: np.ndarray = field(repr=False)  #: the studies' p-values (before any clamping)
    yi: np.ndarray = field(repr=False)
    vi: np.ndarray = field(repr=False)
    labels: tuple[str, ...] = field(repr=False)

    def delta_terms(self) -> list[str]:
        """Names of the delta rows: the p-value intervals (stepfun) or delta.1, delta.2."""
        if self.type != "stepfun":
            return [f"delta.{j + 1}" for j in range(self.delta.size)]
        ends = [*self.steps, 1.0]
        lefts = [0.0, *self.steps]
        return [f"{a:g} < p <= {b:g}" for a, b in zip(lefts, ends)]

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: the pooled effect, tau^2 (Wald CI truncated at 0) and each delta."""
        crit = special.ndtri(1 - (1 - self.level) / 2)
        rows = [["overall", self.estimate, self.se, self.statistic, np.inf, self.pvalue,
                 self.ci_low, self.ci_high]]
        if self.method != "FE":
            rows.append(["tau2", self.tau2, self.tau2_se, np.nan, np.inf, np.nan,
                         max(0.0, self.tau2 - crit * self.tau2_se), self.tau2 + crit * self.tau2_se])
        for j, term in enumerate(self.delta_terms()):
            rows.append([f"delta[{term}]", self.delta[j], self.delta_se[j],
                         self.delta_statistic[j], np.inf, self.delta_pvalue[j],
                         self.delta_ci_low[j], self.delta_ci_high[j]])
        return pd.DataFrame(rows, columns=TIDY_COLUMNS)

    def summary(self) -> Summary:
        """metafor-style print-out (``print(selmodel(...))``)."""
        if self.method == "FE":
            lines = [f"Common-Effect Model (k = {self.k})", ""]
        else:
            lines = [f"Random-Effects Model (k = {self.k}; tau^2 estimator: ML)", ""]
            se = "" if np.isnan(self.tau2_se) else f" (SE = {fmt(self.tau2_se)})"
            lines += [f"tau^2 (estimated amount of total heterogeneity): {fmt(self.tau2)}{se}",
                      f"tau (square root of estimated tau^2 value):      {fmt(np.sqrt(self.tau2))}",
                      "", "Test for Heterogeneity:",
                      f"LRT(df = 1) = {fmt(self.lrt_tau2)}, p-val {p_eq(self.lrt_tau2_pvalue)}", ""]
        lines += ["Model Results:", ""]
        header = ["estimate", "se", "zval", "pval", "ci.lb", "ci.ub", ""]
        row = [fmt(self.estimate), fmt(self.se), fmt(self.statistic), fmt_p(self.pvalue),
               fmt(self.ci_low), fmt(self.ci_high), stars(self.pvalue)]
        lines += [table(header, [row]), "", "Test for Selection Model Parameters:",
                  f"LRT(df = {self.lrt_df}) = {fmt(self.lrt)}, p-val {p_eq(self.lrt_pvalue)}",
                  "", f"Selection Model Results ({self.type}, p-values '{self.alternative}'):", ""]
        header = (["k"] if self.type == "stepfun" else []) + [
            "estimate", "se", "zval", "pval", "ci.lb", "ci.ub", ""]
        rows = []
        for j in range(self.delta.size):
            lead = [str(self.n_per_interval[j])] if self.type == "stepfun" else []
            if self.delta_fixed[j]:
                rows.append(lead + [fmt(self.delta[j])] + ["---"] * 5 + [""])
                continue
            rows.append(lead + [fmt(self.delta[j]), fmt(self.delta_se[j]),
                                fmt(self.delta_statistic[j]), fmt_p(self.delta_pvalue[j]),
                                fmt(self.delta_ci_low[j]), fmt(self.delta_ci_high[j]),
                                stars(self.delta_pvalue[j])])
        lines += [table(header, rows, index=self.delta_terms()), "", "---", SIGNIF_LEGEND]
        return Summary("\n".join(lines))

    def __str__(self) -> str:
        return str(self.summary())


def selection_model(
    res: RandomEffectsResult,
    *,
    type: str = "stepfun",  # metafor's argument name
    steps: Sequence[float] | float | None = None,
    alternative: str = "greater",
) -> SelectionModelResult:
    """Selection model for publication bias (Vevea & Hedges 1995), as metafor ``selmodel``.

    Models the published studies as a sample in which a study with p-value p is published
    with relative probability w(p; delta), and estimates the pooled effect mu, tau^2 and
    delta jointly by maximum likelihood. Numbers match R ``metafor::selmodel(res, type=,
    steps=, alternative=)`` (metafor 3.8) with tight optimiser controls.

    Parameters
    ----------
    res : RandomEffectsResult
        An intercept-only model fitted with ``method="ML"``, ``"REML"`` or ``"FE"``. As in
        metafor a REML fit is refitted by ML first (REML and ML fits therefore give the same
        selection model); a common-effect (FE) fit keeps tau^2 = 0.
    type : {"stepfun", "beta", "halfnorm", "negexp", "logistic", "power"}
        Weight function (metafor's names). ``"stepfun"`` (Vevea & Hedges 1995): w = delta_j
        for p in (s_(j-1), s_j], intervals (0, s_1], ..., (s_last, 1], delta_1 fixed at 1
        and the others in [0, 100]. ``"beta"``: w = p^(delta_1 - 1) (1 - p)^(delta_2 - 1)
        (Citkovitz & Vevea 2017), p clamped to [1e-5, 1 - 1e-5], deltas in [1e-5, 100].
        ``"halfnorm"``: exp(-delta p^2); ``"negexp"``: exp(-delta p); ``"logistic"``:
        2 exp(-delta p)/(1 + exp(-delta p)); ``"power"``: (1 - p)^delta (p clamped to
        [1e-5, 1 - 1e-5]) (Preston, Ashby & Smith 2004); delta in [0, 100].
    steps : sequence of float or float, optional
        Stepfun: the interval cut points, strictly increasing in (0, 1) (a trailing 1, as
        metafor users write it, is accepted); default ``(0.025,)``. halfnorm, negexp,
        logistic, power: optionally one threshold alpha, w = 1 for p <= alpha and the
        function is scaled to 1 at alpha (metafor's ``steps=alpha``); default none.
        Not used by ``"beta"``.
    alternative : {"greater", "less", "two.sided"}
        How the studies' p-values are computed: ``"greater"`` p = 1 - Phi(y/sqrt(v))
        (selection favours large positive effects), ``"less"`` p = Phi(y/sqrt(v)) (e.g.
        pain reduction as a negative difference), ``"two.sided"`` 2(1 - Phi(|y|/sqrt(v))).

    Returns
    -------
    SelectionModelResult
        ``estimate, se, ci_low, ci_high, tau2, tau2_se, delta, delta_se, lrt, lrt_df,
        lrt_pvalue, loglik``, ``summary()`` and ``to_frame()``.

    Raises
    ------
    ValidationError
        A model fitted with another tau^2 estimator (DL, PM, ...); an unknown type or
        alternative; steps not strictly increasing in (0, 1) or given where the type takes
        none; a p-value interval without studies; fewer studies than parameters.
    InputTypeError
        ``res`` is not a RandomEffectsResult.
    ConvergenceError
        The likelihood could not be maximised (the projected gradient at the end exceeds
        1e-6 in units of about one standard error).

    Warns
    -----
    PainstatsWarning
        A delta estimate is (almost) at its bound (as metafor), or the Hessian is not
        invertible (SEs are then NaN).

    Notes
    -----
    The log-likelihood is maximised on the original scale within the bounds by a projected
    Newton method with the exact gradient, to ~1e-12; metafor maximises over log tau^2 and a
    logistic map of delta with ``optim`` (BFGS, numerical gradient), whose defaults stop
    ~1e-6 away. The likelihood of a selection model can have several maxima: metafor starts
    once, from the ML estimates and the default delta; painstats starts from there and from
    the three best points of a grid over delta (with mu and tau^2 maximised at each point) and
    keeps the highest maximum, so it can find a higher maximum than metafor. For the continuous weight functions A_i = E[w(p(Y))] is integrated by
    composite Gauss-Legendre on the z = y/sqrt(v) scale with the kinks as panel ends (error
    ~1e-14; metafor: ``integrate()`` at rel.tol ~1e-4).

    Standard errors come from the inverse Hessian of the log-likelihood over (mu, tau^2,
    delta) on the original scale, as metafor, computed by Richardson-extrapolated central
    differences of the exact gradient. **When tau^2 = 0** (the maximum is on the boundary)
    tau^2 is held fixed in the Hessian: ``se`` and ``delta_se`` come from the Hessian over
    (mu, delta) and ``tau2_se`` is NaN. This is what metafor >= 4.2 does (for tau^2 below
    min(v_i/10, 1e-4)) and what metafor 3.8 gives with ``control=list(tau2.fix=TRUE)``.
    metafor 3.8 by default differentiates across the boundary with tau^2 < 0 clamped to 0,
    a one-sided Hessian whose SEs (and its tau^2 SE) depend on the difference step; painstats
    differs from metafor 3.8's default output in that case only.

    Differences from metafor, by design: a fit with a tau^2 estimator other than ML, REML
    or FE raises (metafor silently refits it by ML); a p-value interval without studies
    always raises (metafor only stops for intervals whose delta is estimated, and lets a
    fixed delta_1 interval be empty, after which delta runs off to its bound); metafor's
    ``prec`` (precision-dependent weights), user-fixed ``delta`` and moderators are not
    implemented.

    References
    ----------
    Hedges LV (1992). Modeling publication selection effects in meta-analysis. Stat Sci
    7:246-255.
    Vevea JL, Hedges LV (1995). A general linear model for estimating effect size in the
    presence of publication bias. Psychometrika 60:419-435.
    Preston C, Ashby D, Smith R (2004). Adjusting for publication bias: modelling the
    selection process. J Eval Clin Pract 10:313-322.
    Citkovitz M, Vevea JL (2017). Selection models for publication bias with continuous
    weight functions (as implemented in metafor ``selmodel``).
    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat
    Softw 36(3).

    Examples
    --------
    Spinal manipulation against recommended therapy for low back pain (Rubinstein 2019):
    pain differences are negative when manipulation helps, so "significant" means small
    one-sided p-values of ``alternative="less"``. The step-function model (Vevea & Hedges
    1995) with one cut at p = .025 (the same numbers as metafor's ``print(selmodel(...))``):

    >>> from painstats import datasets
    >>> from painstats.meta import effect_size, random_effects
    >>> from painstats.meta.selection_model import selection_model
    >>> d = datasets.load("rubinstein2019")
    >>> es = effect_size("MD", mean1=d["mean_smt"], sd1=d["sd_smt"], n1=d["n_smt"],
    ...                  mean2=d["mean_ctrl"], sd2=d["sd_ctrl"], n2=d["n_ctrl"])
    >>> res = random_effects(es["yi"], es["vi"], method="ML")
    >>> sel = selection_model(res, type="stepfun", steps=(0.025,), alternative="less")
    >>> round(sel.estimate, 3), round(float(sel.delta[1]), 3), sel.lrt_df
    (-9.926, 5.112, 1)
    >>> round(sel.lrt_pvalue, 4)
    0.0338
    """
    res = _check_model(res)
    type_ = resolve_option("type", type, _TYPE_ALIASES)
    alt = resolve_option("alternative", alternative, _ALT_ALIASES)
    cuts = _check_steps(steps, type_)
    k = res.k
    spec = make_spec(type_, cuts, alt == "two.sided")
    fe = res.method == "FE"
    n_par = 1 + (0 if fe else 1) + int((~spec.fixed).sum())
    if k < n_par:
        raise ValidationError(
            f"too few studies for this selection model: k={k}, but it estimates {n_par} "
            f"parameters (mu{'' if fe else ', tau^2'} and {n_par - (1 if fe else 2)} delta)"
        )
    pvals = one_sided_pvalues(res.yi, res.vi, alt)
    counts = _interval_counts(spec, pvals)
    return _fit(res, spec, alt, cuts, pvals, counts)


def _fit(res: RandomEffectsResult, spec: SelectionSpec, alt: str, cuts, pvals,
         counts) -> SelectionModelResult:
    """Maximise the likelihood, take the Hessian and the two LRTs, build the result."""
    fe = res.method == "FE"
    # "less" is "greater" for -y: fit on that scale and flip mu back at the end
    sign = -1.0 if alt == "less" else 1.0
    lik = SelectionLikelihood(sign * res.yi, res.vi, pvals, spec)
    ml = fit_rma(res.yi, res.vi, method="FE" if fe else "ML")
    loglik_null = _normal_loglik(res.yi, res.vi, float(ml.beta[0]), float(ml.tau2))
    free = np.concatenate([[True, not fe], ~spec.fixed])
    lower = np.concatenate([[-np.inf, 0.0], spec.delta_min])
    upper = np.concatenate([[np.inf, np.inf], spec.delta_max])
    scale = np.concatenate([[float(ml.se[0]), _tau2_scale(ml, res.vi)], np.ones(spec.n_delta)])
    theta0 = np.concatenate([[sign * float(ml.beta[0]), float(ml.tau2)],
                             np.where(spec.fixed, spec.fixed_value, spec.delta_init)])
    starts = grid_starts(lik, np.clip(theta0, lower, upper), free, lower, upper, scale)
    fit = _maximise_checked(lik, starts, free, lower, upper, scale, spec.type)
    theta = fit.theta.copy()
    _warn_bounds(theta[2:], spec)
    vcov, estimated = _inverse_information(lik, theta, free, scale, spec, res.vi)
    if sign < 0:  # back to the scale of the data: mu -> -mu
        theta[0] = -theta[0]
        vcov[0, 1:] *= -1.0
        vcov[1:, 0] *= -1.0
    lrt_tau2 = lrt_tau2_p = float("nan")
    if not fe:  # LRT of tau^2 = 0 under the selection model
        free0 = free.copy()
        free0[1] = False
        start = fit.theta.copy()
        start[1] = 0.0
        fit0 = _maximise_checked(lik, [start], free0, lower, upper, scale, spec.type)
        lrt_tau2 = max(0.0, -2.0 * (fit0.loglik - fit.loglik))
        lrt_tau2_p = float(special.chdtrc(1, lrt_tau2))
    lrt_df = int((~spec.fixed).sum())
    lrt = max(0.0, -2.0 * (loglik_null - fit.loglik))
    return _build(res, spec, alt, theta, vcov, estimated, fit.loglik, loglik_null, lrt, lrt_df,
                  lrt_tau2, lrt_tau2_p, counts, pvals, cuts)


# ---------------------------------------------------------------------------------------
# helpers


def _check_model(res) -> RandomEffectsResult:
    if not isinstance(res, RandomEffectsResult):
        raise InputTypeError(
            "selection_model needs an intercept-only RandomEffectsResult (from "
            f"random_effects); got {type(res).__name__}"
        )
    if res.method not in ("ML", "REML", "FE"):
        raise ValidationError(
            "a selection model is fitted by maximum likelihood: fit the model with "
            f"method='ML' or 'REML' (or 'FE' for a common-effect model); got method='{res.method}'"
        )
    return res


def _check_steps(steps, type_: str) -> tuple[float, ...]:
    """Cut points for the type: stepfun any number (default 0.025), beta none, else <= 1."""
    if steps is None:
        return (0.025,) if type_ == "stepfun" else ()
    if type_ == "beta":
        raise ValidationError(f"steps is not used by type='beta'; got steps={steps!r}")
    cuts = check_cut_points("steps", steps)
    if type_ != "stepfun" and len(cuts) > 1:
        raise ValidationError(
            f"type='{type_}' takes at most one threshold in steps (p-values below it are "
            f"not down-weighted); got {list(cuts)}"
        )
    return cuts


def _interval_counts(spec: SelectionSpec, pvals: np.ndarray) -> tuple[int, ...]:
    """Studies per p-value interval; an empty interval raises (metafor stops too)."""
    if spec.type == "stepfun":
        ends = spec.steps
    elif spec.steps.size and spec.type != "beta":
        ends = np.array([spec.steps[0], 1.0])
    else:
        return ()
    group = np.searchsorted(ends, pvals, side="left")
    counts = np.bincount(group, minlength=ends.size)[: ends.size]
    if np.any(counts == 0):
        lefts = np.concatenate([[0.0], ends[:-1]])
        empty = [f"({a:g}, {b:g}]" for a, b, c in zip(lefts, ends, counts) if c == 0]
        raise ValidationError(
            f"no study has a p-value in the interval(s) {', '.join(empty)} of steps "
            f"{tuple(float(s) for s in ends[:-1])}; the studies' p-values range from "
            f"{pvals.min():.3g} to {pvals.max():.3g} -- choose other steps (or check "
            "alternative=)"
        )
    return tuple(int(c) for c in counts)


def _normal_loglik(y, v, mu, tau2) -> float:
    s2 = v + tau2
    return float(-0.5 * np.sum(_LOG_2PI + np.log(s2) + (y - mu) ** 2 / s2))


def _tau2_scale(ml, vi) -> float:
    se = float(ml.tau2_se)
    return se if np.isfinite(se) and se > 0 else float(np.mean(vi))


def _maximise_checked(lik, starts, free, lower, upper, scale, type_):
    """The best converged maximum over the starting values (the first wins ties)."""
    fits = [maximise(lik, theta0, free, lower, upper, scale) for theta0 in starts]
    ok = [f for f in fits if np.isfinite(f.loglik) and f.proj_grad <= _GRAD_TOL]
    if not ok:
        worst = min(fits, key=lambda f: f.proj_grad)
        raise ConvergenceError(
            f"the {type_} selection model did not converge (projected Newton from "
            f"{len(starts)} starting values): projected gradient {worst.proj_grad:.3g} after "
            f"{worst.n_eval} evaluations; the likelihood may be flat in delta (few studies in "
            "an interval) -- try other steps or another type"
        )
    best = ok[0]
    for f in ok[1:]:
        if f.loglik > best.loglik + 1e-9 * max(1.0, abs(best.loglik)):
            best = f
    for _ in range(_MAX_RESTARTS):
        higher = probe_flat_direction(lik, best, free, lower, upper, scale)
        if higher is None:
            return best
        refit = maximise(lik, higher, free, lower, upper, scale)
        if not (np.isfinite(refit.loglik) and refit.proj_grad <= _GRAD_TOL):
            break
        best = refit
    raise ConvergenceError(
        f"the {type_} selection model has no finite maximum likelihood estimate: the "
        "log-likelihood keeps rising along a ridge (typically mu and tau^2 running off "
        f"together; last ll = {best.loglik:.6g} at mu = {best.theta[0]:.4g} on the fitting "
        f"scale, tau^2 = {best.theta[1]:.4g}); metafor stops somewhere on it -- try another type"
    )


def _warn_bounds(delta: np.ndarray, spec: SelectionSpec) -> None:
    """metafor's warning when a delta is (almost) at its bound."""
    near_lo = delta <= spec.delta_min + np.finfo(float).eps ** 0.25
    near_hi = delta >= spec.delta_max - 100 * np.finfo(float).eps ** 0.25
    if np.any(near_lo | near_hi):
        warnings.warn(
            f"one or more delta estimates of the {spec.type} selection model are (almost) at "
            f"their bound [{spec.delta_min.min():g}, {spec.delta_max.max():g}] "
            f"(delta = {np.round(delta, 4).tolist()}); treat the results with caution",
            PainstatsWarning, stacklevel=3,
        )


def _inverse_information(lik, theta, free, scale, spec, vi) -> np.ndarray:
    """Inverse of minus the Hessian over the estimated parameters (NaN if singular)."""
    est = free.copy()
    est[1] &= theta[1] > 0  # tau^2 = 0: held fixed in the Hessian (as metafor >= 4.2)
    idx = np.flatnonzero(est)
    step = 1e-4 * scale.copy()
    step[1] = min(step[1], 0.1 * float(np.min(vi)))  # keep v + tau^2 - h > 0 for a tiny tau^2
    d = theta[2:]
    step[2:] = 1e-4 * (np.abs(d) if spec.type == "stepfun" else np.maximum(np.abs(d), 1e-2))
    H = hessian(lik, theta, idx, step[idx])
    try:
        L = np.linalg.cholesky(-H)
        inv = np.linalg.inv(L)
        cov_free = inv.T @ inv
    except np.linalg.LinAlgError:
        warnings.warn("the Hessian of the selection model is not negative definite; "
                      "standard errors are NaN", PainstatsWarning, stacklevel=3)
        cov_free = np.full((idx.size, idx.size), np.nan)
    vcov = np.full((theta.size, theta.size), np.nan)
    vcov[np.ix_(idx, idx)] = cov_free
    return vcov, est


def _build(res, spec, alt, theta, vcov, free, loglik, loglik_null, lrt, lrt_df, lrt_tau2,
           lrt_tau2_p, counts, pvals, cuts) -> SelectionModelResult:
    crit = special.ndtri(1 - (1 - res.level) / 2)
    est = float(theta[0])
    se = float(np.sqrt(vcov[0, 0]))
    z = est / se
    delta = theta[2:].copy()
    dse = np.sqrt(np.diagonal(vcov)[2:]).copy()
    dse[spec.fixed] = np.nan
    dz = (delta - spec.h0) / dse
    dlo = np.maximum(delta - crit * dse, 0.0)  # metafor truncates at the lower limit 0
    fe = res.method == "FE"
    names = ["mu", "tau2"] + [f"delta.{j + 1}" for j in range(spec.n_delta)]
    keep = np.flatnonzero(free)
    for a in (delta, dse, dz, dlo):
        a.setflags(write=False)
    dhi = delta + crit * dse
    dhi.setflags(write=False)
    sub = vcov[np.ix_(keep, keep)].copy()
    sub.setflags(write=False)
    return SelectionModelResult(
        estimate=est, se=se, statistic=z, pvalue=float(2 * special.ndtr(-abs(z))),
        ci_low=est - crit * se, ci_high=est + crit * se,
        tau2=float(theta[1]), tau2_se=float(np.sqrt(vcov[1, 1])),
        delta=delta, delta_se=dse, delta_statistic=dz,
        delta_pvalue=2 * special.ndtr(-np.abs(dz)), delta_ci_low=dlo, delta_ci_high=dhi,
        delta_fixed=tuple(bool(f) for f in spec.fixed),
        lrt=lrt, lrt_df=lrt_df, lrt_pvalue=float(special.chdtrc(lrt_df, lrt)),
        lrt_tau2=lrt_tau2, lrt_tau2_pvalue=lrt_tau2_p, loglik=loglik, loglik_null=loglik_null,
        k=res.k, type=spec.type, steps=tuple(float(c) for c in cuts), alternative=alt,
        method="FE" if fe else "ML", level=res.level, n_per_interval=counts,
        vcov=sub, vcov_terms=tuple(names[i] for i in keep), pvals=_ro(pvals),
        yi=res.yi, vi=res.vi, labels=res.labels,
    )


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=float)
    a.setflags(write=False)
    return a
