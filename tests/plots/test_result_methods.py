"""The results' plot_* methods delegate to painstats.plots and return Axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from painstats.meta import meta_regression, random_effects, subgroup_analysis  # noqa: E402


def test_plot_methods_return_axes():
    df = pd.DataFrame({"yi": [-0.5, -0.2, -0.7, -0.1, -0.4, -0.6],
                       "vi": [0.02, 0.03, 0.04, 0.02, 0.05, 0.03],
                       "g": ["a", "a", "b", "b", "b", "a"], "weeks": [4, 6, 8, 10, 12, 6]})
    res = random_effects("yi", "vi", data=df)
    for name in ("plot_forest", "plot_funnel", "plot_leave_one_out", "plot_cumulative",
                 "plot_baujat", "plot_radial"):
        ax = getattr(res, name)()
        assert hasattr(ax, "figure"), name
        plt.close(ax.figure)
    ax = subgroup_analysis(data=df, by="g").plot_forest()
    plt.close(ax.figure)
    ax = meta_regression("yi ~ weeks", data=df).plot_bubble("weeks", data=df)
    plt.close(ax.figure)
