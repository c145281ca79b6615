"""Dose-response plots: posterior curve with credible band, and a two-dose contour surface."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from painstats.errors import ValidationError
from painstats.plots._common import new_axes, style_axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["dose_response_curve", "dose_surface"]


def dose_response_curve(result: Any, *, dose: str | None = None, at: Mapping[str, float] | None = None,
                        group: str | None = None, prob: float = 0.95, n_points: int = 101,
                        show_data: bool = True, ax: Axes | None = None) -> Axes:
    """Posterior mean curve (effect vs control) with its credible band and the contrasts.

    Each observed contrast is a point at its dose, its area proportional to its precision
    (1 / variance). With groups (e.g. agents) every group gets its own colour (or pass
    ``group``). For a two-dose fit, ``dose`` names the dose on the x-axis and ``at`` fixes the
    other (default 0); the points are then the contrasts at that other dose only.

    Parameters
    ----------
    result : DoseResponseResult
    dose, at : optional
        Dose column on the x-axis and values of the other dose columns (two-dose fits).
    group : str, optional
        Only this group's curve.
    prob : float
        Probability of the credible band.
    n_points : int
        Doses on the curve (0 to the largest observed dose).
    show_data : bool
        Draw the observed contrasts.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from painstats.doseresp import fit
    >>> df = pd.DataFrame({"study": ["A"] * 3 + ["B"] * 2, "dose": [0, 2, 4, 0, 3],
    ...                    "mean": [50, 42, 38, 55, 46], "sd": [20.0] * 5, "n": [40] * 5})
    >>> res = fit(df, dose="dose", model="linear", random="none", draws=1000, tune=500,
    ...           chains=2, random_seed=1)
    >>> ax = res.plot_curve()
    >>> ax.get_xlabel()
    'dose'
    """
    names = list(result.dose_names)
    x_name = names[0] if dose is None else dose
    if x_name not in names:
        raise ValidationError(f"dose {x_name!r} is not a dose column of the fit {names}")
    at = dict(at or {})
    unknown = sorted(set(at) - set(names) - {x_name})
    if unknown:
        raise ValidationError(f"at= names unknown dose column(s) {unknown}; doses are {names}")
    k = names.index(x_name)
    hi = float(result.data.doses[:, k].max())
    grid = pd.DataFrame({x_name: np.linspace(0.0, hi, n_points)})
    for n in names:
        if n != x_name:
            grid[n] = float(at.get(n, 0.0))
    groups = list(result.groups) if group is None else [group]
    ax = new_axes(ax, (6.0, 4.2))
    colours = _colours(len(groups))
    for g, col in zip(groups, colours):
        cur = result.curve(grid, group=g if len(result.groups) > 1 else None, prob=prob)
        label = g if len(result.groups) > 1 else "posterior mean"
        ax.fill_between(cur[x_name], cur["ci_low"], cur["ci_high"], color=col, alpha=0.2,
                        linewidth=0)
        ax.plot(cur[x_name], cur["mean"], color=col, linewidth=1.6, label=label)
        if show_data:
            _points(ax, result, k, names, at, g, col)
    ax.axhline(0.0, color="0.5", linewidth=0.8, linestyle=":")
    ax.set_xlabel(x_name)
    ax.set_ylabel(f"effect vs control ({prob * 100:g}% credible band)")
    if len(groups) > 1:
        ax.legend(frameon=False, fontsize="small")
    style_axes(ax)
    return ax


def _points(ax, result, k, names, at, g, col) -> None:
    d = result.data
    keep = d.group == result.groups.index(g)
    for i, n in enumerate(names):
        if i != k:
            keep &= np.isclose(d.doses[:, i], float(at.get(n, 0.0)))
    if not keep.any():
        return
    w = 1.0 / d.vi[keep]
    size = 12.0 + 150.0 * w / w.max()
    ax.scatter(d.doses[keep, k], d.yi[keep], s=size, color=col, alpha=0.55, edgecolor="white",
               linewidth=0.5, zorder=3)


def _colours(n: int) -> list:
    import matplotlib.pyplot as plt

    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    return [cycle[i % len(cycle)] for i in range(n)]


def dose_surface(result: Any, *, group: str | None = None, n_points: int = 41, levels: int = 12,
                 show_data: bool = True, ax: Axes | None = None) -> Axes:
    """Contour plot of the posterior mean effect over two dose columns.

    The observed dose combinations are marked (size by precision). Only for fits with two dose
    columns.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from painstats.doseresp import fit, simulate
    >>> df = simulate(8, curve="emax+linear", random_seed=1)
    >>> res = fit(df, dose=["sessions_per_week", "load_pct_1rm"], model=["emax", "linear"],
    ...           random="none", draws=300, tune=300, chains=2, random_seed=1)  # doctest: +SKIP
    >>> ax = res.plot_surface()  # doctest: +SKIP
    """
    names = list(result.dose_names)
    if len(names) != 2:
        raise ValidationError(f"dose_surface needs a fit with two dose columns; this one has {names}")
    if group is None and len(result.groups) > 1:
        raise ValidationError(f"give group=, one of {list(result.groups)}")
    hi = result.data.doses.max(axis=0)
    a, b = np.meshgrid(np.linspace(0, hi[0], n_points), np.linspace(0, hi[1], n_points),
                       indexing="ij")
    grid = pd.DataFrame({names[0]: a.ravel(), names[1]: b.ravel()})
    cur = result.curve(grid, group=group)
    z = cur["mean"].to_numpy().reshape(a.shape)
    ax = new_axes(ax, (6.0, 4.8))
    cs = ax.contourf(a, b, z, levels=levels, cmap="viridis")
    ax.contour(a, b, z, levels=levels, colors="white", linewidths=0.4, alpha=0.6)
    ax.figure.colorbar(cs, ax=ax, label="posterior mean effect vs control")
    if show_data:
        d = result.data
        keep = np.ones(d.yi.size, bool) if group is None else \
            d.group == result.groups.index(group)
        w = 1.0 / d.vi[keep]
        ax.scatter(d.doses[keep, 0], d.doses[keep, 1], s=12.0 + 120.0 * w / w.max(),
                   facecolor="none", edgecolor="black", linewidth=0.8, zorder=3)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    style_axes(ax)
    return ax
