"""Duval and Tweedie's trim-and-fill method: ``trim_and_fill``.

Follows metafor 3.8 ``trimfill`` step by step (Duval & Tweedie 2000; Duval 2005): the side
of the missing studies, the iteration of trimmed fits and the L0/R0/Q0 estimators of the
number of missing studies k0, the mirror-image filled studies and the refit. Every fit is a
call of the batch kernel :func:`painstats.meta._kernels.fit.fit_rma` (the trimmed fits as a
masked batch of one), not a re-validation through the public API.

References
----------
Duval S, Tweedie R (2000). Trim and fill: a simple funnel-plot-based method of testing and
    adjusting for publication bias in meta-analysis. Biometrics 56:455-463.
Duval S, Tweedie R (2000). A nonparametric "trim and fill" method of accounting for
    publication bias in meta-analysis. J Am Stat Assoc 95:89-98.
Duval S (2005). The trim and fill method. In Rothstein HR, Sutton AJ, Borenstein M (eds),
    Publication Bias in Meta-Analysis. Wiley, pp 127-144.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from painstats._validation import resolve_option
from painstats.errors import ConvergenceError, ValidationError
from painstats.meta._inputs import StudyData
from painstats.meta._kernels.fit import fit_rma
from painstats.meta._summary import Summary, fmt, p_eq
from painstats.meta.bias import intercept_only_model
from painstats.meta.random_effects import build_result
from painstats.meta.results import TIDY_COLUMNS, RandomEffectsResult

__all__ = [
    "TRIM_AND_FILL_ESTIMATORS",
    "TRIM_AND_FILL_SIDES",
    "TrimAndFillResult",
    "trim_and_fill",
]

#: Estimators of the number of missing studies (metafor ``trimfill(estimator=)``).
TRIM_AND_FILL_ESTIMATORS = ("L0", "R0", "Q0")
#: Sides on which studies can be missing (metafor ``trimfill(side=)``).
TRIM_AND_FILL_SIDES = ("left", "right")

_ESTIMATOR_ALIASES = {e: e for e in TRIM_AND_FILL_ESTIMATORS}
_SIDE_ALIASES = {s.upper(): s for s in TRIM_AND_FILL_SIDES}


@dataclass(frozen=True, slots=True)
class TrimAndFillResult:
    """Trim-and-fill: estimated number of missing studies and the model with them filled in.

    The adjusted model is refitted with the original tau^2 estimator, a z test and a 95%
    level (metafor's behaviour) when k0 > 0; with k0 = 0 it is the original model.
    """

    k0: int  #: estimated number of missing studies
    se_k0: float  #: its standard error (NaN where metafor's variance formula is negative)
    p_k0: float  #: R0 only: p-value of H0 "no missing studies" (NaN for L0 and Q0)
    side: str  #: side on which studies are missing: "left" or "right"
    estimator: str  #: "L0", "R0" or "Q0"
    iterations: int
    estimate: float  #: adjusted pooled effect
    se: float
    pvalue: float
    ci_low: float
    ci_high: float
    tau2: float
    i2: float  #: percent
    filled_yi: np.ndarray = field(repr=False)  #: the k0 filled (mirror-image) effect sizes
    filled_vi: np.ndarray = field(repr=False)  #: their variances (those of the mirrored studies)
    adjusted: RandomEffectsResult = field(repr=False)  #: the model with the filled studies
    original: RandomEffectsResult = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """Tidy table with rows ``original`` and ``adjusted`` (the pooled effects)."""
        rows = []
        for term, r in (("original", self.original), ("adjusted", self.adjusted)):
            rows.append([term, r.estimate, r.se, r.statistic, r.df, r.pvalue, r.ci_low, r.ci_high])
        return pd.DataFrame(rows, columns=TIDY_COLUMNS)

    def study_frame(self) -> pd.DataFrame:
        """The adjusted model's studies with a boolean ``filled`` column (for funnel plots)."""
        frame = self.adjusted.study_frame()
        frame["filled"] = np.arange(len(frame)) >= self.original.k
        return frame

    def summary(self) -> Summary:
        """metafor-style print-out: k0 (with SE), the R0 test, then the adjusted model."""
        se = "NA" if np.isnan(self.se_k0) else fmt(self.se_k0)
        lines = [(f"Estimated number of missing studies on the {self.side} side: "
                  f"{self.k0} (SE = {se})")]
        if self.estimator == "R0":
            pad = " " * (4 + len(str(self.k0)))  # aligns "p-val" with k0 above, as metafor
            lines.append(f"Test of H0: no missing studies on the {self.side} side: {pad}"
                         f"p-val {p_eq(self.p_k0)}")
        lines += ["", self.adjusted.summary().text]
        return Summary("\n".join(lines))

    def __str__(self) -> str:
        return str(self.summary())


class _K0(NamedTuple):
    k0: int
    se: float


def _sqrt(x: float) -> float:
    """Square root, NaN for a negative argument (as R's sqrt, without a warning)."""
    return math.sqrt(x) if x >= 0 else float("nan")


def _var_sr(k: int, k0: float) -> float:
    """Variance of the Wilcoxon rank sum S_r given k0 (Duval & Tweedie 2000)."""
    return (k * (k + 1) * (2 * k + 1) + 10 * k0**3 + 27 * k0**2 + 17 * k0 - 18 * k * k0**2
            - 18 * k * k0 + 6 * k**2 * k0) / 24


def _estimate_k0(signed_ranks: np.ndarray, estimator: str, iteration: int) -> _K0:
    """One step of the L0, R0 or Q0 estimator from the signed ranks of |y - b|."""
    k = signed_ranks.size
    if estimator == "R0":
        negative = -signed_ranks[signed_ranks < 0]
        if negative.size == 0:
            raise ConvergenceError(
                f"trim-and-fill (R0) failed at iteration {iteration}: no study lies below the "
                "trimmed estimate, so the rightmost run of ranks is undefined"
            )
        raw = (k - negative.max()) - 1.0
        se = _sqrt(2 * max(0.0, raw) + 2)
    else:
        sr = float(signed_ranks[signed_ranks > 0].sum())
        if estimator == "L0":
            raw = (4 * sr - k * (k + 1)) / (2 * k - 1)
            se = 4 * _sqrt(_var_sr(k, raw)) / (2 * k - 1)
        else:
            disc = 2 * k**2 - 4 * sr + 0.25
            if disc < 0:
                raise ConvergenceError(
                    f"trim-and-fill (Q0) failed at iteration {iteration}: 2k^2 - 4 S_r + 1/4 = "
                    f"{disc:g} < 0, so k0 is undefined (metafor stops too); try estimator='L0'"
                )
            raw = k - 0.5 - math.sqrt(disc)
            se = 2 * _sqrt(_var_sr(k, raw)) / _sqrt((k - 0.5) ** 2 - raw * (2 * k - raw - 1))
    return _K0(max(0, int(np.round(raw))), se if np.isnan(se) else max(0.0, se))


def _choose_side(res: RandomEffectsResult) -> str:
    """'right' if the slope of yi on sqrt(vi) (same estimator) is negative, else 'left'."""
    sei = np.sqrt(res.vi)
    if np.ptp(sei) == 0:
        raise ValidationError(
            "trim_and_fill cannot choose the side: every study has the same vi, so the "
            "regression on sqrt(vi) is undefined; pass side='left' or side='right'"
        )
    X = np.column_stack([np.ones_like(sei), sei])
    slope = float(fit_rma(res.yi, res.vi, X=X, method=res.method, test="z").beta[1])
    return "right" if slope < 0 else "left"


def trim_and_fill(
    res: RandomEffectsResult,
    *,
    estimator: str = "L0",
    side: str | None = None,
    maxiter: int = 100,
) -> TrimAndFillResult:
    """Duval and Tweedie's trim-and-fill method, as metafor ``trimfill``.

    Estimates the number k0 of studies missing from one side of the funnel plot by
    iteratively trimming the k0 most extreme studies, refitting and counting the signed
    ranks of |y - b|; then fills in their mirror images 2b - y (with the same variances)
    and refits the model.

    Parameters
    ----------
    res : RandomEffectsResult
        An intercept-only model; the trimmed fits and the refit use its tau^2 estimator.
    estimator : {"L0", "R0", "Q0"}, default "L0"
        Estimator of k0: ``L0 = (4 S_r - k(k+1))/(2k - 1)``, ``R0`` = length of the
        rightmost run of positive ranks - 1, ``Q0 = k - 1/2 - sqrt(2k^2 - 4 S_r + 1/4)``,
        rounded and truncated at 0 (S_r: sum of the positive signed ranks).
    side : {"left", "right"}, optional
        Side of the funnel plot with the missing studies. Default as metafor: from the
        sign of the slope of ``rma(yi, vi, mods=~sqrt(vi))`` with the same estimator; a
        negative slope means studies are missing on the right.
    maxiter : int, default 100
        Maximum number of trimming iterations.

    Returns
    -------
    TrimAndFillResult
        ``k0``, ``se_k0``, ``p_k0`` (R0), ``side``, the adjusted ``estimate, se, pvalue,
        ci_low, ci_high, tau2, i2``, the ``filled_yi``/``filled_vi`` and the ``adjusted``
        model (a RandomEffectsResult whose last k0 studies are labelled "Filled 1", ...).

    Raises
    ------
    ValidationError
        Fewer than 3 studies, a meta-regression as ``res``, an unknown estimator or side,
        or equal variances with ``side=None``.
    ConvergenceError
        The number of missing studies did not settle within ``maxiter`` iterations, or the
        estimator became undefined (Q0 can leave the domain of its square root; metafor
        stops with an error there too).

    Notes
    -----
    As metafor: ranks of |y - b| break ties by order ("first"); the model with the filled
    studies is refitted with ``test="z"`` and a 95% level even if ``res`` used another test
    or level; if k0 = 0 the original model is returned unchanged (Knapp-Hartung included).
    metafor accepts k = 2; painstats requires k >= 3.

    One deliberate difference: a study lying exactly on the trimmed estimate (e.g. when
    a trimmed fit keeps a single study) has deviation 0 and gets sign 0, so it adds nothing
    to S_r. In metafor the sign of that zero is decided by rounding (its estimate can land
    one ulp off), which can change the unrounded L0/Q0 and hence ``se_k0``; k0 agreed in
    every case of the reference grid.

    References
    ----------
    Duval S, Tweedie R (2000). Trim and fill: a simple funnel-plot-based method of testing
    and adjusting for publication bias in meta-analysis. Biometrics 56:455-463.
    Duval S, Tweedie R (2000). A nonparametric "trim and fill" method of accounting for
    publication bias in meta-analysis. J Am Stat Assoc 95:89-98.

    Examples
    --------
    >>> from painstats import datasets
    >>> from painstats.meta import effect_size, random_effects
    >>> from painstats.meta.trim_and_fill import trim_and_fill
    >>> es = effect_size("MD", data=datasets.load("rubinstein2019"), mean1="mean_smt",
    ...                  sd1="sd_smt", n1="n_smt", mean2="mean_ctrl", sd2="sd_ctrl", n2="n_ctrl")
    >>> tf = trim_and_fill(random_effects("yi", "vi", data=es))
    >>> tf.side, tf.k0, round(tf.estimate, 4)
    ('left', 6, -6.0608)
    """
    res = intercept_only_model(res, "trim_and_fill")
    estimator = resolve_option("estimator", estimator, _ESTIMATOR_ALIASES)
    if res.k < 3:
        raise ValidationError(f"trim_and_fill needs at least 3 studies; got k={res.k}")
    if isinstance(maxiter, bool) or not isinstance(maxiter, (int, np.integer)) or maxiter < 1:
        raise ValidationError(f"maxiter must be a positive whole number; got {maxiter!r}")
    side = _choose_side(res) if side is None else resolve_option("side", side, _SIDE_ALIASES)
    flip = -1.0 if side == "right" else 1.0
    order = np.argsort(flip * res.yi, kind="stable")
    y, v = flip * res.yi[order], res.vi[order]
    k = res.k
    k0, previous, iteration = 0, -1, 0
    while k0 != previous:
        previous = k0
        iteration += 1
        if iteration > maxiter:
            raise ConvergenceError(f"trim-and-fill ({estimator}) did not converge in {maxiter} "
                                   "iterations")
        mask = np.arange(k) < k - k0
        beta = float(fit_rma(y, v, mask, method=res.method, test="z").beta[0])
        centred = y - beta
        ranks = np.empty(k)
        ranks[np.argsort(np.abs(centred), kind="stable")] = np.arange(1, k + 1)
        step = _estimate_k0(np.sign(centred) * ranks, estimator, iteration)
        k0 = step.k0
    p_k0 = 0.5 ** (k0 + 1) if estimator == "R0" else float("nan")
    filled_yi = flip * (2 * beta - y[k - k0:])
    filled_vi = v[k - k0:].copy()
    adjusted = res if k0 == 0 else _refit(res, filled_yi, filled_vi)
    for a in (filled_yi, filled_vi):
        a.setflags(write=False)
    return TrimAndFillResult(
        k0=k0, se_k0=step.se, p_k0=p_k0, side=side, estimator=estimator, iterations=iteration,
        estimate=adjusted.estimate, se=adjusted.se, pvalue=adjusted.pvalue,
        ci_low=adjusted.ci_low, ci_high=adjusted.ci_high, tau2=adjusted.tau2, i2=adjusted.i2,
        filled_yi=filled_yi, filled_vi=filled_vi, adjusted=adjusted, original=res,
    )


def _refit(res: RandomEffectsResult, filled_yi: np.ndarray,
           filled_vi: np.ndarray) -> RandomEffectsResult:
    """The model with the filled studies appended: same estimator, z test, 95% level."""
    yi = np.concatenate([res.yi, filled_yi])
    vi = np.concatenate([res.vi, filled_vi])
    labels = (*res.labels, *(f"Filled {i + 1}" for i in range(filled_yi.size)))
    for a in (yi, vi):
        a.setflags(write=False)
    studies = StudyData(yi, vi, labels, np.ones(yi.size, dtype=bool), res.n_dropped)
    fit = fit_rma(yi, vi, method=res.method, test="z", level=0.95)
    return build_result(fit, studies, res.method, "z", 0.95)
