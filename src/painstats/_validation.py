"""Input validation shared by every public function (the one boundary helper module).

Every check raises a :class:`~painstats.errors.ValidationError` (or
:class:`~painstats.errors.InputTypeError`) whose message names the argument or column,
the offending studies by label and row, and what was expected, e.g.
``sd1 must be positive; study 'Bronfort 2011' (row 3) has sd1=-18``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from painstats.errors import InputTypeError, ValidationError

__all__ = [
    "RangeLabels",
    "resolve_option",
    "study_labels",
    "describe_rows",
    "as_float_column",
    "get_column",
    "check_positive",
    "check_nonnegative",
    "check_finite",
    "check_min",
    "check_integer",
    "check_le",
    "check_in_range",
    "check_same_length",
    "missing_mask",
    "check_level",
    "check_cut_points",
    "check_count",
]

_MAX_LISTED = 5


def resolve_option(name: str, value: Any, aliases: Mapping[str, str]) -> str:
    """Map a user spelling of an option to its canonical name (case-insensitive).

    ``aliases`` maps every accepted spelling (upper-cased) to the canonical value.
    """
    if not isinstance(value, str):
        raise InputTypeError(
            f"{name} must be a string, one of {sorted(set(aliases.values()))}; "
            f"got {type(value).__name__} {value!r}"
        )
    key = value.strip().upper()
    if key not in aliases:
        allowed = sorted(set(aliases))
        raise ValidationError(f"{name} must be one of {allowed}; got {value!r}")
    return aliases[key]


class RangeLabels(Sequence):
    """The default study labels ``'1'..'k'`` (as metafor), made on demand.

    A million-study fit should not spend most of its time writing a million strings.
    """

    __slots__ = ("_k",)

    def __init__(self, k: int):
        self._k = int(k)

    def __len__(self) -> int:
        return self._k

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [str(j + 1) for j in range(*i.indices(self._k))]
        if i < 0:
            i += self._k
        if not 0 <= i < self._k:
            raise IndexError(i)
        return str(i + 1)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RangeLabels):
            return self._k == other._k
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(("RangeLabels", self._k))

    def __repr__(self) -> str:
        return f"RangeLabels({self._k})"


def study_labels(labels: Any, k: int) -> Sequence[str]:
    """Return printable study labels; default ``'1'..'k'`` as metafor does."""
    if labels is None:
        return RangeLabels(k)
    out = [str(x) for x in labels]
    if len(out) != k:
        raise ValidationError(f"slab must have one label per study ({k}); got {len(out)}")
    return out


def describe_rows(bad: np.ndarray, values: np.ndarray, name: str, labels: Sequence[str]) -> str:
    """Describe offending rows: ``study 'A' (row 3) has sd1=-18; study 'B' (row 5) ...``.

    Rows are 1-based, as a person counts them (and as R prints them).
    """
    idx = np.flatnonzero(bad)
    parts = []
    for i in idx[:_MAX_LISTED]:
        val = values[i]
        shown = "NaN" if isinstance(val, float) and np.isnan(val) else f"{val:g}" if isinstance(
            val, (float, np.floating, int, np.integer)
        ) else repr(val)
        parts.append(f"study '{labels[i]}' (row {i + 1}) has {name}={shown}")
    more = "" if idx.size <= _MAX_LISTED else f"; and {idx.size - _MAX_LISTED} more"
    return "; ".join(parts) + more


def get_column(name: str, value: Any, data: pd.DataFrame | None) -> Any:
    """Fetch argument ``name``: a column name of ``data``, or the array-like itself."""
    if data is not None:
        if isinstance(value, str):
            if value not in data.columns:
                raise ValidationError(
                    f"{name}={value!r} is not a column of data; columns are {list(data.columns)}"
                )
            return data[value].to_numpy()
        if np.ndim(value) == 0 and value is not None and not isinstance(value, str):
            return value
        return value
    if isinstance(value, str):
        raise InputTypeError(
            f"{name}={value!r} is a column name, but no data was given; pass data=DataFrame "
            "or an array of numbers"
        )
    return value


def as_float_column(name: str, value: Any, *, k: int | None = None) -> np.ndarray:
    """Convert a column to a 1-D float array, naming the argument on failure."""
    if value is None:
        raise ValidationError(f"{name} is required")
    if isinstance(value, pd.Series):
        value = value.to_numpy()
    arr = np.asarray(value)
    if arr.dtype == bool:
        raise InputTypeError(f"{name} must be numeric; got booleans")
    if arr.dtype.kind in "OUS":
        converted = pd.to_numeric(pd.Series(arr.ravel()), errors="coerce").to_numpy(float)
        bad = pd.isna(converted) & ~pd.isna(pd.Series(arr.ravel())).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputTypeError(
                f"{name} must be numeric; row {i + 1} holds '{arr.ravel()[i]}'"
            )
        arr = converted.reshape(arr.shape)
    elif arr.dtype.kind not in "biuf":
        raise InputTypeError(f"{name} must be numeric; got dtype {arr.dtype}")
    arr = np.atleast_1d(arr.astype(float))
    if arr.ndim != 1:
        raise ValidationError(f"{name} must be one-dimensional; got shape {arr.shape}")
    if k is not None and arr.size == 1 and k != 1:
        arr = np.full(k, arr[0])
    if k is not None and arr.size != k:
        raise ValidationError(f"{name} has {arr.size} values but {k} studies were given")
    return arr


def check_same_length(**arrays: np.ndarray) -> int:
    """All arrays must have one entry per study; return that number."""
    lengths = {n: np.asarray(a).shape[0] for n, a in arrays.items() if a is not None}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{n} has {m}" for n, m in lengths.items())
        raise ValidationError(f"arguments must have one value per study; {listed}")
    return next(iter(lengths.values()))


def missing_mask(columns: Mapping[str, np.ndarray], labels: Sequence[str], missing: str) -> np.ndarray:
    """Rows with NaN in any column: raise (``missing='raise'``) or return the rows to drop."""
    if missing not in ("raise", "drop"):
        raise ValidationError(f"missing must be 'raise' or 'drop'; got {missing!r}")
    k = len(labels)
    nan = np.zeros(k, dtype=bool)
    first: dict[int, str] = {}
    for name, arr in columns.items():
        isn = np.isnan(arr)
        if not isn.any():
            continue
        for i in np.flatnonzero(isn & ~nan):
            first[int(i)] = name
        nan |= isn
    if nan.any() and missing == "raise":
        idx = np.flatnonzero(nan)
        parts = [f"study '{labels[i]}' (row {i + 1}) has {first[int(i)]}=NaN" for i in idx[:_MAX_LISTED]]
        more = "" if idx.size <= _MAX_LISTED else f"; and {idx.size - _MAX_LISTED} more"
        raise ValidationError(
            "missing values: " + "; ".join(parts) + more + " (pass missing='drop' to drop them)"
        )
    return nan


def _check(cond_bad: np.ndarray, name: str, arr: np.ndarray, labels: Sequence[str], what: str) -> None:
    if np.any(cond_bad):
        raise ValidationError(f"{name} must be {what}; " + describe_rows(cond_bad, arr, name, labels))


def check_positive(name: str, arr: np.ndarray, labels: Sequence[str]) -> None:
    """Every value must be finite and > 0."""
    _check(~(np.isfinite(arr) & (arr > 0)), name, arr, labels, "positive and finite")


def check_nonnegative(name: str, arr: np.ndarray, labels: Sequence[str]) -> None:
    """Every value must be finite and >= 0."""
    _check(~(np.isfinite(arr) & (arr >= 0)), name, arr, labels, "non-negative and finite")


def check_finite(name: str, arr: np.ndarray, labels: Sequence[str]) -> None:
    """Every value must be finite."""
    _check(~np.isfinite(arr), name, arr, labels, "finite")


def check_min(name: str, arr: np.ndarray, labels: Sequence[str], minimum: float) -> None:
    """Every value must be >= minimum (e.g. n >= 2)."""
    _check(~(arr >= minimum), name, arr, labels, f"at least {minimum:g}")


def check_integer(name: str, arr: np.ndarray, labels: Sequence[str]) -> None:
    """Every value must be a whole number (counts)."""
    _check(~np.isclose(arr, np.round(arr), rtol=0, atol=1e-8), name, arr, labels, "a whole number")


def check_le(name: str, arr: np.ndarray, other_name: str, other: np.ndarray, labels: Sequence[str]) -> None:
    """``arr <= other`` elementwise (e.g. events1 <= n1)."""
    bad = ~(arr <= other)
    if np.any(bad):
        idx = np.flatnonzero(bad)
        parts = [
            f"study '{labels[i]}' (row {i + 1}) has {name}={arr[i]:g} > {other_name}={other[i]:g}"
            for i in idx[:_MAX_LISTED]
        ]
        raise ValidationError(f"{name} must not exceed {other_name}; " + "; ".join(parts))


def check_in_range(name: str, arr: np.ndarray, labels: Sequence[str], low: float, high: float) -> None:
    """Every value must lie in the closed interval [low, high] (e.g. correlations)."""
    _check(~((arr >= low) & (arr <= high)), name, arr, labels, f"between {low:g} and {high:g}")


def check_level(level: Any) -> float:
    """Confidence level: a proportion in (0, 1) or a percentage in (1, 100) as metafor accepts."""
    if isinstance(level, bool) or not isinstance(level, (int, float, np.integer, np.floating)):
        raise InputTypeError(f"level must be a number such as 0.95 or 95; got {level!r}")
    lv = float(level)
    if 1 < lv < 100:
        lv /= 100.0
    if not 0 < lv < 1:
        raise ValidationError(f"level must be in (0, 1) or a percentage in (1, 100); got {level!r}")
    return lv


def check_cut_points(name: str, value: Any) -> tuple[float, ...]:
    """Cut points of p-value intervals: strictly increasing numbers in (0, 1).

    A scalar is one cut point. A trailing 1 (the upper end of the last interval, as R
    metafor users write ``steps=c(0.025, 1)``) is accepted and dropped.
    """
    if isinstance(value, (str, bytes, bool)):
        raise InputTypeError(f"{name} must be a number or a sequence of numbers in (0, 1); got {value!r}")
    try:
        arr = np.atleast_1d(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        raise InputTypeError(
            f"{name} must be a number or a sequence of numbers in (0, 1); got {value!r}"
        ) from None
    if arr.ndim != 1:
        raise ValidationError(f"{name} must be one-dimensional; got shape {arr.shape}")
    if arr.size and arr[-1] == 1.0:
        arr = arr[:-1]
    if arr.size == 0:
        raise ValidationError(f"{name} needs at least one cut point in (0, 1); got {value!r}")
    if not np.all(np.isfinite(arr) & (arr > 0) & (arr < 1)):
        raise ValidationError(f"{name} must lie strictly between 0 and 1; got {arr.tolist()}")
    if np.any(np.diff(arr) <= 0):
        raise ValidationError(f"{name} must be strictly increasing; got {arr.tolist()}")
    return tuple(float(x) for x in arr)


def check_count(name: str, value: Any, minimum: int) -> int:
    """A whole number >= minimum (e.g. a number of permutations)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, np.floating)):
        raise InputTypeError(f"{name} must be a whole number >= {minimum}; got {value!r}")
    if not (np.isfinite(value) and float(value) == int(value)):
        raise ValidationError(f"{name} must be a whole number >= {minimum}; got {value!r}")
    if int(value) < minimum:
        raise ValidationError(f"{name} must be at least {minimum}; got {value!r}")
    return int(value)
