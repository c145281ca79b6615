"""Reading and validating (yi, vi) study data at the public boundary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from painstats._validation import (
    RangeLabels,
    as_float_column,
    check_finite,
    check_positive,
    check_same_length,
    get_column,
    missing_mask,
    study_labels,
)
from painstats.errors import InputTypeError, ValidationError

__all__ = ["StudyData", "read_studies", "check_data_frame"]


@dataclass(frozen=True, slots=True)
class StudyData:
    """Validated effect sizes, variances and labels, after any requested dropping."""

    yi: np.ndarray
    vi: np.ndarray
    labels: Sequence[str]  #: a tuple, or RangeLabels for the default '1'..'k'
    keep: np.ndarray  # boolean, over the input rows
    n_dropped: int


def check_data_frame(data: Any) -> pd.DataFrame | None:
    """``data`` must be None or a pandas DataFrame."""
    if data is None or isinstance(data, pd.DataFrame):
        return data
    raise InputTypeError(f"data must be a pandas DataFrame or None; got {type(data).__name__}")


def read_studies(
    yi: Any,
    vi: Any,
    *,
    data: pd.DataFrame | None,
    slab: Any = None,
    missing: str = "raise",
    extra: dict[str, np.ndarray] | None = None,
) -> StudyData:
    """Validate yi and vi (finite effect sizes, positive finite variances) and labels.

    ``extra`` columns (e.g. moderators) take part in the missing-value check only.
    """
    data = check_data_frame(data)
    y = as_float_column("yi", get_column("yi", yi, data))
    v = as_float_column("vi", get_column("vi", vi, data))
    check_same_length(yi=y, vi=v)
    raw_slab = get_column("slab", slab, data) if slab is not None else None
    if raw_slab is None and data is not None and not isinstance(data.index, pd.RangeIndex):
        raw_slab = data.index
    labels = study_labels(raw_slab, y.size)
    if not extra and missing in ("raise", "drop") and _clean(y, v):  # the common case, fast
        kept = labels if isinstance(labels, RangeLabels) else tuple(labels)
        return StudyData(_ro(y), _ro(v), kept, np.ones(y.size, dtype=bool), 0)
    cols = {"yi": y, "vi": v, **(extra or {})}
    drop = missing_mask(cols, labels, missing)
    keep = ~drop
    if drop.any():
        y, v = y[keep], v[keep]
        labels_kept = tuple(lab for lab, kp in zip(labels, keep) if kp)
    else:
        labels_kept = labels if isinstance(labels, RangeLabels) else tuple(labels)
    check_finite("yi", y, labels_kept)
    check_positive("vi", v, labels_kept)
    if y.size == 0:
        raise ValidationError("no studies left to analyse")
    return StudyData(_ro(y), _ro(v), labels_kept, keep, int(drop.sum()))


def _clean(y: np.ndarray, v: np.ndarray) -> bool:
    """True when there is nothing to report: every y finite, every v positive and finite.

    A finite sum means no NaN or infinity (a sum that overflows only sends the data through
    the full checks, which then accept it); False sends them through the checks that name
    the offending studies.
    """
    return bool(y.size and np.isfinite(np.add.reduce(y)) and np.isfinite(np.add.reduce(v))
                and np.minimum.reduce(v) > 0)


def _ro(a: np.ndarray) -> np.ndarray:
    """Freeze a float array that read_studies made (as_float_column always copies)."""
    a.setflags(write=False)
    return a
