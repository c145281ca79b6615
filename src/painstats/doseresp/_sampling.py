"""Run NUTS (PyMC or nutpie) and tidy the InferenceData (per-study log-likelihood)."""

from __future__ import annotations

import importlib.util
import logging
import warnings
from typing import Any

import numpy as np

from painstats._validation import resolve_option
from painstats.errors import ValidationError

__all__ = ["SAMPLERS", "resolve_sampler", "sample"]

#: Sampler options: PyMC's NUTS, nutpie (Rust NUTS, needs the ``nutpie`` package) or "auto".
SAMPLERS = ("pymc", "nutpie", "auto")
_ALIASES = {"PYMC": "pymc", "NUTS": "pymc", "NUTPIE": "nutpie", "AUTO": "auto"}


def resolve_sampler(value: Any) -> str:
    """Canonical sampler; "auto" becomes nutpie when it is installed, else PyMC."""
    s = resolve_option("sampler", value, _ALIASES)
    has_nutpie = importlib.util.find_spec("nutpie") is not None
    if s == "auto":
        return "nutpie" if has_nutpie else "pymc"
    if s == "nutpie" and not has_nutpie:
        raise ValidationError("sampler='nutpie' needs the nutpie package (pip install "
                              "'painstats[fast]'); use sampler='pymc' or 'auto'")
    return s


def sample(model, *, sampler: str, draws: int, tune: int, chains: int, cores: int | None,
           target_accept: float, random_seed: int | None, progressbar: bool,
           init: str = "jitter+adapt_full"):
    """Sample ``model``; return InferenceData with ``log_likelihood['y']`` per study.

    PyMC's NUTS adapts a dense mass matrix (``init="jitter+adapt_full"``): curve coefficients
    (spline terms, Emax and ED50) are strongly correlated, and with a diagonal mass matrix the
    Crippa 2016 spline needed about three times as many leapfrog steps per draw for a third
    of the effective sample size.
    """
    import pymc as pm

    kwargs: dict[str, Any] = {
        "draws": draws, "tune": tune, "chains": chains,
        "cores": cores if cores is not None else 1, "target_accept": target_accept,
        "random_seed": random_seed, "progressbar": progressbar,
        "compute_convergence_checks": False, "nuts_sampler": sampler,
    }
    if sampler == "pymc":
        kwargs["init"] = init
    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(logging.ERROR)  # the sampler's "Sequential sampling ..." chatter
    try:
        # a diverging trajectory overflows in the sampler's energy; NUTS records it as a
        # divergence (reported by check_convergence), numpy need not warn as well
        with model, warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
            # pip-installed PyTensor warns once that it found no BLAS; the model graph is
            # elementwise only (no dot products), so BLAS would not be used anyway
            warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS",
                                    category=UserWarning)
            # PyMC labels its dense mass-matrix adaptation experimental (used on purpose)
            warnings.filterwarnings("ignore", message="QuadPotentialFullAdapt is an experimental",
                                    category=UserWarning)
            idata = pm.sample(**kwargs)
    finally:
        logger.setLevel(level)
    return _move_loglik(idata)


def _move_loglik(idata):
    """Move the ``loglik`` Deterministic into the ``log_likelihood`` group as ``y``."""
    post = idata.posterior
    ll = post["loglik"].rename("y")
    idata.posterior = post.drop_vars("loglik")
    if "log_likelihood" in idata.groups():
        del idata.log_likelihood
    idata.add_groups(log_likelihood=ll.to_dataset())
    return idata


def divergences(idata) -> int:
    """Number of divergent transitions after tuning."""
    ss = getattr(idata, "sample_stats", None)
    if ss is None or "diverging" not in ss:
        return 0
    return int(np.asarray(ss["diverging"]).sum())
