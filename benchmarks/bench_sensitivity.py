"""Benchmark: leave-one-out, GOSH and (when available) the permutation test, against metafor.

Run from the repository root::

    python benchmarks/bench_sensitivity.py [--quick]

painstats runs each analysis as batches of masked fits of one kernel; metafor (timed inside R
with ``system.time``, so R's start-up is excluded) refits model by model. Results go to
``benchmarks/results/sensitivity.json``; the numbers are recorded, never asserted in tests.
Each timing is the median of several repeats, measured side by side in one run.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from painstats.meta import random_effects

OUT = Path(__file__).resolve().parent / "results" / "sensitivity.json"


def _data(k: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.01, 0.2, k)
    y = 0.3 + rng.normal(size=k) * np.sqrt(v + 0.05)
    return y, v


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _metafor_seconds(y, v, method: str, what: str, repeats: int) -> float | None:
    if shutil.which("Rscript") is None:
        return None
    call = {"gosh": "gosh(fit, subsets = 2^length(yi), progbar = FALSE)",
            "leave1out": "leave1out(fit)"}[what]
    script = f"""
suppressPackageStartupMessages(library(metafor))
yi <- c({",".join(map(repr, y.tolist()))}); vi <- c({",".join(map(repr, v.tolist()))})
fit <- rma(yi, vi, method = "{method}")
t <- replicate({repeats}, system.time({call})[["elapsed"]])
cat(median(t))
"""
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(script)
    try:
        out = subprocess.run(["Rscript", fh.name], capture_output=True, text=True, timeout=900)
        return float(out.stdout.strip()) if out.returncode == 0 else None
    except (subprocess.TimeoutExpired, ValueError):
        return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes, no metafor for k = 20")
    args = ap.parse_args()
    rows = []
    for method in ("DL", "REML"):
        for k in (15, 20):
            y, v = _data(k)
            res = random_effects(y, v, method=method)
            n = 2**k - 1
            reps = 3
            t_ps = _median_time(lambda: res.gosh(max_subsets=n, progress=False), reps)
            t_mf = None
            if not (args.quick and k == 20) and not (method == "REML" and k == 20):
                t_mf = _metafor_seconds(y, v, method, "gosh", 1 if k == 20 else 3)
            rows.append({"analysis": "gosh", "method": method, "k": k, "subsets": n,
                         "painstats_s": t_ps, "painstats_subsets_per_s": n / t_ps,
                         "metafor_s": t_mf,
                         "metafor_subsets_per_s": None if t_mf is None else n / t_mf,
                         "speedup": None if not t_mf else t_mf / t_ps})
            print(rows[-1])
        for k in (10, 100, 1000):
            y, v = _data(k)
            res = random_effects(y, v, method=method)
            t_ps = _median_time(res.leave_one_out, 5)
            t_mf = None if (args.quick and k == 1000) else _metafor_seconds(y, v, method, "leave1out", 3)
            rows.append({"analysis": "leave_one_out", "method": method, "k": k,
                         "painstats_s": t_ps, "metafor_s": t_mf,
                         "speedup": None if not t_mf else t_mf / t_ps})
            print(rows[-1])
    meta = {"date": date.today().isoformat(), "machine": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__,
            "cores": __import__("os").cpu_count()}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"meta": meta, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
