"""Result of a Bayesian network meta-analysis: the posterior and summaries read from it.

Everything is computed from the draws in ``idata``; nothing is re-sampled. See
:func:`painstats.meta.network.bayesian_network_meta_analysis`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from painstats.errors import PainstatsWarning, ValidationError
from painstats.meta._summary import Summary, fmt, table
from painstats.meta.network.data import NetworkData
from painstats.meta.network.options import resolve_model, resolve_small_values

__all__ = ["BAYES_COLUMNS", "ESS_PER_CHAIN_MIN", "RHAT_MAX", "BayesianNetworkResult"]

#: Diagnostic thresholds behind the PainstatsWarning (Vehtari et al. 2021).
RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100

def _theta(d: np.ndarray, basic: np.ndarray, n: int) -> np.ndarray:
    """(chain, draw, n) effects of every treatment against the reference (0 for it)."""
    theta = np.zeros(d.shape[:2] + (n,))
    theta[..., basic] = d
    return theta


#: Columns of ``effects()`` and (after term, treat1, treat2, model) of ``to_frame()``.
BAYES_COLUMNS = ["estimate", "sd", "median", "ci_low", "ci_high", "pi_low", "pi_high", "mcse",
                 "ess_bulk", "r_hat"]


@dataclass(frozen=True, slots=True)
class BayesianNetworkResult:
    """A Bayesian network meta-analysis: the posterior (``idata``) and summaries read from it.

    Relative effects "treat1 vs treat2" are treat1 minus treat2 on the scale of the contrasts
    (log scale for OR, RR, ROM). ``estimate`` is the posterior mean, ``sd`` the posterior SD,
    intervals are equal-tailed with probability ``level``.
    """

    treatments: tuple[str, ...]  #: sorted treatment names
    reference: str  #: treatment of the basic parameters d[t] = t vs reference
    model: str  #: "random" or "common"
    parametrization: str  #: "non-centred" or "marginal" (random-effects model)
    idata: Any = field(repr=False)  #: arviz.InferenceData (posterior, sample_stats, ...)
    level: float
    #: {"d": ("normal", sd), "tau": (kind, scale)} as used; kind "prior" holds a
    #: painstats.meta.priors object instead of a scale
    priors: dict[str, Any]
    tau_fixed: float | None  #: tau when fixed instead of sampled
    sampler: str
    draws: int
    tune: int
    chains: int
    target_accept: float
    random_seed: int
    k: int  #: number of studies
    m: int  #: number of independent contrasts
    measure: str | None
    data: NetworkData = field(repr=False)

    # -- draws -----------------------------------------------------------------------
    def theta_draws(self) -> np.ndarray:
        """(chain, draw, n) posterior draws of every treatment vs the fit's reference."""
        ref = self.treatments.index(self.reference)
        basic = np.array([t for t in range(len(self.treatments)) if t != ref])
        return _theta(self.idata.posterior["d"].to_numpy(), basic, len(self.treatments))

    def tau_draws(self) -> np.ndarray:
        """(chain, draw) draws of tau (constant when fixed, zero for the common-effect model)."""
        shape = self.idata.posterior["d"].shape[:2]
        if self.model == "common":
            return np.zeros(shape)
        if self.tau_fixed is not None:
            return np.full(shape, self.tau_fixed)
        return self.idata.posterior["tau"].to_numpy()

    def _index(self, treatment: Any, name: str = "reference") -> int:
        if treatment not in self.treatments:
            raise ValidationError(f"{name} must be one of the treatments {list(self.treatments)}; "
                                  f"got {treatment!r}")
        return self.treatments.index(treatment)

    def _check_model(self, model: str | None) -> None:
        if model is not None and resolve_model(model) != self.model:
            raise ValidationError(f"this Bayesian fit is the {self.model} model only; "
                                  f"got model={model!r}")

    def _pairs(self, i1: np.ndarray, i2: np.ndarray) -> pd.DataFrame:
        """Posterior summaries of treatment i1 minus treatment i2 for arrays of pairs."""
        theta = self.theta_draws()
        x = theta[..., i1] - theta[..., i2]
        alpha = (1 - self.level) / 2
        out = {"estimate": x.mean(axis=(0, 1)), "sd": x.std(axis=(0, 1), ddof=1),
               "median": np.median(x, axis=(0, 1))}
        out["ci_low"], out["ci_high"] = np.quantile(x, [alpha, 1 - alpha], axis=(0, 1))
        if self.model == "random":
            rng = np.random.default_rng(self.random_seed)
            pred = x + (self.tau_draws() * rng.standard_normal(x.shape[:2]))[..., None]
            out["pi_low"], out["pi_high"] = np.quantile(pred, [alpha, 1 - alpha], axis=(0, 1))
        else:
            out["pi_low"] = out["pi_high"] = np.full(x.shape[-1], np.nan)
        out.update(_draw_diagnostics(x))
        return pd.DataFrame(out)[BAYES_COLUMNS]

    # -- effects -----------------------------------------------------------------------
    def effects(self, reference: str | None = None, model: str | None = None) -> pd.DataFrame:
        """Every treatment against ``reference`` (default: the fit's reference).

        DataFrame indexed by treatment (reference left out): posterior ``estimate`` (mean),
        ``sd``, ``median``, credible interval ``ci_low``/``ci_high``, predictive interval of
        the effect in a new study ``pi_low``/``pi_high`` (NaN for the common-effect model),
        Monte Carlo SE of the mean ``mcse``, ``ess_bulk`` and ``r_hat``. ``model`` is accepted
        for compatibility with the frequentist result and must name the fitted model.
        """
        self._check_model(model)
        ref = self._index(reference if reference is not None else self.reference)
        others = np.array([i for i in range(len(self.treatments)) if i != ref])
        frame = self._pairs(others, np.full(others.size, ref))
        frame.index = pd.Index([self.treatments[i] for i in others], name="treatment")
        frame.attrs["reference"] = self.treatments[ref]
        return frame

    def to_frame(self) -> pd.DataFrame:
        """Tidy table of every pair: term, treat1, treat2, model and the ``effects()`` columns.

        Pairs are listed with treat2 earlier in treatment order than treat1 (as the
        frequentist ``to_frame``).
        """
        i1, i2 = np.triu_indices(len(self.treatments), 1)
        frame = self._pairs(i2, i1)
        frame.insert(0, "model", self.model)
        frame.insert(0, "treat2", [self.treatments[i] for i in i1])
        frame.insert(0, "treat1", [self.treatments[i] for i in i2])
        frame.insert(0, "term", [f"{self.treatments[b]} vs {self.treatments[a]}"
                                 for a, b in zip(i1, i2)])
        return frame

    def league_table(self, digits: int = 2) -> pd.DataFrame:
        """Cell (row A, column B): posterior mean of A minus B with its credible interval."""
        n = len(self.treatments)
        i1, i2 = np.nonzero(~np.eye(n, dtype=bool))
        frame = self._pairs(i1, i2)
        cells = [[self.treatments[i] if i == j else "" for j in range(n)] for i in range(n)]
        for a, b, r in zip(i1, i2, frame.itertuples()):
            cells[a][b] = (f"{r.estimate:.{digits}f} ({r.ci_low:.{digits}f}, "
                           f"{r.ci_high:.{digits}f})")
        return pd.DataFrame(cells, index=pd.Index(self.treatments, name="treatment"),
                            columns=list(self.treatments))

    def heterogeneity(self) -> pd.Series:
        """Posterior of tau: mean, sd, median, ci_low, ci_high (tau fixed: that value)."""
        t = self.tau_draws()
        alpha = (1 - self.level) / 2
        lo, hi = np.quantile(t, [alpha, 1 - alpha])
        return pd.Series({"estimate": t.mean(), "sd": t.std(ddof=1), "median": np.median(t),
                          "ci_low": lo, "ci_high": hi}, name="tau")

    # -- ranking -----------------------------------------------------------------------
    def _ranks(self, small_values: str) -> np.ndarray:
        small = resolve_small_values(small_values)
        theta = self.theta_draws().reshape(-1, len(self.treatments))
        if small == "bad":
            theta = -theta
        return np.argsort(np.argsort(theta, axis=1), axis=1) + 1  # 1 = best

    def rank_probabilities(self, small_values: str = "good") -> pd.DataFrame:
        """Rankogram: posterior probability of each rank (columns 1..n; 1 = best) per treatment.

        ``small_values="good"`` when small effects are desirable (less pain), "bad" otherwise.
        """
        ranks = self._ranks(small_values)
        n = len(self.treatments)
        probs = np.stack([(ranks == r).mean(axis=0) for r in range(1, n + 1)], axis=1)
        return pd.DataFrame(probs, index=pd.Index(self.treatments, name="treatment"),
                            columns=pd.Index(range(1, n + 1), name="rank"))

    def sucra(self, small_values: str = "good") -> pd.Series:
        """SUCRA = (n - mean rank)/(n - 1) from the posterior ranks (Salanti et al. 2011)."""
        n = len(self.treatments)
        mean_rank = self._ranks(small_values).mean(axis=0)
        return pd.Series((n - mean_rank) / (n - 1),
                         index=pd.Index(self.treatments, name="treatment"), name="sucra")

    def ranking(self, small_values: str = "good") -> pd.DataFrame:
        """sucra, mean_rank, median_rank and p_best per treatment; best SUCRA first."""
        ranks = self._ranks(small_values)
        n = len(self.treatments)
        frame = pd.DataFrame({"sucra": (n - ranks.mean(axis=0)) / (n - 1),
                              "mean_rank": ranks.mean(axis=0),
                              "median_rank": np.median(ranks, axis=0),
                              "p_best": (ranks == 1).mean(axis=0)},
                             index=pd.Index(self.treatments, name="treatment"))
        return frame.sort_values("sucra", ascending=False, kind="stable")

    # -- diagnostics -------------------------------------------------------------------
    def diagnostics(self) -> dict[str, float]:
        """max_r_hat, min_ess_bulk, min_ess_tail over d and tau; divergences (count)."""
        import arviz as az

        names = ["u", "d"] + (["tau"] if "tau" in self.idata.posterior else [])
        post = self.idata.posterior[names]
        multi = post.sizes["chain"] > 1  # R-hat compares chains: undefined for one
        rhat = az.rhat(post) if multi else None
        bulk = az.ess(post, method="bulk")
        tail = az.ess(post, method="tail")
        stats = self.idata.sample_stats
        div = int(stats["diverging"].sum()) if "diverging" in stats else 0
        return {"max_r_hat": (max(float(rhat[v].max()) for v in names) if multi
                              else float("nan")),
                "min_ess_bulk": min(float(bulk[v].min()) for v in names),
                "min_ess_tail": min(float(tail[v].min()) for v in names),
                "divergences": div}

    def diagnostic_problems(self) -> list[str]:
        """Plain-language list of failed checks (empty when sampling looks fine)."""
        diag = self.diagnostics()
        ess_min = ESS_PER_CHAIN_MIN * self.chains
        problems = []
        if diag["divergences"]:
            problems.append(f"{diag['divergences']} divergent transitions (raise target_accept"
                            + (" or use parametrization='marginal'"
                               if self.parametrization == "non-centred" and self.model == "random"
                               and self.tau_fixed is None else "") + ")")
        if self.chains < 2:
            problems.append("convergence cannot be checked with one chain (R-hat needs two "
                            "or more; use chains >= 2)")
        elif not diag["max_r_hat"] <= RHAT_MAX:
            problems.append(f"max R-hat {diag['max_r_hat']:.3f} > {RHAT_MAX}")
        for kind in ("bulk", "tail"):
            if not diag[f"min_ess_{kind}"] >= ess_min:
                problems.append(f"min {kind} ESS {diag[f'min_ess_{kind}']:.0f} < {ess_min} "
                                f"({ESS_PER_CHAIN_MIN} per chain)")
        return problems

    def check_diagnostics(self) -> None:
        """Warn (PainstatsWarning) if divergences, R-hat or ESS signal unreliable sampling."""
        problems = self.diagnostic_problems()
        if problems:
            warnings.warn("Bayesian network meta-analysis: sampling may be unreliable: "
                          + "; ".join(problems) + ". Increase draws/tune or target_accept.",
                          PainstatsWarning, stacklevel=3)

    # -- plots ---------------------------------------------------------------------------
    def plot_forest(self, reference: str | None = None, ax: Any = None, **kwargs: Any) -> Any:
        """Forest plot of posterior means with credible (and predictive) intervals."""
        from painstats.meta.network.plots import plot_forest

        return plot_forest(self, reference=reference, ax=ax, **kwargs)

    def plot_rankogram(self, small_values: str = "good", ax: Any = None, **kwargs: Any) -> Any:
        """Rank probabilities; see :func:`painstats.meta.network.plot_rankogram`."""
        from painstats.meta.network.bayes_plots import plot_rankogram

        return plot_rankogram(self, small_values=small_values, ax=ax, **kwargs)

    # -- printing ------------------------------------------------------------------------
    def summary(self, small_values: str | None = None) -> Summary:
        """Priors, sampler, effects vs the reference, tau, diagnostics (and SUCRA if asked).

        ``small_values`` ("good"/"bad") adds the ranking. Failed diagnostics are listed on a
        WARNING line and raise a PainstatsWarning again, as at fitting time.
        """
        self.check_diagnostics()
        title = (f"Bayesian network meta-analysis (k = {self.k} studies, m = {self.m} contrasts, "
                 f"n = {len(self.treatments)} treatments; "
                 f"{'random-effects' if self.model == 'random' else 'common-effect'} model)")
        pct = f"{100 * self.level:g}%"
        lines = [title, (f"Measure: {self.measure or 'as given (contrasts)'}; reference: "
                         f"{self.reference}"), f"Priors: {self._prior_text()}",
                 (f"Sampler: {self.sampler} NUTS, {self.chains} chains x {self.draws} draws "
                  f"({self.tune} tuning), target_accept = {self.target_accept:g}, "
                  f"random_seed = {self.random_seed}"
                  + (f"; {self.parametrization} random effects"
                     if self.model == "random" and self.tau_fixed is None else "")), "",
                 f"Treatments vs '{self.reference}' (posterior mean, SD, {pct} credible"
                 + (" and predictive" if self.model == "random" else "") + " intervals):", ""]
        lines += [_effects_text(self.effects(), self.model), ""]
        if self.model == "random":
            h = self.heterogeneity()
            lines.append(f"tau: mean = {fmt(h.estimate)}, sd = {fmt(h.sd)}, median = "
                         f"{fmt(h['median'])}, {pct} CrI ({fmt(h.ci_low)}, {fmt(h.ci_high)})"
                         if self.tau_fixed is None else f"tau fixed at {fmt(self.tau_fixed)}")
            lines.append("")
        if small_values is not None:
            rk = self.ranking(small_values)
            rows = [[f"{r.sucra:.3f}", f"{r.mean_rank:.2f}", f"{r.p_best:.3f}"]
                    for r in rk.itertuples()]
            lines += [f"Ranking (small values are {resolve_small_values(small_values)}):", "",
                      table(["SUCRA", "mean rank", "P(best)"], rows,
                            index=[str(i) for i in rk.index]), ""]
        diag = self.diagnostics()
        lines.append(f"Diagnostics (d, tau): max R-hat = {diag['max_r_hat']:.3f}; min ESS bulk = "
                     f"{diag['min_ess_bulk']:.0f}, tail = {diag['min_ess_tail']:.0f}; "
                     f"divergent transitions = {diag['divergences']}")
        problems = self.diagnostic_problems()
        if problems:
            lines.append("WARNING: " + "; ".join(problems))
        if self.data.n_dropped:
            lines.append(f"{self.data.n_dropped} input row(s) with missing values dropped")
        return Summary("\n".join(lines) + "\n")

    def _prior_text(self) -> str:
        out = f"d ~ Normal(0, {self.priors['d'][1]:.4g}^2)"
        if self.model == "random":
            if self.tau_fixed is not None:
                return out + f"; tau fixed at {self.tau_fixed:.4g}"
            kind, scale = self.priors["tau"]
            if kind == "prior":
                return out + f"; tau ~ {scale.label()}"
            out += (f"; tau ~ HalfNormal({scale:.4g})" if kind == "half-normal"
                    else f"; tau ~ Uniform(0, {scale:.4g})")
        return out

    def __str__(self) -> str:
        return str(self.summary())


def _draw_diagnostics(x: np.ndarray) -> dict[str, np.ndarray]:
    """MCSE of the mean, bulk ESS and R-hat of (chain, draw, p) draws, per column."""
    import arviz as az
    import xarray as xr

    ds = xr.Dataset({"x": (("chain", "draw", "pair"), x)})
    return {"mcse": az.mcse(ds, method="mean")["x"].to_numpy(),
            "ess_bulk": az.ess(ds, method="bulk")["x"].to_numpy(),
            "r_hat": (az.rhat(ds)["x"].to_numpy() if x.shape[0] > 1
                      else np.full(x.shape[-1], np.nan))}


def _effects_text(frame: pd.DataFrame, model: str) -> str:
    header = ["mean", "sd", "ci.lb", "ci.ub"] + (["pi.lb", "pi.ub"] if model == "random" else [])
    header += ["mcse", "ess", "rhat"]
    rows = []
    for r in frame.itertuples():
        row = [fmt(r.estimate), fmt(r.sd), fmt(r.ci_low), fmt(r.ci_high)]
        if model == "random":
            row += [fmt(r.pi_low), fmt(r.pi_high)]
        rows.append(row + [fmt(r.mcse), f"{r.ess_bulk:.0f}", f"{r.r_hat:.3f}"])
    return table(header, rows, index=[str(i) for i in frame.index])
