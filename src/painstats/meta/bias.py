"""Small-study effects and publication bias: ``egger_test``, ``rank_correlation_test`` and
``pet_peese`` (fail-safe N is in :mod:`painstats.meta.fail_safe_n`).

Each test reads a fitted :class:`~painstats.meta.RandomEffectsResult` (``fail_safe_n`` reads
effect sizes) and refits what it needs with the batch kernel
:func:`painstats.meta._kernels.fit.fit_rma`. Numbers match metafor 3.8 ``regtest``,
``ranktest`` and ``fsn`` (see ``validation/metafor/bias.R``); trim-and-fill lives in
:mod:`painstats.meta.trim_and_fill`.

References
----------
Begg CB, Mazumdar M (1994). Operating characteristics of a rank correlation test for
    publication bias. Biometrics 50:1088-1101.
Egger M, Davey Smith G, Schneider M, Minder C (1997). Bias in meta-analysis detected by a
    simple, graphical test. BMJ 315:629-634.
Orwin RG (1983). A fail-safe N for effect size in meta-analysis. J Educ Stat 8:157-159.
Rosenberg MS (2005). The file-drawer problem revisited: a general weighted method for
    calculating fail-safe numbers in meta-analysis. Evolution 59:464-468.
Rosenthal R (1979). The file drawer problem and tolerance for null results. Psychol Bull
    86:638-641.
Stanley TD, Doucouliagos H (2014). Meta-regression approximations to reduce publication
    selection bias. Res Synth Methods 5:60-78.
Sterne JAC, Egger M (2005). Regression methods to detect publication and other bias in
    meta-analysis. In Rothstein HR, Sutton AJ, Borenstein M (eds), Publication Bias in
    Meta-Analysis: Prevention, Assessment and Adjustments. Wiley, pp 99-110.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula
from scipy import special

from painstats._validation import (
    as_float_column,
    check_positive,
    resolve_option,
)
from painstats.errors import InputTypeError, ValidationError
from painstats.meta._kernels.fit import RMAFit, fit_rma
from painstats.meta._summary import Summary, fmt, fmt_p, p_eq, table
from painstats.meta.results import TIDY_COLUMNS, RandomEffectsResult
from painstats.meta.results_regression import MetaRegressionResult, moderator_test, pseudo_r2

__all__ = [
    "EGGER_MODELS",
    "EGGER_PREDICTORS",
    "PET_PEESE_ALTERNATIVES",
    "EggerTestResult",
    "PetPeeseResult",
    "RankCorrelationResult",
    "egger_test",
    "pet_peese",
    "rank_correlation_test",
]

#: Regression models of :func:`egger_test` (metafor ``regtest(model=)``).
EGGER_MODELS = ("rma", "lm")
#: Predictors of :func:`egger_test` (metafor ``regtest(predictor=)``); the last four need ``ni``.
EGGER_PREDICTORS = ("sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv")
#: Alternatives of the PET test that selects PET or PEESE in :func:`pet_peese`.
PET_PEESE_ALTERNATIVES = ("two-sided", "greater", "less")

_MODEL_ALIASES = {"RMA": "rma", "LM": "lm", "WLS": "lm"}
_PREDICTOR_ALIASES = {p.upper(): p for p in EGGER_PREDICTORS} | {"SE": "sei", "VARIANCE": "vi"}
_ALTERNATIVE_ALIASES = {a.upper(): a for a in PET_PEESE_ALTERNATIVES} | {"TWO.SIDED": "two-sided"}
_N_PREDICTORS = ("ni", "ninv", "sqrtni", "sqrtninv")
#: predictors whose intercept is the effect of an infinitely large study (metafor's limit estimate)
_LIMIT_PREDICTORS = {"sei": "sei -> 0", "vi": "vi -> 0", "ninv": "ni -> inf",
                     "sqrtninv": "ni -> inf"}
_PREDICTOR_TEXT = {
    "sei": "standard error", "vi": "sampling variance", "ni": "sample size",
    "ninv": "inverse of the sample size", "sqrtni": "square root sample size",
    "sqrtninv": "inverse of the square root sample size",
}


# ---------------------------------------------------------------------------------------
# shared input checks


def intercept_only_model(res: Any, what: str) -> RandomEffectsResult:
    """``res`` must be an intercept-only fit (a RandomEffectsResult)."""
    if isinstance(res, MetaRegressionResult):
        raise ValidationError(
            f"{what} needs an intercept-only model (a RandomEffectsResult from random_effects); "
            f"got a meta-regression ({res.formula!r})"
        )
    if not isinstance(res, RandomEffectsResult):
        raise InputTypeError(
            f"{what} needs a RandomEffectsResult from random_effects; got {type(res).__name__}"
        )
    return res


def _check_min_k(res: RandomEffectsResult, what: str, minimum: int, why: str) -> None:
    if res.k < minimum:
        raise ValidationError(f"{what} needs at least {minimum} studies ({why}); got k={res.k}")


def _reg_fit(res: RandomEffectsResult, x: np.ndarray, name: str, *, method: str,
             test: str) -> tuple[MetaRegressionResult, RMAFit]:
    """Fit yi ~ 1 + x (one kernel call) and wrap it in a MetaRegressionResult."""
    frame = pd.DataFrame({"yi": res.yi, name: x})
    formula = f"yi ~ {name}"
    matrices = Formula(formula).get_model_matrix(frame)
    X = np.asarray(matrices.rhs, dtype=float)
    terms = list(matrices.rhs.columns)
    fit = fit_rma(res.yi, res.vi, X=X, method=method, test=test, level=res.level)
    qm, qm_df, qm_p = moderator_test(fit, terms, test)
    coef = pd.DataFrame(
        {"estimate": fit.beta, "se": fit.se, "statistic": fit.statistic, "pvalue": fit.pvalue,
         "ci_low": fit.ci_low, "ci_high": fit.ci_high},
        index=pd.Index(terms, name="term"),
    )
    reg = MetaRegressionResult(
        formula=formula, coef=coef, vcov=fit.vcov, tau2=float(fit.tau2),
        tau2_se=float(fit.tau2_se), i2=float(fit.i2), h2=float(fit.h2),
        r2=pseudo_r2(fit, X, res, method), qm=qm, qm_df=qm_df, qm_pvalue=qm_p,
        qe=float(fit.q), qe_df=int(fit.q_df), qe_pvalue=float(fit.q_pvalue), k=int(fit.k),
        df=float(fit.df), crit=float(fit.crit), method=method, test=test, level=res.level,
        labels=res.labels, n_dropped=res.n_dropped, model_spec=matrices.rhs.model_spec,
        X=X, yi=res.yi, vi=res.vi,
    )
    return reg, fit


def _read_ni(ni: Any, res: RandomEffectsResult, predictor: str) -> np.ndarray:
    if ni is None:
        raise ValidationError(
            f"predictor={predictor!r} needs the studies' sample sizes; pass ni=array with one "
            f"value per study ({res.k})"
        )
    arr = as_float_column("ni", ni)
    if arr.size != res.k:
        extra = (f" ({res.n_dropped} studies with missing values were dropped from the model; "
                 "pass ni for the studies in the model)") if res.n_dropped else ""
        raise ValidationError(
            f"ni has {arr.size} values but the model has k={res.k} studies{extra}")
    check_positive("ni", arr, res.labels)
    return arr


def _predictor_values(predictor: str, res: RandomEffectsResult, ni: Any) -> np.ndarray:
    if predictor == "sei":
        return np.sqrt(res.vi)
    if predictor == "vi":
        return np.asarray(res.vi, dtype=float)
    n = _read_ni(ni, res, predictor)
    return {"ni": n, "ninv": 1.0 / n, "sqrtni": np.sqrt(n), "sqrtninv": 1.0 / np.sqrt(n)}[predictor]


def _check_not_constant(x: np.ndarray, name: str, what: str) -> None:
    if np.ptp(x) == 0:
        raise ValidationError(
            f"{what}: the predictor {name} is the same for every study ({x[0]:g}), so it cannot "
            "be separated from the intercept"
        )


# ---------------------------------------------------------------------------------------
# Egger's regression test


@dataclass(frozen=True, slots=True)
class EggerTestResult:
    """Regression test for funnel-plot asymmetry (metafor ``regtest``)."""

    statistic: float  #: z or t statistic of the predictor's coefficient
    pvalue: float
    df: float  #: t degrees of freedom (k - 2); inf for a z test
    limit_estimate: float  #: intercept = effect as the predictor -> 0 (NaN for ni, sqrtni)
    limit_se: float
    limit_ci_low: float
    limit_ci_high: float
    slope: float  #: the predictor's coefficient
    slope_se: float
    model: str  #: "rma" or "lm"
    predictor: str
    method: str  #: tau^2 estimator of the regression ("FE" for model "lm")
    test: str  #: "z", "t" or "hksj" ("hksj" = multiplicative dispersion for model "lm")
    level: float
    k: int
    fit: MetaRegressionResult = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """Tidy table of the regression: the intercept and the predictor's slope."""
        return self.fit.to_frame()

    def summary(self) -> Summary:
        """metafor-style print-out."""
        if self.model == "lm":
            kind = "weighted regression with multiplicative dispersion"
        else:
            effects = "fixed-effects" if self.method == "FE" else "mixed-effects"
            kind = f"{effects} meta-regression model"
        lines = ["Regression Test for Funnel Plot Asymmetry", "",
                 f"Model:     {kind}", f"Predictor: {_PREDICTOR_TEXT[self.predictor]}", ""]
        if np.isfinite(self.df):
            stat = f"t = {fmt(self.statistic)}, df = {self.df:g}"
        else:
            stat = f"z = {fmt(self.statistic)}"
        lines.append(f"Test for Funnel Plot Asymmetry: {stat}, p {p_eq(self.pvalue)}")
        if self.predictor in _LIMIT_PREDICTORS:
            lab = f"Limit Estimate (as {_LIMIT_PREDICTORS[self.predictor]}):"
            lines.append(f"{lab:<32}b = {fmt(self.limit_estimate)} "
                         f"(CI: {fmt(self.limit_ci_low)}, {fmt(self.limit_ci_high)})")
        return Summary("\n".join(lines))

    def __str__(self) -> str:
        return str(self.summary())


def egger_test(
    res: RandomEffectsResult,
    *,
    model: str = "rma",
    predictor: str = "sei",
    ni: Any = None,
) -> EggerTestResult:
    """Egger's regression test for funnel-plot asymmetry, as metafor ``regtest``.

    Regresses the effect sizes on a measure of their precision and tests the slope.

    Parameters
    ----------
    res : RandomEffectsResult
        The fitted model (``random_effects``); its studies, estimator, test and level are used.
    model : {"rma", "lm"}, default "rma"
        ``"rma"``: the meta-regression ``rma(yi, vi, mods=~predictor)`` with the same tau^2
        estimator and test as ``res`` (z, or t with k - 2 df under ``"t"``/``"hksj"``).
        ``"lm"``: the classic test of Egger et al. (1997), the weighted regression
        ``lm(yi ~ predictor, weights=1/vi)`` with multiplicative dispersion and t on k - 2 df
        (it does not depend on the estimator); computed as the common-effect meta-regression
        with the Knapp-Hartung rescaling, which is the same model.
    predictor : str, default "sei"
        ``"sei"`` (standard error), ``"vi"`` (variance), ``"ni"`` (sample size), ``"ninv"``
        (1/ni), ``"sqrtni"`` (sqrt(ni)) or ``"sqrtninv"`` (1/sqrt(ni)).
    ni : array_like, optional
        Sample sizes of the studies in ``res`` (in the same order), needed by the n-based
        predictors.

    Returns
    -------
    EggerTestResult
        ``statistic``, ``pvalue`` and ``df`` of the slope; ``limit_estimate`` (the
        intercept: the effect expected in an infinitely precise study, for predictors sei,
        vi, ninv and sqrtninv; NaN otherwise) with ``limit_se`` and CI at the model's
        level; ``slope``; and the regression itself as ``fit`` (a MetaRegressionResult).

    Raises
    ------
    ValidationError
        Fewer than 3 studies, a meta-regression as ``res``, an unknown model or predictor,
        an n-based predictor without ``ni`` (or with the wrong length), or a predictor that
        is the same for every study.

    Notes
    -----
    Only intercept-only models are accepted (metafor also adds the predictor to a
    meta-regression's moderators). See Sterne & Egger (2005) for the choice of predictor.

    References
    ----------
    Egger M, Davey Smith G, Schneider M, Minder C (1997). BMJ 315:629-634.
    Sterne JAC, Egger M (2005). Regression methods to detect publication and other bias in
    meta-analysis. In Publication Bias in Meta-Analysis. Wiley, pp 99-110.

    Examples
    --------
    >>> from painstats import datasets
    >>> from painstats.meta import effect_size, random_effects
    >>> from painstats.meta.bias import egger_test
    >>> es = effect_size("MD", data=datasets.load("rubinstein2019"), mean1="mean_smt",
    ...                  sd1="sd_smt", n1="n_smt", mean2="mean_ctrl", sd2="sd_ctrl", n2="n_ctrl")
    >>> res = random_effects("yi", "vi", data=es)
    >>> eg = egger_test(res)
    >>> round(eg.statistic, 4), round(eg.pvalue, 4)
    (0.7777, 0.4368)
    >>> round(egger_test(res, model="lm").df)
    21
    """
    res = intercept_only_model(res, "egger_test")
    model = resolve_option("model", model, _MODEL_ALIASES)
    predictor = resolve_option("predictor", predictor, _PREDICTOR_ALIASES)
    _check_min_k(res, "egger_test", 3, "two coefficients and at least 1 residual df")
    x = _predictor_values(predictor, res, ni)
    _check_not_constant(x, predictor, "egger_test")
    if model == "rma":
        method, test = res.method, res.test
    else:
        method, test = "FE", "hksj"
    reg, fit = _reg_fit(res, x, predictor, method=method, test=test)
    limit = predictor in _LIMIT_PREDICTORS
    nan = float("nan")
    return EggerTestResult(
        statistic=float(fit.statistic[1]), pvalue=float(fit.pvalue[1]), df=float(fit.df),
        limit_estimate=float(fit.beta[0]) if limit else nan,
        limit_se=float(fit.se[0]) if limit else nan,
        limit_ci_low=float(fit.ci_low[0]) if limit else nan,
        limit_ci_high=float(fit.ci_high[0]) if limit else nan,
        slope=float(fit.beta[1]), slope_se=float(fit.se[1]), model=model, predictor=predictor,
        method=method, test=test, level=res.level, k=res.k, fit=reg,
    )


# ---------------------------------------------------------------------------------------
# Begg and Mazumdar's rank correlation test


@dataclass(frozen=True, slots=True)
class RankCorrelationResult:
    """Rank correlation test for funnel-plot asymmetry (metafor ``ranktest``)."""

    statistic: float  #: Kendall's tau-b between standardised effects and variances
    pvalue: float  #: two-sided; exact without ties, normal approximation with ties
    exact: bool  #: whether the p-value is exact (no ties)
    score: int  #: Kendall's S (concordant minus discordant pairs)
    z: float  #: S / sd(S) with the tie correction (the statistic of the approximation)
    k: int

    def to_frame(self) -> pd.DataFrame:
        """Tidy one-row table (term ``kendall_tau``; the statistic column holds z)."""
        nan = float("nan")
        return pd.DataFrame(
            [["kendall_tau", self.statistic, nan, self.z, nan, self.pvalue, nan, nan]],
            columns=TIDY_COLUMNS,
        )

    def summary(self) -> Summary:
        """metafor-style print-out."""
        how = ("exact p-value" if self.exact else
               f"normal approximation (ties): z = {fmt(self.z)}")
        return Summary("\n".join([
            "Rank Correlation Test for Funnel Plot Asymmetry", "",
            f"Kendall's tau = {fmt(self.statistic)}, p {p_eq(self.pvalue)}",
            f"(k = {self.k}; {how})",
        ]))

    def __str__(self) -> str:
        return str(self.summary())


def kendall_score(x: np.ndarray, y: np.ndarray) -> tuple[int, float, np.ndarray, np.ndarray]:
    """Kendall's S, tau-b and the tie-group sizes of x and y (O(k^2) time, O(k) memory per row)."""
    s = 0
    for i in range(x.size - 1):
        s += int(np.sum(np.sign(x[i + 1:] - x[i]) * np.sign(y[i + 1:] - y[i])))
    tx = np.unique(x, return_counts=True)[1]
    ty = np.unique(y, return_counts=True)[1]
    n0 = x.size * (x.size - 1) / 2
    n1 = float(np.sum(tx * (tx - 1)) / 2)
    n2 = float(np.sum(ty * (ty - 1)) / 2)
    denom = math.sqrt((n0 - n1) * (n0 - n2))
    return s, (s / denom if denom > 0 else float("nan")), tx, ty


def kendall_lower_tail(n: int, q: int) -> float:
    """P(T <= q) for T the number of discordant pairs among n untied pairs (exact).

    T has the distribution of the number of inversions of a random permutation of n
    (Mahonian numbers). The probabilities are built up one element at a time,
    P_i(j) = (1/i) sum_{t<i} P_{i-1}(j - t), keeping only j <= q: O(n q) time, and the
    lower tail stays accurate to a few ulps (no cancellation), unlike summing n! counts
    (R's pkendall, which overflows for n > 170).
    """
    total = n * (n - 1) // 2
    if q < 0:
        return 0.0
    if q >= total:
        return 1.0
    p = np.zeros(q + 1)
    p[0] = 1.0
    j = np.arange(q + 1)
    for i in range(2, n + 1):
        c = np.concatenate(([0.0], np.cumsum(p)))
        p = (c[j + 1] - c[np.maximum(j - i + 1, 0)]) / i
    return float(np.sum(p))


def _kendall_normal_p(s: int, n: int, tx: np.ndarray, ty: np.ndarray) -> tuple[float, float]:
    """z and two-sided p of Kendall's S with the tie-corrected variance (as R's cor.test)."""
    v0 = n * (n - 1) * (2 * n + 5)
    vt = np.sum(tx * (tx - 1) * (2 * tx + 5))
    vu = np.sum(ty * (ty - 1) * (2 * ty + 5))
    v1 = np.sum(tx * (tx - 1)) * np.sum(ty * (ty - 1))
    v2 = np.sum(tx * (tx - 1) * (tx - 2)) * np.sum(ty * (ty - 1) * (ty - 2))
    # v2 > 0 needs a tie of three in both x and y, hence n >= 3
    var_s = ((v0 - vt - vu) / 18 + v1 / (2 * n * (n - 1))
             + (v2 / (9 * n * (n - 1) * (n - 2)) if v2 else 0.0))
    z = s / math.sqrt(var_s)
    return z, float(2.0 * special.ndtr(-abs(z)))


def rank_correlation_test(res: RandomEffectsResult) -> RankCorrelationResult:
    """Begg and Mazumdar's rank correlation test for funnel-plot asymmetry, as metafor ``ranktest``.

    The effects are standardised with the common-effect (FE) estimate whatever the model,
    y*_i = (y_i - theta_FE) / sqrt(v_i - 1/sum(w)), and Kendall's tau-b between y* and v_i
    is tested. Without ties the p-value is exact (metafor passes ``exact=TRUE``, also for
    k >= 50); with ties it is the normal approximation with the tie-corrected variance.

    Parameters
    ----------
    res : RandomEffectsResult
        The fitted model; only its studies (yi, vi) are used.

    Returns
    -------
    RankCorrelationResult
        ``statistic`` (Kendall's tau-b), two-sided ``pvalue``, ``exact``, Kendall's
        ``score`` S and the normal statistic ``z``.

    Raises
    ------
    ValidationError
        Fewer than 2 studies, a meta-regression as ``res``, or all variances equal
        (Kendall's tau is then undefined).

    Notes
    -----
    The exact null distribution is computed without factorials, so it is exact for any k;
    R's ``cor.test`` (hence metafor) returns NaN for k > 170.

    References
    ----------
    Begg CB, Mazumdar M (1994). Operating characteristics of a rank correlation test for
    publication bias. Biometrics 50:1088-1101.

    Examples
    --------
    >>> from painstats import datasets
    >>> from painstats.meta import effect_size, random_effects
    >>> from painstats.meta.bias import rank_correlation_test
    >>> es = effect_size("MD", data=datasets.load("normand1999"), mean1="m1i", sd1="sd1i",
    ...                  n1="n1i", mean2="m2i", sd2="sd2i", n2="n2i")
    >>> rt = rank_correlation_test(random_effects("yi", "vi", data=es))
    >>> round(rt.statistic, 4), round(rt.pvalue, 4), rt.exact
    (-0.2222, 0.4767, True)
    """
    res = intercept_only_model(res, "rank_correlation_test")
    _check_min_k(res, "rank_correlation_test", 2, "a correlation needs two pairs")
    y, v = np.asarray(res.yi, float), np.asarray(res.vi, float)
    w = 1.0 / v
    theta = np.sum(w * y) / np.sum(w)
    ystar = (y - theta) / np.sqrt(v - 1.0 / np.sum(w))
    s, tau, tx, ty = kendall_score(ystar, v)
    if not np.isfinite(tau):
        raise ValidationError(
            "rank_correlation_test: every study has the same vi (or the same standardised "
            "effect), so Kendall's tau is undefined"
        )
    n = res.k
    z, p_normal = _kendall_normal_p(s, n, tx, ty)
    exact = bool(tx.size == n and ty.size == n)
    if exact:
        total = n * (n - 1) // 2
        discordant = (total - s) // 2  # T and total - T have the same null distribution
        p = min(1.0, 2.0 * kendall_lower_tail(n, min(discordant, total - discordant)))
    else:
        p = p_normal
    return RankCorrelationResult(statistic=float(tau), pvalue=float(p), exact=exact, score=s,
                                 z=float(z), k=n)


# ---------------------------------------------------------------------------------------
# PET-PEESE


@dataclass(frozen=True, slots=True)
class PetPeeseResult:
    """PET, PEESE and the conditional PET-PEESE estimate (Stanley & Doucouliagos 2014)."""

    pet_estimate: float  #: PET intercept: effect at se -> 0 from yi ~ sei (WLS)
    pet_se: float
    pet_statistic: float
    pet_pvalue: float  #: two-sided
    pet_ci_low: float
    pet_ci_high: float
    pet_slope: float
    peese_estimate: float  #: PEESE intercept: effect at vi -> 0 from yi ~ vi (WLS)
    peese_se: float
    peese_statistic: float
    peese_pvalue: float
    peese_ci_low: float
    peese_ci_high: float
    peese_slope: float
    selection_pvalue: float  #: p-value of the PET intercept test with ``alternative``
    selected: str  #: "PEESE" if PET's intercept is significant at ``alpha``, else "PET"
    estimate: float  #: the selected intercept
    se: float
    pvalue: float
    ci_low: float
    ci_high: float
    df: int  #: k - 2
    alpha: float
    alternative: str
    level: float
    k: int

    def to_frame(self) -> pd.DataFrame:
        """Tidy table with rows PET, PEESE and PET-PEESE (the intercepts)."""
        pre = self.selected.lower()
        rows = [
            ["PET", self.pet_estimate, self.pet_se, self.pet_statistic, self.df,
             self.pet_pvalue, self.pet_ci_low, self.pet_ci_high],
            ["PEESE", self.peese_estimate, self.peese_se, self.peese_statistic, self.df,
             self.peese_pvalue, self.peese_ci_low, self.peese_ci_high],
            ["PET-PEESE", self.estimate, self.se, getattr(self, f"{pre}_statistic"), self.df,
             self.pvalue, self.ci_low, self.ci_high],
        ]
        return pd.DataFrame(rows, columns=TIDY_COLUMNS)

    def summary(self) -> Summary:
        """Print-out in the layout of metafor's model results."""
        f = self.to_frame()
        header = ["estimate", "se", "tval", "df", "pval", "ci.lb", "ci.ub"]
        rows = [[fmt(r.estimate), fmt(r.se), fmt(r.statistic), f"{r.df:g}", fmt_p(r.p_value),
                 fmt(r.ci_low), fmt(r.ci_high)] for r in f.itertuples()]
        side = {"two-sided": "two-sided", "greater": "one-sided, > 0", "less": "one-sided, < 0"}
        lines = [
            f"PET-PEESE (k = {self.k}; weighted least squares with multiplicative dispersion)", "",
            table(header, rows, index=list(f["term"])), "",
            (f"PET test of the intercept ({side[self.alternative]}): "
             f"p {p_eq(self.selection_pvalue)} -> {self.selected} selected "
             f"(alpha = {self.alpha:g})"),
        ]
        return Summary("\n".join(lines))

    def __str__(self) -> str:
        return str(self.summary())


def pet_peese(
    res: RandomEffectsResult,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> PetPeeseResult:
    """PET, PEESE and the conditional PET-PEESE estimator (Stanley & Doucouliagos 2014).

    PET regresses yi on their standard errors and PEESE on their variances, both by
    weighted least squares with weights 1/vi and a multiplicative dispersion (R
    ``lm(yi ~ sqrt(vi), weights=1/vi)`` and ``lm(yi ~ vi, weights=1/vi)``), with t tests
    on k - 2 df. The intercept is the effect of an infinitely precise study. PET-PEESE
    reports PEESE's intercept if PET's intercept differs significantly from 0, else PET's.

    Parameters
    ----------
    res : RandomEffectsResult
        The fitted model; its studies and level (for the CIs) are used, not its estimator.
    alpha : float, default 0.05
        Significance level of the PET test that selects PEESE.
    alternative : {"two-sided", "greater", "less"}, default "two-sided"
        The PET test. The default, a two-sided test of H0: beta0 = 0 at alpha = 0.05, is
        the rule of Stanley & Doucouliagos (2014) as implemented by Carter et al. (2019).
        Stanley (2017) recommends a one-sided test of H0: beta0 <= 0 at the 10% level
        (``alternative="greater", alpha=0.10``; ``"less"`` for effects expected below 0).

    Returns
    -------
    PetPeeseResult
        Both fits' intercepts (``pet_*``, ``peese_*``), ``selected`` and the selected
        ``estimate, se, pvalue, ci_low, ci_high``.

    Raises
    ------
    ValidationError
        Fewer than 3 studies, a meta-regression as ``res``, all variances equal, alpha
        outside (0, 1) or an unknown alternative.

    References
    ----------
    Stanley TD, Doucouliagos H (2014). Meta-regression approximations to reduce publication
    selection bias. Res Synth Methods 5:60-78.
    Stanley TD (2017). Limitations of PET-PEESE and other meta-analysis methods. Soc Psychol
    Personal Sci 8:581-591.
    Carter EC, Schoenbrodt FD, Gervais WM, Hilgard J (2019). Correcting for bias in psychology:
    a comparison of meta-analytic methods. Adv Methods Pract Psychol Sci 2:115-144.

    Examples
    --------
    >>> from painstats import datasets
    >>> from painstats.meta import random_effects
    >>> from painstats.meta.bias import pet_peese
    >>> d = datasets.load("lawlor2001")
    >>> pp = pet_peese(random_effects(d["smd"], d["varsmd"]))
    >>> pp.selected, round(pp.estimate, 4), round(pp.pet_estimate, 4)
    ('PET', -0.6081, -0.6081)
    """
    res = intercept_only_model(res, "pet_peese")
    alternative = resolve_option("alternative", alternative, _ALTERNATIVE_ALIASES)
    alpha = _check_alpha(alpha)
    _check_min_k(res, "pet_peese", 3, "two coefficients and at least 1 residual df")
    v = np.asarray(res.vi, float)
    _check_not_constant(v, "vi", "pet_peese")
    ones = np.ones_like(v)
    X = np.stack([np.column_stack([ones, np.sqrt(v)]), np.column_stack([ones, v])])
    fit: RMAFit = fit_rma(np.broadcast_to(res.yi, (2, v.size)), np.broadcast_to(v, (2, v.size)),
                          X=X, method="FE", test="hksj", level=res.level)
    df = int(res.k - 2)
    t_pet = float(fit.statistic[0, 0])
    if alternative == "two-sided":
        sel_p = float(fit.pvalue[0, 0])
    else:
        sel_p = float(special.stdtr(df, -t_pet if alternative == "greater" else t_pet))
    pick = 1 if sel_p < alpha else 0

    def part(i, j=0):
        return (float(fit.beta[i, j]), float(fit.se[i, j]), float(fit.statistic[i, j]),
                float(fit.pvalue[i, j]), float(fit.ci_low[i, j]), float(fit.ci_high[i, j]))

    pet, peese = part(0), part(1)
    chosen = (pet, peese)[pick]
    return PetPeeseResult(
        pet_estimate=pet[0], pet_se=pet[1], pet_statistic=pet[2], pet_pvalue=pet[3],
        pet_ci_low=pet[4], pet_ci_high=pet[5], pet_slope=float(fit.beta[0, 1]),
        peese_estimate=peese[0], peese_se=peese[1], peese_statistic=peese[2],
        peese_pvalue=peese[3], peese_ci_low=peese[4], peese_ci_high=peese[5],
        peese_slope=float(fit.beta[1, 1]), selection_pvalue=sel_p,
        selected=("PET", "PEESE")[pick], estimate=chosen[0], se=chosen[1], pvalue=chosen[3],
        ci_low=chosen[4], ci_high=chosen[5], df=df, alpha=alpha, alternative=alternative,
        level=res.level, k=res.k,
    )


def _check_alpha(alpha: Any) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise InputTypeError(f"alpha must be a number in (0, 1); got {alpha!r}")
    if not 0 < float(alpha) < 1:
        raise ValidationError(f"alpha must be in (0, 1); got {alpha!r}")
    return float(alpha)
