"""One table of numerical tolerances for the tests, keyed by kind of quantity.

Every comparison against a reference (an R fixture or a published table) takes its
``rtol``/``atol`` from here, so a tolerance is loosened in one visible place, with its
reason, never ad hoc in a test. Use as ``assert_allclose(actual, desired, **tol("closed_form"))``.

``atol`` only matters for values that are (close to) zero -- tau2 truncated at 0, I2 = 0,
an estimate or bound that crosses zero -- where a relative tolerance is meaningless.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Tolerance:
    """``rtol``/``atol`` for ``numpy.testing.assert_allclose`` and why they are what they are."""

    rtol: float
    atol: float
    reason: str
    goal_rtol: float | None = None  #: what the implementation aims for (not asserted)

    def kwargs(self) -> dict[str, float]:
        return {"rtol": self.rtol, "atol": self.atol}


TOLERANCES: dict[str, Tolerance] = {
    "exact": Tolerance(
        rtol=0.0,
        atol=0.0,
        reason="Counts and degrees of freedom (k, k - p, m) are integers and must be identical.",
    ),
    "closed_form": Tolerance(
        rtol=1e-10,
        atol=1e-12,
        reason=(
            "A finite sequence of floating-point operations (DL, HE, HS, SJ and FE fits, Q, "
            "Cochran's Q p-value, everything derived from a closed-form tau2). R and NumPy differ "
            "only in summation order, LAPACK paths and special-function implementations, which "
            "costs ~1e-14 relative; 1e-10 leaves room for the ill-conditioned cases in the grid "
            "(vi ratio 1e4, tau2/vi ~ 1e4) while still catching any formula difference."
        ),
    ),
    "closed_form_ill_conditioned": Tolerance(
        rtol=1e-8,
        atol=1e-12,
        reason=(
            "Closed-form meta-regression whose design is ill-conditioned (cond(X'X) > 1e8, e.g. "
            "raw calendar year next to an intercept: cond ~ 2.5e11). Floating-point error then "
            "grows like eps * cond: against exact rational arithmetic, metafor's intercept for "
            "bcg 'yi ~ ablat + year' (DL) is off by 4e-10 relative and NumPy's by 3e-11, so the "
            "two cannot agree to 1e-10. 1e-8 still separates formula errors from rounding."
        ),
    ),
    "iterative": Tolerance(
        rtol=1e-6,
        atol=1e-9,
        goal_rtol=1e-8,
        reason=(
            "Quantities that depend on an iteratively found tau2 (ML, REML and EB by Fisher "
            "scoring, PM by root finding). The R reference is converged to ~1e-12 "
            "(threshold=1e-12, tol=1e-13), so any remaining difference is painstats' stopping "
            "rule. The bar asserted is the project's 1e-6; the implementation converges to "
            "~1e-10 and should pass at 1e-8. metafor's default controls would miss it by up to "
            "3e-5 (metafor-conventions item 14). atol covers tau2 at the boundary: Fisher scoring "
            "approaches tau2 = 0 geometrically and R stops at ~1e-14 rather than exactly 0."
        ),
    ),
    "iterative_percent": Tolerance(
        rtol=1e-6,
        atol=1e-6,
        goal_rtol=1e-8,
        reason=(
            "I2 (in percent) from an iterative tau2. I2 = 100 tau2 / (tau2 + s2) turns an "
            "absolute tau2 residual d at the boundary (tau2 = 0, where a relative tolerance "
            "means nothing) into 100 d / s2 percentage points: a solver stopping at tau2 ~ 1e-12 "
            "with s2 ~ 0.05 gives I2 ~ 2e-9 %, and s2 can be 1e-3. 1e-6 percentage points is "
            "still zero for any reader."
        ),
    ),
    "qprofile_root": Tolerance(
        rtol=1e-6,
        atol=1e-9,
        goal_rtol=1e-8,
        reason=(
            "Q-profile confidence bounds for tau2 (and the tau, I2, H2 bounds transformed from "
            "them) are roots of Q_gen(tau2) = chi2 quantile, found by uniroot(tol=1e-13) in R "
            "and by painstats' own root finder; same bar as other iterative quantities. atol "
            "covers bounds that are exactly 0."
        ),
    ),
    "sqrt_closed_form": Tolerance(
        rtol=1e-10,
        atol=1e-6,
        reason=(
            "tau = sqrt(tau2) from a closed-form tau2. Relative error halves under the square "
            "root, but an absolute error e in a tau2 near 0 becomes sqrt(e) in tau "
            "(1e-12 -> 1e-6), so atol is the square root of closed_form's."
        ),
    ),
    "sqrt_iterative": Tolerance(
        rtol=1e-6,
        atol=3.2e-5,
        goal_rtol=1e-8,
        reason=(
            "tau = sqrt(tau2) from an iterative tau2 (incl. the Q-profile bounds of tau). R's "
            "Fisher scoring stops at tau2 ~ 1e-13 when the exact maximum is at tau2 = 0, i.e. "
            "tau ~ 4e-7 where painstats returns 0; atol is sqrt(iterative atol) = sqrt(1e-9)."
        ),
    ),
    "published": Tolerance(
        rtol=0.0,
        atol=float("nan"),  # per value: see printed_atol()
        reason=(
            "Numbers printed in a paper are rounded: a value is reproduced when it lies within "
            "half a unit of the last printed digit (use printed_atol('-14.10') -> 0.005)."
        ),
    ),
}


def tol(kind: str) -> dict[str, float]:
    """``rtol``/``atol`` keywords for ``assert_allclose`` for one kind of quantity."""
    return TOLERANCES[kind].kwargs()


def printed_atol(printed: str) -> float:
    """Half a unit of the last printed digit of a number as printed in a paper.

    >>> printed_atol("-14.10")
    0.005
    >>> printed_atol("112")
    0.5
    """
    exponent = Decimal(printed).as_tuple().exponent
    assert isinstance(exponent, int)
    return 0.5 * 10.0**exponent
