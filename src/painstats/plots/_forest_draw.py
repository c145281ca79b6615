"""Lay out and draw a :class:`ForestTable` with matplotlib.

The layout is computed in points from measured text extents, so columns never overlap,
long labels wrap, and the figure grows with the number of rows. One Axes (the "table",
axis off, data units = points from the top-left corner) holds the text; an inset Axes
(the "panel") holds the boxes, whiskers and diamonds and the x axis.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from painstats.errors import ValidationError
from painstats.plots._style import Layout
from painstats.plots._table import ForestTable, Row
from painstats.plots._text import TextMeasurer, fmt_tick

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["render", "axis_ticks"]

_LOG_TICKS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0,
              50.0, 100.0, 200.0, 500.0, 1000.0)
_TICK_LEN = 3.5
_TICK_PAD = 3.0


@dataclass
class Sizes:
    """Point sizes of one rendering (all scale together when the plot must shrink)."""

    fontsize: float
    panel_width: float
    max_label: float
    gap: float
    margin: float

    def scaled(self, s: float) -> Sizes:
        return Sizes(self.fontsize * s, self.panel_width * s, self.max_label * s, self.gap * s,
                     self.margin * s)


@dataclass
class Geometry:
    """Where everything goes, in points from the top-left corner."""

    width: float = 0.0
    height: float = 0.0
    col_x: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (left, width)
    panel_x: float = 0.0
    panel_w: float = 0.0
    header_top: float = 0.0
    header_bottom: float = 0.0
    group_y: float = 0.0
    rows: list[tuple[float, float]] = field(default_factory=list)  # (top, height)
    labels: list[str] = field(default_factory=list)
    panel_top: float = 0.0
    axis_y: float = 0.0
    axis_left: float = 0.0  #: left end of the tick and 'favours' labels
    favours_y: float = 0.0
    xlabel_y: float = 0.0
    footer: list[tuple[float, str]] = field(default_factory=list)
    lim: tuple[float, float] = (0.0, 1.0)
    ticks: list[float] = field(default_factory=list)
    line: float = 0.0
    pitch: float = 0.0


# --------------------------------------------------------------------------------------
# axis


def _finite_values(table: ForestTable) -> np.ndarray:
    vals = [table.null]
    for r in table.rows:
        vals += [r.est, r.lo, r.hi]
        if r.pi is not None:
            vals += list(r.pi)
    v = np.asarray(vals, dtype=float)
    v = v[np.isfinite(v)]
    return v[v > 0] if table.log_axis else v


def _data_range(table: ForestTable, symmetric: bool) -> tuple[float, float]:
    v = _finite_values(table)
    lo, hi = float(v.min()), float(v.max())
    if symmetric and table.log_axis:
        half = max(abs(math.log(lo)), abs(math.log(hi)))
        lo, hi = math.exp(-half), math.exp(half)
    elif symmetric:
        half = max(abs(lo - table.null), abs(hi - table.null))
        lo, hi = table.null - half, table.null + half
    if hi <= lo:
        lo, hi = (lo / 2, lo * 2) if table.log_axis else (lo - 1, hi + 1)
    return lo, hi


def _log_ticks(lo: float, hi: float, auto: bool, fits) -> tuple[tuple[float, float], list[float]]:
    """1-2-5 ticks on a log axis, thinned to 1-5 and then to decades until the labels fit."""
    if auto:
        lo = max([t for t in _LOG_TICKS if t <= lo * 1.0001] or [_LOG_TICKS[0]])
        hi = min([t for t in _LOG_TICKS if t >= hi / 1.0001] or [_LOG_TICKS[-1]])
    inside = [t for t in _LOG_TICKS if lo / 1.0001 <= t <= hi * 1.0001]
    ticks = inside
    for digits in ("125", "15", "1"):
        ticks = [t for t in inside if f"{t:.0e}"[0] in digits]
        if len(ticks) >= 2 and fits(ticks, (lo, hi)):
            break
    return (lo, hi), ticks


def _linear_ticks(lo: float, hi: float, auto: bool, fits) -> tuple[tuple[float, float], list[float]]:
    """Round ticks (1, 2, 2.5, 5 steps), fewer until the labels fit; auto limits at ticks."""
    from matplotlib.ticker import MaxNLocator

    for nbins in (6, 5, 4, 3, 2):
        raw = [float(t) for t in MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10])
               .tick_values(lo, hi)]
        if auto:
            first = max(t for t in raw if t <= lo + 1e-12 * max(1.0, abs(lo)))
            last = min(t for t in raw if t >= hi - 1e-12 * max(1.0, abs(hi)))
            lim = (first, last)
        else:
            lim = (lo, hi)
        ticks = [t for t in raw if lim[0] - 1e-9 <= t <= lim[1] + 1e-9]
        ticks = [0.0 if abs(t) < 1e-12 * (lim[1] - lim[0]) else t for t in ticks]
        if fits(ticks, lim):
            break
    return lim, ticks


def axis_ticks(table: ForestTable, xlim: Any = None, at: Any = None, symmetric: bool = False,
               fits=None) -> tuple[tuple[float, float], list[float]]:
    """Axis limits and ticks covering every interval and the null line.

    ``fits(ticks, lim)`` says whether the tick labels fit; ticks are thinned until they do.
    """
    fits = fits or (lambda ticks, lim: True)
    if at is not None:
        ticks = sorted(float(t) for t in at)
        lim = tuple(float(x) for x in xlim) if xlim is not None else (ticks[0], ticks[-1])
        return lim, ticks
    auto = xlim is None
    lo, hi = _data_range(table, symmetric) if auto else (float(xlim[0]), float(xlim[1]))
    if not auto and not lo < hi:
        raise ValidationError(f"xlim must be (low, high) with low < high; got {tuple(xlim)}")
    if not auto and table.log_axis and lo <= 0:
        raise ValidationError(f"xlim is in ratios on this log axis and must be positive; got "
                              f"{tuple(xlim)}")
    if table.log_axis:
        return _log_ticks(lo, hi, auto, fits)
    return _linear_ticks(lo, hi, auto, fits)


def _frac(table: ForestTable, lim: tuple[float, float], x: float) -> float:
    if table.log_axis:
        return (math.log(x) - math.log(lim[0])) / (math.log(lim[1]) - math.log(lim[0]))
    return (x - lim[0]) / (lim[1] - lim[0])


# --------------------------------------------------------------------------------------
# layout


def _row_label(row: Row) -> str:
    return row.cells.get("label", row.label)


def _column_widths(table: ForestTable, m: TextMeasurer, labels: list[str]) -> dict[str, float]:
    widths = {}
    for c in table.columns:
        w = m.width(c.header, bold=True) if c.header else 0.0
        for row, label in zip(table.rows, labels):
            if row.kind == "text":
                continue
            text = label if c.key == "label" else row.cells.get(c.key, "")
            if text:
                w = max(w, m.width(text, row.bold))
        widths[c.key] = w
    return widths


def _widen_groups(table: ForestTable, m: TextMeasurer, widths: dict[str, float],
                  gaps: dict[str, float]) -> None:
    """Make every spanning header fit over its columns (widen the first one, so that
    right-aligned numbers in the group stay together)."""
    seen: list[str] = []
    for c in table.columns:
        if c.group and c.group not in seen:
            seen.append(c.group)
    for g in seen:
        keys = [c.key for c in table.columns if c.group == g]
        span = sum(widths[k] for k in keys) + sum(gaps[k] for k in keys[1:])
        need = m.width(g, bold=True)
        if need > span:
            widths[keys[0]] += need - span


def _has_upper_tier(table: ForestTable) -> bool:
    return any(c.group and c.header for c in table.columns)


def _header_lines(table: ForestTable) -> int:
    lines = [c.header.count("\n") + 1 for c in table.columns if c.header]
    lines += [c.group.count("\n") + 1 for c in table.columns if c.group and not any(
        d.header for d in table.columns if d.group == c.group)]
    if table.panel_header:
        lines.append(table.panel_header.count("\n") + 1)
    return max(lines, default=1)


def layout_geometry(table: ForestTable, layout: Layout, sz: Sizes, xlim: Any, at: Any
                    ) -> Geometry:
    """Compute the geometry (points) of ``table`` at the sizes ``sz``."""
    m = TextMeasurer(layout.fonts, sz.fontsize)
    g = Geometry(line=sz.fontsize * 1.2, pitch=sz.fontsize * layout.row_pitch)
    g.labels = [m.wrap(_row_label(r), sz.max_label, r.bold) if r.kind not in ("text", "blank")
                else _row_label(r) for r in table.rows]
    widths = _column_widths(table, m, g.labels)
    gaps = {c.key: (c.gap * sz.fontsize if c.gap is not None else sz.gap) for c in table.columns}
    _widen_groups(table, m, widths, gaps)
    x = sz.margin
    left = [c for c in table.columns if c.side == "left"]
    right = [c for c in table.columns if c.side == "right"]
    for i, c in enumerate(left):
        x += gaps[c.key] if i else 0.0
        g.col_x[c.key] = (x, widths[c.key])
        x += widths[c.key]
    g.panel_x = x + sz.gap
    g.panel_w = sz.panel_width
    if table.panel_header:
        g.panel_w = max(g.panel_w, m.width(table.panel_header, bold=True))
    x = g.panel_x + g.panel_w
    for i, c in enumerate(right):
        x += sz.gap if i == 0 else gaps[c.key]
        g.col_x[c.key] = (x, widths[c.key])
        x += widths[c.key]
    def fits(ticks, lim):
        edges = []
        for t in ticks:
            cx = g.panel_w * _frac(table, lim, t)
            half = m.width(fmt_tick(t, layout.minus)) / 2
            edges.append((cx - half, cx + half))
        return all(a[1] + 0.5 * sz.fontsize <= b[0] for a, b in itertools.pairwise(edges))

    g.lim, g.ticks = axis_ticks(table, xlim, at, layout.symmetric_axis, fits)
    extra_left, extra_right, g.axis_left = _overhang(table, layout, m, g, x, sz)
    g.axis_left += extra_left
    if extra_left:
        g.col_x = {k: (a + extra_left, b) for k, (a, b) in g.col_x.items()}
        g.panel_x += extra_left
        x += extra_left
    g.width = x + sz.margin + extra_right
    _vertical(table, layout, m, g, sz)
    return g


def _overhang(table: ForestTable, layout: Layout, m: TextMeasurer, g: Geometry, right_end: float,
              sz: Sizes) -> tuple[float, float, float]:
    """Extra room needed left/right for tick labels and 'favours' labels beyond the columns."""
    lo_edge, hi_edge = g.panel_x, g.panel_x + g.panel_w
    if g.ticks:
        labels = [fmt_tick(t, layout.minus) for t in g.ticks]
        for t, s in zip(g.ticks, labels):
            cx = g.panel_x + g.panel_w * _frac(table, g.lim, t)
            lo_edge = min(lo_edge, cx - m.width(s) / 2)
            hi_edge = max(hi_edge, cx + m.width(s) / 2)
    if table.favours:
        f = min(max(_frac(table, g.lim, table.null), 0.0), 1.0)
        cx = g.panel_x + g.panel_w * f
        a, b = _favour_texts(table, layout)
        lo_edge = min(lo_edge, cx - 4 - m.width(a))
        hi_edge = max(hi_edge, cx + 4 + m.width(b))
    return max(0.0, sz.margin - lo_edge), max(0.0, hi_edge - right_end), lo_edge


def _favour_texts(table: ForestTable, layout: Layout) -> tuple[str, str]:
    out = []
    for s in table.favours or ("", ""):
        s = str(s)
        out.append(s if s.lower().startswith(("favour", "favor")) or not s
                   else f"{layout.favours_word} {s}")
    return out[0], out[1]


def _vertical(table: ForestTable, layout: Layout, m: TextMeasurer, g: Geometry, sz: Sizes) -> None:
    full = g.width - 2 * sz.margin
    y = sz.margin
    g.header_top = y
    if _has_upper_tier(table):
        g.group_y = y + g.line / 2
        y += g.line * 1.25
    y += g.line * _header_lines(table)
    g.header_bottom = y + 0.25 * g.line
    y = g.header_bottom + 0.35 * g.pitch
    g.panel_top = g.header_bottom + 0.1 * g.pitch
    for i, r in enumerate(table.rows):
        if r.kind == "text":
            g.labels[i] = m.wrap(g.labels[i], full)
        n = g.labels[i].count("\n") + 1
        h = 0.6 * g.pitch if r.kind == "blank" else g.pitch + (n - 1) * g.line
        g.rows.append((y, h))
        y += h
    g.axis_y = y + 0.25 * g.pitch
    y = g.axis_y + _TICK_LEN + _TICK_PAD + g.line
    if table.favours:
        g.favours_y = y + 0.2 * g.line + g.line / 2
        y += 1.3 * g.line
    if table.xlabel:
        g.xlabel_y = y + 0.2 * g.line + g.line / 2
        y += 1.3 * g.line
    beside = g.axis_left - sz.margin - sz.gap
    if layout.footer_beside_axis and beside > 0.4 * full:
        footer_y = g.axis_y + 0.1 * g.pitch
        footer = [m.wrap(f, beside) for f in table.footer]
    else:
        footer_y = y + 0.4 * g.pitch
        footer = [m.wrap(f, full) for f in table.footer]
    for f in footer:
        g.footer.append((footer_y + g.pitch / 2 + f.count("\n") * g.line / 2, f))
        footer_y += g.pitch + f.count("\n") * g.line
    y = max(y, footer_y)
    g.height = y + sz.margin


# --------------------------------------------------------------------------------------
# drawing


def render(table: ForestTable, layout: Layout, *, ax: Axes | None = None, fontsize: float | None
           = None, panel_width: float | None = None, xlim: Any = None, at: Any = None) -> Axes:
    """Draw ``table``; a new figure sized to the content if ``ax`` is None.

    Given an ``ax``, the table is fitted into it, shrinking the font if it is too small.
    """
    import matplotlib.pyplot as plt

    sz = Sizes(fontsize or layout.fontsize, 72 * (panel_width or layout.panel_width),
               72 * layout.max_label_width, layout.column_gap, layout.margin)
    if fontsize:
        sz = Sizes(sz.fontsize, sz.panel_width, sz.max_label, sz.gap * fontsize / layout.fontsize,
                   sz.margin)
    g = layout_geometry(table, layout, sz, xlim, at)
    if ax is None:
        fig = plt.figure(figsize=(g.width / 72, g.height / 72))
        ax = fig.add_axes((0, 0, 1, 1))
        avail = (g.width, g.height)
    else:
        fig = ax.figure
        pos = ax.get_position()
        w_in, h_in = fig.get_size_inches()
        avail = (pos.width * w_in * 72, pos.height * h_in * 72)
        for _ in range(4):
            s = min(avail[0] / g.width, avail[1] / g.height)
            if s >= 1:
                break
            sz = sz.scaled(s * 0.98)
            g = layout_geometry(table, layout, sz, xlim, at)
        if avail[0] > g.width + 1 and not panel_width:  # use the spare width for the panel
            wider = Sizes(sz.fontsize, sz.panel_width + avail[0] - g.width - 1, sz.max_label,
                          sz.gap, sz.margin)
            g2 = layout_geometry(table, layout, wider, xlim, at)
            if g2.width <= avail[0]:
                sz, g = wider, g2
    ax.set_xlim(0, avail[0])
    ax.set_ylim(avail[1], 0)
    ax.set_axis_off()
    ax.set_label("forest")
    m = TextMeasurer(layout.fonts, sz.fontsize)
    _draw_header(ax, table, layout, m, g)
    _draw_rows(ax, table, layout, m, g)
    panel = _draw_panel(ax, table, layout, m, g, avail)
    _draw_axis_text(ax, table, layout, m, g)
    for y, text in g.footer:
        ax.text(sz.margin, y, text, ha="left", va="center", fontproperties=m.prop(),
                linespacing=1.2, gid="footer")
    panel.set_label("forest-panel")
    return ax


def _text_x(g: Geometry, key: str, align: str) -> tuple[float, str]:
    left, width = g.col_x[key]
    if align == "left":
        return left, "left"
    if align == "center":
        return left + width / 2, "center"
    return left + width, "right"


def _draw_header(ax: Axes, table: ForestTable, layout: Layout, m: TextMeasurer, g: Geometry) -> None:
    bold = m.prop(bold=True)
    base = g.header_bottom - 0.25 * g.line
    groups: dict[str, list[str]] = {}
    for c in table.columns:
        if c.group:
            groups.setdefault(c.group, []).append(c.key)
        if c.header:
            x, ha = _text_x(g, c.key, c.align)
            ax.text(x, base, c.header, ha=ha, va="bottom", fontproperties=bold,
                    linespacing=1.2, gid="header")
    for name, keys in groups.items():
        left = g.col_x[keys[0]][0]
        right = g.col_x[keys[-1]][0] + g.col_x[keys[-1]][1]
        upper = any(c.header for c in table.columns if c.group == name)
        if upper:
            ax.text((left + right) / 2, g.group_y, name, ha="center", va="center",
                    fontproperties=bold, gid="header")
            ax.plot([left, right], [g.group_y + 0.6 * g.line] * 2, color="black", lw=0.5)
        else:
            ha, x = ("left", left) if layout.ci_left and layout.name == "jama" else (
                "center", (left + right) / 2)
            ax.text(x, base, name, ha=ha, va="bottom", fontproperties=bold, linespacing=1.2,
                    multialignment=ha, gid="header")
    if table.panel_header:
        ax.text(g.panel_x + g.panel_w / 2, base, table.panel_header, ha="center", va="bottom",
                fontproperties=bold, linespacing=1.2, multialignment="center", gid="header")
    if layout.header_rule:
        ax.plot([layout.margin, g.width - layout.margin], [g.header_bottom] * 2, color="black",
                lw=0.6)


def _draw_rows(ax: Axes, table: ForestTable, layout: Layout, m: TextMeasurer, g: Geometry) -> None:
    for i, (row, (top, h)) in enumerate(zip(table.rows, g.rows)):
        if row.kind == "blank":
            continue
        y = top + h / 2
        prop = m.prop(bold=row.bold)
        if row.kind == "text":
            ax.text(g.col_x["label"][0], y, g.labels[i], ha="left", va="center",
                    fontproperties=m.prop(), linespacing=1.2, gid="text")
            continue
        if row.kind == "summary" and layout.total_rule and i == len(table.rows) - 1 - sum(
                r.kind in ("pi", "info") for r in table.rows[i + 1:]):
            ax.plot([layout.margin, g.width - layout.margin], [top - 0.15 * g.pitch] * 2,
                    color="black", lw=0.5)
        for c in table.columns:
            text = g.labels[i] if c.key == "label" else row.cells.get(c.key, "")
            if not text:
                continue
            x, ha = _text_x(g, c.key, c.align)
            va = "center" if "\n" in text else "center_baseline"
            ax.text(x, y, text, ha=ha, va=va, fontproperties=prop, linespacing=1.2,
                    gid=f"{row.kind}:{c.key}")


def _draw_axis_text(ax: Axes, table: ForestTable, layout: Layout, m: TextMeasurer, g: Geometry
                    ) -> None:
    if table.favours:
        f = min(max(_frac(table, g.lim, table.null), 0.0), 1.0)
        cx = g.panel_x + g.panel_w * f
        a, b = _favour_texts(table, layout)
        ax.text(cx - 4, g.favours_y, a, ha="right", va="center_baseline", fontproperties=m.prop(),
                gid="favours")
        ax.text(cx + 4, g.favours_y, b, ha="left", va="center_baseline", fontproperties=m.prop(),
                gid="favours")
    if table.xlabel:
        ax.text(g.panel_x + g.panel_w / 2, g.xlabel_y, table.xlabel, ha="center",
                va="center_baseline", fontproperties=m.prop(), gid="xlabel")


def _refline_segments(table: ForestTable, m: TextMeasurer, g: Geometry, null_x: float
                      ) -> list[tuple[float, float]]:
    """Vertical extents of the null line: all rows, broken where a text row crosses it."""
    segs: list[tuple[float, float]] = []
    start = g.panel_top
    for i, (row, (top, h)) in enumerate(zip(table.rows, g.rows)):
        if row.kind == "text" and g.col_x["label"][0] + m.width(g.labels[i]) > null_x - 3:
            if top > start:
                segs.append((start, top))
            start = top + h
    end = g.rows[-1][0] + g.rows[-1][1] if g.rows else start
    if end > start:
        segs.append((start, end))
    return segs


def _box_sides(table: ForestTable, layout: Layout, g: Geometry) -> list[float]:
    """Box side (points) per row: area proportional to weight, clamped below."""
    w = np.array([r.weight if r.kind == "study" else np.nan for r in table.rows], dtype=float)
    big = layout.max_box * g.pitch
    if table.marker != "s" or not np.isfinite(w).any():
        return [0.5 * big] * len(table.rows)
    wmax = np.nanmax(w)
    sides = big * np.sqrt(np.where(np.isfinite(w), w, 0.0) / wmax) if wmax > 0 else np.full(
        w.shape, big)
    return [max(float(s), layout.min_box) for s in sides]


def _whisker(panel, lo: float, hi: float, y: float, lim, style: dict, cap: float = 0.0) -> None:
    """Horizontal interval, clipped to the axis with an arrow head where it is cut."""
    a, b = max(lo, lim[0]), min(hi, lim[1])
    if b < lim[0] or a > lim[1]:
        return
    panel.plot([a, b], [y, y], solid_capstyle="butt", **style)
    head = {"color": style["color"], "markersize": 4.5, "zorder": style.get("zorder", 2),
            "clip_on": False, "linestyle": "none"}
    if lo < lim[0]:
        panel.plot([lim[0]], [y], marker="<", **head)
    elif cap:
        panel.plot([a, a], [y - cap, y + cap], color=style["color"], lw=style["lw"])
    if hi > lim[1]:
        panel.plot([lim[1]], [y], marker=">", **head)
    elif cap:
        panel.plot([b, b], [y - cap, y + cap], color=style["color"], lw=style["lw"])


def _draw_panel(ax: Axes, table: ForestTable, layout: Layout, m: TextMeasurer, g: Geometry,
                avail: tuple[float, float]) -> Axes:
    from matplotlib.patches import Polygon
    from matplotlib.ticker import NullLocator

    W, H = avail
    panel = ax.inset_axes((g.panel_x / W, 1 - g.axis_y / H, g.panel_w / W,
                           (g.axis_y - g.panel_top) / H))
    if table.log_axis:
        panel.set_xscale("log")
    panel.set_xlim(*g.lim)
    panel.set_ylim(g.axis_y, g.panel_top)
    panel.patch.set_visible(False)
    for side in ("left", "right", "top"):
        panel.spines[side].set_visible(False)
    panel.spines["bottom"].set_linewidth(0.8)
    panel.set_yticks([])
    panel.set_xticks(g.ticks, labels=[fmt_tick(t, layout.minus) for t in g.ticks],
                     fontproperties=m.prop())
    panel.xaxis.set_minor_locator(NullLocator())
    panel.tick_params(axis="x", length=_TICK_LEN, pad=_TICK_PAD, width=0.8)
    null_in = g.lim[0] <= table.null <= g.lim[1]
    if null_in:
        null_x = g.panel_x + g.panel_w * _frac(table, g.lim, table.null)
        for y0, y1 in _refline_segments(table, m, g, null_x):
            panel.plot([table.null] * 2, [y0, y1], color=layout.refline_color,
                       ls=layout.refline_style, lw=0.8, zorder=1)
    line = {"color": layout.line_color, "lw": 0.9, "zorder": 2}
    sides = _box_sides(table, layout, g)
    for row, (top, h), side in zip(table.rows, g.rows, sides):
        y = top + h / 2
        if row.pi is not None:
            cap = 0.18 * g.pitch if row.kind == "summary" else 0.22 * g.pitch
            style = {"color": layout.diamond_color if row.kind == "pi" else layout.line_color,
                     "lw": 1.2 if row.kind == "pi" else 0.9, "zorder": 1.5,
                     "ls": "-" if row.kind == "pi" else layout.pi_style}
            _whisker(panel, row.pi[0], row.pi[1], y, g.lim, style, cap=cap)
        if row.kind == "study" and np.isfinite(row.est):
            _whisker(panel, row.lo, row.hi, y, g.lim, line)
            if g.lim[0] <= row.est <= g.lim[1]:
                panel.scatter([row.est], [y], s=side**2, marker=table.marker, linewidths=0,
                              color=table.box_color, zorder=3)
        elif row.kind == "summary":
            hd = 0.3 * g.pitch
            panel.add_patch(Polygon([(row.lo, y), (row.est, y - hd), (row.hi, y),
                                     (row.est, y + hd)], closed=True, zorder=3, lw=0.8,
                                    facecolor=layout.diamond_color,
                                    edgecolor=layout.diamond_edge))
    return panel
