"""Inconsistency in a network: design-by-treatment Q decomposition and node-splitting.

``design_decomposition`` splits the common-effect Q of the consistency model into
heterogeneity within designs (studies comparing the same set of treatments) and
inconsistency between designs (Krahn, Binder & König 2013), and tests the design-by-treatment
interaction (Higgins et al. 2012) under random effects, with tau^2 estimated from the
full design-by-treatment interaction model (netmeta's ``decomp.design``: ``Q.inc.random``).

``node_split`` compares, for every comparison with direct evidence, the direct estimate with
the indirect one (Dias et al. 2010), by netmeta's back-calculation or by SIDDE.

References
----------
Krahn U, Binder H, König J (2013). A graphical tool for locating inconsistency in network
    meta-analyses. BMC Med Res Methodol 13:35.
Higgins JPT, Jackson D, Barrett JK, Lu G, Ades AE, White IR (2012). Consistency and
    inconsistency in network meta-analysis: concepts and models for multi-arm studies.
    Res Synth Methods 3:98-110.
Dias S, Welton NJ, Caldwell DM, Ades AE (2010). Checking consistency in mixed treatment
    comparison meta-analysis. Stat Med 29:932-944.
König J, Krahn U, Binder H (2013). Visualizing the flow of evidence in network meta-analysis
    and characterizing mixed treatment comparisons. Stat Med 32:5414-5429.
Efthimiou O, Rücker G, Schwarzer G, Higgins JPT, Egger M, Salanti G (2019). Network
    meta-analysis of rare events using the Mantel-Haenszel method. Stat Med 38:2992-3012.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from painstats.meta._summary import Summary, fmt, fmt_p, table
from painstats.meta.network import _kernels as K
from painstats.meta.network.data import NetworkData
from painstats.meta.network.options import resolve_split_method

__all__ = [
    "DesignDecomposition",
    "NodeSplitResult",
    "SplitEstimates",
    "design_decomposition",
    "design_matrix",
    "node_split",
]


def _p(q: float, df: float) -> float:
    return float(special.chdtrc(df, q)) if df > 0 else float("nan")


_MODEL_NAME = {"common": "Common-effect model", "random": "Random-effects model"}


@dataclass(frozen=True, slots=True)
class DesignDecomposition:
    """Q of the consistency model = Q within designs + Q between designs.

    Common-effect parts as netmeta's ``decomp.design()$Q.decomp``; the random-effects
    between-design test uses the V = S + tau2_within R weights (``Q.inc.random``), which is
    the Wald test of the design-by-treatment interaction parameters at that tau^2.
    """

    q_total: float
    df_total: int
    q_within: float
    df_within: int
    q_between: float
    df_between: int
    tau2_within: float  #: tau^2 of the full design-by-treatment interaction model
    tau2_within_method: str  #: its estimator ("DL" for a common-effect fit, as netmeta)
    q_between_random: float  #: between-design Q with weights from S + tau2_within R
    designs: tuple[str, ...]  #: each design's treatments joined by ':'
    design_k: np.ndarray  #: studies per design
    design_q: np.ndarray  #: within-design Q per design
    design_df: np.ndarray  #: its degrees of freedom

    @property
    def p_total(self) -> float:
        return _p(self.q_total, self.df_total)

    @property
    def p_within(self) -> float:
        return _p(self.q_within, self.df_within)

    @property
    def p_between(self) -> float:
        return _p(self.q_between, self.df_between)

    @property
    def p_between_random(self) -> float:
        return _p(self.q_between_random, self.df_between)

    def to_frame(self) -> pd.DataFrame:
        """Rows total, within designs, between designs, between designs (random effects)."""
        return pd.DataFrame(
            {"q": [self.q_total, self.q_within, self.q_between, self.q_between_random],
             "df": [self.df_total, self.df_within, self.df_between, self.df_between],
             "p_value": [self.p_total, self.p_within, self.p_between, self.p_between_random]},
            index=pd.Index(["total", "within designs", "between designs",
                            "between designs (random effects)"], name="part"),
        )

    def designs_frame(self) -> pd.DataFrame:
        """Within-design Q of every design (df = 0 for designs of a single study)."""
        p = [_p(q, d) for q, d in zip(self.design_q, self.design_df)]
        return pd.DataFrame({"k": self.design_k, "q": self.design_q, "df": self.design_df,
                             "p_value": p}, index=pd.Index(self.designs, name="design"))

    def summary_text(self) -> str:
        header = ["Q", "df", "pval"]
        rows, index = [], []
        for name, q, df, p in (("Total", self.q_total, self.df_total, self.p_total),
                               ("Within designs", self.q_within, self.df_within, self.p_within),
                               ("Between designs", self.q_between, self.df_between,
                                self.p_between)):
            rows.append([fmt(q), str(int(df)), fmt_p(p)])
            index.append(name)
        lines = ["Design-by-treatment decomposition of Q (common effects):",
                 table(header, rows, index=index), "",
                 (f"Design-by-treatment interaction, random effects (tau^2_within = "
                  f"{fmt(self.tau2_within)}, {self.tau2_within_method}): Q(df = "
                  f"{self.df_between}) = {fmt(self.q_between_random)}, p-val "
                  f"{fmt_p(self.p_between_random)}")]
        return "\n".join(lines)

    def summary(self) -> Summary:
        return Summary(self.summary_text())


def design_matrix(net: NetworkData) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    """Design of the full design-by-treatment interaction (inconsistency) model.

    Each design gets its own effects of its treatments against its first treatment.
    Returns X (S, A, p), the design labels and each study's design index.
    """
    designs = net.designs()
    labels = tuple(dict.fromkeys(designs))
    which = np.array([labels.index(d) for d in designs])
    n = net.n_treatments
    blocks = []
    for d, lab in enumerate(labels):
        trts = [net.treatments.index(t) for t in lab.split(":")]
        C = np.zeros((n, len(trts) - 1))
        C[trts[1:], np.arange(len(trts) - 1)] = 1.0
        C[trts[0]] = 0.0
        Xd = K.contrast_design(net.arms, C)
        blocks.append(np.where((which == d)[:, None, None], Xd, 0.0))
    return np.concatenate(blocks, axis=-1), labels, which


def design_decomposition(net: NetworkData, method: str, q_total: float,
                         df_total: int) -> DesignDecomposition:
    """Krahn's decomposition of Q and the design-by-treatment interaction test."""
    X_inc, labels, which = design_matrix(net)
    fit = K.gls(net.y, net.cov, X_inc, net.mask, 0.0)
    resid_q = _study_q(net, X_inc, fit.beta, 0.0)
    design_q = np.array([resid_q[which == d].sum() for d in range(len(labels))])
    n_con = net.mask.sum(axis=1)
    design_k = np.array([(which == d).sum() for d in range(len(labels))])
    design_df = np.array([n_con[which == d].sum() - (len(lab.split(":")) - 1)
                          for d, lab in enumerate(labels)])
    tau_method = "DL" if method == "FE" else method
    tau2_w = float(K.estimate_tau2(net.y, net.cov, X_inc, net.mask, method=tau_method))
    C = np.delete(np.eye(net.n_treatments), 0, axis=1)
    X_con = K.contrast_design(net.arms, C)
    q_con_r = float(K.gls(net.y, net.cov, X_con, net.mask, tau2_w).q)
    q_inc_r = float(K.gls(net.y, net.cov, X_inc, net.mask, tau2_w).q)
    q_within = float(fit.q)
    return DesignDecomposition(
        q_total=q_total, df_total=df_total,
        q_within=q_within, df_within=int(fit.df),
        q_between=q_total - q_within, df_between=df_total - int(fit.df),
        tau2_within=tau2_w, tau2_within_method=tau_method,
        q_between_random=max(0.0, q_con_r - q_inc_r),
        designs=labels, design_k=_ro(design_k, int), design_q=_ro(design_q),
        design_df=_ro(design_df, int),
    )


def _study_q(net: NetworkData, X: np.ndarray, beta: np.ndarray, tau2: float) -> np.ndarray:
    """Each study's r'V^{-1}r at the given fit."""
    r = np.where(net.mask, net.y - X @ beta, 0.0)
    out = np.zeros(net.n_studies)
    for s in range(net.n_studies):
        k = int(net.mask[s].sum())
        V = net.cov[s, :k, :k] + tau2 * (0.5 + 0.5 * np.eye(k))
        out[s] = r[s, :k] @ np.linalg.solve(V, r[s, :k])
    return out


# ---------------------------------------------------------------------------------------
# node-splitting


@dataclass(frozen=True, slots=True)
class SplitEstimates:
    """Direct, indirect and network estimates of one model, one entry per comparison."""

    model: str
    direct: np.ndarray
    direct_se: np.ndarray
    indirect: np.ndarray
    indirect_se: np.ndarray
    network: np.ndarray
    network_se: np.ndarray

    @property
    def prop_direct(self) -> np.ndarray:
        """Direct evidence proportion V_network / V_direct (König et al. 2013)."""
        return self.network_se**2 / self.direct_se**2

    @property
    def difference(self) -> np.ndarray:
        """Direct minus indirect estimate."""
        return self.direct - self.indirect

    @property
    def difference_se(self) -> np.ndarray:
        return np.sqrt(self.direct_se**2 + self.indirect_se**2)


@dataclass(frozen=True, slots=True)
class NodeSplitResult:
    """Direct vs indirect evidence for every comparison with direct evidence."""

    treat1: tuple[str, ...]  #: estimates are treat1 minus treat2
    treat2: tuple[str, ...]
    k: np.ndarray  #: studies with direct evidence
    common: SplitEstimates
    random: SplitEstimates | None
    method: str  #: "back-calculation" or "sidde"
    level: float

    def to_frame(self, model: str | None = None) -> pd.DataFrame:
        """One row per comparison and model: direct, indirect, network, the difference
        (direct - indirect) with its z test, and the direct evidence proportion."""
        z = special.ndtri(1 - (1 - self.level) / 2)
        parts = []
        models = [m for m in (self.common, self.random) if m is not None]
        if model is not None:
            models = [m for m in models if m.model == model]
        for est in models:
            diff, dse = est.difference, est.difference_se
            stat = diff / dse
            parts.append(pd.DataFrame({
                "comparison": [f"{a} vs {b}" for a, b in zip(self.treat1, self.treat2)],
                "treat1": self.treat1, "treat2": self.treat2, "model": est.model, "k": self.k,
                "prop_direct": est.prop_direct,
                "network": est.network, "network_se": est.network_se,
                "direct": est.direct, "direct_se": est.direct_se,
                "indirect": est.indirect, "indirect_se": est.indirect_se,
                "difference": diff, "difference_se": dse,
                "ci_low": diff - z * dse, "ci_high": diff + z * dse,
                "statistic": stat, "p_value": 2 * special.ndtr(-np.abs(stat)),
            }))
        return pd.concat(parts, ignore_index=True)

    def summary(self) -> Summary:
        lines = [f"Node-splitting ({self.method}): direct vs indirect evidence", ""]
        for est in (self.common, self.random):
            if est is None:
                continue
            frame = self.to_frame(est.model)
            rows = [[str(int(r.k)), f"{r.prop_direct:.2f}", fmt(r.network), fmt(r.direct),
                     fmt(r.indirect), fmt(r.difference), fmt(r.statistic), fmt_p(r.p_value)]
                    for r in frame.itertuples()]
            lines += [_MODEL_NAME[est.model] + ":",
                      table(["k", "prop", "nma", "direct", "indir.", "diff", "z", "pval"], rows,
                            index=list(frame["comparison"])), ""]
        return Summary("\n".join(lines))

    def __str__(self) -> str:
        return str(self.summary())


def node_split(result, method: str = "back-calculation") -> NodeSplitResult:
    """Split every comparison with direct evidence into direct and indirect estimates.

    Parameters
    ----------
    result : NetworkMetaAnalysisResult
    method : {"back-calculation", "sidde"}
        ``"back-calculation"`` (netmeta's default in ``netsplit``): the indirect estimate is
        (theta_net - P theta_dir) / (1 - P) with variance V_net / (1 - P), P = V_net / V_dir.
        ``"sidde"`` (separate indirect from direct design evidence): the indirect estimate is
        the network estimate after removing every study that compares the two treatments
        directly, refitted with the same tau^2 estimator; NaN when the rest of the network
        does not connect them. Both use the same direct estimate.

    Returns
    -------
    NodeSplitResult

    Notes
    -----
    The direct estimate pools each study's contrast of the two treatments (from a multi-arm
    study, the contrast between those two arms) by inverse variance: weights 1/v_i for the
    common-effect model and 1/(v_i + tau^2), with the network's tau^2, for random effects (as
    netmeta). The difference direct - indirect has variance V_dir + V_ind and a z test
    (Dias et al. 2010). With multi-arm studies the direct and indirect estimates of the
    back-calculation are not independent, so its test is approximate; SIDDE's indirect
    estimate uses none of the direct studies. For a network of two-arm studies and the
    common-effect model SIDDE equals Dias' node-splitting model.

    References
    ----------
    .. [1] Dias S, Welton NJ, Caldwell DM, Ades AE. Checking consistency in mixed treatment
       comparison meta-analysis. Stat Med. 2010;29:932-944.
    .. [2] König J, Krahn U, Binder H. Visualizing the flow of evidence in network
       meta-analysis and characterizing mixed treatment comparisons. Stat Med.
       2013;32:5414-5429.
    .. [3] Efthimiou O, Rücker G, Schwarzer G, et al. Network meta-analysis of rare events
       using the Mantel-Haenszel method. Stat Med. 2019;38:2992-3012.

    Examples
    --------
    >>> from painstats import datasets
    >>> from painstats.meta.network import network_meta_analysis
    >>> park = datasets.load("tsd2_parkinsons")
    >>> res = network_meta_analysis(park, study="studyn", treatment="treatment", mean="y",
    ...                             se="se", method="FE")
    >>> split = res.node_split()
    >>> split.to_frame()[["comparison", "k", "direct", "indirect"]].round(3).head(2)
                         comparison  k  direct  indirect
    0  Cabergoline vs Bromocriptine  2    -0.3       NaN
    1      Placebo vs Bromocriptine  1     0.9     0.184
    """
    method = resolve_split_method(method)
    net: NetworkData = result.data
    pairs = net.pair_contrasts()
    counts = net.comparison_counts()
    n = net.n_treatments
    comps = [(j, i) for i in range(n) for j in range(i + 1, n) if counts[i, j] > 0]
    t1 = tuple(net.treatments[j] for j, _ in comps)
    t2 = tuple(net.treatments[i] for _, i in comps)
    k = np.array([counts[i, j] for j, i in comps])
    models = [m for m in (result.common, result.random) if m is not None]
    split = {}
    for est in models:
        d, dse = _direct(pairs, comps, est.tau2)
        e, s = est.pairwise()
        ne = np.array([e[j, i] for j, i in comps])
        ns = np.array([s[j, i] for j, i in comps])
        if method == "back-calculation":
            ind, ise = _back_calculate(ne, ns, d, dse)
        else:
            ind, ise = _sidde(result, comps, est.model)
        split[est.model] = SplitEstimates(est.model, _ro(d), _ro(dse), _ro(ind), _ro(ise),
                                          _ro(ne), _ro(ns))
    return NodeSplitResult(t1, t2, _ro(k, int), split["common"], split.get("random"), method,
                           result.level)


def _direct(pairs: pd.DataFrame, comps, tau2: float) -> tuple[np.ndarray, np.ndarray]:
    est, se = [], []
    for j, i in comps:
        sel = pairs[(pairs["t1"] == j) & (pairs["t2"] == i)]
        w = 1.0 / (sel["vi"].to_numpy() + tau2)
        est.append(float(np.sum(w * sel["yi"].to_numpy()) / np.sum(w)))
        se.append(float(np.sqrt(1.0 / np.sum(w))))
    return np.array(est), np.array(se)


def _back_calculate(ne, ns, d, dse):
    prop = ns**2 / dse**2
    only_direct = np.abs(1.0 - prop) < np.sqrt(np.finfo(float).eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        ind = np.where(only_direct, np.nan, (ne - prop * d) / (1.0 - prop))
        ise = np.where(only_direct, np.nan, np.sqrt(ns**2 / (1.0 - prop)))
    return ind, ise


def _sidde(result, comps, model: str):
    from painstats.meta.network.nma import estimates, fit_consistency, treatment_map

    net: NetworkData = result.data
    ind = np.full(len(comps), np.nan)
    ise = np.full(len(comps), np.nan)
    for c, (j, i) in enumerate(comps):
        has = (net.arms == i).any(axis=1) & (net.arms == j).any(axis=1)
        if has.all():
            continue
        sub = net.subset(~has)
        ti, tj = net.treatments[i], net.treatments[j]
        part = next((g for g in sub.subnetworks() if ti in g and tj in g), None)
        if part is None:
            continue
        keep = np.array([sub.treatments[row[0]] in part for row in sub.arms])
        sub = sub.subset(keep)
        C = treatment_map(sub.n_treatments, 0)
        fit = fit_consistency(sub, C, "FE" if model == "common" else result.method)
        g = fit.common if model == "common" else fit.random
        est = estimates(C, g, model, fit.tau2)
        e, s = est.pairwise()
        a, b = sub.treatments.index(tj), sub.treatments.index(ti)
        ind[c], ise[c] = e[a, b], s[a, b]
    return ind, ise


def _ro(a: np.ndarray, dtype: type = float) -> np.ndarray:
    a = np.array(a, dtype=dtype)
    a.setflags(write=False)
    return a
