"""Build :class:`ForestTable` objects from results (pure Python, no matplotlib).

One builder per kind of forest plot: a random-effects result, a subgroup result, and a
per-row table of estimates (leave-one-out, cumulative). Every number comes from a result
field; nothing is re-estimated here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from painstats.errors import ValidationError
from painstats.plots._style import Layout, measure_name
from painstats.plots._table import (
    Column,
    ForestTable,
    Formatter,
    Row,
    TableOptions,
    arm_cells,
    arm_totals,
    build_columns,
    estimate_header,
    events_row,
    sort_order,
)
from painstats.plots._text import fmt_num

__all__ = ["re_table", "subgroup_table", "frame_table", "group_members"]


def _level(res: Any) -> str:
    return f"{100 * res.level:g}"


def _summary_label(res: Any, layout: Layout, subtotal: bool) -> str:
    if subtotal:
        text = layout.subtotal_label_fe if res.method == "FE" else layout.subtotal_label
    else:
        text = layout.overall_label_fe if res.method == "FE" else layout.overall_label
    return text.format(level=_level(res))


def _study_rows(res: Any, idx: Sequence[int], weights: np.ndarray, opts: TableOptions,
                fmt: Formatter) -> list[Row]:
    frame = res.study_frame()
    lo_all, hi_all = frame["ci_low"].to_numpy(), frame["ci_high"].to_numpy()
    rows = []
    for i, extra in zip(idx, arm_cells(opts, idx)):
        est, lo, hi = fmt.axis(res.yi[i]), fmt.axis(lo_all[i]), fmt.axis(hi_all[i])
        cells = {"label": res.labels[i], **extra, **fmt.ci_cells(est, lo, hi)}
        if opts.weights:
            cells["weight"] = fmt.weight(weights[i])
        rows.append(Row("study", res.labels[i], cells, est, lo, hi, float(weights[i])))
    return rows


def _summary_rows(res: Any, label: str, weight_text: str, data_rows: Sequence[int],
                  opts: TableOptions, layout: Layout, fmt: Formatter) -> list[Row]:
    """The diamond row, and the prediction-interval and total-events rows if any."""
    est, lo, hi = fmt.axis(res.estimate), fmt.axis(res.ci_low), fmt.axis(res.ci_high)
    cells = {"label": label, **fmt.ci_cells(est, lo, hi), **arm_totals(opts, data_rows)}
    if opts.weights:
        cells["weight"] = weight_text
    row = Row("summary", label, cells, est, lo, hi, bold=layout.bold_summary)
    has_pi = math.isfinite(res.pi_low) and math.isfinite(res.pi_high) and res.k >= 3
    rows = [row]
    if has_pi and opts.prediction == "line":
        row.pi = (fmt.axis(res.pi_low), fmt.axis(res.pi_high))
    elif has_pi and opts.prediction == "row":
        plo, phi = fmt.axis(res.pi_low), fmt.axis(res.pi_high)
        _, a, b = layout.ci_parts("", fmt.num(plo), fmt.num(phi))
        rows.append(Row("pi", layout.pi_label, {"label": layout.pi_label, "ci_lo": a, "ci_hi": b},
                        pi=(plo, phi)))
    ev = events_row(opts, data_rows)
    if ev is not None:
        rows.append(ev)
    return rows


def _finish(columns: list[Column], rows: list[Row], footer: list[str | None], opts: TableOptions,
            layout: Layout, header: str, **kw: Any) -> ForestTable:
    for c in columns:
        if c.group == "Estimate":
            c.group = header
    xlabel = opts.xlabel
    if xlabel is None:
        xlabel = measure_name(opts.measure, layout) if layout.show_xlabel else ""
    color = layout.box_color
    if opts.arms and "events1" in opts.arms and layout.box_color_binary:
        color = layout.box_color_binary
    return ForestTable(
        columns=columns, rows=rows, footer=[f for f in footer if f], null=1.0 if opts.log_axis
        else 0.0, log_axis=opts.log_axis, xlabel=xlabel,
        panel_header=header if layout.panel_header else "", favours=opts.favours,
        box_color=color, **kw,
    )


def re_table(res: Any, opts: TableOptions, layout: Layout) -> ForestTable:
    """Forest table of a random-effects (or common-effect) result."""
    fmt = Formatter(layout, opts.digits, opts.log_axis)
    weights = np.asarray(res.weights, dtype=float)
    idx = sort_order(opts.order, range(res.k), labels=res.labels, yi=res.yi, vi=res.vi,
                     weights=weights, data=opts.data)
    rows = _study_rows(res, idx, weights, opts, fmt)
    rows.append(Row("blank"))
    rows += _summary_rows(res, _summary_label(res, layout, False), layout.weight_total,
                          range(res.k), opts, layout, fmt)
    footer = []
    if opts.heterogeneity:
        footer.append(fmt.heterogeneity(res))
    if opts.overall_test:
        footer.append(fmt.effect_test(res))
    cols = build_columns(opts, layout, weights=opts.weights)
    return _finish(cols, rows, footer, opts, layout, estimate_header(opts, layout, res))


def group_members(sg: Any, data: pd.DataFrame | None) -> dict[str, list[int]]:
    """Positions (in the overall model's order) of each subgroup's studies.

    Read from ``data[sg.by]`` when ``data`` has that column, else matched on
    (label, yi, vi) in order, which is how subgroup_analysis splits the studies.
    """
    o = sg.overall
    if data is not None and sg.by in data.columns:
        codes = np.asarray(data[sg.by].to_numpy()).astype(str)
        members = {g: [i for i, c in enumerate(codes) if c == g] for g in sg.models}
        bad = [g for g, m in sg.models.items() if len(members[g]) != m.k]
        if bad:
            raise ValidationError(
                f"data[{sg.by!r}] does not match the subgroup result for groups {bad}; pass the "
                "data the subgroups were fitted on"
            )
        return members
    used: set[int] = set()
    members = {}
    for g, m in sg.models.items():
        pos, j = [], 0
        for lab, y, v in zip(m.labels, m.yi, m.vi):
            while j < o.k and (j in used or (o.labels[j], o.yi[j], o.vi[j]) != (lab, y, v)):
                j += 1
            if j == o.k:
                raise ValidationError(
                    f"cannot match the studies of subgroup {g!r} to the overall model; pass "
                    f"data= holding the column {sg.by!r}"
                )
            pos.append(j)
            used.add(j)
            j += 1
        members[g] = pos
    return members


def subgroup_table(sg: Any, opts: TableOptions, layout: Layout, overall: bool = True
                   ) -> ForestTable:
    """Forest table of a subgroup result: header, studies, subtotal and tests per group.

    Study weights are those of the overall model (so they add up to 100% over all groups,
    as in RevMan); a subtotal's weight is the sum over its studies.
    """
    o = sg.overall
    fmt = Formatter(layout, opts.digits, opts.log_axis)
    weights = np.asarray(o.weights, dtype=float)
    members = group_members(sg, opts.data)
    rows: list[Row] = []
    for g, model in sg.models.items():
        rows.append(Row("group", g, {"label": g}, bold=True))
        idx = sort_order(opts.order, members[g], labels=o.labels, yi=o.yi, vi=o.vi,
                         weights=weights, data=opts.data)
        rows += _study_rows(o, idx, weights, opts, fmt)
        rows += _summary_rows(model, _summary_label(model, layout, True),
                              fmt.weight(float(weights[members[g]].sum())), members[g], opts,
                              layout, fmt)
        lines = [fmt.heterogeneity(model) if opts.heterogeneity else None,
                 fmt.effect_test(model) if opts.overall_test else None]
        rows += [Row("text", line, {"label": line}) for line in lines if line]
        rows.append(Row("blank"))
    footer: list[str | None] = []
    if overall:
        rows += _summary_rows(o, _summary_label(o, layout, False), layout.weight_total,
                              range(o.k), opts, layout, fmt)
        footer += [fmt.heterogeneity(o) if opts.heterogeneity else None,
                   fmt.effect_test(o) if opts.overall_test else None]
    else:
        rows.pop()
    footer.append(fmt.subgroup_test(sg))
    cols = build_columns(opts, layout, weights=opts.weights)
    return _finish(cols, rows, footer, opts, layout, estimate_header(opts, layout, o))


def frame_table(frame: pd.DataFrame, overall: Any, opts: TableOptions, layout: Layout, *,
                label_header: str, label_prefix: str = "", heterogeneity_columns: bool = True
                ) -> ForestTable:
    """Forest table of per-row estimates (leave-one-out or cumulative analysis).

    ``frame`` is indexed by study label and has ``estimate, ci_low, ci_high`` (and
    ``tau2, i2`` for the heterogeneity columns); ``overall`` (optional) adds the diamond of
    the model with all studies.
    """
    need = ["estimate", "ci_low", "ci_high"] + (["tau2", "i2"] if heterogeneity_columns else [])
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(f"expected a DataFrame with columns {need}; got "
                              f"{type(frame).__name__}")
    absent = [c for c in need if c not in frame.columns]
    if absent:
        raise ValidationError(f"the table lacks the columns {absent}; it has {list(frame.columns)}")
    fmt = Formatter(layout, opts.digits, opts.log_axis)
    extra = [("tau2", layout.tau2_name), ("i2", "I\u00b2")] if heterogeneity_columns else []
    rows = []
    for lab, r in frame.iterrows():
        est, lo, hi = fmt.axis(r["estimate"]), fmt.axis(r["ci_low"]), fmt.axis(r["ci_high"])
        label = f"{label_prefix}{lab}"
        cells = {"label": label, **fmt.ci_cells(est, lo, hi)}
        if heterogeneity_columns:
            cells["tau2"] = fmt.small(float(r["tau2"]))
            cells["i2"] = f"{fmt_num(float(r['i2']), layout.i2_decimals)}%"
        rows.append(Row("study", label, cells, est, lo, hi))
    header = opts.estimate_header or layout.ci_header.format(
        measure=measure_name(opts.measure, layout),
        level=_level(overall) if overall is not None else "95",
        model="Fixed" if overall is not None and overall.method == "FE" else "Random")
    if overall is not None:
        rows.append(Row("blank"))
        rows += _summary_rows(overall, _summary_label(overall, layout, False), "", [], opts,
                              layout, fmt)
    base = replace(opts, columns={}, arms={}, label_header=label_header)
    cols = build_columns(base, layout, weights=False, extra_right=extra)
    return _finish(cols, rows, [], opts, layout, header, marker="o")
