"""The Bayesian random-effects model in PyMC (non-centred), summarised from the draws."""

from __future__ import annotations

import math
import warnings

import numpy as np

from painstats.errors import ValidationError
from painstats.meta.priors import MuPrior, TauPrior
from painstats.meta.results_bayes import BayesianRandomEffectsResult, PosteriorSummary

__all__ = ["build_model", "fit_mcmc"]

_SAMPLERS = ("pymc", "nutpie", "numpyro", "blackjax")


def build_model(yi: np.ndarray, vi: np.ndarray, labels, tau_prior: TauPrior,
                mu_prior: MuPrior):
    """PyMC model: theta_i = mu + tau z_i, z_i ~ N(0, 1), y_i ~ N(theta_i, v_i).

    Also holds theta_new = mu + tau z_new, the effect in a new study (predictive).
    """
    import pymc as pm

    coords = {"study": [str(s) for s in labels]}
    with pm.Model(coords=coords) as model:
        mu = mu_prior.to_pymc("mu")
        tau = tau_prior.to_pymc("tau")
        z = pm.Normal("z", 0.0, 1.0, dims="study")
        theta = pm.Deterministic("theta", mu + tau * z, dims="study")
        pm.Normal("y", mu=theta, sigma=np.sqrt(vi), observed=yi, dims="study")
        z_new = pm.Normal("z_new", 0.0, 1.0)
        pm.Deterministic("theta_new", mu + tau * z_new)
    return model


def fit_mcmc(studies, tau_prior: TauPrior, mu_prior: MuPrior, level: float, *,
             random_seed, draws: int, tune: int, chains: int, cores, nuts_sampler: str,
             target_accept: float, progressbar: bool) -> BayesianRandomEffectsResult:
    """Sample the model and summarise mu, tau, theta_new and the theta_i."""
    import arviz as az
    import pymc as pm

    for name, val, least in (("draws", draws, 10), ("tune", tune, 0), ("chains", chains, 1)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < least:
            raise ValidationError(f"{name} must be an integer >= {least}; got {val!r}")
    if nuts_sampler not in _SAMPLERS:
        raise ValidationError(f"nuts_sampler must be one of {list(_SAMPLERS)}; got "
                              f"{nuts_sampler!r}")
    model = build_model(studies.yi, studies.vi, studies.labels, tau_prior, mu_prior)
    with model, warnings.catch_warnings():
        # pip-installed PyTensor warns once per compilation cache that it found no BLAS; this
        # model's graph is elementwise only (no dot products), so BLAS would not be used
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS",
                                category=UserWarning)
        idata = pm.sample(draws=draws, tune=tune, chains=chains, cores=cores,
                          random_seed=random_seed, nuts_sampler=nuts_sampler,
                          target_accept=target_accept, progressbar=progressbar,
                          compute_convergence_checks=False)
    post = idata.posterior
    d = {"mu": post["mu"].values.ravel(), "tau": post["tau"].values.ravel(),
         "predictive": post["theta_new"].values.ravel()}
    th = post["theta"].values.reshape(-1, studies.yi.size)
    a = (1.0 - level) / 2.0

    def summ(x):
        q = np.quantile(x, [0.5, a, 1.0 - a])
        h = az.hdi(x, hdi_prob=level)
        return PosteriorSummary(float(np.mean(x)), float(np.std(x, ddof=1)), float(q[0]),
                                float(q[1]), float(q[2]), float(h[0]), float(h[1]))

    qs = np.quantile(th, [0.5, a, 1.0 - a], axis=0)
    arrays = [th.mean(axis=0), th.std(axis=0, ddof=1), qs[0], qs[1], qs[2]]
    for arr in arrays:
        arr.setflags(write=False)
    return BayesianRandomEffectsResult(
        mu=summ(d["mu"]), tau=summ(d["tau"]), predictive=summ(d["predictive"]),
        study_mean=arrays[0], study_sd=arrays[1], study_median=arrays[2],
        study_ci_low=arrays[3], study_ci_high=arrays[4], log_marginal_likelihood=math.nan,
        k=int(studies.yi.size), level=level, method="mcmc", tau_prior=tau_prior,
        mu_prior=mu_prior, yi=studies.yi, vi=studies.vi, labels=studies.labels,
        n_dropped=studies.n_dropped, posterior=None, idata=idata, draws=d,
    )
