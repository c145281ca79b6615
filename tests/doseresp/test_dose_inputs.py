"""fit(): bad input raises before any sampling, naming the column and the study."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from painstats.doseresp import fit
from painstats.doseresp._data import read_arm_level, read_contrast_level
from painstats.doseresp.curves import Curve, rcs_knots
from painstats.errors import InputTypeError, ValidationError


@pytest.fixture()
def arms() -> pd.DataFrame:
    return pd.DataFrame({
        "study": ["A", "A", "A", "B", "B", "C", "C", "C"],
        "sessions_per_week": [0, 2, 4, 0, 3, 0, 1, 5],
        "load_pct_1rm": [0, 60, 60, 0, 70, 0, 40, 80],
        "mean": [50.0, 42, 38, 55, 46, 48, 45, 36],
        "sd": [20.0, 18, 19, 21, 20, 22, 20, 19],
        "n": [40, 41, 39, 30, 31, 50, 48, 49],
    })


def _fit(df, **kw):
    kw.setdefault("dose", "sessions_per_week")
    return fit(df, draws=10, tune=10, chains=1, **kw)


def test_contrasts_and_their_covariance_are_exact(arms):
    dd = read_arm_level(arms, dose_names=["sessions_per_week"], study="study", mean="mean",
                        sd="sd", se=None, n="n", group=None)
    assert dd.labels == ("A", "B", "C")
    assert_allclose(dd.yi, [-8, -12, -9, -3, -12], rtol=0, atol=1e-12)
    vA = 20.0**2 / 40
    assert_allclose(dd.covariance(0), [[vA + 18**2 / 41, vA], [vA, vA + 19**2 / 39]], rtol=1e-14)
    assert_allclose(dd.covariance(1), [[21**2 / 30 + 20**2 / 31]], rtol=1e-14)
    # pooled SD scales the default priors
    nn, sd = arms.n.to_numpy(), arms.sd.to_numpy()
    assert_allclose(dd.outcome_sd, np.sqrt(np.sum((nn - 1) * sd**2) / np.sum(nn - 1)), rtol=1e-14)


def test_se_column_gives_the_same_contrasts(arms):
    df = arms.assign(se=arms.sd / np.sqrt(arms.n))
    a = read_arm_level(arms, dose_names=["sessions_per_week"], study="study", mean="mean",
                       sd="sd", se=None, n="n", group=None)
    b = read_arm_level(df, dose_names=["sessions_per_week"], study="study", mean="mean",
                       sd=None, se="se", n="n", group=None)
    assert_allclose(b.vi, a.vi, rtol=1e-13)
    assert_allclose(b.vc, a.vc, rtol=1e-13)


def test_input_frame_is_not_modified(arms):
    before = arms.copy()
    read_arm_level(arms, dose_names=["sessions_per_week"], study="study", mean="mean", sd="sd",
                   se=None, n="n", group=None)
    pd.testing.assert_frame_equal(arms, before)


def test_negative_dose_names_column_and_study(arms):
    arms.loc[4, "sessions_per_week"] = -3
    with pytest.raises(ValidationError, match=r"'sessions_per_week'.*study 'B' \(row 5\).*=-3"):
        _fit(arms)


def test_study_without_control_arm(arms):
    arms.loc[3, "sessions_per_week"] = 1
    with pytest.raises(ValidationError, match=r"study 'B' \(rows 4, 5\) has no control arm"):
        _fit(arms)


def test_two_control_arms(arms):
    arms.loc[4, "sessions_per_week"] = 0
    with pytest.raises(ValidationError, match=r"study 'B' has 2 control arms"):
        _fit(arms)


def test_control_arm_means_all_doses_zero(arms):
    arms.loc[3, "sessions_per_week"] = 2  # load 0 but sessions 2: not a control arm
    with pytest.raises(ValidationError, match="study 'B'.*no control arm"):
        _fit(arms, dose=["sessions_per_week", "load_pct_1rm"], model="linear")


def test_study_with_only_a_control_arm(arms):
    df = arms.drop(index=4)
    with pytest.raises(ValidationError, match="study 'B' has a control arm but no active arm"):
        _fit(df)


def test_sd_must_be_positive(arms):
    arms.loc[2, "sd"] = 0
    with pytest.raises(ValidationError, match=r"'sd'.*positive.*study 'A' \(row 3\) has sd=0"):
        _fit(arms)


def test_n_at_least_two(arms):
    arms.loc[6, "n"] = 1
    with pytest.raises(ValidationError, match=r"'n'.*at least 2.*study 'C' \(row 7\) has n=1"):
        _fit(arms)


def test_nan_names_column_and_study(arms):
    arms.loc[5, "mean"] = np.nan
    with pytest.raises(ValidationError, match=r"'mean'.*study 'C' \(row 6\) has mean=NaN"):
        _fit(arms)


def test_text_in_numeric_column(arms):
    arms["mean"] = arms["mean"].astype(object)
    arms.loc[1, "mean"] = "n/a"
    with pytest.raises(InputTypeError, match=r"'mean'.*numeric.*study 'A' \(row 2\)"):
        _fit(arms)


def test_missing_column(arms):
    with pytest.raises(ValidationError, match=r"dose='minutes' is not a column"):
        _fit(arms, dose="minutes")


def test_unknown_model_name(arms):
    with pytest.raises(ValidationError, match=r"model must be one of .*'EMAX'.*got 'logistic'"):
        _fit(arms, model="logistic")


def test_unknown_prior_name(arms):
    with pytest.raises(ValidationError, match=r"unknown prior name\(s\) \['slope'\]"):
        _fit(arms, priors={"slope": 3.0})
    with pytest.raises(ValidationError, match=r"priors must be one of"):
        _fit(arms, priors="flat")
    with pytest.raises(ValidationError, match=r"priors\['tau'\] must be a positive number"):
        _fit(arms, priors={"tau": -1.0})


def test_unknown_random_and_sampler(arms):
    with pytest.raises(ValidationError, match=r"random must be one of"):
        _fit(arms, random="study")
    with pytest.raises(ValidationError, match=r"sampler must be one of"):
        _fit(arms, sampler="stan")


def test_spline_with_more_knots_than_distinct_doses(arms):
    with pytest.raises(ValidationError, match=r"5 knots needs at least 5 distinct doses; the "
                                              r"data have 4"):
        _fit(arms.query("study != 'C'"), model="rcs", knots=5)
    with pytest.raises(ValidationError, match="strictly increasing"):
        _fit(arms, model="rcs", knots=[0, 2, 2])


def test_dose_argument_checks(arms):
    with pytest.raises(InputTypeError, match="dose must be a column name"):
        _fit(arms, dose=3)
    with pytest.raises(ValidationError, match="one or two columns"):
        _fit(arms, dose=["sessions_per_week", "load_pct_1rm", "n"])
    with pytest.raises(ValidationError, match="interaction=True needs two dose columns"):
        _fit(arms, interaction=True)
    with pytest.raises(ValidationError, match="one entry per dose column"):
        _fit(arms, dose=["sessions_per_week", "load_pct_1rm"], model={"sessions_per_week": "emax"})


def test_sampler_settings(arms):
    with pytest.raises(ValidationError, match="target_accept must be in"):
        _fit(arms, target_accept=1.2)
    with pytest.raises(ValidationError, match="draws must be at least 1"):
        fit(arms, dose="sessions_per_week", draws=0)
    with pytest.raises(InputTypeError, match="random_seed must be an integer"):
        _fit(arms, random_seed=1.5)


def test_data_must_be_a_frame():
    with pytest.raises(InputTypeError, match="data must be a pandas DataFrame"):
        fit({"study": [1]}, dose="d")


def _contrasts() -> pd.DataFrame:
    return pd.DataFrame({"study": ["A", "A", "B"], "dose": [2.0, 4, 3], "yi": [-8.0, -12, -9],
                         "vi": [20.0, 19, 25], "vc": [10.0, 10, 12]})


def test_contrast_level_covariance_from_control_variance():
    dd = read_contrast_level(_contrasts(), dose_names=["dose"], study="study", yi="yi", vi="vi",
                             control_var="vc", group=None)
    assert_allclose(dd.covariance(0), [[20, 10], [10, 19]], rtol=0)


def test_contrast_level_needs_control_variance_for_shared_controls():
    with pytest.raises(ValidationError, match=r"studies \['A'\] have several contrasts.*control_var"):
        _fit(_contrasts(), dose="dose", yi="yi", vi="vi")
    bad = _contrasts().assign(vc=[10.0, 11, 12])
    with pytest.raises(ValidationError, match="constant within a study; study 'A'"):
        _fit(bad, dose="dose", yi="yi", vi="vi", control_var="vc")
    bad = _contrasts().assign(vc=[30.0, 30, 12])
    with pytest.raises(ValidationError, match=r"smaller than 'vi'.*study 'A' \(row 1\)"):
        _fit(bad, dose="dose", yi="yi", vi="vi", control_var="vc")
    zero = _contrasts().assign(dose=[0.0, 4, 3])
    with pytest.raises(ValidationError, match=r"positive in at least one dose column.*row 1"):
        _fit(zero, dose="dose", yi="yi", vi="vi", control_var="vc")
    with pytest.raises(ValidationError, match="need vi="):
        _fit(_contrasts(), dose="dose", yi="yi")


def test_rcs_knots_are_dosresmeta_quantiles():
    # R: quantile(c(0,0,0,0,0,2,2,5,10,10,10,15,15,20,20,30,30,30), c(.1,.5,.9)) -> 0 10 30
    doses = [0, 0, 0, 0, 0, 2, 2, 5, 10, 10, 10, 15, 15, 20, 20, 30, 30, 30]
    assert_allclose(rcs_knots(doses), [0.0, 10.0, 30.0], rtol=0, atol=1e-12)


def test_rcs_basis_is_harrell_and_linear_beyond_the_last_knot():
    c = Curve("rcs", "dose", knots=(0.0, 10.0, 30.0))
    d = np.array([0.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0])
    x, s = c.basis(d, {})
    # rms::rcspline.eval(d, knots=c(0,10,30), inclx=TRUE) by hand (norm=2 divides by 30^2)
    expect = (np.maximum(d, 0) ** 3 - np.maximum(d - 10, 0) ** 3 * 30 / 20
              + np.maximum(d - 30, 0) ** 3 * 10 / 20) / 900
    assert_allclose(x, d, rtol=0)
    assert_allclose(s, expect, rtol=1e-14)
    # linear beyond the last knot: constant first difference
    assert_allclose(np.diff(s[-3:]), np.diff(s[-3:])[0], rtol=1e-12)
