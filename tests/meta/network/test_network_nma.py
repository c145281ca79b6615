"""network_meta_analysis: result API, identities with pairwise meta-analysis, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tolerances
from numpy.testing import assert_allclose

from painstats import datasets
from painstats.errors import InputTypeError, ValidationError
from painstats.meta import random_effects
from painstats.meta.network import (
    NMA_METHODS,
    NetworkMetaAnalysisResult,
    arms_from_wide,
    network_meta_analysis,
)


@pytest.fixture(scope="module")
def senn() -> pd.DataFrame:
    from _network_fixture import arms_frame, load_fixture

    return arms_frame(load_fixture()["cases"]["senn2013_md"])


@pytest.fixture(scope="module")
def fit(senn) -> NetworkMetaAnalysisResult:
    return network_meta_analysis(senn, study="study", treatment="treatment", mean="mean",
                                 sd="sd", n="n", reference="placebo")


def test_fit_does_not_depend_on_reference(senn, fit):
    other = network_meta_analysis(senn, study="study", treatment="treatment", mean="mean",
                                  sd="sd", n="n", reference="metformin")
    assert other.reference == "metformin"
    assert_allclose(other.tau2, fit.tau2, rtol=1e-12)
    a = fit.effects(reference="metformin")
    b = other.effects()
    assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-10, atol=1e-12)
    assert a.attrs["reference"] == "metformin"


def test_effects_pairs_and_league_table_agree(fit):
    eff = fit.effects()
    assert list(eff.columns) == ["estimate", "se", "statistic", "p_value", "ci_low", "ci_high",
                                 "pi_low", "pi_high"]
    assert "placebo" not in eff.index and len(eff) == 9
    frame = fit.to_frame("random").set_index(["treat1", "treat2"])
    row = frame.loc[("rosiglitazone", "placebo")]
    assert_allclose(row["estimate"], eff.loc["rosiglitazone", "estimate"], rtol=1e-14)
    assert row["term"] == "rosiglitazone vs placebo" and row["df"] == np.inf
    z = 1.959963984540054
    assert_allclose(row["pi_high"] - row["estimate"],
                    z * np.sqrt(row["se"] ** 2 + fit.tau2), rtol=1e-12)
    league = fit.league_table(digits=2)
    e = eff.loc["rosiglitazone"]
    assert league.loc["rosiglitazone", "placebo"] == (
        f"{e.estimate:.2f} ({e.ci_low:.2f}, {e.ci_high:.2f})")
    assert league.loc["placebo", "placebo"] == "placebo"
    both = fit.to_frame()
    assert len(both) == 2 * 45 and set(both["model"]) == {"common", "random"}
    assert both.loc[both["model"] == "common", "pi_low"].isna().all()


def test_pairwise_covariance_is_consistent(fit):
    """theta_i - theta_j has variance C_ii + C_jj - 2 C_ij, also through a third treatment."""
    e, s = fit.random.pairwise()
    assert_allclose(e, -e.T, atol=1e-15)
    assert_allclose(s, s.T, atol=1e-15)
    assert_allclose(np.diag(s), 0.0, atol=1e-8)
    i, j, k = 1, 4, 7
    assert_allclose(e[i, j], e[i, k] + e[k, j], atol=1e-13)


def test_heterogeneity_fields(fit):
    assert fit.method == "REML" and fit.k == 26 and fit.m == 27
    assert_allclose(fit.tau, np.sqrt(fit.tau2))
    assert_allclose(fit.i2, 100 * (fit.q - fit.q_df) / fit.q)
    assert fit.q_df == 27 - 9
    text = str(fit.summary())
    for part in ("tau^2 estimator: REML", "Random-effects model", "Common-effect model",
                 "Within designs", "Between designs", "I^2"):
        assert part in text
    assert fit.summary()._repr_html_().startswith("<pre>")
    assert str(fit) == text


def test_common_effect_only(senn):
    res = network_meta_analysis(senn, study="study", treatment="treatment", mean="mean",
                                sd="sd", n="n", method="EE")
    assert res.method == "FE" and res.random is None and res.tau2 == 0.0
    assert res.model_estimates() is res.common
    assert "common-effect model only" in str(res)
    with pytest.raises(ValidationError, match="common-effect fit .* no random-effects model"):
        res.effects(model="random")


@pytest.mark.parametrize("method", ["FE", "DL", "ML", "REML"])
def test_two_treatments_equal_pairwise_meta_analysis(method):
    """A network of two treatments and two-arm studies is a pairwise meta-analysis: the same
    estimate, SE and tau2 as random_effects (itself validated against metafor's rma)."""
    d = datasets.load("normand1999")
    arms = pd.DataFrame({
        "study": np.repeat(d["source"].to_numpy(), 2),
        "treatment": ["spec", "rout"] * len(d),
        "mean": np.column_stack([d["m1i"], d["m2i"]]).ravel(),
        "sd": np.column_stack([d["sd1i"], d["sd2i"]]).ravel(),
        "n": np.column_stack([d["n1i"], d["n2i"]]).ravel()})
    res = network_meta_analysis(arms, study="study", treatment="treatment", mean="mean",
                                sd="sd", n="n", method=method, reference="rout")
    pw = random_effects(d["m1i"] - d["m2i"], d["sd1i"] ** 2 / d["n1i"] + d["sd2i"] ** 2 / d["n2i"],
                        method=method)
    eff = res.effects().loc["spec"]
    tol = tolerances.tol("iterative" if method in ("ML", "REML") else "closed_form")
    assert_allclose(eff["estimate"], pw.estimate, **tol)
    assert_allclose(eff["se"], pw.se, **tol)
    assert_allclose(res.tau2, pw.tau2, **tol)
    assert_allclose(res.q, pw.q, **tolerances.tol("closed_form"))
    if method != "FE":
        assert_allclose(eff["pi_low"], pw.pi_low, **tol)


def test_row_order_does_not_matter(senn, fit):
    shuffled = senn.sample(frac=1.0, random_state=3)
    res = network_meta_analysis(shuffled, study="study", treatment="treatment", mean="mean",
                                sd="sd", n="n", reference="placebo")
    assert_allclose(res.tau2, fit.tau2, rtol=1e-10)
    assert_allclose(res.random.theta, fit.random.theta, rtol=1e-9, atol=1e-12)


def test_methods_constant():
    assert NMA_METHODS == ("REML", "ML", "DL", "FE")


def test_level_changes_intervals(senn, fit):
    res = network_meta_analysis(senn, study="study", treatment="treatment", mean="mean",
                                sd="sd", n="n", reference="placebo", level=90)
    assert res.level == 0.9
    a, b = fit.effects(), res.effects()
    assert_allclose(a["estimate"], b["estimate"])
    assert (b["ci_high"] - b["ci_low"] < a["ci_high"] - a["ci_low"]).all()


# ---------------------------------------------------------------------------------------
# errors


def test_errors_reference_method_model(senn, fit):
    args = {"study": "study", "treatment": "treatment", "mean": "mean", "sd": "sd", "n": "n"}
    with pytest.raises(InputTypeError, match="reference must be a treatment name"):
        network_meta_analysis(senn, reference=1, **args)
    with pytest.raises(ValidationError, match="reference must be one of the treatments"):
        network_meta_analysis(senn, reference="Placebo", **args)
    with pytest.raises(ValidationError, match="method must be one of"):
        network_meta_analysis(senn, method="PM", **args)
    with pytest.raises(ValidationError, match="reference must be one of the treatments"):
        fit.effects(reference="nothing")
    with pytest.raises(ValidationError, match="model must be one of"):
        fit.effects(model="mixed")


def test_disconnected_network_names_subnetworks():
    arms = pd.DataFrame({"study": ["s1", "s1", "s2", "s2", "s3", "s3"],
                         "treatment": ["A", "B", "B", "C", "D", "E"],
                         "mean": [1.0, 2, 3, 4, 5, 6], "sd": 1.0, "n": 10})
    with pytest.raises(ValidationError, match=r"disconnected: 2 sub-networks \(1: \{A, B, C\}; "
                                              r"2: \{D, E\}\)"):
        network_meta_analysis(arms, study="study", treatment="treatment", mean="mean", sd="sd",
                              n="n")


def test_exercise_modality_network():
    """Schwingshackl 2014 as an exercise-modality network: wide -> arms -> NMA."""
    wide = datasets.load("schwingshackl2014")
    arms = arms_from_wide(wide, study="study", columns={"treatment": "t", "mean": "y",
                                                        "sd": "sd", "n": "n"})
    arms["modality"] = arms["treatment"].map({1: "Aerobic", 2: "Resistance", 3: "Combined"})
    res = network_meta_analysis(arms, study="study", treatment="modality", mean="mean",
                                sd="sd", n="n", method="DL")
    assert res.k == 14 and res.m == 19
    assert (res.data.n_arms == 3).sum() == 5
