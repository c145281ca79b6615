"""Component network meta-analysis: the additive model (netmeta ``netcomb``/``discomb``).

A treatment is a combination of components, named by its components joined with a separator
("Eccentric+Balance"); its effect against the inactive treatment (e.g. "Control") is the sum of
its components' effects (Welton et al. 2009; Rücker et al. 2020). Optional interaction terms add
an effect for named pairs (or sets) of components given together. The model is the
contrast-based network model with design X C, C the treatment-by-component incidence, so
multi-arm studies and the random effects are handled exactly as in
:func:`~painstats.meta.network.network_meta_analysis`; the components may connect a network
whose treatments are disconnected (netmeta's ``discomb``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from painstats._validation import check_level
from painstats.errors import InputTypeError, ValidationError
from painstats.meta._summary import Summary, fmt, fmt_p, p_eq, table
from painstats.meta.network import _kernels as K
from painstats.meta.network.data import MULTIARM_TOL, NetworkData, read_network
from painstats.meta.network.nma import fit_consistency, treatment_map
from painstats.meta.network.options import resolve_model, resolve_nma_method

__all__ = [
    "ComponentEstimates",
    "ComponentNMAResult",
    "component_matrix",
    "component_network_meta_analysis",
]


_MODEL_NAME = {"common": "Common-effect model", "random": "Random-effects model"}


@dataclass(frozen=True, slots=True)
class ComponentEstimates:
    """Component effects (against the inactive treatment) of one model, with covariance."""

    model: str
    beta: np.ndarray  #: (p,) component (and interaction) effects
    vcov: np.ndarray  #: (p, p)
    tau2: float


@dataclass(frozen=True, slots=True)
class ComponentNMAResult:
    """A fitted additive (or interaction) component network meta-analysis."""

    components: tuple[str, ...]  #: component and interaction terms, in column order
    treatments: tuple[str, ...]
    inactive: str | None  #: inactive component (zero effect), e.g. "Control"
    sep: str
    C: np.ndarray  #: (n_treatments, p) treatment-by-term incidence
    common: ComponentEstimates
    random: ComponentEstimates | None  #: None for method="FE"
    method: str
    level: float
    tau2: float  #: from the additive (interaction) model
    q_additive: float  #: common-effect Q of the component model
    df_additive: int
    q_standard: float  #: Q of the standard NMA (NaN for a disconnected network)
    df_standard: float
    k: int
    m: int
    connected: bool  #: whether the treatments form one network without components
    data: NetworkData = field(repr=False)

    @property
    def q_diff(self) -> float:
        """Q_additive - Q_standard: test of the additive model against the standard NMA."""
        return self.q_additive - self.q_standard

    @property
    def df_diff(self) -> float:
        return self.df_additive - self.df_standard

    @property
    def p_diff(self) -> float:
        if not np.isfinite(self.q_diff) or self.df_diff <= 0:
            return float("nan")
        return float(special.chdtrc(self.df_diff, max(self.q_diff, 0.0)))

    @property
    def p_additive(self) -> float:
        return float(special.chdtrc(self.df_additive, self.q_additive)) if self.df_additive > 0 \
            else float("nan")

    def model_estimates(self, model: str | None = None) -> ComponentEstimates:
        if model is None:
            return self.random if self.random is not None else self.common
        if resolve_model(model) == "random":
            if self.random is None:
                raise ValidationError("this is a common-effect fit (method='FE'); it has no "
                                      "random-effects model; use model='common'")
            return self.random
        return self.common

    def _frame(self, L: np.ndarray, est: ComponentEstimates, names: Sequence[str]) -> pd.DataFrame:
        z = float(special.ndtri(1 - (1 - self.level) / 2))
        e = L @ est.beta
        s = np.sqrt(np.maximum(np.einsum("ip,pq,iq->i", L, est.vcov, L), 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = e / s
        frame = pd.DataFrame({"estimate": e, "se": s, "statistic": stat,
                              "p_value": 2 * special.ndtr(-np.abs(stat)),
                              "ci_low": e - z * s, "ci_high": e + z * s}, index=list(names))
        if est.model == "random":
            half = z * np.sqrt(s**2 + est.tau2)
            frame["pi_low"], frame["pi_high"] = e - half, e + half
        return frame

    def component_effects(self, model: str | None = None) -> pd.DataFrame:
        """Effect of every component (and interaction term) with SE, z test and CI."""
        est = self.model_estimates(model)
        frame = self._frame(np.eye(len(self.components)), est, self.components)
        frame.index.name = "component"
        return frame[["estimate", "se", "statistic", "p_value", "ci_low", "ci_high"]]

    def incidence(self, treatment: str) -> np.ndarray:
        """Row of C for any combination of the components, e.g. "Eccentric+Balance"."""
        return component_matrix([treatment], self.components, self.inactive, self.sep,
                                self._interactions())[0]

    def _interactions(self) -> list[tuple[str, ...]]:
        return [tuple(c.split("*")) for c in self.components if "*" in c]

    def effect(self, treatment: str, reference: str | None = None,
               model: str | None = None) -> pd.Series:
        """Effect of a combination (observed or not) against ``reference``.

        ``reference`` defaults to the inactive treatment (all components absent). Under the
        additive model the effect is the sum of the components' effects.
        """
        est = self.model_estimates(model)
        L = self.incidence(treatment)
        name = treatment
        if reference is not None:
            L = L - self.incidence(reference)
            name = f"{treatment} vs {reference}"
        return self._frame(L[None, :], est, [name]).iloc[0]

    def combinations(self, model: str | None = None) -> pd.DataFrame:
        """Every treatment of the network against the inactive treatment (C beta)."""
        est = self.model_estimates(model)
        frame = self._frame(np.asarray(self.C), est, self.treatments)
        frame.index.name = "treatment"
        return frame

    def to_frame(self, model: str | None = None) -> pd.DataFrame:
        """Tidy component table (both models unless ``model`` is given)."""
        models = [self.model_estimates(model)] if model is not None else [
            m for m in (self.common, self.random) if m is not None]
        parts = []
        for est in models:
            f = self.component_effects(est.model).reset_index(names="term")
            f.insert(1, "model", est.model)
            f["df"] = np.inf
            parts.append(f)
        cols = ["term", "model", "estimate", "se", "statistic", "df", "p_value", "ci_low",
                "ci_high"]
        return pd.concat(parts, ignore_index=True)[cols]

    def summary(self) -> Summary:
        kind = "interaction" if self._interactions() else "additive"
        lines = [f"Component network meta-analysis, {kind} model (k = {self.k} studies, "
                 f"m = {self.m} contrasts, {len(self.treatments)} treatments, "
                 f"{len(self.components)} terms; "
                 + ("common-effect model only)" if self.method == "FE"
                    else f"tau^2 estimator: {self.method})"),
                 f"Inactive: {self.inactive}; components separated by '{self.sep}'", ""]
        for est in (self.common, self.random):
            if est is None:
                continue
            f = self.component_effects(est.model)
            rows = [[fmt(r.estimate), fmt(r.se), fmt(r.statistic), fmt_p(r.p_value),
                     fmt(r.ci_low), fmt(r.ci_high)] for r in f.itertuples()]
            lines += [_MODEL_NAME[est.model] + ", components:",
                      table(["estimate", "se", "zval", "pval", "ci.lb", "ci.ub"], rows,
                            index=list(f.index)), ""]
        if self.method != "FE":
            lines.append(f"tau^2 = {fmt(self.tau2)} (from the component model)")
        lines.append(f"Component model: Q(df = {self.df_additive}) = {fmt(self.q_additive)}, "
                     f"p-val {p_eq(self.p_additive) if self.df_additive > 0 else '= NA'}")
        if self.connected:
            lines.append(f"Standard NMA:    Q(df = {int(self.df_standard)}) = "
                         f"{fmt(self.q_standard)}")
            lines.append(f"Difference:      Q(df = {int(self.df_diff)}) = {fmt(self.q_diff)}, "
                         f"p-val {p_eq(self.p_diff) if self.df_diff > 0 else '= NA'}")
        else:
            lines.append("The treatments are disconnected: no standard NMA to compare with.")
        return Summary("\n".join(lines) + "\n")

    def __str__(self) -> str:
        return str(self.summary())


def component_matrix(treatments: Sequence[str], components: Sequence[str], inactive: str | None,
                     sep: str, interactions: Sequence[tuple[str, ...]] = ()) -> np.ndarray:
    """Treatment-by-term incidence: 1 where the treatment contains the component.

    Interaction terms (named "A*B") are 1 where the treatment contains all of them.
    """
    main = [c for c in components if "*" not in c]
    C = np.zeros((len(treatments), len(components)))
    for i, t in enumerate(treatments):
        parts = _split(t, sep)
        unknown = [p for p in parts if p not in main and p != inactive]
        if unknown:
            raise ValidationError(
                f"treatment {t!r} has component(s) {unknown} that are not in the network; "
                f"components are {list(main)}"
            )
        for p in parts:
            if p != inactive:
                C[i, components.index(p)] = 1.0
        for inter in interactions:
            if all(c in parts for c in inter):
                C[i, components.index("*".join(inter))] = 1.0
    return C


def _split(treatment: str, sep: str) -> list[str]:
    parts = [p.strip() for p in treatment.split(sep)]
    if any(p == "" for p in parts):
        raise ValidationError(f"treatment {treatment!r} has an empty component (separator "
                              f"{sep!r})")
    return parts


def _check_interactions(interactions: Any, main: Sequence[str]) -> list[tuple[str, ...]]:
    if interactions is None:
        return []
    if isinstance(interactions, str) or not isinstance(interactions, Sequence):
        raise InputTypeError("interactions must be a list of component pairs such as "
                             f"[('Eccentric', 'Balance')]; got {interactions!r}")
    out = []
    for inter in interactions:
        if isinstance(inter, str) or not isinstance(inter, Sequence) or len(inter) < 2:
            raise ValidationError(f"each interaction must name at least two components; got "
                                  f"{inter!r}")
        names = tuple(str(c) for c in inter)
        if len(set(names)) != len(names):
            raise ValidationError(f"interaction {names} names a component twice")
        bad = [c for c in names if c not in main]
        if bad:
            raise ValidationError(f"interaction {names} names unknown component(s) {bad}; "
                                  f"components are {list(main)}")
        out.append(names)
    return out


def _check_identifiable(net: NetworkData, C: np.ndarray, terms: Sequence[str]) -> None:
    X = K.contrast_design(net.arms, C)[net.mask]
    _, sv, vt = np.linalg.svd(X, full_matrices=True)
    tol = sv.max(initial=0.0) * max(X.shape) * np.finfo(float).eps * 1e3
    rank = int((sv > tol).sum())
    if rank < len(terms):
        null = vt[rank:]
        bad = [terms[j] for j in range(len(terms)) if np.abs(null[:, j]).max() > 1e-8]
        subs = net.subnetworks()
        where = "" if len(subs) == 1 else (
            f"; the treatments form {len(subs)} sub-networks ("
            + "; ".join("{" + ", ".join(s) + "}" for s in subs) + ") that these components "
            "do not connect")
        raise ValidationError(
            f"component effects are not identifiable: {bad} cannot be separated by the "
            f"data{where}. Drop or merge these components, remove interaction terms, or add "
            "studies"
        )


def component_network_meta_analysis(
    data: pd.DataFrame | None = None,
    *,
    study: Any,
    inactive: str | None = None,
    sep: str = "+",
    interactions: Sequence[Sequence[str]] | None = None,
    method: str = "REML",
    level: float = 0.95,
    missing: str = "raise",
    multiarm_tol: float = MULTIARM_TOL,
    **columns: Any,
) -> ComponentNMAResult:
    """Additive component network meta-analysis (netmeta ``netcomb``; ``discomb`` if disconnected).

    Parameters
    ----------
    data : DataFrame, optional
        Arm-level or contrast-level table, as for :func:`network_meta_analysis`.
    study : str or array_like
        Study labels.
    inactive : str, optional
        The inactive component/treatment (e.g. "Control", "Placebo"): its effect is zero, so
        every other effect is against it. Without it the component effects are identifiable
        only if no treatment of the network is free of components (rarely the case).
    sep : str
        Separator of components in treatment names ("Eccentric+Balance").
    interactions : list of tuples of str, optional
        Component sets whose combination gets an extra (interaction) effect, e.g.
        ``[("Eccentric", "Balance")]``, named "Eccentric*Balance".
    method : {"REML", "ML", "DL", "FE"}
        Estimator of tau^2, estimated from the component model; "DL" is netmeta's generalised
        DerSimonian-Laird (the default of ``netcomb``).
    level, missing, multiarm_tol
        As for :func:`network_meta_analysis`.
    **columns
        The data columns: ``treatment``, ``mean``, ``sd``/``se``, ``n``, ``events``,
        ``measure`` (arm-level) or ``treat1``, ``treat2``, ``yi``, ``vi``, ``cov``, ``n1``,
        ``n2`` (contrast-level).

    Returns
    -------
    ComponentNMAResult
        ``component_effects()``, ``effect("A+B")`` for any combination, ``combinations()``,
        the test of the additive model against the standard NMA (``q_diff``, ``df_diff``,
        ``p_diff``), ``summary()`` and ``to_frame()``.

    Raises
    ------
    ValidationError
        Components that the data cannot separate (named, with the sub-networks when the
        treatments are disconnected), an unknown ``inactive`` or interaction component, an
        empty component name, and the input errors of :func:`network_meta_analysis`.

    Notes
    -----
    The Q of the standard NMA and the difference test need a connected network; for a
    disconnected one they are NaN (as netmeta's ``discomb``). Unlike netmeta, which sets
    unidentifiable components to NA, painstats raises. With ``method="DL"`` tau^2 is netmeta's
    (Q_additive - df)/tr(P R) from the component model.

    References
    ----------
    .. [1] Welton NJ, Caldwell DM, Adamopoulos E, Vedhara K. Mixed treatment comparison
       meta-analysis of complex interventions: psychological interventions in coronary heart
       disease. Am J Epidemiol. 2009;169:1158-1165.
    .. [2] Rücker G, Petropoulou M, Schwarzer G. Network meta-analysis of multicomponent
       interventions. Biom J. 2020;62:808-821.
    .. [3] Rücker G, Schmitz S, Schwarzer G. Component network meta-analysis compared to a
       matching method in a disconnected network: a case study. Biom J. 2021;63:447-461.

    Examples
    --------
    Schwingshackl 2014's combined training as aerobic + resistance components: the effect of
    adding aerobic training (to resistance training) and of adding resistance training (to
    aerobic training), HbA1c in percentage points:

    >>> from painstats import datasets
    >>> from painstats.meta.network import arms_from_wide, component_network_meta_analysis
    >>> wide = datasets.load("schwingshackl2014")
    >>> arms = arms_from_wide(wide, study="study", columns={"treatment": "t", "mean": "y",
    ...                       "sd": "sd", "n": "n"})
    >>> names = {1: "Aerobic", 2: "Resistance", 3: "Aerobic+Resistance"}
    >>> arms["modality"] = arms["treatment"].map(names)
    >>> cnma = component_network_meta_analysis(arms, study="study", treatment="modality",
    ...     mean="mean", sd="sd", n="n", method="FE")
    >>> cnma.component_effects()["estimate"].round(3)
    component
    Aerobic      -0.509
    Resistance   -0.253
    Name: estimate, dtype: float64
    """
    method = resolve_nma_method(method)
    level = check_level(level)
    if not isinstance(sep, str) or sep == "":
        raise InputTypeError(f"sep must be a non-empty string such as '+'; got {sep!r}")
    net = read_network(data, study=study, missing=missing, multiarm_tol=multiarm_tol, **columns)
    parts = {p for t in net.treatments for p in _split(t, sep)}
    if inactive is not None:
        if not isinstance(inactive, str):
            raise InputTypeError(f"inactive must be a component name; got {inactive!r}")
        if inactive not in parts:
            raise ValidationError(f"inactive={inactive!r} is not a treatment or component of the "
                                  f"network; components are {sorted(parts)}")
    main = sorted(parts - {inactive})
    inters = _check_interactions(interactions, main)
    terms = tuple(main + ["*".join(i) for i in inters])
    C = component_matrix(net.treatments, terms, inactive, sep, inters)
    _check_identifiable(net, C, terms)
    fit = fit_consistency(net, C, method)
    connected = len(net.subnetworks()) == 1
    if connected:
        std = fit_consistency(net, treatment_map(net.n_treatments, 0), "FE").common
        q_std, df_std = float(std.q), float(std.df)
    else:
        q_std = df_std = float("nan")
    est = [ComponentEstimates("common", _ro(fit.common.beta), _ro(fit.common.vcov), 0.0)]
    if fit.random is not None:
        est.append(ComponentEstimates("random", _ro(fit.random.beta), _ro(fit.random.vcov),
                                      fit.tau2))
    return ComponentNMAResult(
        components=terms, treatments=net.treatments, inactive=inactive, sep=sep, C=_ro(C),
        common=est[0], random=est[1] if len(est) > 1 else None, method=method, level=level,
        tau2=fit.tau2, q_additive=float(fit.common.q), df_additive=int(fit.common.df),
        q_standard=q_std, df_standard=df_std, k=net.n_studies, m=net.n_contrasts,
        connected=connected, data=net,
    )


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=float)
    a.setflags(write=False)
    return a
