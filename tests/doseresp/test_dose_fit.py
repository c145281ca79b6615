"""fit() on simulated arm-level trials: reproducibility, curves, optimal dose, summaries."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from painstats.doseresp import DoseResponseResult, fit, true_curve, true_effective_dose
from painstats.errors import PainstatsWarning, ValidationError


def test_same_seed_gives_identical_draws(sim_emax, fit_emax, fast):
    again = fit(sim_emax, dose="sessions_per_week", model="emax", random_seed=3, **fast)
    for name in ("beta", "ed50_sessions_per_week", "tau"):
        assert_array_equal(again.idata.posterior[name].to_numpy(),
                           fit_emax.idata.posterior[name].to_numpy())


def test_result_holds_idata_with_per_study_log_likelihood(fit_emax, sim_emax):
    assert isinstance(fit_emax, DoseResponseResult)
    ll = fit_emax.idata.log_likelihood["y"]
    assert ll.dims == ("chain", "draw", "study")
    assert ll.sizes["study"] == sim_emax.study.nunique()
    assert "loglik" not in fit_emax.idata.posterior


def test_log_likelihood_is_the_multivariate_normal_density(fit_emax):
    """Recompute one draw's per-study log-likelihood with scipy from the posterior values."""
    from scipy.stats import multivariate_normal

    post = fit_emax.idata.posterior.isel(chain=0, draw=7)
    emax = float(post["beta"].values.ravel()[0])
    ed50 = float(post["ed50_sessions_per_week"].values.ravel()[0])
    tau = float(post["tau"].values.ravel()[0])
    dd = fit_emax.data
    for s in range(dd.n_studies):
        idx = np.flatnonzero(dd.study == s)
        g = dd.doses[idx, 0] / (ed50 + dd.doses[idx, 0])
        cov = dd.covariance(s) + tau**2 * np.outer(g, g)
        expect = multivariate_normal(emax * g, cov).logpdf(dd.yi[idx])
        got = float(fit_emax.idata.log_likelihood["y"].isel(chain=0, draw=7, study=s))
        assert_allclose(got, expect, rtol=1e-10)


def test_curve_covers_the_truth(fit_emax, sim_emax):
    doses = np.array([0.0, 1, 2, 3, 4, 6])
    cur = fit_emax.curve(doses)
    assert list(cur.columns) == ["sessions_per_week", "mean", "median", "sd", "ci_low", "ci_high"]
    assert_allclose(cur["mean"].iloc[0], 0.0, atol=0)
    truth = true_curve(sim_emax.attrs["truth"], doses)
    inside = (cur.ci_low.to_numpy() <= truth + 1e-12) & (truth - 1e-12 <= cur.ci_high.to_numpy())
    assert inside.all(), (cur, truth)
    assert (cur["ci_high"] - cur["ci_low"]).iloc[1:].min() > 0


def test_credible_band_is_the_quantile_of_the_draws(fit_emax):
    draws = fit_emax.curve_draws([2.0])[:, 0]
    c = fit_emax.curve([2.0], prob=0.8)
    assert_allclose(c[["ci_low", "ci_high"]].to_numpy()[0], np.quantile(draws, [0.1, 0.9]),
                    rtol=1e-12)
    assert_allclose(c["mean"][0], draws.mean(), rtol=1e-12)


def test_ed80_ed90_cover_the_truth(fit_emax, sim_emax):
    opt = fit_emax.optimal_dose()
    assert list(opt.quantity) == ["ED80", "ED90", "effect_at_max_dose"]
    top = float(sim_emax.sessions_per_week.max())
    for q, frac in (("ED80", 0.8), ("ED90", 0.9)):
        row = opt.set_index("quantity").loc[q]
        t = true_effective_dose(sim_emax.attrs["truth"], frac, dose_range=(0.0, top))
        assert row.ci_low <= t <= row.ci_high, (q, row, t)
    ed = opt.set_index("quantity")
    assert ed.loc["ED80", "estimate"] < ed.loc["ED90", "estimate"]


def test_prob_exceeds_is_the_share_of_draws(fit_emax):
    draws = fit_emax.curve_draws([1.0, 4.0])
    p = fit_emax.prob_exceeds(-10, [1.0, 4.0], direction="less")
    assert_allclose(p["prob"], (draws < -10).mean(axis=0), rtol=0)
    p2 = fit_emax.prob_exceeds(-10, [1.0, 4.0])
    assert_allclose(p["prob"] + p2["prob"], 1.0, rtol=0, atol=1e-12)
    with pytest.raises(ValidationError, match="direction must be 'greater' or 'less'"):
        fit_emax.prob_exceeds(-10, [1.0], direction="below")


def test_summary_and_to_frame(fit_emax):
    text = str(fit_emax.summary())
    assert "emax(sessions_per_week)" in text and "divergent transitions" in text
    assert "r_hat" in text and "ess_bulk" in text
    tab = fit_emax.to_frame()
    assert list(tab.columns) == ["term", "estimate", "se", "ci_low", "ci_high", "r_hat",
                                 "ess_bulk", "ess_tail"]
    assert tab.term.tolist() == ["beta[all, emax(sessions_per_week)]",
                                 "ed50_sessions_per_week[all]", "tau[emax(sessions_per_week)]"]
    beta = fit_emax.idata.posterior["beta"].to_numpy().ravel()
    assert_allclose(tab.estimate[0], beta.mean(), rtol=1e-12)
    assert (tab.r_hat <= 1.01).all()


def test_convergence_problems_warn(sim_emax):
    with pytest.warns(PainstatsWarning, match=r"did not converge well:.*ESS < 200 \(100 per chain\)"):
        fit(sim_emax, dose="sessions_per_week", model="linear", draws=30, tune=30, chains=2,
            random_seed=1)


def test_curve_argument_checks(fit_emax):
    with pytest.raises(ValidationError, match="prob must be in"):
        fit_emax.curve([1.0], prob=95)
    with pytest.raises(ValidationError, match="doses must be finite and non-negative"):
        fit_emax.curve([-1.0])
    with pytest.raises(ValidationError, match="group 'x' is not one of"):
        fit_emax.curve([1.0], group="x")
    with pytest.raises(ValidationError, match="direction must be one of"):
        fit_emax.optimal_dose(direction="up")


def test_nutpie_sampler_is_reproducible(sim_emax):
    pytest.importorskip("nutpie")  # optional 'fast' extra (the test extra installs it)
    kw = {"dose": "sessions_per_week", "model": "linear", "sampler": "nutpie", "draws": 500,
          "tune": 300, "chains": 2, "random_seed": 4}
    a, b = fit(sim_emax, **kw), fit(sim_emax, **kw)
    assert a.sampler == "nutpie"
    assert_array_equal(a.idata.posterior["beta"].to_numpy(), b.idata.posterior["beta"].to_numpy())


def test_nutpie_missing_is_a_clear_error(monkeypatch, sim_emax):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "nutpie" else real(name, *a))
    with pytest.raises(ValidationError, match=r"sampler='nutpie' needs the nutpie package"):
        fit(sim_emax, dose="sessions_per_week", sampler="nutpie")
    from painstats.doseresp._sampling import resolve_sampler

    assert resolve_sampler("auto") == "pymc"


@pytest.mark.parametrize("family", ["emax", "sigmoid_emax", "exponential"])
def test_reference_dose_parametrisation_keeps_the_posterior(sim_emax, family):
    """Sampling an Emax-type coefficient as the effect at the largest dose changes the
    coordinates, not the model: log p_ref(E_ref, phi) = log p(beta = E_ref / g_ref, phi)
    - log g_ref at any point (prior, Jacobian and likelihood together)."""
    from painstats.doseresp._data import read_arm_level
    from painstats.doseresp._model import Priors, build_model, make_design
    from painstats.doseresp.curves import Curve

    data = read_arm_level(sim_emax, dose_names=["sessions_per_week"], study="study",
                          mean="mean", sd="sd", se=None, n="n", group=None)
    curve = Curve(family, "sessions_per_week")
    priors = Priors(effect=50.0, tau=10.0, ed50=1.0, hill=0.5, rate=1.0)
    design = make_design(data, (curve,), False, "parameters", priors)
    lp_ref = build_model(data, design).compile_logp()
    lp_dir = build_model(data, design, reference=False).compile_logp()
    d_ref = design.ref_dose[0][0]
    assert d_ref == data.doses[:, 0].max()
    rng = np.random.default_rng(5)
    for _ in range(5):
        emax = rng.normal(-20.0, 5.0)
        phi = {p: float(rng.uniform(0.5, 4.0)) for p in curve.nonlinear}
        g_ref = float(curve.basis(np.array(d_ref), phi)[0])
        common = {f"{p}_sessions_per_week_log__": np.array([np.log(v)]) for p, v in phi.items()}
        common["tau_log__"] = np.array([np.log(rng.uniform(1.0, 8.0))])
        got = lp_ref({**common, "beta_ref": np.array([[emax * g_ref]])})
        want = lp_dir({**common, "beta": np.array([[emax]])}) - np.log(g_ref)
        assert_allclose(got, want, rtol=1e-12, atol=1e-9)
