"""Funnel plot: effect sizes against their standard errors, optionally contour-enhanced and
with the studies imputed by trim-and-fill shown hollow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import special

from painstats.errors import InputTypeError, ValidationError
from painstats.plots._common import axis_label, new_axes, resolve_transform, style_axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["funnel", "CONTOUR_LEVELS", "CONTOUR_SHADES"]

#: Default significance contours (confidence levels) of the contour-enhanced funnel plot.
CONTOUR_LEVELS = (0.90, 0.95, 0.99)

#: Shades from the innermost region outwards (darkest next to the white centre, as metafor).
CONTOUR_SHADES = ("white", "#8c8c8c", "#bfbfbf", "#e3e3e3")


def _p_label(a: float, b: float | None) -> str:
    fa = f"{a:.2f}".rstrip("0").rstrip(".")
    if b is None:
        return f"p > {fa}"
    fb = f"{b:.3f}".rstrip("0").rstrip(".")
    return f"{fb} < p \u2264 {fa}" if b > 0 else f"p \u2264 {fa}"


def _check_levels(contours: Any) -> tuple[float, ...]:
    if contours is True:
        return CONTOUR_LEVELS
    if contours is None or contours is False:
        return ()
    try:
        levels = tuple(sorted(float(c) / (100.0 if float(c) > 1 else 1.0) for c in contours))
    except (TypeError, ValueError):
        raise InputTypeError(f"contours must be True, False or levels like (0.90, 0.95, 0.99); "
                             f"got {contours!r}") from None
    if not levels or any(not 0 < c < 1 for c in levels) or len(levels) > 3:
        raise ValidationError(f"contours must be 1 to 3 levels between 0 and 1; got {contours!r}")
    return levels


def _draw_contours(ax: Axes, levels: Sequence[float], null: float, se_max: float, exp: bool,
                   xlim: tuple[float, float]) -> list[Any]:
    """Shaded significance regions around the null (Peters et al. 2008)."""
    from matplotlib.patches import Patch

    se = np.linspace(0.0, se_max, 200)
    f = np.exp if exp else (lambda v: v)
    shades = CONTOUR_SHADES[: len(levels) + 1]
    ax.set_facecolor(shades[-1])
    handles = []
    for lev, shade in zip(reversed(levels), reversed(shades[:-1])):
        z = special.ndtri(1 - (1 - lev) / 2)
        xs = np.concatenate([null - z * se, (null + z * se)[::-1]])
        ys = np.concatenate([se, se[::-1]])
        ax.fill(f(xs), ys, color=shade, lw=0, zorder=0)
    bounds = sorted(1 - lev for lev in levels)  # p cut-offs, ascending: 0.01, 0.05, 0.10
    labels = [_p_label(bounds[-1], None)]
    for i in range(len(bounds) - 1, 0, -1):
        labels.append(_p_label(bounds[i], bounds[i - 1]))
    labels.append(_p_label(bounds[0], 0.0))
    for shade, lab in zip(shades, labels):
        handles.append(Patch(facecolor=shade, edgecolor="#7f7f7f", lw=0.5, label=lab))
    return handles


def funnel(
    res: Any,
    *,
    ax: Axes | None = None,
    contours: bool | Sequence[float] = True,
    trim_fill: Any = None,
    measure: str | None = None,
    transform: str | None = None,
    null: float = 0.0,
    legend: bool = True,
    xlabel: str | None = None,
    color: str = "black",
) -> Axes:
    """Funnel plot of a meta-analysis: each study's effect against its standard error.

    Parameters
    ----------
    res : RandomEffectsResult
        The fitted model (``yi``, ``vi``, ``estimate`` and ``level`` are read).
    ax : matplotlib Axes, optional
        Draw here; by default a new figure (6.4 x 4.2 inches with the legend on the right).
    contours : bool or sequence of float
        ``True`` (default) shades the regions of statistical significance around ``null``
        at the 90/95/99% levels (contour-enhanced funnel, Peters et al. 2008); a sequence
        gives other levels; ``False`` draws the pseudo confidence region (dashed) around
        the pooled estimate instead.
    trim_fill : trim-and-fill result, optional
        Adds its imputed studies (``filled_yi``, ``filled_vi``) as hollow circles and the
        adjusted estimate (``adjusted.estimate``) as a dashed line.
    measure : str, optional
        Effect measure, for the axis label and (OR, RR, ROM) the back-transformed log axis.
    transform : {"none", "exp"}, optional
        As :func:`painstats.plots.forest`.
    null : float
        Centre of the significance contours on the analysis scale (0: no effect).
    legend : bool
        Show the legend of the contours and markers.
    xlabel : str, optional
        Axis label (default: the measure's name).
    color : str
        Colour of the observed studies.

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    Sterne JAC, Egger M (2001). Funnel plots for detecting bias in meta-analysis. J Clin
    Epidemiol 54:1046-1055.
    Peters JL, Sutton AJ, Jones DR, Abrams KR, Rushton L (2008). Contour-enhanced
    meta-analysis funnel plots help distinguish publication bias from other causes of
    asymmetry. J Clin Epidemiol 61:991-996.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from painstats.meta import random_effects
    >>> from painstats.plots import funnel
    >>> res = random_effects([-0.5, -0.2, -0.9, -0.3, -0.6], [0.04, 0.09, 0.06, 0.02, 0.1])
    >>> ax = funnel(res)
    >>> ax.get_ylabel()
    'Standard error'
    >>> plt.close(ax.figure)
    """
    if not hasattr(res, "yi") or not hasattr(res, "estimate"):
        raise InputTypeError(f"funnel() needs a RandomEffectsResult; got {type(res).__name__}")
    levels = _check_levels(contours)
    exp = resolve_transform(measure, transform)
    f = np.exp if exp else (lambda v: np.asarray(v, dtype=float))
    ax = new_axes(ax, (6.4, 4.2) if legend else (5.0, 4.2))
    se = np.sqrt(np.asarray(res.vi, dtype=float))
    fill_se = np.sqrt(np.asarray(trim_fill.filled_vi, dtype=float)) if trim_fill is not None \
        else np.empty(0)
    se_max = float(max(se.max(), fill_se.max() if fill_se.size else 0.0)) * 1.08
    if exp:
        ax.set_xscale("log")
    handles = []
    if levels:
        handles = _draw_contours(ax, levels, null, se_max, exp, (0, 0))
    else:
        z = special.ndtri(1 - (1 - res.level) / 2)
        grid = np.linspace(0.0, se_max, 100)
        for sign in (-1, 1):
            ax.plot(f(res.estimate + sign * z * grid), grid, color="#555555", ls="--", lw=0.8)
    ax.axvline(float(f(res.estimate)), color="black", lw=0.9, zorder=2,
               label="Pooled estimate")
    pts = ax.scatter(f(res.yi), se, s=28, color=color, edgecolor=color, zorder=3,
                     label="Studies")
    handles.append(pts)
    if trim_fill is not None:
        filled = ax.scatter(f(trim_fill.filled_yi), fill_se, s=28, facecolor="white",
                            edgecolor=color, zorder=3, label="Imputed (trim-and-fill)")
        adj = ax.axvline(float(f(trim_fill.adjusted.estimate)), color="black", ls="--", lw=0.9,
                         zorder=2, label="Adjusted estimate")
        handles += [filled, adj]
    ax.set_ylim(se_max, 0.0)
    _funnel_xlim(ax, res, trim_fill, levels, null, se_max, exp)
    ax.set_ylabel("Standard error")
    ax.set_xlabel(xlabel if xlabel is not None else axis_label(measure, "Effect size"))
    style_axes(ax, exp)
    if legend:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7.5,
                  frameon=False, borderaxespad=0.0)
    return ax


def _funnel_xlim(ax: Axes, res: Any, trim_fill: Any, levels, null: float, se_max: float,
                 exp: bool) -> None:
    """x limits holding every study and the outermost contour at the largest SE."""
    xs = [np.asarray(res.yi, dtype=float)]
    if trim_fill is not None:
        xs.append(np.asarray(trim_fill.filled_yi, dtype=float))
    x = np.concatenate(xs)
    z = special.ndtri(1 - (1 - (max(levels) if levels else res.level)) / 2)
    center = null if levels else res.estimate
    lo = min(x.min(), center - z * se_max)
    hi = max(x.max(), center + z * se_max)
    pad = 0.04 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    ax.set_xlim((np.exp(lo), np.exp(hi)) if exp else (lo, hi))
