"""Design-by-treatment decomposition of Q and node-splitting."""

from __future__ import annotations

import numpy as np
import pytest
from _network_fixture import arms_frame, fit_case, load_fixture
from numpy.testing import assert_allclose

from painstats.errors import ValidationError
from painstats.meta.network import network_meta_analysis


@pytest.fixture(scope="module")
def senn():
    return fit_case(load_fixture()["cases"]["senn2013_md"], "REML")


def test_decomposition_adds_up(senn):
    dec = senn.decomposition
    assert_allclose(dec.q_total, dec.q_within + dec.q_between, rtol=1e-12)
    assert dec.df_total == dec.df_within + dec.df_between
    designs = dec.designs_frame()
    assert_allclose(designs["q"].sum(), dec.q_within, rtol=1e-10)
    assert designs["df"].sum() == dec.df_within
    assert designs["k"].sum() == senn.k
    assert np.isnan(designs.loc[designs["df"] == 0, "p_value"]).all()
    frame = dec.to_frame()
    assert list(frame.index) == ["total", "within designs", "between designs",
                                 "between designs (random effects)"]
    assert "Design-by-treatment" in str(dec.summary())
    assert dec.tau2_within_method == "REML"


def test_decomposition_of_common_effect_fit_uses_dl():
    res = fit_case(load_fixture()["cases"]["senn2013_md"], "FE")
    assert res.decomposition.tau2_within_method == "DL"


def test_network_without_loops_has_no_between_design_q():
    arms = arms_frame(load_fixture()["cases"]["stowe2010"])
    star = arms[arms["study"] != "LARGO"]  # the only multi-arm study closes no loop either
    res = network_meta_analysis(star, study="study", treatment="treatment", mean="mean",
                                sd="sd", n="n", method="FE")
    dec = res.decomposition
    assert dec.df_between == 0 and abs(dec.q_between) < 1e-9 and np.isnan(dec.p_between)
    split = res.node_split()
    assert np.isnan(split.common.indirect).all()
    assert np.isnan(res.node_split("sidde").common.indirect).all()


def test_back_calculation_equals_sidde_for_two_arm_common_effect():
    """Without multi-arm studies, the common-effect network estimate is the inverse-variance
    combination of the direct estimate and the estimate from the rest of the network, so
    back-calculation and SIDDE give the same indirect estimate."""
    arms = arms_frame(load_fixture()["cases"]["senn2013_md"])
    two_arm = arms[arms["study"] != "Willms (1999)"]
    res = network_meta_analysis(two_arm, study="study", treatment="treatment", mean="mean",
                                sd="sd", n="n", method="FE")
    back = res.node_split("back-calculation").to_frame()
    sidde = res.node_split("SIDDE").to_frame()
    ok = sidde["indirect"].notna()
    assert ok.sum() >= 5
    assert_allclose(back.loc[ok, "indirect"], sidde.loc[ok, "indirect"], rtol=1e-8)
    assert_allclose(back.loc[ok, "indirect_se"], sidde.loc[ok, "indirect_se"], rtol=1e-8)
    assert back["indirect"].isna().equals(sidde["indirect"].isna())


def test_node_split_table(senn):
    split = senn.node_split()
    frame = split.to_frame()
    assert set(frame["model"]) == {"common", "random"}
    row = frame.dropna().iloc[0]
    assert_allclose(row["difference"], row["direct"] - row["indirect"])
    assert_allclose(row["difference_se"], np.hypot(row["direct_se"], row["indirect_se"]))
    assert_allclose(row["prop_direct"], row["network_se"] ** 2 / row["direct_se"] ** 2)
    assert_allclose(row["ci_high"] - row["ci_low"], 2 * 1.959963984540054 * row["difference_se"])
    text = str(split)
    assert "Node-splitting (back-calculation)" in text and "Random-effects model" in text
    assert len(split.to_frame("common")) == len(frame) // 2


def test_node_split_errors(senn):
    with pytest.raises(ValidationError, match="method must be one of"):
        senn.node_split("bucher")
