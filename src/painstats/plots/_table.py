"""The forest plot as a table: columns, rows and footer lines, built from result fields.

Pure Python and NumPy (no matplotlib): every string shown in a forest plot is made here
from the fields of a result, so the tests can check text against fields and the drawing
code (:mod:`painstats.plots._forest_draw`) only places what it is given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from painstats.errors import InputTypeError, ValidationError
from painstats.plots._style import Layout, measure_name
from painstats.plots._text import fmt_num, fmt_p, fmt_small

__all__ = ["Column", "Row", "ForestTable", "TableOptions", "ARM_ROLES", "GRAPHIC_KINDS"]

#: Arm-data roles and their column headers, continuous then binary.
ARM_ROLES = {
    "continuous": (("mean1", "Mean"), ("sd1", "SD"), ("n1", "Total"),
                   ("mean2", "Mean"), ("sd2", "SD"), ("n2", "Total")),
    "binary": (("events1", "Events"), ("n1", "Total"), ("events2", "Events"), ("n2", "Total")),
}

#: Row kinds that carry graphics in the plot panel (the reference line runs through them).
GRAPHIC_KINDS = frozenset({"study", "summary", "pi", "group", "info", "blank"})


@dataclass(slots=True)
class Column:
    """A text column: ``key`` of the cells, header, alignment, side of the plot panel."""

    key: str
    header: str = ""
    align: str = "right"
    side: str = "left"
    group: str | None = None  #: spanning header over consecutive columns of the same group
    gap: float | None = None  #: gap before this column in font sizes (None: layout gap)


@dataclass(slots=True)
class Row:
    """One row of the forest table; values ``est, lo, hi`` are on the axis scale."""

    kind: str  #: study | group | summary | pi | info | text | blank
    label: str = ""
    cells: dict[str, str] = field(default_factory=dict)
    est: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    weight: float = math.nan  #: percent, sizes the box; NaN gives the default marker
    pi: tuple[float, float] | None = None  #: prediction interval drawn on this row
    bold: bool = False
    indent: bool = False


@dataclass(slots=True)
class ForestTable:
    """Everything a forest plot shows: columns, rows, footer lines and axis settings."""

    columns: list[Column]
    rows: list[Row]
    footer: list[str]
    null: float  #: position of the line of no effect on the axis scale
    log_axis: bool
    xlabel: str
    panel_header: str = ""
    favours: tuple[str, str] | None = None
    marker: str = "s"  #: "s" weighted boxes, "o" plain points (leave-one-out, cumulative)
    box_color: str = "black"


@dataclass(frozen=True, slots=True)
class TableOptions:
    """Validated options shared by the forest-plot builders."""

    measure: str | None = None
    log_axis: bool = False
    digits: int = 2
    data: pd.DataFrame | None = None
    columns: dict[str, str] = field(default_factory=dict)
    arms: dict[str, str] = field(default_factory=dict)
    arm_labels: tuple[str, str] | None = None
    weights: bool = True
    prediction: str = "line"
    heterogeneity: bool = True
    overall_test: bool = True
    order: Any = None
    label_header: str | None = None
    estimate_header: str | None = None
    favours: tuple[str, str] | None = None
    xlabel: str | None = None


# --------------------------------------------------------------------------------------
# option checks


def check_columns(columns: Any, data: pd.DataFrame | None) -> dict[str, str]:
    """``columns`` as {column: header}; every column must be in ``data``."""
    if columns is None:
        return {}
    if data is None:
        raise ValidationError("columns= needs data= (the table holding those columns)")
    if isinstance(columns, str):
        columns = [columns]
    if isinstance(columns, Mapping):
        out = {str(k): str(v) for k, v in columns.items()}
    elif isinstance(columns, Sequence):
        out = {str(c): str(c) for c in columns}
    else:
        raise InputTypeError(f"columns must be a list of column names or a dict; got {columns!r}")
    absent = [c for c in out if c not in data.columns]
    if absent:
        raise ValidationError(f"columns {absent} are not in data; columns are {list(data.columns)}")
    return out


def check_arms(arms: Any, data: pd.DataFrame | None) -> dict[str, str]:
    """``arms`` as {role: column} for one complete continuous or binary set of roles."""
    if arms is None:
        return {}
    if data is None:
        raise ValidationError("arms= needs data= (the table holding the arm columns)")
    if not isinstance(arms, Mapping):
        raise InputTypeError(
            "arms must be a dict such as {'mean1': 'm_ex', 'sd1': 'sd_ex', 'n1': 'n_ex', "
            f"'mean2': ..., 'sd2': ..., 'n2': ...}}; got {type(arms).__name__}"
        )
    roles = set(arms)
    kind = "binary" if "events1" in roles or "events2" in roles else "continuous"
    wanted = {r for r, _ in ARM_ROLES[kind]}
    if roles != wanted:
        raise ValidationError(
            f"arms must give exactly the {kind} roles {sorted(wanted)}; got {sorted(roles)}"
        )
    absent = {r: c for r, c in arms.items() if c not in data.columns}
    if absent:
        raise ValidationError(f"arms columns not in data: {absent}; columns are {list(data.columns)}")
    return {r: str(c) for r, c in arms.items()}


def arm_kind(arms: Mapping[str, str]) -> str:
    return "binary" if "events1" in arms else "continuous"


def check_data(data: Any, k: int, n_dropped: int = 0) -> pd.DataFrame | None:
    """``data`` must be a DataFrame with one row per analysed study, in the result's order."""
    if data is None:
        return None
    if not isinstance(data, pd.DataFrame):
        raise InputTypeError(f"data must be a pandas DataFrame; got {type(data).__name__}")
    if len(data) != k:
        extra = f" ({n_dropped} were dropped for missing values)" if n_dropped else ""
        raise ValidationError(
            f"data has {len(data)} rows but the result has k={k} studies{extra}; pass one row "
            "per analysed study, in the order of the analysis"
        )
    return data.reset_index(drop=True)


# --------------------------------------------------------------------------------------
# cell formatting


def column_strings(values: Any) -> list[str]:
    """Cells of a data column: whole numbers as integers, other numbers with the fewest
    decimals (at most 2) that show every value exactly, text as is, missing as ''."""
    s = pd.Series(values)
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return ["" if pd.isna(v) else str(v) for v in s]
    x = s.to_numpy(dtype=float)
    finite = x[np.isfinite(x)]
    decimals = 0
    for d in range(3):
        decimals = d
        if np.allclose(np.round(finite, d), finite, rtol=0, atol=1e-9):
            break
    return ["" if not np.isfinite(v) else fmt_num(v, decimals) for v in x]


class Formatter:
    """Formats the numbers of one plot in one layout (digits, minus sign, p style)."""

    def __init__(self, layout: Layout, digits: int, log_axis: bool) -> None:
        self.layout = layout
        self.digits = digits
        self.log_axis = log_axis

    def num(self, x: float) -> str:
        return fmt_num(x, self.digits, self.layout.minus)

    def axis(self, x: float) -> float:
        """An estimate on the axis scale (exp for ratio measures)."""
        return float(np.exp(x)) if self.log_axis else float(x)

    def ci_cells(self, est: float, lo: float, hi: float) -> dict[str, str]:
        e, a, b = self.layout.ci_parts(self.num(est), self.num(lo), self.num(hi))
        return {"est": e, "ci_lo": a, "ci_hi": b}

    def weight(self, w: float) -> str:
        return self.layout.weight_format.format(w)

    def p(self, p: float) -> str:
        return f"{self.layout.p_letter} {fmt_p(p, self.layout.p_style)}"

    def small(self, x: float) -> str:
        return fmt_small(x, self.digits, self.layout.minus)

    def i2(self, i2: float) -> str:
        return f"I\u00b2 = {fmt_num(i2, self.layout.i2_decimals)}%"

    def heterogeneity(self, res: Any) -> str | None:
        """'Heterogeneity: tau2 = ..; Q = .., df = .. (p = ..); I2 = ..%' or None if df = 0."""
        if res.q_df < 1:
            return None
        lay = self.layout
        parts = [] if res.method == "FE" else [f"{lay.tau2_name} = {self.small(res.tau2)}"]
        parts.append(f"{lay.q_name} = {self.small(res.q)}, df = {res.q_df} ({self.p(res.q_pvalue)})")
        parts.append(self.i2(res.i2))
        return "Heterogeneity: " + "; ".join(parts)

    def effect_test(self, res: Any) -> str:
        """'Test for overall effect: Z = .. (p = ..)' with t(df) under t/HKSJ tests."""
        if res.test == "z":
            name = "Z" if self.layout.name == "revman" else "z"
        else:
            name = f"t({res.df:g})"
        stat = fmt_num(res.statistic, 2, self.layout.minus)
        return f"Test for overall effect: {name} = {stat} ({self.p(res.pvalue)})"

    def subgroup_test(self, sg: Any) -> str:
        lay = self.layout
        return (f"Test for subgroup differences: {lay.q_name} = {self.small(sg.q_between)}, "
                f"df = {sg.q_between_df} ({self.p(sg.q_between_pvalue)})")


# --------------------------------------------------------------------------------------
# columns


def build_columns(opts: TableOptions, layout: Layout, *, weights: bool,
                  extra_right: Sequence[tuple[str, str]] = ()) -> list[Column]:
    """Label, user columns, arm columns, [weight], estimate-and-CI, extra columns."""
    cols = [Column("label", opts.label_header or layout.label_header, align="left")]
    for name, header in opts.columns.items():
        cols.append(Column(f"col:{name}", header))
    if opts.arms:
        labels = opts.arm_labels or layout.arm_labels
        roles = ARM_ROLES[arm_kind(opts.arms)]
        half = len(roles) // 2
        for i, (role, head) in enumerate(roles):
            cols.append(Column(f"arm:{role}", head, group=labels[0] if i < half else labels[1]))
    side = "left" if layout.ci_left else "right"
    for key, head in extra_right:
        cols.append(Column(key, head, side=side))
    if weights:
        cols.append(Column("weight", layout.weight_header, side=side))
    est_head = opts.estimate_header
    if est_head is None:
        est_head = "Estimate"
    cols += [
        Column("est", "", side=side, group=est_head),
        Column("ci_lo", "", side=side, group=est_head, gap=0.45),
        Column("ci_hi", "", side=side, group=est_head, gap=0.35, align=layout.ci_hi_align),
    ]
    return cols


def estimate_header(opts: TableOptions, layout: Layout, res: Any) -> str:
    """Header of the estimate column: '{measure} [95% CI]' in the layout's wording."""
    if opts.estimate_header is not None:
        return opts.estimate_header
    model = "Fixed" if res.method == "FE" else "Random"
    return layout.ci_header.format(measure=measure_name(opts.measure, layout),
                                   level=f"{100 * res.level:g}", model=model)


def arm_cells(opts: TableOptions, rows: Sequence[int]) -> list[dict[str, str]]:
    """Cells of the user and arm columns for the given data rows."""
    out: list[dict[str, str]] = [{} for _ in rows]
    if opts.data is None:
        return out
    idx = list(rows)
    named = {f"col:{c}": c for c in opts.columns} | {f"arm:{r}": c for r, c in opts.arms.items()}
    for key, col in named.items():
        strings = column_strings(opts.data[col])
        for cell, i in zip(out, idx):
            cell[key] = strings[i]
    return out


def arm_totals(opts: TableOptions, rows: Sequence[int]) -> dict[str, str]:
    """Summed group sizes (and events, for binary data) of the given rows."""
    if not opts.arms:
        return {}
    out = {}
    for role in ("n1", "n2"):
        total = pd.to_numeric(opts.data[opts.arms[role]].iloc[list(rows)]).sum()
        out[f"arm:{role}"] = column_strings([total])[0]
    return out


def events_row(opts: TableOptions, rows: Sequence[int]) -> Row | None:
    """RevMan's 'Total events' row for binary arm data."""
    if not opts.arms or arm_kind(opts.arms) != "binary":
        return None
    cells = {}
    for role in ("events1", "events2"):
        total = pd.to_numeric(opts.data[opts.arms[role]].iloc[list(rows)]).sum()
        cells[f"arm:{role}"] = column_strings([total])[0]
    return Row("info", "Total events", cells)


def sort_order(order: Any, idx: Sequence[int], *, labels, yi, vi, weights,
               data: pd.DataFrame | None) -> list[int]:
    """Positions ``idx`` sorted by ``order`` (stable); a leading '-' sorts descending."""
    idx = list(idx)
    if order is None:
        return idx
    if isinstance(order, str):
        desc = order.startswith("-")
        name = order.lstrip("-")
        keys = {"estimate": yi, "weight": -np.asarray(weights), "precision": vi,
                "label": np.asarray(labels, dtype=object)}.get(name)
        if keys is None:
            if data is None or name not in data.columns:
                raise ValidationError(
                    f"order must be 'estimate', 'weight', 'precision', 'label' or a column of "
                    f"data (optionally prefixed '-'); got {order!r}"
                )
            keys = data[name].to_numpy()
    else:
        keys = np.asarray(order)
        desc = False
        if keys.shape != (len(labels),):
            raise ValidationError(f"order must have one sort key per study ({len(labels)}); "
                                  f"got shape {keys.shape}")
    sub = sorted(idx, key=lambda i: (pd.isna(keys[i]), keys[i]), reverse=False)
    if desc:
        nan_part = [i for i in sub if pd.isna(keys[i])]
        sub = [i for i in sub if not pd.isna(keys[i])][::-1] + nan_part
    return sub
