"""Effect sizes and their sampling variances from study summaries (metafor's ``escalc``).

One public function, :func:`effect_size`, validates the study summaries once and hands plain
arrays to the vectorised kernels at the bottom of this module (``_two_group``, ``_two_by_two``,
``_change``), which hold only NumPy array arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import gammaln

from painstats._validation import (
    as_float_column,
    check_finite,
    check_in_range,
    check_integer,
    check_le,
    check_min,
    check_nonnegative,
    check_positive,
    check_same_length,
    describe_rows,
    get_column,
    missing_mask,
    resolve_option,
    study_labels,
)
from painstats.errors import InputTypeError, ValidationError

__all__ = [
    "effect_size",
    "MEASURES",
    "MEASURE_ALIASES",
    "VTYPES",
    "VTYPE_ALIASES",
    "TO_OPTIONS",
    "TO_ALIASES",
]

#: Measures, by metafor's code: two-group means, 2x2 tables, single-group change.
MEASURES = ("MD", "SMD", "ROM", "OR", "RR", "RD", "MC", "SMCC", "SMCR")

#: Every accepted spelling (upper-cased) -> canonical metafor code.
MEASURE_ALIASES = {
    **{m: m for m in MEASURES},
    "MEAN_DIFFERENCE": "MD",
    "RAW_MEAN_DIFFERENCE": "MD",
    "HEDGES_G": "SMD",
    "STANDARDIZED_MEAN_DIFFERENCE": "SMD",
    "STANDARDISED_MEAN_DIFFERENCE": "SMD",
    "LOG_RATIO_OF_MEANS": "ROM",
    "LOG_RESPONSE_RATIO": "ROM",
    "LOG_ODDS_RATIO": "OR",
    "LOG_RISK_RATIO": "RR",
    "LOG_RELATIVE_RISK": "RR",
    "RISK_DIFFERENCE": "RD",
    "MEAN_CHANGE": "MC",
    "STANDARDIZED_MEAN_CHANGE_CHANGE_SD": "SMCC",
    "STANDARDIZED_MEAN_CHANGE_RAW_SD": "SMCR",
}

#: Variance estimators allowed for each measure (metafor 3.8-1 ``vtype``); the first is the default.
VTYPES = {
    "MD": ("LS", "UB", "HO"),
    "SMD": ("LS", "UB", "LS2", "AV"),
    "ROM": ("LS", "HO", "AV", "AVHO"),
    "OR": ("LS",),
    "RR": ("LS",),
    "RD": ("LS", "UB", "AV"),
    "MC": ("LS",),
    "SMCC": ("LS", "LS2"),
    "SMCR": ("LS", "LS2"),
}

#: Every accepted ``vtype`` spelling (upper-cased) -> canonical code.
VTYPE_ALIASES = {
    **{v: v for v in ("LS", "UB", "LS2", "AV", "HO", "AVHO")},
    "LARGE_SAMPLE": "LS",
    "UNBIASED": "UB",
    "AVERAGE": "AV",
    "HOMOSCEDASTIC": "HO",
}

#: Which 2x2 tables get ``add`` added to their four cells (metafor's ``to``).
TO_OPTIONS = ("only0", "all", "if0all", "none")
TO_ALIASES = {t.upper(): t for t in TO_OPTIONS}

_FAMILY = {
    "MD": "two_group", "SMD": "two_group", "ROM": "two_group",
    "OR": "binary", "RR": "binary", "RD": "binary",
    "MC": "change", "SMCC": "change", "SMCR": "change",
}
_REQUIRED = {
    "two_group": ("mean1", "sd1", "n1", "mean2", "sd2", "n2"),
    "binary": ("events1", "n1", "events2", "n2"),
    "change": ("mean1", "mean2", "sd1", "sd2", "n1", "ri"),
}
#: metafor's argument names, accepted as aliases of the column arguments.
_R_NAMES = {
    "two_group": {"m1i": "mean1", "sd1i": "sd1", "n1i": "n1", "m2i": "mean2", "sd2i": "sd2",
                  "n2i": "n2"},
    "binary": {"ai": "events1", "n1i": "n1", "ci": "events2", "n2i": "n2"},
    "change": {"m1i": "mean1", "m2i": "mean2", "sd1i": "sd1", "sd2i": "sd2", "ni": "n1",
               "ri": "ri"},
}
# Stand-in values for rows dropped for missing data, so the range checks skip them.
_FILL = {"mean1": 1.0, "mean2": 1.0, "sd1": 1.0, "sd2": 2.0, "n1": 3.0, "n2": 3.0,
         "events1": 0.0, "events2": 0.0, "ri": 0.0}


def effect_size(
    measure: str,
    *,
    data: pd.DataFrame | None = None,
    slab: Any = None,
    missing: str = "raise",
    add: float = 0.5,
    to: str = "only0",
    vtype: str = "LS",
    **columns: Any,
) -> pd.DataFrame:
    r"""Compute effect sizes ``yi`` and sampling variances ``vi``, as metafor's ``escalc``.

    Parameters
    ----------
    measure : str
        The effect size (case-insensitive; metafor's code or a readable alias):

        - ``"MD"`` (``"mean_difference"``): raw mean difference, ``mean1 - mean2``.
        - ``"SMD"`` (``"hedges_g"``): standardised mean difference with Hedges' exact
          small-sample correction.
        - ``"ROM"`` (``"log_ratio_of_means"``): log ratio of means, ``log(mean1/mean2)``.
        - ``"OR"``, ``"RR"``: log odds ratio and log risk ratio; ``"RD"``: risk difference.
        - ``"MC"``, ``"SMCC"``, ``"SMCR"``: raw mean change, standardised mean change
          with change-score SD, and with raw-score SD, for one group measured twice.
    data : pandas.DataFrame, optional
        If given, column arguments are column names of ``data`` (array-likes are also
        accepted) and the result is a copy of ``data`` with ``yi`` and ``vi`` appended
        (existing ``yi``/``vi`` columns of the copy are replaced). ``data`` is never
        modified.
    slab : str or array-like, optional
        Study labels used in error messages (a column name when ``data`` is given).
        Default: the index of ``data`` unless it is a plain range, else ``'1'..'k'``.
    missing : {"raise", "drop"}
        Studies with a missing (NaN) value raise, or, with ``"drop"``, are left out of the
        result; ``result.attrs["n_dropped"]`` records how many were dropped.
    add : float
        Added to all four cells of a 2x2 table chosen by ``to`` (OR, RR and RD only).
    to : {"only0", "all", "if0all", "none"}
        ``"only0"``: tables with a zero cell; ``"all"``: every table; ``"if0all"``: every
        table if any table has a zero cell; ``"none"``: no table.
    vtype : str
        Variance estimator, as metafor's ``vtype``: ``"LS"`` (large sample, default) for all
        measures; ``"UB"`` (unbiased) for MD, SMD and RD; ``"LS2"`` for SMD, SMCC and SMCR;
        ``"AV"`` (from the sample-size weighted average effect) for SMD, ROM and RD;
        ``"HO"`` (pooled SD) for MD and ROM; ``"AVHO"`` for ROM.
    **columns
        The study summaries, one value per study (a scalar is repeated for every study):

        - MD, SMD, ROM: ``mean1, sd1, n1, mean2, sd2, n2`` (group 1 minus group 2).
        - OR, RR, RD: ``events1, n1, events2, n2`` (events and group sizes).
        - MC, SMCC: ``mean1, mean2, sd1, sd2, n1, ri`` where ``mean1``/``sd1`` are from
          the first and ``mean2``/``sd2`` from the second measurement, ``n1`` is the
          number of subjects and ``ri`` the correlation between the two measurements.
        - SMCR: as SMCC, standardised by ``sd1`` (pass the baseline SD); ``sd2`` may be
          given and is ignored.

        metafor's names (``m1i, sd1i, n1i, m2i, sd2i, n2i, ai, ci, ni, ri``) are accepted too.

    Returns
    -------
    pandas.DataFrame
        ``data`` (a copy, without dropped rows) plus float columns ``yi`` and ``vi``; or,
        without ``data``, just ``yi`` and ``vi`` indexed by input row position.
        ``attrs`` holds ``measure``, ``vtype`` and ``n_dropped``.

    Raises
    ------
    ValidationError
        Unknown measure or option; a missing, unexpected or duplicated column argument;
        mismatched lengths; a missing value (unless ``missing="drop"``); an SD that is not
        positive; a sample size below 2 (3 for SMCC and SMCR, where J(n - 1) needs n >= 3)
        or not a whole number; events that are negative, fractional or exceed the group
        size; ``ri`` outside [-1, 1]; a mean that is not positive for ROM; a zero SD of the
        change (MC, SMCC); a 2x2 table whose log OR/RR is undefined because ``to="none"``.
        Each message names the argument and the offending studies by label and row.
    InputTypeError
        Non-numeric cells, or ``data`` that is not a DataFrame.

    Notes
    -----
    With :math:`m = n_1 + n_2 - 2`, pooled SD :math:`s_p` and
    :math:`J(m) = \Gamma(m/2) / (\sqrt{m/2}\,\Gamma((m-1)/2))` (exact, not the
    approximation :math:`1 - 3/(4m - 1)`), SMD is :math:`g = J(m)(\bar x_1 - \bar x_2)/s_p`
    with ``vtype="LS"`` variance :math:`1/n_1 + 1/n_2 + g^2/(2(n_1+n_2))` (Hedges, 1981).
    MD uses :math:`s_1^2/n_1 + s_2^2/n_2`; ROM :math:`s_1^2/(n_1\bar x_1^2) +
    s_2^2/(n_2\bar x_2^2)`. For 2x2 tables, :math:`a` = ``events1`` etc.: OR variance
    :math:`1/a+1/b+1/c+1/d`, RR :math:`1/a - 1/n_1 + 1/c - 1/n_2`, RD
    :math:`p_1(1-p_1)/n_1 + p_2(1-p_2)/n_2`, all after adding ``add`` (which for RD
    changes ``yi`` too, as in metafor); double-zero tables are kept. For change scores
    (Morris, 2008; Becker, 1988) ``yi`` uses metafor's order ``mean1 - mean2``, J uses
    :math:`m = n - 1`; MC variance :math:`s_D^2/n` with
    :math:`s_D^2 = s_1^2 + s_2^2 - 2 r s_1 s_2`; SMCC :math:`g = J d`, :math:`d =
    (\bar x_1 - \bar x_2)/s_D`, variance :math:`1/n + g^2/(2n)`; SMCR standardises by
    :math:`s_1`, variance :math:`2(1 - r)/n + g^2/(2n)`. ``"LS2"`` multiplies the variance
    of the uncorrected d by :math:`J^2` (Borenstein et al., 2009).

    Deliberate differences from metafor: an SD of 0, a sample size below 2 (or 3 for
    SMCC/SMCR, where metafor returns NA), fractional counts, a zero SD of the change and
    non-finite OR/RR under ``to="none"`` raise instead of giving 0, NA or infinite values.

    References
    ----------
    .. [1] Hedges LV. Distribution theory for Glass's estimator of effect size and related
       estimators. J Educ Stat. 1981;6(2):107-128.
    .. [2] Morris SB. Estimating effect sizes from pretest-posttest-control group designs.
       Organ Res Methods. 2008;11(2):364-386.
    .. [3] Becker BJ. Synthesizing standardized mean-change measures. Br J Math Stat
       Psychol. 1988;41(2):257-278.
    .. [4] Borenstein M, Hedges LV, Higgins JPT, Rothstein HR. Introduction to
       Meta-Analysis. Wiley; 2009.
    .. [5] Higgins JPT, Li T, Deeks JJ (eds). Chapter 6: Choosing effect measures and
       computing estimates of effect. In: Cochrane Handbook for Systematic Reviews of
       Interventions, version 6.4. Cochrane; 2023.
    .. [6] Viechtbauer W. Conducting meta-analyses in R with the metafor package. J Stat
       Softw. 2010;36(3):1-48.

    Examples
    --------
    Length of stay in Normand's (1999) stroke trials, bundled with painstats:

    >>> from painstats import datasets
    >>> from painstats.meta.effect_sizes import effect_size
    >>> trials = datasets.load("normand1999")
    >>> es = effect_size("SMD", data=trials, slab="source", mean1="m1i", sd1="sd1i",
    ...                  n1="n1i", mean2="m2i", sd2="sd2i", n2="n2i")
    >>> print(es[["source", "yi", "vi"]].head(3).round(4).to_string(index=False))
                source      yi     vi
             Edinburgh -0.3552 0.0131
        Orpington-Mild -0.3479 0.0645
    Orpington-Moderate -2.3176 0.0458

    A 2x2 table with a zero cell gets 1/2 added to each of its cells:

    >>> effect_size("OR", events1=[0, 10], n1=[20, 50], events2=[4, 12], n2=[20, 48]).round(4)
           yi      vi
    0 -2.4143  2.3316
    1 -0.2877  0.2361
    """
    code = resolve_option("measure", measure, MEASURE_ALIASES)
    family = _FAMILY[code]
    vt = _resolve_vtype(code, vtype)
    to_c = resolve_option("to", to, TO_ALIASES)
    add_v = _check_add(add)
    if data is not None and not isinstance(data, pd.DataFrame):
        raise InputTypeError(f"data must be a pandas DataFrame or None; got {type(data).__name__}")
    named = _canonical_columns(code, columns)
    arrays = _read_columns(named, data)
    k = next(iter(arrays.values())).size
    labels = _labels(slab, data, k)
    used = {n: a for n, a in arrays.items() if not (code == "SMCR" and n == "sd2")}
    drop = missing_mask(used, labels, missing)
    if drop.all():
        raise ValidationError(f"no studies left: all {k} studies have missing values")
    _VALIDATORS[family](code, {n: np.where(drop, _FILL[n], a) for n, a in used.items()}, labels)
    keep = ~drop
    kept = {n: a[keep] for n, a in used.items()}
    if family == "binary":
        yi, vi = _two_by_two(code, **kept, add=add_v, to=to_c, vtype=vt)
        _check_defined(yi, vi, keep, labels, code)
    elif family == "two_group":
        yi, vi = _two_group(code, **kept, vtype=vt)
    else:
        yi, vi = _change(code, **kept, vtype=vt)
    return _assemble(data, keep, yi, vi, {"measure": code, "vtype": vt})


# --------------------------------------------------------------------------------------
# boundary: options, column arguments, labels, checks


def _resolve_vtype(code: str, vtype: Any) -> str:
    vt = resolve_option("vtype", vtype, VTYPE_ALIASES)
    if vt not in VTYPES[code]:
        raise ValidationError(
            f"vtype must be one of {list(VTYPES[code])} for measure {code}; got {vtype!r}"
        )
    return vt


def _check_add(add: Any) -> float:
    if isinstance(add, bool) or not isinstance(add, (int, float, np.integer, np.floating)):
        raise InputTypeError(f"add must be a number such as 0.5; got {add!r}")
    if not (np.isfinite(add) and add >= 0):
        raise ValidationError(f"add must be a non-negative finite number; got {add!r}")
    return float(add)


def _canonical_columns(code: str, columns: Mapping[str, Any]) -> dict[str, Any]:
    """Map metafor aliases to painstats names; reject unexpected, duplicated, missing ones."""
    family = _FAMILY[code]
    required = _REQUIRED[family]
    aliases = _R_NAMES[family]
    out: dict[str, Any] = {}
    for name, value in columns.items():
        if value is None:
            continue
        canon = aliases.get(name, name)
        if canon not in required:
            raise ValidationError(
                f"unexpected argument {name!r} for measure {code}; "
                f"it takes {', '.join(required)}"
            )
        if canon in out:
            raise ValidationError(f"{canon} was given twice (as {canon!r} and its alias)")
        out[canon] = value
    needed = [n for n in required if not (code == "SMCR" and n == "sd2")]
    absent = [n for n in needed if n not in out]
    if absent:
        raise ValidationError(
            f"measure {code} needs {', '.join(needed)}; missing {', '.join(absent)}"
        )
    return {n: out[n] for n in required if n in out}


def _read_columns(named: Mapping[str, Any], data: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """Fetch and convert each column; scalars are repeated; lengths must agree."""
    raw = {n: as_float_column(n, get_column(n, v, data)) for n, v in named.items()}
    if data is not None:
        k = len(data)
        for n, a in raw.items():
            if a.size not in (1, k):
                raise ValidationError(f"{n} has {a.size} values but data has {k} rows")
    else:
        longer = {n: a for n, a in raw.items() if a.size != 1}
        k = check_same_length(**longer) if longer else 1
    if k == 0:
        raise ValidationError("no studies given: the columns are empty")
    return {n: np.full(k, a[0]) if a.size == 1 else a for n, a in raw.items()}


def _labels(slab: Any, data: pd.DataFrame | None, k: int) -> list[str]:
    raw = get_column("slab", slab, data) if slab is not None else None
    if raw is None and data is not None and not isinstance(data.index, pd.RangeIndex):
        raw = data.index
    return study_labels(raw, k)


def _check_counts(name: str, arr: np.ndarray, labels: list[str], minimum: float) -> None:
    check_finite(name, arr, labels)
    check_min(name, arr, labels, minimum)
    check_integer(name, arr, labels)


def _validate_two_group(code: str, a: Mapping[str, np.ndarray], labels: list[str]) -> None:
    for g in ("1", "2"):
        if code == "ROM":
            check_positive("mean" + g, a["mean" + g], labels)
        else:
            check_finite("mean" + g, a["mean" + g], labels)
        check_positive("sd" + g, a["sd" + g], labels)
        _check_counts("n" + g, a["n" + g], labels, 2)


def _validate_binary(code: str, a: Mapping[str, np.ndarray], labels: list[str]) -> None:
    for g in ("1", "2"):
        check_nonnegative("events" + g, a["events" + g], labels)
        check_integer("events" + g, a["events" + g], labels)
        _check_counts("n" + g, a["n" + g], labels, 2)
        check_le("events" + g, a["events" + g], "n" + g, a["n" + g], labels)


def _validate_change(code: str, a: Mapping[str, np.ndarray], labels: list[str]) -> None:
    check_finite("mean1", a["mean1"], labels)
    check_finite("mean2", a["mean2"], labels)
    check_positive("sd1", a["sd1"], labels)
    if code != "SMCR":
        check_positive("sd2", a["sd2"], labels)
    _check_counts("n1", a["n1"], labels, 2 if code == "MC" else 3)
    check_in_range("ri", a["ri"], labels, -1.0, 1.0)
    if code != "SMCR":
        sd_change = np.sqrt(_change_variance(a["sd1"], a["sd2"], a["ri"]))
        bad = ~(sd_change > 0)
        if bad.any():
            raise ValidationError(
                "the SD of the change, sqrt(sd1^2 + sd2^2 - 2*ri*sd1*sd2), must be positive; "
                + describe_rows(bad, sd_change, "sd_change", labels)
            )


_VALIDATORS = {"two_group": _validate_two_group, "binary": _validate_binary,
               "change": _validate_change}


def _check_defined(yi: np.ndarray, vi: np.ndarray, keep: np.ndarray, labels: list[str],
                   code: str) -> None:
    """Log OR/RR of a table with a zero cell is infinite unless cells were corrected."""
    bad = ~(np.isfinite(yi) & np.isfinite(vi))
    if bad.any():
        rows = np.flatnonzero(keep)[bad]
        listed = "; ".join(f"study '{labels[i]}' (row {i + 1})" for i in rows[:5])
        raise ValidationError(
            f"{code} is undefined for tables with a zero cell unless a correction is added; "
            f"{listed} has a zero cell; use to='only0' (the default) with add > 0"
        )


def _assemble(data: pd.DataFrame | None, keep: np.ndarray, yi: np.ndarray, vi: np.ndarray,
              attrs: dict[str, Any]) -> pd.DataFrame:
    rows = np.flatnonzero(keep)
    if data is not None:
        out = data.iloc[rows].copy()
        out["yi"] = yi
        out["vi"] = vi
    else:
        index = pd.RangeIndex(keep.size) if keep.all() else pd.Index(rows)
        out = pd.DataFrame({"yi": yi, "vi": vi}, index=index)
    out.attrs.update(attrs)
    out.attrs["n_dropped"] = int(keep.size - rows.size)
    return out


# --------------------------------------------------------------------------------------
# kernels: NumPy arrays in, (yi, vi) out, no validation


def _hedges_j(m: np.ndarray) -> np.ndarray:
    """Exact small-sample correction J(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2)), m > 1."""
    return np.exp(gammaln(m / 2) - np.log(np.sqrt(m / 2)) - gammaln((m - 1) / 2))


def _wmean(x: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(x * w) / np.sum(w))


def _change_variance(sd1: np.ndarray, sd2: np.ndarray, r: np.ndarray) -> np.ndarray:
    """sd1^2 + sd2^2 - 2 r sd1 sd2, written as a sum of two non-negative terms."""
    return (sd1 - sd2) ** 2 + 2 * (1 - r) * sd1 * sd2


def _two_group(code: str, mean1: np.ndarray, sd1: np.ndarray, n1: np.ndarray,
               mean2: np.ndarray, sd2: np.ndarray, n2: np.ndarray,
               vtype: str) -> tuple[np.ndarray, np.ndarray]:
    """MD, SMD (Hedges' g) and ROM for two independent groups."""
    m = n1 + n2 - 2
    sp2 = ((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / m
    if code == "MD":
        yi = mean1 - mean2
        vi = sp2 * (1 / n1 + 1 / n2) if vtype == "HO" else sd1**2 / n1 + sd2**2 / n2
        return yi, vi
    if code == "SMD":
        j = _hedges_j(m)
        d = (mean1 - mean2) / np.sqrt(sp2)
        yi = j * d
        base = 1 / n1 + 1 / n2
        n = n1 + n2
        vi = {
            "LS": lambda: base + yi**2 / (2 * n),
            "UB": lambda: base + (1 - (m - 2) / (m * j**2)) * yi**2,
            "LS2": lambda: j**2 * (base + d**2 / (2 * n)),
            "AV": lambda: base + _wmean(yi, n) ** 2 / (2 * n),
        }[vtype]()
        return yi, vi
    yi = np.log(mean1 / mean2)
    cv1, cv2 = sd1 / mean1, sd2 / mean2
    vi = {
        "LS": lambda: cv1**2 / n1 + cv2**2 / n2,
        "HO": lambda: sp2 / (n1 * mean1**2) + sp2 / (n2 * mean2**2),
        "AV": lambda: _wmean(cv1, n1) ** 2 / n1 + _wmean(cv2, n2) ** 2 / n2,
        "AVHO": lambda: (
            (np.sum(n1 * cv1) + np.sum(n2 * cv2)) / np.sum(n1 + n2)
        ) ** 2 * (1 / n1 + 1 / n2),
    }[vtype]()
    return yi, vi


def _two_by_two(code: str, events1: np.ndarray, n1: np.ndarray, events2: np.ndarray,
                n2: np.ndarray, *, add: float, to: str,
                vtype: str) -> tuple[np.ndarray, np.ndarray]:
    """Log OR, log RR and RD with metafor's continuity correction of the four cells."""
    a, c = events1, events2
    b, d = n1 - events1, n2 - events2
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    corrected = {"only0": zero, "all": np.ones_like(zero), "if0all": np.full_like(zero, zero.any()),
                 "none": np.zeros_like(zero)}[to]
    a, b, c, d = (x + add * corrected for x in (a, b, c, d))
    n1, n2 = a + b, c + d
    p1, p2 = a / n1, c / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        if code == "OR":
            return np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2)), 1 / a + 1 / b + 1 / c + 1 / d
        if code == "RR":
            return np.log(p1) - np.log(p2), 1 / a - 1 / n1 + 1 / c - 1 / n2
    yi = p1 - p2
    if vtype == "AV":
        q1, q2 = _wmean(p1, n1), _wmean(p2, n2)
        return yi, q1 * (1 - q1) / n1 + q2 * (1 - q2) / n2
    k = 1 if vtype == "UB" else 0
    return yi, p1 * (1 - p1) / (n1 - k) + p2 * (1 - p2) / (n2 - k)


def _change(code: str, mean1: np.ndarray, mean2: np.ndarray, sd1: np.ndarray, n1: np.ndarray,
            ri: np.ndarray, vtype: str,
            sd2: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MC, SMCC and SMCR for one group measured twice (yi = mean1 - mean2)."""
    n = n1
    diff = mean1 - mean2
    if code == "MC":
        return diff, _change_variance(sd1, sd2, ri) / n
    j = _hedges_j(n - 1)
    if code == "SMCC":
        d = diff / np.sqrt(_change_variance(sd1, sd2, ri))
        base = 1 / n
    else:
        d = diff / sd1
        base = 2 * (1 - ri) / n
    yi = j * d
    if vtype == "LS2":
        return yi, j**2 * (base + d**2 / (2 * n))
    return yi, base + yi**2 / (2 * n)
