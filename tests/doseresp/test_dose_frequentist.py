"""With vague priors the posterior means equal the frequentist fits with the same basis.

* One contrast per study, random effects on the contrasts: the model is the REML
  meta-regression without intercept (``painstats.meta.meta_regression("yi ~ 0 + ...")``);
  the posterior mean averages over tau where REML plugs in its estimate, so they agree within
  Monte Carlo error plus a small part of the standard error (k = 40 studies; see each test).
* Common effect (``random="none"``): the posterior is exactly normal around the generalised
  least-squares estimate with the exact covariance of contrasts sharing a control arm (up to
  the vague prior, whose shrinkage is < 1e-4 of an SE), so posterior mean and SD equal the GLS
  estimate and SE within Monte Carlo error (4 MCSE for the mean; 10% for the SD with ~1000
  effective draws, whose own Monte Carlo relative error is ~2%).
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from painstats import datasets
from painstats.doseresp import fit
from painstats.doseresp.curves import rcs_terms
from painstats.meta import meta_regression

SETTINGS = {"draws": 1000, "tune": 500, "chains": 2, "cores": 1}


@pytest.fixture(scope="module")
def one_contrast_per_study() -> pd.DataFrame:
    """40 trials, one exercise arm each vs control: quadratic truth, tau = 2 mm."""
    rng = np.random.default_rng(2026)
    k = 40
    dose = rng.uniform(0.5, 10.0, k).round(1)
    vi = rng.uniform(4.0, 16.0, k)
    yi = -4.0 * dose + 0.25 * dose**2 + rng.normal(0, 2.0, k) + rng.normal(0, np.sqrt(vi))
    return pd.DataFrame({"study": [f"s{i:02d}" for i in range(k)], "dose": dose, "yi": yi,
                         "vi": vi})


def _posterior(res, prob: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    beta = res.idata.posterior["beta"].isel(group=0)
    mean = beta.mean(("chain", "draw")).to_numpy()
    sd = beta.std(("chain", "draw")).to_numpy()
    mcse = az.mcse(res.idata, var_names=["beta"])["beta"].isel(group=0).to_numpy()
    return mean, sd, mcse


@pytest.mark.parametrize("model, formula", [
    ("linear", "yi ~ 0 + dose"),
    ("quadratic", "yi ~ 0 + dose + I(dose ** 2)"),
    ("rcs", "yi ~ 0 + dose + s1"),
])
def test_random_contrast_model_matches_reml_meta_regression(one_contrast_per_study, model, formula):
    df = one_contrast_per_study
    res = fit(df, dose="dose", model=model, yi="yi", vi="vi", random="contrast", priors="vague",
              random_seed=5, **SETTINGS)
    if model == "rcs":
        knots = np.asarray(res.design.curves[0].knots)
        df = df.assign(s1=rcs_terms(df.dose.to_numpy(), knots)[0])
    reml = meta_regression(formula, data=df, method="REML")
    mean, sd, mcse = _posterior(res)
    se = reml.coef["se"].to_numpy()
    # posterior mean averages over tau (REML plugs in tau-hat): allow 4 MCSE + 10% of an SE
    assert_allclose(mean, reml.coef["estimate"], rtol=0, atol=float(np.max(4 * mcse + 0.1 * se)))
    # posterior SD includes the uncertainty about tau, so it exceeds the REML SE a little
    assert np.all(sd > 0.95 * se) and np.all(sd < 1.25 * se), (sd, se)
    tau = res.idata.posterior["tau"].to_numpy()
    assert abs(np.median(tau) - np.sqrt(reml.tau2)) < 0.5 * np.std(tau) + 0.5


def _gls(X_blocks, y_blocks, V_blocks):
    A = sum(X.T @ np.linalg.solve(V, X) for X, V in zip(X_blocks, V_blocks))
    b = sum(X.T @ np.linalg.solve(V, y) for X, y, V in zip(X_blocks, y_blocks, V_blocks))
    cov = np.linalg.inv(A)
    return cov @ b, np.sqrt(np.diag(cov))


def test_common_effect_spline_is_gls_with_shared_control_covariance():
    """Crippa 2016 aripiprazole, spline, common effect: GLS with cov = control-arm variance."""
    df = datasets.load("crippa2016")
    res = fit(df, dose="dose", model="rcs", study="id", mean="y", sd="sd", n="n",
              random="none", priors="vague", random_seed=9, **SETTINGS)
    knots = np.asarray(res.design.curves[0].knots)
    Xs, ys, Vs = [], [], []
    for _, g in df.groupby("id", sort=False):
        ctrl = g[g.dose == 0].iloc[0]
        act = g[g.dose > 0]
        d = act.dose.to_numpy(float)
        Xs.append(np.column_stack([d, rcs_terms(d, knots)[0]]))
        ys.append(act.y.to_numpy() - ctrl.y)
        vc = ctrl.sd**2 / ctrl.n
        Vs.append(np.diag(act.sd.to_numpy() ** 2 / act.n.to_numpy()) + vc)
    est, se = _gls(Xs, ys, Vs)
    mean, sd, mcse = _posterior(res)
    assert_allclose(mean, est, rtol=0, atol=float(np.max(4 * mcse)))
    assert_allclose(sd, se, rtol=0.10)


def test_common_effect_quadratic_matches_fe_meta_regression(one_contrast_per_study):
    df = one_contrast_per_study
    res = fit(df, dose="dose", model="quadratic", yi="yi", vi="vi", random="none",
              priors="vague", random_seed=4, **SETTINGS)
    fe = meta_regression("yi ~ 0 + dose + I(dose ** 2)", data=df, method="FE")
    mean, sd, mcse = _posterior(res)
    assert_allclose(mean, fe.coef["estimate"], rtol=0, atol=float(np.max(4 * mcse)))
    assert_allclose(sd, fe.coef["se"], rtol=0.10)
