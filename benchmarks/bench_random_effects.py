#!/usr/bin/env python
"""Speed, memory and numerical agreement of painstats' random-effects core against its peers.

Run from the repository root::

    python benchmarks/bench_random_effects.py            # full run, ~10 minutes
    python benchmarks/bench_random_effects.py --quick    # smaller grid, ~2 minutes

Peers that are not installed (PyMARE, statsmodels) and R/metafor when ``Rscript`` or the
metafor package is missing are skipped, and the JSON says why. The full run writes
``benchmarks/results/random_effects.json``, the quick one ``random_effects_quick.json``.

Timing protocol: every callable is called once untimed (warm-up), then timed in blocks of
``n_inner`` calls (a block lasts at least ``--min-block`` seconds); the tools compared with
each other are timed in interleaved rounds (painstats, peer, painstats, peer, ...; the order
rotates each round), so a burst of load from other processes on this shared machine hits all
of them alike. Each tool gets ``--repeats`` rounds (fewer when they would not fit in
``--budget`` seconds). The median per-call time is reported, and the ratio peer/painstats as
the median of the per-round ratios. metafor is timed inside R by ``metafor_timing.R``
(R's start-up excluded), right after the Python tools on the same data.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import json
import math
import os
import platform
import pstats
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from painstats.meta import random_effects, random_effects_batch
from painstats.meta._kernels.fit import fit_rma

try:
    import pymare
    from pymare.estimators import DerSimonianLaird, VarianceBasedLikelihoodEstimator
except ImportError:  # pragma: no cover - optional peer
    pymare = None
try:
    import statsmodels
    from statsmodels.stats.meta_analysis import combine_effects
except ImportError:  # pragma: no cover - optional peer
    statsmodels = None

HERE = Path(__file__).resolve().parent
SEED = 20240611
K_MAX = 30  # batch: k = 5..30 studies per analysis, padded to 30
MU, TAU2 = -0.5, 0.05  # single fits: SMD of pain, true heterogeneity

#: Goals from the project issue, with the peer figures it quotes.
GOALS = {
    "single_reml_k10_s": 0.3e-3,  # metafor about 2.8 ms
    "batch_kernel_reml_per_s": 150_000,  # metafor loop about 300/s, PyMARE 2-D about 57,000/s
    "single_reml_k1e6_s": 1.0,
}

#: What each peer call computes, recorded in the JSON next to its timings.
CALLS = {
    "painstats": "painstats.meta.random_effects(yi, vi, method=M): full result (estimate, SE, "
                 "z-test, CI, PI, tau2 and its SE, Q, I2, H2, weights); ML/REML/PM solved to 1e-12",
    "painstats_batch": "painstats.meta.random_effects_batch(Y, V, mask=M, method=M): public "
                       "batch API, input validation + kernel + 1-D result arrays",
    "painstats_kernel": "painstats.meta._kernels.fit.fit_rma(Y, V, M, method=M): raw batch kernel",
    "pymare": "pymare VarianceBasedLikelihoodEstimator(method='REML', "
              "small_sample_correction='wald') or DerSimonianLaird(small_sample_correction='wald')"
              ".fit_dataset(pymare.Dataset(y=y, v=v)): tau2 (REML by a bounded scalar search, "
              "xtol 1e-6 of the starting bracket; DL truncated at 0), WLS estimate and its "
              "covariance (Wald, like painstats' and metafor's default z-test)",
    "statsmodels": "statsmodels.stats.meta_analysis.combine_effects(yi, vi, method_re=...): "
                   "'chi2' = DerSimonian-Laird *not* truncated at 0 (negative tau2 possible); "
                   "'iterated' = Paule-Mandel (DerSimonian-Kacker 2007), stopping when "
                   "|Q - (k-1)| < 1e-5, at most 50 iterations, non-convergence discarded "
                   "silently; computes FE and RE estimates, SEs and HKSJ scales",
    "metafor": "metafor::rma(yi, vi, method=M) with default control (Fisher scoring, threshold "
               "1e-5), timed inside R; full rma.uni object",
}


@dataclass(frozen=True)
class Config:
    ks: tuple[int, ...]
    r_max_k: int
    batch_ns: tuple[int, ...]
    loop_n: int
    r_batch_n: int
    repeats: int
    min_block: float
    budget: float
    memory_k: int


FULL = Config(ks=(10, 100, 1_000, 10_000, 100_000, 1_000_000), r_max_k=1_000_000,
              batch_ns=(10_000, 100_000), loop_n=2_000, r_batch_n=1_000, repeats=5,
              min_block=0.2, budget=60.0, memory_k=1_000_000)
QUICK = Config(ks=(10, 100, 1_000, 10_000), r_max_k=1_000, batch_ns=(10_000,), loop_n=300,
               r_batch_n=200, repeats=5, min_block=0.05, budget=20.0, memory_k=1_000_000)


# ----------------------------------------------------------------------------- data


def single_data(k: int) -> tuple[np.ndarray, np.ndarray]:
    """One meta-analysis of k studies: v ~ U(0.01, 0.2), y ~ N(MU, v + TAU2)."""
    rng = np.random.default_rng([SEED, k])
    v = rng.uniform(0.01, 0.2, k)
    return rng.normal(MU, np.sqrt(v + TAU2)), v


def batch_data(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n analyses, k ~ U{5..30} padded to 30; tau2 ~ U(0, 0.1) per analysis.

    All 30 columns hold valid studies, so the same arrays without the mask are the
    equal-k (k = 30) data set that PyMARE's 2-D mode needs.
    """
    rng = np.random.default_rng([SEED, n, K_MAX])
    k = rng.integers(5, K_MAX + 1, n)
    tau2 = rng.uniform(0.0, 0.1, n)
    v = rng.uniform(0.01, 0.2, (n, K_MAX))
    y = rng.normal(MU, np.sqrt(v + tau2[:, None]))
    return y, v, np.arange(K_MAX)[None, :] < k[:, None]


# ----------------------------------------------------------------------------- timing


def _block(f: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return time.perf_counter() - t0


@contextlib.contextmanager
def _quiet_no_gc():
    """Timing conditions: garbage collector off (as timeit), peers' warnings silenced."""
    gc.collect()
    gc.disable()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        gc.enable()


def _warm_up(f: Callable[[], object]) -> tuple[object, float, list[str]]:
    """Call once untimed (recording warnings), then once timed."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = f()
    with _quiet_no_gc():
        t1 = _block(f, 1)
    return out, t1, sorted({f"{w.category.__name__}: {w.message}"[:160] for w in caught})


def time_side_by_side(fns: dict[str, Callable[[], object]], cfg: Config,
                      reference: str | None = None) -> dict[str, dict]:
    """Time several callables in interleaved rounds; see the module docstring."""
    stats: dict[str, dict] = {}
    plans = {}
    load = os.getloadavg()[0]  # other processes on the machine, for reading the numbers
    for name, f in fns.items():
        try:
            out, t1, caught = _warm_up(f)
        except Exception as exc:  # noqa: BLE001 - a peer failing is a result, not a crash
            stats[name] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:300]}
            continue
        n_inner = max(1, math.ceil(cfg.min_block / max(t1, 1e-7)))
        n_rep = max(1, min(cfg.repeats, int(cfg.budget // (n_inner * max(t1, 1e-7)))))
        plans[name] = (f, n_inner, n_rep)
        stats[name] = {"status": "ok", "n_inner": n_inner, "repeats": n_rep, "per_call_s": [],
                       "loadavg_1min": load, "warnings": caught, "_out": out}
    names = list(plans)
    rounds = max((p[2] for p in plans.values()), default=0)
    per_round: list[dict[str, float]] = []
    with _quiet_no_gc():
        for r in range(rounds):
            this = {}
            for name in names[r % len(names):] + names[: r % len(names)]:
                f, n_inner, n_rep = plans[name]
                if r < n_rep:
                    this[name] = _block(f, n_inner) / n_inner
            per_round.append(this)
    for name in names:
        times = [rd[name] for rd in per_round if name in rd]
        s = stats[name]
        s.update(per_call_s=times, median_s=float(np.median(times)), min_s=float(min(times)))
        if reference in plans and name != reference:
            ratios = [rd[name] / rd[reference] for rd in per_round if name in rd and reference in rd]
            s["ratio_to_reference"] = float(np.median(ratios)) if ratios else None
            s["reference"] = reference
    return stats


# ----------------------------------------------------------------------------- tools


def _pymare_est(method: str):
    if method == "DL":
        return DerSimonianLaird(small_sample_correction="wald")
    return VarianceBasedLikelihoodEstimator(method=method, small_sample_correction="wald")


def single_tools(group: str, y: np.ndarray, v: np.ndarray) -> dict[str, Callable[[], object]]:
    """Callables fitting one meta-analysis: painstats and the peers computing ``group``."""
    tools = {"painstats": lambda: random_effects(y, v, method=group)}
    if pymare is not None and group in ("REML", "DL"):
        tools["pymare"] = lambda: _pymare_est(group).fit_dataset(pymare.Dataset(y=y, v=v))
    if statsmodels is not None and group in ("DL", "PM"):
        how = "chi2" if group == "DL" else "iterated"
        tools["statsmodels"] = lambda: combine_effects(y, v, method_re=how)
    return tools


def extract(tool: str, out) -> tuple[np.ndarray, np.ndarray]:
    """(tau2, estimate) as 1-D arrays from any tool's result object."""
    if tool.startswith("pymare"):
        return np.ravel(out.params_["tau2"]), np.ravel(out.params_["fe_params"][0])
    if tool.startswith("statsmodels"):
        if isinstance(out, list):
            return (np.array([r.tau2 for r in out], float),
                    np.array([r.mean_effect_re for r in out], float))
        return np.atleast_1d(float(out.tau2)), np.atleast_1d(float(out.mean_effect_re))
    if isinstance(out, list):  # painstats loop
        return np.array([r.tau2 for r in out]), np.array([r.estimate for r in out])
    if hasattr(out, "beta"):  # RMAFit from the kernel
        return np.ravel(out.tau2), np.ravel(out.beta[..., 0])
    return np.ravel(np.asarray(out.tau2, float)), np.ravel(np.asarray(out.estimate, float))


def _strip(stats: dict[str, dict], **extra) -> list[dict]:
    """Flatten per-tool stats to records, moving results into ``numbers`` (tau2, estimate)."""
    records = []
    for tool, s in stats.items():
        rec = {**extra, "tool": tool, **{k: v for k, v in s.items() if k != "_out"}}
        if "_out" in s:
            tau2, est = extract(tool, s["_out"])
            rec["_tau2"], rec["_estimate"] = tau2, est
        records.append(rec)
    return records


# ----------------------------------------------------------------------------- benchmarks


def bench_single(cfg: Config, log) -> list[dict]:
    records = []
    for k in cfg.ks:
        y, v = single_data(k)
        for group in ("REML", "DL", "PM"):
            stats = time_side_by_side(single_tools(group, y, v), cfg, reference="painstats")
            recs = _strip(stats, k=k, method=group)
            for r in recs:
                if r["tool"] == "statsmodels":
                    r["method_re"] = "chi2" if group == "DL" else "iterated"
                log(f"single k={k:>7} {group:<4} {r['tool']:<12} "
                    + (f"{r['median_s'] * 1e3:10.3f} ms" if r["status"] == "ok" else r["status"])
                    + (f"  x{r['ratio_to_reference']:.2f}" if r.get("ratio_to_reference") else ""))
            records += recs
    return records


def _loop_painstats(y, v, m, method):
    return [random_effects(y[i, m[i]], v[i, m[i]], method=method) for i in range(y.shape[0])]


def _loop_statsmodels(y, v, m, how):
    return [combine_effects(y[i, m[i]], v[i, m[i]], method_re=how) for i in range(y.shape[0])]


def batch_groups(n: int, cfg: Config):
    """(label, method, n, tools) for each side-by-side batch comparison at size n."""
    y, v, m = batch_data(n)
    groups = []
    for method in ("REML", "DL"):
        groups.append(("k=5..30 padded", method, n, {
            "painstats_batch": lambda method=method: random_effects_batch(y, v, mask=m,
                                                                          method=method),
            "painstats_kernel": lambda method=method: fit_rma(y, v, m, method=method),
        }))
    y30t, v30t = np.ascontiguousarray(y.T), np.ascontiguousarray(v.T)
    for method in ("REML", "DL"):
        tools = {"painstats_batch": lambda method=method: random_effects_batch(y, v,
                                                                               method=method),
                 "painstats_kernel": lambda method=method: fit_rma(y, v, method=method)}
        if pymare is not None:
            tools["pymare_2d"] = lambda method=method: _pymare_est(method).fit_dataset(
                pymare.Dataset(y=y30t, v=v30t))
        groups.append(("k=30 equal, unpadded", method, n, tools))
    return groups


def loop_groups(cfg: Config):
    """Per-analysis Python loops over the first loop_n padded analyses."""
    y, v, m = (a[: cfg.loop_n] for a in batch_data(cfg.batch_ns[0]))
    groups = []
    for method in ("REML", "DL", "PM"):
        tools = {"painstats_loop": lambda method=method: _loop_painstats(y, v, m, method)}
        if statsmodels is not None and method != "REML":
            how = "chi2" if method == "DL" else "iterated"
            tools["statsmodels_loop"] = lambda how=how: _loop_statsmodels(y, v, m, how)
        groups.append(("k=5..30, one call per analysis", method, cfg.loop_n, tools))
    return groups


def bench_batch(cfg: Config, log) -> list[dict]:
    records = []
    groups = [g for n in cfg.batch_ns for g in batch_groups(n, cfg)] + loop_groups(cfg)
    for layout, method, n, tools in groups:
        ref = "painstats_kernel" if "painstats_kernel" in tools else "painstats_loop"
        stats = time_side_by_side(tools, cfg, reference=ref)
        for rec in _strip(stats, layout=layout, method=method, n_analyses=n):
            if rec["status"] == "ok":
                rec["analyses_per_s"] = n / rec["median_s"]
            log(f"batch {layout:<32} n={n:>6} {method:<4} {rec['tool']:<17} "
                + (f"{rec['analyses_per_s']:12,.0f} /s" if rec["status"] == "ok"
                   else rec["status"])
                + (f"  x{rec['ratio_to_reference']:.2f}" if rec.get("ratio_to_reference") else ""))
            records.append(rec)
    return records


# ----------------------------------------------------------------------------- R / metafor


def r_available() -> tuple[bool, str]:
    if shutil.which("Rscript") is None:
        return False, "Rscript not found"
    try:
        p = subprocess.run(["Rscript", "-e", "library(metafor); library(jsonlite)"],
                           check=False, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return False, "Rscript did not start within 120 s"
    if p.returncode != 0:
        return False, "R packages metafor/jsonlite not available: " + p.stderr.strip()[-200:]
    return True, ""


def run_metafor(mode: str, csv: Path, method: str, cfg: Config, tmp: Path) -> dict:
    """Run metafor_timing.R in its own process group, killed after budget + 30 s."""
    out = tmp / f"out_{mode}_{method}_{csv.stem}.json"
    cmd = ["Rscript", str(HERE / "metafor_timing.R"), mode, str(csv), method, str(out),
           str(cfg.budget), str(cfg.min_block), str(cfg.repeats)]
    load = os.getloadavg()[0]
    limit = cfg.budget + 30.0  # + R start-up and reading the CSV
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"status": "timeout", "error": f"no result within {limit:.0f} s (one fit "
                f"longer than the {cfg.budget:.0f} s cap); process killed",
                "wall_s": time.perf_counter() - t0}
    if proc.returncode != 0 or not out.exists():
        return {"status": "failed", "error": err.strip()[-300:]}
    res = json.loads(out.read_text())
    for key in ("per_call_s", "tau2", "estimate", "tau2_tight", "estimate_tight"):
        if key in res:  # null / "NA" (not computed) become NaN
            vals = np.atleast_1d(np.asarray(res[key], dtype=object))
            res[key] = np.array([np.nan if x in (None, "NA") else float(x) for x in vals])
    res["per_call_s"] = res.get("per_call_s", np.array([])).tolist()
    res["loadavg_1min"] = load
    return res


def _metafor_record(res: dict, **extra) -> dict:
    rec = {**extra, "tool": "metafor"}
    for key, val in res.items():
        if key in ("tau2", "estimate", "tau2_tight", "estimate_tight"):
            rec["_" + key] = val
        elif key not in ("units_per_s", "tool"):
            rec[key] = val
    return rec


def bench_metafor(cfg: Config, log) -> tuple[list[dict], list[dict], dict]:
    ok, why = r_available()
    if not ok:
        log(f"metafor skipped: {why}")
        return [], [], {"available": False, "reason": why}
    single, batch = [], []
    with tempfile.TemporaryDirectory(prefix="painstats_bench_") as tmpdir:
        tmp = Path(tmpdir)
        for k in (k for k in cfg.ks if k <= cfg.r_max_k):
            y, v = single_data(k)
            csv = tmp / f"single_{k}.csv"
            np.savetxt(csv, np.column_stack([y, v]), delimiter=",", fmt="%.17g",
                       header="yi,vi", comments="")
            for method in ("REML", "DL"):
                res = run_metafor("single", csv, method, cfg, tmp)
                single.append(_metafor_record(res, k=k, method=method))
                log(f"single k={k:>7} {method:<4} metafor      " + (
                    f"{res['median_s'] * 1e3:10.3f} ms" if res["status"] == "ok"
                    else f"{res['status']}: {res.get('error', '')[:80]}"))
        y, v, m = (a[: cfg.r_batch_n] for a in batch_data(cfg.batch_ns[0]))
        ids = np.repeat(np.arange(y.shape[0]), m.sum(axis=1))
        csv = tmp / "batch.csv"
        np.savetxt(csv, np.column_stack([ids, y[m], v[m]]), delimiter=",",
                   fmt=["%d", "%.17g", "%.17g"], header="id,yi,vi", comments="")
        for method in ("REML", "DL"):
            res = run_metafor("batch", csv, method, cfg, tmp)
            rec = _metafor_record(res, layout="k=5..30, one call per analysis", method=method,
                                  n_analyses=cfg.r_batch_n)
            if res["status"] == "ok":
                rec["analyses_per_s"] = cfg.r_batch_n / res["median_s"]
            batch.append(rec)
            log(f"batch metafor loop n={cfg.r_batch_n} {method:<4} " + (
                f"{rec['analyses_per_s']:10,.0f} /s" if res["status"] == "ok"
                else res["status"]))
    info = next((r for r in single + batch if r.get("status") == "ok"), {})
    return single, batch, {"available": True, **{k: info.get(k) for k in (
        "metafor_version", "r_version", "blas", "lapack")}}


# ----------------------------------------------------------------------------- agreement


def compare(a: np.ndarray, b: np.ndarray) -> dict:
    """Largest absolute and relative (to max(|a|, |b|)) differences; zeros counted apart."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    scale = np.maximum(np.abs(a), np.abs(b))
    diff = np.abs(a - b)
    nz = scale > 1e-12
    one_zero = (np.minimum(np.abs(a), np.abs(b)) <= 1e-12) & (scale > 1e-8)
    return {"n": int(a.size), "max_abs_diff": float(diff.max(initial=0.0)),
            "max_rel_diff": float((diff[nz] / scale[nz]).max(initial=0.0)),
            "n_both_zero": int(np.sum(scale <= 1e-12)), "n_only_one_zero": int(one_zero.sum())}


def _pairs(records: list[dict], keys: tuple[str, ...]) -> dict[tuple, dict[str, dict]]:
    grouped: dict[tuple, dict[str, dict]] = {}
    for r in records:
        if "_tau2" in r:
            grouped.setdefault(tuple(r.get(k) for k in keys), {})[r["tool"]] = r
    return grouped


def agreement(single: list[dict], batch: list[dict], r_batch_n: int) -> list[dict]:
    """Compare tau2 and the estimate of each tool with painstats' on the same data."""
    out = []
    for (k, method), tools in _pairs(single, ("k", "method")).items():
        ref = tools.get("painstats")
        for name, rec in tools.items():
            if ref is None or name == "painstats":
                continue
            out += _compare_records(f"single k={k}", method, ref, rec, name)
    for (layout, method, n), tools in _pairs(batch, ("layout", "method", "n_analyses")).items():
        ref = tools.get("painstats_kernel") or tools.get("painstats_loop")
        for name, rec in tools.items():
            if ref is None or rec is ref:
                continue
            out += _compare_records(f"batch {layout} n={n}", method, ref, rec, name)
    # metafor's loop ran on the first r_batch_n padded analyses of the first batch size
    kern = [r for r in batch if r.get("tool") == "painstats_kernel"
            and r.get("layout") == "k=5..30 padded" and "_tau2" in r]
    for rec in (r for r in batch if r.get("tool") == "metafor" and "_tau2" in r):
        ref = next((r for r in kern if r["method"] == rec["method"]), None)
        if ref is not None:
            trimmed = {"_tau2": ref["_tau2"][:r_batch_n], "_estimate": ref["_estimate"][:r_batch_n]}
            out += _compare_records(f"batch k=5..30 first {r_batch_n}", rec["method"], trimmed,
                                    rec, "metafor")
    return out


def _compare_records(what: str, method: str, ref: dict, rec: dict, name: str) -> list[dict]:
    rows = []
    keep = np.ones(ref["_tau2"].shape, bool)
    variants = [("", name, keep)]
    if "_tau2_tight" in rec:
        variants.append(("_tight", name + " (threshold 1e-12)", keep))
    if name.startswith("statsmodels") and method == "DL" and rec["_tau2"].shape == keep.shape:
        # statsmodels does not truncate DL at 0; compare where it did not need to
        variants.append(("", name + " (where its tau2 >= 0)", rec["_tau2"] >= 0))
    for suffix, label, sel in variants:
        for qty in ("tau2", "estimate"):
            a, b = ref["_" + qty], rec["_" + qty + suffix]
            if a.shape != b.shape or np.isnan(b).all() or not sel.any():
                continue
            row = {"what": what, "method": method, "quantity": qty, "painstats_vs": label}
            if name.startswith("statsmodels") and qty == "tau2" and sel.all():
                row["n_negative_peer_tau2"] = int(np.sum(b < 0))
            rows.append({**row, **compare(a[sel], b[sel])})
    return rows


# ----------------------------------------------------------------------------- memory


def _rss_high_water() -> int:
    """Peak resident set size of this process in bytes (VmHWM; ru_maxrss if unavailable)."""
    m = re.search(r"VmHWM:\s+(\d+) kB", _read("/proc/self/status"))
    return int(m.group(1)) * 1024 if m else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_rss_high_water() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def memory_child(tool: str, method: str, k: int) -> None:
    """Run in a fresh process: peak RSS increase and tracemalloc peak of one fit."""
    y, v = single_data(k)
    small_y, small_v = single_data(10)

    def tools(yy, vv):
        return {**single_tools(method, yy, vv),
                "painstats_kernel": lambda: fit_rma(yy, vv, method=method)}

    fit = tools(y, v)[tool]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tools(small_y, small_v)[tool]()  # import everything lazily loaded
        gc.collect()
        reset = _reset_rss_high_water()
        before = _rss_high_water()
        t0 = time.perf_counter()
        out = fit()
        wall = time.perf_counter() - t0
        after = _rss_high_water()
        del out
        gc.collect()
        tracemalloc.start()
        fit()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(json.dumps({"tool": tool, "method": method, "k": k, "wall_s": wall,
                      "rss_high_water_reset": reset, "peak_rss_before_bytes": before,
                      "peak_rss_after_bytes": after, "peak_rss_increase_bytes": after - before,
                      "tracemalloc_peak_bytes": peak,
                      "tracemalloc_peak_in_k_doubles": peak / (8.0 * k),
                      "input_bytes": 16.0 * k, "k_by_k_matrix_bytes": 8.0 * k * k}))


def bench_memory(cfg: Config, log) -> list[dict]:
    runs = [("painstats", "REML"), ("painstats", "DL"), ("painstats_kernel", "REML")]
    if pymare is not None:
        runs.append(("pymare", "REML"))
    if statsmodels is not None:
        runs.append(("statsmodels", "PM"))
    out = []
    for tool, method in runs:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-child", tool, method,
               str(cfg.memory_k)]
        p = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            out.append({"tool": tool, "method": method, "k": cfg.memory_k, "status": "failed",
                        "error": p.stderr.strip()[-300:]})
            continue
        rec = {"status": "ok", **json.loads(p.stdout.strip().splitlines()[-1])}
        out.append(rec)
        log(f"memory k={cfg.memory_k} {tool:<16} {method:<4} tracemalloc peak "
            f"{rec['tracemalloc_peak_bytes'] / 2**20:8.1f} MiB "
            f"({rec['tracemalloc_peak_in_k_doubles']:.1f} x k doubles), peak RSS +"
            f"{rec['peak_rss_increase_bytes'] / 2**20:.1f} MiB")
    return out


# ----------------------------------------------------------------------------- profile


def _top(prof: cProfile.Profile, n: int = 12) -> list[dict]:
    st = pstats.Stats(prof)
    rows = sorted(st.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:n]
    total = sum(v[2] for v in st.stats.values())
    return [{"function": f"{Path(f).name}:{line}({fn})", "ncalls": nc, "tottime_s": tt,
             "tottime_share": tt / total if total else None, "cumtime_s": ct}
            for (f, line, fn), (_, nc, tt, ct, _) in rows]


def profile(cfg: Config, log) -> dict:
    """cProfile of the painstats hot paths (tottime: time in the function itself)."""
    y10, v10 = single_data(10)
    y6, v6 = single_data(cfg.ks[-1])
    yb, vb, mb = batch_data(cfg.batch_ns[-1])
    jobs = {
        "random_effects k=10 REML x2000": lambda: [random_effects(y10, v10) for _ in range(2000)],
        f"random_effects k={cfg.ks[-1]} REML": lambda: random_effects(y6, v6),
        f"fit_rma n={cfg.batch_ns[-1]} k=5..30 REML": lambda: fit_rma(yb, vb, mb, method="REML"),
    }
    out = {}
    for name, job in jobs.items():
        job()
        prof = cProfile.Profile()
        prof.enable()
        job()
        prof.disable()
        out[name] = _top(prof)
        log(f"profile {name}: " + ", ".join(
            f"{r['function']} {r['tottime_share']:.0%}" for r in out[name][:4]))
    return out


# ----------------------------------------------------------------------------- report


def machine_info() -> dict:
    import scipy

    import painstats

    cpu = next((ln.split(":", 1)[1].strip() for ln in _read("/proc/cpuinfo").splitlines()
                if ln.startswith("model name")), platform.processor())
    mem = next((ln.split(":", 1)[1].strip() for ln in _read("/proc/meminfo").splitlines()
                if ln.startswith("MemTotal")), None)
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{blas.get('name')} {blas.get('version')}"
    except (TypeError, KeyError, AttributeError):  # older numpy
        blas = None
    return {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(), "python": platform.python_version(),
        "cpu_model": cpu, "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)), "memory_total": mem,
        "loadavg_at_start": os.getloadavg(), "numpy": np.__version__, "numpy_blas": blas,
        "scipy": scipy.__version__, "painstats": painstats.__version__,
        "painstats_git": _git_describe(), "painstats_src_sha256": _src_hash(),
        "pymare": getattr(pymare, "__version__", None),
        "statsmodels": getattr(statsmodels, "__version__", None),
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                "MKL_NUM_THREADS", "OPENBLAS_CORETYPE")},
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _git_describe() -> str | None:
    try:
        def git(*a):
            return subprocess.run(["git", *a], cwd=HERE, check=False, capture_output=True,
                                  text=True, timeout=10).stdout.strip()

        head, dirty = git("rev-parse", "HEAD"), git("status", "--porcelain", "-uno")
        return head + ("+dirty" if dirty else "") if head else None
    except (OSError, subprocess.SubprocessError):
        return None


def _src_hash() -> str:
    """sha256 over painstats' source files, to tie results to an uncommitted tree."""
    import hashlib

    import painstats

    root = Path(painstats.__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def add_metafor_ratios(single: list[dict], batch: list[dict]) -> None:
    """metafor time / painstats time (not interleaved: R runs after the Python tools)."""
    ps = {(r["k"], r["method"]): r for r in single
          if r["tool"] == "painstats" and r.get("status") == "ok"}
    for r in single:
        ref = ps.get((r.get("k"), r.get("method")))
        if r["tool"] == "metafor" and r.get("status") == "ok" and ref is not None:
            r["ratio_to_painstats"] = r["median_s"] / ref["median_s"]
    rates: dict[tuple[str, str], float] = {}
    for r in batch:  # the first (smallest) n: metafor's analyses are its first rows
        if (r.get("status") == "ok" and r["tool"] in ("painstats_kernel", "painstats_loop")
                and r["layout"] != "k=30 equal, unpadded"):
            rates.setdefault((r["tool"], r["method"]), r["analyses_per_s"])
    for r in batch:
        if r["tool"] == "metafor" and r.get("status") == "ok":
            for tool in ("painstats_kernel", "painstats_loop"):
                if (tool, r["method"]) in rates:
                    r[f"{tool}_speedup"] = rates[(tool, r["method"])] / r["analyses_per_s"]


def goals(single: list[dict], batch: list[dict]) -> list[dict]:
    def rec(recs, **kw):
        return next((r for r in recs if all(r.get(k) == v for k, v in kw.items())
                     and r.get("status") == "ok"), None)

    rows = []
    r10, m10 = rec(single, k=10, method="REML", tool="painstats"), rec(
        single, k=10, method="REML", tool="metafor")
    if r10 is not None:
        t, tmin = r10["median_s"], r10["min_s"]
        rows.append({"goal": "public-API REML fit, k = 10", "target": "< 0.3 ms",
                     "measured": f"{t * 1e3:.3f} ms (fastest round {tmin * 1e3:.3f} ms)",
                     "met": t < GOALS["single_reml_k10_s"],
                     "metafor_measured_ms": None if m10 is None else m10["median_s"] * 1e3})
    for r in batch:
        if (r.get("tool") == "painstats_kernel" and r.get("method") == "REML"
                and r.get("layout") == "k=5..30 padded" and r.get("status") == "ok"):
            best = r["n_analyses"] / r["min_s"]
            rows.append({"goal": f"batch kernel REML, k = 5..30, n = {r['n_analyses']:,}",
                         "target": ">= 150,000 analyses/s",
                         "measured": f"{r['analyses_per_s']:,.0f} /s (fastest round {best:,.0f})",
                         "met": r["analyses_per_s"] >= GOALS["batch_kernel_reml_per_s"]})
    r6 = rec(single, k=1_000_000, method="REML", tool="painstats")
    if r6 is not None:
        rows.append({"goal": "public-API REML fit, k = 1e6", "target": "< 1 s",
                     "measured": f"{r6['median_s']:.3f} s (fastest round {r6['min_s']:.3f} s)",
                     "met": r6["median_s"] < GOALS["single_reml_k1e6_s"]})
    return rows


def _public(records: list[dict]) -> list[dict]:
    """Records without the private arrays kept for the agreement checks."""
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in records]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small grid (about 2 minutes)")
    ap.add_argument("--no-r", action="store_true", help="skip metafor even if R is available")
    ap.add_argument("--profile", action="store_true", help="add cProfile tables of painstats")
    ap.add_argument("--blas-threads", type=int, metavar="N",
                    help="rerun with OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=MKL_NUM_THREADS=N "
                         "(default output gets the suffix _blasN)")
    ap.add_argument("--output", type=Path, help="JSON file to write")
    ap.add_argument("--report", type=Path, metavar="JSON",
                    help="print the README tables of an existing results file and exit")
    ap.add_argument("--memory-child", nargs=3, metavar=("TOOL", "METHOD", "K"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        tool, method, k = args.memory_child
        memory_child(tool, method, int(k))
        return 0
    if args.report:
        print(markdown(json.loads(args.report.read_text())))
        return 0
    if args.blas_threads and os.environ.get("OPENBLAS_NUM_THREADS") != str(args.blas_threads):
        # NumPy's BLAS reads these when it loads, so the script starts again with them set
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.blas_threads)
        os.execv(sys.executable, [sys.executable, str(Path(__file__).resolve()),
                                  *(sys.argv[1:] if argv is None else argv)])
    cfg = QUICK if args.quick else FULL
    suffix = ("_quick" if args.quick else "") + (
        f"_blas{args.blas_threads}" if args.blas_threads else "")
    output = args.output or HERE / "results" / f"random_effects{suffix}.json"

    def log(msg: str) -> None:
        print(msg, flush=True)

    t0 = time.perf_counter()
    info = machine_info()
    if info["loadavg_at_start"][0] > 0.5 * info["usable_cores"]:
        log(f"note: load average {info['loadavg_at_start'][0]:.1f} on {info['usable_cores']} "
            "cores; absolute times will be inflated (ratios are measured side by side)")
    single = bench_single(cfg, log)
    batch = bench_batch(cfg, log)
    if args.no_r:
        r_info = {"available": False, "reason": "--no-r"}
    else:
        try:
            r_single, r_batch, r_info = bench_metafor(cfg, log)
        except Exception as exc:  # noqa: BLE001 - keep the Python results
            log(f"metafor benchmark failed: {type(exc).__name__}: {exc}")
            r_single, r_batch, r_info = [], [], {"available": True, "error": repr(exc)[:300]}
        single, batch = single + r_single, batch + r_batch
        add_metafor_ratios(single, batch)
    memory = bench_memory(cfg, log)
    result = {
        "benchmark": "random_effects", "mode": "quick" if args.quick else "full",
        "config": asdict(cfg), "machine": {**info, "r": r_info}, "calls": CALLS,
        "goals": goals(single, batch), "single": _public(single), "batch": _public(batch),
        "agreement": agreement(single, batch, cfg.r_batch_n), "memory": memory,
    }
    if args.profile:
        result["profile"] = profile(cfg, log)
    result["machine"]["loadavg_at_end"] = os.getloadavg()
    result["wall_time_s"] = time.perf_counter() - t0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1, default=_json_default) + "\n")
    for g in result["goals"]:
        log(f"goal {g['goal']}: {g['measured']} (target {g['target']}) "
            + ("MET" if g["met"] else "NOT MET"))
    log(f"wrote {output} in {result['wall_time_s']:.0f} s")
    return 0


# ----------------------------------------------------------------------------- markdown


def _cell(rec: dict | None, unit: str) -> str:
    if rec is None:
        return "–"
    if rec.get("status") == "timeout":
        return "timeout (> 60 s)"
    if rec.get("status") != "ok":
        err = rec.get("error", "")
        return "failed (cannot allocate)" if "allocate" in err else "failed"
    if unit == "ms":
        t = rec["median_s"] * 1e3
        txt = f"{t:.3g}" if t < 1000 else f"{t:,.0f}"
    else:
        txt = f"{rec['analyses_per_s']:,.0f}"
    ratio = rec.get("ratio_to_reference", rec.get("ratio_to_painstats"))
    if ratio is not None and unit == "ms":
        txt += f" (×{ratio:.2g})" if ratio < 10 else f" (×{ratio:,.0f})"
    elif ratio is not None:
        txt += f" (×{1 / ratio:.2g})"
    return txt


def _agreement_rows(agreement: list[dict]) -> list[list[str]]:
    """tau2 and estimate side by side; single fits reduced to the worst k."""
    worst: dict[tuple, dict] = {}
    for a in agreement:
        if a["painstats_vs"].startswith("painstats"):
            continue
        what = "single fit, k = " if a["what"].startswith("single") else a["what"]
        key = (what, a["method"], a["painstats_vs"])
        slot = worst.setdefault(key, {"n_neg": 0, "k": set()})
        slot["k"].add(a["what"].removeprefix("single k="))
        cur = slot.get(a["quantity"])
        if cur is None or a["max_rel_diff"] > cur["max_rel_diff"]:
            slot[a["quantity"]] = a
        slot["n_neg"] += a.get("n_negative_peer_tau2", 0)
    rows = []
    for (what, method, vs), slot in worst.items():
        tau, est = slot.get("tau2"), slot.get("estimate")
        if tau is None:
            continue
        if what.startswith("single"):
            what += ", ".join(sorted(slot["k"], key=int)) + f" (worst {tau['what'][9:]})"
        zero = f"{tau['n_only_one_zero']} of {tau['n']}"
        if slot["n_neg"]:
            zero += f" ({slot['n_neg']} negative)"
        rows.append([what, method, vs, f"{tau['max_rel_diff']:.1e}", f"{tau['max_abs_diff']:.1e}",
                     zero, "–" if est is None else f"{est['max_rel_diff']:.1e}"])
    return rows


def markdown(result: dict) -> str:
    """The README tables, from a results JSON."""
    m = result["machine"]
    lines = [(f"Run {m['date_utc']} ({result['mode']}), painstats {m['painstats_git']} "
             f"(src {m['painstats_src_sha256']}), {m['cpu_model']} x {m['usable_cores']}, "
             f"load average {m['loadavg_at_start'][0]:.1f} at start, "
             f"{m['loadavg_at_end'][0]:.1f} at end."), "",
             "Single fits, median ms per call (× = time relative to painstats, same k and method):",
             ""]
    cols = [("REML", "painstats"), ("REML", "pymare"), ("REML", "metafor"), ("DL", "painstats"),
            ("DL", "pymare"), ("DL", "statsmodels"), ("DL", "metafor"), ("PM", "painstats"),
            ("PM", "statsmodels")]
    names = {"statsmodels": {"DL": "statsmodels chi2", "PM": "statsmodels iterated"}}
    lines.append("| k | " + " | ".join(f"{names.get(t, {}).get(m, t)} {m}" for m, t in cols)
                 + " |")
    lines.append("|" + "---|" * (len(cols) + 1))
    single = {(r["k"], r["method"], r["tool"]): r for r in result["single"]}
    for k in sorted({r["k"] for r in result["single"]}):
        row = [_cell(single.get((k, m, t)), "ms") for m, t in cols]
        lines.append(f"| {k:,} | " + " | ".join(row) + " |")
    lines += ["", ("Batches, analyses per second (× = speed relative to the painstats kernel, "
                   "or to the painstats loop for loops):"), "",
              "| data | n | method | tool | analyses/s |", "|---|---|---|---|---|"]
    for r in result["batch"]:
        cell = _cell(r, "rate")
        for tool in ("painstats_kernel", "painstats_loop"):
            if f"{tool}_speedup" in r:
                x = r[f"{tool}_speedup"]
                cell += f"; {tool} ×{x:,.0f} faster" if x >= 100 else f"; {tool} ×{x:.2g} faster"
        lines.append(f"| {r['layout']} | {r['n_analyses']:,} | {r['method']} | {r['tool']} | "
                     f"{cell} |")
    lines += ["", "Agreement with painstats on the same data (single fits: the worst k):", "",
              ("| data | method | painstats vs | tau2 max rel. diff | tau2 max abs. diff | "
               "tau2 = 0 in only one | estimate max rel. diff |"), "|---|---|---|---|---|---|---|"]
    for row in _agreement_rows(result["agreement"]):
        lines.append("| " + " | ".join(row) + " |")
    k = result["config"]["memory_k"]
    lines += ["", (f"Memory of one fit, k = {k:,} (inputs: 2 x k doubles = "
                   f"{16 * k / 2**20:.1f} MiB; a k x k matrix would be {8 * k * k / 2**40:.1f} "
                   "TiB):"), "",
              "| tool | method | tracemalloc peak | in k doubles | peak RSS increase |",
              "|---|---|---|---|---|"]
    for m in result["memory"]:
        if m.get("status") == "ok":
            lines.append(f"| {m['tool']} | {m['method']} | "
                         f"{m['tracemalloc_peak_bytes'] / 2**20:.1f} MiB | "
                         f"{m['tracemalloc_peak_in_k_doubles']:.1f} | "
                         f"{m['peak_rss_increase_bytes'] / 2**20:.1f} MiB |")
    lines += ["", "| goal | target | measured | met |", "|---|---|---|---|"]
    for g in result["goals"]:
        lines.append(f"| {g['goal']} | {g['target']} | {g['measured']} | "
                     f"{'yes' if g['met'] else '**no**'} |")
    return "\n".join(lines)


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.integer, np.floating, np.bool_)):
        return o.item()
    raise TypeError(type(o))


if __name__ == "__main__":
    sys.exit(main())
