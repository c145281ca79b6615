"""Helpers of the plot tests: test results, text extraction and overlap checks."""

from __future__ import annotations

import itertools

import numpy as np

from painstats.meta import random_effects


def make_result(k: int, *, seed: int = 1, long_labels: bool = False, method: str = "REML"):
    rng = np.random.default_rng(seed)
    yi = rng.normal(-0.4, 0.4, k)
    vi = rng.uniform(0.01, 0.2, k)
    if long_labels:
        labels = [("Supervised progressive resistance and aerobic exercise programme "
                   * (1 + i % 3)) + f"trial {i + 1} (2019)" for i in range(k)]
    else:
        labels = [f"Study {i + 1}" for i in range(k)]
    return random_effects(yi, vi, slab=labels, method="FE" if k == 1 else method)


def texts_of(ax, raw: bool = False) -> list[str]:
    """Every visible text of a forest plot: table texts and the panel's tick labels.

    Wrapped lines are joined with single spaces unless ``raw``."""
    fig = ax.figure
    fig.canvas.draw()
    out = []
    for a in fig.axes:
        out += [t.get_text() for t in a.texts if t.get_visible()]
        for ch in a.child_axes:
            out += [t.get_text() for t in ch.get_xticklabels() if t.get_visible()]
    return [s if raw else " ".join(s.split()) for s in out if s]


def _tick_labels_in_view(a) -> list:
    """Tick labels that are drawn (matplotlib keeps labels of ticks outside the limits)."""
    out = []
    for ticks, labels, lim in ((a.get_xticks(), a.get_xticklabels(), a.get_xlim()),
                               (a.get_yticks(), a.get_yticklabels(), a.get_ylim())):
        lo, hi = min(lim), max(lim)
        tol = 1e-9 * (hi - lo)
        out += [lab for t, lab in zip(ticks, labels) if lo - tol <= t <= hi + tol]
    return out


def text_boxes(fig):
    """(text, window extent) of every visible non-empty text, including tick labels."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    items = []
    for a in fig.axes:
        artists = list(a.texts) + [a.title]
        if a.axison:
            artists += _tick_labels_in_view(a) + [a.xaxis.label, a.yaxis.label]
        for ch in a.child_axes:
            artists += list(ch.texts) + list(ch.get_xticklabels())
        for t in artists:
            if t.get_visible() and t.get_text():
                items.append((t.get_text(), t.get_window_extent(renderer)))
    return items


def overlapping_texts(fig) -> list[tuple[str, str]]:
    """Pairs of texts whose boxes overlap (boxes shrunk by a hair for anti-aliasing)."""
    boxes = [(s, b.shrunk(0.98, 0.9)) for s, b in text_boxes(fig)]
    return [(a, b) for (a, ba), (b, bb) in itertools.combinations(boxes, 2) if ba.overlaps(bb)]


def texts_outside(fig) -> list[str]:
    """Texts that stick out of the figure (would be clipped)."""
    fb = fig.bbox
    return [s for s, b in text_boxes(fig)
            if b.x0 < fb.x0 - 0.5 or b.x1 > fb.x1 + 0.5 or b.y0 < fb.y0 - 0.5 or b.y1 > fb.y1 + 0.5]
