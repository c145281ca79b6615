"""meta_regression(): identities, predict, result objects and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from painstats.errors import InputTypeError, ValidationError
from painstats.meta import meta_regression, random_effects, subgroup_analysis


@pytest.fixture()
def trials() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    k = 14
    weeks = rng.integers(4, 16, k).astype(float)
    setting = np.array(["clinic", "home", "group"] * 5)[:k]
    vi = rng.uniform(0.02, 0.1, k)
    yi = -0.2 - 0.03 * weeks + rng.normal(size=k) * np.sqrt(vi + 0.02)
    return pd.DataFrame({"yi": yi, "vi": vi, "weeks": weeks, "setting": setting})


def test_common_effect_regression_is_weighted_least_squares(trials):
    reg = meta_regression("yi ~ weeks", data=trials, method="FE")
    X = np.column_stack([np.ones(len(trials)), trials.weeks])
    w = 1 / trials.vi.to_numpy()
    xtwx = X.T @ (X * w[:, None])
    beta = np.linalg.solve(xtwx, X.T @ (w * trials.yi))
    assert_allclose(reg.coef["estimate"], beta, rtol=1e-12)
    assert_allclose(reg.coef["se"], np.sqrt(np.diag(np.linalg.inv(xtwx))), rtol=1e-12)
    resid = trials.yi - X @ beta
    assert_allclose(reg.qe, np.sum(w * resid**2), rtol=1e-12)


def test_intercept_only_formula_equals_random_effects(trials):
    reg = meta_regression("yi ~ 1", data=trials, method="REML", test="hksj")
    res = random_effects("yi", "vi", data=trials, method="REML", test="hksj")
    assert_allclose(reg.coef.loc["Intercept", "estimate"], res.estimate, rtol=1e-12)
    assert_allclose(reg.tau2, res.tau2, rtol=1e-12)
    assert_allclose(reg.i2, res.i2, rtol=1e-12)
    assert np.isnan(reg.r2)


def test_subgroup_q_between_equals_fe_regression_on_estimates(trials):
    sg = subgroup_analysis(data=trials, by="setting", method="DL")
    g = sg.groups.reset_index()
    g["v"] = g["se"] ** 2
    reg = meta_regression("estimate ~ C(setting)", data=g, vi="v", method="FE")
    assert_allclose(sg.q_between, reg.qm, rtol=1e-10)
    assert_allclose(sg.q_between_pvalue, reg.qm_pvalue, rtol=1e-9)


def test_predict_at_observed_moderators_equals_fitted(trials):
    reg = meta_regression("yi ~ weeks + C(setting)", data=trials, method="REML", test="knha")
    pred = reg.predict(trials)
    X = reg.X
    assert_allclose(pred["pred"], X @ reg.coef["estimate"].to_numpy(), rtol=1e-12)
    assert (pred["pi_low"] <= pred["ci_low"]).all()
    assert_allclose(pred["pi_high"] - pred["pred"],
                    reg.crit * np.sqrt(pred["se"] ** 2 + reg.tau2), rtol=1e-12)
    assert reg.qm_df == (3, len(trials) - 4)
    assert list(reg.coef.index) == ["Intercept", "weeks", "C(setting)[T.group]",
                                    "C(setting)[T.home]"]


def test_frames_and_summary(trials):
    reg = meta_regression("yi ~ weeks", data=trials)
    tidy = reg.to_frame()
    assert list(tidy.columns) == ["term", "estimate", "se", "statistic", "df", "p_value",
                                  "ci_low", "ci_high"]
    text = str(reg.summary())
    assert "Mixed-Effects Model (k = 14; tau^2 estimator: REML)" in text
    assert "Test of Moderators" in text and "weeks" in text


def test_missing_moderator_raises_or_drops(trials):
    d = trials.copy()
    d.loc[2, "weeks"] = np.nan
    with pytest.raises(ValidationError, match=r"study '3' \(row 3\) has weeks=NaN"):
        meta_regression("yi ~ weeks", data=d)
    reg = meta_regression("yi ~ weeks", data=d, missing="drop")
    assert reg.k == 13 and reg.n_dropped == 1


def test_bad_input(trials):
    with pytest.raises(InputTypeError, match="needs data=DataFrame"):
        meta_regression("yi ~ weeks", data=None)
    with pytest.raises(ValidationError, match="formula must be a string"):
        meta_regression("yi", data=trials)
    with pytest.raises(ValidationError, match=r"columns not in data: \['dose'\]"):
        meta_regression("yi ~ dose", data=trials)
    d = trials.assign(weeks2=trials.weeks * 2)
    with pytest.raises(ValidationError, match="collinear"):
        meta_regression("yi ~ weeks + weeks2", data=d)
    small = trials.iloc[:2]
    with pytest.raises(ValidationError, match="more studies than coefficients"):
        meta_regression("yi ~ weeks", data=small)
    reg = meta_regression("yi ~ weeks", data=trials)
    with pytest.raises(ValidationError, match="new_data must be a DataFrame"):
        reg.predict([1, 2])
    with pytest.raises(ValidationError, match="does not fit the model"):
        reg.predict(pd.DataFrame({"dose": [1.0]}))
