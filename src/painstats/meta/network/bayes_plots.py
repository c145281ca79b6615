"""Plots of a Bayesian network meta-analysis: the rankogram.

Reads the rank probabilities of a :class:`~painstats.meta.network.BayesianNetworkResult`
and draws; nothing is re-estimated. matplotlib is imported inside the function. The forest
plot of the posterior is :func:`painstats.meta.network.plot_forest` (``result.plot_forest()``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from painstats._validation import resolve_option

__all__ = ["plot_rankogram"]

_KINDS = {"BAR": "bar", "BARS": "bar", "LINE": "line", "LINES": "line"}


def plot_rankogram(result: Any, small_values: str = "good", ax: Any = None, *,
                   kind: str = "bar", cumulative: bool = False) -> Any:
    """Rankogram: the posterior probability of each rank (1 = best) for every treatment.

    Parameters
    ----------
    result : BayesianNetworkResult
    small_values : {"good", "bad"}
        Whether small effects are desirable (less pain: "good").
    ax : matplotlib Axes, optional
        Drawn into; a new figure when None.
    kind : {"bar", "line"}
        Grouped bars (one group per rank) or one line per treatment.
    cumulative : bool
        Plot P(rank <= r) instead, whose area is the SUCRA (Salanti et al. 2011).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    A stand-in result with two treatments is enough to show the call; any
    :class:`~painstats.meta.network.BayesianNetworkResult` works the same way:

    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> from painstats.meta.network import plot_rankogram
    >>> class Fit:
    ...     def rank_probabilities(self, small_values="good"):
    ...         return pd.DataFrame([[0.9, 0.1], [0.1, 0.9]], index=["A", "B"],
    ...                             columns=pd.Index([1, 2], name="rank"))
    >>> ax = plot_rankogram(Fit())
    >>> len(ax.patches)  # one bar per treatment and rank
    4
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    kind = resolve_option("kind", kind, _KINDS)
    if not isinstance(cumulative, bool):
        from painstats.errors import InputTypeError

        raise InputTypeError(f"cumulative must be True or False; got {cumulative!r}")
    probs = result.rank_probabilities(small_values=small_values)
    if cumulative:
        probs = probs.cumsum(axis=1)
    n_trt, n_rank = probs.shape
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5.0, 0.9 * n_rank + 2.0), 4.0))
    ranks = np.arange(1, n_rank + 1)
    if kind == "bar":
        width = 0.8 / n_trt
        for i, (name, row) in enumerate(probs.iterrows()):
            ax.bar(ranks - 0.4 + width * (i + 0.5), row.to_numpy(), width=width, label=str(name))
    else:
        for name, row in probs.iterrows():
            ax.plot(ranks, row.to_numpy(), marker="o", label=str(name))
    ax.set_xticks(ranks)
    ax.set_xlabel("rank (1 = best)")
    ax.set_ylabel("cumulative probability" if cumulative else "probability")
    ax.set_ylim(0, 1.02)
    ax.legend(frameon=False, fontsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax
