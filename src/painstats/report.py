"""A self-contained HTML report of a meta-analysis, for reviewers.

One HTML file holds the model summary, the forest plot, the funnel plot, the
publication-bias tests, the leave-one-out analysis, the influence diagnostics and the
Baujat plot; images are embedded as base64 PNG, so the file can be mailed or archived as
is. Analyses that this version of painstats does not provide (or that do not apply, e.g.
with too few studies) are listed as "not available" with the reason, never silently left
out.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from painstats.errors import PainstatsError

__all__ = ["html_report", "write_report", "Section"]

_CSS = """
body{font-family:Arial,"Liberation Sans",Helvetica,sans-serif;max-width:1100px;margin:24px auto;
padding:0 20px;color:#1a1a1a;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #1F4E79;padding-bottom:6px}
h2{font-size:1.2em;color:#1F4E79;margin-top:2em;border-bottom:1px solid #ccc;padding-bottom:3px}
pre{background:#f6f6f6;padding:10px;overflow-x:auto;font-size:12.5px;border:1px solid #e2e2e2}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{padding:3px 9px;border-bottom:1px solid #e2e2e2;text-align:right}
th{background:#f0f3f7}td:first-child,th:first-child{text-align:left}
img{max-width:100%;height:auto;display:block;margin:8px 0}
.na{color:#8a5a00;background:#fff6e0;padding:6px 10px;border-left:3px solid #e0a100}
.meta{color:#666;font-size:.9em}.flag{color:#b00020;font-weight:bold}
nav a{margin-right:12px}
"""


@dataclass(frozen=True, slots=True)
class Section:
    """One part of the report: an anchor, a heading and its HTML body."""

    anchor: str
    title: str
    body: str


def _na(what: str, why: str) -> str:
    return f'<p class="na">{html.escape(what)}: not available ({html.escape(why)}).</p>'


def _attempt(what: str, fn: Callable[[], str]) -> str:
    """Run one optional analysis; explain in the report instead of failing the report."""
    try:
        return fn()
    except (ImportError, AttributeError, NotImplementedError) as exc:
        return _na(what, f"not provided by this version of painstats: {exc}")
    except (PainstatsError, ValueError) as exc:
        return _na(what, str(exc))


def _img(fig_or_ax: Any, alt: str, dpi: float = 130) -> str:
    import matplotlib.pyplot as plt

    from painstats.plots.output import to_png_data_uri

    uri = to_png_data_uri(fig_or_ax, dpi=dpi)
    plt.close(getattr(fig_or_ax, "figure", fig_or_ax))
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _table(df: pd.DataFrame, digits: int = 4) -> str:
    def f(x: Any) -> str:
        if isinstance(x, (bool, np.bool_)):
            return '<span class="flag">yes</span>' if x else ""
        if isinstance(x, (float, np.floating)):
            return "NA" if np.isnan(x) else f"{x:.{digits}f}"
        return html.escape(str(x))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [df.index.name or ""] + list(df.columns))
    rows = "".join(
        "<tr><td>" + html.escape(str(idx)) + "</td>" + "".join(f"<td>{f(v)}</td>" for v in row)
        + "</tr>" for idx, row in zip(df.index, df.itertuples(index=False)))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _key_numbers(res: Any) -> pd.DataFrame:
    level = f"{100 * res.level:g}%"
    rows = {
        "Studies (k)": res.k, "Pooled estimate": res.estimate, "Standard error": res.se,
        f"{level} CI": f"[{res.ci_low:.4f}, {res.ci_high:.4f}]",
        f"{level} prediction interval": (f"[{res.pi_low:.4f}, {res.pi_high:.4f}]"
                                         if np.isfinite(res.pi_low) else "NA"),
        "p-value": res.pvalue, "tau²": res.tau2, "I² (%)": res.i2,
        f"Q (df = {res.q_df})": res.q, "Q p-value": res.q_pvalue,
        "Model": f"{res.method}, {res.test} test",
    }
    out = pd.DataFrame({"value": list(rows.values())}, index=pd.Index(list(rows), name="quantity"))
    return out


def _summary_section(res: Any, main: Any) -> str:
    body = _table(_key_numbers(main))
    body += f"<pre>{html.escape(str(main.summary()))}</pre>"
    if res is not main:
        body += f"<pre>{html.escape(str(res.summary()))}</pre>"
    return body


def _forest_section(res: Any, forest_kw: dict[str, Any]) -> str:
    from painstats.plots import forest

    return _img(forest(res, **forest_kw), "Forest plot")


def _trim_fill(main: Any) -> Any:
    from painstats.meta.trim_and_fill import trim_and_fill

    return trim_and_fill(main)


def _funnel_section(main: Any, measure: str | None) -> str:
    from painstats.plots import funnel

    tf = None
    note = ""
    try:
        tf = _trim_fill(main)
    except (ImportError, AttributeError) as exc:
        note = _na("Trim-and-fill", f"not provided by this version of painstats: {exc}")
    except (PainstatsError, ValueError) as exc:
        note = _na("Trim-and-fill", str(exc))
    body = _img(funnel(main, measure=measure, trim_fill=tf if tf is not None and tf.k0 > 0
                       else None), "Contour-enhanced funnel plot")
    return body + note


def _bias_section(main: Any) -> str:
    parts = []

    def egger() -> str:
        from painstats.meta.bias import egger_test

        e = egger_test(main)
        return f"<h3>Egger's regression test</h3><pre>{html.escape(str(e))}</pre>"

    def rank() -> str:
        from painstats.meta.bias import rank_correlation_test

        r = rank_correlation_test(main)
        return f"<h3>Rank correlation test</h3><pre>{html.escape(str(r))}</pre>"

    def tf() -> str:
        t = _trim_fill(main)
        return f"<h3>Trim-and-fill</h3><pre>{html.escape(str(t.summary()))}</pre>"

    parts.append(_attempt("Egger's regression test", egger))
    parts.append(_attempt("Rank correlation test", rank))
    parts.append(_attempt("Trim-and-fill", tf))
    return "\n".join(parts)


def _loo_section(main: Any, forest_kw: dict[str, Any]) -> str:
    from painstats.plots import leave_one_out

    def run() -> str:
        loo = main.leave_one_out()
        kw = {k: v for k, v in forest_kw.items() if k in ("layout", "measure", "favours", "digits")}
        return _img(leave_one_out(loo, overall=main, **kw), "Leave-one-out forest plot") + \
            _table(loo)
    return _attempt("Leave-one-out analysis", run)


def _influence_section(main: Any) -> str:
    def run() -> str:
        inf = main.influence()
        n = int(inf["influential"].sum()) if "influential" in inf.columns else 0
        lead = f"<p>{n} of {len(inf)} studies flagged as influential (metafor's criteria).</p>"
        return lead + _table(inf)
    return _attempt("Influence diagnostics", run)


def _baujat_section(main: Any) -> str:
    from painstats.plots import baujat

    return _attempt("Baujat plot", lambda: _img(baujat(main.baujat()), "Baujat plot"))


def html_report(
    res: Any,
    *,
    title: str = "Meta-analysis report",
    source: str | None = None,
    measure: str | None = None,
    data: pd.DataFrame | None = None,
    layout: str = "metafor",
    favours: tuple[str, str] | None = None,
    arms: dict[str, str] | None = None,
    columns: Any = None,
) -> str:
    """Build the HTML report of a random-effects or subgroup result.

    Parameters
    ----------
    res : RandomEffectsResult or SubgroupResult
        The model; for subgroups the diagnostics use the overall model.
    title : str
        Heading of the report.
    source : str, optional
        Where the data came from (e.g. the CSV path), shown under the title.
    measure : str, optional
        Effect measure (default ``data.attrs["measure"]``).
    data, layout, favours, arms, columns
        Passed to :func:`painstats.plots.forest`.

    Returns
    -------
    str
        A complete HTML document.

    Examples
    --------
    >>> from painstats.meta import random_effects
    >>> from painstats.report import html_report
    >>> res = random_effects([-0.5, -0.2, -0.9, -0.3, -0.6], [0.04, 0.09, 0.06, 0.02, 0.1])
    >>> page = html_report(res, title="Exercise vs control")
    >>> page.startswith("<!DOCTYPE html>"), "Forest plot" in page
    (True, True)
    """
    from painstats import __version__

    main = res.overall if hasattr(res, "models") else res
    if measure is None and data is not None:
        measure = data.attrs.get("measure")
    forest_kw = {"layout": layout, "measure": measure, "favours": favours, "data": data,
                 "arms": arms, "columns": columns}
    sections = [
        Section("summary", "Summary", _summary_section(res, main)),
        Section("forest", "Forest plot", _attempt("Forest plot",
                                                   lambda: _forest_section(res, forest_kw))),
        Section("funnel", "Funnel plot", _attempt("Funnel plot",
                                                   lambda: _funnel_section(main, measure))),
        Section("bias", "Publication bias", _bias_section(main)),
        Section("loo", "Leave-one-out analysis", _loo_section(main, forest_kw)),
        Section("influence", "Influence diagnostics", _influence_section(main)),
        Section("baujat", "Baujat plot", _baujat_section(main)),
    ]
    nav = " ".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in sections)
    meta = f"painstats {html.escape(__version__)}"
    if source:
        meta = f"Data: {html.escape(str(source))} &middot; " + meta
    body = "\n".join(f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>\n{s.body}'
                     "</section>" for s in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p class=\"meta\">{meta}</p><nav>{nav}</nav>\n"
            f"{body}\n</body></html>\n")


def write_report(path: str | Path, res: Any, **kwargs: Any) -> Path:
    """Write :func:`html_report` to ``path`` (UTF-8) and return the path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from painstats.meta import random_effects
    >>> from painstats.report import write_report
    >>> res = random_effects([-0.5, -0.2, -0.9, -0.3], [0.04, 0.09, 0.06, 0.02])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = write_report(pathlib.Path(d) / "report.html", res)
    ...     out.stat().st_size > 10_000
    True
    """
    import matplotlib

    path = Path(path)
    with matplotlib.rc_context({"figure.max_open_warning": 0}):
        path.write_text(html_report(res, **kwargs), encoding="utf-8")
    return path
