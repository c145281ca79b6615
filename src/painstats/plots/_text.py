"""Number formatting for plot annotations, and text measurement and wrapping in points.

The formatting helpers are pure Python. :class:`TextMeasurer` measures strings with
matplotlib's Agg renderer at 72 dpi (so one pixel is one point); matplotlib is imported
when a measurer is created, never at module import.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.font_manager import FontProperties

__all__ = [
    "fmt_num",
    "fmt_small",
    "fmt_p",
    "fmt_tick",
    "TextMeasurer",
    "installed_fonts",
]


@functools.cache
def installed_fonts(preferred: tuple[str, ...]) -> tuple[str, ...]:
    """The first installed family of ``preferred``, then DejaVu Sans (matplotlib's bundled
    font) as the fallback for missing glyphs; asking matplotlib only for installed
    families keeps it from logging "findfont: Font family ... not found"."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    found = [f for f in preferred if f in names][:1]
    return tuple(found + [f for f in ("DejaVu Sans",) if f not in found])


def fmt_num(x: float, digits: int = 2, minus: str = "\u2212") -> str:
    """Fixed-point number with a typographic minus; NaN as "NA", infinities as "\u221e".

    Examples
    --------
    >>> fmt_num(-3.17002), fmt_num(1.5, 1, minus="-")
    ('\u22123.17', '1.5')
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    x = float(x)
    if math.isinf(x):
        return ("" if x > 0 else minus) + "\u221e"
    s = f"{x:.{digits}f}"
    if s.startswith("-"):
        s = s[1:] if float(s[1:]) == 0 else minus + s[1:]  # no "-0.00"
    return s


def fmt_small(x: float, digits: int = 2, minus: str = "\u2212") -> str:
    """A non-negative quantity (tau^2, Q) with ``digits`` decimals, or two significant
    digits when it is small, so 0.0032 does not print as 0.00 (below 1e-5 in scientific
    notation); exact zero prints as "0".

    Examples
    --------
    >>> fmt_small(34.1234), fmt_small(0.0123), fmt_small(0.0), fmt_small(0.4567)
    ('34.12', '0.012', '0', '0.46')
    """
    if x is None or math.isnan(x):
        return "NA"
    if x == 0:
        return "0"
    if abs(x) >= 0.1:
        return fmt_num(x, digits, minus)
    if abs(x) < 1e-5:
        return f"{x:.1e}".replace("-", minus)
    decimals = max(digits, 1 - math.floor(math.log10(abs(x))))
    return fmt_num(x, decimals, minus)


def fmt_p(p: float, style: str = "plain") -> str:
    """p-value with its relation sign, e.g. "= 0.013", "< 0.001"; styles:

    - ``"plain"``: 2 decimals, 3 below 0.01, "< 0.001" below that.
    - ``"jama"``: no leading zero; 2 decimals, 3 below .01, "< .001" below that (JAMA).
    - ``"revman"``: 2 decimals, else one significant digit, "< 0.00001" below that.

    Examples
    --------
    >>> fmt_p(0.1834), fmt_p(0.0034, "jama"), fmt_p(2e-7, "revman"), fmt_p(0.00042, "revman")
    ('= 0.18', '= .003', '< 0.00001', '= 0.0004')
    """
    if p is None or math.isnan(p):
        return "= NA"
    if style == "revman":
        if p < 1e-5:
            return "< 0.00001"
        if p >= 0.01:
            return f"= {p:.2f}"
        decimals = -math.floor(math.log10(p))
        return f"= {p:.{decimals}f}"
    if p < 0.001:
        s = "< 0.001"
    elif p < 0.01:
        s = f"= {p:.3f}"
    elif p > 0.99:
        s = "> 0.99"
    else:
        s = f"= {p:.2f}"
    if style == "jama":
        s = s.replace("0.", ".")
    return s


def fmt_tick(x: float, minus: str = "\u2212") -> str:
    """Axis tick label: shortest plain form ("0.5", "1", "10", "\u22122.5").

    Examples
    --------
    >>> fmt_tick(0.5), fmt_tick(2.0), fmt_tick(-10.0), fmt_tick(0.25)
    ('0.5', '2', '\u221210', '0.25')
    """
    s = f"{x:.6g}"
    if "e" in s:
        s = f"{x:.6f}".rstrip("0").rstrip(".")
    if s in ("-0", "0.0"):
        s = "0"
    return s.replace("-", minus)


class TextMeasurer:
    """Width and height of strings in points, with matplotlib's Agg text engine.

    Parameters
    ----------
    fonts : sequence of str
        Font families in order of preference.
    size : float
        Font size in points.

    Examples
    --------
    >>> m = TextMeasurer(["DejaVu Sans"], 10)
    >>> 0 < m.width("Bronfort 2011") < m.width("Bronfort 2011 and colleagues")
    True
    """

    #: Widths are padded by this factor: the layout must hold at any resolution.
    SLACK = 1.06

    def __init__(self, fonts, size: float) -> None:
        from matplotlib.backends.backend_agg import RendererAgg
        from matplotlib.font_manager import FontProperties

        # Measure at 720 dpi (one pixel = 0.1 pt); drawn at screen resolutions, hinted glyph
        # advances differ from these widths by up to ~5%, hence the SLACK factor.
        self._renderer = RendererAgg(8, 8, 720.0)
        self.size = float(size)
        self.fonts = list(installed_fonts(tuple(fonts)))
        self._props = {
            w: FontProperties(family=self.fonts, size=self.size, weight=w)
            for w in ("normal", "bold")
        }
        self._cache: dict[tuple[str, str], float] = {}

    def prop(self, bold: bool = False) -> FontProperties:
        """FontProperties of this measurer (a copy the caller may keep)."""
        return self._props["bold" if bold else "normal"].copy()

    def width(self, text: str, bold: bool = False) -> float:
        """Width in points of the widest line of ``text``."""
        w = "bold" if bold else "normal"
        key = (text, w)
        if key not in self._cache:
            widths = [
                self._renderer.get_text_width_height_descent(line, self._props[w],
                                                             ismath=False)[0] / 10.0
                if line else 0.0
                for line in text.split("\n")
            ]
            self._cache[key] = max(widths) * self.SLACK
        return self._cache[key]

    def wrap(self, text: str, max_width: float, bold: bool = False) -> str:
        """Greedy word wrap to ``max_width`` points; words longer than a line are split."""
        lines: list[str] = []
        for para in text.split("\n"):
            current = ""
            for word in para.split(" "):
                trial = word if not current else f"{current} {word}"
                if self.width(trial, bold) <= max_width:
                    current = trial
                    continue
                if current:
                    lines.append(current)
                current = word
                while self.width(current, bold) > max_width and len(current) > 1:
                    cut = self._fit(current, max_width, bold)
                    lines.append(current[:cut])
                    current = current[cut:]
            lines.append(current)
        return "\n".join(lines)

    def _fit(self, word: str, max_width: float, bold: bool) -> int:
        """Longest prefix of ``word`` (at least one character) that fits."""
        lo, hi = 1, len(word)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.width(word[:mid], bold) <= max_width:
                lo = mid
            else:
                hi = mid - 1
        return lo
