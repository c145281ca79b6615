"""Component network meta-analysis: identities, recovery of a known additive truth, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _network_fixture import arms_frame, fit_case, load_fixture
from numpy.testing import assert_allclose

from painstats.errors import InputTypeError, ValidationError
from painstats.meta.network import _kernels as K
from painstats.meta.network import component_network_meta_analysis, network_meta_analysis
from painstats.meta.network.component import component_matrix

TRUTH = {"Eccentric": -1.0, "Balance": -0.6, "Aerobic": -0.4}
TREATMENTS = ["Control", "Eccentric", "Balance", "Aerobic", "Eccentric+Balance",
              "Aerobic+Balance", "Eccentric+Aerobic"]


def simulate(rng, n_studies=40, tau=0.0, sd=20.0):
    """Arm-level pain (VAS 0-100) of trials comparing exercise programmes; additive truth."""
    rows = []
    for s in range(n_studies):
        k = 3 if s % 5 == 0 else 2
        trts = rng.choice(TREATMENTS, size=k, replace=False)
        base = rng.normal(50, 5)
        for t in trts:
            n = int(rng.integers(30, 80))
            effect = 10 * sum(TRUTH[c] for c in t.split("+") if c != "Control")
            effect += rng.normal(0, tau / np.sqrt(2))
            rows.append((f"trial {s + 1}", t, base + effect + rng.normal(0, sd / np.sqrt(n)),
                         sd, n))
    return pd.DataFrame(rows, columns=["study", "treatment", "mean", "sd", "n"])


def fit(arms, **kw):
    kw.setdefault("inactive", "Control")
    return component_network_meta_analysis(arms, study="study", treatment="treatment",
                                           mean="mean", sd="sd", n="n", **kw)


@pytest.fixture(scope="module")
def sim():
    return simulate(np.random.default_rng(2024))


def test_recovers_additive_truth_in_one_network(sim):
    res = fit(sim, method="REML")
    eff = res.component_effects()
    truth = pd.Series({c: 10 * v for c, v in TRUTH.items()})
    z = (eff["estimate"] - truth[eff.index]) / eff["se"]
    # each estimate is normal around the truth with its SE: |z| < 4 fails with prob. 6e-5 each
    assert (np.abs(z) < 4).all(), z


def test_recovers_additive_truth_over_replicates(sim):
    """500 replicate data sets on one design, fitted as one batch by the kernel: the mean
    of the common-effect component estimates is within 4 Monte Carlo SEs of the truth."""
    res = fit(sim, method="FE")
    net = res.data
    X = K.contrast_design(net.arms, res.C)
    truth = np.array([10 * TRUTH[c] for c in res.components])
    mean = X @ truth
    rng = np.random.default_rng(99)
    L = np.linalg.cholesky(net.cov + np.eye(net.cov.shape[-1]) * ~net.mask[:, None, :])
    z = rng.standard_normal((500, *net.y.shape))
    ys = np.where(net.mask, mean + np.einsum("sab,rsb->rsa", L, z), 0.0)
    beta = K.gls(ys, net.cov, X, net.mask, 0.0).beta
    se_mc = np.sqrt(np.diag(res.common.vcov) / 500)
    assert np.all(np.abs(beta.mean(axis=0) - truth) < 4 * se_mc)
    # and their spread matches the model-based SE (within 15%: SD of 500 draws is ~3% noisy)
    assert_allclose(beta.std(axis=0, ddof=1), np.sqrt(np.diag(res.common.vcov)), rtol=0.15)


def test_hybrid_effect_is_sum_of_components(sim):
    res = fit(sim, method="REML")
    e = res.component_effects()
    hybrid = res.effect("Eccentric+Balance")
    assert_allclose(hybrid["estimate"], e.loc["Eccentric", "estimate"]
                    + e.loc["Balance", "estimate"], rtol=1e-14)
    cov = res.random.vcov
    i, j = res.components.index("Eccentric"), res.components.index("Balance")
    assert_allclose(hybrid["se"] ** 2, cov[i, i] + cov[j, j] + 2 * cov[i, j], rtol=1e-12)
    # an unobserved combination, and one combination against another
    triple = res.effect("Eccentric+Balance+Aerobic")
    assert_allclose(triple["estimate"], e["estimate"].sum(), rtol=1e-14)
    vs = res.effect("Eccentric+Balance", reference="Aerobic")
    assert_allclose(vs["estimate"], hybrid["estimate"] - e.loc["Aerobic", "estimate"])
    combos = res.combinations()
    assert_allclose(combos.loc["Eccentric+Balance", "estimate"], hybrid["estimate"])
    assert combos.loc["Control", "estimate"] == 0.0
    assert "pi_low" in combos.columns


@pytest.mark.parametrize("method", ["FE", "DL", "REML"])
def test_single_component_network_equals_standard_nma(method):
    """Every treatment a single component: the additive model is the standard NMA."""
    arms = arms_frame(load_fixture()["cases"]["sim_multiarm"])
    arms["treatment"] = arms["treatment"].replace({"A": "Control"})
    nma = network_meta_analysis(arms, study="study", treatment="treatment", mean="mean",
                                sd="sd", n="n", method=method, reference="Control")
    cnma = fit(arms, method=method)
    assert_allclose(cnma.tau2, nma.tau2, rtol=1e-10, atol=1e-14)
    vs_control = nma.effects()
    comp = cnma.component_effects()
    assert sorted(comp.index) == sorted(vs_control.index)
    for col in ("estimate", "se", "ci_low", "ci_high", "p_value"):
        assert_allclose(comp[col], vs_control.loc[comp.index, col], rtol=1e-9)
    assert_allclose(cnma.q_additive, nma.q, rtol=1e-10)
    assert cnma.df_diff == 0 and abs(cnma.q_diff) < 1e-8 and np.isnan(cnma.p_diff)


def test_additive_model_test(sim):
    res = fit(sim, method="DL")
    assert res.connected and res.df_diff == (len(res.treatments) - 1) - len(res.components)
    std = network_meta_analysis(sim, study="study", treatment="treatment", mean="mean",
                                sd="sd", n="n", method="FE")
    assert_allclose(res.q_standard, std.q, rtol=1e-12)
    assert res.q_diff >= 0 and 0 <= res.p_diff <= 1
    text = str(res)
    assert "additive model" in text and "Difference:" in text
    tidy = res.to_frame()
    assert list(tidy.columns) == ["term", "model", "estimate", "se", "statistic", "df",
                                  "p_value", "ci_low", "ci_high"]
    assert len(tidy) == 2 * len(res.components)


def test_interaction_model():
    case = load_fixture()["cases"]["cnma_interaction"]
    res = fit_case(case, "REML")
    assert res.components[-1] == "A*B"
    e = res.component_effects()
    both = res.effect("A+B")
    assert_allclose(both["estimate"], e.loc[["A", "B", "A*B"], "estimate"].sum(), rtol=1e-12)
    assert_allclose(res.effect("A+C")["estimate"], e.loc[["A", "C"], "estimate"].sum())
    assert "interaction model" in str(res)
    assert res.incidence("A+B").tolist() == [1.0, 1.0, 0.0, 1.0]


def test_disconnected_network_connected_by_components():
    case = load_fixture()["cases"]["cnma_disconnected"]
    arms = arms_frame(case)
    with pytest.raises(ValidationError, match=r"disconnected: 2 sub-networks \(1: \{B\+C, C, "
                                              r"C\+D, D\}; 2: \{A, A\+B, Control\}\)"):
        network_meta_analysis(arms, study="study", treatment="treatment", mean="mean",
                              sd="sd", n="n")
    res = fit(arms, method="DL")
    assert not res.connected and np.isnan(res.q_standard) and np.isnan(res.df_diff)
    assert "disconnected" in str(res)


def test_component_matrix():
    C = component_matrix(["Control", "A+B", "B"], ("A", "B", "A*B"), "Control", "+",
                         [("A", "B")])
    assert C.tolist() == [[0, 0, 0], [1, 1, 1], [0, 1, 0]]


# ---------------------------------------------------------------------------------------
# errors


def test_errors(sim):
    with pytest.raises(InputTypeError, match="sep must be a non-empty string"):
        fit(sim, sep="")
    with pytest.raises(InputTypeError, match="inactive must be a component name"):
        fit(sim, inactive=0)
    with pytest.raises(ValidationError, match="inactive='Placebo' is not a treatment or "
                                              "component"):
        fit(sim, inactive="Placebo")
    with pytest.raises(InputTypeError, match="interactions must be a list of component pairs"):
        fit(sim, interactions="Eccentric*Balance")
    with pytest.raises(ValidationError, match="each interaction must name at least two"):
        fit(sim, interactions=[("Eccentric",)])
    with pytest.raises(ValidationError, match="names a component twice"):
        fit(sim, interactions=[("Balance", "Balance")])
    with pytest.raises(ValidationError, match=r"names unknown component\(s\) \['Yoga'\]"):
        fit(sim, interactions=[("Balance", "Yoga")])
    res = fit(sim, method="FE")
    with pytest.raises(ValidationError, match=r"component\(s\) \['Yoga'\] that are not in the "
                                              "network"):
        res.effect("Yoga+Balance")
    with pytest.raises(ValidationError, match="common-effect fit .* no random-effects model"):
        res.component_effects(model="random")
    empty = sim.assign(treatment=sim["treatment"].replace({"Balance": "Balance+"}))
    with pytest.raises(ValidationError, match="has an empty component"):
        fit(empty)


def test_unidentifiable_components_are_named():
    arms = pd.DataFrame({"study": ["s1", "s1", "s2", "s2"],
                         "treatment": ["Control", "A+B", "Control", "A+B"],
                         "mean": [50.0, 40, 52, 41], "sd": 10.0, "n": 40})
    with pytest.raises(ValidationError, match=r"not identifiable: \['A', 'B'\]"):
        fit(arms)
    dis = pd.DataFrame({"study": ["s1", "s1", "s2", "s2"], "treatment": ["Control", "A", "B",
                                                                         "C"],
                        "mean": [50.0, 40, 52, 41], "sd": 10.0, "n": 40})
    with pytest.raises(ValidationError, match=r"not identifiable: \['B', 'C'\].*2 sub-networks"):
        fit(dis)
