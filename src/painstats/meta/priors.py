"""Prior distributions for Bayesian random-effects meta-analysis.

Priors on the between-study SD ``tau`` (half-normal, half-Cauchy, half-Student-t, uniform,
log-normal on tau^2, log-t on tau^2, and the empirical priors of Turner et al. 2015 and
Rhodes et al. 2015) and on the pooled effect ``mu`` (normal, or flat). Every prior object
has a vectorised NumPy ``logpdf`` (on tau, resp. mu) used by the exact posterior, and a
``to_pymc(name)`` that builds the same distribution inside a ``pymc.Model`` context.

Empirical priors
----------------
:func:`turner2015` (log odds ratios) and :func:`rhodes2015` (standardized mean differences)
read the published parameter tables shipped in ``painstats/data/priors``. Both are
parametrised on tau^2 with the natural logarithm: Turner log(tau^2) ~ N(mu, sigma^2),
Rhodes log(tau^2) ~ t_5(location, scale) where ``scale`` is the t scale.

**Pain.** Rhodes et al. pool pain into the outcome type ``"general physical health and
adverse event and pain and quality of life / functioning"`` (alias ``"pain"`` here); any
comparison involving a non-pharmacological arm (exercise vs usual care, waitlist, sham,
a drug or another exercise) is ``"non-pharmacological (any)"``; the medical area is
``"other"`` unless the pain is cancer pain. That row is t_5(-3.02, 2.27) on log(tau^2).
Turner et al. have an outcome type ``"pain"`` for binary pain outcomes (responders).

Examples
--------
>>> from painstats.meta import priors
>>> p = priors.rhodes2015("pain", "non-pharmacological (any)", "other")
>>> p
LogTTau2(location=-3.02, scale=2.27, df=5.0)
>>> [round(float(q), 4) for q in p.ppf([0.025, 0.5, 0.975])]
[0.0119, 0.2209, 4.0862]
>>> round(float(priors.half_normal(0.5).logpdf(0.0)), 6)
0.467356

References
----------
Turner RM, Jackson D, Wei Y, Thompson SG, Higgins JPT (2015). Predictive distributions for
between-study heterogeneity and simple methods for their application in Bayesian
meta-analysis. Stat Med 34(6):984-998. doi:10.1002/sim.6381.

Rhodes KM, Turner RM, Higgins JPT (2015). Predictive distributions were developed for the
extent of heterogeneity in meta-analyses of continuous outcome data. J Clin Epidemiol
68(1):52-60. doi:10.1016/j.jclinepi.2014.08.012.

Roever C (2020). Bayesian random-effects meta-analysis using the bayesmeta R package.
J Stat Softw 93(6):1-51. doi:10.18637/jss.v093.i06.
"""

from __future__ import annotations

import csv
import functools
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special, stats

from painstats.errors import InputTypeError, ValidationError

__all__ = [
    "RHODES2015_AREAS",
    "RHODES2015_COMPARISONS",
    "RHODES2015_OUTCOMES",
    "TAU_PRIORS",
    "TURNER2015_COMPARISONS",
    "TURNER2015_OUTCOMES",
    "FlatMu",
    "HalfCauchy",
    "HalfNormal",
    "HalfStudentT",
    "LogNormalTau2",
    "LogTTau2",
    "MuPrior",
    "NormalMu",
    "TauPrior",
    "Uniform",
    "flat",
    "half_cauchy",
    "half_normal",
    "half_t",
    "log_t_tau2",
    "lognormal_tau2",
    "normal",
    "rhodes2015",
    "tau_prior",
    "turner2015",
    "uniform",
]


def _positive(name: str, value: Any, *, allow_inf: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputTypeError(f"{name} must be a number; got {type(value).__name__} {value!r}")
    x = float(value)
    if not (x > 0) or (math.isinf(x) and not allow_inf):
        raise ValidationError(f"{name} must be a positive finite number; got {value!r}")
    return x


def _finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputTypeError(f"{name} must be a number; got {type(value).__name__} {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValidationError(f"{name} must be finite; got {value!r}")
    return x


class TauPrior:
    """Base class of priors on the between-study SD tau (tau >= 0).

    Subclasses define ``logpdf`` (density of tau, vectorised, -inf outside the support),
    ``cdf``, ``ppf``, ``to_pymc`` and the attributes below.
    """

    __slots__ = ()
    #: False for improper priors (the flat prior on [0, inf)).
    proper: bool = True
    #: The density decays like tau^-tail_exponent as tau -> inf (inf: faster than any power).
    tail_exponent: float = math.inf
    #: Upper end of the support.
    upper: float = math.inf

    def logpdf(self, tau: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def pdf(self, tau: Any) -> np.ndarray:
        """Density of tau (vectorised)."""
        return np.exp(self.logpdf(tau))

    def label(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_pymc(self, name: str = "tau"):  # pragma: no cover - abstract
        raise NotImplementedError


def _tau(tau: Any) -> np.ndarray:
    return np.asarray(tau, dtype=float)


@dataclass(frozen=True, slots=True)
class HalfNormal(TauPrior):
    """tau ~ half-normal with scale ``scale`` (the SD of the underlying normal)."""

    scale: float

    def logpdf(self, tau):
        t = _tau(tau)
        with np.errstate(invalid="ignore"):
            out = math.log(2.0) + stats.norm.logpdf(t, scale=self.scale)
        return np.where(t >= 0, out, -np.inf)

    def cdf(self, tau):
        t = np.maximum(_tau(tau), 0.0)
        return 2.0 * special.ndtr(t / self.scale) - 1.0

    def ppf(self, q):
        return self.scale * special.ndtri((1.0 + np.asarray(q, float)) / 2.0)

    def label(self) -> str:
        return f"half-normal(scale = {self.scale:g})"

    def to_pymc(self, name: str = "tau"):
        import pymc as pm

        return pm.HalfNormal(name, sigma=self.scale)


@dataclass(frozen=True, slots=True)
class HalfCauchy(TauPrior):
    """tau ~ half-Cauchy with scale ``scale``."""

    scale: float
    tail_exponent = 2.0

    def logpdf(self, tau):
        t = _tau(tau)
        out = math.log(2.0 / (math.pi * self.scale)) - np.log1p((t / self.scale) ** 2)
        return np.where(t >= 0, out, -np.inf)

    def cdf(self, tau):
        return 2.0 / math.pi * np.arctan(np.maximum(_tau(tau), 0.0) / self.scale)

    def ppf(self, q):
        return self.scale * np.tan(math.pi / 2.0 * np.asarray(q, float))

    def label(self) -> str:
        return f"half-Cauchy(scale = {self.scale:g})"

    def to_pymc(self, name: str = "tau"):
        import pymc as pm

        return pm.HalfCauchy(name, beta=self.scale)


@dataclass(frozen=True, slots=True)
class HalfStudentT(TauPrior):
    """tau ~ half-Student-t with scale ``scale`` and ``df`` degrees of freedom."""

    scale: float
    df: float

    @property
    def tail_exponent(self) -> float:  # type: ignore[override]
        return self.df + 1.0

    def logpdf(self, tau):
        t = _tau(tau)
        out = math.log(2.0) + stats.t.logpdf(t, self.df, scale=self.scale)
        return np.where(t >= 0, out, -np.inf)

    def cdf(self, tau):
        return 2.0 * stats.t.cdf(np.maximum(_tau(tau), 0.0), self.df, scale=self.scale) - 1.0

    def ppf(self, q):
        return stats.t.ppf((1.0 + np.asarray(q, float)) / 2.0, self.df, scale=self.scale)

    def label(self) -> str:
        return f"half-Student-t(scale = {self.scale:g}, df = {self.df:g})"

    def to_pymc(self, name: str = "tau"):
        import pymc as pm

        return pm.HalfStudentT(name, nu=self.df, sigma=self.scale)


@dataclass(frozen=True, slots=True)
class Uniform(TauPrior):
    """tau ~ Uniform(0, upper); ``upper=inf`` is the improper flat prior on [0, inf)."""

    upper: float  # type: ignore[misc]

    @property
    def proper(self) -> bool:  # type: ignore[override]
        return math.isfinite(self.upper)

    @property
    def tail_exponent(self) -> float:  # type: ignore[override]
        return math.inf if self.proper else 0.0

    def logpdf(self, tau):
        t = _tau(tau)
        inside = (t >= 0) & (t <= self.upper)
        return np.where(inside, -math.log(self.upper) if self.proper else 0.0, -np.inf)

    def cdf(self, tau):
        if not self.proper:
            raise ValidationError("the improper uniform prior on tau has no CDF")
        return np.clip(_tau(tau) / self.upper, 0.0, 1.0)

    def ppf(self, q):
        if not self.proper:
            raise ValidationError("the improper uniform prior on tau has no quantiles")
        return self.upper * np.asarray(q, float)

    def label(self) -> str:
        return f"uniform(0, {self.upper:g})" if self.proper else "uniform(0, Inf) (improper)"

    def to_pymc(self, name: str = "tau"):
        import pymc as pm

        if self.proper:
            return pm.Uniform(name, lower=0.0, upper=self.upper)
        return pm.HalfFlat(name)


@dataclass(frozen=True, slots=True)
class LogNormalTau2(TauPrior):
    """log(tau^2) ~ Normal(mu, sigma^2) (natural log; ``sigma`` an SD); tau ~ LogNormal(mu/2, sigma/2)."""

    mu: float
    sigma: float

    def logpdf(self, tau):
        t = _tau(tau)
        with np.errstate(divide="ignore", invalid="ignore"):
            lt = np.log(t)
            out = stats.norm.logpdf(lt, self.mu / 2.0, self.sigma / 2.0) - lt
        return np.where(t > 0, out, -np.inf)

    def cdf(self, tau):
        with np.errstate(divide="ignore"):
            return special.ndtr((np.log(np.maximum(_tau(tau), 0.0)) - self.mu / 2.0)
                                / (self.sigma / 2.0))

    def ppf(self, q):
        return np.exp(self.mu / 2.0 + self.sigma / 2.0 * special.ndtri(np.asarray(q, float)))

    def label(self) -> str:
        return f"log-normal on tau^2 (mu = {self.mu:g}, sigma = {self.sigma:g})"

    def to_pymc(self, name: str = "tau"):
        import pymc as pm

        return pm.LogNormal(name, mu=self.mu / 2.0, sigma=self.sigma / 2.0)


@dataclass(frozen=True, slots=True)
class LogTTau2(TauPrior):
    """log(tau^2) ~ Student-t(df, location, scale) (natural log; ``scale`` is the t scale).

    Then log(tau) ~ t(df, location/2, scale/2).
    """

    location: float
    scale: float
    df: float

    def logpdf(self, tau):
        t = _tau(tau)
        with np.errstate(divide="ignore", invalid="ignore"):
            lt = np.log(t)
            out = stats.t.logpdf(lt, self.df, self.location / 2.0, self.scale / 2.0) - lt
        return np.where(t > 0, out, -np.inf)

    def cdf(self, tau):
        with np.errstate(divide="ignore"):
            lt = np.log(np.maximum(_tau(tau), 0.0))
        return stats.t.cdf(lt, self.df, self.location / 2.0, self.scale / 2.0)

    def ppf(self, q):
        return np.exp(stats.t.ppf(np.asarray(q, float), self.df, self.location / 2.0,
                                  self.scale / 2.0))

    def label(self) -> str:
        return (f"log-t on tau^2 (location = {self.location:g}, scale = {self.scale:g}, "
                f"df = {self.df:g})")

    def to_pymc(self, name: str = "tau"):
        import pymc as pm

        log_tau = pm.StudentT(f"log_{name}", nu=self.df, mu=self.location / 2.0,
                              sigma=self.scale / 2.0)
        return pm.Deterministic(name, pm.math.exp(log_tau))


class MuPrior:
    """Base class of priors on the pooled effect mu."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class NormalMu(MuPrior):
    """mu ~ Normal(mean, sd^2)."""

    mean: float
    sd: float
    proper = True

    def logpdf(self, mu):
        return stats.norm.logpdf(np.asarray(mu, float), self.mean, self.sd)

    def label(self) -> str:
        return f"normal(mean = {self.mean:g}, sd = {self.sd:g})"

    def to_pymc(self, name: str = "mu"):
        import pymc as pm

        return pm.Normal(name, mu=self.mean, sigma=self.sd)


@dataclass(frozen=True, slots=True)
class FlatMu(MuPrior):
    """The improper flat (uniform) prior on mu, bayesmeta's default."""

    proper = False
    mean = 0.0
    sd = math.inf

    def logpdf(self, mu):
        return np.zeros(np.shape(mu))

    def label(self) -> str:
        return "uniform (improper)"

    def to_pymc(self, name: str = "mu"):
        import pymc as pm

        return pm.Flat(name)


def half_normal(scale: float) -> HalfNormal:
    """Half-normal prior on tau with scale ``scale``.

    Examples
    --------
    >>> from painstats.meta import priors
    >>> round(float(priors.half_normal(0.5).ppf(0.5)), 6)
    0.337245
    """
    return HalfNormal(_positive("scale", scale))


def half_cauchy(scale: float) -> HalfCauchy:
    """Half-Cauchy prior on tau with scale ``scale`` (median = scale).

    Examples
    --------
    >>> from painstats.meta import priors
    >>> round(float(priors.half_cauchy(0.5).ppf(0.5)), 12)
    0.5
    """
    return HalfCauchy(_positive("scale", scale))


def half_t(scale: float, df: float) -> HalfStudentT:
    """Half-Student-t prior on tau with scale ``scale`` and ``df`` degrees of freedom.

    Examples
    --------
    >>> from painstats.meta import priors
    >>> round(float(priors.half_t(1.0, 3).ppf(0.5)), 6)
    0.764892
    """
    return HalfStudentT(_positive("scale", scale), _positive("df", df))


def uniform(upper: float | None) -> Uniform:
    """Uniform prior on tau over [0, upper]; ``upper=None`` gives the improper flat prior.

    With the improper prior the posterior is proper only if the likelihood decays fast
    enough in tau: :func:`painstats.meta.bayesian_random_effects` checks this and raises.

    Examples
    --------
    >>> from painstats.meta import priors
    >>> priors.uniform(2.0).label()
    'uniform(0, 2)'
    >>> priors.uniform(None).proper
    False
    """
    if upper is None:
        return Uniform(math.inf)
    return Uniform(_positive("upper", upper))


def lognormal_tau2(mu: float, sigma: float) -> LogNormalTau2:
    """Log-normal prior on tau^2: log(tau^2) ~ N(mu, sigma^2) (natural log, sigma an SD).

    Examples
    --------
    >>> from painstats.meta import priors
    >>> [round(float(q), 8) for q in priors.lognormal_tau2(-2.14, 1.74).ppf([0.025, 0.5])]
    [0.06233896, 0.34300852]
    """
    return LogNormalTau2(_finite("mu", mu), _positive("sigma", sigma))


def log_t_tau2(location: float, scale: float, df: float) -> LogTTau2:
    """Log-Student-t prior on tau^2: log(tau^2) ~ t_df(location, scale) (natural log).

    Examples
    --------
    >>> from painstats.meta import priors
    >>> round(float(priors.log_t_tau2(-3.44, 2.59, 5).ppf(0.5)), 4)
    0.1791
    """
    return LogTTau2(_finite("location", location), _positive("scale", scale),
                    _positive("df", df))


def normal(mean: float = 0.0, sd: float = 1.0) -> NormalMu:
    """Normal prior on the pooled effect mu (needed for marginal likelihood and Bayes factors).

    Examples
    --------
    >>> from painstats.meta import priors
    >>> priors.normal(0.0, 4.0)
    NormalMu(mean=0.0, sd=4.0)
    """
    return NormalMu(_finite("mean", mean), _positive("sd", sd))


def flat() -> FlatMu:
    """The improper flat prior on mu (the default of ``bayesian_random_effects``).

    Examples
    --------
    >>> from painstats.meta import priors
    >>> priors.flat().proper
    False
    """
    return FlatMu()


#: Names accepted by :func:`tau_prior` (canonical -> constructor).
TAU_PRIORS = {
    "half_normal": half_normal,
    "half_cauchy": half_cauchy,
    "half_t": half_t,
    "uniform": uniform,
    "lognormal_tau2": lognormal_tau2,
    "log_t_tau2": log_t_tau2,
    "turner2015": None,  # filled below (defined later)
    "rhodes2015": None,
}


def tau_prior(name: str, **params: Any) -> TauPrior:
    """Build a tau prior by name, e.g. ``tau_prior("half_normal", scale=0.5)``.

    Spellings are case-insensitive and ``-``, ``_`` and spaces are ignored
    (``"halfnormal"``, ``"Half-Normal"``).

    Examples
    --------
    >>> from painstats.meta import priors
    >>> priors.tau_prior("Half-Cauchy", scale=1.0)
    HalfCauchy(scale=1.0)
    """
    if not isinstance(name, str):
        raise InputTypeError(f"name must be a string, one of {sorted(TAU_PRIORS)}; got "
                             f"{type(name).__name__}")
    key = re.sub(r"[\s_\-]", "", name.lower())
    table = {re.sub(r"_", "", k): v for k, v in TAU_PRIORS.items()}
    if key not in table:
        raise ValidationError(f"unknown tau prior {name!r}; valid names are {sorted(TAU_PRIORS)}")
    try:
        return table[key](**params)
    except TypeError as err:
        raise InputTypeError(f"tau prior {name!r}: {err}") from None


# ---------------------------------------------------------------- empirical prior tables


def _norm_label(s: str) -> str:
    s = s.strip().lower()
    s = re.sub(r"\s*/\s*", " / ", s)
    s = re.sub(r"\s*\.\s*", ". ", s).replace(". /", "./").strip()
    return re.sub(r"\s+", " ", s)


@functools.cache
def _table(file: str) -> tuple[dict[str, str], ...]:
    from painstats.datasets import _data_dir

    with (_data_dir() / "priors" / file).open("r", encoding="utf-8") as fh:
        return tuple(csv.DictReader(fh))


def _choices(rows, col: str) -> list[str]:
    return sorted({r[col] for r in rows})


def _match(value: Any, name: str, choices: list[str], aliases: dict[str, str]) -> str:
    if not isinstance(value, str):
        raise InputTypeError(f"{name} must be a string, one of {choices}; got "
                             f"{type(value).__name__} {value!r}")
    key = _norm_label(value)
    by_norm = {_norm_label(c): c for c in choices}
    if key in aliases:
        return aliases[key]
    if key in by_norm:
        return by_norm[key]
    raise ValidationError(f"{name} must be one of {choices}; got {value!r}")


def _turner_rows():
    return _table("turner2015_logor_tau2.csv")


def _rhodes_rows():
    return _table("rhodes2015_smd_tau2.csv")


_PAIN_RHODES = "general physical health and adverse event and pain and quality of life / functioning"
_RHODES_COMPARISON_ALIASES = {
    _norm_label(s): "non-pharmacological (any)"
    for s in ("non-pharmacological", "non-pharmacological vs. placebo / control",
              "non-pharmacological vs. pharmacological",
              "non-pharmacological vs. non-pharmacological")
}


def turner2015(outcome_type: str = "any", comparison_type: str = "any") -> LogNormalTau2:
    """Turner et al. (2015) empirical prior for tau of **log odds ratios**.

    log(tau^2) ~ N(mu, sigma^2) with (mu, sigma) from Table IV of the paper (or the general
    setting with ``"any"``); returned as a :class:`LogNormalTau2` prior on tau.

    Parameters
    ----------
    outcome_type : str, default "any"
        One of :data:`TURNER2015_OUTCOMES` (case- and spacing-insensitive), e.g. ``"pain"``.
    comparison_type : str, default "any"
        One of :data:`TURNER2015_COMPARISONS`, e.g.
        ``"non-pharmacological vs. placebo / control"`` for exercise vs control.

    Raises
    ------
    ValidationError
        Unknown category (the message lists the valid ones) or ``"any"`` in one argument
        only (the general setting has no covariates).

    References
    ----------
    Turner RM, Jackson D, Wei Y, Thompson SG, Higgins JPT (2015). Stat Med 34(6):984-998.

    Examples
    --------
    >>> from painstats.meta import priors
    >>> priors.turner2015("pain", "non-pharmacological vs. placebo / control")
    LogNormalTau2(mu=-2.05, sigma=1.71)
    >>> priors.turner2015()
    LogNormalTau2(mu=-2.56, sigma=1.74)
    """
    rows = _turner_rows()
    out = _match(outcome_type, "outcome_type", _choices(rows, "outcome_type"), {})
    comp = _match(comparison_type, "comparison_type", _choices(rows, "comparison_type"), {})
    return LogNormalTau2(*_lookup(rows, {"outcome_type": out, "comparison_type": comp},
                                  ("mu", "sigma")))


def rhodes2015(outcome_type: str = "any", comparison_type: str = "any",
               medical_area: str = "any") -> LogTTau2:
    """Rhodes et al. (2015) empirical prior for tau of **standardized mean differences**.

    log(tau^2) ~ t_5(location, scale) (``scale`` is the t scale, as used by bayesmeta),
    returned as a :class:`LogTTau2` prior on tau.

    Pain outcomes (VAS/NRS as SMD) belong to the outcome type
    ``"general physical health and adverse event and pain and quality of life /
    functioning"`` (alias ``"pain"``); exercise vs anything is ``"non-pharmacological
    (any)"`` (Turner-style spellings such as ``"non-pharmacological vs. placebo / control"``
    map to it); the medical area is ``"other"`` unless the pain is cancer pain.

    Parameters
    ----------
    outcome_type : str, default "any"
        One of :data:`RHODES2015_OUTCOMES` or ``"pain"``.
    comparison_type : str, default "any"
        One of :data:`RHODES2015_COMPARISONS`.
    medical_area : str, default "any"
        One of :data:`RHODES2015_AREAS`: ``"other"`` (all but cancer and respiratory),
        ``"respiratory"``, ``"cancer"``.

    Raises
    ------
    ValidationError
        Unknown category (the message lists the valid ones), or ``"any"`` mixed with
        specific categories.

    References
    ----------
    Rhodes KM, Turner RM, Higgins JPT (2015). J Clin Epidemiol 68(1):52-60.

    Examples
    --------
    >>> from painstats.meta import priors
    >>> priors.rhodes2015("pain", "non-pharmacological (any)", "other")
    LogTTau2(location=-3.02, scale=2.27, df=5.0)
    """
    rows = _rhodes_rows()
    out = _match(outcome_type, "outcome_type", _choices(rows, "outcome_type"),
                 {"pain": _PAIN_RHODES})
    comp = _match(comparison_type, "comparison_type", _choices(rows, "comparison_type"),
                  _RHODES_COMPARISON_ALIASES)
    area = _match(medical_area, "medical_area", _choices(rows, "medical_area"), {})
    return LogTTau2(*_lookup(rows, {"outcome_type": out, "comparison_type": comp,
                                    "medical_area": area}, ("location", "scale", "df")))


def _lookup(rows, key: dict[str, str], cols: tuple[str, ...]) -> tuple[float, ...]:
    for r in rows:
        if all(r[c] == v for c, v in key.items()):
            return tuple(float(r[c]) for c in cols)
    raise ValidationError(
        "no prior for " + ", ".join(f"{c}={v!r}" for c, v in key.items())
        + "; 'any' selects the general setting and must be used in every argument at once"
    )


TAU_PRIORS["turner2015"] = turner2015
TAU_PRIORS["rhodes2015"] = rhodes2015

#: Valid categories of the empirical priors (bayesmeta spellings).
TURNER2015_OUTCOMES = tuple(_choices(_turner_rows(), "outcome_type"))
TURNER2015_COMPARISONS = tuple(_choices(_turner_rows(), "comparison_type"))
RHODES2015_OUTCOMES = tuple(_choices(_rhodes_rows(), "outcome_type"))
RHODES2015_COMPARISONS = tuple(_choices(_rhodes_rows(), "comparison_type"))
RHODES2015_AREAS = tuple(_choices(_rhodes_rows(), "medical_area"))
