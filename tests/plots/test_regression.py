"""Bubble plot: the fitted line and band are predict(), sizes are the model weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from plot_helpers import overlapping_texts

from painstats.errors import InputTypeError, ValidationError
from painstats.meta import meta_regression
from painstats.plots import bubble


@pytest.fixture(scope="module")
def trials():
    rng = np.random.default_rng(11)
    k = 14
    df = pd.DataFrame({"weeks": rng.integers(4, 24, k).astype(float),
                       "setting": rng.choice(["clinic", "home"], k),
                       "vi": rng.uniform(0.02, 0.12, k)})
    df["yi"] = -0.9 + 0.03 * df["weeks"] + rng.normal(0, 0.2, k)
    return df


def test_line_and_band_equal_predict(trials):
    reg = meta_regression("yi ~ weeks", data=trials)
    ax = bubble(reg, "weeks", data=trials)
    line = next(ln for ln in ax.lines if ln.get_label() == "Fitted")
    grid = line.get_xdata()
    pred = reg.predict(pd.DataFrame({"weeks": grid}))
    np.testing.assert_allclose(line.get_ydata(), pred["pred"], rtol=1e-12)
    band = ax.collections[0].get_paths()[0].vertices
    assert np.isclose(band[:, 1].min(), pred["ci_low"].min()) and np.isclose(
        band[:, 1].max(), pred["ci_high"].max())
    assert grid.min() == trials["weeks"].min() and grid.max() == trials["weeks"].max()
    assert overlapping_texts(ax.figure) == []


def test_bubble_sizes_are_model_weights(trials):
    reg = meta_regression("yi ~ weeks", data=trials)
    ax = bubble(reg, "weeks")  # from the model term, without data
    pts = next(c for c in ax.collections if isinstance(c, PathCollection))
    w = 1 / (trials["vi"].to_numpy() + reg.tau2)
    np.testing.assert_allclose(pts.get_sizes() / pts.get_sizes().max(), w / w.max())
    np.testing.assert_allclose(pts.get_offsets(), trials[["weeks", "yi"]].to_numpy())


def test_other_moderators_held_at_typical_values(trials):
    reg = meta_regression("yi ~ weeks + C(setting)", data=trials)
    ax = bubble(reg, "weeks", data=trials, at={"setting": "home"}, pi=True)
    line = next(ln for ln in ax.lines if ln.get_label() == "Fitted")
    grid = line.get_xdata()
    pred = reg.predict(pd.DataFrame({"weeks": grid, "setting": "home"}))
    np.testing.assert_allclose(line.get_ydata(), pred["pred"], rtol=1e-12)
    assert len([ln for ln in ax.lines if ln.get_linestyle() == "--"]) == 2
    bubble(reg, "weeks", data=trials)  # setting at its most common value


def test_ratio_measure_log_axis(trials):
    reg = meta_regression("yi ~ weeks", data=trials)
    ax = bubble(reg, "weeks", data=trials, measure="RR", labels=True)
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "Risk Ratio"
    assert len(ax.texts) == reg.k


def test_bad_input(trials):
    reg = meta_regression("yi ~ weeks + C(setting)", data=trials)
    with pytest.raises(ValidationError, match="bubble plots need a numeric moderator"):
        bubble(reg, "setting", data=trials)
    with pytest.raises(ValidationError, match="moderator 'age' is not a column of data"):
        bubble(reg, "age", data=trials)
    with pytest.raises(ValidationError, match=r"the model also needs 'setting'"):
        bubble(reg, "weeks")
    with pytest.raises(ValidationError, match="moderator 'dose' is not a model term"):
        bubble(reg, "dose")
    with pytest.raises(ValidationError, match="data has 3 rows but the meta-regression has k=14"):
        bubble(reg, "weeks", data=trials.head(3))
    with pytest.raises(InputTypeError, match="data must be a DataFrame"):
        bubble(reg, "weeks", data=[1, 2])
    with pytest.raises(InputTypeError, match="bubble\\(\\) needs a MetaRegressionResult"):
        bubble(trials, "weeks")
