"""Forest plots: of a meta-analysis, of subgroups, of leave-one-out and cumulative analyses.

Every function reads the fields of a result (or of the table a result method returned) and
draws; nothing is re-estimated. The layout is measured in points, so labels and columns
never overlap and the figure height grows with the number of studies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from painstats.errors import InputTypeError, ValidationError
from painstats.plots._build import frame_table, re_table, subgroup_table
from painstats.plots._common import TRANSFORMS, resolve_transform
from painstats.plots._forest_draw import render
from painstats.plots._style import Layout, resolve_layout
from painstats.plots._table import TableOptions, check_arms, check_columns, check_data

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["forest", "leave_one_out", "cumulative", "PREDICTION_STYLES", "TRANSFORMS"]

#: How the prediction interval is shown: a dotted line through the pooled diamond, a row
#: of its own under the diamond, or not at all.
PREDICTION_STYLES = ("line", "row", "none")


def _is_subgroup(res: Any) -> bool:
    return hasattr(res, "models") and hasattr(res, "overall") and hasattr(res, "q_between")


def _k_of(res: Any) -> tuple[int, int]:
    base = res.overall if _is_subgroup(res) else res
    return int(base.k), int(getattr(base, "n_dropped", 0))


def _options(layout: Layout, *, data: Any, k: int, n_dropped: int, measure: str | None,
             transform: str | None, columns: Any, arms: Any, prediction: str | None,
             favours: Any, digits: int, **kw: Any) -> TableOptions:
    data = check_data(data, k, n_dropped)
    if measure is None and data is not None:
        measure = data.attrs.get("measure")
    prediction = layout.prediction if prediction is None else prediction
    if prediction not in PREDICTION_STYLES:
        raise ValidationError(f"prediction must be one of {list(PREDICTION_STYLES)}; "
                              f"got {prediction!r}")
    if favours is not None and (isinstance(favours, str) or len(favours) != 2):
        raise ValidationError("favours must be two labels (left, right), e.g. "
                              f"('exercise', 'control'); got {favours!r}")
    if not isinstance(digits, int) or isinstance(digits, bool) or not 0 <= digits <= 6:
        raise ValidationError(f"digits must be an integer from 0 to 6; got {digits!r}")
    return TableOptions(
        measure=measure, log_axis=resolve_transform(measure, transform), digits=digits, data=data,
        columns=check_columns(columns, data), arms=check_arms(arms, data),
        prediction=prediction, favours=tuple(favours) if favours is not None else None, **kw,
    )


def forest(
    res: Any,
    *,
    ax: Axes | None = None,
    layout: str | Layout = "metafor",
    data: pd.DataFrame | None = None,
    columns: Sequence[str] | dict[str, str] | None = None,
    arms: dict[str, str] | None = None,
    arm_labels: tuple[str, str] | None = None,
    measure: str | None = None,
    transform: str | None = None,
    order: Any = None,
    weights: bool = True,
    prediction: str | None = None,
    heterogeneity: bool = True,
    overall_test: bool = True,
    overall: bool = True,
    favours: tuple[str, str] | None = None,
    xlim: tuple[float, float] | None = None,
    at: Sequence[float] | None = None,
    digits: int = 2,
    label_header: str | None = None,
    estimate_header: str | None = None,
    xlabel: str | None = None,
    fontsize: float | None = None,
    panel_width: float | None = None,
) -> Axes:
    """Forest plot of a random-effects or subgroup meta-analysis.

    Parameters
    ----------
    res : RandomEffectsResult or SubgroupResult
        The fitted model. A subgroup result gets a header, its studies, a subtotal diamond and
        its heterogeneity and effect tests per subgroup, then the overall diamond and the test
        for subgroup differences; study weights are those of the overall model.
    ax : matplotlib Axes, optional
        Draw into this Axes (the font shrinks if the plot does not fit); by default a new
        figure is made whose size fits the content (its height grows with the studies).
    layout : {"metafor", "revman", "jama"} or Layout
        Preset look: metafor's ``forest()`` (default), Cochrane RevMan 5, or JAMA.
    data : DataFrame, optional
        One row per analysed study in the order of the analysis (e.g. the output of
        :func:`painstats.meta.effect_size`), for ``columns``, ``arms`` and ``order``;
        its ``attrs["measure"]`` sets ``measure`` if not given.
    columns : list of str or dict, optional
        Extra text columns from ``data`` left of the plot; a dict maps column to header.
    arms : dict, optional
        Arm data columns, as ``effect_size`` names them: ``{"mean1", "sd1", "n1", "mean2",
        "sd2", "n2"}`` or ``{"events1", "n1", "events2", "n2"}`` mapped to columns of ``data``;
        shown as Mean/SD/Total (or Events/Total) under ``arm_labels``, with summed totals.
    arm_labels : (str, str), optional
        Headers over the two arms (default: the layout's, e.g. "Experimental", "Control").
    measure : str, optional
        Effect measure ("MD", "SMD", "OR", "RR", ...), for headers and the axis label.
    transform : {"none", "exp"}, optional
        "exp" shows log ratios back-transformed on a log axis; default "exp" for OR, RR, ROM.
    order : str or array_like, optional
        Sort the studies (within subgroups) by "estimate", "weight", "precision", "label", a
        column of ``data`` (e.g. "year"), or per-study keys; prefix "-" for descending.
    weights : bool
        Show the weight (%) column.
    prediction : {"line", "row", "none"}, optional
        Prediction interval as a dotted line through the diamond, as its own row, or not at
        all (default: the layout's). It is shown only for random-effects fits with k >= 3.
    heterogeneity, overall_test : bool
        Show the heterogeneity line (tau², Q, df, p, I²) and the test of the overall effect.
    overall : bool
        For subgroup results: show the overall diamond.
    favours : (str, str), optional
        Labels under the axis, left and right of the null line: ``("exercise", "control")``
        reads "Favours exercise | Favours control".
    xlim : (float, float), optional
        Axis limits (ratios for ratio measures); intervals beyond them end in arrows.
    at : sequence of float, optional
        Tick positions.
    digits : int
        Decimals of the estimates and intervals.
    label_header, estimate_header, xlabel : str, optional
        Override the column headers and the axis label.
    fontsize : float, optional
        Font size in points (default: the layout's).
    panel_width : float, optional
        Width of the plot panel in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The table Axes (``ax.figure`` is the figure); the plot panel with the x axis is
        ``ax.child_axes[0]``.

    Raises
    ------
    ValidationError
        ``data`` without one row per study, unknown columns or options, bad ``favours``.
    InputTypeError
        ``res`` is not a random-effects or subgroup result.

    See Also
    --------
    leave_one_out, cumulative, save

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from painstats import datasets
    >>> from painstats.meta import effect_size, random_effects
    >>> from painstats.plots import forest
    >>> trials = datasets.load("rubinstein2019")
    >>> es = effect_size("MD", data=trials, mean1="mean_smt", sd1="sd_smt", n1="n_smt",
    ...                  mean2="mean_ctrl", sd2="sd_ctrl", n2="n_ctrl")
    >>> res = random_effects("yi", "vi", data=es, slab="study", method="DL")
    >>> ax = forest(res, data=es, favours=("manipulation", "other therapies"),
    ...             arms={"mean1": "mean_smt", "sd1": "sd_smt", "n1": "n_smt",
    ...                   "mean2": "mean_ctrl", "sd2": "sd_ctrl", "n2": "n_ctrl"},
    ...             layout="revman")
    >>> bool(ax.figure.get_size_inches()[1] > 5)  # grows with the 23 comparisons
    True
    >>> plt.close(ax.figure)
    """
    if not (_is_subgroup(res) or hasattr(res, "study_frame")):
        raise InputTypeError("forest() needs a RandomEffectsResult or SubgroupResult; got "
                             f"{type(res).__name__}")
    lay = resolve_layout(layout)
    k, n_dropped = _k_of(res)
    opts = _options(lay, data=data, k=k, n_dropped=n_dropped, measure=measure,
                    transform=transform, columns=columns, arms=arms, prediction=prediction,
                    favours=favours, digits=digits, arm_labels=arm_labels, weights=bool(weights),
                    heterogeneity=bool(heterogeneity), overall_test=bool(overall_test),
                    order=order, label_header=label_header, estimate_header=estimate_header,
                    xlabel=xlabel)
    if _is_subgroup(res):
        table = subgroup_table(res, opts, lay, overall=bool(overall))
    else:
        table = re_table(res, opts, lay)
    return render(table, lay, ax=ax, fontsize=fontsize, panel_width=panel_width, xlim=xlim, at=at)


def _frame_plot(frame: Any, overall: Any, label_header: str, prefix: str, *, ax, layout, measure,
                transform, favours, xlim, at, digits, heterogeneity, fontsize, panel_width,
                estimate_header, xlabel) -> Axes:
    lay = resolve_layout(layout)
    if overall is not None and not hasattr(overall, "study_frame"):
        raise InputTypeError(f"overall must be a RandomEffectsResult; got {type(overall).__name__}")
    opts = _options(lay, data=None, k=0, n_dropped=0, measure=measure, transform=transform,
                    columns=None, arms=None, prediction="none", favours=favours, digits=digits,
                    weights=False, estimate_header=estimate_header, xlabel=xlabel)
    table = frame_table(frame, overall, opts, lay, label_header=label_header,
                        label_prefix=prefix, heterogeneity_columns=heterogeneity)
    return render(table, lay, ax=ax, fontsize=fontsize, panel_width=panel_width, xlim=xlim, at=at)


def leave_one_out(
    table: pd.DataFrame,
    *,
    overall: Any = None,
    ax: Axes | None = None,
    layout: str | Layout = "metafor",
    measure: str | None = None,
    transform: str | None = None,
    favours: tuple[str, str] | None = None,
    xlim: tuple[float, float] | None = None,
    at: Sequence[float] | None = None,
    digits: int = 2,
    heterogeneity: bool = True,
    fontsize: float | None = None,
    panel_width: float | None = None,
    estimate_header: str | None = None,
    xlabel: str | None = None,
) -> Axes:
    """Forest plot of a leave-one-out analysis: the pooled estimate without each study.

    Parameters
    ----------
    table : DataFrame
        ``res.leave_one_out()``: indexed by the omitted study, with ``estimate, ci_low,
        ci_high`` and (for the heterogeneity columns) ``tau2, i2``.
    overall : RandomEffectsResult, optional
        The model with all studies, drawn as a diamond under the rows.
    heterogeneity : bool
        Show tau² and I² of each fit.
    ax, layout, measure, transform, favours, xlim, at, digits, fontsize, panel_width,
    estimate_header, xlabel
        As :func:`forest`.

    Returns
    -------
    matplotlib.axes.Axes
        The table Axes; the plot panel is ``ax.child_axes[0]``.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> from painstats.plots import leave_one_out
    >>> loo = pd.DataFrame({"estimate": [-0.50, -0.42, -0.61], "ci_low": [-0.8, -0.7, -0.9],
    ...                     "ci_high": [-0.2, -0.14, -0.32], "tau2": [0.01, 0.0, 0.02],
    ...                     "i2": [12.0, 0.0, 25.1]}, index=["Ang 2010", "Bo 2012", "Cy 2015"])
    >>> ax = leave_one_out(loo)
    >>> "Ang 2010" in [t.get_text() for t in ax.texts]
    True
    >>> plt.close(ax.figure)
    """
    return _frame_plot(table, overall, "Study omitted", "", ax=ax, layout=layout,
                       measure=measure, transform=transform, favours=favours, xlim=xlim, at=at,
                       digits=digits, heterogeneity=heterogeneity, fontsize=fontsize,
                       panel_width=panel_width, estimate_header=estimate_header, xlabel=xlabel)


def cumulative(
    table: pd.DataFrame,
    *,
    overall: Any = None,
    ax: Axes | None = None,
    layout: str | Layout = "metafor",
    measure: str | None = None,
    transform: str | None = None,
    favours: tuple[str, str] | None = None,
    xlim: tuple[float, float] | None = None,
    at: Sequence[float] | None = None,
    digits: int = 2,
    heterogeneity: bool = True,
    fontsize: float | None = None,
    panel_width: float | None = None,
    estimate_header: str | None = None,
    xlabel: str | None = None,
) -> Axes:
    """Forest plot of a cumulative meta-analysis: the pooled estimate as studies are added.

    Parameters
    ----------
    table : DataFrame
        ``res.cumulative(order=...)``: indexed by the study added at each step, with
        ``estimate, ci_low, ci_high`` and (for the heterogeneity columns) ``tau2, i2``.
    overall : RandomEffectsResult, optional
        The model with all studies, drawn as a diamond under the rows.
    heterogeneity : bool
        Show tau² and I² after each step.
    ax, layout, measure, transform, favours, xlim, at, digits, fontsize, panel_width,
    estimate_header, xlabel
        As :func:`forest`.

    Returns
    -------
    matplotlib.axes.Axes
        The table Axes; the plot panel is ``ax.child_axes[0]``.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> from painstats.plots import cumulative
    >>> cum = pd.DataFrame({"estimate": [-0.9, -0.7, -0.6], "ci_low": [-1.5, -1.1, -0.9],
    ...                     "ci_high": [-0.3, -0.3, -0.3], "tau2": [0.0, 0.01, 0.02],
    ...                     "i2": [0.0, 10.0, 20.0]}, index=["Ang 2010", "Bo 2012", "Cy 2015"])
    >>> ax = cumulative(cum, favours=("exercise", "control"))
    >>> "+ Cy 2015" in [t.get_text() for t in ax.texts]
    True
    >>> plt.close(ax.figure)
    """
    return _frame_plot(table, overall, "Study added", "+ ", ax=ax, layout=layout,
                       measure=measure, transform=transform, favours=favours, xlim=xlim, at=at,
                       digits=digits, heterogeneity=heterogeneity, fontsize=fontsize,
                       panel_width=panel_width, estimate_header=estimate_header, xlabel=xlabel)
