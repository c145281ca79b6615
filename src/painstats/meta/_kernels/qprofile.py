"""Q-profile confidence interval for tau^2 (Viechtbauer 2007), batch-first.

The bounds solve the generalised Q-statistic equation Q_gen(tau^2) = chi^2 quantile with
k - p degrees of freedom: the lower bound uses the upper quantile (1 - alpha/2), the upper
bound the lower quantile (alpha/2). A bound below zero is set to zero. Unlike metafor, which
searches only up to max(100, 10 tau^2), the actual root is returned.

Reference
---------
Viechtbauer W (2007). Confidence intervals for the amount of heterogeneity in meta-analysis.
    Stat Med 26:37-52.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from painstats.errors import ConvergenceError
from painstats.meta._kernels.design import make_design
from painstats.meta._kernels.fit import prepare
from painstats.meta._kernels.roots import decreasing_convex_root
from painstats.meta._kernels.tau2 import generalised_q, problem

__all__ = ["qprofile_tau2"]


def qprofile_tau2(y, v, mask=None, X=None, *, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Q-profile (lower, upper) confidence bounds for tau^2, shaped like the batch."""
    y, v, m = prepare(y, v, mask)
    design = make_design(X)
    k = m.sum(axis=-1)
    prob = problem(y, v, m, design, k, design.p)
    df = np.maximum(prob.k - design.p, 1)
    alpha = 1.0 - level
    start = np.zeros_like(prob.k)
    f = lambda t, idx: generalised_q(prob, t, idx)  # noqa: E731
    with np.errstate(divide="ignore", invalid="ignore"):
        low, ok_low = decreasing_convex_root(f, special.chdtri(df, alpha / 2), start)
        high, ok_high = decreasing_convex_root(f, special.chdtri(df, 1.0 - alpha / 2), start)
    if not (np.all(ok_low | ~prob.estimable) and np.all(ok_high | ~prob.estimable)):
        raise ConvergenceError("the Q-profile confidence interval for tau^2 did not converge")
    low = np.where(prob.estimable, low, np.nan)
    high = np.where(prob.estimable, high, np.nan)
    return prob.out(low), prob.out(high)
