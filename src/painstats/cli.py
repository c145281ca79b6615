"""The ``painstats`` command line: ``demo``, ``datasets`` and ``meta``.

Errors from bad input are printed as one line naming the file, column and row, with exit
status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

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


class CLIError(Exception):
    """A user error reported as one line with exit status 2."""


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
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from painstats import datasets

    table = datasets.list()
    with pd.option_context("display.max_colwidth", 60, "display.width", 160):
        print(table.to_string(index=False))
    return 0


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


def _effect_sizes(args: argparse.Namespace, df: pd.DataFrame) -> pd.DataFrame:
    from painstats.meta import effect_size

    if args.measure is None:
        _need_columns(args.data, df, {"yi": args.yi, "vi": args.vi})
        return df.assign(yi=pd.to_numeric(df[args.yi]), vi=pd.to_numeric(df[args.vi]))
    measure = args.measure.upper()
    if measure not in MEASURE_KIND:
        raise CLIError(f"--measure must be one of {sorted(MEASURE_KIND)}; got {args.measure!r}")
    names = ARM_COLUMNS[MEASURE_KIND[measure]]
    cols = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    missing = [n for n in names if n not in cols and not (measure == "SMCR" and n == "sd2")]
    if missing:
        raise CLIError(f"--measure {measure} needs the options " + ", ".join(f"--{n}" for n in missing))
    _need_columns(args.data, df, cols)
    return effect_size(measure, data=df, **cols)


def _meta(args: argparse.Namespace) -> int:
    from painstats.meta import random_effects, subgroup_analysis

    df = _read_csv(args.data)
    es = _effect_sizes(args, df)
    slab = None
    if args.slab is not None:
        if args.slab not in df.columns:
            raise CLIError(f"{args.data}: --slab column {args.slab!r} not found")
        slab = es[args.slab].astype(str).to_numpy()
    opts = dict(method=args.method, test=args.test, level=args.level)
    if args.by:
        if args.by not in df.columns:
            raise CLIError(f"{args.data}: --by column {args.by!r} not found")
        res = subgroup_analysis(data=es, by=args.by, slab=slab, **opts)
        print(res.overall.summary(), "\n")
        print(res.summary())
        numbers = {"overall": _result_dict(res.overall),
                   "subgroups": {g: _result_dict(m) for g, m in res.models.items()},
                   "q_between": res.q_between, "q_between_df": res.q_between_df,
                   "q_between_pvalue": res.q_between_pvalue}
    else:
        res = random_effects("yi", "vi", data=es, slab=slab, **opts)
        print(res.summary())
        numbers = _result_dict(res)
    if args.json:
        Path(args.json).write_text(json.dumps(numbers, indent=2, default=_jsonable))
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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="painstats", description="Statistics of exercise-for-pain research.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="pool the bundled Rubinstein 2019 low back pain trials").set_defaults(func=_demo)
    sub.add_parser("datasets", help="list the bundled datasets and their sources").set_defaults(func=_datasets)
    m = sub.add_parser("meta", help="random-effects meta-analysis of a CSV file")
    m.add_argument("data", help="CSV file, one row per study (or comparison)")
    m.add_argument("--measure", help="effect size from arm columns: MD SMD ROM OR RR RD MC SMCR SMCC")
    for col in ("mean1", "sd1", "n1", "mean2", "sd2", "n2", "events1", "events2", "ri"):
        m.add_argument(f"--{col}", metavar="COL")
    m.add_argument("--yi", default="yi", metavar="COL", help="effect size column (without --measure)")
    m.add_argument("--vi", default="vi", metavar="COL", help="sampling variance column")
    m.add_argument("--slab", metavar="COL", help="study label column")
    m.add_argument("--method", default="REML")
    m.add_argument("--test", default="z")
    m.add_argument("--level", type=float, default=0.95)
    m.add_argument("--by", metavar="COL", help="subgroup column")
    m.add_argument("--json", metavar="OUT", help="write every number to a JSON file")
    m.set_defaults(func=_meta)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``painstats`` console script."""
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except (CLIError, PainstatsError) as exc:
        where = f"{args.data}: " if getattr(args, "data", None) and not str(exc).startswith(
            str(getattr(args, "data", ""))) else ""
        print(f"painstats {args.command}: error: {where}{exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
