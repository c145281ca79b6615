"""Result objects of pairwise meta-analysis: frozen dataclasses with summary() and to_frame()."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from painstats.errors import ValidationError
from painstats.meta._kernels.qprofile import qprofile_tau2
from painstats.meta._summary import SIGNIF_LEGEND, Summary, fmt, fmt_p, p_eq, stars, table

__all__ = ["RandomEffectsResult", "TIDY_COLUMNS"]

#: Columns of every ``to_frame()`` coefficient table.
TIDY_COLUMNS = ["term", "estimate", "se", "statistic", "df", "p_value", "ci_low", "ci_high"]

_MODEL_TITLE = {"FE": "Common-Effect Model"}


def _stat_name(test: str) -> str:
    return "zval" if test == "z" else "tval"


def heterogeneity_lines(
    method: str, tau2, tau2_se, i2, h2, *, residual: bool = False, r2: float = float("nan")
) -> list[str]:
    """The tau^2 / tau / I^2 / H^2 (and R^2) block of metafor's print-out."""
    what = "residual" if residual else "total"
    lab = [
        f"tau^2 (estimated amount of {what} heterogeneity):",
        "tau (square root of estimated tau^2 value):",
        f"I^2 ({what} heterogeneity / {'unaccounted' if residual else 'total'} variability):",
        f"H^2 ({'unaccounted' if residual else 'total'} variability / sampling variability):",
    ]
    width = max(len(s) for s in lab) + 1
    r2_line = [] if np.isnan(r2) else [
        "R^2 (amount of heterogeneity accounted for):".ljust(width) + f"{r2:.2f}%"]
    if method == "FE":
        return [lab[2].ljust(width) + f"{i2:.2f}%", lab[3].ljust(width) + f"{h2:.2f}"] + r2_line
    se = "" if np.isnan(tau2_se) else f" (SE = {fmt(tau2_se)})"
    return [
        lab[0].ljust(width) + fmt(tau2) + se,
        lab[1].ljust(width) + fmt(np.sqrt(tau2)),
        lab[2].ljust(width) + f"{i2:.2f}%",
        lab[3].ljust(width) + f"{h2:.2f}",
    ] + r2_line


def coef_rows(est, se, stat, df, pval, lo, hi, test: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a metafor-style coefficient table."""
    header = ["estimate", "se", _stat_name(test)]
    if test != "z":
        header.append("df")
    header += ["pval", "ci.lb", "ci.ub", ""]
    rows = []
    for i in range(len(est)):
        r = [fmt(est[i]), fmt(se[i]), fmt(stat[i])]
        if test != "z":
            r.append(f"{df:g}" if np.isfinite(df) else "Inf")
        r += [fmt_p(pval[i]), fmt(lo[i]), fmt(hi[i]), stars(pval[i])]
        rows.append(r)
    return header, rows


@dataclass(frozen=True, slots=True)
class RandomEffectsResult:
    """A fitted random-effects (or common-effect) meta-analysis.

    Every number matches ``metafor::rma(yi, vi, method=..., test=...)`` with tight
    convergence controls; I^2 is a percent and weights are percents, as in metafor.
    """

    estimate: float  #: pooled effect (mu)
    se: float  #: its standard error (hksj-rescaled under test="hksj")
    statistic: float  #: z or t statistic
    pvalue: float
    ci_low: float
    ci_high: float
    pi_low: float  #: prediction interval (as metafor predict()); NaN for the common-effect model
    pi_high: float
    tau2: float  #: between-study variance
    tau2_se: float  #: its standard error (estimator-specific, as metafor)
    tau: float
    i2: float  #: percent
    h2: float
    q: float  #: Cochran's Q (FE weights)
    q_df: int
    q_pvalue: float
    k: int
    weights: np.ndarray  #: percent, one per study (in input order after dropping)
    df: float  #: t degrees of freedom; inf for z
    s2: float  #: "typical" within-study variance (k - 1)/tr(P) behind I^2 and H^2
    method: str
    test: str
    level: float
    yi: np.ndarray = field(repr=False)
    vi: np.ndarray = field(repr=False)
    labels: Sequence[str] = field(repr=False)  #: study labels (default "1".."k")
    n_dropped: int = 0

    def confint_tau2(self) -> pd.DataFrame:
        """Q-profile confidence intervals of tau^2, tau, I^2 and H^2 (as metafor ``confint``).

        The bounds use the model's level. Unlike metafor (which searches only up to
        max(100, 10 tau^2) and then prints ">"), the actual root is returned.

        Returns
        -------
        DataFrame indexed ``tau2, tau, i2, h2`` with columns ``estimate, ci_low, ci_high``.
        """
        if self.method == "FE":
            raise ValidationError(
                "confint_tau2() needs a random-effects model; this is a common-effect (FE) fit"
            )
        if self.k < 2:
            raise ValidationError("confint_tau2() needs at least 2 studies")
        lo, hi = qprofile_tau2(self.yi, self.vi, level=self.level)
        return confint_frame(self.tau2, self.i2, self.h2, float(lo), float(hi), self.s2)

    def leave_one_out(self) -> pd.DataFrame:
        """Leave-one-out refits (metafor ``leave1out``); see :func:`painstats.meta.influence.leave_one_out`."""
        from painstats.meta.influence import leave_one_out

        return leave_one_out(self)

    def influence(self) -> pd.DataFrame:
        """Case-deletion diagnostics (metafor ``influence``); see :func:`painstats.meta.influence.influence`."""
        from painstats.meta.influence import influence

        return influence(self)

    def cumulative(self, order=None) -> pd.DataFrame:
        """Cumulative meta-analysis (metafor ``cumul``); see :func:`painstats.meta.influence.cumulative`."""
        from painstats.meta.influence import cumulative

        return cumulative(self, order)

    def baujat(self) -> pd.DataFrame:
        """Baujat plot values (metafor ``baujat``); see :func:`painstats.meta.influence.baujat`."""
        from painstats.meta.influence import baujat

        return baujat(self)

    def gosh(self, max_subsets: int | None = None, random_seed=None, progress: bool = True) -> pd.DataFrame:
        """Fits to all (or random) subsets (metafor ``gosh``); see :func:`painstats.meta.influence.gosh`."""
        from painstats.meta.influence import gosh

        return gosh(self, max_subsets=max_subsets, random_seed=random_seed, progress=progress)

    def trim_and_fill(self, estimator: str = "L0", side: str | None = None):
        """Duval & Tweedie's trim-and-fill (metafor ``trimfill``); see :func:`painstats.meta.trim_and_fill`."""
        from painstats.meta.trim_and_fill import trim_and_fill

        return trim_and_fill(self, estimator=estimator, side=side)

    def plot_forest(self, **kwargs):
        """Forest plot; keywords as :func:`painstats.plots.forest`. Returns the Axes."""
        from painstats import plots

        return plots.forest(self, **kwargs)

    def plot_funnel(self, **kwargs):
        """Funnel plot; keywords as :func:`painstats.plots.funnel`. Returns the Axes."""
        from painstats import plots

        return plots.funnel(self, **kwargs)

    def plot_leave_one_out(self, **kwargs):
        """Leave-one-out forest plot (:func:`painstats.plots.leave_one_out`)."""
        from painstats import plots

        return plots.leave_one_out(self.leave_one_out(), overall=self, **kwargs)

    def plot_cumulative(self, order=None, **kwargs):
        """Cumulative forest plot (:func:`painstats.plots.cumulative`)."""
        from painstats import plots

        return plots.cumulative(self.cumulative(order), overall=self, **kwargs)

    def plot_baujat(self, **kwargs):
        """Baujat plot (:func:`painstats.plots.baujat`)."""
        from painstats import plots

        return plots.baujat(self.baujat(), **kwargs)

    def plot_radial(self, **kwargs):
        """Radial (Galbraith) plot (:func:`painstats.plots.radial`)."""
        from painstats import plots

        return plots.radial(self, **kwargs)

    def to_frame(self) -> pd.DataFrame:
        """Tidy one-row table: term, estimate, se, statistic, df, p_value, ci_low, ci_high."""
        return pd.DataFrame(
            [["overall", self.estimate, self.se, self.statistic, self.df, self.pvalue,
              self.ci_low, self.ci_high]],
            columns=TIDY_COLUMNS,
        )

    def study_frame(self) -> pd.DataFrame:
        """One row per study: label, yi, vi, se, ci_low, ci_high, weight (percent)."""
        z = special.ndtri(1 - (1 - self.level) / 2)
        sei = np.sqrt(self.vi)
        return pd.DataFrame(
            {"yi": self.yi, "vi": self.vi, "se": sei, "ci_low": self.yi - z * sei,
             "ci_high": self.yi + z * sei, "weight": self.weights},
            index=pd.Index(self.labels, name="study"),
        )

    def summary(self) -> Summary:
        """metafor-style print-out of the model."""
        if self.method == "FE":
            title = f"Common-Effect Model (k = {self.k})"
        else:
            title = f"Random-Effects Model (k = {self.k}; tau^2 estimator: {self.method})"
        lines = [title, ""]
        lines += heterogeneity_lines(self.method, self.tau2, self.tau2_se, self.i2, self.h2)
        lines += ["", "Test for Heterogeneity:",
                  f"Q(df = {self.q_df}) = {fmt(self.q)}, p-val {p_eq(self.q_pvalue)}", ""]
        lines += ["Model Results:", ""]
        header, rows = coef_rows([self.estimate], [self.se], [self.statistic], self.df,
                                 [self.pvalue], [self.ci_low], [self.ci_high], self.test)
        lines.append(table(header, rows))
        if self.method != "FE":
            lines += ["", f"Prediction interval ({100 * self.level:g}%): "
                          f"[{fmt(self.pi_low)}, {fmt(self.pi_high)}]"]
        if self.test == "hksj":
            lines.append("Test: Hartung-Knapp-Sidik-Jonkman (t with k - 1 df, SE rescaled)")
        if self.n_dropped:
            lines.append(f"{self.n_dropped} stud{'y' if self.n_dropped == 1 else 'ies'} "
                         "with missing values dropped")
        lines += ["", "---", SIGNIF_LEGEND]
        return Summary("\n".join(lines))

    def __str__(self) -> str:
        return str(self.summary())


def confint_frame(tau2, i2, h2, lo, hi, s2) -> pd.DataFrame:
    """Transform tau^2 bounds to tau, I^2, H^2 with the model's typical variance s^2."""
    bounds = np.array([lo, hi])
    rows = {
        "tau2": [tau2, *bounds],
        "tau": [np.sqrt(tau2), *np.sqrt(bounds)],
        "i2": [i2, *(100.0 * bounds / (bounds + s2))],
        "h2": [h2, *(bounds / s2 + 1.0)],
    }
    return pd.DataFrame.from_dict(rows, orient="index", columns=["estimate", "ci_low", "ci_high"])
