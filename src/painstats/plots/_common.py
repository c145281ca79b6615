"""Helpers shared by the non-forest plots: new axes, axis styling, labels, transforms."""

from __future__ import annotations

from typing import TYPE_CHECKING

from painstats.errors import ValidationError
from painstats.plots._style import LAYOUTS, MEASURE_NAMES, RATIO_MEASURES
from painstats.plots._text import fmt_tick, installed_fonts

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["new_axes", "style_axes", "axis_label", "resolve_transform", "TRANSFORMS", "fonts"]

#: Axis transformations: "exp" shows log-scale measures back-transformed on a log axis.
TRANSFORMS = ("none", "exp")


def fonts() -> list[str]:
    """The installed preferred sans-serif family (and DejaVu Sans as glyph fallback)."""
    return list(installed_fonts(LAYOUTS["metafor"].fonts))


def resolve_transform(measure: str | None, transform: str | None) -> bool:
    """True if the axis shows exp(values) on a log scale (default for OR, RR, ROM)."""
    if transform is None:
        return measure is not None and str(measure).upper() in RATIO_MEASURES
    if not isinstance(transform, str) or transform.lower() not in TRANSFORMS:
        raise ValidationError(f"transform must be one of {list(TRANSFORMS)} or None (from the "
                              f"measure); got {transform!r}")
    return transform.lower() == "exp"


def axis_label(measure: str | None, default: str) -> str:
    """Readable measure name, or ``default`` when no measure is known."""
    if measure is None:
        return default
    return MEASURE_NAMES.get(str(measure).upper(), str(measure))


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """``ax`` itself, or the Axes of a new constrained-layout figure of ``figsize`` inches."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def style_axes(ax: Axes, log_x: bool = False, log_y: bool = False) -> None:
    """Journal look: no top/right spines, outward ticks, plain tick labels on a log axis.

    Fonts follow the user's rcParams (only the forest plot, whose layout is measured, picks
    its own)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(direction="out", length=3.5, width=0.8)
    for axis, log in ((ax.xaxis, log_x), (ax.yaxis, log_y)):
        if log:
            axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(FuncFormatter(lambda v, _: fmt_tick(v)))
            axis.set_minor_formatter(NullFormatter())
