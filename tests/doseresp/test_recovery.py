"""validation/doseresp/recovery.py: the coverage study's core runs and its statistics are right.

The full study (>= 100 datasets, ~30-60 minutes) is a script whose output is committed
(validation/doseresp/recovery_results.json); here its core function runs on two tiny datasets.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats
from tolerances import tol

from painstats.doseresp import simulate, true_curve, true_effective_dose

SCRIPT = Path(__file__).resolve().parents[2] / "validation" / "doseresp" / "recovery.py"


@pytest.fixture(scope="module")
def recovery():
    spec = importlib.util.spec_from_file_location("doseresp_recovery", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def two_records(recovery):
    # same number of studies and arms: the second fit reuses the first one's compiled C code
    kwargs = {"chains": 2, "draws": 150, "tune": 150}
    return [recovery.run_dataset(i, base_seed=7, studies=(6, 6), fit_kwargs=kwargs,
                                 simulate_kwargs={"arms_per_study": 1}) for i in range(2)]


def test_run_dataset_records_truth_intervals_and_diagnostics(recovery, two_records):
    for i, rec in enumerate(two_records):
        assert rec["index"] == i and rec["seed"] == 7 + i
        assert rec["n_studies"] == 6
        df = simulate(rec["n_studies"], random_seed=rec["seed"], arms_per_study=1)
        truth = df.attrs["truth"]
        assert rec["max_dose"] == df["sessions_per_week"].max()
        t = rec["targets"]
        assert list(t) == ["curve_1", "curve_3", "curve_5", "ED80"]
        assert_allclose([t[f"curve_{d}"]["truth"] for d in (1, 3, 5)],
                        true_curve(truth, [1, 3, 5]), **tol("closed_form"))
        # Emax -20, ED50 1.5: -20 d / (1.5 + d), independently of the simulator
        assert_allclose([t[f"curve_{d}"]["truth"] for d in (1, 3, 5)],
                        [-20 * d / (1.5 + d) for d in (1, 3, 5)], **tol("closed_form"))
        assert_allclose(t["ED80"]["truth"], true_effective_dose(
            truth, 0.8, dose_range=(0, rec["max_dose"])), **tol("closed_form"))
        for v in t.values():
            assert v["ci_low"] < v["mean"] < v["ci_high"]
            assert v["covered"] == (v["ci_low"] <= v["truth"] <= v["ci_high"])
        assert rec["max_rhat"] > 0.99 and rec["min_ess_bulk"] > 10
        assert rec["divergences"] >= 0 and rec["draws_total"] == 2 * 150
        assert rec["posterior_mean"]["emax"] < 0  # pain decreases with exercise
    summary = recovery.summarise(two_records)
    assert summary["n_datasets"] == 2
    assert summary["coverage"]["ED80"]["n"] == 2


@pytest.mark.parametrize("n", [20, 100, 120, 150])
def test_binomial_band_by_direct_summation(recovery, n):
    lo, hi = recovery.binomial_band(n, 0.9)
    pmf = [stats.binom.pmf(k, n, 0.9) for k in range(n + 1)]
    assert sum(pmf[:lo]) <= 0.025 < sum(pmf[: lo + 1])
    assert sum(pmf[hi + 1:]) <= 0.025 < sum(pmf[hi:])
    assert sum(pmf[lo: hi + 1]) >= 0.95


def test_clopper_pearson_definition(recovery):
    lo, hi = recovery.clopper_pearson(88, 100)
    assert_allclose(stats.binom.sf(87, 100, lo), 0.025, rtol=1e-8)  # P(X >= 88 | lo) = 2.5%
    assert_allclose(stats.binom.cdf(88, 100, hi), 0.025, rtol=1e-8)  # P(X <= 88 | hi) = 2.5%
    assert recovery.clopper_pearson(0, 10)[0] == 0.0 and recovery.clopper_pearson(10, 10)[1] == 1.0


def test_summarise_counts(recovery):
    def rec(covered, rhat, div):
        t = {"truth": 1.0, "mean": 1.5, "ci_low": 0.0 if covered else 1.2, "ci_high": 2.0,
             "covered": covered}
        return {"targets": {"a": t}, "max_rhat": rhat, "divergences": div, "min_ess_bulk": 500.0,
                "min_ess_tail": 400.0, "fit_warnings": [], "wall_time_s": 1.0}
    records = [rec(k < 85, 1.001 + (k == 3) * 0.02, int(k == 5)) for k in range(100)]
    s = recovery.summarise(records)
    c = s["coverage"]["a"]
    assert (c["covered"], c["rate"]) == (85, 0.85)
    assert c["within_band"] is (s["band_95"]["count"][0] <= 85)
    assert_allclose(c["mean_bias"], 0.5, **tol("closed_form"))
    assert s["rhat_below_1.01"]["count"] == 99 and s["zero_divergences"]["count"] == 99
    assert np.isclose(s["rhat_below_1.01"]["max"], 1.021)
