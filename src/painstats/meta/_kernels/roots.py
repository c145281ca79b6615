"""Vectorised solvers for the heterogeneity estimators (Fisher scoring, monotone Newton).

Both work on a whole batch at once and iterate only on the problems that have not
converged yet, so a batch of 10^5 meta-analyses costs little more than its slowest member.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["TOL", "MAX_ITER", "fisher_scoring", "decreasing_convex_root"]

#: Convergence tolerance on the change in tau^2, relative to (1 + tau^2). metafor's default
#: (1e-5 absolute) leaves errors near 3e-5; painstats converges to ~1e-12.
TOL = 1e-12
MAX_ITER = 1000
#: Plain Fisher-scoring iterations before switching to the safeguarded iteration.
PLAIN_ITER = 30

# step(tau2, index) -> adjustment, or (adjustment, c), evaluated on the active sub-batch;
# c > 0 marks a Newton step after which the next step is expected to be about c x step^2.
StepFn = Callable[[np.ndarray, np.ndarray], "np.ndarray | tuple[np.ndarray, np.ndarray]"]


def _split(out) -> tuple[np.ndarray, np.ndarray | float]:
    """A step function's output as (adjustment, c); c = 0 (no Newton step) when not given."""
    return out if isinstance(out, tuple) else (out, 0.0)


def fisher_scoring(start: np.ndarray, step: StepFn) -> tuple[np.ndarray, np.ndarray]:
    """Maximise a likelihood in tau^2 >= 0 by safeguarded Fisher scoring.

    ``step(tau2, index)`` returns the Fisher-scoring step score/information on the
    sub-batch ``index``; its sign is the sign of the score. It may also return a pair
    ``(step, c)`` with ``c > 0`` marking Newton steps and ``c`` bounding the constant of
    their quadratic convergence (next step ~ c step^2; 0 for other steps). After two Newton
    steps in a row, a problem stops as soon as the next step is predicted to be below the
    tolerance both from the last two steps (``size^3 / previous^2``) and from ``c size^2``,
    instead of taking that step only to see it. Each iterate updates a bracket
    [lo, hi] around the maximum (score > 0 at lo, < 0 at hi). A step that leaves the
    bracket, or shrinks by less than half (Fisher scoring can oscillate around the root when
    the likelihood is far from quadratic), is replaced by bisection, so the iteration
    always converges. A step below 0 is clamped to 0; a problem at 0 whose score is
    negative has its maximum there.

    Returns ``(tau2, converged)`` flattened to the batch shape of ``start``.
    """
    tau2 = np.array(start, dtype=float, copy=True).reshape(-1)
    converged = np.zeros(tau2.shape, dtype=bool)
    # Phase 1: plain iteration of the given steps, cheap to book-keep; almost every problem
    # converges here. t and prev follow the active problems; tau2 is written when some stop.
    active = np.flatnonzero(np.isfinite(tau2))
    t = tau2[active]
    prev = np.zeros(active.size)  # size of the previous step if a Newton step, else 0
    for _ in range(PLAIN_ITER):
        if active.size == 0:
            return tau2, converged
        adj, quad = _split(step(t, active))
        new = np.maximum(t + adj, 0.0)
        # at 0 with a downward step, new == t: converged on the boundary. Stop when
        # size <= tol, or, after two Newton steps in a row with the second the smaller, when
        # both predictions of the next step (size^3 / prev^2 and c size^2) are <= tol: with
        # lead = size (no earlier Newton step) the first test is size <= tol. A NaN step
        # stops, unconverged.
        size = np.abs(new - t)
        is_newton = quad > 0
        lead = np.maximum(prev * is_newton, size)
        size2 = size * size
        tol = TOL * (1.0 + new)
        moving = (size2 * size > tol * (lead * lead)) | (quad * size2 > tol)
        newton = size * is_newton
        if moving.all():
            t, prev = new, newton
            continue
        ok = np.isfinite(new)
        tau2[active] = np.where(ok, new, t)
        converged[active[~moving & ok]] = True
        active, t, prev = active[moving], new[moving], newton[moving]
    tau2[active] = t
    # Phase 2: safeguarded (bracketing) iteration for the few that oscillate.
    lo = np.zeros(tau2.shape)
    hi = np.full(tau2.shape, np.inf)
    prev = np.full(tau2.shape, np.inf)
    for _ in range(MAX_ITER):
        if active.size == 0:
            break
        t = tau2[active]
        adj, _ = _split(step(t, active))
        finite = np.isfinite(adj)
        lo_a = np.where(finite & (adj > 0), t, lo[active])
        hi_a = np.where(finite & (adj < 0), t, hi[active])
        cand = np.maximum(t + adj, 0.0)
        bracketed = np.isfinite(hi_a)
        bad = (cand <= lo_a) | (cand >= hi_a) | (np.abs(adj) > 0.5 * prev[active])
        new = np.where(bracketed & bad, 0.5 * (lo_a + hi_a), cand)
        new = np.where(finite, new, t)
        done = (np.abs(new - t) <= TOL * (1.0 + new)) | ~finite
        squeezed = bracketed & (hi_a - lo_a <= TOL * (1.0 + hi_a))
        done |= squeezed
        new = np.where(squeezed & (lo_a == 0), 0.0, new)  # bracket closed onto the boundary
        done |= (t == 0) & (adj <= 0)
        # converged within the tolerance of 0 with no positive score seen: the boundary
        at_zero = done & (lo_a == 0) & (hi_a <= 2.0 * TOL * (1.0 + hi_a))
        new = np.where(((t == 0) & (adj <= 0)) | at_zero, 0.0, new)
        tau2[active], lo[active], hi[active], prev[active] = new, lo_a, hi_a, np.abs(adj)
        converged[active[done & finite]] = True
        active = active[~done]
    return tau2, converged


def decreasing_convex_root(
    f_df: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    target: np.ndarray,
    start: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Root of ``f(x) = target`` for f decreasing and convex on [start, inf).

    Used for generalised Q(tau^2) = y'P(tau^2)y, which is decreasing and convex in tau^2
    (its derivative is -y'PPy, its second derivative 2y'PPPy >= 0). Newton's method from a
    point left of the root then climbs monotonically to it without overshooting, with
    quadratic convergence near the root. ``f_df(x, index)`` returns f and its derivative on
    the sub-batch ``index``. Problems with ``f(start) <= target`` return ``start``.
    """
    x = np.array(start, dtype=float, copy=True).reshape(-1)
    target = np.broadcast_to(np.asarray(target, dtype=float).reshape(-1), x.shape)
    converged = np.zeros(x.shape, dtype=bool)
    active = np.arange(x.size)
    for _ in range(MAX_ITER):
        if active.size == 0:
            break
        xa = x[active]
        f, df = f_df(xa, active)
        gap = f - target[active]
        step = -gap / df
        step = np.where(gap <= 0, 0.0, step)
        new = xa + step
        ok = np.isfinite(new)
        new = np.where(ok, new, xa)
        done = (np.abs(new - xa) <= TOL * (1.0 + np.abs(new))) | ~ok
        x[active] = new
        converged[active[done & ok]] = True
        active = active[~done]
    return x, converged
