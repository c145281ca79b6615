"""painstats.meta.network against R metafor's rma.mv, case by case.

Reference values come from ``validation/metafor/network.R`` (tests/data/metafor_network.json):
the contrast-based model ``rma.mv(yi, V, mods = X, intercept = FALSE, random = ~ comp | study,
rho = 1/2)`` on real and simulated networks, with FE, generalised DL (tau^2 computed in R with
dense algebra, then fixed in rma.mv), ML and REML (tau^2 polished to the root of the
likelihood score). Tolerances from ``tests/tolerances.py``: closed form (FE, DL) 1e-10
relative, iterative (ML, REML) 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
import tolerances
from _network_fixture import arms_frame, fit_case, load_fixture, num
from numpy.testing import assert_allclose

REFERENCE = load_fixture()
CASES = REFERENCE["cases"]
NMA = [n for n, c in CASES.items() if c["kind"] == "nma"]
CNMA = [n for n, c in CASES.items() if c["kind"] == "cnma"]
METHODS = ("FE", "DL", "ML", "REML")


def kind(method: str, what: str = "") -> dict:
    if method in ("ML", "REML"):
        return tolerances.tol("iterative")
    return tolerances.tol("closed_form")


def test_fixture_covers_full_grid():
    """The fixture cannot quietly shrink: every case, every method, every section."""
    assert REFERENCE["versions"]["metafor_version"] == "3.8.1"
    assert set(NMA) == {
        "tsd2_parkinsons", "franchini2012", "stowe2010", "schwingshackl2014", "senn2013_md",
        "senn2013_smd", "hasselblad1998_or", "dogliotti2014_or", "dogliotti2014_rr",
        "pagliaro1992_rd", "sim_multiarm", "sim_smd", "sim_tau2_zero", "sim_large",
        "sim_star_rom", "sim_binary_or"}
    assert set(CNMA) == {"cnma_additive", "cnma_disconnected", "cnma_interaction"}
    measures = {CASES[n]["measure"] for n in CASES}
    assert measures == {"MD", "SMD", "ROM", "OR", "RR", "RD"}
    for name, case in CASES.items():
        assert tuple(case["models"]) == METHODS, name
        for m in METHODS:
            entry = case["models"][m]
            if case["kind"] == "nma":
                n = len(case["treatments"])
                assert len(entry["pairs"]) == n * (n - 1) // 2
                assert "decomposition" in entry
            else:
                assert len(entry["combinations"]) == len(case["treatments"])
    split = [n for n in NMA if "node_split" in CASES[n]["models"]["FE"]]
    assert len(split) == 13
    # multi-arm trials with 3 and 4 arms, and boundary tau2 = 0 for ML/REML, are covered
    arms = {n: arms_frame(CASES[n]).groupby("study").size().max() for n in NMA}
    assert max(arms.values()) == 4 and sum(a >= 3 for a in arms.values()) == len(NMA)
    assert CASES["sim_tau2_zero"]["models"]["REML"]["tau2"] == 0


def test_fixture_tau2_is_converged():
    """The stored ML/REML tau2 agree with rma.mv's own optimum to its precision (~1e-7)."""
    for name, case in CASES.items():
        for m in ("ML", "REML"):
            e = case["models"][m]
            assert_allclose(e["tau2"], e["tau2_rma_mv"], rtol=1e-5, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("name", NMA)
def test_contrasts_and_covariance_match(name):
    """The contrasts and their block-diagonal V are built exactly as in the R script."""
    case = CASES[name]
    res = fit_case(case, "FE")
    ours = res.data.contrast_frame()
    ref = case["contrasts"]
    assert list(ours["study"]) == list(ref["study"])
    assert list(ours["treat1"]) == list(ref["treat1"])
    assert list(ours["treat2"]) == list(ref["treat2"])
    assert_allclose(ours["yi"], num(ref["yi"]), **tolerances.tol("closed_form"))
    V = np.array([num(r) for r in case["V"]])
    data = res.data
    blocks = [data.cov[s][: data.mask[s].sum(), : data.mask[s].sum()]
              for s in range(data.n_studies)]
    dense = np.zeros_like(V)
    i = 0
    for b in blocks:
        k = b.shape[0]
        dense[i:i + k, i:i + k] = b
        i += k
    assert_allclose(dense, V, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", NMA)
def test_nma_matches_rma_mv(name, method):
    """tau2, every pairwise effect with SE, CI and prediction interval, and Q."""
    case = CASES[name]
    ref = case["models"][method]
    res = fit_case(case, method)
    tol = kind(method)
    assert_allclose(res.tau2, ref["tau2"], **tol)
    model = "common" if method == "FE" else "random"
    frame = res.to_frame(model).set_index(["treat1", "treat2"])
    for pair in ref["pairs"]:
        row = frame.loc[(pair["treat1"], pair["treat2"])]
        for col in ("estimate", "se", "ci_low", "ci_high"):
            assert_allclose(row[col], num(pair[col]), **tol, err_msg=f"{col} {pair}")
        if method != "FE":
            assert_allclose(row["pi_low"], num(pair["pi_low"]), **tol)
            assert_allclose(row["pi_high"], num(pair["pi_high"]), **tol)
        else:  # rma.mv's predict() repeats the CI for a model without variance components;
            # painstats gives no prediction interval for the common-effect model
            assert np.isnan(row["pi_low"]) and np.isnan(row["pi_high"])
            assert num(pair["pi_low"]) == num(pair["ci_low"])
    if method == "FE":
        assert_allclose(res.q, ref["q"], **tolerances.tol("closed_form"))
        assert res.q_df == ref["q_df"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", NMA)
def test_basic_parameters_and_vcov(name, method):
    """Effects against the first treatment and their full covariance matrix (rma.mv vb)."""
    case = CASES[name]
    ref = case["models"][method]
    res = fit_case(case, method)
    est = res.model_estimates("common" if method == "FE" else "random")
    tol = kind(method)
    assert_allclose(est.theta[1:], num(ref["beta"]), **tol)
    vb = np.array([num(r) for r in ref["vcov"]])
    assert_allclose(est.cov[1:, 1:], vb, rtol=tol["rtol"], atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", NMA)
def test_p_scores(name, method):
    """P-scores from the effects and covariance (formula evaluated in R)."""
    case = CASES[name]
    ref = case["models"][method]
    res = fit_case(case, method)
    model = "common" if method == "FE" else "random"
    for small in ("good", "bad"):
        rank = res.ranking(model=model, small_values=small, n_sim=10, random_seed=1)
        assert_allclose(rank.p_score, num(ref[f"p_score_{small}"]), **kind(method))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", NMA)
def test_design_decomposition(name, method):
    """Krahn's Q decomposition and the random-effects design-by-treatment test."""
    case = CASES[name]
    ref = case["models"][method]["decomposition"]
    dec = fit_case(case, method).decomposition
    closed = tolerances.tol("closed_form")
    assert_allclose(dec.q_total, ref["q_total"], **closed)
    assert_allclose(dec.q_within, ref["q_within"], **closed)
    assert_allclose(dec.q_between, ref["q_between"], rtol=1e-9, atol=1e-10)
    assert (dec.df_total, dec.df_within, dec.df_between) == (
        ref["df_total"], ref["df_within"], ref["df_between"])
    assert dec.tau2_within_method == ref["tau2_within_method"]
    tw = kind(ref["tau2_within_method"])
    assert_allclose(dec.tau2_within, ref["tau2_within"], **tw)
    assert_allclose(dec.q_between_random, ref["q_between_random"], rtol=tw["rtol"], atol=1e-8)
    designs = dec.designs_frame()
    for d in ref["designs"]:
        row = designs.loc[d["design"]]
        assert row["k"] == d["k"] and row["df"] == d["df"]
        assert_allclose(row["q"], d["q"], rtol=1e-9, atol=1e-10)


SPLIT_CASES = [n for n in NMA if "node_split" in CASES[n]["models"]["FE"]]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", SPLIT_CASES)
def test_node_split(name, method):
    """Direct estimates (rma.uni, FE or tau2 fixed at the network's) and SIDDE's indirect
    estimates (rma.mv refitted without the direct studies); back-calculation from them."""
    case = CASES[name]
    ref = case["models"][method]["node_split"]
    res = fit_case(case, method)
    tol = kind(method)
    for split_method in ("sidde", "back-calculation"):
        ours = res.node_split(split_method).to_frame().set_index(["treat1", "treat2", "model"])
        assert len(ours) == len(ref) * (1 if method == "FE" else 2)
        for entry in ref:
            for model in ("common", "random"):
                if model not in entry:
                    continue
                r = entry[model]
                row = ours.loc[(entry["treat1"], entry["treat2"], model)]
                assert row["k"] == entry["k"]
                assert_allclose(row["direct"], num(r["direct"]), **tol)
                assert_allclose(row["direct_se"], num(r["direct_se"]), **tol)
                if split_method == "sidde":
                    assert_allclose(row["indirect"], num(r["sidde_indirect"]), **tol)
                    assert_allclose(row["indirect_se"], num(r["sidde_indirect_se"]), **tol)
                else:
                    p = row["network_se"] ** 2 / num(r["direct_se"]) ** 2
                    if abs(1 - p) < 1e-8:
                        assert np.isnan(row["indirect"])
                        continue
                    expect = (row["network"] - p * num(r["direct"])) / (1 - p)
                    assert_allclose(row["indirect"], expect, **tol)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", CNMA)
def test_component_nma_matches_rma_mv(name, method):
    """Component effects, their covariance, tau2, Q of the component model, combinations."""
    case = CASES[name]
    ref = case["models"][method]
    res = fit_case(case, method)
    tol = kind(method)
    assert list(res.components) == list(case["components"]) == list(ref["terms"])
    est = res.model_estimates("common" if method == "FE" else "random")
    assert_allclose(res.tau2, ref["tau2"], **tol)
    assert_allclose(est.beta, num(ref["beta"]), **tol)
    vb = np.array([num(r) for r in ref["vcov"]])
    assert_allclose(est.vcov, vb, rtol=tol["rtol"], atol=1e-12)
    if method == "FE":
        assert_allclose(res.q_additive, ref["q"], **tolerances.tol("closed_form"))
        assert res.df_additive == ref["q_df"]
    combos = res.combinations("common" if method == "FE" else "random")
    for c in ref["combinations"]:
        row = combos.loc[c["treatment"]]
        assert_allclose(row["estimate"], num(c["estimate"]), rtol=tol["rtol"], atol=1e-12)
        assert_allclose(row["se"], num(c["se"]), rtol=tol["rtol"], atol=1e-12)
    std = case["standard"]
    if std is None:
        assert not res.connected and np.isnan(res.q_standard) and np.isnan(res.p_diff)
    else:
        assert_allclose(res.q_standard, std["q"], **tolerances.tol("closed_form"))
        assert res.df_standard == std["q_df"]
