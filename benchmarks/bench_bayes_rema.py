"""Benchmark: Bayesian random-effects meta-analysis, exact quadrature vs MCMC (PyMC, nutpie).

Run from the repository root::

    python benchmarks/bench_bayes_rema.py [--quick]

One dataset (Rubinstein 2019, SMD, k = 23, Rhodes 2015 pain prior), several repeats each:

* ``exact_posterior``: the quadrature posterior alone (grid of tau, weights, mixtures);
* ``exact_full``: ``bayesian_random_effects(method="exact")``, i.e. the posterior plus every
  summary (quantiles and shortest intervals of mu, tau and theta_new; study effects);
* ``mcmc_pymc``: ``method="mcmc"`` with PyMC's NUTS (4 chains x (1000 tune + 1000 draws),
  cores=2), including model compilation;
* ``mcmc_nutpie``: the same with ``nuts_sampler="nutpie"``, if installed.

Results go to ``benchmarks/results/bayes_rema.json``: medians and all runs, ratios to the
exact method, ESS per second for MCMC, and how far the MCMC means are from the exact ones in
MCSE units. Times are recorded, never asserted in tests.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import time
from datetime import date
from pathlib import Path

import numpy as np

from painstats import datasets
from painstats.meta import bayesian_random_effects, effect_size, priors
from painstats.meta._kernels.bayes_exact import fit_exact

OUT = Path(__file__).resolve().parent / "results" / "bayes_rema.json"


def _data():
    d = datasets.load("rubinstein2019")
    es = effect_size("SMD", m1i=d["mean_smt"], sd1i=d["sd_smt"], n1i=d["n_smt"],
                     m2i=d["mean_ctrl"], sd2i=d["sd_ctrl"], n2i=d["n_ctrl"])
    return np.asarray(es["yi"], float), np.asarray(es["vi"], float)


def _times(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    args = ap.parse_args()
    rep_exact, rep_mcmc = (3, 1) if args.quick else (10, 3)
    y, v = _data()
    prior = priors.rhodes2015("pain", "non-pharmacological (any)", "other")
    runs: dict[str, list[float]] = {}
    runs["exact_posterior"] = _times(
        lambda: fit_exact(y, v, 0.0, np.inf, prior.logpdf, prior.tail_exponent, prior.upper,
                          float(prior.logpdf(np.zeros(1))[0])), rep_exact)
    exact = bayesian_random_effects(y, v, tau_prior=prior)
    runs["exact_full"] = _times(lambda: bayesian_random_effects(y, v, tau_prior=prior),
                                rep_exact)
    samplers = ["pymc"] + (["nutpie"] if importlib.util.find_spec("nutpie") else [])
    agreement, ess_per_s = {}, {}
    import arviz as az

    for s in samplers:
        res_holder = []

        def run(s=s, holder=res_holder):
            holder.append(bayesian_random_effects(
                y, v, tau_prior=prior, method="mcmc", chains=4, cores=2, draws=1000,
                tune=1000, random_seed=len(holder) + 1, nuts_sampler=s))

        runs[f"mcmc_{s}"] = _times(run, rep_mcmc)
        last = res_holder[-1]
        ess = az.ess(last.idata, var_names=["mu", "tau"])
        mcse = az.mcse(last.idata, var_names=["mu", "tau"])
        ess_per_s[s] = {k: float(ess[k]) / runs[f"mcmc_{s}"][-1] for k in ("mu", "tau")}
        agreement[s] = {
            k: (float(last.idata.posterior[k].mean()) - getattr(exact, k).mean) / float(mcse[k])
            for k in ("mu", "tau")
        }
    med = {k: statistics.median(t) for k, t in runs.items()}
    out = {
        "date": date.today().isoformat(),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "load_average": list(os.getloadavg())},
        "dataset": "rubinstein2019 SMD (k = 23), Rhodes 2015 pain / non-pharmacological prior, "
                   "flat mu prior",
        "mcmc_settings": "4 chains x (1000 tune + 1000 draws), cores=2, incl. compilation",
        "median_seconds": med,
        "runs_seconds": runs,
        "ratio_to_exact_full": {k: med[k] / med["exact_full"] for k in med},
        "mcmc_ess_per_second": ess_per_s,
        "mcmc_minus_exact_in_mcse": agreement,
        "exact": {"mu_mean": exact.mu.mean, "tau_mean": exact.tau.mean},
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({"median_seconds": med, "ratio": out["ratio_to_exact_full"]}, indent=2))


if __name__ == "__main__":
    main()
