"""Random-effects (and common-effect) meta-analysis: ``random_effects``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from painstats._validation import check_level
from painstats.errors import ValidationError
from painstats.meta._inputs import read_studies
from painstats.meta._kernels.fit import RMAFit, fit_rma
from painstats.meta.options import resolve_method, resolve_test
from painstats.meta.results import RandomEffectsResult

__all__ = ["random_effects"]


def random_effects(
    yi: Any,
    vi: Any,
    *,
    data: pd.DataFrame | None = None,
    slab: Any = None,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    missing: str = "raise",
) -> RandomEffectsResult:
    """Random-effects meta-analysis of effect sizes ``yi`` with sampling variances ``vi``.

    Fits y_i ~ N(mu, v_i + tau^2), estimating tau^2 with ``method``; numbers match R
    ``metafor::rma(yi, vi, method=, test=, level=)`` (metafor 3.8) to about 1e-10.

    Parameters
    ----------
    yi, vi : str or array_like
        Effect sizes and their sampling variances: column names of ``data`` or arrays.
    data : DataFrame, optional
        Table holding the columns; never modified.
    slab : str or array_like, optional
        Study labels (used in summaries and error messages); defaults to data's index
        if it is not a plain range, else "1".."k".
    method : str, default "REML"
        tau^2 estimator: "REML", "ML", "DL" (DerSimonian-Laird), "HE" (Hedges), "HS"
        (Hunter-Schmidt), "SJ" (Sidik-Jonkman), "PM" (Paule-Mandel), "EB" (empirical
        Bayes), or "FE" for the common-effect model (aliases "EE", "CE").
    test : str, default "z"
        "z", "t" (t with k - 1 df), or "hksj" (Hartung-Knapp-Sidik-Jonkman; alias
        metafor's "knha"): t with k - 1 df and the SE rescaled, not truncated at 1.
        As in metafor it is also applied to a common-effect model if asked (metafor warns
        that it is not meant for one; painstats does not warn).
    level : float, default 0.95
        Confidence level of the CI and prediction interval (0.95 or 95).
    missing : {"raise", "drop"}
        Rows with NaN in yi or vi raise, or are dropped (the result records how many).

    Returns
    -------
    RandomEffectsResult

    Raises
    ------
    ValidationError
        Non-positive or non-finite variances, NaN (unless ``missing="drop"``),
        mismatched lengths, k = 1 for a random-effects model, unknown options.
    ConvergenceError
        An iterative estimator (ML, REML, PM, EB) did not converge.

    Notes
    -----
    Deliberate differences from metafor, none of which changes the estimate: ML/REML are
    converged to ~1e-12 relative (metafor's default threshold 1e-5 leaves errors near 1e-5);
    the iteration starts at the DerSimonian-Laird value (metafor: Hedges) and takes Newton
    steps in log(tau^2 + min v_i) where the log-likelihood is locally concave on that scale
    (metafor: Fisher scoring throughout),
    falling back to Fisher scoring near the boundary and to a bracketing safeguard if it
    oscillates; a step below 0 is clamped to 0 (metafor halves it). A fit at the boundary
    returns exactly tau^2 = 0 (metafor stops near 1e-13).

    References
    ----------
    DerSimonian R, Laird N (1986). Control Clin Trials 7:177-188.
    Viechtbauer W (2005). J Educ Behav Stat 30:261-293.
    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat Softw 36(3).
    IntHout J, Ioannidis JPA, Borm GF (2014). The Hartung-Knapp-Sidik-Jonkman method for random
    effects meta-analysis is straightforward and considerably outperforms the standard
    DerSimonian-Laird method. BMC Med Res Methodol 14:25.

    Examples
    --------
    >>> from painstats.meta import random_effects
    >>> res = random_effects([-0.5, -0.2, -0.9, -0.3], [0.04, 0.09, 0.06, 0.02], method="DL")
    >>> round(res.estimate, 4), round(res.tau2, 4)
    (-0.4627, 0.0326)
    """
    method = resolve_method(method)
    test = resolve_test(test)
    level = check_level(level)
    studies = read_studies(yi, vi, data=data, slab=slab, missing=missing)
    if studies.yi.size < 2 and method != "FE":
        raise ValidationError(
            f"a random-effects model needs at least 2 studies; got k={studies.yi.size} "
            "(use method='FE' for a single study)"
        )
    fit = fit_rma(studies.yi, studies.vi, method=method, test=test, level=level)
    return build_result(fit, studies, method, test, level)


def build_result(fit: RMAFit, studies, method: str, test: str, level: float) -> RandomEffectsResult:
    """Wrap a single (batch-of-one) kernel fit in a RandomEffectsResult."""
    est, se = float(fit.beta[0]), float(fit.se[0])
    tau2 = float(fit.tau2)
    if method == "FE":
        pi_low = pi_high = float("nan")
    else:
        half = float(fit.crit) * np.sqrt(se**2 + tau2)
        pi_low, pi_high = est - half, est + half
    weights = np.array(fit.weights, dtype=float)
    weights.setflags(write=False)
    return RandomEffectsResult(
        estimate=est,
        se=se,
        statistic=float(fit.statistic[0]),
        pvalue=float(fit.pvalue[0]),
        ci_low=float(fit.ci_low[0]),
        ci_high=float(fit.ci_high[0]),
        pi_low=pi_low,
        pi_high=pi_high,
        tau2=tau2,
        tau2_se=float(fit.tau2_se),
        tau=float(np.sqrt(tau2)),
        i2=float(fit.i2),
        h2=float(fit.h2),
        q=float(fit.q),
        q_df=int(fit.q_df),
        q_pvalue=float(fit.q_pvalue),
        k=int(fit.k),
        weights=weights,
        df=float(fit.df),
        s2=float(fit.s2),
        method=method,
        test=test,
        level=level,
        yi=studies.yi,
        vi=studies.vi,
        labels=studies.labels,
        n_dropped=studies.n_dropped,
    )
