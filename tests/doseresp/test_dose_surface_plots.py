"""Two dose dimensions (sessions/week x load), LOO comparison and the dose-response plots."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from painstats.doseresp import fit, simulate, true_curve
from painstats.errors import InputTypeError, ValidationError

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def sim2d() -> pd.DataFrame:
    """Emax in sessions/week (emax -20, ED50 1.5) plus linear in load (-0.1 mm per %1RM)."""
    return simulate(24, curve="emax+linear", random_seed=5)


@pytest.fixture(scope="module")
def fit2d(sim2d, fast):
    return fit(sim2d, dose=["sessions_per_week", "load_pct_1rm"], model=["emax", "linear"],
               random_seed=1, **fast)


def test_two_dose_surface_covers_the_truth(fit2d, sim2d):
    grid = pd.DataFrame({"sessions_per_week": [1.0, 3, 5, 3], "load_pct_1rm": [40.0, 60, 80, 0]})
    cur = fit2d.curve(grid)
    truth = true_curve(sim2d.attrs["truth"], grid)
    assert ((cur.ci_low <= truth) & (truth <= cur.ci_high)).all(), (cur, truth)
    tab = fit2d.to_frame().set_index("term")
    assert tab.loc["beta[all, load_pct_1rm]", "ci_low"] < -0.1 < \
        tab.loc["beta[all, load_pct_1rm]", "ci_high"]


def test_optimal_dose_along_one_dimension(fit2d):
    opt = fit2d.optimal_dose(at={"load_pct_1rm": 60}).set_index("quantity")
    assert 0 < opt.loc["ED80", "estimate"] < opt.loc["ED90", "estimate"] < 6
    with pytest.raises(ValidationError, match="optimal_dose varies one dose column"):
        fit2d.optimal_dose()
    with pytest.raises(ValidationError, match=r"unknown dose column\(s\) \['minutes'\]"):
        fit2d.optimal_dose(at={"minutes": 30})


def test_two_dose_curve_needs_both_columns(fit2d):
    with pytest.raises(ValidationError, match="two dose columns"):
        fit2d.curve([1.0, 2.0])
    with pytest.raises(ValidationError, match=r"missing \['load_pct_1rm'\]"):
        fit2d.curve({"sessions_per_week": [1.0]})


def test_plot_surface_and_curve(fit2d, fit_emax):
    ax = fit2d.plot_surface()
    assert ax.get_xlabel() == "sessions_per_week" and ax.get_ylabel() == "load_pct_1rm"
    ax = fit2d.plot_curve(dose="sessions_per_week", at={"load_pct_1rm": 60})
    assert ax.get_xlabel() == "sessions_per_week"
    ax = fit_emax.plot_curve()
    line = ax.get_lines()[0]
    cur = fit_emax.curve(np.asarray(line.get_xdata()))
    np.testing.assert_allclose(line.get_ydata(), cur["mean"], rtol=1e-12)
    # one point per contrast, sized by precision
    sizes = ax.collections[-1].get_sizes()
    assert sizes.size == fit_emax.data.yi.size
    assert np.argmax(sizes) == np.argmin(fit_emax.data.vi)
    with pytest.raises(ValidationError, match="two dose columns"):
        fit_emax.plot_surface()
    with pytest.raises(ValidationError, match="is not a dose column"):
        fit_emax.plot_curve(dose="load")
    import matplotlib.pyplot as plt

    plt.close("all")


def test_interaction_term_is_named_and_sampled(sim2d):
    res = fit(sim2d, dose=["sessions_per_week", "load_pct_1rm"], model="linear", interaction=True,
              random="none", draws=600, tune=400, chains=2, random_seed=2)
    assert res.design.coef_names == ("sessions_per_week", "load_pct_1rm",
                                     "sessions_per_week:load_pct_1rm")
    d = res.curve_draws(pd.DataFrame({"sessions_per_week": [2.0], "load_pct_1rm": [50.0]}))
    beta = res.idata.posterior["beta"].stack(s=("chain", "draw")).isel(group=0).to_numpy()
    np.testing.assert_allclose(d[:, 0], beta[0] * 2 + beta[1] * 50 + beta[2] * 100, rtol=1e-12)


def test_compare_by_loo(fit_emax, sim_emax, fast):
    lin = fit(sim_emax, dose="sessions_per_week", model="linear", random_seed=3, **fast)
    table = fit_emax.compare([lin])
    assert set(table.index) == {fit_emax.label(), lin.label()}
    assert {"elpd_loo", "p_loo", "weight"} <= set(table.columns)
    with pytest.raises(InputTypeError, match="compare takes dose-response results"):
        fit_emax.compare({"other": 3})
    with pytest.raises(ValidationError, match="names needs 2 labels"):
        fit_emax.compare([lin], names=["a"])


def test_compare_needs_the_same_data(fit_emax, fit2d):
    with pytest.raises(ValidationError, match="fitted to other data"):
        fit_emax.compare([fit2d])
