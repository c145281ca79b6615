"""Array-only kernels of (component) network meta-analysis: batch-first NumPy, no pandas.

The contrast-based model (Lu & Ades 2004; Salanti et al. 2008; Jackson, White & Riley 2012) is

    y_s = X_s beta + delta_s + eps_s,   eps_s ~ N(0, S_s),   delta_s ~ N(0, tau^2 R_s),

for every study s, with y_s its contrasts against its baseline arm, S_s their known
within-study covariance and R_s the correlation of the random effects of a multi-arm study:
1 on the diagonal and 1/2 off it (the homogeneous-variance assumption; metafor's
``rma.mv(..., random = ~ comp | study, rho = 1/2)``). The covariance is block diagonal, one
block per study, so every array is a stack of small blocks:

    y     (..., S, A)          contrasts, padded to the largest study (A = arms - 1)
    cov   (..., S, A, A)       within-study covariances S_s
    X     (..., S, A, p)       design: +1 for the arm's treatment, -1 for the baseline's
    mask  (..., S, A)          True for real contrasts (False pads, or leaves a study out)

Sums over studies replace every m x m matrix product, so memory is O(batch x S x A^2) and a
batch of networks with the same shape (simulations, resampling) is one call.

With P = W - W X (X'WX)^{-1} X'W and W = V^{-1}, V = S + tau^2 R:

* generalised DerSimonian-Laird (Jackson, White & Riley 2012; identical to netmeta's
  (Q - df) / tr((I - H) U W) of Rücker 2012): tau^2 = max(0, (Q - df) / tr(P_0 R)),
  Q = y'P_0 y the common-effect residual Q, df = m - p;
* ML and REML by Fisher scoring: score (y'PRPy - tr(WR))/2 for ML and (y'PRPy - tr(PR))/2
  for REML; information tr(WRWR)/2 and tr(PRPR)/2.

References
----------
Jackson D, White IR, Riley RD (2012). Quantifying the impact of between-study heterogeneity
    in multivariate meta-analyses. Stat Med 31:3805-3820.
Rücker G (2012). Network meta-analysis, electrical networks and graph theory. Res Synth
    Methods 3:312-324.
Lu G, Ades AE (2004). Combination of direct and indirect evidence in mixed treatment
    comparisons. Stat Med 23:3105-3124.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from painstats.errors import ConvergenceError
from painstats.meta._kernels.roots import fisher_scoring

__all__ = ["GLSFit", "common_q", "correlation_blocks", "estimate_tau2", "gls"]


class GLSFit(NamedTuple):
    """Generalised least squares at a given tau^2, batch-first arrays."""

    beta: np.ndarray  # (..., p)
    vcov: np.ndarray  # (..., p, p)
    q: np.ndarray  # (...) residual quadratic form r'V^{-1}r
    df: np.ndarray  # (...) m - p, m = number of contrasts


def _prepare(y, cov, X, mask):
    y = np.asarray(y, dtype=float)
    cov = np.asarray(cov, dtype=float)
    X = np.asarray(X, dtype=float)
    m = np.ones(y.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    batch = np.broadcast_shapes(y.shape[:-2], cov.shape[:-3], X.shape[:-3], m.shape[:-2])
    S, A = y.shape[-2:]
    y = np.broadcast_to(y, (*batch, S, A))
    cov = np.broadcast_to(cov, (*batch, S, A, A))
    m = np.broadcast_to(m, (*batch, S, A))
    X = np.broadcast_to(X, (*batch, S, A, X.shape[-1]))
    mf = m.astype(float)
    return np.where(m, y, 0.0), cov, X * mf[..., None], mf


def correlation_blocks(mask) -> np.ndarray:
    """R: 1 on the diagonal, 1/2 between contrasts of the same study, 0 for padding."""
    mf = np.asarray(mask, dtype=float)
    outer = mf[..., :, None] * mf[..., None, :]
    eye = np.eye(mf.shape[-1])
    return 0.5 * outer + 0.5 * outer * eye


def _weights(cov, mf, tau2):
    """W = V^{-1} blockwise, with V = cov + tau2 R on real contrasts; 0 for padding."""
    outer = mf[..., :, None] * mf[..., None, :]
    eye = np.eye(mf.shape[-1])
    tau2 = np.asarray(tau2, dtype=float)[..., None, None, None]
    R = 0.5 * outer * (1.0 + eye)
    V = cov * outer + tau2 * R + eye * (1.0 - mf[..., :, None])
    return np.linalg.inv(V) * outer, R


class _Terms(NamedTuple):
    beta: np.ndarray
    B: np.ndarray  # (X'WX)^{-1}
    r: np.ndarray
    Wr: np.ndarray
    WX: np.ndarray
    W: np.ndarray
    R: np.ndarray


def _gls_terms(y, cov, X, mf, tau2) -> _Terms:
    W, R = _weights(cov, mf, tau2)
    WX = W @ X
    XtWX = np.einsum("...sap,...saq->...pq", X, WX)
    XtWy = np.einsum("...sap,...sa->...p", WX, y)
    B = np.linalg.inv(XtWX)
    beta = np.einsum("...pq,...q->...p", B, XtWy)
    r = y - np.einsum("...sap,...p->...sa", X, beta)
    Wr = np.einsum("...sab,...sb->...sa", W, r)
    return _Terms(beta, B, r, Wr, WX, W, R)


def gls(y, cov, X, mask=None, tau2=0.0) -> GLSFit:
    """GLS fit of the contrast-based model at a fixed tau^2 (0 for the common-effect model).

    ``tau2`` broadcasts against the batch shape.
    """
    y, cov, X, mf = _prepare(y, cov, X, mask)
    t = _gls_terms(y, cov, X, mf, tau2)
    q = np.einsum("...sa,...sa->...", t.r, t.Wr)
    df = mf.sum(axis=(-2, -1)) - X.shape[-1]
    return GLSFit(t.beta, t.B, q, df)


def common_q(y, cov, X, mask=None) -> tuple[np.ndarray, np.ndarray]:
    """Residual Q of the common-effect model and its degrees of freedom m - p."""
    fit = gls(y, cov, X, mask, 0.0)
    return fit.q, fit.df


def _trace_pr(t: _Terms):
    """tr(WR), tr(PR), y'PRPy, tr(WRWR), tr(PRPR) from the GLS terms."""
    WR = t.W @ t.R
    tr_wr = np.einsum("...saa->...", WR)
    RWX = t.R @ t.WX
    G = np.einsum("...sap,...saq->...pq", t.WX, RWX)
    tr_pr = tr_wr - np.einsum("...pq,...qp->...", t.B, G)
    RWr = np.einsum("...sab,...sb->...sa", t.R, t.Wr)
    yprpy = np.einsum("...sa,...sa->...", t.Wr, RWr)
    tr_wrwr = np.einsum("...sab,...sba->...", WR, WR)
    H2 = np.einsum("...sap,...saq->...pq", RWX, t.W @ RWX)
    BG = t.B @ G
    tr_prpr = (tr_wrwr - 2.0 * np.einsum("...pq,...qp->...", t.B, H2)
               + np.einsum("...pq,...qp->...", BG, BG))
    return tr_wr, tr_pr, yprpy, tr_wrwr, tr_prpr


def _tau2_dl(y, cov, X, mf) -> np.ndarray:
    t = _gls_terms(y, cov, X, mf, 0.0)
    q = np.einsum("...sa,...sa->...", t.r, t.Wr)
    df = mf.sum(axis=(-2, -1)) - X.shape[-1]
    _, tr_pr, *_ = _trace_pr(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau2 = np.maximum(0.0, (q - df) / tr_pr)
    return np.where(df > 0, tau2, 0.0)


def estimate_tau2(y, cov, X, mask=None, *, method: str = "REML") -> np.ndarray:
    """Heterogeneity variance tau^2 of the contrast-based model, batch-first.

    ``method`` is "DL" (generalised DerSimonian-Laird), "ML", "REML" or "FE" (tau^2 = 0).
    A network without residual degrees of freedom (m = p) gets tau^2 = 0. ML and REML
    converge to ~1e-12 relative by safeguarded Fisher scoring from the DL value; a problem
    that does not converge raises :class:`~painstats.errors.ConvergenceError`.
    """
    y, cov, X, mf = _prepare(y, cov, X, mask)
    if method == "FE":
        return np.zeros(y.shape[:-2])
    start = _tau2_dl(y, cov, X, mf)
    if method == "DL":
        return start
    batch = y.shape[:-2]
    p = X.shape[-1]
    flat = [a.reshape(-1, *a.shape[len(batch):]) for a in (y, cov, X, mf)]
    restricted = method == "REML"

    def step(tau2, idx):
        t = _gls_terms(*(a[idx] for a in flat), tau2)
        tr_wr, tr_pr, yprpy, tr_wrwr, tr_prpr = _trace_pr(t)
        if restricted:
            return (yprpy - tr_pr) / tr_prpr
        return (yprpy - tr_wr) / tr_wrwr

    with np.errstate(divide="ignore", invalid="ignore"):
        tau2, ok = fisher_scoring(start.reshape(-1), step)
    df = (flat[3].sum(axis=(-2, -1)) - p)
    tau2 = np.where(df > 0, tau2, 0.0)
    if not np.all(ok | (df <= 0)):
        bad = int(np.sum(~(ok | (df <= 0))))
        raise ConvergenceError(
            f"{method} estimation of tau^2 did not converge (Fisher scoring) in {bad} of "
            f"{ok.size} network(s)"
        )
    return tau2.reshape(batch)


def contrast_design(arms, C) -> np.ndarray:
    """Design X (S, A, p) of the baseline-arm contrasts: X[s, a] = C[arm a+1] - C[arm 0].

    ``arms`` is (S, A + 1) treatment indices (-1 pads); ``C`` is (n_treatments, p): the
    identity without the reference's column for a standard network meta-analysis, the
    treatment-by-component incidence for an additive component model.
    """
    arms = np.asarray(arms)
    C = np.asarray(C, dtype=float)
    Cp = np.vstack([C, np.zeros((1, C.shape[1]))])  # index -1 (padding) -> zero row
    base = Cp[arms[:, :1]]
    X = Cp[arms[:, 1:]] - base
    return np.where((arms[:, 1:] >= 0)[..., None], X, 0.0)
