"""Benchmark: the Bayesian Emax dose-response model, PyMC's NUTS against nutpie.

Run from the repository root::

    python benchmarks/bench_doseresp.py [--repeats 3] [--quick]

One simulated dataset (``painstats.doseresp.simulate``: 40 studies, Emax in sessions per week)
is fitted with ``painstats.doseresp.fit(df, dose="sessions_per_week", model="emax")`` at fit's
default draws, tune, chains and target_accept, ``cores=1`` (the machine has 2 cores shared with
other sessions), once with ``sampler="pymc"`` and once with ``sampler="nutpie"`` per repeat; the
order alternates between repeats so that bursts of load from other processes hit both. Every
call is a complete ``fit()``: reading the data, building and compiling the model, sampling and
the convergence check, as a user would run it.

Recorded per call: wall time; the sampler's own sampling time (``idata.posterior.attrs
["sampling_time"]``: draws only, no compilation); the bulk ESS of the key curve parameters
(Emax, ED50, tau) and its minimum; ESS per second = minimum bulk ESS / wall time (and / sampling
time); the maximum R-hat and the divergences; the load average. Results go to
``benchmarks/results/doseresp.json``; nothing is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "doseresp.json"
N_STUDIES = 40
SEED = 20261125
SAMPLERS = ("pymc", "nutpie")
KEY_PARAMETERS = ("beta", "ed50_sessions_per_week", "tau")


def one_fit(df, sampler: str, seed: int, fit_kwargs: dict[str, Any]) -> dict[str, Any]:
    """A complete fit() with ``sampler``; wall time, sampling time, ESS, R-hat, divergences."""
    import arviz as az

    from painstats.doseresp import fit

    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit(df, dose="sessions_per_week", model="emax", sampler=sampler, cores=1,
                  random_seed=seed, **fit_kwargs)
    wall = time.perf_counter() - t0
    idata = res.idata
    ess = az.ess(idata, var_names=list(KEY_PARAMETERS), method="bulk")
    rhat = az.rhat(idata, var_names=list(KEY_PARAMETERS))
    ess_each = {v: float(np.min(ess[v].to_numpy())) for v in ess.data_vars}
    min_ess = min(ess_each.values())
    sampling = float(idata.posterior.attrs.get("sampling_time", float("nan")))
    return {
        "sampler": sampler, "seed": seed, "wall_s": wall, "sampling_s": sampling,
        "compile_and_overhead_s": wall - sampling,
        "ess_bulk": ess_each, "min_ess_bulk": min_ess,
        "ess_per_s_wall": min_ess / wall, "ess_per_s_sampling": min_ess / sampling,
        "max_rhat": float(max(np.max(rhat[v].to_numpy()) for v in rhat.data_vars)),
        "divergences": int(idata.sample_stats["diverging"].sum()),
        "posterior_mean": {"emax": float(idata.posterior["beta"].mean()),
                           "ed50": float(idata.posterior["ed50_sessions_per_week"].mean()),
                           "tau": float(idata.posterior["tau"].mean())},
        "load_average_1min": load,
        "warnings": sorted({f"{w.category.__name__}: {str(w.message)[:160]}" for w in caught}),
    }


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for s in SAMPLERS:
        rs = [r for r in runs if r["sampler"] == s]
        if not rs:
            continue
        med = {k: statistics.median(r[k] for r in rs)
               for k in ("wall_s", "sampling_s", "compile_and_overhead_s", "min_ess_bulk",
                         "ess_per_s_wall", "ess_per_s_sampling")}
        out[s] = {"repeats": len(rs), "median": med,
                  "wall_s_all": [r["wall_s"] for r in rs],
                  "max_rhat": max(r["max_rhat"] for r in rs),
                  "divergences": [r["divergences"] for r in rs]}
    if len(out) == 2:
        a, b = out["pymc"]["median"], out["nutpie"]["median"]
        # per-repeat ratios nutpie / pymc (the two fits of a repeat ran back to back)
        pairs = list(zip([r for r in runs if r["sampler"] == "pymc"],
                         [r for r in runs if r["sampler"] == "nutpie"]))
        out["nutpie_vs_pymc"] = {
            "wall_time_ratio_median": statistics.median(p["wall_s"] / q["wall_s"] for p, q in pairs),
            "sampling_time_ratio_median": statistics.median(
                p["sampling_s"] / q["sampling_s"] for p, q in pairs),
            "ess_per_s_wall_ratio_median": statistics.median(
                q["ess_per_s_wall"] / p["ess_per_s_wall"] for p, q in pairs),
            "ess_per_s_sampling_ratio_median": statistics.median(
                q["ess_per_s_sampling"] / p["ess_per_s_sampling"] for p, q in pairs),
            "note": "ratios > 1 favour nutpie: pymc time / nutpie time, nutpie ESS/s / pymc ESS/s",
            "pymc_median_wall_s": a["wall_s"], "nutpie_median_wall_s": b["wall_s"],
        }
    return out


def _environment() -> dict[str, Any]:
    import arviz
    import pymc
    import pytensor

    try:
        import nutpie
        nutpie_version = nutpie.__version__
    except ImportError:
        nutpie_version = None

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True,
                                  text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    import painstats.doseresp

    pkg = Path(painstats.doseresp.__file__).parent  # the code actually imported
    src = hashlib.sha256()
    for p in sorted(pkg.glob("*.py")):
        src.update(p.read_bytes())
    return {"git_commit": git("rev-parse", "HEAD"), "doseresp_src_sha256": src.hexdigest()[:16],
            "doseresp_imported_from": str(pkg),
            "doseresp_uncommitted_changes_in_repo": git("status", "--porcelain", "--",
                                                        "src/painstats/doseresp") != "",
            "pymc": pymc.__version__, "pytensor": pytensor.__version__,
            "arviz": arviz.__version__, "nutpie": nutpie_version, "numpy": np.__version__,
            "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="draws = tune = 300, chains = 2")
    ap.add_argument("--output", type=Path, default=OUT)
    args = ap.parse_args(argv)

    from painstats.doseresp import simulate

    env = _environment()  # before the fits: other sessions may commit while this runs
    df = simulate(N_STUDIES, random_seed=SEED)
    fit_kwargs = {"draws": 300, "tune": 300, "chains": 2} if args.quick else {}
    runs = []
    for r in range(args.repeats):
        order = SAMPLERS if r % 2 == 0 else SAMPLERS[::-1]
        for s in order:
            rec = one_fit(df, s, SEED + r, fit_kwargs)
            rec["repeat"] = r
            runs.append(rec)
            print(f"repeat {r} {s:7s} wall {rec['wall_s']:7.2f} s  sampling "
                  f"{rec['sampling_s']:6.2f} s  min ESS {rec['min_ess_bulk']:7.0f}  "
                  f"ESS/s (wall) {rec['ess_per_s_wall']:7.1f}  R-hat {rec['max_rhat']:.4f}  "
                  f"div {rec['divergences']}  load {rec['load_average_1min']:.1f}", flush=True)
    runs.sort(key=lambda x: (x["sampler"], x["repeat"]))
    out = {
        "what": "painstats.doseresp.fit, Emax in sessions/week, PyMC NUTS vs nutpie",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": {"simulate": {"n_studies": N_STUDIES, "random_seed": SEED},
                 "arms": len(df), "truth": df.attrs["truth"]["parameters"],
                 "tau": df.attrs["truth"]["tau"]},
        "fit": {"dose": "sessions_per_week", "model": "emax", "cores": 1, **fit_kwargs,
                "other": "fit() defaults"},
        "environment": env,
        "doseresp_src_unchanged_during_run": _environment()["doseresp_src_sha256"]
        == env["doseresp_src_sha256"],
        "summary": _summary(runs),
        "runs": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=1))
    print(json.dumps(out["summary"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
