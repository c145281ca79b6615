"""painstats.doseresp.simulate: structure, reproducibility, the truth, and the sampling error."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats
from tolerances import tol

from painstats.doseresp import simulate, true_curve, true_effective_dose
from painstats.doseresp.simulate import CURVES, DEFAULT_PARAMETERS, DOSE_COLUMNS
from painstats.errors import InputTypeError, ValidationError

#: Two-sided probability of a false alarm of each statistical check (fixed seeds make the
#: tests deterministic; this says how unlucky a seed would have to be to fail a correct
#: simulator, while a wrong SE by 10% or a shifted mean by 0.5 SE still fails).
ALPHA = 1e-4


def _emax(d, emax, ed50):
    return emax * d / (ed50 + d)


def _independent_effect(curve, p, s, load, u=0.0):
    """The documented curve formulas, written out again, independently of the module."""
    s = np.asarray(s, float)
    load = np.asarray(load, float)
    first, *second = curve.split("+")
    if first == "emax":
        out, b_s = _emax(s, p["emax"] + u, p["ed50"]), s / (p["ed50"] + s)
    else:
        out, b_s = (p["slope"] + u) * s, s
    if second == ["emax"]:
        return out + _emax(load, p["load_emax"], p["load_ed50"]) + p["interaction"] * b_s * (
            load / (p["load_ed50"] + load))
    if second == ["linear"]:
        return out + p["load_slope"] * load + p["interaction"] * b_s * load
    return out


# ----------------------------------------------------------------------------- structure

def test_columns_labels_and_marks():
    df = simulate(12, random_seed=11)
    assert list(df.columns) == ["study", "arm", *DOSE_COLUMNS, "mean", "sd", "n"]
    assert df["study"].unique().tolist() == [f"sim{i:02d}" for i in range(1, 13)]
    assert df.attrs["simulated"] is True
    assert df.attrs["truth"]["simulated"] is True
    assert df.attrs["truth"]["seed"] == 11
    assert df["n"].dtype == np.int64
    for c in DOSE_COLUMNS + ("mean", "sd"):
        assert df[c].dtype == np.float64
    assert simulate(120, random_seed=1)["study"].iloc[0] == "sim001"


def test_ranges_of_a_large_simulation():
    df = simulate(400, random_seed=5)
    ctrl = df[df["arm"] == "control"]
    ex = df[df["arm"] != "control"]
    # one control arm per study, all doses 0, first row of its study
    assert ctrl["study"].tolist() == df["study"].unique().tolist()
    assert (ctrl[list(DOSE_COLUMNS)] == 0).all().all()
    assert (df.groupby("study", sort=False)["arm"].first() == "control").all()
    # 1-3 exercise arms, every count occurring; distinct whole sessions/week in 1..6
    counts = ex.groupby("study").size()
    assert set(counts) == {1, 2, 3}
    assert ex["sessions_per_week"].between(1, 6).all()
    assert (ex["sessions_per_week"] % 1 == 0).all()
    assert not ex.duplicated(["study", "sessions_per_week"]).any()
    assert set(ex["sessions_per_week"]) == {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}
    assert ex["load_pct_1rm"].between(30, 85).all() and (ex["load_pct_1rm"] % 5 == 0).all()
    assert ex["minutes"].between(20, 60).all() and (ex["minutes"] % 5 == 0).all()
    assert {ex["load_pct_1rm"].min(), ex["load_pct_1rm"].max()} == {30.0, 85.0}
    # arm sizes 15-80, right-skewed (log-uniform: median ~ sqrt(15 * 81) = 35 < mean)
    assert df["n"].between(15, 80).all()
    assert df["n"].median() < df["n"].mean() < 47.5
    truth = df.attrs["truth"]
    arms = pd.DataFrame(truth["arms"])
    assert arms["true_sd"].between(15, 25).all()
    assert 7 < df["sd"].min() and df["sd"].max() < 40  # sample SDs scatter around 15-25
    assert all(55 <= b <= 70 for b in truth["baselines"].values())
    assert all(45 <= c <= 70 for c in truth["control_means"].values())
    assert df["mean"].between(0, 100).all()


def test_arms_per_study_fixed_and_range():
    assert (simulate(30, arms_per_study=2, random_seed=1).groupby("study").size() == 3).all()
    sizes = simulate(60, arms_per_study=(4, 6), random_seed=1).groupby("study").size()
    assert set(sizes) == {5, 6, 7}


def test_change_outcome_is_centred_on_control_change():
    df = simulate(200, outcome="change", tau=0, random_seed=4)
    truth = df.attrs["truth"]
    assert truth["outcome"] == "change"
    assert all(-10 <= c <= 0 for c in truth["control_means"].values())
    assert df.loc[df["arm"] == "control", "mean"].between(-25, 15).all()


def test_modalities_column_and_curves():
    mods = {"aerobic": {"emax": -12.0}, "resistance": {"emax": -24.0, "ed50": 3.0}, "hybrid": {}}
    df = simulate(60, modalities=mods, random_seed=8)
    assert list(df.columns) == ["study", "arm", *DOSE_COLUMNS, "modality", "mean", "sd", "n"]
    assert set(df.loc[df["arm"] == "control", "modality"]) == {"usual care"}
    assert set(df.loc[df["arm"] != "control", "modality"]) == set(mods)
    truth = df.attrs["truth"]
    assert truth["modalities"] == {"aerobic": {"emax": -12.0, "ed50": 1.5},
                                   "resistance": {"emax": -24.0, "ed50": 3.0},
                                   "hybrid": {"emax": -20.0, "ed50": 1.5}}
    assert_allclose(true_curve(truth, [2.0], modality="resistance"), _emax(2.0, -24, 3.0),
                    **tol("closed_form"))


# ----------------------------------------------------------------------------- reproducibility

def test_same_seed_same_data_and_truth():
    a = simulate(20, curve="emax+linear", random_seed=123)
    b = simulate(20, curve="emax+linear", random_seed=123)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs["truth"] == b.attrs["truth"]
    c = simulate(20, curve="emax+linear", random_seed=124)
    assert not np.allclose(a["mean"].to_numpy()[:5], c["mean"].to_numpy()[:5])


def test_generator_and_recorded_fresh_seed():
    a = simulate(5, random_seed=np.random.default_rng(9))
    b = simulate(5, random_seed=np.random.default_rng(9))
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs["truth"]["seed"] is None and "Generator" in a.attrs["truth"]["seed_note"]
    fresh = simulate(5)
    seed = fresh.attrs["truth"]["seed"]
    assert isinstance(seed, int)
    pd.testing.assert_frame_equal(fresh, simulate(5, random_seed=seed))


def test_truth_is_json_and_parameters_not_mutated():
    params = {"emax": -15.0}
    df = simulate(6, parameters=params, random_seed=2)
    assert params == {"emax": -15.0}
    loaded = json.loads(json.dumps(df.attrs["truth"]))
    assert loaded == df.attrs["truth"]
    assert_allclose(true_curve(loaded, [3.0]), _emax(3.0, -15.0, 1.5), **tol("closed_form"))


# ----------------------------------------------------------------------------- the truth

@pytest.mark.parametrize("curve", CURVES)
def test_true_means_recomputed_from_the_truth(curve):
    params = {"interaction": -0.01} if "+" in curve else {}
    mods = {"a": {}, "b": {"ed50" if curve.startswith("emax") else "slope": 4.0 if
                            curve.startswith("emax") else -1.0}}
    df = simulate(15, curve=curve, parameters=params, modalities=mods, random_seed=31)
    truth = df.attrs["truth"]
    arms = pd.DataFrame(truth["arms"])
    pd.testing.assert_series_equal(arms["study"], df["study"], check_names=False)
    for i, row in df.iterrows():
        p = truth["modalities"]["a" if row["modality"] == "usual care" else row["modality"]]
        u = truth["study_effects"][row["study"]]
        want = _independent_effect(curve, p, row["sessions_per_week"], row["load_pct_1rm"], u)
        got = true_curve(truth, row.to_frame().T, study=row["study"],
                         modality="a" if row["modality"] == "usual care" else row["modality"])
        assert_allclose(got, [want], **tol("closed_form"))
        assert_allclose(arms.loc[i, "true_effect"], want, **tol("closed_form"))
        assert_allclose(arms.loc[i, "true_mean"], truth["control_means"][row["study"]] + want,
                        **tol("closed_form"))
        if row["arm"] == "control":
            assert want == 0.0


def test_true_curve_population_and_study_and_2d_arrays():
    df = simulate(8, curve="emax+emax", parameters={"interaction": -2.0}, random_seed=6)
    truth = df.attrs["truth"]
    p = {**{k: DEFAULT_PARAMETERS[k] for k in ("emax", "ed50", "load_emax", "load_ed50")},
         "interaction": -2.0}
    assert truth["parameters"] == p
    doses = np.array([[0, 0], [1, 30], [6, 85], [3, 0]], float)
    want = _independent_effect("emax+emax", p, doses[:, 0], doses[:, 1])
    assert_allclose(true_curve(truth, doses), want, **tol("closed_form"))
    frame = pd.DataFrame(doses, columns=["sessions_per_week", "load_pct_1rm"])
    assert_allclose(true_curve(truth, frame), want, **tol("closed_form"))
    u = truth["study_effects"]["sim03"]
    assert u != 0.0
    assert_allclose(true_curve(truth, frame, study="sim03"),
                    _independent_effect("emax+emax", p, doses[:, 0], doses[:, 1], u),
                    **tol("closed_form"))


@pytest.mark.parametrize("fraction", [0.5, 0.8, 0.9, 1.0])
def test_true_effective_dose_closed_forms(fraction):
    emax = simulate(2, parameters={"ed50": 2.0}, random_seed=1).attrs["truth"]
    r = fraction * 6 / (2.0 + 6)
    assert_allclose(true_effective_dose(emax, fraction), r * 2.0 / (1 - r), **tol("iterative"))
    r = fraction * 4 / (2.0 + 4)
    assert_allclose(true_effective_dose(emax, fraction, dose_range=(0, 4)), r * 2.0 / (1 - r),
                    **tol("iterative"))
    lin = simulate(2, curve="linear", random_seed=1).attrs["truth"]
    assert_allclose(true_effective_dose(lin, fraction), fraction * 6, **tol("iterative"))
    mods = simulate(2, modalities={"x": {"ed50": 0.5}}, random_seed=1).attrs["truth"]
    r = fraction * 6 / 6.5
    assert_allclose(true_effective_dose(mods, fraction, modality="x"), r * 0.5 / (1 - r),
                    **tol("iterative"))


# ----------------------------------------------------------------------------- sampling error

def _z_scores(df):
    arms = pd.DataFrame(df.attrs["truth"]["arms"])
    se = arms["true_sd"].to_numpy() / np.sqrt(df["n"].to_numpy())
    return (df["mean"].to_numpy() - arms["true_mean"].to_numpy()) / se


def _is_standard_normal(z, se_scale=1.0):
    """Mean within its 1 - ALPHA band, sum of squares within chi^2 bounds, KS not rejected."""
    z = z / se_scale
    m = z.size
    ok_mean = abs(z.mean()) < stats.norm.ppf(1 - ALPHA / 2) / np.sqrt(m)
    ss = float(np.sum(z**2))
    ok_var = stats.chi2.ppf(ALPHA / 2, m) < ss < stats.chi2.ppf(1 - ALPHA / 2, m)
    ok_ks = stats.kstest(z, "norm").pvalue > ALPHA
    return ok_mean, ok_var, ok_ks


def test_arm_means_scatter_around_truth_with_stated_se():
    df = simulate(1500, random_seed=2026)
    z = _z_scores(df)
    assert z.size > 4000
    assert _is_standard_normal(z) == (True, True, True)
    # the check has power: an SE wrong by 10% or a bias of 0.1 SE is detected
    assert not _is_standard_normal(z, se_scale=1.1)[1]
    assert not _is_standard_normal(z, se_scale=0.9)[1]
    assert not _is_standard_normal(z + 0.1)[0]


def test_reported_sds_follow_their_sampling_distribution():
    df = simulate(1500, random_seed=77)
    arms = pd.DataFrame(df.attrs["truth"]["arms"])
    n = df["n"].to_numpy()
    q = (n - 1) * df["sd"].to_numpy() ** 2 / arms["true_sd"].to_numpy() ** 2
    pit = stats.chi2.cdf(q, n - 1)  # uniform if sd = sigma * sqrt(chi2_{n-1} / (n - 1))
    assert stats.kstest(pit, "uniform").pvalue > ALPHA
    assert stats.kstest(stats.chi2.cdf(q * 1.1, n - 1), "uniform").pvalue < ALPHA
    # sample SD is independent of the sample mean for normal data
    r = stats.pearsonr(_z_scores(df), q).statistic
    assert abs(r) < stats.norm.ppf(1 - ALPHA / 2) / np.sqrt(n.size)


def test_contrasts_scatter_around_population_curve_with_tau():
    """First exercise arm minus control, one per study (independent), against the mean curve:
    variance = tau^2 b(s)^2 + sigma^2 (1/n_ex + 1/n_ctrl), with b(s) = s / (ed50 + s)."""
    tau, ed50 = 6.0, 1.5
    df = simulate(3000, tau=tau, random_seed=99)
    truth = df.attrs["truth"]
    sigma = pd.DataFrame(truth["arms"])["true_sd"].to_numpy()
    first = df.groupby("study", sort=False).head(2).reset_index()
    ctrl, ex = first.iloc[::2], first.iloc[1::2]
    s = ex["sessions_per_week"].to_numpy()
    contrast = ex["mean"].to_numpy() - ctrl["mean"].to_numpy()
    sig = sigma[ex["index"].to_numpy()]
    var = tau**2 * (s / (ed50 + s)) ** 2 + sig**2 * (1 / ex["n"].to_numpy() + 1 / ctrl["n"].to_numpy())
    z = (contrast - true_curve(truth, s)) / np.sqrt(var)
    assert _is_standard_normal(z) == (True, True, True)
    # without tau in the variance the contrasts are overdispersed and the check fails
    z0 = (contrast - true_curve(truth, s)) / np.sqrt(var - tau**2 * (s / (ed50 + s)) ** 2)
    assert not _is_standard_normal(z0)[1]
    u = np.array(list(truth["study_effects"].values()))
    assert stats.chi2.ppf(ALPHA / 2, u.size) < np.sum(u**2) / tau**2 < stats.chi2.ppf(
        1 - ALPHA / 2, u.size)


def test_tau_zero_gives_no_study_effects():
    truth = simulate(10, tau=0, random_seed=1).attrs["truth"]
    assert set(truth["study_effects"].values()) == {0.0}


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"n_studies": 0}, ValidationError, "n_studies must be at least 1"),
    ({"n_studies": 2.5}, ValidationError, "n_studies must be a whole number"),
    ({"n_studies": "10"}, InputTypeError, "n_studies must be a whole number"),
    ({"curve": "cubic"}, ValidationError, r"curve must be one of .*got 'cubic'"),
    ({"curve": 3}, InputTypeError, "curve must be a string"),
    ({"parameters": {"slope": -2}}, ValidationError,
     r"parameters \['slope'\] are not used by curve 'emax'"),
    ({"parameters": {"emaks": -2}}, ValidationError, r"unknown parameter\(s\) \['emaks'\]"),
    ({"parameters": {"ed50": 0}}, ValidationError, r"parameters\['ed50'\] must be > 0; got 0"),
    ({"parameters": {"emax": float("nan")}}, ValidationError,
     r"parameters\['emax'\] must be finite"),
    ({"parameters": {"emax": "big"}}, InputTypeError, r"parameters\['emax'\] must be a number"),
    ({"parameters": [1, 2]}, InputTypeError, "parameters must be a mapping"),
    ({"curve": "emax+linear", "parameters": {"load_ed50": 1}}, ValidationError,
     r"not used by curve 'emax\+linear'"),
    ({"tau": -1}, ValidationError, "tau must be >= 0; got -1"),
    ({"tau": float("inf")}, ValidationError, "tau must be finite"),
    ({"tau": None}, InputTypeError, "tau must be a number"),
    ({"arms_per_study": 0}, ValidationError, "arms_per_study must be at least 1"),
    ({"arms_per_study": 7}, ValidationError, "arms_per_study must be at most 6"),
    ({"arms_per_study": (3, 1)}, ValidationError, "arms_per_study must have low <= high"),
    ({"arms_per_study": (1, 9)}, ValidationError, r"arms_per_study must lie within \[1, 6\]"),
    ({"arms_per_study": (1, 2, 3)}, InputTypeError, r"arms_per_study must be a \(low, high\)"),
    ({"modalities": {}}, InputTypeError, "modalities must be a non-empty mapping"),
    ({"modalities": {"usual care": {}}}, ValidationError, "other than 'usual care'"),
    ({"modalities": {"a": {"ed50": -1}}}, ValidationError,
     r"modalities\['a'\]\['ed50'\] must be > 0"),
    ({"modalities": {"a": 5}}, InputTypeError, r"modalities\['a'\] must be a mapping"),
    ({"outcome": "ratio"}, ValidationError, r"outcome must be one of .*got 'ratio'"),
    ({"n_range": (1, 10)}, ValidationError, r"n_range\[0\] must be >= 2"),
    ({"n_range": (10.5, 20)}, ValidationError, "n_range must hold whole numbers"),
    ({"n_range": "15-80"}, InputTypeError, r"n_range must be a \(low, high\) pair"),
    ({"sd_range": (0, 20)}, ValidationError, r"sd_range\[0\] must be > 0"),
    ({"baseline_range": (60, 120)}, ValidationError, r"baseline_range must lie within \[0, 100\]"),
    ({"baseline_range": (70, 60)}, ValidationError, "baseline_range must have low <= high"),
    ({"random_seed": 1.5}, InputTypeError, "random_seed must be an int"),
    ({"random_seed": -3}, ValidationError, "random_seed must be >= 0"),
    ({"parameters": {"emax": -80}}, ValidationError,
     r"true follow-up mean of study 'sim\d+' arm 'ex\d' is .* outside the 0-100 mm VAS"),
])
def test_bad_input_raises(kwargs, error, match):
    with pytest.raises(error, match=match):
        simulate(**{"n_studies": 5, "random_seed": 1, **kwargs})


def test_bad_true_curve_and_effective_dose_input():
    truth = simulate(3, random_seed=1).attrs["truth"]
    two_d = simulate(3, curve="emax+linear", random_seed=1).attrs["truth"]
    mods = simulate(3, modalities={"a": {}}, random_seed=1).attrs["truth"]
    with pytest.raises(InputTypeError, match="truth must be df.attrs"):
        true_curve({"curve": "emax"}, [1])
    with pytest.raises(ValidationError, match="truth is missing the entry 'dimensions'"):
        true_curve({"simulated": True, "curve": "emax"}, [1])
    with pytest.raises(ValidationError, match="study='sim99' is not a study"):
        true_curve(truth, [1], study="sim99")
    with pytest.raises(ValidationError, match="modality='a' given, but the data were simulated"):
        true_curve(truth, [1], modality="a")
    with pytest.raises(ValidationError, match=r"modality must be one of \['a'\]"):
        true_curve(mods, [1])
    with pytest.raises(ValidationError, match="sessions_per_week must be finite and >= 0"):
        true_curve(truth, [1, -2])
    with pytest.raises(InputTypeError, match="doses must be numbers"):
        true_curve(truth, ["x"])
    with pytest.raises(ValidationError, match=r"doses needs the column\(s\) \['load_pct_1rm'\]"):
        true_curve(two_d, {"sessions_per_week": [1]})
    with pytest.raises(ValidationError, match=r"an \(m, 2\) array"):
        true_curve(two_d, [1, 2, 3])
    with pytest.raises(ValidationError, match="needs a curve in sessions per week only"):
        true_effective_dose(two_d)
    with pytest.raises(ValidationError, match=r"fraction must be in \(0, 1\]; got 0"):
        true_effective_dose(truth, 0)
    with pytest.raises(InputTypeError, match="fraction must be a number"):
        true_effective_dose(truth, "80%")
    with pytest.raises(ValidationError, match="dose_range must have low <= high"):
        true_effective_dose(truth, dose_range=(6, 1))
