"""Fail-safe N (metafor ``fsn``): Rosenthal, Orwin and Rosenberg.

References
----------
Rosenthal R (1979). The file drawer problem and tolerance for null results. Psychol Bull
    86:638-641.
Orwin RG (1983). A fail-safe N for effect size in meta-analysis. J Educ Stat 8:157-159.
Rosenberg MS (2005). The file-drawer problem revisited: a general weighted method for
    calculating fail-safe numbers in meta-analysis. Evolution 59:464-468.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from painstats._validation import (
    as_float_column,
    check_finite,
    get_column,
    missing_mask,
    resolve_option,
    study_labels,
)
from painstats.errors import InputTypeError, ValidationError
from painstats.meta._inputs import check_data_frame, read_studies
from painstats.meta._summary import Summary, fmt, fmt_p
from painstats.meta.results import RandomEffectsResult

__all__ = ["FAIL_SAFE_N_METHODS", "FailSafeNResult", "fail_safe_n"]

#: Methods of :func:`fail_safe_n` (metafor ``fsn(type=)``).
FAIL_SAFE_N_METHODS = ("Rosenthal", "Orwin", "Rosenberg")
_FSN_ALIASES = {m.upper(): m for m in FAIL_SAFE_N_METHODS}


def _check_alpha(alpha: Any) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise InputTypeError(f"alpha must be a number in (0, 1); got {alpha!r}")
    if not 0 < float(alpha) < 1:
        raise ValidationError(f"alpha must be in (0, 1); got {alpha!r}")
    return float(alpha)


@dataclass(frozen=True, slots=True)
class FailSafeNResult:
    """Fail-safe N (metafor ``fsn``): unpublished null studies that would overturn the result."""

    n: float  #: fail-safe N, a whole number (rounded up), or inf (Orwin with target 0)
    n_unrounded: float
    method: str  #: "Rosenthal", "Orwin" or "Rosenberg"
    k: int
    alpha: float  #: target significance level (Rosenthal one-sided, Rosenberg two-sided)
    pvalue: float  #: observed significance level (NaN for Orwin)
    mean_effect: float  #: average effect (Orwin, Rosenberg; NaN for Rosenthal)
    target: float  #: target effect (Orwin; NaN otherwise)
    weighted: bool  #: Orwin with the inverse-variance weighted mean

    def to_frame(self) -> pd.DataFrame:
        """One-row table of the printed quantities."""
        return pd.DataFrame([{
            "method": self.method, "n": self.n, "k": self.k, "pvalue": self.pvalue,
            "alpha": self.alpha, "mean_effect": self.mean_effect, "target": self.target,
        }])

    def summary(self) -> Summary:
        """metafor-style print-out."""
        lines = [f"Fail-safe N Calculation Using the {self.method} Approach", ""]
        width = 21 if self.method == "Orwin" else 29
        if self.method in ("Orwin", "Rosenberg"):
            lines.append(f"{'Average Effect Size:':<{width}}{fmt(self.mean_effect)}")
        if self.method == "Orwin":
            lines.append(f"{'Target Effect Size:':<{width}}{fmt(self.target)}")
        else:
            p = fmt_p(self.pvalue).replace("< ", "<")
            lines.append(f"{'Observed Significance Level:':<{width}}{p}")
            lines.append(f"{'Target Significance Level:':<{width}}{self.alpha:g}")
        n = "Inf" if np.isinf(self.n) else f"{self.n:.0f}"
        lines += ["", f"Fail-safe N: {n}"]
        return Summary("\n".join(lines))

    def __str__(self) -> str:
        return str(self.summary())


def _round_up(x: float) -> float:
    """metafor's rounding of fail-safe N: up, unless within sqrt(eps) of a whole number."""
    if math.isinf(x) or abs(x - round(x)) < math.sqrt(np.finfo(float).eps):
        return float(np.round(x))
    return float(math.ceil(x))


def _read_fsn_data(yi, vi, data, missing, needs_vi: bool):
    if isinstance(yi, RandomEffectsResult):
        if vi is not None or data is not None:
            raise ValidationError("fail_safe_n(res) takes the studies of the fitted model; "
                                  "do not pass vi or data with it")
        return yi.yi, yi.vi
    if vi is not None:
        s = read_studies(yi, vi, data=data, missing=missing)
        return s.yi, s.vi
    if needs_vi:
        return None, None
    data = check_data_frame(data)
    y = as_float_column("yi", get_column("yi", yi, data))
    labels = study_labels(None, y.size)
    keep = ~missing_mask({"yi": y}, labels, missing)
    y = y[keep]
    if y.size == 0:
        raise ValidationError("no studies left to analyse")
    check_finite("yi", y, [lab for lab, kp in zip(labels, keep) if kp])
    return y, None


def fail_safe_n(
    yi: Any | RandomEffectsResult,
    vi: Any = None,
    *,
    method: str = "Rosenthal",
    target: float | None = None,
    alpha: float = 0.05,
    weighted: bool = False,
    data: pd.DataFrame | None = None,
    missing: str = "raise",
) -> FailSafeNResult:
    """Fail-safe N, as metafor ``fsn``: the number of unpublished studies averaging a null
    effect that would be needed to overturn the conclusion.

    Parameters
    ----------
    yi, vi : str or array_like
        Effect sizes and sampling variances (column names of ``data`` or arrays). ``vi``
        may be omitted for the unweighted Orwin method. ``yi`` may also be a fitted
        RandomEffectsResult (without ``vi``), whose studies are then used.
    method : {"Rosenthal", "Orwin", "Rosenberg"}, default "Rosenthal"
        ``"Rosenthal"``: Stouffer's combined z = |sum z_i|/sqrt(k) with z_i = y_i/sqrt(v_i);
        N = k (z/z_{1-alpha})^2 - k, one-sided. ``"Orwin"``: N = k (m - target)/target for
        the mean effect m (unweighted unless ``weighted=True``). ``"Rosenberg"``: the
        number of studies that makes the weighted common-effect estimate non-significant at
        two-sided ``alpha``, N = k ((sum w_i y_i / z_{1-alpha/2})^2 - sum w_i) / sum w_i.
    target : float, optional
        Orwin's target effect; default half the mean effect (so that N = k). Its sign is
        flipped to that of the mean effect, as in metafor; a target of 0 gives N = inf.
    alpha : float, default 0.05
        Target significance level (Rosenthal and Rosenberg).
    weighted : bool, default False
        Orwin only: use the inverse-variance weighted mean (needs ``vi``).
    data : DataFrame, optional
        Table holding the columns.
    missing : {"raise", "drop"}
        Studies with NaN raise or are dropped.

    Returns
    -------
    FailSafeNResult
        ``n`` (rounded up unless within 1.5e-8 of a whole number, as metafor) and the
        printed quantities: observed ``pvalue`` (Rosenthal one-sided, Rosenberg two-sided),
        ``mean_effect``, ``target``.

    Raises
    ------
    ValidationError
        Unknown method; ``vi`` missing where needed; non-positive variances; alpha outside
        (0, 1); a target or weighting with a method that does not use it.

    References
    ----------
    Rosenthal R (1979). The file drawer problem and tolerance for null results. Psychol
    Bull 86:638-641.
    Orwin RG (1983). A fail-safe N for effect size in meta-analysis. J Educ Stat 8:157-159.
    Rosenberg MS (2005). The file-drawer problem revisited: a general weighted method for
    calculating fail-safe numbers in meta-analysis. Evolution 59:464-468.

    Examples
    --------
    >>> from painstats import datasets
    >>> from painstats.meta.fail_safe_n import fail_safe_n
    >>> d = datasets.load("lawlor2001")
    >>> fail_safe_n("smd", "varsmd", data=d).n
    268.0
    >>> fail_safe_n("smd", data=d, method="Orwin").n
    10.0
    """
    method = resolve_option("method", method, _FSN_ALIASES)
    alpha = _check_alpha(alpha)
    if not isinstance(weighted, (bool, np.bool_)):
        raise InputTypeError(f"weighted must be True or False; got {weighted!r}")
    if method != "Orwin" and (target is not None or weighted):
        raise ValidationError(
            f"target and weighted apply to method='Orwin' only; got method={method!r} with "
            f"target={target!r}, weighted={weighted!r}"
        )
    needs_vi = method != "Orwin" or bool(weighted)
    y, v = _read_fsn_data(yi, vi, data, missing, needs_vi)
    if y is None:
        what = "weighted=True" if method == "Orwin" else f"method={method!r}"
        raise ValidationError(f"vi (sampling variances) is required for {what}")
    k = int(y.size)
    nan = float("nan")
    if method == "Rosenthal":
        z_avg = abs(np.sum(y / np.sqrt(v))) / math.sqrt(k)
        raw = max(0.0, k * (z_avg / special.ndtri(1 - alpha)) ** 2 - k)
        return FailSafeNResult(_round_up(raw), raw, method, k, alpha, float(special.ndtr(-z_avg)),
                               nan, nan, False)
    if method == "Rosenberg":
        w = 1.0 / v
        mean = float(np.sum(w * y) / np.sum(w))
        zval = mean * math.sqrt(np.sum(w))
        wp = (np.sum(w * y) / special.ndtri(1 - alpha / 2)) ** 2 - np.sum(w)
        raw = max(0.0, float(k * wp / np.sum(w)))
        return FailSafeNResult(_round_up(raw), raw, method, k, alpha,
                               float(2 * special.ndtr(-abs(zval))), mean, nan, False)
    mean = float(np.sum(y / v) / np.sum(1.0 / v)) if weighted else float(np.mean(y))
    tgt = mean / 2 if target is None else _check_target(target)
    if tgt == 0:
        raw = float("inf")
    else:
        if np.sign(tgt) != np.sign(mean):
            tgt = -tgt
        raw = max(0.0, k * (mean - tgt) / tgt)
    return FailSafeNResult(_round_up(raw), raw, method, k, alpha, nan, mean, tgt, bool(weighted))


def _check_target(target: Any) -> float:
    if isinstance(target, bool) or not isinstance(target, (int, float, np.integer, np.floating)):
        raise InputTypeError(f"target must be a number; got {target!r}")
    if not np.isfinite(target):
        raise ValidationError(f"target must be finite; got {target!r}")
    return float(target)
