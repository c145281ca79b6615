"""Mixed-effects meta-regression with formulaic formulas: ``meta_regression``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula

from painstats._validation import check_level
from painstats.errors import InputTypeError, ValidationError
from painstats.meta._inputs import check_data_frame, read_studies
from painstats.meta._kernels.fit import fit_rma
from painstats.meta.options import resolve_method, resolve_test
from painstats.meta.results_regression import MetaRegressionResult, moderator_test, pseudo_r2

__all__ = ["meta_regression"]


def meta_regression(
    formula: str,
    *,
    data: pd.DataFrame,
    vi: Any = "vi",
    slab: Any = None,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    missing: str = "raise",
) -> MetaRegressionResult:
    """Mixed-effects meta-regression y_i ~ N(x_i'beta, v_i + tau^2).

    The model matrix comes from a formulaic formula, e.g. ``"yi ~ weeks + C(setting)"``
    (treatment coding, first level as reference, as R). Numbers match
    ``metafor::rma(yi, vi, mods=~..., method=, test=)``.

    Parameters
    ----------
    formula : str
        ``"response ~ moderators"``; the response is a column of ``data``.
    data : DataFrame
        Study table (never modified).
    vi : str or array_like, default "vi"
        Sampling variances: a column name of ``data`` or an array.
    slab : str or array_like, optional
        Study labels for messages and summaries.
    method, test, level, missing
        As :func:`painstats.meta.random_effects`. With ``test="hksj"`` or ``"t"`` the
        omnibus test of moderators is an F-test with (m, k - p) df, as metafor.

    Returns
    -------
    MetaRegressionResult
        ``coef`` table, ``tau2``, ``i2``, ``r2`` (percent), ``qm`` (omnibus test of the
        moderators, all coefficients but the intercept), ``qe`` (residual heterogeneity)
        and ``predict(new_data)``.

    References
    ----------
    Thompson SG, Higgins JPT (2002). How should meta-regression analyses be undertaken and
    interpreted? Stat Med 21:1559-1573.
    Raudenbush SW (2009). Analyzing effect sizes: random-effects models. In Cooper H, Hedges
    LV, Valentine JC (eds), The Handbook of Research Synthesis and Meta-Analysis, 2nd ed.
    Knapp G, Hartung J (2003). Improved tests for a random effects meta-regression with a
    single covariate. Stat Med 22:2693-2710.

    Examples
    --------
    >>> import pandas as pd
    >>> from painstats.meta import meta_regression
    >>> df = pd.DataFrame({"yi": [-0.9, -0.6, -0.5, -0.2, -0.1],
    ...                    "vi": [0.04, 0.05, 0.03, 0.06, 0.05],
    ...                    "weeks": [4, 6, 8, 10, 12]})
    >>> reg = meta_regression("yi ~ weeks", data=df, method="REML")
    >>> reg.coef.loc["weeks", "estimate"].round(4)
    np.float64(0.1002)
    """
    method = resolve_method(method)
    test = resolve_test(test)
    level = check_level(level)
    data = check_data_frame(data)
    if data is None:
        raise InputTypeError("meta_regression needs data=DataFrame holding the formula's columns")
    if not isinstance(formula, str) or "~" not in formula:
        raise ValidationError(f"formula must be a string 'response ~ moderators'; got {formula!r}")
    try:
        parsed = Formula(formula)
        needed = sorted(str(x) for x in parsed.required_variables)
    except Exception as exc:  # formulaic raises several exception types on bad syntax
        raise ValidationError(f"formula {formula!r} could not be parsed: {exc}") from exc
    absent = [c for c in needed if c not in data.columns]
    if absent:
        raise ValidationError(f"formula names columns not in data: {absent}")
    response = str(formula.split("~")[0]).strip()
    extra = {c: _nan_flags(data[c]) for c in needed if c != response}
    studies = read_studies(response, vi, data=data, slab=slab, missing=missing, extra=extra)
    sub = data.loc[studies.keep]
    matrices = parsed.get_model_matrix(sub, na_action="ignore")
    X = np.asarray(matrices.rhs, dtype=float)
    terms = list(matrices.rhs.columns)
    _check_design(X, terms, studies.labels, method)
    fit = fit_rma(studies.yi, studies.vi, X=X, method=method, test=test, level=level)
    qm, qm_df, qm_p = moderator_test(fit, terms, test)
    coef = pd.DataFrame(
        {"estimate": fit.beta, "se": fit.se, "statistic": fit.statistic, "pvalue": fit.pvalue,
         "ci_low": fit.ci_low, "ci_high": fit.ci_high},
        index=pd.Index(terms, name="term"),
    )
    return MetaRegressionResult(
        formula=formula, coef=coef, vcov=fit.vcov, tau2=float(fit.tau2),
        tau2_se=float(fit.tau2_se), i2=float(fit.i2), h2=float(fit.h2),
        r2=pseudo_r2(fit, X, studies, method), qm=qm, qm_df=qm_df, qm_pvalue=qm_p,
        qe=float(fit.q), qe_df=int(fit.q_df), qe_pvalue=float(fit.q_pvalue), k=int(fit.k),
        df=float(fit.df), crit=float(fit.crit), method=method, test=test, level=level,
        labels=studies.labels, n_dropped=studies.n_dropped, model_spec=matrices.rhs.model_spec,
        X=X, yi=studies.yi, vi=studies.vi,
    )


def _nan_flags(col: pd.Series) -> np.ndarray:
    """NaN indicator of a moderator as floats (NaN where missing) for the missing check."""
    return np.where(col.isna().to_numpy(), np.nan, 0.0)


def _check_design(X: np.ndarray, terms: list[str], labels, method: str) -> None:
    k, p = X.shape
    if not np.all(np.isfinite(X)):
        raise ValidationError("the model matrix has non-finite values; check the moderators")
    rank = np.linalg.matrix_rank(X)
    if rank < p:
        raise ValidationError(
            f"the moderators are collinear (model matrix rank {rank} < {p} columns: {terms}); "
            "remove redundant terms or levels without studies"
        )
    if k <= p and method != "FE":
        raise ValidationError(
            f"a mixed-effects meta-regression needs more studies than coefficients; "
            f"k={k}, coefficients={p} ({terms})"
        )
