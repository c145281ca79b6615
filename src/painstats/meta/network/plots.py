"""Plots of a network meta-analysis: the network graph and a forest plot against a reference.

Both read fields of a :class:`~painstats.meta.network.NetworkMetaAnalysisResult` and draw;
nothing is re-estimated. matplotlib is imported inside the functions, never at import.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["plot_forest", "plot_network"]


def _axes(ax: Any, size: tuple[float, float]):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def plot_network(result: Any, ax: Any = None, *, max_node_size: float = 2000.0,
                 max_edge_width: float = 8.0, color: str = "#2b6a99") -> Any:
    """Network graph: treatments on a circle, node area by participants, edge width by studies.

    Parameters
    ----------
    result : NetworkMetaAnalysisResult
    ax : matplotlib Axes, optional
        Drawn into; a new figure when None.
    max_node_size : float
        Marker area (points^2) of the treatment with the most participants. Without arm sizes
        (contrast input without n1/n2) every node has this size.
    max_edge_width : float
        Line width of the comparison with the most studies.
    color : str
        Colour of nodes and edges.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from painstats import datasets
    >>> from painstats.meta.network import network_meta_analysis, plot_network
    >>> park = datasets.load("tsd2_parkinsons")
    >>> res = network_meta_analysis(park, study="studyn", treatment="treatment", mean="y",
    ...                             se="se", n="n", method="FE")
    >>> ax = plot_network(res)
    >>> len(ax.collections[0].get_offsets())  # one node per treatment
    5
    >>> plt.close("all")
    """
    ax = _axes(ax, (6.0, 6.0))
    data = result.data
    names = result.treatments
    n = len(names)
    angle = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    xy = np.column_stack([np.cos(angle), np.sin(angle)])
    counts = data.comparison_counts()
    top = counts.max() if counts.size else 1
    for i in range(n):
        for j in range(i + 1, n):
            if counts[i, j]:
                ax.plot(xy[[i, j], 0], xy[[i, j], 1], color=color, alpha=0.6, zorder=1,
                        solid_capstyle="round", lw=max(0.8, max_edge_width * counts[i, j] / top))
    people = data.participants()
    sizes = (np.full(n, max_node_size) if not np.all(np.isfinite(people)) or people.max() <= 0
             else max_node_size * people / people.max())
    ax.scatter(xy[:, 0], xy[:, 1], s=np.maximum(sizes, 30.0), color=color, zorder=2,
               edgecolors="white", linewidths=1.5)
    for i, name in enumerate(names):
        ax.annotate(name, xy[i] * 1.18, ha="center", va="center", fontsize=10)
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def plot_forest(result: Any, reference: str | None = None, model: str | None = None,
                ax: Any = None, *, prediction: bool = True, xlabel: str | None = None,
                color: str = "black") -> Any:
    """Forest plot of every treatment against ``reference`` with CIs (and prediction intervals).

    Parameters
    ----------
    result : NetworkMetaAnalysisResult
    reference : str, optional
        Default: the result's reference.
    model : {"random", "common"}, optional
        Default random effects (common for a common-effect fit).
    ax : matplotlib Axes, optional
    prediction : bool
        Draw the prediction interval (random-effects model) as a thin line.
    xlabel : str, optional
        Default "<measure> vs <reference>".
    color : str

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from painstats import datasets
    >>> from painstats.meta.network import network_meta_analysis
    >>> park = datasets.load("tsd2_parkinsons")
    >>> res = network_meta_analysis(park, study="studyn", treatment="treatment", mean="y",
    ...                             se="se", method="FE", reference="Placebo")
    >>> ax = res.plot_forest()
    >>> [t.get_text() for t in ax.get_yticklabels()][:2]
    ['Bromocriptine', 'Cabergoline']
    >>> plt.close("all")
    """
    frame = result.effects(reference=reference, model=model)
    ref = frame.attrs["reference"]
    ax = _axes(ax, (6.5, 0.45 * len(frame) + 1.5))
    ypos = np.arange(len(frame))[::-1]
    if prediction and frame["pi_low"].notna().all():
        ax.hlines(ypos, frame["pi_low"], frame["pi_high"], color=color, lw=0.8, alpha=0.5)
    ax.hlines(ypos, frame["ci_low"], frame["ci_high"], color=color, lw=1.8)
    ax.plot(frame["estimate"], ypos, "s", color=color, ms=6)
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_yticks(ypos)
    ax.set_yticklabels(list(frame.index))
    ax.set_ylim(-0.8, len(frame) - 0.2)
    ax.set_xlabel(xlabel if xlabel is not None else f"{result.measure or 'effect'} vs {ref}")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax
