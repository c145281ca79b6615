"""The ``painstats`` command line: ``demo``, ``datasets``, ``meta`` and ``report``.

::

    painstats demo [--forest rubinstein2019_forest.png]
    painstats datasets
    painstats meta DATA.csv --measure SMD --mean1 COL --sd1 COL --n1 COL \\
        --mean2 COL --sd2 COL --n2 COL [--slab COL] [--method REML] [--test hksj] [--by COL] \\
        [--forest OUT.png] [--funnel OUT.svg] [--layout revman] [--favours LEFT RIGHT] \\
        [--json OUT.json]
    painstats report DATA.csv (same data options) -o report.html

Errors from bad input are printed as one line naming the file, column and row, with exit
status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from painstats.errors import PainstatsError

__all__ = ["main"]

ARM_COLUMNS = {
    "continuous": ("mean1", "sd1", "n1", "mean2", "sd2", "n2"),
    "binary": ("events1", "n1", "events2", "n2"),
    "change": ("mean1", "mean2", "sd1", "sd2", "n1", "ri"),
}
MEASURE_KIND = {"MD": "continuous", "SMD": "continuous", "ROM": "continuous", "OR": "binary",
                "RR": "binary", "RD": "binary", "MC": "change", "SMCR": "change", "SMCC": "change"}
LAYOUT_CHOICES = ("metafor", "revman", "jama")


class CLIError(Exception):
    """A user error reported as one line with exit status 2."""


class OutputError(CLIError):
    """An output file could not be written (the message names that file, not the input)."""


# --------------------------------------------------------------------------------------
# plots


def _pyplot():
    """pyplot on the Agg backend unless the caller already chose one (we only write files)."""
    try:
        import matplotlib
    except ImportError:
        raise CLIError("plots need matplotlib: pip install matplotlib") from None
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _write_plot(draw, path: str, dpi: float) -> None:
    """Draw with ``draw()`` (returns an Axes) and save it to ``path``."""
    plt = _pyplot()
    from painstats.plots import SAVE_FORMATS, save

    suffix = Path(path).suffix.lstrip(".").lower()
    if suffix not in SAVE_FORMATS:
        raise OutputError(f"{path}: the plot file must end in "
                          f"{', '.join('.' + s for s in SAVE_FORMATS)}")
    ax = draw()
    try:
        save(ax, path, dpi=dpi)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the plot ({exc.strerror or exc})") from None
    finally:
        plt.close(ax.figure)


# --------------------------------------------------------------------------------------
# demo and datasets


def _demo(args: argparse.Namespace) -> int:
    from painstats import datasets
    from painstats.meta import effect_size, random_effects

    df = datasets.load("rubinstein2019")
    es = effect_size("MD", data=df, mean1="mean_smt", sd1="sd_smt", n1="n_smt",
                     mean2="mean_ctrl", sd2="sd_ctrl", n2="n_ctrl")
    res = random_effects("yi", "vi", data=es, slab=es["study"].to_numpy(), method="DL")
    print("Rubinstein et al. BMJ 2019;364:l689: spinal manipulative therapy vs recommended")
    print("therapies for chronic low back pain, pain (0-100) at 1 month; mean difference.\n")
    print(res.summary())
    if args.forest:
        from painstats.plots import forest

        arms = dict(zip(ARM_COLUMNS["continuous"], ("mean_smt", "sd_smt", "n_smt", "mean_ctrl",
                                                    "sd_ctrl", "n_ctrl")))
        _write_plot(lambda: forest(res, data=es, arms=arms, layout=args.layout,
                                   arm_labels=("Manipulation", "Other therapies"),
                                   favours=("manipulation", "other therapies")),
                    args.forest, args.dpi)
        print(f"\nForest plot written to {args.forest}")
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from painstats import datasets

    table = datasets.list()
    with pd.option_context("display.max_colwidth", 60, "display.width", 160):
        print(table.to_string(index=False))
    return 0


# --------------------------------------------------------------------------------------
# reading data and fitting


def _read_csv(path: str) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"{path}: no such file")
    try:
        df = pd.read_csv(p)
    except pd.errors.EmptyDataError:
        raise CLIError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CLIError(f"{path}: not a readable CSV file ({exc})") from None
    if df.empty:
        raise CLIError(f"{path}: the file has a header but no rows")
    return df


def _need_columns(path: str, df: pd.DataFrame, cols: dict[str, str]) -> None:
    for opt, col in cols.items():
        if col not in df.columns:
            raise CLIError(f"{path}: --{opt} column {col!r} not found; columns are {list(df.columns)}")
        if not pd.api.types.is_numeric_dtype(df[col]):
            bad = pd.to_numeric(df[col], errors="coerce").isna() & df[col].notna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise CLIError(f"{path}: column {col!r} row {row + 1} is not a number: "
                               f"{df[col].iloc[row]!r}")


def _arm_options(args: argparse.Namespace) -> dict[str, str]:
    measure = args.measure.upper()
    names = ARM_COLUMNS[MEASURE_KIND[measure]]
    return {n: getattr(args, n) for n in names if getattr(args, n) is not None}


def _effect_sizes(args: argparse.Namespace, df: pd.DataFrame) -> pd.DataFrame:
    from painstats.meta import effect_size

    if args.measure is None:
        _need_columns(args.data, df, {"yi": args.yi, "vi": args.vi})
        return df.assign(yi=pd.to_numeric(df[args.yi]), vi=pd.to_numeric(df[args.vi]))
    measure = args.measure.upper()
    if measure not in MEASURE_KIND:
        raise CLIError(f"--measure must be one of {sorted(MEASURE_KIND)}; got {args.measure!r}")
    names = ARM_COLUMNS[MEASURE_KIND[measure]]
    cols = _arm_options(args)
    missing = [n for n in names if n not in cols and not (measure == "SMCR" and n == "sd2")]
    if missing:
        raise CLIError(f"--measure {measure} needs the options " + ", ".join(f"--{n}" for n in missing))
    _need_columns(args.data, df, cols)
    return effect_size(measure, data=df, **cols)


def _fit(args: argparse.Namespace) -> tuple[pd.DataFrame, Any]:
    """Read the CSV, compute effect sizes, fit the model (subgroups with --by)."""
    from painstats.meta import random_effects, subgroup_analysis

    df = _read_csv(args.data)
    es = _effect_sizes(args, df)
    slab = None
    if args.slab is not None:
        if args.slab not in df.columns:
            raise CLIError(f"{args.data}: --slab column {args.slab!r} not found")
        slab = es[args.slab].astype(str).to_numpy()
    for col in args.columns or ():
        if col not in df.columns:
            raise CLIError(f"{args.data}: --columns column {col!r} not found; columns are "
                           f"{list(df.columns)}")
    opts = {"method": args.method, "test": args.test, "level": args.level}
    if args.by:
        if args.by not in df.columns:
            raise CLIError(f"{args.data}: --by column {args.by!r} not found")
        return es, subgroup_analysis(data=es, by=args.by, slab=slab, **opts)
    return es, random_effects("yi", "vi", data=es, slab=slab, **opts)


def _forest_kwargs(args: argparse.Namespace, es: pd.DataFrame) -> dict[str, Any]:
    """Arm columns (for MD/SMD/ROM/OR/RR/RD), extra columns, layout, favours, order."""
    arms = None
    if args.measure is not None and MEASURE_KIND[args.measure.upper()] != "change":
        arms = _arm_options(args)
    return {"data": es, "arms": arms, "columns": args.columns or None, "layout": args.layout,
            "favours": tuple(args.favours) if args.favours else None, "order": args.order}


def _meta(args: argparse.Namespace) -> int:
    es, res = _fit(args)
    subgroups = hasattr(res, "models")
    if args.json:
        numbers = _result_dict(res.overall if subgroups else res)
        if subgroups:
            numbers = {"overall": numbers,
                       "subgroups": {g: _result_dict(m) for g, m in res.models.items()},
                       "q_between": res.q_between, "q_between_df": res.q_between_df,
                       "q_between_pvalue": res.q_between_pvalue}
        try:
            Path(args.json).write_text(json.dumps(numbers, indent=2, default=_jsonable))
        except OSError as exc:
            raise OutputError(f"{args.json}: cannot write ({exc.strerror or exc})") from None
    if args.forest:
        from painstats.plots import forest

        kw = _forest_kwargs(args, es)
        _write_plot(lambda: forest(res, **kw), args.forest, args.dpi)
    if args.funnel:
        from painstats.plots import funnel

        main = res.overall if subgroups else res
        _write_plot(lambda: funnel(main, measure=args.measure), args.funnel, args.dpi)
    if subgroups:
        print(res.overall.summary(), "\n")
    print(res.summary())
    return 0


def _report(args: argparse.Namespace) -> int:
    es, res = _fit(args)
    _pyplot()
    from painstats.report import write_report

    kw = _forest_kwargs(args, es)
    kw.pop("order")
    try:
        write_report(args.output, res, title=args.title, source=args.data,
                     measure=args.measure, **kw)
    except OSError as exc:
        raise OutputError(f"{args.output}: cannot write the report "
                          f"({exc.strerror or exc})") from None
    print(f"Report written to {args.output}")
    return 0


def _result_dict(res) -> dict:
    keys = ["k", "method", "test", "level", "estimate", "se", "statistic", "pvalue", "ci_low",
            "ci_high", "pi_low", "pi_high", "tau2", "tau2_se", "tau", "i2", "h2", "q", "q_df",
            "q_pvalue", "df"]
    out = {k: getattr(res, k) for k in keys}
    out["studies"] = [{"label": lab, "yi": y, "vi": v, "weight": w} for lab, y, v, w in
                      zip(res.labels, res.yi.tolist(), res.vi.tolist(), res.weights.tolist())]
    return out


def _jsonable(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    return str(x)


# --------------------------------------------------------------------------------------
# parser


def _data_options() -> argparse.ArgumentParser:
    """Options shared by ``meta`` and ``report``: the data, the model and the forest plot."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("data", help="CSV file, one row per study (or comparison)")
    p.add_argument("--measure", help="effect size from arm columns: MD SMD ROM OR RR RD MC SMCR SMCC")
    for col in ("mean1", "sd1", "n1", "mean2", "sd2", "n2", "events1", "events2", "ri"):
        p.add_argument(f"--{col}", metavar="COL")
    p.add_argument("--yi", default="yi", metavar="COL", help="effect size column (without --measure)")
    p.add_argument("--vi", default="vi", metavar="COL", help="sampling variance column")
    p.add_argument("--slab", metavar="COL", help="study label column")
    p.add_argument("--method", default="REML", help="tau^2 estimator (REML, DL, PM, ..., FE)")
    p.add_argument("--test", default="z", help="z, t or hksj (alias knha)")
    p.add_argument("--level", type=float, default=0.95)
    p.add_argument("--by", metavar="COL", help="subgroup column")
    p.add_argument("--layout", default="metafor", choices=LAYOUT_CHOICES,
                   help="forest plot layout (default metafor)")
    p.add_argument("--favours", nargs=2, metavar=("LEFT", "RIGHT"),
                   help='labels under the forest plot axis, e.g. --favours exercise control')
    p.add_argument("--columns", nargs="+", metavar="COL", help="extra columns in the forest plot")
    p.add_argument("--order", metavar="KEY",
                   help="sort the forest plot: estimate, weight, precision, label or a column "
                        "(descending: --order=-year)")
    return p


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="painstats", description="Statistics of exercise-for-pain research.")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="pool the bundled Rubinstein 2019 low back pain trials")
    d.add_argument("--forest", metavar="OUT", default="rubinstein2019_forest.png",
                   help="forest plot file (.png, .svg, .pdf; default %(default)s; '' for none)")
    d.add_argument("--layout", default="metafor", choices=LAYOUT_CHOICES)
    d.add_argument("--dpi", type=float, default=300)
    d.set_defaults(func=_demo)
    sub.add_parser("datasets", help="list the bundled datasets and their sources").set_defaults(func=_datasets)
    shared = _data_options()
    m = sub.add_parser("meta", parents=[shared], help="random-effects meta-analysis of a CSV file")
    m.add_argument("--json", metavar="OUT", help="write every number to a JSON file")
    m.add_argument("--forest", metavar="OUT", help="write the forest plot (.png, .svg, .pdf)")
    m.add_argument("--funnel", metavar="OUT", help="write the funnel plot (.png, .svg, .pdf)")
    m.add_argument("--dpi", type=float, default=300, help="resolution of PNG plots (default 300)")
    m.set_defaults(func=_meta)
    r = sub.add_parser("report", parents=[shared],
                       help="one self-contained HTML report: summary, plots, bias, influence")
    r.add_argument("-o", "--output", metavar="OUT", default="report.html",
                   help="HTML file to write (default %(default)s)")
    r.add_argument("--title", default="Meta-analysis report")
    r.set_defaults(func=_report)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``painstats`` console script."""
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except (CLIError, PainstatsError) as exc:
        data = getattr(args, "data", None)
        where = "" if isinstance(exc, OutputError) or not data or str(exc).startswith(
            str(data)) else f"{data}: "
        print(f"painstats {args.command}: error: {where}{exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
