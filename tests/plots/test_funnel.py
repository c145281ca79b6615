"""Funnel plot: points at (yi, se), contours, trim-and-fill studies hollow, ratio scale."""

from __future__ import annotations

import types

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from plot_helpers import make_result, overlapping_texts, texts_outside

from painstats.errors import InputTypeError, ValidationError
from painstats.plots import funnel


def _points(ax):
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def test_studies_are_drawn_at_effect_and_standard_error(rubinstein):
    _, res = rubinstein
    ax = funnel(res, measure="MD")
    pts = _points(ax)[0].get_offsets()
    np.testing.assert_allclose(pts[:, 0], res.yi, rtol=1e-12)
    np.testing.assert_allclose(pts[:, 1], np.sqrt(res.vi), rtol=1e-12)
    assert ax.yaxis_inverted()
    assert ax.get_ylim()[1] == 0.0
    assert ax.get_xlabel() == "Mean Difference" and ax.get_ylabel() == "Standard error"
    lines = [ln for ln in ax.lines if np.allclose(ln.get_xdata(), res.estimate)]
    assert lines, "no line at the pooled estimate"


def test_contours_shade_three_significance_regions(rubinstein):
    _, res = rubinstein
    ax = funnel(res)
    assert len(ax.patches) == 3
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:4] == ["p > 0.1", "0.05 < p \u2264 0.1", "0.01 < p \u2264 0.05", "p \u2264 0.01"]
    # the widest region reaches +-z(0.995) * se_max around 0 at the bottom of the plot
    xy = ax.patches[0].get_xy()
    se_max = ax.get_ylim()[0]
    np.testing.assert_allclose(np.abs(xy[:, 0]).max(), 2.5758293035489 * se_max, rtol=1e-9)


def test_classic_funnel_without_contours(rubinstein):
    _, res = rubinstein
    ax = funnel(res, contours=False, legend=False)
    assert len(ax.patches) == 0
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(dashed) == 2
    assert ax.get_legend() is None


def test_trim_and_fill_studies_are_hollow(rubinstein):
    _, res = rubinstein
    filled_yi = np.array([-20.0, -15.0])
    filled_vi = np.array([30.0, 40.0])
    adjusted = types.SimpleNamespace(estimate=-5.5, ci_low=-10.0, ci_high=-1.0)
    tf = types.SimpleNamespace(k0=2, side="left", adjusted=adjusted, filled_yi=filled_yi,
                               filled_vi=filled_vi)
    ax = funnel(res, trim_fill=tf)
    observed, imputed = _points(ax)
    np.testing.assert_allclose(imputed.get_offsets()[:, 0], filled_yi)
    np.testing.assert_allclose(imputed.get_offsets()[:, 1], np.sqrt(filled_vi))
    assert tuple(imputed.get_facecolor()[0]) == (1.0, 1.0, 1.0, 1.0)
    assert tuple(observed.get_facecolor()[0])[:3] == (0.0, 0.0, 0.0)
    assert any(np.allclose(ln.get_xdata(), -5.5) and ln.get_linestyle() == "--"
               for ln in ax.lines)
    assert "Imputed (trim-and-fill)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_trim_and_fill_result_when_available(rubinstein):
    _, res = rubinstein
    mod = pytest.importorskip("painstats.meta.trim_and_fill")
    tf = mod.trim_and_fill(res)
    ax = funnel(res, trim_fill=tf)
    assert len(_points(ax)[1].get_offsets()) == tf.k0


def test_ratio_measure_uses_a_log_axis(binary):
    _, res = binary
    ax = funnel(res, measure="RR")
    assert ax.get_xscale() == "log"
    np.testing.assert_allclose(_points(ax)[0].get_offsets()[:, 0], np.exp(res.yi), rtol=1e-12)
    assert ax.get_xlabel() == "Risk Ratio"


def test_layout_has_no_overlapping_text(rubinstein):
    _, res = rubinstein
    ax = funnel(res, measure="MD")
    assert overlapping_texts(ax.figure) == []
    assert texts_outside(ax.figure) == []


@pytest.mark.parametrize(
    ("contours", "error", "match"),
    [((90, 100), ValidationError, "contours must be 1 to 3 levels"),
     (("a",), InputTypeError, "contours must be True, False or levels"),
     ((0.8, 0.9, 0.95, 0.99), ValidationError, "1 to 3 levels")],
)
def test_bad_contours(contours, error, match):
    with pytest.raises(error, match=match):
        funnel(make_result(5), contours=contours)


def test_levels_in_percent_are_accepted():
    ax = funnel(make_result(5), contours=(95, 99))
    assert len(ax.patches) == 2


def test_wrong_type():
    with pytest.raises(InputTypeError, match="funnel\\(\\) needs a RandomEffectsResult"):
        funnel([0.1, 0.2])
