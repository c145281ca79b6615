"""Printable summaries laid out like metafor's print-out (plain text and HTML)."""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

__all__ = ["Summary", "fmt", "fmt_p", "p_eq", "stars", "table", "SIGNIF_LEGEND"]

SIGNIF_LEGEND = "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"


@dataclass(frozen=True, slots=True)
class Summary:
    """A printable summary; ``str()`` gives the text, notebooks render ``_repr_html_``."""

    text: str

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.text)}</pre>"


def fmt(x: float, digits: int = 4) -> str:
    """Fixed-point number as metafor prints it; NaN as 'NA'."""
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "NA"
    if np.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    return f"{x:.{digits}f}"


def fmt_p(p: float, digits: int = 4) -> str:
    """p-value as metafor prints it: '< .0001' below 10^-digits, else fixed digits."""
    if np.isnan(p):
        return "NA"
    if p < 10.0**-digits:
        return "< ." + "0" * (digits - 1) + "1"
    return f"{p:.{digits}f}"


def p_eq(p: float) -> str:
    """'= 0.1234' or '< .0001', as in metafor's 'p-val' lines."""
    s = fmt_p(p)
    return s if s.startswith("<") else "= " + s


def stars(p: float) -> str:
    """Significance stars as R prints them."""
    if np.isnan(p):
        return ""
    for cut, mark in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p < cut:
            return mark
    return ""


def table(header: list[str], rows: list[list[str]], index: list[str] | None = None) -> str:
    """Right-aligned text table; an optional left-aligned row index."""
    cols = [header] + rows
    widths = [max(len(r[j]) for r in cols) for j in range(len(header))]
    lines = []
    iw = max((len(s) for s in index), default=0) if index else 0
    for i, r in enumerate(cols):
        lead = "" if not index else (" " * iw if i == 0 else index[i - 1].ljust(iw)) + "  "
        lines.append(lead + "  ".join(c.rjust(w) for c, w in zip(r, widths)))
    return "\n".join(lines)
