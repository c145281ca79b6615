"""painstats.meta.bias (egger_test, rank_correlation_test, pet_peese, fail_safe_n) against
R metafor 3.8-1 (regtest, ranktest, fsn) and stats::lm.

Reference values: ``validation/metafor/bias.R`` -> ``tests/data/metafor_bias.json`` (data
included, so these tests never need R). Every field is compared with ``assert_allclose`` at
the tolerance of its kind (``tests/tolerances.py``): closed form 1e-10 relative, quantities
from an iterative tau^2 (ML, REML, EB, PM meta-regressions) 1e-6.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tolerances  # tests/tolerances.py (tests/ is on sys.path via conftest.py)
from numpy.testing import assert_allclose
from reference import num  # tests/reference.py
from scipy import stats

from painstats.errors import InputTypeError, ValidationError
from painstats.meta import meta_regression, random_effects
from painstats.meta.bias import (
    EGGER_MODELS,
    EGGER_PREDICTORS,
    egger_test,
    kendall_lower_tail,
    pet_peese,
    rank_correlation_test,
)
from painstats.meta.fail_safe_n import FAIL_SAFE_N_METHODS, fail_safe_n

_TESTS_DIR = Path(__file__).resolve().parents[1]
FIXTURE_PATH = _TESTS_DIR / "data" / "metafor_bias.json"




tol = tolerances.tol

REFERENCE = json.loads(FIXTURE_PATH.read_text(encoding="utf-8"))
META = REFERENCE["meta"]
DATASETS = REFERENCE["datasets"]
EGGER_CASES = REFERENCE["egger"]
RANK_CASES = REFERENCE["rank"]
FSN_CASES = REFERENCE["fail_safe_n"]
PP_CASES = REFERENCE["pet_peese"]

ITERATIVE = frozenset({"ML", "REML", "EB", "PM"})
R_TEST = {"z": "z", "knha": "hksj", "t": "t"}


def fit(name: str, method: str = "REML", test: str = "z", level: float = 0.95):
    ds = DATASETS[name]
    return random_effects(num(ds["yi"]), num(ds["vi"]), method=method, test=R_TEST[test],
                          level=level)


def ni_of(name: str):
    ni = DATASETS[name].get("ni")
    return None if ni is None else num(ni)


class Fields:
    """Collects every mismatching field of one case, then fails once listing all of them."""

    def __init__(self, case_id: str):
        self.case_id = case_id
        self.failures: list[str] = []

    def close(self, name, actual, desired, kind: str) -> None:
        try:
            assert_allclose(np.asarray(actual, dtype=float), num(desired),
                            err_msg=f"{self.case_id}: {name} ({kind})", **tol(kind))
        except AssertionError as err:
            self.failures.append(str(err))

    def done(self) -> None:
        if self.failures:
            pytest.fail("\n".join(self.failures))


# ---------------------------------------------------------------------------------------
# the grid


def test_fixture_records_versions():
    assert META["metafor_version"] == "3.8.1"
    assert META["rma_control"] == {"threshold": 1e-12, "tol": 1e-13, "maxiter": 10000}
    assert META["r_version"].startswith("R version 4")


def test_fixture_covers_full_grid():
    """The fixture cannot quietly shrink: counts per dataset, method, test and predictor."""
    assert len(DATASETS) == 18
    with_ni = [n for n, d in DATASETS.items() if d.get("ni") is not None]
    assert len(with_ni) == 15
    for name in ("bcg", "hackshaw1998", "molloy2014", "normand1999", "rubinstein2019",
                 "haeuser2009_pain", "lawlor2001", "sim_k3", "sim_k5", "sim_k10", "sim_k30",
                 "sim_k100", "sim_asym_left", "sim_asym_right", "sim_ties_vi", "sim_tau2_zero",
                 "sim_k0_zero", "sim_k3_fill"):
        assert name in DATASETS
    rma = collections.Counter((c["method"], c["test"], c["predictor"])
                              for c in EGGER_CASES if c["model"] == "rma" and c["level"] == 0.95)
    for method in META["methods"]:
        for test in META["egger_tests"]:
            for pred in META["egger_var_predictors"]:
                assert rma[(method, test, pred)] == 18, (method, test, pred)
    for method in META["egger_n_methods"]:
        for test in META["egger_n_tests"]:
            for pred in META["egger_n_predictors"]:
                assert rma[(method, test, pred)] == 15, (method, test, pred)
    lm = collections.Counter((c["predictor"], c["level"])
                             for c in EGGER_CASES if c["model"] == "lm")
    assert all(lm[(p, lv)] == 18 for p in ("sei", "vi") for lv in (0.95, 0.90))
    assert all(lm[(p, lv)] == 15 for p in META["egger_n_predictors"] for lv in (0.95, 0.90))
    assert sum(c["level"] == 0.90 and c["model"] == "rma" for c in EGGER_CASES) == 4
    assert len(EGGER_CASES) == 18 * 9 * 3 * 2 + 15 * 3 * 2 * 4 + 2 * (18 * 2 + 15 * 4) + 4
    assert len(RANK_CASES) == 18
    assert sum(not c["expected"]["exact"] for c in RANK_CASES) == 6
    assert len(FSN_CASES) == 18 * 7
    assert collections.Counter(c["method"] for c in FSN_CASES) == {
        "Rosenthal": 36, "Orwin": 54, "Rosenberg": 36}
    assert len(PP_CASES) == 19
    assert set(EGGER_PREDICTORS) == {c["predictor"] for c in EGGER_CASES}
    assert set(EGGER_MODELS) == {c["model"] for c in EGGER_CASES}
    assert set(FAIL_SAFE_N_METHODS) == {c["method"] for c in FSN_CASES}


# ---------------------------------------------------------------------------------------
# against metafor


def _kind(case: dict, field: str = "") -> str:
    if case["model"] == "rma" and case["method"] in ITERATIVE:
        return "iterative_percent" if field == "i2" else "iterative"
    return "closed_form"


@pytest.mark.parametrize("case", EGGER_CASES, ids=lambda c: c["id"])
def test_egger_matches_metafor_regtest(case):
    res = fit(case["dataset"], case["method"], case["test"], case["level"])
    eg = egger_test(res, model=case["model"], predictor=case["predictor"],
                    ni=ni_of(case["dataset"]))
    ex = case["expected"]
    chk = Fields(case["id"])
    for name in ("statistic", "pvalue", "limit_estimate", "limit_se", "limit_ci_low",
                 "limit_ci_high", "slope"):
        chk.close(name, getattr(eg, name), ex[name], _kind(case))
    chk.close("df", eg.df, ex["df"], "exact")
    coef = eg.fit.coef
    for name in ("estimate", "se", "statistic", "pvalue", "ci_low", "ci_high"):
        chk.close(f"fit.{name}", coef[name].to_numpy(), ex["fit"]["coef"][name], _kind(case))
    if case["model"] == "rma":
        f = ex["fit"]
        for name in ("tau2", "tau2_se", "i2", "h2", "qm", "qm_pvalue"):
            chk.close(f"fit.{name}", getattr(eg.fit, name), f[name], _kind(case, name))
        chk.close("fit.qe", eg.fit.qe, f["qe"], "closed_form")
        chk.close("fit.qe_pvalue", eg.fit.qe_pvalue, f["qe_pvalue"], "closed_form")
    else:
        assert eg.fit.df == ex["fit"]["df"] == res.k - 2
    chk.done()
    assert eg.k == res.k and eg.level == case["level"]


@pytest.mark.parametrize("case", RANK_CASES, ids=lambda c: c["id"])
def test_rank_correlation_matches_metafor_ranktest(case):
    rt = rank_correlation_test(fit(case["dataset"]))
    chk = Fields(case["id"])
    chk.close("statistic", rt.statistic, case["expected"]["statistic"], "closed_form")
    chk.close("pvalue", rt.pvalue, case["expected"]["pvalue"], "closed_form")
    chk.done()
    assert rt.exact is case["expected"]["exact"]


@pytest.mark.parametrize("case", FSN_CASES, ids=lambda c: c["id"])
def test_fail_safe_n_matches_metafor_fsn(case):
    ds = DATASETS[case["dataset"]]
    kwargs = {"method": case["method"], "alpha": case["alpha"]}
    if case["target"] is not None:
        kwargs["target"] = case["target"]
    if case["weighted"]:
        kwargs["weighted"] = True
    f = fail_safe_n(num(ds["yi"]), num(ds["vi"]), **kwargs)
    ex = case["expected"]
    chk = Fields(case["id"])
    chk.close("n", f.n, ex["n"], "exact")
    for name in ("pvalue", "mean_effect", "target", "alpha"):
        chk.close(name, getattr(f, name), ex[name], "closed_form")
    chk.done()


@pytest.mark.parametrize("case", PP_CASES, ids=lambda c: c["id"])
def test_pet_peese_matches_weighted_lm(case):
    pp = pet_peese(fit(case["dataset"], level=case["level"]))
    chk = Fields(case["id"])
    for part in ("pet", "peese"):
        ex = case["expected"][part]
        for name in ("estimate", "se", "statistic", "pvalue", "ci_low", "ci_high"):
            chk.close(f"{part}_{name}", getattr(pp, f"{part}_{name}"), ex["coef"][name][0],
                      "closed_form")
        chk.close(f"{part}_slope", getattr(pp, f"{part}_slope"), ex["coef"]["estimate"][1],
                  "closed_form")
        chk.close(f"{part}.df", pp.df, ex["df"], "exact")
    chk.done()
    chosen = "pet" if pp.pet_pvalue >= 0.05 else "peese"
    assert pp.selected == chosen.upper()
    assert pp.estimate == getattr(pp, f"{chosen}_estimate")
    assert pp.ci_low == getattr(pp, f"{chosen}_ci_low")


# ---------------------------------------------------------------------------------------
# boundary cases and identities


def test_egger_with_three_studies_has_one_df():
    eg = egger_test(fit("sim_k3", "REML", "knha"))
    assert eg.df == 1
    assert egger_test(fit("sim_k3"), model="lm").df == 1


def test_egger_tau2_zero_equals_common_effect_regression():
    """With tau^2 = 0 (truncated DL) the mixed-effects test is the common-effect one."""
    res = fit("sim_tau2_zero", "DL")
    assert res.tau2 == 0
    re, fe = egger_test(res), egger_test(fit("sim_tau2_zero", "FE"))
    assert_allclose(re.statistic, fe.statistic, **tol("closed_form"))
    assert_allclose(re.limit_estimate, fe.limit_estimate, **tol("closed_form"))


def test_egger_lm_is_pet():
    res = fit("bcg")
    eg, pp = egger_test(res, model="lm"), pet_peese(res)
    assert_allclose(eg.limit_estimate, pp.pet_estimate, **tol("closed_form"))
    assert_allclose(eg.slope, pp.pet_slope, **tol("closed_form"))
    assert_allclose(egger_test(res, model="lm", predictor="vi").limit_estimate,
                    pp.peese_estimate, **tol("closed_form"))


def test_egger_n_predictors_limit_estimate_only_as_n_grows():
    res = fit("bcg")
    ni = ni_of("bcg")
    assert np.isnan(egger_test(res, predictor="ni", ni=ni).limit_estimate)
    assert np.isnan(egger_test(res, predictor="sqrtni", ni=ni).limit_ci_low)
    assert np.isfinite(egger_test(res, predictor="ninv", ni=ni).limit_estimate)


def test_egger_options_are_case_insensitive_and_fit_predicts():
    res = fit("bcg")
    eg = egger_test(res, model="RMA", predictor="SE")
    assert (eg.model, eg.predictor) == ("rma", "sei")
    pred = eg.fit.predict(pd.DataFrame({"sei": [0.0]}))
    assert_allclose(pred["pred"].iloc[0], eg.limit_estimate, **tol("closed_form"))


def test_rank_test_ties_use_normal_approximation():
    rt = rank_correlation_test(fit("sim_ties_vi"))
    assert not rt.exact
    assert_allclose(rt.pvalue, 2 * stats.norm.sf(abs(rt.z)), **tol("closed_form"))
    assert "normal approximation" in str(rt.summary())


def test_kendall_exact_distribution_matches_scipy():
    rng = np.random.default_rng(20261125)
    for n in (2, 3, 7, 25, 60):
        x = rng.normal(size=n)
        y = x + 2 * rng.normal(size=n)
        ours = rank_correlation_test(random_effects(x, np.exp(y), method="FE"))
        assert ours.exact
        w = 1 / np.exp(y)
        ystar = (x - np.sum(w * x) / np.sum(w)) / np.sqrt(np.exp(y) - 1 / np.sum(w))
        ref = stats.kendalltau(ystar, np.exp(y), method="exact")
        assert_allclose(ours.statistic, ref.statistic, **tol("closed_form"))
        assert_allclose(ours.pvalue, ref.pvalue, **tol("closed_form"))


def test_kendall_lower_tail_small_n_by_enumeration():
    """P(T <= q) for n = 5 against the Mahonian numbers 1, 4, 9, 15, 20, 22, 20, ..."""
    counts = np.array([1, 4, 9, 15, 20, 22, 20, 15, 9, 4, 1])
    for q in range(-1, 12):
        expected = counts[: max(q + 1, 0)].sum() / 120
        assert_allclose(kendall_lower_tail(5, q), expected, **tol("closed_form"))


def test_rank_test_exact_beyond_r_limit():
    """R's cor.test(exact=TRUE) returns NaN for k > 170; painstats stays exact."""
    rng = np.random.default_rng(7)
    k = 200
    vi = rng.uniform(0.01, 0.2, k)
    yi = 0.3 + 0.8 * np.sqrt(vi) + rng.normal(0, np.sqrt(vi))
    rt = rank_correlation_test(random_effects(yi, vi, method="FE"))
    assert rt.exact and 0 < rt.pvalue < 1
    assert_allclose(rt.pvalue, 2 * stats.norm.sf(abs(rt.z)), rtol=0.05)


def test_fail_safe_n_orwin_default_target_gives_k():
    d = DATASETS["lawlor2001"]
    f = fail_safe_n(num(d["yi"]), method="Orwin")
    assert f.n == d["k"] and np.isnan(f.pvalue)


def test_fail_safe_n_orwin_zero_target_is_infinite():
    f = fail_safe_n([0.2, 0.4, 0.3], method="Orwin", target=0.0)
    assert np.isinf(f.n)
    assert "Fail-safe N: Inf" in str(f.summary())


def test_fail_safe_n_rounding_near_whole_numbers():
    """Rounded up unless within sqrt(eps) ~ 1.5e-8 of a whole number (metafor)."""
    # Orwin with target t gives k (m - t)/t exactly: m = 0.3, t = 0.1 -> 2k up to rounding
    f = fail_safe_n([0.2, 0.3, 0.4], method="Orwin", target=0.1)
    assert f.n == 6 and abs(f.n_unrounded - 6) < 1e-8
    g = fail_safe_n([0.2, 0.3, 0.4], method="Orwin", target=0.11)
    assert g.n == np.ceil(g.n_unrounded)


def test_fail_safe_n_reads_columns_and_drops_missing():
    df = pd.DataFrame({"y": [0.5, 0.2, np.nan, 0.4], "v": [0.04, 0.05, 0.03, 0.02]})
    f = fail_safe_n("y", "v", data=df, missing="drop")
    g = fail_safe_n([0.5, 0.2, 0.4], [0.04, 0.05, 0.02])
    assert f.n == g.n and f.k == 3
    assert fail_safe_n("y", data=df, method="Orwin", missing="drop").k == 3


def test_fail_safe_n_accepts_a_fitted_model(bcg):
    assert fail_safe_n(bcg, method="Rosenberg").n == 370
    with pytest.raises(ValidationError, match="do not pass vi or data with it"):
        fail_safe_n(bcg, bcg.vi)


def test_pet_peese_selection_rule():
    res = fit("sim_asym_left")
    pp = pet_peese(res)
    assert pp.selected == ("PEESE" if pp.pet_pvalue < 0.05 else "PET")
    one = pet_peese(res, alternative="greater", alpha=0.10)
    t = pp.pet_statistic
    assert_allclose(one.selection_pvalue, stats.t.sf(t, pp.df), **tol("closed_form"))
    assert one.selected == ("PEESE" if stats.t.sf(t, pp.df) < 0.10 else "PET")
    less = pet_peese(res, alternative="less")
    assert_allclose(less.selection_pvalue, stats.t.cdf(t, pp.df), **tol("closed_form"))


def test_pet_peese_selects_peese_when_pet_significant():
    pp = pet_peese(fit("bcg"), alpha=0.999)
    assert pp.selected == "PEESE" and pp.estimate == pp.peese_estimate
    assert list(pp.to_frame()["term"]) == ["PET", "PEESE", "PET-PEESE"]


# ---------------------------------------------------------------------------------------
# print-outs and tidy frames (layout as metafor prints bcg)


def test_summaries_match_metafor_layout():
    res = fit("bcg")
    text = str(egger_test(res).summary())
    assert "Model:     mixed-effects meta-regression model" in text
    assert "Test for Funnel Plot Asymmetry: z = -0.8033, p = 0.4218" in text
    assert "Limit Estimate (as sei -> 0):   b = -0.5104 (CI: -1.1182, 0.0974)" in text
    text = str(egger_test(res, model="lm"))
    assert "Model:     weighted regression with multiplicative dispersion" in text
    assert "Test for Funnel Plot Asymmetry: t = -1.4013, df = 11, p = 0.1887" in text
    assert "Kendall's tau = 0.0256, p = 0.9524" in str(rank_correlation_test(res))
    d = DATASETS["bcg"]
    ros = str(fail_safe_n(num(d["yi"]), num(d["vi"])))
    assert "Observed Significance Level: <.0001\nTarget Significance Level:   0.05" in ros
    assert "Fail-safe N: 598" in ros
    orw = str(fail_safe_n(num(d["yi"]), method="Orwin"))
    assert "Average Effect Size: -0.7407\nTarget Effect Size:  -0.3703" in orw
    rbg = str(fail_safe_n(num(d["yi"]), num(d["vi"]), method="Rosenberg"))
    assert "Average Effect Size:         -0.4303" in rbg and "Fail-safe N: 370" in rbg
    assert "PET test of the intercept" in str(pet_peese(res))
    ni_text = str(egger_test(res, predictor="ni", ni=ni_of("bcg")))
    assert "Predictor: sample size" in ni_text and "Limit Estimate" not in ni_text
    assert egger_test(res).summary()._repr_html_().startswith("<pre>")


def test_to_frames():
    res = fit("bcg")
    eg = egger_test(res).to_frame()
    assert list(eg["term"]) == ["Intercept", "sei"]
    rt = rank_correlation_test(res).to_frame()
    assert rt.loc[0, "term"] == "kendall_tau"
    f = fail_safe_n(res.yi, res.vi).to_frame()
    assert f.loc[0, "n"] == 598 and f.loc[0, "method"] == "Rosenthal"


# ---------------------------------------------------------------------------------------
# every raise


@pytest.fixture(scope="module")
def bcg():
    return fit("bcg")


def test_meta_regression_input_raises():
    df = pd.DataFrame({"yi": num(DATASETS["bcg"]["yi"]), "vi": num(DATASETS["bcg"]["vi"]),
                       "x": np.arange(13.0)})
    reg = meta_regression("yi ~ x", data=df)
    for func in (egger_test, rank_correlation_test, pet_peese):
        with pytest.raises(ValidationError, match="intercept-only model"):
            func(reg)


def test_non_result_input_raises():
    with pytest.raises(InputTypeError, match="needs a RandomEffectsResult"):
        egger_test([0.1, 0.2, 0.3])


def test_egger_too_few_studies_raises():
    res = random_effects([0.1, 0.3], [0.01, 0.02], method="DL")
    with pytest.raises(ValidationError, match="egger_test needs at least 3 studies.*k=2"):
        egger_test(res)
    with pytest.raises(ValidationError, match="pet_peese needs at least 3 studies"):
        pet_peese(res)


def test_rank_test_too_few_studies_raises():
    with pytest.raises(ValidationError, match="rank_correlation_test needs at least 2 studies"):
        rank_correlation_test(random_effects([0.1], [0.01], method="FE"))


def test_unknown_options_raise(bcg):
    with pytest.raises(ValidationError, match="model must be one of"):
        egger_test(bcg, model="glm")
    with pytest.raises(ValidationError, match="predictor must be one of"):
        egger_test(bcg, predictor="precision")
    with pytest.raises(ValidationError, match="alternative must be one of"):
        pet_peese(bcg, alternative="both")
    with pytest.raises(ValidationError, match="method must be one of"):
        fail_safe_n(bcg.yi, bcg.vi, method="Fisher")


def test_n_predictor_without_ni_raises(bcg):
    with pytest.raises(ValidationError, match="predictor='ninv' needs the studies' sample sizes"):
        egger_test(bcg, predictor="ninv")


def test_ni_of_wrong_length_raises(bcg):
    with pytest.raises(ValidationError, match="ni has 3 values but the model has k=13"):
        egger_test(bcg, predictor="ni", ni=[10, 20, 30])
    dropped = random_effects([0.1, np.nan, 0.3, 0.2], [0.01, 0.02, 0.03, 0.02], missing="drop")
    with pytest.raises(ValidationError, match="1 studies with missing values were dropped"):
        egger_test(dropped, predictor="ni", ni=[10, 20, 30, 40])


def test_non_positive_ni_raises(bcg):
    ni = ni_of("bcg").copy()
    ni[2] = 0
    with pytest.raises(ValidationError, match=r"ni must be positive.*study '3' \(row 3\)"):
        egger_test(bcg, predictor="sqrtni", ni=ni)


def test_constant_predictor_raises():
    res = random_effects([0.1, 0.3, 0.2, 0.5], [0.02] * 4)
    with pytest.raises(ValidationError, match="predictor sei is the same for every study"):
        egger_test(res)
    with pytest.raises(ValidationError, match="pet_peese: the predictor vi is the same"):
        pet_peese(res)
    with pytest.raises(ValidationError, match="Kendall's tau is undefined"):
        rank_correlation_test(res)


def test_bad_alpha_raises(bcg):
    with pytest.raises(ValidationError, match=r"alpha must be in \(0, 1\); got 1.5"):
        pet_peese(bcg, alpha=1.5)
    with pytest.raises(InputTypeError, match="alpha must be a number"):
        fail_safe_n(bcg.yi, bcg.vi, alpha="0.05")


def test_fail_safe_n_option_errors(bcg):
    with pytest.raises(InputTypeError, match="weighted must be True or False"):
        fail_safe_n(bcg.yi, bcg.vi, method="Orwin", weighted="yes")
    with pytest.raises(ValidationError, match="target and weighted apply to method='Orwin' only"):
        fail_safe_n(bcg.yi, bcg.vi, target=0.1)
    with pytest.raises(ValidationError,
                       match=r"vi \(sampling variances\) is required for method='Rosenberg'"):
        fail_safe_n(bcg.yi, method="Rosenberg")
    with pytest.raises(ValidationError, match="required for weighted=True"):
        fail_safe_n(bcg.yi, method="Orwin", weighted=True)
    with pytest.raises(InputTypeError, match="target must be a number"):
        fail_safe_n(bcg.yi, method="Orwin", target="half")
    with pytest.raises(ValidationError, match="target must be finite"):
        fail_safe_n(bcg.yi, method="Orwin", target=float("inf"))
    with pytest.raises(ValidationError, match="no studies left to analyse"):
        fail_safe_n([np.nan, np.nan], method="Orwin", missing="drop")
