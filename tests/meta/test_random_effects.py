"""random_effects(): options, identities, result objects and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from painstats.errors import InputTypeError, ValidationError
from painstats.meta import METHODS, random_effects
from painstats.meta.options import METHOD_ALIASES, TEST_ALIASES


def test_common_effect_is_weighted_least_squares(normand):
    y, v = normand["yi"].to_numpy(), normand["vi"].to_numpy()
    res = random_effects(y, v, method="FE")
    w = 1 / v
    X = np.ones((y.size, 1))
    beta, *_ = np.linalg.lstsq(X * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)
    assert_allclose(res.estimate, beta[0], rtol=1e-12)
    assert_allclose(res.se, 1 / np.sqrt(w.sum()), rtol=1e-12)
    assert_allclose(res.q, np.sum(w * (y - beta[0]) ** 2), rtol=1e-12)
    assert np.isnan(res.pi_low) and np.isnan(res.pi_high)


def test_dl_closed_form(normand):
    y, v = normand["yi"].to_numpy(), normand["vi"].to_numpy()
    w = 1 / v
    mu_fe = np.sum(w * y) / w.sum()
    q = np.sum(w * (y - mu_fe) ** 2)
    tau2 = max(0.0, (q - (y.size - 1)) / (w.sum() - np.sum(w**2) / w.sum()))
    wr = 1 / (v + tau2)
    res = random_effects(y, v, method="DL")
    assert_allclose(res.tau2, tau2, rtol=1e-12)
    assert_allclose(res.estimate, np.sum(wr * y) / wr.sum(), rtol=1e-12)
    assert_allclose(res.weights, 100 * wr / wr.sum(), rtol=1e-12)
    assert_allclose(res.weights.sum(), 100.0, rtol=1e-12)


@pytest.mark.parametrize("method", ["ML", "REML"])
def test_likelihood_estimators_solve_their_score_equation(normand, method):
    y, v = normand["yi"].to_numpy(), normand["vi"].to_numpy()
    t = random_effects(y, v, method=method).tau2
    w = 1 / (v + t)
    mu = np.sum(w * y) / w.sum()
    r = y - mu
    if method == "ML":
        score = np.sum(w**2 * r**2) - np.sum(w)
    else:
        score = np.sum(w**2 * r**2) - (w.sum() - np.sum(w**2) / w.sum())
    assert abs(score) < 1e-10 * np.sum(w)


def test_pm_and_eb_solve_generalised_q_equal_to_df(normand):
    y, v = normand["yi"].to_numpy(), normand["vi"].to_numpy()
    pm = random_effects(y, v, method="PM")
    eb = random_effects(y, v, method="EB")
    w = 1 / (v + pm.tau2)
    mu = np.sum(w * y) / w.sum()
    assert_allclose(np.sum(w * (y - mu) ** 2), y.size - 1, rtol=1e-10)
    assert_allclose(eb.tau2, pm.tau2, rtol=1e-12)


def test_homogeneous_data_gives_tau2_zero_for_every_estimator():
    y = np.array([0.30, 0.31, 0.29, 0.30, 0.305])
    v = np.array([0.04, 0.05, 0.03, 0.06, 0.05])
    for method in ("DL", "HE", "HS", "ML", "REML", "PM", "EB"):
        assert random_effects(y, v, method=method).tau2 == 0.0, method


def test_hksj_rescales_se_and_uses_t(normand):
    y, v = normand["yi"].to_numpy(), normand["vi"].to_numpy()
    z = random_effects(y, v, method="REML")
    h = random_effects(y, v, method="REML", test="knha")
    w = 1 / (v + z.tau2)
    s2w = np.sum(w * (y - z.estimate) ** 2) / (y.size - 1)
    assert_allclose(h.se, z.se * np.sqrt(s2w), rtol=1e-12)
    assert h.df == y.size - 1 and z.df == np.inf
    from scipy import stats

    crit = stats.t.isf(0.025, y.size - 1)
    assert_allclose(h.ci_high - h.estimate, crit * h.se, rtol=1e-12)
    assert_allclose(h.pi_high - h.estimate, crit * np.sqrt(h.se**2 + h.tau2), rtol=1e-12)


def test_all_aliases_resolve():
    y = np.array([0.1, 0.5, 0.3, 0.9])
    v = np.array([0.05, 0.04, 0.06, 0.05])
    for alias, canonical in METHOD_ALIASES.items():
        assert random_effects(y, v, method=alias.lower()).method == canonical
    for alias, canonical in TEST_ALIASES.items():
        r = random_effects(y, v, test=alias)
        assert r.test == canonical
    assert set(METHOD_ALIASES.values()) == set(METHODS)


def test_level_as_percent_equals_proportion(normand):
    a = random_effects("yi", "vi", data=normand, level=90)
    b = random_effects("yi", "vi", data=normand, level=0.90)
    assert a.ci_low == b.ci_low and a.level == 0.90


def test_two_studies_work_and_one_study_raises():
    random_effects([0.1, 0.4], [0.02, 0.03])
    with pytest.raises(ValidationError, match="at least 2 studies; got k=1"):
        random_effects([0.1], [0.02])
    fe = random_effects([0.1], [0.02], method="FE")
    assert fe.i2 == 0 and fe.h2 == 1


def test_data_frame_is_not_mutated_and_labels_come_from_slab(normand):
    before = normand.copy()
    res = random_effects("yi", "vi", data=normand, slab="source")
    pd.testing.assert_frame_equal(normand, before)
    assert res.labels[0] == "Edinburgh"
    assert list(res.study_frame().index) == list(normand["source"])


def test_missing_values_raise_or_drop(normand):
    d = normand.copy()
    d.loc[3, "vi"] = np.nan
    with pytest.raises(ValidationError, match=r"study 'Orpington-Severe' \(row 4\) has vi=NaN"):
        random_effects("yi", "vi", data=d, slab="source")
    res = random_effects("yi", "vi", data=d, slab="source", missing="drop")
    assert res.k == 8 and res.n_dropped == 1
    assert "1 study with missing values dropped" in str(res.summary())
    with pytest.raises(ValidationError, match="missing must be 'raise' or 'drop'"):
        random_effects("yi", "vi", data=d, missing="ignore")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(yi=[0.1, 0.2, 0.3], vi=[0.1, -0.2, 0.1]), ValidationError,
         r"vi must be positive and finite; study '2' \(row 2\) has vi=-0.2"),
        (dict(yi=[0.1, 0.2, 0.3], vi=[0.1, 0.0, 0.1]), ValidationError, "vi must be positive"),
        (dict(yi=[0.1, np.inf, 0.3], vi=[0.1, 0.1, 0.1]), ValidationError, "yi must be finite"),
        (dict(yi=[0.1, 0.2, 0.3], vi=[0.1, 0.1]), ValidationError, "one value per study"),
        (dict(yi=[0.1, 0.2], vi=[0.1, 0.1], method="XYZ"), ValidationError, "method must be one of"),
        (dict(yi=[0.1, 0.2], vi=[0.1, 0.1], test="adhoc"), ValidationError, "test must be one of"),
        (dict(yi=[0.1, 0.2], vi=[0.1, 0.1], method=3), InputTypeError, "method must be a string"),
        (dict(yi=[0.1, 0.2], vi=[0.1, 0.1], level=150), ValidationError, "level must be in"),
        (dict(yi=[0.1, 0.2], vi=[0.1, 0.1], level="95"), InputTypeError, "level must be a number"),
        (dict(yi=["a", "b"], vi=[0.1, 0.1]), InputTypeError, "yi must be numeric; row 1 holds 'a'"),
        (dict(yi="yi", vi="vi"), InputTypeError, "no data was given"),
        (dict(yi=[[0.1, 0.2]], vi=[[0.1, 0.1]]), ValidationError, "one-dimensional"),
    ],
)
def test_bad_input(kwargs, error, match):
    yi, vi = kwargs.pop("yi"), kwargs.pop("vi")
    with pytest.raises(error, match=match):
        random_effects(yi, vi, **kwargs)


def test_bad_data_argument():
    with pytest.raises(InputTypeError, match="data must be a pandas DataFrame"):
        random_effects("yi", "vi", data={"yi": [1, 2]})
    with pytest.raises(ValidationError, match="yi='effect' is not a column of data"):
        random_effects("effect", "vi", data=pd.DataFrame({"yi": [1.0, 2], "vi": [1.0, 1]}))


def test_summary_and_frames(normand):
    res = random_effects("yi", "vi", data=normand, method="REML", test="hksj")
    text = str(res.summary())
    for piece in ("Random-Effects Model (k = 9; tau^2 estimator: REML)", "684.6462",
                  "Q(df = 8) = 238.9158", "tval", "-15.1060"):
        assert piece in text
    assert res.summary()._repr_html_().startswith("<pre>")
    tidy = res.to_frame()
    assert list(tidy.columns) == ["term", "estimate", "se", "statistic", "df", "p_value",
                                  "ci_low", "ci_high"]
    assert tidy.loc[0, "estimate"] == res.estimate
    with pytest.raises(AttributeError):
        res.estimate = 0.0  # frozen
    with pytest.raises(ValueError):
        res.weights[0] = 1.0  # read-only array


def test_confint_tau2_layout_and_fe_error(normand):
    res = random_effects("yi", "vi", data=normand)
    ci = res.confint_tau2()
    assert list(ci.index) == ["tau2", "tau", "i2", "h2"]
    assert list(ci.columns) == ["estimate", "ci_low", "ci_high"]
    assert ci.loc["tau2", "ci_low"] < res.tau2 < ci.loc["tau2", "ci_high"]
    assert_allclose(ci.loc["tau", "ci_high"] ** 2, ci.loc["tau2", "ci_high"], rtol=1e-12)
    with pytest.raises(ValidationError, match="needs a random-effects model"):
        random_effects("yi", "vi", data=normand, method="FE").confint_tau2()


def test_confint_bounds_zero_when_q_below_quantile():
    y = np.array([0.30, 0.30, 0.30, 0.30])
    v = np.array([0.04, 0.05, 0.03, 0.06])
    ci = random_effects(y, v, method="DL").confint_tau2()
    assert ci.loc["tau2", "ci_low"] == 0.0 and ci.loc["tau2", "ci_high"] == 0.0


def test_huge_k_never_allocates_k_by_k():
    rng = np.random.default_rng(3)
    k = 200_000  # a k x k float matrix would need 320 GB
    v = rng.uniform(0.01, 0.2, k)
    y = 0.2 + rng.normal(size=k) * np.sqrt(v + 0.05)
    res = random_effects(y, v, method="REML")
    assert abs(res.tau2 - 0.05) < 0.005 and abs(res.estimate - 0.2) < 0.01


@pytest.mark.parametrize("method", ["REML", "ML", "PM", "EB"])
def test_non_convergence_raises_naming_the_estimator(monkeypatch, normand, method):
    from painstats.errors import ConvergenceError
    from painstats.meta._kernels import roots

    monkeypatch.setattr(roots, "MAX_ITER", 1)
    monkeypatch.setattr(roots, "PLAIN_ITER", 1)
    name = "PM/EB" if method in ("PM", "EB") else method
    with pytest.raises(ConvergenceError, match=f"the {name} estimator of tau\\^2 did not converge"):
        random_effects("yi", "vi", data=normand, method=method)
