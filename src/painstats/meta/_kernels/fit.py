"""The random-effects (mixed-effects) model fit, batch-first: one kernel for every use.

``fit_rma`` fits the normal-normal model y_i ~ N(x_i'beta, v_i + tau^2) to a batch of
problems shaped ``(..., k)`` with an optional boolean mask. A single meta-analysis is the
batch of one; leave-one-out, cumulative analysis, GOSH, permutation tests and simulation
studies are larger batches of the same call.

Conventions follow metafor 3.8 (Viechtbauer 2010): Cochran's Q always uses the FE weights
1/v_i; I^2 and H^2 use the "typical" within-study variance s^2 = (k - p)/tr(P_FE) for
every tau^2 estimator (and Q itself for the common-effect model); the Hartung-Knapp-Sidik-
Jonkman ("hksj") test rescales the variance by s^2_w = sum w_i r_i^2/(k - p) without
truncation and uses t(k - p); the prediction interval is beta +/- crit*sqrt(se^2 + tau^2)
with the same critical value as the confidence interval.

References
----------
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat Softw 36(3).
Hartung J, Knapp G (2001). On tests of the overall treatment effect in meta-analysis with
    normally distributed responses. Stat Med 20:1771-1782.
Sidik K, Jonkman JN (2002). A simple confidence interval for meta-analysis. Stat Med 21:3153-3159.
Higgins JPT, Thompson SG (2002). Quantifying heterogeneity in a meta-analysis. Stat Med 21:1539-1558.
Riley RD, Higgins JPT, Deeks JJ (2011). Interpretation of random effects meta-analyses. BMJ 342:d549.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from scipy import special

from painstats.meta._kernels.design import Design, WLSFit, make_design
from painstats.meta._kernels.tau2 import Tau2Estimate, estimate_flat, problem

__all__ = ["RMAFit", "fit_rma", "prepare", "critical_value", "two_sided_p"]


class RMAFit(NamedTuple):
    """Every number of a fitted (mixed-effects) meta-analysis, batch-first arrays."""

    beta: np.ndarray  # (..., p)
    vcov: np.ndarray  # (..., p, p), rescaled by s2w under hksj
    se: np.ndarray  # (..., p)
    statistic: np.ndarray  # (..., p)
    pvalue: np.ndarray  # (..., p)
    ci_low: np.ndarray  # (..., p)
    ci_high: np.ndarray  # (..., p)
    df: np.ndarray  # (...) t degrees of freedom; inf for z tests
    crit: np.ndarray  # (...) critical value of the CI (z or t quantile)
    tau2: np.ndarray  # (...)
    tau2_se: np.ndarray  # (...)
    i2: np.ndarray  # (...) percent
    h2: np.ndarray  # (...)
    s2: np.ndarray  # (...) typical within-study variance (k - p)/tr(P_FE)
    q: np.ndarray  # (...) Cochran's (residual) Q with FE weights
    q_df: np.ndarray  # (...) k - p
    q_pvalue: np.ndarray  # (...)
    k: np.ndarray  # (...) number of studies
    weights: np.ndarray  # (..., k) percent
    s2w: np.ndarray  # (...) hksj scale factor (1 for other tests)


def prepare(y, v, mask=None):
    """Broadcast y, v and mask; padded entries get y = 0, v = 1 and weight 0."""
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    if mask is None:
        if y.shape != v.shape:
            y, v = np.broadcast_arrays(y, v)
        return y, v, np.ones(y.shape, dtype=float)
    y, v, mb = np.broadcast_arrays(y, v, np.asarray(mask, dtype=bool))
    m = mb.astype(float)
    present = m > 0
    return np.where(present, y, 0.0), np.where(present, v, 1.0), m


def critical_value(test: str, df, level: float):
    """Two-sided critical value: z quantile, or t(df) for "t"/"hksj" (inf df gives z)."""
    q = 1.0 - (1.0 - level) / 2.0
    if test == "z":
        return np.full(np.shape(df), _z_quantile(q))
    df = np.asarray(df, dtype=float)
    return np.where(np.isfinite(df), special.stdtrit(np.where(np.isfinite(df), df, 1.0), q),
                    special.ndtri(q))


@functools.lru_cache(maxsize=64)
def _z_quantile(q: float) -> float:
    return float(special.ndtri(q))


def two_sided_p(stat, df):
    """Two-sided p-value of a z (df = inf or None) or t(df) statistic; df broadcasts
    against stat."""
    if df is None:
        return 2.0 * special.ndtr(-np.abs(stat))
    df = np.asarray(df, dtype=float)
    a = -np.abs(stat)
    return 2.0 * np.where(np.isfinite(df), special.stdtr(np.where(np.isfinite(df), df, 1.0), a),
                          special.ndtr(a))


def _heterogeneity(method, tau2, q, k, p, trp_fe):
    qdf = k - p
    s2 = qdf / trp_fe
    if method == "FE":
        i2 = np.maximum(0.0, 100.0 * (q - qdf) / q)
        h2 = q / qdf
    else:
        i2 = 100.0 * tau2 / (tau2 + s2)
        h2 = tau2 / s2 + 1.0
    single = qdf <= 0
    if single.any() or not np.isfinite(i2).all():
        i2 = np.where(single | ~np.isfinite(i2), 0.0, i2)
        h2 = np.where(single, 1.0, h2)
    return s2, i2, h2


def fit_rma(*args, **kwargs) -> RMAFit:
    """Fit a batch of random-effects (or mixed-effects) models (see :func:`_fit_rma`).

    Degenerate problems (k = p, zero residual df) give NaN/inf intermediate values that the
    kernel resolves explicitly, so floating-point warnings are silenced once here.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return _fit_rma(*args, **kwargs)


def _fit_rma(
    y,
    v,
    mask=None,
    X=None,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
) -> RMAFit:
    """Fit a batch of random-effects (or mixed-effects) models.

    Parameters
    ----------
    y, v : array_like, shape (..., k)
        Effect sizes and sampling variances.
    mask : array_like of bool, shape (..., k), optional
        True for real studies; False entries are ignored (padding, left-out studies).
    X : array_like, shape (..., k, p), optional
        Design matrix; the intercept-only model when None.
    method : str
        Canonical tau^2 estimator name ("FE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM").
    test : str
        "z", "t" or "hksj".
    level : float
        Confidence level in (0, 1).
    """
    y, v, m = prepare(y, v, mask)
    design: Design = make_design(X)
    p = design.p
    k = m.sum(axis=-1)
    prob = problem(y, v, m, design, k, p)
    flat = estimate_flat(prob, method)
    tau = Tau2Estimate(prob.out(flat.tau2), prob.out(flat.se))
    q = prob.out(prob.fe()[3])  # the common-effect fit, shared with DL/HS
    s2, i2, h2 = _heterogeneity(method, tau.tau2, q, k, p, prob.out(prob.trp_fe()))

    # the fit at the estimate (for ML/REML/PM the estimator's own final evaluation)
    w_flat, fit_flat = prob.fit_at(flat.tau2)
    w = w_flat.reshape(y.shape)
    fit = WLSFit(*(a.reshape(*k.shape, *a.shape[1:]) for a in fit_flat))
    qdf = k - p
    use_t = test != "z"
    # with k = p there is no residual df: metafor silently falls back to a z-test
    df = np.where(use_t & (qdf > 0), qdf, np.inf) if use_t else np.full(k.shape, np.inf)
    s2w = np.ones(k.shape)
    vcov = fit.vcov
    if test == "hksj":
        rss = np.sum(w * fit.resid**2, axis=-1)
        s2w = np.where(rss <= np.finfo(float).eps, 0.0, rss / qdf)
        s2w = np.where(qdf > 0, s2w, 1.0)
        vcov = vcov * s2w[..., None, None]
    se = np.sqrt(np.diagonal(vcov, axis1=-2, axis2=-1))
    stat = fit.beta / se
    crit = critical_value(test if use_t else "z", df, level)
    pval = two_sided_p(stat, df[..., None] if use_t else None)
    q_pvalue = np.where(qdf > 0, special.chdtrc(np.maximum(qdf, 1), q), 1.0)
    weights = 100.0 * w / np.add.reduce(w, axis=-1, keepdims=True)
    return RMAFit(
        beta=fit.beta,
        vcov=vcov,
        se=se,
        statistic=stat,
        pvalue=pval,
        ci_low=fit.beta - crit[..., None] * se,
        ci_high=fit.beta + crit[..., None] * se,
        df=df,
        crit=crit,
        tau2=tau.tau2,
        tau2_se=tau.se,
        i2=i2,
        h2=h2,
        s2=s2,
        q=q,
        q_df=qdf,
        q_pvalue=q_pvalue,
        k=k,
        weights=weights,
        s2w=s2w,
    )
