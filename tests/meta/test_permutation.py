"""permutation_test() against R metafor permutest(), its definitions, and bad input.

The reference values come from ``validation/metafor/permutest.R`` and live in
``tests/data/metafor_permutest.json`` with the data of every case, so these tests never
need R.

* Exact tests (all 2^k sign flips, or all distinct orders of the moderator rows) are
  deterministic: the p-values are counts and must be identical, and the sorted permutation
  distributions must agree value by value at the tolerance of the fits behind them.
* Random tests draw with R's generator there and NumPy's here, so they agree within Monte
  Carlo error only; their permutation distributions are compared with a two-sample
  Kolmogorov-Smirnov test, and reproducibility is tested with the same ``random_seed``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tolerances  # tests/tolerances.py (tests/ is on sys.path via conftest.py)
from numpy.testing import assert_allclose, assert_array_equal
from reference import num  # tests/reference.py
from scipy import stats

from painstats.errors import InputTypeError, ValidationError
from painstats.meta import meta_regression, random_effects
from painstats.meta.permutation import (
    COMPARISON_TOLERANCE,
    MAX_EXACT,
    PermutationTestResult,
    permutation_test,
)

_TESTS_DIR = Path(__file__).resolve().parents[1]
FIXTURE_PATH = _TESTS_DIR / "data" / "metafor_permutest.json"




tol = tolerances.tol

REFERENCE = json.loads(FIXTURE_PATH.read_text(encoding="utf-8"))
DATASETS = REFERENCE["datasets"]
CASES = REFERENCE["cases"]
EXACT = [c for c in CASES if c["exact"]]
RANDOM = [c for c in CASES if not c["exact"]]
ITERATIVE = {"REML", "ML", "PM", "EB"}


def fit_case(case: dict):
    ds = DATASETS[case["dataset"]]
    frame = pd.DataFrame({"yi": num(ds["yi"]), "vi": num(ds["vi"])})
    if case["moderator"]:
        frame["x"] = num(ds["x"])
        return meta_regression("yi ~ x", data=frame, method=case["method"], test=case["test"])
    return random_effects(frame["yi"], frame["vi"], method=case["method"], test=case["test"])


def kind(case: dict) -> str:
    """Tolerance of the permuted fits: iterative tau^2, or closed form (raw calendar years
    as the moderator make X'X ill-conditioned: cond ~1e10, see tests/tolerances.py)."""
    if case["method"] in ITERATIVE:
        return "iterative"
    ds = DATASETS[case["dataset"]]
    if case["moderator"]:
        X = np.column_stack([np.ones(ds["k"]), num(ds["x"])])
        if np.linalg.cond(X.T @ X) > 1e8:
            return "closed_form_ill_conditioned"
    return "closed_form"


def ids(cases):
    return [c["id"] for c in cases]


# ---------------------------------------------------------------------------------------
# against metafor


def test_fixture_covers_full_grid():
    """The grid cannot quietly shrink: k = 5..8, intercept-only and one moderator, z and knha."""
    assert REFERENCE["metafor_version"] == "3.8.1"
    exact_int = {(DATASETS[c["dataset"]]["k"], c["method"], c["test"]) for c in EXACT
                 if not c["moderator"]}
    assert exact_int == {(k, m, t) for k in (5, 6, 7, 8) for m in ("REML", "DL", "FE")
                         for t in ("z", "knha")}
    exact_reg = {(DATASETS[c["dataset"]]["k"], c["test"]) for c in EXACT if c["moderator"]}
    assert exact_reg == {(k, t) for k in (5, 6, 7, 8) for t in ("z", "knha")}
    assert len(EXACT) == 24 + 20 + 3
    assert len(RANDOM) == 4
    # ties among the moderator rows: fewer distinct orders than k!
    tied = [c for c in EXACT if c["moderator"]
            and c["expected"]["exact_iter"] < math.factorial(c["expected"]["k"])]
    assert {c["dataset"] for c in tied} == {"bcg_k6", "haeuser2009_pain_k6", "hackshaw1998_k7",
                                            "rubinstein2019_k8"}
    assert max(c["expected"]["n_permutations"] for c in EXACT) == 40320
    assert all(c["expected"]["n_failed"] == 0 for c in CASES)


@pytest.mark.parametrize("case", EXACT, ids=ids(EXACT))
def test_exact_test_matches_metafor(case):
    model = fit_case(case)
    res = permutation_test(model, exact=True)
    exp = case["expected"]
    assert res.exact
    assert res.n_permutations == exp["n_permutations"] == exp["exact_iter"]
    assert res.n_exact == exp["exact_iter"]
    # p-values are counts over the same set of permutations: identical
    assert_allclose(res.coef_pvalues.to_numpy(), num(exp["pvalue"]), **tol("exact"))
    assert_allclose(res.qm_pvalue, exp["qm_pvalue"], **tol("exact"))
    assert_allclose(res.qm, exp["qm"], **tol(kind(case)))
    assert_allclose(res.coef["statistic"].to_numpy(), num(exp["statistic"]), **tol(kind(case)))
    if exp["null_qm_sorted"] is not None:
        assert_allclose(np.sort(res.null_qm), num(exp["null_qm_sorted"]), **tol(kind(case)))
        for j, col in enumerate(res.null_statistics.columns):
            assert_allclose(np.sort(res.null_statistics[col].to_numpy()),
                            num(exp["null_statistics_sorted"][j]), **tol(kind(case)))
            assert_allclose(np.sort(res.null_estimates[col].to_numpy()),
                            num(exp["null_estimates_sorted"][j]), **tol(kind(case)))


SMALL_EXACT = [c for c in EXACT if c["expected"]["exact_iter"] <= 720]


@pytest.mark.parametrize("case", SMALL_EXACT, ids=ids(SMALL_EXACT))
def test_exact_is_chosen_when_it_fits_in_n_permutations(case):
    """exact=None (metafor's exact=FALSE) enumerates when that needs <= n_permutations."""
    model = fit_case(case)
    n = case["expected"]["exact_iter"]
    res = permutation_test(model, n_permutations=n)
    assert res.exact and res.n_permutations == n
    assert_allclose(res.coef_pvalues.to_numpy(), num(case["expected"]["pvalue"]), **tol("exact"))
    smaller = permutation_test(model, n_permutations=n - 1, random_seed=1)
    assert not smaller.exact and smaller.n_permutations == n - 1


@pytest.mark.parametrize("case", RANDOM, ids=ids(RANDOM))
def test_random_test_agrees_with_metafor_within_monte_carlo_error(case):
    model = fit_case(case)
    exp = case["expected"]
    res = permutation_test(model, n_permutations=exp["n_permutations"], random_seed=20260)
    assert not res.exact and res.n_permutations == 1000
    ours = np.append(res.coef_pvalues.to_numpy(), res.qm_pvalue)
    theirs = np.append(num(exp["pvalue"]), exp["qm_pvalue"])
    # two independent estimates of the same p: |difference| <= 4 sd of the difference
    p = np.clip((ours + theirs) / 2, 1 / 1000, None)
    assert np.all(np.abs(ours - theirs) <= 4 * np.sqrt(2 * p * (1 - p) / 1000) + 1e-12)
    for j, col in enumerate(res.null_statistics.columns):
        ks = stats.ks_2samp(res.null_statistics[col].to_numpy(),
                            num(exp["null_statistics_sorted"][j]))
        assert ks.pvalue > 1e-3, f"{col}: permutation distributions differ (KS p = {ks.pvalue})"
    assert stats.ks_2samp(res.null_qm, num(exp["null_qm_sorted"])).pvalue > 1e-3


# ---------------------------------------------------------------------------------------
# definitions


@pytest.fixture(scope="module")
def bcg() -> pd.DataFrame:
    ds = DATASETS["bcg"]
    return pd.DataFrame({"yi": num(ds["yi"]), "vi": num(ds["vi"]), "x": num(ds["x"])})


def test_random_test_is_reproducible_with_a_seed(bcg):
    model = random_effects(bcg["yi"], bcg["vi"])
    a = permutation_test(model, n_permutations=300, random_seed=5)
    b = permutation_test(model, n_permutations=300, random_seed=np.random.default_rng(5))
    c = permutation_test(model, n_permutations=300, random_seed=6)
    assert_array_equal(a.null_statistics, b.null_statistics)
    assert a.pvalue == b.pvalue
    assert not np.array_equal(a.null_statistics, c.null_statistics)
    reg = meta_regression("yi ~ x", data=bcg)
    d = permutation_test(reg, n_permutations=200, random_seed=11)
    e = permutation_test(reg, n_permutations=200, random_seed=11)
    assert_array_equal(d.null_qm, e.null_qm)


def test_first_random_permutation_is_the_observed_data(bcg):
    """metafor puts the observed statistic first, so p >= 1/n_permutations."""
    model = random_effects(bcg["yi"], bcg["vi"])
    res = permutation_test(model, n_permutations=50, random_seed=3)
    assert_allclose(res.null_statistics.iloc[0, 0], model.statistic, **tol("iterative"))
    assert res.pvalue >= 1 / 50
    reg = meta_regression("yi ~ x", data=bcg)
    res = permutation_test(reg, n_permutations=50, random_seed=3)
    assert_allclose(res.null_qm[0], reg.qm, **tol("iterative"))
    assert_allclose(res.null_statistics.iloc[0].to_numpy(), reg.coef["statistic"].to_numpy(),
                    **tol("iterative"))


def test_p_value_is_the_share_at_least_as_extreme(bcg):
    """p = mean(|z*| >= |z| - comptol); the observed statistic itself counts."""
    model = random_effects(bcg["yi"][:9], bcg["vi"][:9], method="DL")
    res = permutation_test(model, exact=True)
    z = res.null_statistics["overall"].to_numpy()
    assert res.n_permutations == 2**9
    assert res.pvalue == np.mean(np.abs(z) >= abs(model.statistic) - COMPARISON_TOLERANCE)
    # flipping every sign gives -z: |z| is reached at least twice
    assert res.pvalue >= 2 / 2**9
    assert_allclose(np.sort(z), np.sort(-z), **tol("closed_form"))
    assert_allclose(res.null_qm, z**2, **tol("closed_form"))


def test_meta_regression_qm_is_the_batch_wald_statistic(bcg):
    """The permuted QM equals meta_regression()'s qm on the permuted data (F under hksj)."""
    sub = bcg.iloc[:6].reset_index(drop=True)
    for test in ("z", "hksj"):
        reg = meta_regression("yi ~ x", data=sub, method="REML", test=test)
        res = permutation_test(reg, exact=True)
        assert res.n_exact == 360  # ablat 44 occurs twice: 6!/2!
        order = [3, 0, 5, 1, 2, 4]
        perm = sub.assign(x=sub["x"].to_numpy()[order])
        ref = meta_regression("yi ~ x", data=perm, method="REML", test=test)
        hit = np.isclose(res.null_qm, ref.qm, rtol=1e-9, atol=0)
        assert hit.any()


def test_distinct_orders_are_counted_as_metafor():
    X = np.array([[1, 0], [1, 0], [1, 1], [1, 1], [1, 1], [1, 2], [1, 2], [1, 2]], float)
    from painstats.meta.permutation import _multiset_orders, _n_unique_orders

    assert _n_unique_orders(X) == math.factorial(8) // (2 * 6 * 6)
    orders = _multiset_orders(np.array([0, 0, 1, 1, 1, 2, 2, 2]))
    assert orders.shape == (560, 8)
    assert len({tuple(r) for r in orders}) == 560


def test_result_summary_and_frame(bcg):
    reg = meta_regression("yi ~ x", data=bcg.iloc[:6], test="hksj")
    res = permutation_test(reg, exact=True)
    assert isinstance(res, PermutationTestResult)
    text = str(res.summary())
    assert "Test of Moderators" in text and "F(df1 = 1, df2 = 4)" in text
    assert "based on permutation testing" in text and "tval" in text
    assert "<pre>" in res.summary()._repr_html_()
    frame = res.to_frame()
    assert list(frame.columns) == ["term", "estimate", "se", "statistic", "df", "p_value",
                                   "ci_low", "ci_high"]
    assert_allclose(frame["p_value"], res.coef_pvalues, **tol("exact"))
    assert res.pvalue == res.qm_pvalue
    one = permutation_test(random_effects(bcg["yi"][:5], bcg["vi"][:5]))
    assert "zval" in str(one) and "p-value based on permutation testing" in str(one)
    assert one.pvalue == one.coef_pvalues["overall"]
    with pytest.raises(AttributeError):
        one.pvalue = 0.5  # frozen


def test_progress_bar_runs(bcg, capsys):
    model = random_effects(bcg["yi"][:6], bcg["vi"][:6])
    res = permutation_test(model, progress=True)
    assert res.exact


# ---------------------------------------------------------------------------------------
# bad input


def test_too_few_studies_raise():
    model = random_effects([0.1, 0.3], [0.02, 0.03])
    with pytest.raises(ValidationError, match="at least 3 studies; got k=2"):
        permutation_test(model)


@pytest.mark.parametrize("bad", [0, 1, -5])
def test_n_permutations_below_two_raises(bcg, bad):
    model = random_effects(bcg["yi"], bcg["vi"])
    with pytest.raises(ValidationError, match="n_permutations must be at least 2"):
        permutation_test(model, n_permutations=bad)


@pytest.mark.parametrize("bad", [2.5, float("nan")])
def test_n_permutations_not_whole_raises(bcg, bad):
    model = random_effects(bcg["yi"], bcg["vi"])
    with pytest.raises(ValidationError, match="n_permutations must be a whole number"):
        permutation_test(model, n_permutations=bad)


def test_n_permutations_wrong_type_raises(bcg):
    model = random_effects(bcg["yi"], bcg["vi"])
    with pytest.raises(InputTypeError, match="n_permutations must be a whole number"):
        permutation_test(model, n_permutations="many")


def test_exact_wrong_type_raises(bcg):
    model = random_effects(bcg["yi"], bcg["vi"])
    with pytest.raises(InputTypeError, match="exact must be True, False or None"):
        permutation_test(model, exact="yes")


def test_exact_too_large_raises(bcg):
    reg = meta_regression("yi ~ x", data=bcg)
    with pytest.raises(ValidationError, match="exact permutation test would need"):
        permutation_test(reg, exact=True)
    assert 2**13 <= MAX_EXACT


def test_wrong_model_type_raises():
    with pytest.raises(InputTypeError, match="needs a RandomEffectsResult or MetaRegression"):
        permutation_test(pd.DataFrame({"yi": [1.0]}))
