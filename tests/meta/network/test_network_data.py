"""Network input: arm-level and contrast-level data, multi-arm studies, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tolerances
from numpy.testing import assert_allclose

from painstats import datasets
from painstats.errors import InputTypeError, ValidationError
from painstats.meta import effect_size
from painstats.meta.network import arms_from_wide, network_meta_analysis
from painstats.meta.network.data import read_network


@pytest.fixture(scope="module")
def franchini() -> pd.DataFrame:
    return arms_from_wide(datasets.load("franchini2012"), study="Study",
                          columns={"treatment": "Treatment", "mean": "y", "sd": "sd", "n": "n"})


def three_arm() -> pd.DataFrame:
    return pd.DataFrame({"study": ["A", "A", "A", "B", "B"], "treatment": ["x", "y", "z", "x", "z"],
                         "mean": [1.0, 2.0, 0.5, 1.2, 0.7], "sd": [1.0, 1.5, 2.0, 1.1, 1.3],
                         "n": [20, 25, 30, 40, 40]})


# ---------------------------------------------------------------------------------------
# arm-level input


def test_arms_from_wide_franchini(franchini):
    assert list(franchini.columns) == ["study", "arm", "treatment", "mean", "sd", "n"]
    assert len(franchini) == 15
    guttman = franchini[franchini["study"] == "Guttman 1997"]
    assert list(guttman["treatment"]) == ["Placebo", "Pramipexole", "Bromocriptine"]


def test_md_multiarm_covariance_is_baseline_arm_variance():
    net = read_network(three_arm(), study="study", treatment="treatment", mean="mean", sd="sd",
                       n="n")
    assert net.treatments == ("x", "y", "z")
    # study A: baseline x; contrasts y - x and z - x share arm x: cov = sd_x^2 / n_x
    assert_allclose(net.y[0], [1.0, -0.5])
    vx, vy, vz = 1.0 / 20, 1.5**2 / 25, 2.0**2 / 30
    assert_allclose(net.cov[0], [[vx + vy, vx], [vx, vx + vz]], rtol=1e-15)
    assert net.mask.tolist() == [[True, True], [True, False]]
    assert net.n_contrasts == 3 and net.n_arms.tolist() == [3, 2]


def test_arm_level_two_arm_contrasts_equal_escalc():
    """Every measure: a two-arm study gives escalc's yi and vi (treat1 = later treatment)."""
    rng = np.random.default_rng(3)
    k = 6
    means = pd.DataFrame({"study": np.repeat(np.arange(k), 2), "treatment": ["a", "b"] * k,
                          "mean": rng.uniform(2, 5, 2 * k), "sd": rng.uniform(1, 2, 2 * k),
                          "n": rng.integers(10, 50, 2 * k)})
    events = means.assign(events=[0, 3, 5, 9, 12, 12, 4, 0, 7, 2, 10, 1])
    events["n"] = [12, 20, 30, 25, 12, 40, 33, 18, 15, 16, 20, 25]
    for measure, frame, cols in (("MD", means, ("mean", "sd", "n")),
                                 ("SMD", means, ("mean", "sd", "n")),
                                 ("ROM", means, ("mean", "sd", "n")),
                                 ("OR", events, ("events", "n")),
                                 ("RR", events, ("events", "n")),
                                 ("RD", events, ("events", "n"))):
        net = read_network(frame, study="study", treatment="treatment", measure=measure,
                           **{c: c for c in cols})
        b, a = frame[frame["treatment"] == "b"], frame[frame["treatment"] == "a"]
        if measure in ("OR", "RR", "RD"):
            es = effect_size(measure, events1=b["events"], n1=b["n"], events2=a["events"],
                             n2=a["n"])
        else:
            es = effect_size(measure, mean1=b["mean"], sd1=b["sd"], n1=b["n"], mean2=a["mean"],
                             sd2=a["sd"], n2=a["n"])
        assert_allclose(net.y[:, 0], es["yi"], **tolerances.tol("closed_form"), err_msg=measure)
        assert_allclose(net.cov[:, 0, 0], es["vi"], **tolerances.tol("closed_form"),
                        err_msg=measure)


def test_zero_cell_corrects_every_arm_of_the_study():
    arms = pd.DataFrame({"study": ["s"] * 3, "treatment": ["a", "b", "c"], "events": [0, 4, 6],
                         "n": [10, 10, 10]})
    net = read_network(arms, study="study", treatment="treatment", events="events", n="n",
                       measure="OR")
    la = np.log(0.5 / 10.5)
    assert_allclose(net.y[0], [np.log(4.5 / 6.5) - la, np.log(6.5 / 4.5) - la])
    assert_allclose(net.cov[0, 0, 1], 1 / 0.5 + 1 / 10.5)


def test_smd_covariance_from_pairwise_variances():
    net = read_network(three_arm(), study="study", treatment="treatment", mean="mean", sd="sd",
                       n="n", measure="SMD")
    a = three_arm().iloc[:3]

    def g(i, j):
        return effect_size("SMD", mean1=[a["mean"][i]], sd1=[a["sd"][i]], n1=[a["n"][i]],
                           mean2=[a["mean"][j]], sd2=[a["sd"][j]], n2=[a["n"][j]])
    y0, y1, y2 = g(1, 0), g(2, 0), g(2, 1)
    assert_allclose(net.y[0], [y0["yi"][0], y1["yi"][0]])
    expect = (y0["vi"][0] + y1["vi"][0] - y2["vi"][0]) / 2
    assert_allclose(net.cov[0, 0, 1], expect, rtol=1e-14)


def test_se_instead_of_sd_for_md():
    park = datasets.load("tsd2_parkinsons")
    net = read_network(park, study="studyn", treatment="treatment", mean="y", se="se")
    assert net.measure == "MD" and np.isnan(net.arm_n).all()
    assert_allclose(net.cov[0, 0, 0], 0.504**2 + 0.439**2)


def test_arrays_without_data_and_numeric_labels():
    net = read_network(None, study=[1, 1, 2, 2], treatment=[1.0, 2.0, 1.0, 3.0],
                       mean=[0, 1, 0, 2], sd=[1, 1, 1, 1], n=[10, 10, 10, 10])
    assert net.treatments == ("1", "2", "3") and net.studies == ("1", "2")


def test_missing_drop_records_rows_and_drops_single_arm_studies():
    arms = three_arm()
    arms.loc[3, "mean"] = np.nan  # study B loses an arm -> dropped
    net = read_network(arms, study="study", treatment="treatment", mean="mean", sd="sd", n="n",
                       missing="drop")
    assert net.studies == ("A",) and net.n_dropped == 2
    res = network_meta_analysis(arms, study="study", treatment="treatment", mean="mean",
                                sd="sd", n="n", missing="drop", method="FE")
    assert res.data.n_dropped == 2 and "2 input row(s)" in str(res.summary())


def test_network_queries(franchini):
    net = read_network(franchini, study="study", treatment="treatment", mean="mean", sd="sd",
                       n="n")
    counts = net.comparison_counts()
    i, j = net.treatments.index("Bromocriptine"), net.treatments.index("Cabergoline")
    assert counts[i, j] == counts[j, i] == 2
    assert net.participants()[net.treatments.index("Placebo")] == 54 + 172 + 76
    assert net.subnetworks() == [net.treatments]
    assert net.designs()[2] == "Bromocriptine:Placebo:Pramipexole"
    pairs = net.pair_contrasts()
    assert len(pairs) == 9  # 6 two-arm studies + 3 pairs of the 3-arm study
    sub = net.subset(np.array([True, True, False, False, False, False, False]))
    assert sub.treatments == ("Placebo", "Pramipexole", "Ropinirole")


# ---------------------------------------------------------------------------------------
# contrast-level input


def test_contrast_all_pairs_equal_arm_level(franchini):
    arm = network_meta_analysis(franchini, study="study", treatment="treatment", mean="mean",
                                sd="sd", n="n", method="REML")
    pairs = arm.data.pair_contrasts()
    con = network_meta_analysis(pairs, study="study", treat1="treat1", treat2="treat2", yi="yi",
                                vi="vi", method="REML")
    assert_allclose(con.tau2, arm.tau2, atol=1e-12)
    assert_allclose(con.random.theta, arm.random.theta, rtol=1e-10, atol=1e-12)
    assert_allclose(con.random.cov, arm.random.cov, rtol=1e-10, atol=1e-14)
    # reversed orientation (treat2 - treat1 with the sign flipped) is the same data
    flip = pairs.assign(treat1=pairs["treat2"], treat2=pairs["treat1"], yi=-pairs["yi"])
    same = network_meta_analysis(flip, study="study", treat1="treat1", treat2="treat2",
                                 yi="yi", vi="vi", method="REML")
    assert_allclose(same.random.theta, arm.random.theta, rtol=1e-10, atol=1e-12)


def test_tsd2_contrast_form_with_cov_equals_arm_form():
    """multinma's contrast format: the baseline arm's se is the contrasts' covariance."""
    park = datasets.load("tsd2_parkinsons")
    base = park[park["diff"].isna()].set_index("studyn")
    con = park[park["diff"].notna()].copy()
    con["base"] = con["studyn"].map(base["treatment"])
    con["cov"] = con["studyn"].map(base["se"] ** 2)
    c = network_meta_analysis(con, study="studyn", treat1="treatment", treat2="base",
                              yi="diff", vi=con["se_diff"] ** 2, cov="cov", method="FE")
    a = network_meta_analysis(park, study="studyn", treatment="treatment", mean="y", se="se",
                              method="FE")
    # se_diff is rounded to 3 decimals in the source, so agreement is to rounding
    assert_allclose(c.common.theta, a.common.theta, atol=2e-3)


def test_contrast_n1_n2_give_participants():
    df = pd.DataFrame({"study": ["s1", "s2"], "t1": ["b", "c"], "t2": ["a", "a"],
                       "yi": [0.1, 0.2], "vi": [0.1, 0.1], "n1": [10, 12], "n2": [11, 13]})
    net = read_network(df, study="study", treat1="t1", treat2="t2", yi="yi", vi="vi", n1="n1",
                       n2="n2")
    assert net.participants().tolist() == [24.0, 10.0, 12.0]


# ---------------------------------------------------------------------------------------
# bad input: every raise of data.py


def arm_call(arms, **kw):
    args = {"study": "study", "treatment": "treatment", "mean": "mean", "sd": "sd", "n": "n"}
    args.update(kw)
    return read_network(arms, **{k: v for k, v in args.items() if v is not None})


def test_errors_general():
    with pytest.raises(InputTypeError, match="data must be a pandas DataFrame"):
        read_network([1, 2], study="s", treatment="t")
    with pytest.raises(ValidationError, match="missing must be 'raise' or 'drop'"):
        arm_call(three_arm(), missing="skip")
    with pytest.raises(ValidationError, match="not both"):
        arm_call(three_arm(), yi="mean")
    with pytest.raises(InputTypeError, match="measure must be a string"):
        arm_call(three_arm(), measure=3)
    with pytest.raises(ValidationError, match="measure applies to arm-level data only"):
        read_network(None, study=[1], treat1=["a"], treat2=["b"], yi=[1], vi=[1], measure="MD")
    with pytest.raises(ValidationError, match="no treatments given"):
        read_network(three_arm(), study="study")
    with pytest.raises(ValidationError, match="study is required"):
        read_network(three_arm(), study=None, treatment="treatment", mean="mean", sd="sd", n="n")
    with pytest.raises(ValidationError, match="study has 2 values but there are 5 rows"):
        arm_call(three_arm(), study=["a", "b"])
    bad = three_arm()
    bad.loc[1, "treatment"] = None
    with pytest.raises(ValidationError, match=r"treatment is missing in row\(s\) 2"):
        arm_call(bad)


def test_errors_arms_from_wide():
    wide = datasets.load("franchini2012")
    with pytest.raises(InputTypeError, match="data must be a pandas DataFrame"):
        arms_from_wide([1], study="Study", columns={"treatment": "Treatment"})
    with pytest.raises(ValidationError, match="study='Trial' is not a column"):
        arms_from_wide(wide, study="Trial", columns={"treatment": "Treatment"})
    with pytest.raises(ValidationError, match="columns must map 'treatment'"):
        arms_from_wide(wide, study="Study", columns={"mean": "y"})
    with pytest.raises(ValidationError, match="no columns arm1, arm2"):
        arms_from_wide(wide, study="Study", columns={"treatment": "arm"})
    with pytest.raises(ValidationError, match="column 'se1' .* is missing"):
        arms_from_wide(wide, study="Study", columns={"treatment": "Treatment", "se": "se"})


def test_errors_measures():
    arms = three_arm().assign(events=[1, 2, 3, 4, 5])
    with pytest.raises(ValidationError, match="either mean .* or events, not both"):
        arm_call(arms, events="events")
    with pytest.raises(ValidationError, match="arm-level data need mean"):
        arm_call(arms, mean=None)
    with pytest.raises(ValidationError, match="measure is required for events"):
        arm_call(arms, mean=None, sd=None, events="events")
    with pytest.raises(ValidationError, match="measure must be one of .* for a network"):
        arm_call(arms, measure="SMCC")
    with pytest.raises(ValidationError, match="measure OR needs events and n"):
        arm_call(arms, measure="OR")
    with pytest.raises(ValidationError, match="measure MD needs sd \\(or se\\)"):
        arm_call(arms, sd=None)
    with pytest.raises(ValidationError, match="either sd or se, not both"):
        arm_call(arms, se="sd")
    with pytest.raises(ValidationError, match="SMD needs sd and n .* not se"):
        arm_call(arms, sd=None, se="sd", measure="SMD")
    with pytest.raises(ValidationError, match="with sd needs n"):
        arm_call(arms, n=None)
    with pytest.raises(ValidationError, match="measure RR needs events and n"):
        arm_call(arms, mean=None, sd=None, n=None, events="events", measure="RR")


def test_errors_values_name_the_study():
    arms = three_arm()
    arms.loc[2, "sd"] = -1.0
    with pytest.raises(ValidationError, match=r"sd must be positive .*study 'A' \(row 3\)"):
        arm_call(arms)
    arms = three_arm()
    arms.loc[4, "mean"] = np.nan
    with pytest.raises(ValidationError, match=r"study 'B' \(row 5\) has mean=NaN"):
        arm_call(arms)
    ev = three_arm().assign(events=[1, 2, 40, 4, 5])
    with pytest.raises(ValidationError, match="events must not exceed n"):
        arm_call(ev, mean=None, sd=None, events="events", measure="OR")
    with pytest.raises(ValidationError, match="mean must be positive"):
        arm_call(three_arm().assign(mean=[1, -2, 3, 4, 5]), measure="ROM")


def test_errors_study_structure():
    dup = three_arm()
    dup.loc[1, "treatment"] = "x"
    with pytest.raises(ValidationError, match=r"study 'A' has two arms of treatment 'x' \(rows 1 "
                                              r"and 2\)"):
        arm_call(dup)
    single = three_arm().iloc[:4]
    with pytest.raises(ValidationError, match=r"study 'B' has a single arm \(treatment 'x'"):
        arm_call(single)
    allnan = three_arm().assign(mean=np.nan)
    with pytest.raises(ValidationError, match="no studies with at least two arms left"):
        arm_call(allnan, missing="drop")


def con_call(df, **kw):
    args = {"study": "study", "treat1": "t1", "treat2": "t2", "yi": "yi", "vi": "vi"}
    args.update(kw)
    return read_network(df, **{k: v for k, v in args.items() if v is not None})


def three_arm_contrasts(**over) -> pd.DataFrame:
    df = pd.DataFrame({"study": ["A", "A", "A", "B"], "t1": ["y", "z", "z", "z"],
                       "t2": ["x", "x", "y", "x"], "yi": [1.0, -0.5, -1.5, 0.3],
                       "vi": [0.2, 0.25, 0.3, 0.1]})
    for k, v in over.items():
        df[k] = v
    return df


def test_errors_contrasts():
    df = three_arm_contrasts()
    with pytest.raises(ValidationError, match="need both treat1 and treat2"):
        con_call(df, treat2=None)
    with pytest.raises(ValidationError, match="need yi and vi"):
        con_call(df, vi=None)
    with pytest.raises(InputTypeError, match="multiarm_tol must be a non-negative number"):
        con_call(df, multiarm_tol="0.1")
    with pytest.raises(ValidationError, match="multiarm_tol must be a non-negative number"):
        con_call(df, multiarm_tol=-1.0)
    same = three_arm_contrasts(t1=["y", "z", "z", "x"])
    with pytest.raises(ValidationError, match=r"study 'B' \(row 4\) compares 'x' with itself"):
        con_call(same)
    twice = pd.concat([df, df.iloc[[3]]], ignore_index=True)
    with pytest.raises(ValidationError, match=r"study 'B' compares 'z' and 'x' twice"):
        con_call(twice)
    allnan = df.assign(yi=np.nan)
    with pytest.raises(ValidationError, match="no contrasts left"):
        con_call(allnan, missing="drop")
    bad_vi = three_arm_contrasts(vi=[0.2, 0.25, -0.3, 0.1])
    with pytest.raises(ValidationError, match=r"vi must be positive .*study 'A' \(row 3\)"):
        con_call(bad_vi)


def test_errors_multiarm_contrasts():
    inconsistent = three_arm_contrasts(yi=[1.0, -0.5, -1.2, 0.3])
    with pytest.raises(ValidationError, match="treatment effects of multi-arm study 'A' are "
                                              "inconsistent"):
        con_call(inconsistent)
    con_call(inconsistent, multiarm_tol=0.5)  # within a looser tolerance it is accepted
    bad_var = three_arm_contrasts(vi=[0.1, 0.1, 0.5, 0.1])
    with pytest.raises(ValidationError, match="variances of multi-arm study 'A' are "
                                              "inconsistent.*not positive definite"):
        con_call(bad_var)
    star = three_arm_contrasts().drop(index=2)
    with pytest.raises(ValidationError, match="multi-arm study 'A' gives only the 2 contrasts "
                                              "against 'x'.*pass cov="):
        con_call(star)
    with pytest.raises(ValidationError, match="cov must be the same for every contrast of "
                                              "multi-arm study 'A'"):
        con_call(star, cov=[0.05, 0.06, np.nan])
    ok = con_call(star, cov=[0.05, 0.05, np.nan])
    assert_allclose(ok.cov[0], [[0.2, 0.05], [0.05, 0.25]])
    with pytest.raises(ValidationError, match="variances of multi-arm study 'A' are "
                                              "inconsistent"):
        con_call(star, cov=[0.3, 0.3, np.nan])
    chain = pd.DataFrame({"study": ["A"] * 2, "t1": ["y", "z"], "t2": ["x", "w"],
                          "yi": [1.0, 2.0], "vi": [0.1, 0.1]})
    with pytest.raises(ValidationError, match="study 'A' has 2 contrasts among 4 treatments"):
        con_call(chain)
    n_conflict = three_arm_contrasts(n1=[10, 12, 13, 20], n2=[11, 11, 12, 21])
    with pytest.raises(ValidationError, match="study 'A' gives two sample sizes for arm 'z'"):
        con_call(n_conflict, n1="n1", n2="n2")
