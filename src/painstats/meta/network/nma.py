"""Network meta-analysis: ``network_meta_analysis``."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import special

from painstats._validation import check_level
from painstats.errors import InputTypeError, ValidationError
from painstats.meta.network import _kernels as K
from painstats.meta.network.data import MULTIARM_TOL, NetworkData, read_network
from painstats.meta.network.options import resolve_nma_method
from painstats.meta.network.results import NetworkEstimates, NetworkMetaAnalysisResult

__all__ = ["ConsistencyFit", "check_connected", "fit_consistency", "network_meta_analysis"]


def network_meta_analysis(
    data: pd.DataFrame | None = None,
    *,
    study: Any,
    treatment: Any = None,
    mean: Any = None,
    sd: Any = None,
    se: Any = None,
    n: Any = None,
    events: Any = None,
    measure: str | None = None,
    treat1: Any = None,
    treat2: Any = None,
    yi: Any = None,
    vi: Any = None,
    cov: Any = None,
    n1: Any = None,
    n2: Any = None,
    reference: str | None = None,
    method: str = "REML",
    level: float = 0.95,
    missing: str = "raise",
    multiarm_tol: float = MULTIARM_TOL,
) -> NetworkMetaAnalysisResult:
    """Frequentist network meta-analysis with common- and random-effects consistency models.

    The contrast-based model of Lu & Ades (2004) fitted by generalised least squares: each
    study's contrasts against its baseline arm are multivariate normal with their exact
    within-study covariance (multi-arm studies are never treated as independent) plus a
    random effect with one common variance tau^2 and correlation 1/2 between the contrasts of a
    multi-arm study. The numbers equal R metafor's
    ``rma.mv(yi, V, mods = ~ 0 + <treatments>, random = ~ comp | study, rho = 1/2)`` and,
    for ``method="DL"``, netmeta's ``netmeta()`` (Rücker 2012), whose graph-theoretical
    estimator is the same generalised least squares fit.

    Parameters
    ----------
    data : DataFrame, optional
        Long table: one row per arm (arm-level) or per contrast (contrast-level); never
        modified. Without it, the column arguments are arrays.
    study : str or array_like
        Study label of every row.
    treatment, mean, sd, se, n, events, measure : str or array_like, optional
        Arm-level input: treatment of each arm and its summary data, with ``measure`` one of
        "MD" (default for means), "SMD", "ROM" (mean with ``sd`` and ``n``; MD and ROM accept
        the arm's standard error ``se`` instead of ``sd``) or "OR", "RR", "RD" (``events`` and
        ``n``), computed as ``painstats.meta.effect_size`` does (escalc conventions). A 2x2
        zero cell adds 1/2 to the cells of every arm of that study, so the arms of a
        multi-arm study stay consistent.
    treat1, treat2, yi, vi, cov, n1, n2 : str or array_like, optional
        Contrast-level input: ``yi`` is treat1 minus treat2 with sampling variance ``vi``. A
        multi-arm study gives all its pairwise contrasts (consistent within ``multiarm_tol``),
        or the contrasts against one shared arm plus ``cov``, their covariance (the shared
        arm's variance). ``n1``/``n2`` (arm sizes) are used only to size plot nodes.
    reference : str, optional
        Reference treatment of ``effects()`` and the summary; default the first in sorted
        order. The fit does not depend on it.
    method : {"REML", "ML", "DL", "FE"}
        Estimator of tau^2: restricted or full maximum likelihood, generalised
        DerSimonian-Laird (Jackson, White & Riley 2012; netmeta's default), or "FE" (aliases
        "EE", "CE", "common") for the common-effect model only.
    level : float
        Confidence level of the CIs and prediction intervals (0.95 or 95).
    missing : {"raise", "drop"}
        Rows with missing values raise, or are dropped (a study left with one arm is dropped
        too); the result's ``data.n_dropped`` records how many rows.
    multiarm_tol : float
        Largest allowed |y_jk - (y_j0 - y_k0)| in a multi-arm study given as contrasts.

    Returns
    -------
    NetworkMetaAnalysisResult
        With ``effects()``, ``league_table()``, ``ranking()``, ``node_split()``,
        ``decomposition`` (design-by-treatment Q), ``summary()`` and ``to_frame()``.

    Raises
    ------
    ValidationError
        A disconnected network (the message lists the sub-networks), a study with a single arm,
        duplicate arms or comparisons within a study, inconsistent multi-arm contrasts or
        variances, a multi-arm study without covariances, bad values (named by study and row),
        unknown options.
    ConvergenceError
        ML/REML did not converge.

    Notes
    -----
    Confidence intervals use z (as ``rma.mv`` and netmeta's default). The prediction interval
    of each pairwise effect is estimate +/- z sqrt(se^2 + tau^2), as metafor's ``predict``;
    netmeta uses t with Q's degrees of freedom instead. I^2 = max(0, (Q - df)/Q) from the
    common-effect Q, as netmeta (rma.mv reports none). A network without residual degrees of
    freedom gets tau^2 = 0.

    References
    ----------
    .. [1] Lu G, Ades AE. Combination of direct and indirect evidence in mixed treatment
       comparisons. Stat Med. 2004;23:3105-3124.
    .. [2] Rücker G. Network meta-analysis, electrical networks and graph theory. Res Synth
       Methods. 2012;3:312-324.
    .. [3] Jackson D, White IR, Riley RD. Quantifying the impact of between-study
       heterogeneity in multivariate meta-analyses. Stat Med. 2012;31:3805-3820.
    .. [4] Krahn U, Binder H, König J. A graphical tool for locating inconsistency in network
       meta-analyses. BMC Med Res Methodol. 2013;13:35.
    .. [5] Higgins JPT, Jackson D, Barrett JK, et al. Consistency and inconsistency in network
       meta-analysis: concepts and models for multi-arm studies. Res Synth Methods.
       2012;3:98-110.
    .. [6] Dias S, Welton NJ, Sutton AJ, Ades AE. NICE DSU Technical Support Document 2. 2011.

    Examples
    --------
    The NICE DSU TSD2 Parkinson's network (off-time; a three-arm trial), arm-level means
    with their standard errors:

    >>> from painstats import datasets
    >>> from painstats.meta.network import network_meta_analysis
    >>> park = datasets.load("tsd2_parkinsons")
    >>> res = network_meta_analysis(park, study="studyn", treatment="treatment", mean="y",
    ...                             se="se", n="n", reference="Placebo", method="FE")
    >>> res.effects()["estimate"].round(2)
    treatment
    Bromocriptine   -0.52
    Cabergoline     -0.82
    Pramipexole     -1.81
    Ropinirole      -0.48
    Name: estimate, dtype: float64
    """
    method = resolve_nma_method(method)
    level = check_level(level)
    net = read_network(data, study=study, treatment=treatment, mean=mean, sd=sd, se=se, n=n,
                       events=events, measure=measure, treat1=treat1, treat2=treat2, yi=yi,
                       vi=vi, cov=cov, n1=n1, n2=n2, missing=missing,
                       multiarm_tol=multiarm_tol)
    check_connected(net)
    ref = _check_reference(reference, net.treatments)
    return build_result(net, ref, method, level)


def _check_reference(reference: Any, treatments: tuple[str, ...]) -> str:
    if reference is None:
        return treatments[0]
    if not isinstance(reference, str):
        raise InputTypeError(f"reference must be a treatment name; got {reference!r}")
    if reference not in treatments:
        raise ValidationError(f"reference must be one of the treatments {list(treatments)}; "
                              f"got {reference!r}")
    return reference


def check_connected(net: NetworkData) -> None:
    """Raise if the network falls apart into sub-networks, listing them."""
    subs = net.subnetworks()
    if len(subs) > 1:
        listed = "; ".join(f"{i + 1}: {{{', '.join(s)}}}" for i, s in enumerate(subs))
        raise ValidationError(
            f"the network is disconnected: {len(subs)} sub-networks ({listed}); effects between "
            "sub-networks are not estimable. Analyse each sub-network separately, or use "
            "component_network_meta_analysis if shared components connect them"
        )


class ConsistencyFit(NamedTuple):
    """GLS fits of one parametrisation (treatments or components), common and random."""

    common: K.GLSFit
    random: K.GLSFit | None
    tau2: float


def fit_consistency(net: NetworkData, C: np.ndarray, method: str) -> ConsistencyFit:
    """Fit y = X beta (+ random effects) with X built from the treatment-parameter map C."""
    X = K.contrast_design(net.arms, C)
    fe = K.gls(net.y, net.cov, X, net.mask, 0.0)
    if method == "FE":
        return ConsistencyFit(fe, None, 0.0)
    tau2 = float(K.estimate_tau2(net.y, net.cov, X, net.mask, method=method))
    re = K.gls(net.y, net.cov, X, net.mask, tau2)
    return ConsistencyFit(fe, re, tau2)


def treatment_map(n: int, ref: int) -> np.ndarray:
    """(n, n-1) map from treatments to basic parameters (effects vs treatment ``ref``)."""
    return np.delete(np.eye(n), ref, axis=1)


def estimates(C: np.ndarray, fit: K.GLSFit, model: str, tau2: float) -> NetworkEstimates:
    """Effects C beta of every treatment and their covariance C V C'."""
    theta = C @ fit.beta
    cov = C @ fit.vcov @ C.T
    return NetworkEstimates(model, _ro(theta), _ro(cov), float(tau2))


def build_result(net: NetworkData, reference: str, method: str,
                 level: float) -> NetworkMetaAnalysisResult:
    """Fit both consistency models and the design decomposition of a connected network."""
    from painstats.meta.network.inconsistency import design_decomposition

    n = net.n_treatments
    C = treatment_map(n, 0)
    fit = fit_consistency(net, C, method)
    q, df = float(fit.common.q), int(fit.common.df)
    with np.errstate(divide="ignore", invalid="ignore"):
        i2 = max(0.0, 100.0 * (q - df) / q) if df > 0 and q > 0 else 0.0
    return NetworkMetaAnalysisResult(
        treatments=net.treatments,
        reference=reference,
        common=estimates(C, fit.common, "common", 0.0),
        random=None if fit.random is None else estimates(C, fit.random, "random", fit.tau2),
        method=method,
        level=level,
        tau2=fit.tau2,
        tau=float(np.sqrt(fit.tau2)),
        i2=i2,
        q=q,
        q_df=df,
        q_pvalue=float(special.chdtrc(df, q)) if df > 0 else float("nan"),
        k=net.n_studies,
        m=net.n_contrasts,
        decomposition=design_decomposition(net, method, q, df),
        measure=net.measure,
        data=net,
    )


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=float)
    a.setflags(write=False)
    return a
