"""Many meta-analyses at once: ``random_effects_batch`` and ``random_effects_by``.

Both call the same batch kernel as :func:`painstats.meta.random_effects`, so every number is
identical to fitting the analyses one by one, at a fraction of the cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from painstats._validation import check_level
from painstats.errors import InputTypeError, ValidationError
from painstats.meta._inputs import check_data_frame, read_studies
from painstats.meta._kernels.fit import RMAFit, fit_rma
from painstats.meta.options import resolve_method, resolve_test

__all__ = ["BatchResult", "random_effects_batch", "random_effects_by", "pad_groups"]

#: Fields of BatchResult, in the order of ``to_frame()`` columns.
BATCH_FIELDS = ("k", "estimate", "se", "statistic", "pvalue", "ci_low", "ci_high", "pi_low",
                "pi_high", "tau2", "tau2_se", "i2", "h2", "q", "q_pvalue")


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Results of many random-effects meta-analyses: 1-D arrays, one entry per analysis."""

    k: np.ndarray
    estimate: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    pi_low: np.ndarray
    pi_high: np.ndarray
    tau2: np.ndarray
    tau2_se: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    q: np.ndarray
    q_pvalue: np.ndarray
    method: str
    test: str
    level: float

    def to_frame(self) -> pd.DataFrame:
        """One row per analysis."""
        return pd.DataFrame({f: getattr(self, f) for f in BATCH_FIELDS})


def batch_from_fit(fit: RMAFit, method: str, test: str, level: float) -> BatchResult:
    """Collect the per-analysis scalars of a batch fit (intercept-only model)."""
    est = fit.beta[..., 0]
    se = fit.se[..., 0]
    if method == "FE":
        pi_low = pi_high = np.full(est.shape, np.nan)
    else:
        half = fit.crit * np.sqrt(se**2 + fit.tau2)
        pi_low, pi_high = est - half, est + half
    arrays = dict(
        k=fit.k.astype(int), estimate=est, se=se, statistic=fit.statistic[..., 0],
        pvalue=fit.pvalue[..., 0], ci_low=fit.ci_low[..., 0], ci_high=fit.ci_high[..., 0],
        pi_low=pi_low, pi_high=pi_high, tau2=fit.tau2, tau2_se=fit.tau2_se, i2=fit.i2,
        h2=fit.h2, q=fit.q, q_pvalue=fit.q_pvalue,
    )
    for a in arrays.values():
        a.setflags(write=False)
    return BatchResult(**arrays, method=method, test=test, level=level)


def _check_batch(yi: Any, vi: Any, mask: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        y = np.asarray(yi, dtype=float)
        v = np.asarray(vi, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"yi and vi must be numeric 2-D arrays: {exc}") from exc
    if y.ndim != 2 or y.shape != v.shape:
        raise ValidationError(
            f"yi and vi must be 2-D arrays of the same shape (n_analyses, k_max); "
            f"got {y.shape} and {v.shape}"
        )
    m = np.ones(y.shape, bool) if mask is None else np.asarray(mask)
    if m.shape != y.shape or m.dtype != bool:
        raise ValidationError(f"mask must be a boolean array of shape {y.shape}")
    for name, arr, ok in (("yi", y, np.isfinite(y)), ("vi", v, np.isfinite(v) & (v > 0))):
        bad = m & ~ok
        if bad.any():
            r, c = np.argwhere(bad)[0]
            what = "finite" if name == "yi" else "positive and finite"
            raise ValidationError(
                f"{name} must be {what} where mask is True; analysis {r} (row {r}), "
                f"study {c} (column {c}) has {name}={arr[r, c]:g} "
                f"({int(bad.sum())} such entries in all)"
            )
    return y, v, m


def random_effects_batch(
    yi: Any,
    vi: Any,
    *,
    mask: Any = None,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
) -> BatchResult:
    """Fit many random-effects meta-analyses in one vectorised call.

    Parameters
    ----------
    yi, vi : array_like, shape (n_analyses, k_max)
        Effect sizes and sampling variances, padded to a common width.
    mask : array_like of bool, shape (n_analyses, k_max), optional
        True for real studies; padded entries (False) are ignored whatever their values.
    method, test, level
        As :func:`painstats.meta.random_effects`.

    Returns
    -------
    BatchResult
        1-D arrays ``estimate, se, ci_low, ci_high, pi_low, pi_high, tau2, i2, q, k`` ...,
        identical to fitting each row with :func:`random_effects`.

    Examples
    --------
    >>> import numpy as np
    >>> from painstats.meta import random_effects_batch
    >>> yi = np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.0]])
    >>> vi = np.full((2, 3), 0.04)
    >>> res = random_effects_batch(yi, vi, mask=np.array([[True] * 3, [True, True, False]]))
    >>> res.k.tolist(), np.round(res.estimate, 3).tolist()
    ([3, 2], [0.3, 0.3])
    """
    method = resolve_method(method)
    test = resolve_test(test)
    level = check_level(level)
    y, v, m = _check_batch(yi, vi, mask)
    k = m.sum(axis=1)
    if method != "FE" and np.any(k < 2):
        r = int(np.flatnonzero(k < 2)[0])
        raise ValidationError(
            f"every random-effects analysis needs at least 2 studies; analysis {r} has k={k[r]}"
        )
    return batch_from_fit(fit_rma(y, v, m, method=method, test=test, level=level),
                          method, test, level)


def pad_groups(codes: np.ndarray, n_groups: int, *columns: np.ndarray):
    """Lay out long data as (n_groups, k_max) arrays plus a mask, in input order per group."""
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    counts = np.bincount(codes, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(codes.size) - starts[sorted_codes]
    kmax = int(counts.max()) if counts.size else 0
    mask = np.zeros((n_groups, kmax), bool)
    mask[sorted_codes, pos] = True
    out = []
    for col in columns:
        a = np.zeros((n_groups, kmax))
        a[sorted_codes, pos] = col[order]
        out.append(a)
    return mask, out


def random_effects_by(
    data: pd.DataFrame,
    *,
    by: str,
    yi: str = "yi",
    vi: str = "vi",
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    missing: str = "raise",
) -> pd.DataFrame:
    """One random-effects meta-analysis per group of a long table, in one batch call.

    Returns a DataFrame indexed by the group labels (sorted), with the columns of
    :class:`BatchResult`. Groups with a single study raise (use method="FE").

    Examples
    --------
    >>> import pandas as pd
    >>> from painstats.meta import random_effects_by
    >>> df = pd.DataFrame({"review": ["a", "a", "a", "b", "b"],
    ...                    "yi": [0.1, 0.3, 0.5, 0.2, 0.4], "vi": [0.04] * 5})
    >>> random_effects_by(df, by="review", method="DL")["estimate"].round(3).tolist()
    [0.3, 0.3]
    """
    data = check_data_frame(data)
    if data is None:
        raise InputTypeError("random_effects_by needs data=DataFrame")
    if by not in data.columns:
        raise ValidationError(f"by={by!r} is not a column of data; columns are {list(data.columns)}")
    groups = data[by]
    if groups.isna().any():
        row = int(np.flatnonzero(groups.isna().to_numpy())[0])
        raise ValidationError(f"{by} has a missing group label in row {row + 1}")
    studies = read_studies(yi, vi, data=data, missing=missing)
    labels, codes = np.unique(groups.to_numpy()[studies.keep], return_inverse=True)
    mask, (y, v) = pad_groups(codes, labels.size, studies.yi, studies.vi)
    try:
        res = random_effects_batch(y, v, mask=mask, method=method, test=test, level=level)
    except ValidationError as exc:
        if "at least 2 studies" in str(exc):
            small = labels[mask.sum(axis=1) < 2].tolist()
            raise ValidationError(
                f"groups of {by} with fewer than 2 studies cannot be fitted with a "
                f"random-effects model: {small}"
            ) from exc
        raise
    out = res.to_frame()
    out.index = pd.Index(labels, name=by)
    return out
