"""Baujat, GOSH, radial and L'Abbé plots: positions equal the table/result fields."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from plot_helpers import make_result, overlapping_texts, texts_outside

from painstats.errors import InputTypeError, ValidationError
from painstats.plots import baujat, gosh, labbe, radial
from painstats.plots.diagnostics import HEXBIN_THRESHOLD


def _points(ax):
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def _baujat_table(k: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.gamma(1.0, 2.0, k), "y": rng.gamma(1.0, 0.3, k)},
                        index=[f"Trial {i + 1} (20{i % 20:02d})" for i in range(k)])


def test_baujat_points_and_labels():
    tab = _baujat_table(8)
    ax = baujat(tab)
    np.testing.assert_allclose(_points(ax)[0].get_offsets(), tab[["x", "y"]].to_numpy())
    assert {t.get_text() for t in ax.texts} <= set(tab.index)
    assert overlapping_texts(ax.figure) == []
    assert texts_outside(ax.figure) == []


def test_baujat_labels_never_overlap_in_a_crowd():
    tab = _baujat_table(60)
    ax = baujat(tab)
    assert 0 < len(ax.texts) <= 60
    assert overlapping_texts(ax.figure) == []


def test_baujat_labels_most_outlying_first():
    tab = pd.DataFrame({"x": [0.1, 9.0, 0.2, 5.0], "y": [0.0, 2.0, 0.1, 0.5]},
                       index=["a", "far", "b", "next"])
    assert sorted(t.get_text() for t in baujat(tab, labels=2).texts) == ["far", "next"]
    assert len(baujat(tab, labels=False).texts) == 0


def test_baujat_from_the_result_method(rubinstein):
    _, res = rubinstein
    if not hasattr(res, "baujat"):
        pytest.skip("RandomEffectsResult.baujat is not available yet")
    ax = baujat(res.baujat())
    assert len(_points(ax)[0].get_offsets()) == res.k


def test_baujat_bad_table():
    with pytest.raises(ValidationError, match=r"baujat\(\): the table lacks the columns \['y'\]"):
        baujat(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(InputTypeError, match="baujat\\(\\) needs a DataFrame"):
        baujat([[1, 2]])
    with pytest.raises(ValidationError, match="has no rows"):
        baujat(pd.DataFrame({"x": [], "y": []}))


def _gosh_table(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame({"estimate": rng.normal(-0.4, 0.1, n), "i2": rng.uniform(0, 90, n),
                         "tau2": rng.uniform(0, 0.1, n), "q": rng.uniform(0, 30, n),
                         "k": rng.integers(1, 10, n)})


def test_gosh_scatter_with_marginals():
    tab = _gosh_table(500)
    ax = gosh(tab)
    np.testing.assert_allclose(_points(ax)[0].get_offsets(), tab[["estimate", "i2"]].to_numpy())
    assert len(ax.child_axes) == 2  # marginal histograms
    assert ax.get_ylabel() == "I² (%)"


def test_gosh_bins_large_tables():
    ax = gosh(_gosh_table(HEXBIN_THRESHOLD + 1))
    assert any(isinstance(c, PolyCollection) for c in ax.collections)
    assert not _points(ax)
    ax = gosh(_gosh_table(100), hexbin=True, marginals=False)
    assert any(isinstance(c, PolyCollection) for c in ax.collections) and not ax.child_axes


def test_gosh_other_columns_and_ratio_scale():
    tab = _gosh_table(200)
    ax = gosh(tab, x="estimate", y="tau2", measure="OR")
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "Odds Ratio"
    np.testing.assert_allclose(_points(ax)[0].get_offsets()[:, 0], np.exp(tab["estimate"]))
    with pytest.raises(ValidationError, match=r"lacks the columns \['h2'\]"):
        gosh(tab, y="h2")


def test_radial_positions_follow_galbraith(rubinstein):
    _, res = rubinstein
    ax = radial(res)
    x = 1 / np.sqrt(res.vi + res.tau2)
    np.testing.assert_allclose(_points(ax)[0].get_offsets(), np.column_stack([x, res.yi * x]))
    slope_line = ax.lines[0]
    xs, zs = slope_line.get_xdata(), slope_line.get_ydata()
    np.testing.assert_allclose(zs[1] / xs[1], res.estimate, rtol=1e-12)
    assert overlapping_texts(ax.figure) == []
    assert texts_outside(ax.figure) == []


def test_radial_common_effect_and_ratio_labels(binary):
    _, res = binary
    ax = radial(res, measure="RR")
    labels = [float(t.get_text()) for t in ax.texts]
    assert min(labels) > 0  # arc labelled in risk ratios
    fe = make_result(5, method="REML")
    from painstats.meta import random_effects

    fe = random_effects(fe.yi, fe.vi, method="FE")
    assert radial(fe).get_xlabel() == "Precision, 1/√vᵢ"


def test_radial_wrong_type():
    with pytest.raises(InputTypeError, match="radial\\(\\) needs a RandomEffectsResult"):
        radial(pd.DataFrame())


def test_labbe_risks_and_pooled_curve(binary):
    es, res = binary
    ax = labbe(res, data=es, events1="e1", n1="n1", events2="e2", n2="n2")
    pts = _points(ax)[0]
    np.testing.assert_allclose(pts.get_offsets()[:, 0], es["e2"] / es["n2"])
    np.testing.assert_allclose(pts.get_offsets()[:, 1], es["e1"] / es["n1"])
    np.testing.assert_allclose(pts.get_sizes() / pts.get_sizes().max(),
                               res.weights / res.weights.max())
    curve = ax.lines[1]
    p = curve.get_xdata()[50]
    np.testing.assert_allclose(curve.get_ydata()[50], np.exp(res.estimate) * p)


@pytest.mark.parametrize("measure", ["OR", "RD"])
def test_labbe_curve_on_other_scales(binary, measure):
    es, _ = binary
    from painstats.meta import effect_size, random_effects

    es2 = effect_size(measure, data=es.drop(columns=["yi", "vi"]), events1="e1", n1="n1",
                      events2="e2", n2="n2")
    res = random_effects("yi", "vi", data=es2)
    ax = labbe(res, data=es2, events1="e1", n1="n1", events2="e2", n2="n2")
    p, y = ax.lines[1].get_xdata()[40], ax.lines[1].get_ydata()[40]
    if measure == "RD":
        np.testing.assert_allclose(y, max(p + res.estimate, 0.0))
    else:
        odds = np.exp(res.estimate) * p / (1 - p)
        np.testing.assert_allclose(y, odds / (1 + odds))


def test_labbe_bad_input(binary):
    es, res = binary
    with pytest.raises(ValidationError, match="data has 3 rows but the result has k=6"):
        labbe(res, data=es.head(3), events1="e1", n1="n1", events2="e2", n2="n2")
    with pytest.raises(ValidationError, match=r"lacks the columns \['ev'\]"):
        labbe(res, data=es, events1="ev", n1="n1", events2="e2", n2="n2")
    with pytest.raises(InputTypeError, match="labbe\\(\\) needs a RandomEffectsResult"):
        labbe(None, data=es, events1="e1", n1="n1", events2="e2", n2="n2")
