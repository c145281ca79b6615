"""Result of a Bayesian random-effects meta-analysis (exact or MCMC)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from painstats._validation import resolve_option
from painstats.errors import ValidationError
from painstats.meta._summary import Summary, fmt, table
from painstats.meta.priors import MuPrior, NormalMu, TauPrior

__all__ = ["BAYES_COLUMNS", "PARAMETERS", "BayesianRandomEffectsResult", "PosteriorSummary"]

#: Columns of ``BayesianRandomEffectsResult.to_frame()``.
BAYES_COLUMNS = ["term", "mean", "sd", "median", "ci_low", "ci_high", "hpd_low", "hpd_high"]
#: Parameters accepted by pdf/cdf/quantile (aliases -> canonical).
PARAMETERS = {"MU": "mu", "TAU": "tau", "PREDICTIVE": "predictive", "THETA_NEW": "predictive"}
_DIRECTIONS = {"LESS": "less", "<": "less", "GREATER": "greater", ">": "greater"}


@dataclass(frozen=True, slots=True)
class PosteriorSummary:
    """Posterior mean, SD, median, central and shortest (HPD) credible interval of a quantity."""

    mean: float
    sd: float
    median: float
    ci_low: float  #: central interval (equal tail probabilities)
    ci_high: float
    hpd_low: float  #: shortest interval
    hpd_high: float


@dataclass(frozen=True, slots=True)
class BayesianRandomEffectsResult:
    """A Bayesian random-effects meta-analysis (see :func:`painstats.meta.bayesian_random_effects`).

    ``mu``, ``tau`` and ``predictive`` (the effect theta_new of a new study) are
    :class:`PosteriorSummary` objects; ``study_*`` arrays describe the shrunken study
    effects theta_i. ``posterior`` holds the exact quadrature representation (exact method),
    ``idata`` the ArviZ InferenceData (MCMC).
    """

    mu: PosteriorSummary
    tau: PosteriorSummary
    predictive: PosteriorSummary
    study_mean: np.ndarray  #: posterior mean of each theta_i
    study_sd: np.ndarray
    study_median: np.ndarray
    study_ci_low: np.ndarray  #: central interval
    study_ci_high: np.ndarray
    log_marginal_likelihood: float  #: log p(y); NaN unless both priors are proper (exact)
    k: int
    level: float
    method: str  #: "exact" or "mcmc"
    tau_prior: TauPrior
    mu_prior: MuPrior
    yi: np.ndarray = field(repr=False)
    vi: np.ndarray = field(repr=False)
    labels: Sequence[str] = field(repr=False)
    n_dropped: int = 0
    posterior: Any = field(default=None, repr=False)  #: ExactPosterior (exact method)
    idata: Any = field(default=None, repr=False)  #: arviz.InferenceData (MCMC)
    draws: dict = field(default=None, repr=False)  #: flattened draws (MCMC): mu, tau, theta_new

    # ------------------------------------------------------------ distributions
    def _param(self, param: str) -> str:
        return resolve_option("param", param, PARAMETERS)

    def cdf(self, param: str, x: Any) -> np.ndarray:
        """Posterior CDF of ``"mu"``, ``"tau"`` or ``"predictive"`` at ``x`` (empirical for MCMC)."""
        p = self._param(param)
        x = np.asarray(x, float)
        if self.method == "mcmc":
            d = np.sort(self.draws[p])
            return np.searchsorted(d, x, side="right") / d.size
        post = self.posterior
        if p == "tau":
            return post.tau_cdf(x)
        mix = post.mu_mixture() if p == "mu" else post.predictive_mixture()
        return mix.cdf(x)

    def pdf(self, param: str, x: Any) -> np.ndarray:
        """Posterior density (a Gaussian KDE of the draws for MCMC)."""
        p = self._param(param)
        x = np.asarray(x, float)
        if self.method == "mcmc":
            return stats.gaussian_kde(self.draws[p])(x.ravel()).reshape(x.shape)
        post = self.posterior
        if p == "tau":
            return post.tau_pdf(x).reshape(x.shape)
        mix = post.mu_mixture() if p == "mu" else post.predictive_mixture()
        return mix.pdf(x)

    def quantile(self, param: str, q: Any) -> np.ndarray:
        """Posterior quantiles (empirical for MCMC)."""
        p = self._param(param)
        q = np.asarray(q, float)
        if np.any((q < 0) | (q > 1)):
            raise ValidationError(f"q must lie in [0, 1]; got {q}")
        if self.method == "mcmc":
            return np.quantile(self.draws[p], q)
        post = self.posterior
        if p == "tau":
            return post.tau_ppf(q)
        mix = post.mu_mixture() if p == "mu" else post.predictive_mixture()
        return mix.ppf(q)

    def prob_mu(self, threshold: float, direction: str = "less") -> float:
        """Posterior probability that mu lies below (``"less"``) or above (``"greater"``) ``threshold``.

        E.g. the probability that the pooled effect is beyond a minimal clinically important
        difference: ``prob_mu(-10, "less")`` for a VAS reduction of more than 10 mm.

        Examples
        --------
        >>> from painstats.meta import bayesian_random_effects, priors
        >>> res = bayesian_random_effects([-0.5, -0.2, -0.9], [0.04, 0.09, 0.06],
        ...                               tau_prior=priors.half_normal(0.5))
        >>> round(res.prob_mu(-0.2, "less"), 4)
        0.9271
        """
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)) \
                or not math.isfinite(float(threshold)):
            raise ValidationError(f"threshold must be a finite number; got {threshold!r}")
        d = resolve_option("direction", direction, _DIRECTIONS)
        if self.method == "mcmc":
            x = self.draws["mu"]
            return float(np.mean(x < threshold if d == "less" else x > threshold))
        mix = self.posterior.mu_mixture()
        t = np.array([float(threshold)])
        return float((mix.cdf(t) if d == "less" else mix.sf(t))[0])

    # ------------------------------------------------------------ evidence
    def marginal_likelihood(self) -> float:
        """Marginal likelihood p(y) (exact method, proper priors on mu and tau)."""
        self._need_evidence()
        return math.exp(self.log_marginal_likelihood)

    def bayes_factor_mu0(self) -> float:
        """Bayes factor BF01 of H0: mu = 0 against H1: mu ~ mu_prior (values > 1 favour H0).

        Computed by the Savage-Dickey density ratio p(mu = 0 | y) / p(mu = 0), equal to
        p(y | mu = 0) / p(y) because the tau prior does not depend on mu.
        """
        self._need_evidence()
        post = self.posterior.mu_mixture().pdf(np.array([0.0]))[0]
        return float(post / np.exp(self.mu_prior.logpdf(0.0)))

    def _need_evidence(self) -> None:
        if self.method != "exact":
            raise ValidationError("marginal likelihood and Bayes factors need method='exact'")
        if not isinstance(self.mu_prior, NormalMu):
            raise ValidationError(
                "marginal likelihood and Bayes factors need a proper mu prior, e.g. "
                "mu_prior=priors.normal(0, 4); this fit used the flat (improper) prior")
        if not self.tau_prior.proper:
            raise ValidationError("marginal likelihood and Bayes factors need a proper tau "
                                  f"prior; this fit used {self.tau_prior.label()}")

    # ------------------------------------------------------------ tables
    def study_effects(self, interval: str = "central") -> pd.DataFrame:
        """Shrunken study effects theta_i: mean, sd, median and a credible interval.

        ``interval="shortest"`` computes shortest intervals (exact method; slower).
        """
        kind = resolve_option("interval", interval, {"CENTRAL": "central",
                                                     "SHORTEST": "shortest", "HPD": "shortest"})
        frame = pd.DataFrame({"yi": self.yi, "vi": self.vi, "mean": self.study_mean,
                              "sd": self.study_sd, "median": self.study_median,
                              "ci_low": self.study_ci_low, "ci_high": self.study_ci_high},
                             index=pd.Index(list(self.labels), name="study"))
        if kind == "shortest":
            lo, hi = self._study_hpd()
            frame["ci_low"], frame["ci_high"] = lo, hi
        return frame

    def _study_hpd(self):
        if self.method == "mcmc":
            import arviz as az

            th = self.idata.posterior["theta"].values.reshape(-1, self.k)
            h = np.array([az.hdi(th[:, i], hdi_prob=self.level) for i in range(self.k)])
            return h[:, 0], h[:, 1]
        from painstats.meta._kernels.bayes_exact import hpd_interval

        out = []
        for i in range(self.k):
            mix = self.posterior.theta_mixture(i)
            with np.errstate(divide="ignore"):
                out.append(hpd_interval(mix.ppf, lambda x, m=mix: np.log(m.pdf(x)), self.level))
        arr = np.array(out)
        return arr[:, 0], arr[:, 1]

    def to_frame(self) -> pd.DataFrame:
        """Tidy table, one row per quantity: mu, tau, theta_new, then theta[<label>].

        Columns: term, mean, sd, median, ci_low, ci_high (central), hpd_low, hpd_high
        (shortest; NaN for the study effects, see :meth:`study_effects`).
        """
        rows = []
        for term, s in (("mu", self.mu), ("tau", self.tau), ("theta_new", self.predictive)):
            rows.append([term, s.mean, s.sd, s.median, s.ci_low, s.ci_high, s.hpd_low,
                         s.hpd_high])
        for i, lab in enumerate(self.labels):
            rows.append([f"theta[{lab}]", self.study_mean[i], self.study_sd[i],
                         self.study_median[i], self.study_ci_low[i], self.study_ci_high[i],
                         math.nan, math.nan])
        return pd.DataFrame(rows, columns=BAYES_COLUMNS)

    def summary(self) -> Summary:
        """Printable summary in the spirit of bayesmeta's print-out."""
        how = ("exact posterior by numerical integration" if self.method == "exact"
               else "MCMC (PyMC, NUTS)")
        lines = [f"Bayesian Random-Effects Meta-Analysis (k = {self.k}; {how})", "",
                 f"tau prior: {self.tau_prior.label()}", f"mu prior:  {self.mu_prior.label()}",
                 ""]
        pct = f"{100 * self.level:g}%"
        header = ["mean", "sd", "median", f"{pct} lower", f"{pct} upper", "HPD lower",
                  "HPD upper"]
        rows, index = [], []
        for name, s in (("tau", self.tau), ("mu", self.mu), ("theta (new)", self.predictive)):
            index.append(name)
            rows.append([fmt(s.mean), fmt(s.sd), fmt(s.median), fmt(s.ci_low), fmt(s.ci_high),
                         fmt(s.hpd_low), fmt(s.hpd_high)])
        lines += ["Posterior summaries (central and shortest credible intervals):", "",
                  table(header, rows, index=index), ""]
        lines.append(f"P(mu < 0 | y) = {fmt(self.prob_mu(0.0, 'less'))}")
        if self.method == "exact" and np.isfinite(self.log_marginal_likelihood):
            lines.append(f"log marginal likelihood = {fmt(self.log_marginal_likelihood)}; "
                         f"Bayes factor BF01 (mu = 0) = {self.bayes_factor_mu0():.4g}")
        if self.method == "mcmc":
            import arviz as az

            rhat = float(az.rhat(self.idata, var_names=["mu", "tau"]).to_array().max())
            ess = float(az.ess(self.idata, var_names=["mu", "tau"]).to_array().min())
            lines.append(f"MCMC: max R-hat {rhat:.3f}, min bulk ESS {ess:.0f}")
        if self.n_dropped:
            lines.append(f"{self.n_dropped} stud{'y' if self.n_dropped == 1 else 'ies'} "
                         "with missing values dropped")
        return Summary("\n".join(lines))

    def __str__(self) -> str:
        return str(self.summary())

    # ------------------------------------------------------------ plots
    def plot_joint(self, **kwargs):
        """Joint posterior of (mu, tau): contours (exact) or draws (MCMC); see
        :func:`painstats.plots.bayes.joint`. Returns the Axes."""
        from painstats.plots import bayes

        return bayes.joint(self, **kwargs)

    def plot_marginals(self, **kwargs):
        """Marginal posterior densities of mu, tau and theta_new with priors; see
        :func:`painstats.plots.bayes.marginals`. Returns the array of Axes."""
        from painstats.plots import bayes

        return bayes.marginals(self, **kwargs)
