"""Coverage and recovery study of ``painstats.doseresp.fit`` on simulated trials (issue #5).

Each of ``--n-datasets`` datasets is drawn by ``painstats.doseresp.simulate`` (Emax in sessions
per week, the simulator's default truth: Emax = -20 mm, ED50 = 1.5 sessions/week, tau = 5 mm on
Emax) with 20-40 studies, and fitted with the default Emax model of ``painstats.doseresp.fit``
(default priors, sampler, draws, tune, chains and target_accept; ``cores=1``). For every fit the
script records whether the equal-tailed 90% credible intervals of the curve at 1, 3 and 5
sessions/week and of ED80 (``result.optimal_dose``) contain the truth
(``painstats.doseresp.true_curve`` / ``true_effective_dose`` over the same dose range, 0 to the
largest observed dose), the maximum R-hat (rank-normalised split R-hat, unrounded), the minimum
bulk/tail ESS and the number of divergent transitions.

Coverage is reported with the exact binomial band for the nominal 90%: the central range of
``Binomial(N, 0.9)`` holding >= 95% of its probability (a count outside it rejects "coverage is
90%" at the 5% level), and each observed rate with its Clopper-Pearson 95% interval.

Usage (from the repository root)::

    python validation/doseresp/recovery.py                      # 120 datasets, 2 processes
    python validation/doseresp/recovery.py --n-datasets 10 --processes 1 --output /tmp/r.json

Results go to ``validation/doseresp/recovery_results.json`` (rewritten after every dataset, so
an interrupted run keeps what it finished; ``--resume`` continues it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUTPUT = HERE / "recovery_results.json"

#: Doses (sessions/week) at which the curve's credible interval is checked.
DOSES = (1.0, 3.0, 5.0)
#: Credible level checked (equal-tailed).
PROB = 0.90
#: Number of studies per dataset: drawn uniformly from this closed range.
STUDIES = (20, 40)
#: Base seed: dataset i uses simulate(random_seed=BASE_SEED + i) and fit(random_seed=same).
BASE_SEED = 20261125
#: Settings of fit() that the study fixes (everything else is fit's default).
FIT_FIXED = {"dose": "sessions_per_week", "model": "emax", "cores": 1}


def run_dataset(index: int, *, base_seed: int = BASE_SEED, studies: tuple[int, int] = STUDIES,
                doses: tuple[float, ...] = DOSES, prob: float = PROB,
                fit_kwargs: dict[str, Any] | None = None,
                simulate_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Simulate dataset ``index``, fit it, and record coverage and convergence diagnostics.

    ``fit_kwargs`` override fit's defaults (e.g. fewer draws in a quick test);
    ``simulate_kwargs`` go to ``simulate`` (default: its default Emax truth).
    """
    import arviz as az

    from painstats.doseresp import fit, simulate, true_curve, true_effective_dose
    from painstats.errors import PainstatsWarning

    seed = int(base_seed) + int(index)
    rng = np.random.default_rng([int(base_seed), int(index)])
    n_studies = int(rng.integers(studies[0], studies[1] + 1))
    df = simulate(n_studies, random_seed=seed, **(simulate_kwargs or {}))
    truth = df.attrs["truth"]
    kwargs = {**FIT_FIXED, **(fit_kwargs or {}), "random_seed": seed}
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        # fit() reports R-hat/ESS/divergence problems as PainstatsWarning; record them here
        # (they are part of the result), every other warning keeps the caller's filters
        warnings.simplefilter("always", PainstatsWarning)
        res = fit(df, **kwargs)
        curve = res.curve(list(doses), prob=prob)
        opt = res.optimal_dose(prob=prob, fractions=(0.8,))
    wall = time.perf_counter() - t0
    d_max = float(df["sessions_per_week"].max())
    true_vals = true_curve(truth, list(doses))
    true_ed80 = true_effective_dose(truth, 0.8, dose_range=(0.0, d_max))
    ed = opt.set_index("quantity").loc["ED80"]
    targets = {}
    for d, tv, row in zip(doses, true_vals, curve.itertuples(index=False)):
        targets[f"curve_{d:g}"] = _target(float(tv), row.mean, row.ci_low, row.ci_high)
    targets["ED80"] = _target(float(true_ed80), ed["mean"], ed["ci_low"], ed["ci_high"])
    names = res._param_names()
    rhat = az.rhat(res.idata, var_names=names)
    ess_b = az.ess(res.idata, var_names=names, method="bulk")
    ess_t = az.ess(res.idata, var_names=names, method="tail")
    diverging = res.idata.sample_stats["diverging"]
    return {
        "index": int(index), "seed": seed, "n_studies": n_studies,
        "n_arms": len(df), "max_dose": d_max,
        "targets": targets,
        "max_rhat": _ds_max(rhat), "min_ess_bulk": _ds_min(ess_b), "min_ess_tail": _ds_min(ess_t),
        "divergences": int(diverging.sum()),
        "draws_total": int(diverging.size),
        "fit_warnings": sorted({str(w.message) for w in caught
                                if issubclass(w.category, PainstatsWarning)}),
        "wall_time_s": wall,
        "posterior_mean": {
            "emax": float(res.idata.posterior["beta"].mean()),
            "ed50": float(res.idata.posterior["ed50_sessions_per_week"].mean()),
            "tau": float(res.idata.posterior["tau"].mean()) if "tau" in res.idata.posterior
            else None,
        },
    }


def _target(truth: float, mean: float, low: float, high: float) -> dict[str, Any]:
    return {"truth": truth, "mean": float(mean), "ci_low": float(low), "ci_high": float(high),
            "covered": bool(low <= truth <= high)}


def _ds_max(ds) -> float:
    return float(max(float(np.nanmax(ds[v].to_numpy())) for v in ds.data_vars))


def _ds_min(ds) -> float:
    return float(min(float(np.nanmin(ds[v].to_numpy())) for v in ds.data_vars))


def binomial_band(n: int, p: float = PROB, level: float = 0.95) -> tuple[int, int]:
    """Central acceptance range [lo, hi] of Binomial(n, p) with P(lo <= X <= hi) >= level.

    lo is the largest k with P(X < k) <= (1 - level) / 2, hi the smallest k with
    P(X > k) <= (1 - level) / 2 (exact binomial probabilities).
    """
    a = (1 - level) / 2
    k = np.arange(n + 1)
    cdf = stats.binom.cdf(k, n, p)
    below = np.concatenate([[0.0], cdf[:-1]])  # P(X < k)
    lo = int(k[below <= a].max())
    hi = int(k[(1 - cdf) <= a].min())
    return lo, hi


def clopper_pearson(x: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) confidence interval of a binomial proportion."""
    a = (1 - level) / 2
    lo = 0.0 if x == 0 else float(stats.beta.ppf(a, x, n - x + 1))
    hi = 1.0 if x == n else float(stats.beta.ppf(1 - a, x + 1, n - x))
    return lo, hi


def summarise(records: list[dict[str, Any]], prob: float = PROB) -> dict[str, Any]:
    """Coverage rates with the exact binomial band, bias, convergence rates."""
    n = len(records)
    if n == 0:
        return {"n_datasets": 0}
    lo, hi = binomial_band(n, prob)
    cover = {}
    for name in records[0]["targets"]:
        t = [r["targets"][name] for r in records]
        x = int(sum(v["covered"] for v in t))
        err = np.array([v["mean"] - v["truth"] for v in t])
        cover[name] = {
            "covered": x, "n": n, "rate": x / n,
            "clopper_pearson_95": list(clopper_pearson(x, n)),
            "within_band": bool(lo <= x <= hi),
            "mean_bias": float(err.mean()), "rmse": float(np.sqrt(np.mean(err**2))),
            "mean_ci_width": float(np.mean([v["ci_high"] - v["ci_low"] for v in t])),
            "truth_range": [float(min(v["truth"] for v in t)), float(max(v["truth"] for v in t))],
        }
    rh = np.array([r["max_rhat"] for r in records])
    dv = np.array([r["divergences"] for r in records])
    return {
        "n_datasets": n, "nominal": prob,
        "band_95": {"count": [lo, hi], "rate": [lo / n, hi / n]},
        "coverage": cover,
        "rhat_below_1.01": {"count": int(np.sum(rh < 1.01)), "rate": float(np.mean(rh < 1.01)),
                            "max": float(rh.max()), "median": float(np.median(rh))},
        "zero_divergences": {"count": int(np.sum(dv == 0)), "rate": float(np.mean(dv == 0)),
                             "total_divergences": int(dv.sum()), "max_in_one_fit": int(dv.max())},
        "min_ess_bulk": float(min(r["min_ess_bulk"] for r in records)),
        "min_ess_tail": float(min(r["min_ess_tail"] for r in records)),
        "fits_with_warnings": int(sum(bool(r["fit_warnings"]) for r in records)),
        "wall_time_per_fit_s": {"median": float(np.median([r["wall_time_s"] for r in records])),
                                "max": float(max(r["wall_time_s"] for r in records))},
    }


def report(results: dict[str, Any]) -> str:
    """Markdown tables of a results file (what validation/doseresp/README.md shows)."""
    s = results["summary"]
    n = s["n_datasets"]
    lo, hi = s["band_95"]["count"]
    lines = [(f"{n} datasets; exact binomial 95% band for {s['nominal']:.0%} nominal coverage: "
             f"{lo}-{hi} of {n} ({lo / n:.1%}-{hi / n:.1%})."), "",
             ("| target | truth | covered | rate | Clopper-Pearson 95% | in band | mean bias "
             "| RMSE | mean 90% CrI width |"),
             "|---|---|---|---|---|---|---|---|---|"]
    for name, c in s["coverage"].items():
        label = (f"curve at {name.split('_')[1]} sessions/week (mm)" if name.startswith("curve_")
                 else f"{name} (sessions/week)")
        t0, t1 = c["truth_range"]
        truth = f"{t0:.3f}" if abs(t1 - t0) < 5e-4 else f"{t0:.3f} to {t1:.3f}"
        cp = c["clopper_pearson_95"]
        lines.append(f"| {label} | {truth} | {c['covered']}/{c['n']} | {c['rate']:.1%} | "
                     f"{cp[0]:.1%}-{cp[1]:.1%} | {'yes' if c['within_band'] else 'NO'} | "
                     f"{c['mean_bias']:+.3f} | {c['rmse']:.3f} | {c['mean_ci_width']:.3f} |")
    r, d = s["rhat_below_1.01"], s["zero_divergences"]
    lines += ["", "| convergence | result |", "|---|---|",
              (f"| fits with max R-hat < 1.01 | {r['count']}/{n} ({r['rate']:.1%}); largest "
              f"{r['max']:.4f}, median {r['median']:.4f} |"),
              (f"| fits with zero divergences | {d['count']}/{n} ({d['rate']:.1%}); "
              f"{d['total_divergences']} divergences in all, at most {d['max_in_one_fit']} "
              "in one fit |"),
              (f"| smallest bulk / tail ESS (any parameter, any fit) | {s['min_ess_bulk']:.0f} / "
              f"{s['min_ess_tail']:.0f} |"),
              f"| fits where fit() warned (PainstatsWarning) | {s['fits_with_warnings']}/{n} |",
              (f"| wall time per fit | median {s['wall_time_per_fit_s']['median']:.1f} s, "
              f"max {s['wall_time_per_fit_s']['max']:.1f} s |")]
    return "\n".join(lines)


def _environment() -> dict[str, Any]:
    import arviz
    import pymc

    import painstats

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True,
                                  text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    import painstats.doseresp

    pkg = Path(painstats.doseresp.__file__).parent  # the code actually imported
    digest = hashlib.sha256()
    for p in sorted(pkg.glob("*.py")):
        digest.update(p.read_bytes())
    return {"painstats": painstats.__version__ if hasattr(painstats, "__version__") else "dev",
            "git_commit": git("rev-parse", "HEAD"),
            "doseresp_imported_from": str(pkg), "doseresp_src_sha256": digest.hexdigest()[:16],
            "doseresp_uncommitted_changes_in_repo": git("status", "--porcelain", "--",
                                                        "src/painstats/doseresp") != "",
            "pymc": pymc.__version__, "arviz": arviz.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "machine": platform.machine(),
            "cpu_count": os.cpu_count()}


def _write(path: Path, settings: dict, env: dict, records: list, started: float) -> None:
    records = sorted(records, key=lambda r: r["index"])
    out = {"what": "coverage/recovery study of painstats.doseresp.fit (validation/doseresp)",
           "settings": settings, "environment": env, "summary": summarise(records, settings["prob"]),
           "elapsed_s": time.time() - started, "datasets": records}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1))
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-datasets", type=int, default=120)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--chains", type=int, default=None, help="default: fit's default")
    ap.add_argument("--draws", type=int, default=None, help="default: fit's default")
    ap.add_argument("--tune", type=int, default=None, help="default: fit's default")
    ap.add_argument("--output", type=Path, default=OUTPUT)
    ap.add_argument("--resume", action="store_true", help="keep the datasets already in --output")
    ap.add_argument("--priors", type=json.loads, default=None,
                    help='fit(priors=...) as JSON, e.g. \'{"ed50": 2}\' (default: fit\'s default)')
    ap.add_argument("--truth", type=json.loads, default=None,
                    help='simulate(parameters=...) as JSON, e.g. \'{"ed50": 4}\' '
                         '(default: simulate\'s default Emax truth)')
    ap.add_argument("--report", type=Path, default=None,
                    help="print the Markdown tables of this results file and exit")
    args = ap.parse_args(argv)
    if args.report is not None:
        print(report(json.loads(args.report.read_text())))
        return 0
    fit_kwargs = {k: v for k, v in (("chains", args.chains), ("draws", args.draws),
                                    ("tune", args.tune), ("priors", args.priors))
                  if v is not None}
    settings = {"n_datasets": args.n_datasets, "studies_per_dataset": list(STUDIES),
                "doses": list(DOSES), "prob": PROB, "base_seed": BASE_SEED,
                "simulate": ("painstats.doseresp.simulate defaults (curve='emax')"
                             if args.truth is None else
                             {"curve": "emax", "parameters": args.truth}),
                "fit": {**FIT_FIXED, **fit_kwargs, "other": "fit() defaults"},
                "processes": args.processes}
    records: list[dict[str, Any]] = []
    if args.resume and args.output.exists():
        records = json.loads(args.output.read_text())["datasets"]
    todo = sorted(set(range(args.n_datasets)) - {r["index"] for r in records})
    env = _environment()
    started = time.time()
    with ProcessPoolExecutor(max_workers=args.processes) as pool:
        sim_kwargs = None if args.truth is None else {"parameters": args.truth}
        futures = {pool.submit(run_dataset, i, fit_kwargs=fit_kwargs,
                               simulate_kwargs=sim_kwargs): i for i in todo}
        for fut in as_completed(futures):
            rec = fut.result()
            records.append(rec)
            _write(args.output, settings, env, records, started)
            cov = "".join("x" if t["covered"] else "." for t in rec["targets"].values())
            print(f"[{len(records)}/{args.n_datasets}] dataset {rec['index']}: covered {cov} "
                  f"max R-hat {rec['max_rhat']:.4f} divergences {rec['divergences']} "
                  f"{rec['wall_time_s']:.1f} s", flush=True)
    _write(args.output, settings, env, records, started)
    print(json.dumps(summarise(sorted(records, key=lambda r: r["index"])), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
