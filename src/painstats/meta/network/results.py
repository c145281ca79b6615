"""Result of a network meta-analysis: frozen dataclasses with summary() and to_frame()."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import special

from painstats.errors import ValidationError
from painstats.meta._summary import Summary, fmt, fmt_p, p_eq, table
from painstats.meta.network.data import NetworkData
from painstats.meta.network.options import resolve_model

if TYPE_CHECKING:  # pragma: no cover
    from painstats.meta.network.inconsistency import DesignDecomposition, NodeSplitResult
    from painstats.meta.network.ranking import RankingResult

__all__ = ["COMPARISON_COLUMNS", "NetworkEstimates", "NetworkMetaAnalysisResult"]

#: Columns of ``to_frame()``: the tidy coefficient columns plus the two treatments, the
#: model and the prediction interval.
COMPARISON_COLUMNS = ["term", "treat1", "treat2", "model", "estimate", "se", "statistic", "df",
                      "p_value", "ci_low", "ci_high", "pi_low", "pi_high"]


@dataclass(frozen=True, slots=True)
class NetworkEstimates:
    """One consistency model: every treatment's effect against the fit's reference.

    ``theta[i] - theta[j]`` is treatment i vs treatment j; its variance is
    ``cov[i, i] + cov[j, j] - 2 cov[i, j]``. The reference has theta = 0 and a zero row.
    """

    model: str  #: "common" or "random"
    theta: np.ndarray  #: (n,) effects against the reference, in treatment order
    cov: np.ndarray  #: (n, n) their covariance
    tau2: float  #: between-study variance used (0 for the common-effect model)

    def pairwise(self) -> tuple[np.ndarray, np.ndarray]:
        """(n, n) estimates theta_i - theta_j (row vs column) and their standard errors."""
        est = self.theta[:, None] - self.theta[None, :]
        d = np.diag(self.cov)
        var = d[:, None] + d[None, :] - 2.0 * self.cov
        return est, np.sqrt(np.maximum(var, 0.0))


@dataclass(frozen=True, slots=True)
class NetworkMetaAnalysisResult:
    """A fitted network meta-analysis: common- and random-effects consistency models.

    Relative effects are "treat1 vs treat2" = treat1 minus treat2 on the scale of the
    contrasts (log scale for OR, RR, ROM). Numbers match R metafor's ``rma.mv`` contrast-based
    model with ``random = ~ comp | study, rho = 1/2`` (REML, ML, or tau^2 fixed at the
    generalised DerSimonian-Laird value of netmeta).
    """

    treatments: tuple[str, ...]  #: sorted treatment names
    reference: str  #: default reference of effects() and summaries
    common: NetworkEstimates
    random: NetworkEstimates | None  #: None for method="FE"
    method: str  #: tau^2 estimator ("REML", "ML", "DL") or "FE"
    level: float
    tau2: float  #: between-study variance (0 for FE)
    tau: float
    i2: float  #: percent, max(0, (Q - df)/Q) as netmeta
    q: float  #: total heterogeneity/inconsistency Q of the common-effect model
    q_df: int
    q_pvalue: float
    k: int  #: number of studies
    m: int  #: number of independent contrasts, sum of (arms - 1)
    decomposition: DesignDecomposition  #: Q within and between designs
    measure: str | None  #: effect measure of arm-level input
    data: NetworkData = field(repr=False)

    # -- accessors -----------------------------------------------------------------
    def model_estimates(self, model: str | None = None) -> NetworkEstimates:
        """The consistency model by name; default random effects (common for FE fits)."""
        if model is None:
            return self.random if self.random is not None else self.common
        name = resolve_model(model)
        if name == "random":
            if self.random is None:
                raise ValidationError("this is a common-effect fit (method='FE'); it has no "
                                      "random-effects model; use model='common'")
            return self.random
        return self.common

    def _index(self, treatment: str, name: str = "reference") -> int:
        if treatment not in self.treatments:
            raise ValidationError(f"{name} must be one of the treatments {list(self.treatments)}; "
                                  f"got {treatment!r}")
        return self.treatments.index(treatment)

    def _z(self) -> float:
        return float(special.ndtri(1 - (1 - self.level) / 2))

    def effects(self, reference: str | None = None, model: str | None = None) -> pd.DataFrame:
        """Every treatment against ``reference`` (default: the fit's reference).

        Returns a DataFrame indexed by treatment (the reference left out) with estimate, se,
        statistic (z), p_value, ci_low, ci_high and, for the random-effects model, the
        prediction interval pi_low, pi_high (estimate +/- z sqrt(se^2 + tau^2), as metafor's
        ``predict``; NaN for the common-effect model).
        """
        ref = self._index(reference if reference is not None else self.reference)
        est = self.model_estimates(model)
        e, s = est.pairwise()
        others = [i for i in range(len(self.treatments)) if i != ref]
        frame = self._rows(est, e[others, ref], s[others, ref])
        frame.index = pd.Index([self.treatments[i] for i in others], name="treatment")
        frame.attrs["reference"] = self.treatments[ref]
        return frame

    def _rows(self, est: NetworkEstimates, e: np.ndarray, s: np.ndarray) -> pd.DataFrame:
        z = self._z()
        stat = e / s
        if est.model == "random":
            half = z * np.sqrt(s**2 + est.tau2)
            pi_low, pi_high = e - half, e + half
        else:
            pi_low = pi_high = np.full(e.shape, np.nan)
        return pd.DataFrame({
            "estimate": e, "se": s, "statistic": stat,
            "p_value": 2 * special.ndtr(-np.abs(stat)),
            "ci_low": e - z * s, "ci_high": e + z * s, "pi_low": pi_low, "pi_high": pi_high,
        })

    def to_frame(self, model: str | None = None) -> pd.DataFrame:
        """Tidy table of every pair of treatments, both models unless ``model`` is given.

        Columns: term ("B vs A"), treat1, treat2, model, estimate (treat1 - treat2), se,
        statistic, df (inf: z tests), p_value, ci_low, ci_high, pi_low, pi_high. Pairs are
        listed with treat2 earlier in treatment order than treat1.
        """
        models = [self.model_estimates(model)] if model is not None else [
            m for m in (self.common, self.random) if m is not None]
        n = len(self.treatments)
        i1, i2 = np.triu_indices(n, 1)  # treat2 = i1 (earlier), treat1 = i2
        parts = []
        for est in models:
            e, s = est.pairwise()
            part = self._rows(est, e[i2, i1], s[i2, i1])
            part.insert(0, "model", est.model)
            part.insert(0, "treat2", [self.treatments[i] for i in i1])
            part.insert(0, "treat1", [self.treatments[i] for i in i2])
            part.insert(0, "term", [f"{self.treatments[b]} vs {self.treatments[a]}"
                                    for a, b in zip(i1, i2)])
            part["df"] = np.inf
            parts.append(part)
        return pd.concat(parts, ignore_index=True)[COMPARISON_COLUMNS]

    def league_table(self, model: str | None = None, digits: int = 2) -> pd.DataFrame:
        """League table: cell (row A, column B) is "A vs B" = A minus B with its CI.

        The diagonal holds the treatment names; the table is in treatment order.
        """
        est = self.model_estimates(model)
        e, s = est.pairwise()
        z = self._z()
        n = len(self.treatments)
        cells = [[self.treatments[i] if i == j else
                  f"{e[i, j]:.{digits}f} ({e[i, j] - z * s[i, j]:.{digits}f}, "
                  f"{e[i, j] + z * s[i, j]:.{digits}f})" for j in range(n)] for i in range(n)]
        return pd.DataFrame(cells, index=pd.Index(self.treatments, name="treatment"),
                            columns=list(self.treatments))

    # -- delegated analyses --------------------------------------------------------------
    def ranking(self, *, model: str | None = None, small_values: str = "good",
                n_sim: int = 1000, random_seed: Any = None) -> RankingResult:
        """P-scores and SUCRA; see :func:`painstats.meta.network.rank_treatments`."""
        from painstats.meta.network.ranking import rank_treatments

        return rank_treatments(self, model=model, small_values=small_values, n_sim=n_sim,
                               random_seed=random_seed)

    def node_split(self, method: str = "back-calculation") -> NodeSplitResult:
        """Direct vs indirect evidence per comparison; see :func:`painstats.meta.network.node_split`."""
        from painstats.meta.network.inconsistency import node_split

        return node_split(self, method=method)

    def plot_network(self, ax: Any = None, **kwargs: Any) -> Any:
        """Network graph; see :func:`painstats.meta.network.plot_network`."""
        from painstats.meta.network.plots import plot_network

        return plot_network(self, ax=ax, **kwargs)

    def plot_forest(self, reference: str | None = None, model: str | None = None,
                    ax: Any = None, **kwargs: Any) -> Any:
        """Forest plot against a reference; see :func:`painstats.meta.network.plot_forest`."""
        from painstats.meta.network.plots import plot_forest

        return plot_forest(self, reference=reference, model=model, ax=ax, **kwargs)

    # -- printing ------------------------------------------------------------------------
    def summary(self) -> Summary:
        """Print-out in the spirit of netmeta's and metafor's: effects, heterogeneity, Q."""
        title = (f"Network meta-analysis (k = {self.k} studies, m = {self.m} contrasts, "
                 f"n = {len(self.treatments)} treatments; "
                 + ("common-effect model only)" if self.method == "FE"
                    else f"tau^2 estimator: {self.method})"))
        lines = [title, (f"Measure: {self.measure or 'as given (contrasts)'}; "
                         f"reference: {self.reference}"), ""]
        for est in (self.common, self.random):
            if est is None:
                continue
            name = "Common-effect" if est.model == "common" else "Random-effects"
            lines += [f"{name} model, treatments vs '{self.reference}':", ""]
            lines.append(_effects_table(self.effects(model=est.model), est.model))
            lines.append("")
        lines.append("Heterogeneity / inconsistency:")
        if self.method != "FE":
            lines.append(f"tau^2 = {fmt(self.tau2)}; tau = {fmt(self.tau)}; "
                         f"I^2 = {self.i2:.1f}%")
        else:
            lines.append(f"I^2 = {self.i2:.1f}%")
        lines += ["", self.decomposition.summary_text(), ""]
        if self.data.n_dropped:
            lines.append(f"{self.data.n_dropped} input row(s) with missing values dropped")
        return Summary("\n".join(lines).rstrip() + "\n")

    def __str__(self) -> str:
        return str(self.summary())


def _effects_table(frame: pd.DataFrame, model: str) -> str:
    header = ["estimate", "se", "zval", "pval", "ci.lb", "ci.ub"]
    if model == "random":
        header += ["pi.lb", "pi.ub"]
    rows = []
    for _, r in frame.iterrows():
        row = [fmt(r.estimate), fmt(r.se), fmt(r.statistic), fmt_p(r.p_value), fmt(r.ci_low),
               fmt(r.ci_high)]
        if model == "random":
            row += [fmt(r.pi_low), fmt(r.pi_high)]
        rows.append(row)
    return table(header, rows, index=[str(i) for i in frame.index])


def q_line(label: str, q: float, df: float, p: float) -> str:
    """'label: Q(df = 4) = 2.2879, p-val = 0.6829'."""
    if df <= 0:
        return f"{label}: Q(df = {int(df)}) = {fmt(q)}, p-val = NA"
    return f"{label}: Q(df = {int(df)}) = {fmt(q)}, p-val {p_eq(p)}"
