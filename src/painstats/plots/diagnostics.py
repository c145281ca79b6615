"""Diagnostic plots: Baujat, GOSH, radial (Galbraith) and L'Abbé plots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import special

from painstats.errors import InputTypeError, ValidationError
from painstats.plots._common import axis_label, new_axes, resolve_transform, style_axes
from painstats.plots._text import fmt_tick

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["baujat", "gosh", "radial", "labbe", "HEXBIN_THRESHOLD"]

#: GOSH plots with more subsets than this are drawn as hexagonal bins (``hexbin="auto"``).
HEXBIN_THRESHOLD = 5000


def _frame(table: Any, need: Sequence[str], what: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise InputTypeError(f"{what} needs a DataFrame with columns {list(need)}; got "
                             f"{type(table).__name__}")
    absent = [c for c in need if c not in table.columns]
    if absent:
        raise ValidationError(f"{what}: the table lacks the columns {absent}; it has "
                              f"{list(table.columns)}")
    if table.empty:
        raise ValidationError(f"{what}: the table has no rows")
    return table


def _label_points(ax: Axes, xs, ys, texts: Sequence[str], fontsize: float = 7.5) -> int:
    """Label points in the given (priority) order where a label fits beside its point
    without overlapping another label, a point or the axes edge; returns how many fit."""
    fig = ax.figure
    fig.draw_without_rendering()  # run the layout engine so positions are final
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    pts = ax.transData.transform(np.column_stack([xs, ys]))
    from matplotlib.transforms import Bbox

    r = 3.0 * fig.dpi / 72
    occupied = [Bbox.from_extents(px - r, py - r, px + r, py + r) for px, py in pts]
    offsets = [((4, 0), "left", "center"), ((-4, 0), "right", "center"),
               ((0, 4), "center", "bottom"), ((0, -4), "center", "top"),
               ((4, 4), "left", "bottom"), ((-4, 4), "right", "bottom"),
               ((4, -4), "left", "top"), ((-4, -4), "right", "top")]
    n = 0
    for x, y, s in zip(xs, ys, texts):
        for (dx, dy), ha, va in offsets:
            t = ax.annotate(s, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha,
                            va=va, fontsize=fontsize, annotation_clip=False)
            bb = t.get_window_extent(renderer)
            fits = frame.x0 <= bb.x0 and bb.x1 <= frame.x1 and frame.y0 <= bb.y0 and \
                bb.y1 <= frame.y1
            if fits and not any(bb.overlaps(o) for o in occupied):
                occupied.append(bb)
                n += 1
                break
            t.remove()
    return n


def baujat(table: pd.DataFrame, *, ax: Axes | None = None, labels: bool | int = True,
           color: str = "black") -> Axes:
    """Baujat plot: each study's contribution to heterogeneity against its influence.

    Parameters
    ----------
    table : DataFrame
        ``res.baujat()``: indexed by study, with ``x`` (contribution to Cochran's Q) and
        ``y`` (influence on the pooled estimate).
    ax : matplotlib Axes, optional
        Draw here; by default a new figure.
    labels : bool or int
        Label the studies (True), none (False), or at most the given number, in order of
        x + y ranks (the most outlying first). A label goes beside its point where it
        overlaps no other label or point; studies in a crowd stay unlabelled.
    color : str
        Marker colour.

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    Baujat B, Mahé C, Pignon JP, Hill C (2002). A graphical method for exploring
    heterogeneity in meta-analyses: application to a meta-analysis of 65 trials. Stat Med
    21:2641-2652.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> from painstats.plots import baujat
    >>> tab = pd.DataFrame({"x": [0.2, 5.1, 0.7], "y": [0.01, 0.9, 0.1]},
    ...                    index=["Ang 2010", "Bo 2012", "Cy 2015"])
    >>> ax = baujat(tab)
    >>> sorted(t.get_text() for t in ax.texts)
    ['Ang 2010', 'Bo 2012', 'Cy 2015']
    >>> plt.close(ax.figure)
    """
    tab = _frame(table, ("x", "y"), "baujat()")
    ax = new_axes(ax, (5.0, 4.2))
    x, y = tab["x"].to_numpy(float), tab["y"].to_numpy(float)
    ax.scatter(x, y, s=22, color=color, zorder=3)
    ax.set_xlabel("Squared Pearson residual (contribution to Q)")
    ax.set_ylabel("Influence on the pooled estimate")
    _pad_limits(ax, x, y)
    style_axes(ax)
    if labels:
        n = len(tab) if labels is True else int(labels)
        score = pd.Series(x).rank().to_numpy() + pd.Series(y).rank().to_numpy()
        pick = np.argsort(-score, kind="stable")[:n]
        _label_points(ax, x[pick], y[pick], [str(tab.index[i]) for i in pick])
    return ax


def _pad_limits(ax: Axes, x: np.ndarray, y: np.ndarray, frac: float = 0.08) -> None:
    for arr, setter in ((x, ax.set_xlim), (y, ax.set_ylim)):
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        span = hi - lo if hi > lo else max(abs(hi), 1.0)
        setter(min(0.0, lo) - frac * span if lo >= 0 else lo - frac * span, hi + frac * span)


def gosh(table: pd.DataFrame, *, ax: Axes | None = None, x: str = "estimate", y: str = "i2",
         hexbin: bool | str = "auto", marginals: bool = True, bins: int = 50,
         color: str = "#1F4E79", measure: str | None = None, transform: str | None = None
         ) -> Axes:
    """GOSH plot: the pooled estimate against I² over subsets of studies.

    Parameters
    ----------
    table : DataFrame
        ``res.gosh()``: one row per subset with ``estimate, i2, tau2, q, k``.
    ax : matplotlib Axes, optional
        Main panel; the marginal histograms are drawn in insets above and to the right.
    x, y : str
        Columns on the axes (default estimate and I²).
    hexbin : bool or "auto"
        Hexagonal binning instead of points; "auto" bins above 5000 subsets.
    marginals : bool
        Histograms of ``x`` and ``y`` along the top and right edges.
    bins : int
        Histogram bins (and hexagons across).
    color : str
        Colour of points and histograms.
    measure, transform : str, optional
        With a ratio measure (or ``transform="exp"``) the estimate axis shows exp(estimate)
        on a log scale.

    Returns
    -------
    matplotlib.axes.Axes
        The main panel.

    References
    ----------
    Olkin I, Dahabreh IJ, Trikalinos TA (2012). GOSH - a graphical display of study
    heterogeneity. Res Synth Methods 3:214-223.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> import pandas as pd
    >>> from painstats.plots import gosh
    >>> rng = np.random.default_rng(1)
    >>> tab = pd.DataFrame({"estimate": rng.normal(-0.4, 0.1, 300),
    ...                     "i2": rng.uniform(0, 80, 300)})
    >>> ax = gosh(tab)
    >>> ax.get_ylabel()
    'I² (%)'
    >>> plt.close(ax.figure)
    """
    tab = _frame(table, (x, y), "gosh()")
    exp = resolve_transform(measure, transform) and x == "estimate"
    xv = tab[x].to_numpy(float)
    xv = np.exp(xv) if exp else xv
    yv = tab[y].to_numpy(float)
    own = ax is None
    ax = new_axes(ax, (5.2, 5.0))
    if own and marginals:
        ax.figure.set_layout_engine(None)
        ax.set_position((0.13, 0.11, 0.64, 0.64))
    use_hex = len(tab) > HEXBIN_THRESHOLD if hexbin == "auto" else bool(hexbin)
    if use_hex:
        ax.hexbin(xv, yv, gridsize=bins, cmap="Blues", mincnt=1, bins="log",
                  xscale="log" if exp else "linear", linewidths=0)
    else:
        alpha = float(np.clip(30.0 / np.sqrt(len(tab)), 0.08, 0.8))
        ax.scatter(xv, yv, s=6, color=color, alpha=alpha, linewidths=0)
    if exp:
        ax.set_xscale("log")
    names = {"estimate": axis_label(measure, "Pooled estimate"), "i2": "I² (%)",
             "tau2": "τ²", "q": "Q", "k": "Number of studies"}
    ax.set_xlabel(names.get(x, x))
    ax.set_ylabel(names.get(y, y))
    style_axes(ax, exp)
    if marginals:
        _marginals(ax, xv, yv, bins, color, exp)
    return ax


def _marginals(ax: Axes, xv: np.ndarray, yv: np.ndarray, bins: int, color: str, exp: bool) -> None:
    top = ax.inset_axes((0.0, 1.03, 1.0, 0.22), sharex=ax)
    right = ax.inset_axes((1.03, 0.0, 0.22, 1.0), sharey=ax)
    xb = np.geomspace(xv.min(), xv.max(), bins + 1) if exp and xv.min() > 0 else bins
    top.hist(xv, bins=xb, color=color, alpha=0.75)
    right.hist(yv, bins=bins, color=color, alpha=0.75, orientation="horizontal")
    for a in (top, right):
        a.set_axis_off()


def radial(res: Any, *, ax: Axes | None = None, measure: str | None = None,
           transform: str | None = None, color: str = "black", steps: int = 5) -> Axes:
    """Radial (Galbraith) plot: standardised effects against precision.

    Each study is drawn at x = 1/sqrt(vi + tau²), z = yi/sqrt(vi + tau²) (tau² = 0 for a
    common-effect model); the line through the origin has the pooled estimate as slope and
    the dotted lines mark ±z(level) around it. The arc on the right reads off effect sizes
    (a line from the origin through a point hits the arc at that study's estimate); the
    thick part of the arc is the confidence interval of the pooled estimate.

    Parameters
    ----------
    res : RandomEffectsResult
        The fitted model (``yi, vi, tau2, estimate, ci_low, ci_high, level``).
    ax : matplotlib Axes, optional
        Draw here (it is made square); by default a new figure.
    measure, transform : str, optional
        Label the arc in ratios (exp) for ratio measures.
    color : str
        Marker colour.
    steps : int
        Number of labelled ticks on the arc.

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    Galbraith RF (1988). A note on graphical presentation of estimated odds ratios from
    several clinical trials. Stat Med 7:889-894.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from painstats.meta import random_effects
    >>> from painstats.plots import radial
    >>> res = random_effects([-0.5, -0.2, -0.9, -0.3], [0.04, 0.09, 0.06, 0.02], method="DL")
    >>> ax = radial(res)
    >>> ax.get_xlabel()
    'Precision, 1/√(vᵢ + τ²)'
    >>> plt.close(ax.figure)
    """
    if not hasattr(res, "yi") or not hasattr(res, "tau2"):
        raise InputTypeError(f"radial() needs a RandomEffectsResult; got {type(res).__name__}")
    exp = resolve_transform(measure, transform)
    yi, vi = np.asarray(res.yi, float), np.asarray(res.vi, float)
    tau2 = 0.0 if res.method == "FE" else float(res.tau2)
    xi = 1.0 / np.sqrt(vi + tau2)
    zi = yi * xi
    crit = float(special.ndtri(1 - (1 - res.level) / 2))
    xmax = 1.3 * float(xi.max())
    arc_x = 1.14 * xmax
    beta = float(res.estimate)
    ylo = [yi.min(), res.ci_low]
    yhi = [yi.max(), res.ci_high]
    zmin = min(-5.0, 1.1 * zi.min(), 1.1 * min(ylo) * arc_x, -1.1 * crit + xmax * beta)
    zmax = max(5.0, 1.1 * zi.max(), 1.1 * max(yhi) * arc_x, 1.1 * crit + xmax * beta)
    ax = new_axes(ax, (5.4, 5.0))
    ax.set_box_aspect(1)
    xlim = (0.0, arc_x * 1.28)
    ax.set_xlim(*xlim)
    ax.set_ylim(zmin, zmax)
    ax.fill([0, xmax, xmax, 0], [crit, crit + xmax * beta, -crit + xmax * beta, -crit],
            color="#ececec", lw=0, zorder=0)
    ax.plot([0, xmax], [0, xmax * beta], color="black", lw=0.9)
    for s in (-1, 1):
        ax.plot([0, xmax], [s * crit, s * crit + xmax * beta], color="black", lw=0.8, ls=":")
    ax.scatter(xi, zi, s=22, color=color, zorder=3)
    asp = (zmax - zmin) / (xlim[1] - xlim[0])
    _arc(ax, arc_x, asp, np.linspace(min(ylo), max(yhi), 200), lw=0.8)
    _arc(ax, arc_x, asp, np.linspace(res.ci_low, res.ci_high, 50), lw=3.0)
    ticks = np.linspace(min(ylo), max(yhi), steps)
    for t in ticks:
        x0, z0 = _arc_point(arc_x, asp, t)
        x1, z1 = _arc_point(arc_x * 1.025, asp, t)
        ax.plot([x0, x1], [z0, z1], color="black", lw=0.8)
        x2, z2 = _arc_point(arc_x * 1.045, asp, t)
        ax.text(x2, z2, fmt_tick(round(float(np.exp(t) if exp else t), 2)), ha="left",
                va="center", fontsize=7.5)
    ax.spines["bottom"].set_bounds(0, xmax)
    ax.set_xticks([t for t in ax.get_xticks() if 0 <= t <= xmax])
    ax.set_xlabel("Precision, 1/√(vᵢ + τ²)" if tau2 > 0 or res.method != "FE"
                  else "Precision, 1/√vᵢ")
    ax.set_ylabel("Standardised effect, z")
    style_axes(ax)
    return ax


def _arc_point(radius: float, asp: float, t):
    x = np.sqrt(radius**2 / (1 + (np.asarray(t) / asp) ** 2))
    return x, x * np.asarray(t)


def _arc(ax: Axes, radius: float, asp: float, ts: np.ndarray, lw: float) -> None:
    x, z = _arc_point(radius, asp, ts)
    ax.plot(x, z, color="black", lw=lw, solid_capstyle="butt")


def labbe(res: Any, *, data: pd.DataFrame, events1: str, n1: str, events2: str, n2: str,
          measure: str | None = None, ax: Axes | None = None, color: str = "#1F4E79",
          arm_labels: tuple[str, str] = ("Treatment", "Control")) -> Axes:
    """L'Abbé plot: event risk in the treatment arm against the control arm.

    Circles have area proportional to the study's weight in ``res``; both axes run from 0
    to just above the largest risk; the dashed diagonal is no effect, and the solid curve is the pooled effect (``res.estimate`` on the scale of
    ``measure``: log risk ratio, log odds ratio or risk difference) mapped to risks.

    Parameters
    ----------
    res : RandomEffectsResult
        The model fitted to these studies, in the same order as ``data``.
    data : DataFrame
        One row per study with the arm counts.
    events1, n1, events2, n2 : str
        Columns of events and group sizes, treatment (1) and control (2) arms.
    measure : {"RR", "OR", "RD"}, optional
        Scale of ``res`` (default ``data.attrs["measure"]``); without it the pooled curve
        is left out.
    ax : matplotlib Axes, optional
        Draw here; by default a new square figure.
    color : str
        Fill colour of the circles.
    arm_labels : (str, str)
        Axis labels of the treatment and control arms.

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    L'Abbé KA, Detsky AS, O'Rourke K (1987). Meta-analysis in clinical research. Ann Intern
    Med 107:224-233.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> from painstats.meta import effect_size, random_effects
    >>> from painstats.plots import labbe
    >>> arms = pd.DataFrame({"e1": [12, 20, 8], "n1": [50, 80, 40],
    ...                      "e2": [20, 31, 15], "n2": [50, 78, 42]})
    >>> es = effect_size("RR", data=arms, events1="e1", n1="n1", events2="e2", n2="n2")
    >>> res = random_effects("yi", "vi", data=es)
    >>> ax = labbe(res, data=es, events1="e1", n1="n1", events2="e2", n2="n2")
    >>> ax.get_xlabel()
    'Event risk, Control'
    >>> plt.close(ax.figure)
    """
    if not hasattr(res, "weights"):
        raise InputTypeError(f"labbe() needs a RandomEffectsResult; got {type(res).__name__}")
    tab = _frame(data, (events1, n1, events2, n2), "labbe()")
    if len(tab) != res.k:
        raise ValidationError(f"data has {len(tab)} rows but the result has k={res.k} studies")
    p1 = tab[events1].to_numpy(float) / tab[n1].to_numpy(float)
    p2 = tab[events2].to_numpy(float) / tab[n2].to_numpy(float)
    measure = measure if measure is not None else tab.attrs.get("measure")
    ax = new_axes(ax, (4.8, 4.8))
    w = np.asarray(res.weights, float)
    ax.scatter(p2, p1, s=400 * w / w.max(), facecolor=color, edgecolor="white", alpha=0.7,
               linewidths=0.6, zorder=3)
    top = float(min(1.0, 1.15 * np.nanmax(np.r_[p1, p2])))
    ax.plot([0, top], [0, top], color="black", ls="--", lw=0.8)
    curve = _pooled_curve(measure, float(res.estimate))
    if curve is not None:
        g = np.linspace(0.0, top, 201)
        ax.plot(g, np.clip(curve(g), 0, 1), color="black", lw=1.0,
                label=f"Pooled {axis_label(measure, '').lower()}")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_box_aspect(1)
    ax.set_xlabel(f"Event risk, {arm_labels[1]}")
    ax.set_ylabel(f"Event risk, {arm_labels[0]}")
    style_axes(ax)
    return ax


def _pooled_curve(measure: str | None, est: float):
    m = str(measure).upper() if measure is not None else None
    if m == "RR":
        return lambda p: np.exp(est) * p
    if m == "OR":
        return lambda p: np.exp(est) * p / (1 - p + np.exp(est) * p)
    if m == "RD":
        return lambda p: p + est
    return None
