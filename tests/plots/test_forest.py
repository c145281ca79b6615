"""Forest plots: text equals result fields, layout (no overlaps, growth with k), options."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon
from plot_helpers import make_result, overlapping_texts, texts_of, texts_outside

from painstats.errors import InputTypeError, ValidationError
from painstats.plots import LAYOUTS, cumulative, forest, leave_one_out

MINUS = "\u2212"


def f2(x: float, digits: int = 2) -> str:
    """Independent re-statement of the plots' number format (typographic minus)."""
    s = f"{x:.{digits}f}"
    return s.replace("-", MINUS) if float(s) != 0 else s.lstrip("-")


def panel(ax):
    return ax.child_axes[0]


# --------------------------------------------------------------------------------------
# the text in the figure equals the result fields


def test_study_weights_and_intervals_equal_the_result(rubinstein):
    _, res = rubinstein
    ax = forest(res)
    texts = texts_of(ax)
    frame = res.study_frame()
    for lab, row in frame.iterrows():
        assert lab in texts
    for w, y, lo, hi in zip(res.weights, res.yi, frame["ci_low"], frame["ci_high"]):
        assert f"{w:.1f}%" in texts
        assert f2(y) in texts
        assert f"[{f2(lo)}," in texts
        assert f"{f2(hi)}]" in texts
    assert f"[{f2(res.ci_low)}," in texts and f"{f2(res.ci_high)}]" in texts
    assert f2(res.estimate) in texts


def test_footer_lines_state_heterogeneity_and_overall_test(rubinstein):
    _, res = rubinstein
    texts = texts_of(forest(res))
    het = f"Heterogeneity: \u03c4\u00b2 = {f2(res.tau2)}; Q = {f2(res.q)}, df = {res.q_df} " \
          f"(p < 0.001); I\u00b2 = {res.i2:.1f}%"
    assert het in texts
    assert f"Test for overall effect: z = {f2(res.statistic)} (p = {res.pvalue:.2f})" in texts


def test_revman_layout_texts(rubinstein):
    es, res = rubinstein
    ax = forest(res, layout="revman", data=es, arms={
        "mean1": "mean_smt", "sd1": "sd_smt", "n1": "n_smt",
        "mean2": "mean_ctrl", "sd2": "sd_ctrl", "n2": "n_ctrl"})
    texts = texts_of(ax)
    assert "Study or Subgroup" in texts and "Experimental" in texts and "Control" in texts
    assert "Mean Difference IV, Random, 95% CI" in texts
    assert "Total (95% CI)" in texts and "100%" in texts
    assert str(int(es["n_smt"].sum())) in texts and str(int(es["n_ctrl"].sum())) in texts
    assert "Prediction interval" in texts
    assert f"[{f2(res.pi_low)}," in texts and f"{f2(res.pi_high)}]" in texts
    assert any(t.startswith("Heterogeneity: Tau\u00b2 = ") and "Chi\u00b2 = " in t for t in texts)
    assert f"Test for overall effect: Z = {f2(res.statistic)} (P = {res.pvalue:.2f})" in texts


def test_jama_layout_texts(rubinstein):
    _, res = rubinstein
    texts = texts_of(forest(res, layout="jama", favours=("manipulation", "control")))
    assert "Source" in texts and "Weight, %" in texts
    assert f"({f2(res.ci_low)} to" in texts and f"{f2(res.ci_high)})" in texts
    assert "Favors manipulation" in texts and "Favors control" in texts
    assert f"{res.weights[0]:.1f}" in texts
    assert any("(P = .18)" in t for t in texts)


def test_arm_columns_show_the_data(rubinstein):
    es, res = rubinstein
    ax = forest(res, data=es, arms={"mean1": "mean_smt", "sd1": "sd_smt", "n1": "n_smt",
                                    "mean2": "mean_ctrl", "sd2": "sd_ctrl", "n2": "n_ctrl"},
                arm_labels=("Manipulation", "Other"), columns={"id": "ID"})
    texts = texts_of(ax)
    assert {"Manipulation", "Other", "Mean", "SD", "Total", "ID"} <= set(texts)
    assert "48.99" in texts and "316" in texts  # UK BEAM: mean 48.99, n 316


def test_subgroup_plot_texts(haeuser):
    es, sg = haeuser
    ax = forest(sg, data=es, layout="revman")
    texts = texts_of(ax)
    o = sg.overall
    for g, m in sg.models.items():
        assert g in texts
        assert f"[{f2(m.ci_low)}," in texts and f"{f2(m.ci_high)}]" in texts
        members = es.index[es["med"] == g]
        assert f"{o.weights[members].sum():.1f}%" in texts
    assert f"Test for subgroup differences: Chi\u00b2 = {f2(sg.q_between)}, " \
           f"df = {sg.q_between_df} (P = {sg.q_between_pvalue:.2f})" in texts
    assert texts.count("Subtotal (95% CI)") == len(sg.models)
    assert "Total (95% CI)" in texts


def test_subgroups_matched_without_data(haeuser):
    es, sg = haeuser
    with_data = texts_of(forest(sg, data=es))
    without = texts_of(forest(sg, measure="SMD"))
    assert sorted(with_data) == sorted(without)


def test_ratio_measure_is_back_transformed_on_a_log_axis(binary):
    es, res = binary
    ax = forest(res, data=es, arms={"events1": "e1", "n1": "n1", "events2": "e2", "n2": "n2"})
    texts = texts_of(ax)
    assert panel(ax).get_xscale() == "log"
    assert f2(np.exp(res.estimate)) in texts
    assert f"[{f2(np.exp(res.ci_low))}," in texts
    assert "Risk Ratio [95% CI]" in texts
    assert "Total events" in texts and str(int(es["e1"].sum())) in texts
    assert "1" in texts  # the null line's tick
    nulls = [ln for ln in panel(ax).lines if np.allclose(ln.get_xdata(), 1.0)]
    assert nulls, "no reference line at RR = 1"


def test_transform_exp_without_measure_and_none_overrides():
    res = make_result(5)
    assert panel(forest(res, transform="exp")).get_xscale() == "log"
    assert panel(forest(res, measure="OR", transform="none")).get_xscale() == "linear"


def test_common_effect_single_study_has_no_heterogeneity_line():
    res = make_result(1)
    texts = texts_of(forest(res))
    assert "FE Model" in texts
    assert not any(t.startswith("Heterogeneity") for t in texts)


# --------------------------------------------------------------------------------------
# graphics


def test_box_area_is_proportional_to_weight(rubinstein):
    _, res = rubinstein
    p = panel(forest(res))
    sizes = np.concatenate([c.get_sizes() for c in p.collections])
    assert sizes.size == res.k
    np.testing.assert_allclose(sizes / sizes.max(), res.weights / res.weights.max(), rtol=1e-9)


def test_pooled_diamond_spans_the_confidence_interval(rubinstein):
    _, res = rubinstein
    diamonds = [q for q in panel(forest(res)).patches if isinstance(q, Polygon)]
    assert len(diamonds) == 1
    xs = diamonds[0].get_xy()[:, 0]
    np.testing.assert_allclose([xs.min(), xs.max()], [res.ci_low, res.ci_high], rtol=1e-12)


def test_prediction_interval_styles(rubinstein):
    _, res = rubinstein
    dotted = [ln for ln in panel(forest(res, prediction="line")).lines if ln.get_linestyle() == ":"]
    assert len(dotted) == 1
    np.testing.assert_allclose(dotted[0].get_xdata(), [res.pi_low, res.pi_high], rtol=1e-12)
    assert "Prediction interval" in texts_of(forest(res, prediction="row"))
    assert "Prediction interval" not in texts_of(forest(res, prediction="none", layout="jama"))


def test_clipped_intervals_end_in_arrows(rubinstein):
    _, res = rubinstein
    p = panel(forest(res, xlim=(-30, 20)))
    markers = [ln.get_marker() for ln in p.lines if isinstance(ln, Line2D)]
    assert "<" in markers and ">" in markers
    assert p.get_xlim() == (-30.0, 20.0)


def test_order_by_estimate_and_by_column(rubinstein):
    es, res = rubinstein
    texts = texts_of(forest(res, order="estimate"))
    order = [res.labels[i] for i in np.argsort(res.yi, kind="stable")]
    positions = [texts.index(f2(y)) for y in np.sort(res.yi)]
    assert positions == sorted(positions)
    assert texts.index(order[0]) < texts.index(order[-1])
    desc = texts_of(forest(res, data=es, order="-id"))
    assert desc.index("Wilkey 2008") < desc.index("Bronfort 1996")


def test_favours_labels_sit_either_side_of_the_null_line(rubinstein):
    _, res = rubinstein
    ax = forest(res, favours=("manipulation", "other therapies"))
    fig = ax.figure
    fig.canvas.draw()
    left = next(t for t in ax.texts if t.get_text() == "Favours manipulation")
    right = next(t for t in ax.texts if t.get_text() == "Favours other therapies")
    null_x = panel(ax).transData.transform((0.0, 0.0))[0]
    r = fig.canvas.get_renderer()
    assert left.get_window_extent(r).x1 <= null_x <= right.get_window_extent(r).x0


# --------------------------------------------------------------------------------------
# layout: no overlaps, nothing clipped, height grows with k


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("k", [1, 2, 150])
def test_nothing_overlaps_or_is_clipped(k, layout):
    res = make_result(k)
    ax = forest(res, layout=layout, favours=("exercise", "usual care"))
    assert overlapping_texts(ax.figure) == []
    assert texts_outside(ax.figure) == []


@pytest.mark.parametrize("dpi", [50, 72, 150, 300])
def test_no_overlap_at_any_resolution(dpi, rubinstein):
    es, res = rubinstein
    ax = forest(res, data=es, layout="revman", favours=("manipulation", "other therapies"),
                arms={"mean1": "mean_smt", "sd1": "sd_smt", "n1": "n_smt",
                      "mean2": "mean_ctrl", "sd2": "sd_ctrl", "n2": "n_ctrl"})
    ax.figure.set_dpi(dpi)
    assert overlapping_texts(ax.figure) == []
    assert texts_outside(ax.figure) == []


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_long_labels_wrap_without_overlap(layout):
    res = make_result(6, long_labels=True)
    ax = forest(res, layout=layout, favours=("a long label for the experimental arm",
                                             "and an even longer one for the control arm"))
    assert overlapping_texts(ax.figure) == []
    assert texts_outside(ax.figure) == []
    assert any("\n" in t for t in texts_of(ax, raw=True)), "long labels were not wrapped"
    assert ax.figure.get_size_inches()[0] < 12


def test_subgroup_and_arm_columns_do_not_overlap(haeuser):
    es, sg = haeuser
    for layout in LAYOUTS:
        ax = forest(sg, data=es, layout=layout, favours=("drug", "placebo"),
                    arms={"mean1": "mti", "sd1": "sdti", "n1": "nti", "mean2": "mci",
                          "sd2": "sdci", "n2": "nci"})
        assert overlapping_texts(ax.figure) == []
        assert texts_outside(ax.figure) == []


def test_figure_height_grows_with_k():
    heights = [forest(make_result(k)).figure.get_size_inches()[1] for k in (2, 10, 40, 150)]
    assert heights == sorted(heights) and len(set(heights)) == 4
    per_study = np.diff(heights) / np.diff([2, 10, 40, 150])
    np.testing.assert_allclose(per_study, per_study[0], rtol=1e-6)  # linear in k


def test_drawing_into_a_small_axes_shrinks_the_font():
    import matplotlib.pyplot as plt

    fig, (a, _) = plt.subplots(1, 2, figsize=(9, 3))
    ax = forest(make_result(12), ax=a, favours=("x", "y"))
    assert ax is a
    assert max(t.get_fontsize() for t in a.texts) < LAYOUTS["metafor"].fontsize
    assert overlapping_texts(fig) == []


# --------------------------------------------------------------------------------------
# leave-one-out and cumulative


def _loo_frame(res) -> pd.DataFrame:
    from painstats.meta import random_effects

    rows = {}
    for i in range(res.k):
        keep = np.arange(res.k) != i
        r = random_effects(res.yi[keep], res.vi[keep], method=res.method)
        rows[res.labels[i]] = {"estimate": r.estimate, "ci_low": r.ci_low,
                               "ci_high": r.ci_high, "tau2": r.tau2, "i2": r.i2}
    return pd.DataFrame.from_dict(rows, orient="index")


def test_leave_one_out_texts_equal_the_table():
    res = make_result(6)
    loo = _loo_frame(res)
    texts = texts_of(leave_one_out(loo, overall=res))
    for lab, r in loo.iterrows():
        assert lab in texts
        assert f2(r["estimate"]) in texts and f"[{f2(r['ci_low'])}," in texts
        assert f"{r['i2']:.1f}%" in texts
    assert "Study omitted" in texts and "RE Model" in texts


def test_leave_one_out_from_the_result_method(rubinstein):
    _, res = rubinstein
    if not hasattr(res, "leave_one_out"):
        pytest.skip("RandomEffectsResult.leave_one_out is not available yet")
    ax = leave_one_out(res.leave_one_out(), overall=res)
    assert overlapping_texts(ax.figure) == []


def test_cumulative_labels_and_table():
    res = make_result(5)
    cum = _loo_frame(res).iloc[::-1]
    texts = texts_of(cumulative(cum, layout="jama"))
    assert "Study added" in texts and f"+ {cum.index[0]}" in texts


def test_frame_plots_check_their_columns():
    with pytest.raises(ValidationError, match=r"lacks the columns \['ci_low', 'ci_high'"):
        leave_one_out(pd.DataFrame({"estimate": [0.1]}))
    with pytest.raises(ValidationError, match="expected a DataFrame"):
        cumulative([1, 2, 3])
    with pytest.raises(InputTypeError, match="overall must be a RandomEffectsResult"):
        leave_one_out(_loo_frame(make_result(3)), overall="all")


# --------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"layout": "lancet"}, ValidationError, r"layout must be one of \['jama', 'metafor'"),
        ({"layout": 3}, InputTypeError, "layout must be one of"),
        ({"prediction": "band"}, ValidationError, "prediction must be one of"),
        ({"favours": "exercise"}, ValidationError, "favours must be two labels"),
        ({"transform": "log"}, ValidationError, "transform must be one of"),
        ({"digits": -1}, ValidationError, "digits must be an integer from 0 to 6"),
        ({"order": "year"}, ValidationError, "order must be 'estimate'"),
        ({"order": [1, 2]}, ValidationError, r"order must have one sort key per study \(4\)"),
        ({"columns": ["year"]}, ValidationError, r"columns= needs data="),
        ({"arms": {"mean1": "m"}}, ValidationError, r"arms= needs data="),
        ({"data": pd.DataFrame({"a": [1, 2]})}, ValidationError,
         r"data has 2 rows but the result has k=4 studies"),
        ({"data": [1, 2, 3, 4]}, InputTypeError, "data must be a pandas DataFrame"),
        ({"xlim": (1, -1)}, ValidationError, r"xlim must be \(low, high\) with low < high"),
        ({"xlim": (0, 2), "transform": "exp"}, ValidationError, "must be positive"),
    ],
)
def test_bad_options_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        forest(make_result(4), **kwargs)


def test_bad_columns_and_arms_name_the_columns():
    res = make_result(3)
    data = pd.DataFrame({"year": [2001, 2002, 2003], "m": [1.0, 2.0, 3.0]})
    with pytest.raises(ValidationError, match=r"columns \['age'\] are not in data"):
        forest(res, data=data, columns=["age"])
    with pytest.raises(InputTypeError, match="columns must be a list of column names"):
        forest(res, data=data, columns=3)
    with pytest.raises(ValidationError, match="arms must give exactly the continuous roles"):
        forest(res, data=data, arms={"mean1": "m"})
    with pytest.raises(ValidationError, match=r"arms columns not in data: \{'n2': 'x'\}"):
        forest(res, data=data, arms={"events1": "m", "n1": "m", "events2": "m", "n2": "x"})
    with pytest.raises(InputTypeError, match="arms must be a dict"):
        forest(res, data=data, arms=["m"])


def test_subgroup_data_must_match(haeuser):
    es, sg = haeuser
    wrong = es.assign(med="other")
    with pytest.raises(ValidationError, match=r"data\['med'\] does not match the subgroup result"):
        forest(sg, data=wrong)


def test_wrong_result_type():
    with pytest.raises(InputTypeError, match="forest\\(\\) needs a RandomEffectsResult"):
        forest({"estimate": 1.0})


def test_dropped_studies_are_named_in_the_data_error():
    from painstats.meta import random_effects

    df = pd.DataFrame({"yi": [0.1, np.nan, 0.3, 0.2], "vi": [0.01, 0.02, 0.03, 0.02]})
    res = random_effects("yi", "vi", data=df, missing="drop")
    with pytest.raises(ValidationError, match="1 were dropped for missing values"):
        forest(res, data=df)


def test_importing_painstats_does_not_import_matplotlib():
    code = ("import sys, painstats, painstats.plots, painstats.report, painstats.cli; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
