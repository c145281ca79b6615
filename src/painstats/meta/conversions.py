"""Converters from what trials report to the means and SDs that effect sizes need.

- :func:`fivenum_to_mean_sd`: mean and SD from the median with the range and/or the
  interquartile range (metafor's ``conv.fivenum``, default method).
- :func:`se_to_sd`, :func:`ci_to_sd`: SD of a group from the standard error or the
  confidence interval of its mean (Cochrane Handbook 6.5.2.2).
- :func:`change_sd`, :func:`correlation_from_sds`: SD of the change from baseline from the
  baseline and final SDs and their correlation, and the correlation implied by reported
  SDs (Cochrane Handbook 6.5.2.8).

Every converter is vectorised: numbers or 1-D array-likes in (broadcast against each
other), NumPy arrays out (a float when every input was a scalar).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from painstats._validation import (
    as_float_column,
    check_finite,
    check_in_range,
    check_integer,
    check_level,
    check_min,
    check_positive,
    describe_rows,
    resolve_option,
    study_labels,
)
from painstats.errors import InputTypeError, PainstatsWarning, ValidationError

__all__ = [
    "fivenum_to_mean_sd",
    "se_to_sd",
    "ci_to_sd",
    "change_sd",
    "correlation_from_sds",
    "FIVENUM_METHODS",
    "FIVENUM_METHOD_ALIASES",
    "CI_DISTS",
    "CI_DIST_ALIASES",
    "MISSING_OPTIONS",
]

#: Methods of :func:`fivenum_to_mean_sd`; "default" is metafor's "luo/wan/shi".
FIVENUM_METHODS = ("default", "wan2014")
FIVENUM_METHOD_ALIASES = {"DEFAULT": "default", "LUO/WAN/SHI": "default", "WAN2014": "wan2014"}

#: Reference distributions of :func:`ci_to_sd`.
CI_DISTS = ("t", "z")
CI_DIST_ALIASES = {"T": "t", "Z": "z", "NORM": "z", "NORMAL": "z"}

#: What the converters do with missing (NaN) inputs.
MISSING_OPTIONS = ("raise", "propagate")
_MISSING_ALIASES = {m.upper(): m for m in MISSING_OPTIONS}

_QUANTILES = ("min", "q1", "median", "q3", "max")


# --------------------------------------------------------------------------------------
# shared input handling


def _read(
    values: dict[str, Any], missing: str, nan_names: tuple[str, ...] | None = None
) -> tuple[dict[str, np.ndarray], list[str], np.ndarray, bool]:
    """Broadcast named inputs to 1-D float arrays; rows with NaN are flagged, or raise.

    Only NaNs in ``nan_names`` (default: every input) count as missing values.
    """
    how = resolve_option("missing", missing, _MISSING_ALIASES)
    scalar = all(np.ndim(v) == 0 for v in values.values())
    arrays = {n: as_float_column(n, v) for n, v in values.items()}
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        listed = ", ".join(f"{n} has {a.size}" for n, a in arrays.items())
        raise ValidationError(f"arguments must have one value per row (or one value); {listed}")
    arrays = {n: np.broadcast_to(a, shape).copy() for n, a in arrays.items()}
    labels = study_labels(None, shape[0])
    nan = np.zeros(shape, dtype=bool)
    for name in values if nan_names is None else nan_names:
        arr = arrays[name]
        isn = np.isnan(arr)
        if isn.any() and how == "raise":
            raise ValidationError(
                "missing values: " + describe_rows(isn, arr, name, labels)
                + " (pass missing='propagate' to return NaN for those rows)"
            )
        nan |= isn
    return arrays, labels, nan, scalar


def _fill(arr: np.ndarray, nan: np.ndarray, value: float) -> np.ndarray:
    """Rows with missing inputs get a harmless stand-in so the range checks skip them."""
    return np.where(nan, value, arr)


def _check_n(n: np.ndarray, labels: list[str], minimum: float) -> None:
    check_finite("n", n, labels)
    check_min("n", n, labels, minimum)
    check_integer("n", n, labels)


def _out(result: np.ndarray, nan: np.ndarray, scalar: bool) -> np.ndarray | float:
    result = np.where(nan, np.nan, result)
    return float(result[0]) if scalar else result


# --------------------------------------------------------------------------------------
# SE, CI and change-from-baseline SDs


def se_to_sd(se: Any, n: Any, *, missing: str = "raise") -> np.ndarray | float:
    r"""Standard deviation of a group from the standard error of its mean.

    :math:`SD = SE \sqrt{n}` (Cochrane Handbook, section 6.5.2.2).

    Parameters
    ----------
    se : float or array-like
        Standard errors of the group means; positive.
    n : int or array-like
        Group sizes; whole numbers, at least 2.
    missing : {"raise", "propagate"}
        A NaN input raises, or, with ``"propagate"``, gives NaN in that row.

    Returns
    -------
    numpy.ndarray or float
        The SDs (a float if every input is a scalar).

    Raises
    ------
    ValidationError
        A non-positive SE, a group size below 2 or not whole, mismatched lengths, a NaN.

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (eds). Chapter 6, section 6.5.2.2. In: Cochrane
       Handbook for Systematic Reviews of Interventions, version 6.4. Cochrane; 2023.

    Examples
    --------
    >>> from painstats.meta.conversions import se_to_sd
    >>> se_to_sd(1.5, 36)
    9.0
    >>> se_to_sd([1.5, 2.0], [36, 25])
    array([ 9., 10.])
    """
    a, labels, nan, scalar = _read({"se": se, "n": n}, missing)
    check_positive("se", _fill(a["se"], nan, 1.0), labels)
    _check_n(_fill(a["n"], nan, 2.0), labels, 2)
    return _out(a["se"] * np.sqrt(a["n"]), nan, scalar)


def ci_to_sd(
    ci_low: Any,
    ci_high: Any,
    n: Any,
    level: float = 0.95,
    dist: str = "t",
    *,
    missing: str = "raise",
) -> np.ndarray | float:
    r"""Standard deviation of a group from a confidence interval of its mean.

    :math:`SD = \sqrt{n}\,(\text{upper} - \text{lower}) / (2 q)` with :math:`q` the
    :math:`1 - (1 - \text{level})/2` quantile of Student's t on :math:`n - 1` degrees of
    freedom (``dist="t"``, as the Cochrane Handbook advises for small samples) or of the
    standard normal (``dist="z"``; :math:`2q = 3.92` at 95%).

    Parameters
    ----------
    ci_low, ci_high : float or array-like
        Lower and upper confidence limits of the mean (``ci_high > ci_low``).
    n : int or array-like
        Group sizes; whole numbers, at least 2.
    level : float
        Confidence level: 0.95 or 95.
    dist : {"t", "z"}
        Reference distribution (``"norm"`` and ``"normal"`` are accepted for ``"z"``).
    missing : {"raise", "propagate"}
        A NaN input raises, or, with ``"propagate"``, gives NaN in that row.

    Returns
    -------
    numpy.ndarray or float
        The SDs (a float if every input is a scalar).

    Raises
    ------
    ValidationError
        Limits not finite or not increasing, a group size below 2 or not whole, an invalid
        level or dist, mismatched lengths, a NaN.

    Notes
    -----
    This is for the interval of one group's mean. For the interval of a difference between
    two means, see section 6.5.2.3 of the Handbook.

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (eds). Chapter 6, section 6.5.2.2. In: Cochrane
       Handbook for Systematic Reviews of Interventions, version 6.4. Cochrane; 2023.

    Examples
    --------
    >>> from painstats.meta.conversions import ci_to_sd
    >>> round(ci_to_sd(30.0, 41.5, n=60, dist="z"), 4)
    22.7246
    >>> ci_to_sd([30.0, 1.2], [41.5, 3.4], n=[60, 8]).round(4)
    array([22.2586,  1.3158])
    """
    lv = check_level(level)
    how = resolve_option("dist", dist, CI_DIST_ALIASES)
    a, labels, nan, scalar = _read({"ci_low": ci_low, "ci_high": ci_high, "n": n}, missing)
    low, high = _fill(a["ci_low"], nan, 0.0), _fill(a["ci_high"], nan, 1.0)
    check_finite("ci_low", low, labels)
    check_finite("ci_high", high, labels)
    bad = ~(high > low)
    if bad.any():
        raise ValidationError(
            "ci_high must be greater than ci_low; " + describe_rows(bad, high, "ci_high", labels)
        )
    nn = _fill(a["n"], nan, 2.0)
    _check_n(nn, labels, 2)
    p = 1 - (1 - lv) / 2
    q = special.stdtrit(nn - 1, p) if how == "t" else np.full(nn.shape, special.ndtri(p))
    return _out(np.sqrt(nn) * (high - low) / (2 * q), nan, scalar)


def change_sd(sd_baseline: Any, sd_final: Any, r: Any, *,
              missing: str = "raise") -> np.ndarray | float:
    r"""Standard deviation of the change from baseline.

    :math:`SD_{change} = \sqrt{SD_b^2 + SD_f^2 - 2 r\,SD_b SD_f}` (Cochrane Handbook,
    section 6.5.2.8), computed as :math:`\sqrt{(SD_b - SD_f)^2 + 2(1 - r) SD_b SD_f}` so
    that rounding cannot make it negative.

    Parameters
    ----------
    sd_baseline, sd_final : float or array-like
        SDs at baseline and at the final measurement; positive.
    r : float or array-like
        Correlation between baseline and final values, in [-1, 1]; often imputed from a
        trial that reports all three SDs (see :func:`correlation_from_sds`).
    missing : {"raise", "propagate"}
        A NaN input raises, or, with ``"propagate"``, gives NaN in that row.

    Returns
    -------
    numpy.ndarray or float
        The SDs of the change (a float if every input is a scalar).

    Raises
    ------
    ValidationError
        A non-positive SD, a correlation outside [-1, 1], mismatched lengths, a NaN.

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (eds). Chapter 6, section 6.5.2.8. In: Cochrane
       Handbook for Systematic Reviews of Interventions, version 6.4. Cochrane; 2023.

    Examples
    --------
    >>> from painstats.meta.conversions import change_sd
    >>> round(change_sd(18.0, 20.0, 0.5), 4)
    19.0788
    """
    a, labels, nan, scalar = _read({"sd_baseline": sd_baseline, "sd_final": sd_final, "r": r},
                                   missing)
    sb, sf = _fill(a["sd_baseline"], nan, 1.0), _fill(a["sd_final"], nan, 1.0)
    check_positive("sd_baseline", sb, labels)
    check_positive("sd_final", sf, labels)
    rr = _fill(a["r"], nan, 0.0)
    check_in_range("r", rr, labels, -1.0, 1.0)
    return _out(np.sqrt((sb - sf) ** 2 + 2 * (1 - rr) * sb * sf), nan, scalar)


def correlation_from_sds(sd_baseline: Any, sd_final: Any, sd_change: Any, *,
                         missing: str = "raise") -> np.ndarray | float:
    r"""Correlation between baseline and final values implied by three reported SDs.

    :math:`r = (SD_b^2 + SD_f^2 - SD_{change}^2) / (2\,SD_b SD_f)` (Cochrane Handbook,
    section 6.5.2.8): computed from a trial that reports all three SDs, then imputed in
    :func:`change_sd` for trials that do not.

    Parameters
    ----------
    sd_baseline, sd_final : float or array-like
        SDs at baseline and at the final measurement; positive.
    sd_change : float or array-like
        SD of the change from baseline; non-negative.
    missing : {"raise", "propagate"}
        A NaN input raises, or, with ``"propagate"``, gives NaN in that row.

    Returns
    -------
    numpy.ndarray or float
        The correlations (a float if every input is a scalar).

    Raises
    ------
    ValidationError
        A non-positive SD; three SDs that no correlation can produce (``sd_change``
        outside ``[|SD_b - SD_f|, SD_b + SD_f]``, so that :math:`|r| > 1`; a value beyond
        1 by at most 1e-12, from rounding, is returned as exactly -1 or 1); mismatched
        lengths; a NaN.

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (eds). Chapter 6, section 6.5.2.8. In: Cochrane
       Handbook for Systematic Reviews of Interventions, version 6.4. Cochrane; 2023.

    Examples
    --------
    >>> from painstats.meta.conversions import correlation_from_sds
    >>> round(correlation_from_sds(18.0, 20.0, 19.0788), 4)
    0.5
    """
    values = {"sd_baseline": sd_baseline, "sd_final": sd_final, "sd_change": sd_change}
    a, labels, nan, scalar = _read(values, missing)
    sb, sf = _fill(a["sd_baseline"], nan, 1.0), _fill(a["sd_final"], nan, 1.0)
    sc = _fill(a["sd_change"], nan, 1.0)
    check_positive("sd_baseline", sb, labels)
    check_positive("sd_final", sf, labels)
    check_finite("sd_change", sc, labels)
    check_min("sd_change", sc, labels, 0.0)
    r = (sb**2 + sf**2 - sc**2) / (2 * sb * sf)
    bad = np.abs(r) > 1 + 1e-12
    if bad.any():
        raise ValidationError(
            "sd_change must lie between |sd_baseline - sd_final| and sd_baseline + sd_final "
            "(otherwise the implied correlation is outside [-1, 1]); "
            + describe_rows(bad, r, "implied r", labels)
        )
    return _out(np.clip(r, -1.0, 1.0), nan, scalar)


# --------------------------------------------------------------------------------------
# five-number summaries


def fivenum_to_mean_sd(
    *,
    n: Any,
    min: Any = None,  # noqa: A002 - the statistic's name, as in metafor
    q1: Any = None,
    median: Any = None,
    q3: Any = None,
    max: Any = None,  # noqa: A002
    method: str = "default",
    skew_test: bool = True,
    missing: str = "raise",
) -> pd.DataFrame:
    r"""Estimate means and SDs from medians with ranges and/or interquartile ranges.

    Each row is one of three scenarios, decided by which values it has (NaN = not reported):
    S1 min, median, max; S2 q1, median, q3; S3 all five. With ``method="default"``
    (metafor's ``conv.fivenum`` default, ``"luo/wan/shi"``) the mean is Luo et al.'s
    (2018) weighted estimator for each scenario; the SD is Wan et al.'s (2014) estimator
    in S1 (range) and S2 (IQR), and Shi et al.'s (2020) in S3:

    - S1: :math:`w = 4/(4 + n^{0.75})`, mean :math:`= w(a + b)/2 + (1 - w)m`,
      SD :math:`= (b - a)/\xi`, :math:`\xi = 2\Phi^{-1}((n - 0.375)/(n + 0.25))`.
    - S2: :math:`w = 0.7 + 0.39/n`, mean :math:`= w(q_1 + q_3)/2 + (1 - w)m`,
      SD :math:`= (q_3 - q_1)/\eta`, :math:`\eta = 2\Phi^{-1}((0.75n - 0.125)/(n + 0.25))`.
    - S3: :math:`w_1 = 2.2/(2.2 + n^{0.75})`, :math:`w_2 = 0.7 - 0.72/n^{0.55}`, mean
      :math:`= w_1(a + b)/2 + w_2(q_1 + q_3)/2 + (1 - w_1 - w_2)m`; SD :math:`=
      w(b - a)/\xi + (1 - w)(q_3 - q_1)/\eta` with :math:`w = 1/(1 + 0.07 n^{0.6})`.

    ``method="wan2014"`` uses Wan et al.'s means, :math:`(a + 2m + b)/4`,
    :math:`(q_1 + m + q_3)/3` and :math:`(a + 2q_1 + 2m + 2q_3 + b)/8`, and in S3 the SD
    :math:`((b - a)/\xi + (q_3 - q_1)/\eta)/2`.

    Parameters
    ----------
    n : int or array-like
        Sample sizes; whole numbers, at least 5 (the methods' requirement).
    min, q1, median, q3, max : float or array-like, optional
        The reported quantiles; omit an argument (or use NaN in a row) when not reported.
        Without a median the SD can still be estimated, but the mean is NaN.
    method : {"default", "wan2014"}
        ``"luo/wan/shi"`` is accepted for ``"default"``.
    skew_test : bool
        Shi et al.'s (2023) test of skewness is always reported. If True (as metafor's
        ``test=TRUE``), rows where it is significant get NaN mean and SD and a
        :class:`~painstats.errors.PainstatsWarning` names them: the estimators assume
        normal data. If False, they are estimated anyway.
    missing : {"raise", "propagate"}
        A row with a NaN ``n``, or whose quantiles match no scenario, raises; with
        ``"propagate"`` it gets NaN mean and SD.

    Returns
    -------
    pandas.DataFrame
        One row per input row, with columns ``mean``, ``sd``, ``scenario`` ("S1", "S2",
        "S3", or missing for a row with no scenario), ``skew_statistic``,
        ``skew_critical`` (both NaN where the test cannot be computed) and ``skewed``
        (bool).

    Raises
    ------
    ValidationError
        ``n`` below 5 or not whole; quantiles not in order ``min <= q1 <= median <= q3 <=
        max``; a row matching no scenario (unless ``missing="propagate"``); no quantile
        given; mismatched lengths; an unknown method.

    Warns
    -----
    PainstatsWarning
        When ``skew_test`` is True and the test is significant for some rows.

    Notes
    -----
    Matches metafor 4.0+ ``conv.fivenum(..., method=..., test=...)`` with ``dist="norm"``.
    Deliberate differences: metafor returns NA for rows with n < 5, which raise here; the
    log-normal option and the estmeansd/metaBLUE methods are not provided. SDs estimated
    this way are less precise than reported SDs, which the effect-size variances do not
    reflect; treat such studies in a sensitivity analysis.

    References
    ----------
    .. [1] Luo D, Wan X, Liu J, Tong T. Optimally estimating the sample mean from the sample
       size, median, mid-range, and/or mid-quartile range. Stat Methods Med Res.
       2018;27(6):1785-1805.
    .. [2] Wan X, Wang W, Liu J, Tong T. Estimating the sample mean and standard deviation
       from the sample size, median, range and/or interquartile range. BMC Med Res
       Methodol. 2014;14:135.
    .. [3] Shi J, Luo D, Weng H, et al. Optimally estimating the sample standard deviation
       from the five-number summary. Res Synth Methods. 2020;11(5):641-654.
    .. [4] Shi J, Luo D, Wan X, et al. Detecting the skewness of data from the five-number
       summary and its application in meta-analysis. Stat Methods Med Res.
       2023;32(7):1338-1360.
    .. [5] Higgins JPT, Li T, Deeks JJ (eds). Chapter 6, section 6.5.2.5. In: Cochrane
       Handbook for Systematic Reviews of Interventions, version 6.4. Cochrane; 2023.

    Examples
    --------
    metafor's example: the three scenarios for samples of 20.

    >>> import numpy as np
    >>> from painstats.meta.conversions import fivenum_to_mean_sd
    >>> est = fivenum_to_mean_sd(n=20, min=[2, np.nan, 2], q1=[np.nan, 4, 4], median=6,
    ...                          q3=[np.nan, 10, 10], max=[14, np.nan, 14])
    >>> print(est[["scenario", "mean", "sd", "skewed"]].round(4).to_string())
      scenario    mean      sd  skewed
    0       S1  6.5945  3.2116   False
    1       S2  6.7195  4.7871   False
    2       S3  6.9388  3.6794   False
    """
    code = resolve_option("method", method, FIVENUM_METHOD_ALIASES)
    if not isinstance(skew_test, (bool, np.bool_)):
        raise InputTypeError(f"skew_test must be True or False; got {skew_test!r}")
    given = {"min": min, "q1": q1, "median": median, "q3": q3, "max": max}
    if all(v is None for v in given.values()):
        raise ValidationError("give the reported quantiles: min, q1, median, q3 and/or max")
    values = {"n": n, **{k: (np.nan if v is None else v) for k, v in given.items()}}
    a, labels, missing_rows, _ = _read(values, missing, nan_names=("n",))
    scenario = _scenarios(a, labels, missing_rows, missing)
    _check_fivenum(a, labels, scenario)
    est = _fivenum_kernel(code, a, scenario)
    skewed = np.asarray(est["skewed"])
    if skew_test and skewed.any():
        warnings.warn(
            "the test of skewness (Shi et al. 2023) is significant for "
            + "; ".join(f"row {i + 1}" for i in np.flatnonzero(skewed)[:10])
            + "; their mean and sd are NaN (pass skew_test=False to estimate them anyway)",
            PainstatsWarning,
            stacklevel=2,
        )
        est["mean"] = np.where(skewed, np.nan, est["mean"])
        est["sd"] = np.where(skewed, np.nan, est["sd"])
    names = np.array(["", "S1", "S2", "S3"], dtype=object)
    return pd.DataFrame({
        "mean": est["mean"], "sd": est["sd"],
        "scenario": np.where(scenario > 0, names[scenario], None),
        "skew_statistic": est["stat"], "skew_critical": est["crit"], "skewed": skewed,
    })


def _scenarios(a: dict[str, np.ndarray], labels: list[str], missing_rows: np.ndarray,
               missing: str) -> np.ndarray:
    """0 (none), 1 (min, max), 2 (q1, q3) or 3 (all four), per row."""
    has = {k: ~np.isnan(a[k]) for k in ("min", "q1", "q3", "max")}
    s1 = has["min"] & has["max"] & ~has["q1"] & ~has["q3"]
    s2 = has["q1"] & has["q3"] & ~has["min"] & ~has["max"]
    s3 = has["min"] & has["max"] & has["q1"] & has["q3"]
    scenario = np.select([s1, s2, s3], [1, 2, 3], default=0)
    scenario[missing_rows] = 0
    bad = (scenario == 0) & ~missing_rows
    if bad.any() and resolve_option("missing", missing, _MISSING_ALIASES) == "raise":
        rows = "; ".join(f"row {i + 1}" for i in np.flatnonzero(bad)[:5])
        raise ValidationError(
            "each row needs min and max, q1 and q3, or all four (with n and the median for "
            f"the mean); {rows} has none of these combinations "
            "(pass missing='propagate' to return NaN for such rows)"
        )
    return scenario


def _check_fivenum(a: dict[str, np.ndarray], labels: list[str], scenario: np.ndarray) -> None:
    used = scenario > 0
    _check_n(np.where(used, a["n"], 5.0), labels, 5)
    for name in _QUANTILES:
        vals = np.where(used & ~np.isnan(a[name]), a[name], 0.0)
        check_finite(name, vals, labels)
    stacked = np.vstack([a[q] for q in _QUANTILES])
    order_bad = np.zeros(stacked.shape[1], dtype=bool)
    for i in range(len(_QUANTILES)):
        for j in range(i + 1, len(_QUANTILES)):
            with np.errstate(invalid="ignore"):
                order_bad |= stacked[i] > stacked[j]
    order_bad &= used
    if order_bad.any():
        rows = "; ".join(
            f"row {i + 1} has " + ", ".join(f"{q}={a[q][i]:g}" for q in _QUANTILES
                                            if not np.isnan(a[q][i]))
            for i in np.flatnonzero(order_bad)[:5]
        )
        raise ValidationError(f"quantiles must satisfy min <= q1 <= median <= q3 <= max; {rows}")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num/den, NaN where den == 0 (as R's 0/0), without a floating-point warning."""
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _fivenum_kernel(code: str, a: dict[str, np.ndarray],
                    scenario: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, SD and skewness test for every row at once; rows of scenario 0 give NaN."""
    n, lo, q1, m, q3, hi = (a[k] for k in ("n",) + _QUANTILES)
    nn = np.where(scenario > 0, n, 5.0)
    xi = 2 * special.ndtri((nn - 0.375) / (nn + 0.25))
    eta = 2 * special.ndtri((0.75 * nn - 0.125) / (nn + 0.25))
    t_range = np.abs(_ratio(lo + hi - 2 * m, hi - lo))
    t_iqr = np.abs(_ratio(q1 + q3 - 2 * m, q3 - q1))
    stat = [t_range, t_iqr, np.maximum(2.65 * np.log(0.6 * nn) / np.sqrt(nn) * t_range, t_iqr)]
    crit = [1 / np.log(nn + 9) + 2.5 / (nn + 1), 2.65 / np.sqrt(nn) - 6 / nn**2,
            3 / np.sqrt(nn) - 40 / nn**3]
    if code == "default":
        w1, w2 = 4 / (4 + nn**0.75), 0.7 + 0.39 / nn
        v1, v2 = 2.2 / (2.2 + nn**0.75), 0.7 - 0.72 / nn**0.55
        means = [w1 * (lo + hi) / 2 + (1 - w1) * m, w2 * (q1 + q3) / 2 + (1 - w2) * m,
                 v1 * (lo + hi) / 2 + v2 * (q1 + q3) / 2 + (1 - v1 - v2) * m]
        w3 = 1 / (1 + 0.07 * nn**0.6)
    else:
        means = [(lo + 2 * m + hi) / 4, (q1 + m + q3) / 3,
                 (lo + 2 * q1 + 2 * m + 2 * q3 + hi) / 8]
        w3 = np.full(nn.shape, 0.5)
    sds = [(hi - lo) / xi, (q3 - q1) / eta, w3 * (hi - lo) / xi + (1 - w3) * (q3 - q1) / eta]
    conds = [scenario == s for s in (1, 2, 3)]
    out = {
        "mean": np.select(conds, means, default=np.nan),
        "sd": np.select(conds, sds, default=np.nan),
        "stat": np.select(conds, stat, default=np.nan),
        "crit": np.select(conds, crit, default=np.nan),
    }
    with np.errstate(invalid="ignore"):
        out["skewed"] = np.asarray(out["stat"] >= out["crit"]) & (scenario > 0)
    return out
