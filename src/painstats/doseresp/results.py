"""Result of a Bayesian dose-response meta-analysis: posterior curves, optimal dose, LOO."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from painstats.doseresp._data import DoseData
from painstats.doseresp._model import Design, basis_matrix
from painstats.doseresp._sampling import divergences
from painstats.errors import InputTypeError, PainstatsWarning, ValidationError
from painstats.meta._summary import Summary

__all__ = ["MAX_RHAT", "MIN_ESS_PER_CHAIN", "DoseResponseResult"]

#: Convergence thresholds (Vehtari, Gelman, Simpson, Carpenter, Buerkner 2021).
MAX_RHAT = 1.01
MIN_ESS_PER_CHAIN = 100

_DIRECTIONS = ("auto", "increase", "decrease")


@dataclass(frozen=True, slots=True)
class DoseResponseResult:
    """A fitted Bayesian dose-response meta-analysis (see :func:`painstats.doseresp.fit`)."""

    idata: Any = field(repr=False)  #: arviz.InferenceData (posterior, sample_stats, log_likelihood)
    data: DoseData = field(repr=False)  #: the contrasts analysed
    design: Design  #: curve families, knots, random-effects structure, priors used
    sampler: str
    draws: int
    tune: int
    chains: int
    target_accept: float
    random_seed: int | None

    # ------------------------------------------------------------------ draws
    @property
    def dose_names(self) -> tuple[str, ...]:
        return self.data.dose_names

    @property
    def groups(self) -> tuple[str, ...]:
        return self.data.group_names

    def _draws(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        post = self.idata.posterior
        beta = post["beta"].stack(sample=("chain", "draw")).transpose("sample", "group", "coef")
        phi = {}
        for c in self.design.curves:
            for p in c.nonlinear:
                name = f"{p}_{c.dose}"
                phi[name] = post[name].stack(sample=("chain", "draw")).transpose(
                    "sample", "group").to_numpy()
        return beta.to_numpy(), phi

    def curve_draws(self, doses: Any = None, *, group: str | None = None) -> np.ndarray:
        """Posterior draws of the effect vs control, shaped (draws x chains, doses)."""
        grid = self._dose_grid(doses)
        g = self._group_index(group)
        beta, phi = self._draws()
        local = {k: v[:, g][:, None] for k, v in phi.items()}
        cols = basis_matrix(self.design, grid[None, :, :], local)
        out = np.zeros((beta.shape[0], grid.shape[0]))
        for j, col in enumerate(cols):
            out += beta[:, g, j][:, None] * col
        return out

    # ----------------------------------------------------------------- curves
    def curve(self, doses: Any = None, *, group: str | None = None,
              prob: float = 0.95) -> pd.DataFrame:
        """Posterior mean and equal-tailed credible band of the effect vs control.

        Parameters
        ----------
        doses : array_like, DataFrame or mapping, optional
            One dose column: a list of doses (default: 101 points from 0 to the largest
            observed dose). Two dose columns: a DataFrame (or mapping) with both columns, or
            the default 41 x 41 grid.
        group : str, optional
            Group (e.g. agent) whose curve to return; default every group.
        prob : float
            Probability of the credible band.

        Returns
        -------
        DataFrame
            Dose column(s), ``group``, ``mean``, ``median``, ``sd``, ``ci_low``, ``ci_high``.
        """
        lo, hi = _band(prob)
        frames = []
        for g in self._groups_for(group):
            grid = self._dose_grid(doses)
            dr = self.curve_draws(grid, group=g)
            f = pd.DataFrame(grid, columns=list(self.dose_names))
            if len(self.groups) > 1:
                f["group"] = g
            f["mean"] = dr.mean(axis=0)
            f["median"] = np.median(dr, axis=0)
            f["sd"] = dr.std(axis=0, ddof=1)
            f["ci_low"] = np.quantile(dr, lo, axis=0)
            f["ci_high"] = np.quantile(dr, hi, axis=0)
            frames.append(f)
        return pd.concat(frames, ignore_index=True)

    def prob_exceeds(self, threshold: float, doses: Any = None, *, group: str | None = None,
                     direction: str = "greater") -> pd.DataFrame:
        """Posterior probability that the effect vs control is beyond ``threshold``.

        ``direction="greater"`` gives P(effect > threshold); ``"less"`` gives P(effect <
        threshold) (e.g. a pain reduction of at least 10 mm: ``prob_exceeds(-10, direction=
        "less")``).
        """
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)) \
                or not np.isfinite(threshold):
            raise InputTypeError(f"threshold must be a finite number; got {threshold!r}")
        if direction not in ("greater", "less"):
            raise ValidationError(f"direction must be 'greater' or 'less'; got {direction!r}")
        frames = []
        for g in self._groups_for(group):
            grid = self._dose_grid(doses)
            dr = self.curve_draws(grid, group=g)
            f = pd.DataFrame(grid, columns=list(self.dose_names))
            if len(self.groups) > 1:
                f["group"] = g
            f["prob"] = (dr > threshold).mean(axis=0) if direction == "greater" else \
                (dr < threshold).mean(axis=0)
            frames.append(f)
        return pd.concat(frames, ignore_index=True)

    def optimal_dose(self, *, prob: float = 0.95, group: str | None = None,
                     direction: str = "auto", at: Mapping[str, float] | None = None,
                     fractions: Sequence[float] = (0.8, 0.9), n_grid: int = 501) -> pd.DataFrame:
        """Optimal dose over the observed dose range, with credible intervals.

        For a curve family that is not monotone (quadratic, spline) the dose of the largest
        effect (``dose_at_max``: ``estimate`` is the argmax of the posterior mean curve,
        ``mean``/``ci_*`` summarise the argmax of each draw), the effect at that dose
        (``effect_at_max``, as Crippa & Orsini 2016 report it) and the largest effect of each
        draw (``max_effect``). For monotone families the smallest dose reaching 80% and 90%
        of the largest effect over the observed range (``ED80``, ``ED90``; per draw, linear
        interpolation on the grid) and the effect at the largest observed dose.

        ``direction``: "increase" (larger effects are better), "decrease" (e.g. pain scores)
        or "auto" (the sign of the posterior-mean effect of largest size). With two dose
        columns, fix the other one with ``at={"load_pct_1rm": 60}``.
        """
        lo, hi = _band(prob)
        if direction not in _DIRECTIONS:
            raise ValidationError(f"direction must be one of {list(_DIRECTIONS)}; got {direction!r}")
        free, grid = self._line_grid(at, n_grid)
        curve = self.design.curves[free]
        monotone = curve.monotone and not self.design.interaction
        rows = []
        for g in self._groups_for(group):
            dr = self.curve_draws(grid, group=g)
            mean_curve = dr.mean(axis=0)
            sign = self._sign(direction, mean_curve)
            x = grid[:, free]
            if monotone:
                rows += _ed_rows(x, sign * dr, sign * mean_curve, fractions, lo, hi, g)
                eff = dr[:, -1]
                rows.append((g, "effect_at_max_dose", float(mean_curve[-1]), eff.mean(),
                             *np.quantile(eff, [lo, hi])))
            else:
                rows += _argmax_rows(x, dr, sign, lo, hi, g)
        out = pd.DataFrame(rows, columns=["group", "quantity", "estimate", "mean", "ci_low",
                                          "ci_high"])
        return out if len(self.groups) > 1 else out.drop(columns="group")

    # ------------------------------------------------------------ diagnostics
    def diagnostics(self) -> pd.DataFrame:
        """R-hat, bulk and tail ESS of every parameter (ArviZ)."""
        import arviz as az

        names = self._param_names()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # R-hat of constant draws
            return az.summary(self.idata, var_names=names, kind="diagnostics", round_to="none")

    def check_convergence(self) -> list[str]:
        """Problems (R-hat > 1.01, ESS < 100 per chain, divergences), each as a PainstatsWarning."""
        diag = self.diagnostics()
        problems = []
        n_div = divergences(self.idata)
        if n_div:
            problems.append(f"{n_div} divergent transitions after tuning (raise target_accept)")
        bad_r = diag.index[diag["r_hat"] > MAX_RHAT].tolist()
        if bad_r:
            problems.append(f"R-hat > {MAX_RHAT} for {bad_r} (max {diag['r_hat'].max():.3f})")
        min_ess = MIN_ESS_PER_CHAIN * self.chains
        ess = diag[["ess_bulk", "ess_tail"]].min(axis=1)
        bad_e = ess.index[ess < min_ess].tolist()
        if bad_e:
            problems.append(f"ESS < {min_ess} ({MIN_ESS_PER_CHAIN} per chain) for {bad_e} "
                            f"(min {ess.min():.0f}); draw more")
        if problems:
            warnings.warn("dose-response fit did not converge well: " + "; ".join(problems),
                          PainstatsWarning, stacklevel=3)
        return problems

    # ---------------------------------------------------------------- compare
    def compare(self, other_fits: Sequence[DoseResponseResult] | Mapping[str, Any], *,
                names: Sequence[str] | None = None) -> pd.DataFrame:
        """Compare this fit with others on the same data by PSIS-LOO (``arviz.compare``).

        The log-likelihood is per study (leave-one-study-out). Pareto-k warnings from ArviZ
        are re-issued as one PainstatsWarning.
        """
        import arviz as az

        if isinstance(other_fits, Mapping):
            fits = {"self": self, **dict(other_fits)}
        else:
            if isinstance(other_fits, DoseResponseResult):
                other_fits = [other_fits]
            others = list(other_fits)
            labels = list(names) if names is not None else \
                [self.label()] + [o.label() for o in others]
            if len(labels) != len(others) + 1:
                raise ValidationError(f"names needs {len(others) + 1} labels (this fit first); "
                                      f"got {len(labels)}")
            labels = _unique(labels)
            fits = dict(zip(labels, [self, *others]))
        for name, f in fits.items():
            if not isinstance(f, DoseResponseResult):
                raise InputTypeError(f"compare takes dose-response results; {name!r} is "
                                     f"{type(f).__name__}")
            if "log_likelihood" not in f.idata.groups():
                raise ValidationError(f"fit {name!r} has no log_likelihood group")
            if f.data.labels != self.data.labels or not np.array_equal(f.data.yi, self.data.yi):
                raise ValidationError(f"fit {name!r} was fitted to other data; LOO comparisons "
                                      "need the same studies and contrasts")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            table = az.compare({k: v.idata for k, v in fits.items()}, ic="loo")
        msgs = sorted({str(w.message) for w in caught if issubclass(w.category, UserWarning)})
        if msgs:
            warnings.warn("LOO comparison: " + " | ".join(msgs) + " (few studies: PSIS-LOO "
                          "per study is unreliable; treat the ranking with caution)",
                          PainstatsWarning, stacklevel=2)
        return table

    def label(self) -> str:
        """Short description such as ``emax(sessions) [random=parameters]``."""
        parts = [f"{c.family}({c.dose})" for c in self.design.curves]
        inter = " x" if self.design.interaction else ""
        return " + ".join(parts) + inter + f" [random={self.design.random}]"

    # ----------------------------------------------------------- summaries
    def to_frame(self, prob: float = 0.95) -> pd.DataFrame:
        """Tidy parameter table: term, estimate (posterior mean), se (posterior SD), ci_low,
        ci_high (equal-tailed), r_hat, ess_bulk, ess_tail."""
        lo, hi = _band(prob)
        diag = self.diagnostics()
        rows = []
        post = self.idata.posterior
        for name in self._param_names():
            da = post[name]
            extra = [d for d in da.dims if d not in ("chain", "draw")]
            flat = da.stack(sample=("chain", "draw"))
            if not extra:
                items = [(name, flat.to_numpy())]
            else:
                flat = flat.stack(param=extra).transpose("param", "sample")
                items = []
                for idx, vals in zip(flat["param"].to_numpy(), flat.to_numpy()):
                    key = idx if isinstance(idx, tuple) else (idx,)
                    items.append((f"{name}[{', '.join(str(k) for k in key)}]", vals))
            for term, vals in items:
                d = diag.loc[term] if term in diag.index else None
                rows.append({"term": term, "estimate": vals.mean(), "se": vals.std(ddof=1),
                             "ci_low": np.quantile(vals, lo), "ci_high": np.quantile(vals, hi),
                             "r_hat": np.nan if d is None else d["r_hat"],
                             "ess_bulk": np.nan if d is None else d["ess_bulk"],
                             "ess_tail": np.nan if d is None else d["ess_tail"]})
        return pd.DataFrame(rows)

    def summary(self, prob: float = 0.95) -> Summary:
        """Printable summary: model, data, sampler, parameters with R-hat, ESS, divergences."""
        d = self.data
        n_div = divergences(self.idata)
        lines = [
            f"Bayesian dose-response meta-analysis: {self.label()}",
            (f"studies = {d.n_studies}; contrasts vs control = {d.yi.size}; "
             f"{d.form}-level input; groups = {len(d.group_names)}"),
            (f"sampler = {self.sampler}; chains = {self.chains}; draws = {self.draws}; "
             f"tune = {self.tune}; target_accept = {self.target_accept}; "
             f"seed = {self.random_seed}"),
            f"divergent transitions = {n_div}",
        ]
        for c in self.design.curves:
            if c.family == "rcs":
                lines.append(f"spline knots ({c.dose}): {', '.join(f'{k:g}' for k in c.knots)}")
        p = self.design.priors
        lines.append(f"priors: effect sd {p.effect:.4g}, tau half-normal {p.tau:.4g}")
        lines.append("")
        t = self.to_frame(prob)
        t = t.set_index("term")
        lines.append(t.to_string(float_format=lambda v: f"{v:.4g}"))
        problems = self.check_convergence()
        if problems:
            lines += ["", "WARNING: " + "; ".join(problems)]
        return Summary("\n".join(lines))

    # ------------------------------------------------------------------ plots
    def plot_curve(self, **kwargs):
        """Curve with credible band and the contrasts sized by precision
        (:func:`painstats.plots.doseresp.dose_response_curve`)."""
        from painstats.plots.doseresp import dose_response_curve

        return dose_response_curve(self, **kwargs)

    def plot_surface(self, **kwargs):
        """Contour plot of a two-dimensional fit (:func:`painstats.plots.doseresp.dose_surface`)."""
        from painstats.plots.doseresp import dose_surface

        return dose_surface(self, **kwargs)

    # ---------------------------------------------------------------- helpers
    def _param_names(self) -> list[str]:
        names = ["beta"]
        for c in self.design.curves:
            names += [f"{p}_{c.dose}" for p in c.nonlinear]
        if "tau" in self.idata.posterior:
            names.append("tau")
        return names

    def _groups_for(self, group: str | None) -> list[str]:
        if group is None:
            return list(self.groups)
        self._group_index(group)
        return [group]

    def _group_index(self, group: str | None) -> int:
        if group is None:
            if len(self.groups) > 1:
                raise ValidationError(f"give group=, one of {list(self.groups)}")
            return 0
        if group not in self.groups:
            raise ValidationError(f"group {group!r} is not one of {list(self.groups)}")
        return self.groups.index(group)

    def _dose_grid(self, doses: Any) -> np.ndarray:
        names = self.dose_names
        if doses is None:
            hi = self.data.doses.max(axis=0)
            if len(names) == 1:
                return np.linspace(0.0, hi[0], 101)[:, None]
            a, b = np.meshgrid(np.linspace(0, hi[0], 41), np.linspace(0, hi[1], 41), indexing="ij")
            return np.column_stack([a.ravel(), b.ravel()])
        if isinstance(doses, np.ndarray) and doses.ndim == 2 and doses.shape[1] == len(names):
            grid = doses.astype(float)
        elif isinstance(doses, (pd.DataFrame, Mapping)):
            missing = [n for n in names if n not in doses]
            if missing:
                raise ValidationError(f"doses must hold the dose column(s) {list(names)}; "
                                      f"missing {missing}")
            grid = np.column_stack([np.asarray(doses[n], float).ravel() for n in names])
        else:
            if len(names) != 1:
                raise ValidationError(f"this fit has two dose columns {list(names)}; pass doses "
                                      "as a DataFrame or mapping with both")
            try:
                grid = np.asarray(doses, float).reshape(-1, 1)
            except (TypeError, ValueError):
                raise InputTypeError(f"doses must be numbers; got {doses!r}") from None
        if not np.all(np.isfinite(grid)) or np.any(grid < 0):
            raise ValidationError("doses must be finite and non-negative")
        return grid

    def _line_grid(self, at: Mapping[str, float] | None, n_grid: int) -> tuple[int, np.ndarray]:
        names = self.dose_names
        at = dict(at or {})
        unknown = sorted(set(at) - set(names))
        if unknown:
            raise ValidationError(f"at= names unknown dose column(s) {unknown}; doses are {list(names)}")
        free = [i for i, n in enumerate(names) if n not in at]
        if len(free) != 1:
            raise ValidationError(f"optimal_dose varies one dose column; fix the others with at= "
                                  f"(doses: {list(names)}, at: {at})")
        k = free[0]
        grid = np.zeros((n_grid, len(names)))
        grid[:, k] = np.linspace(0.0, self.data.doses[:, k].max(), n_grid)
        for i, n in enumerate(names):
            if i != k:
                grid[:, i] = float(at[n])
        return k, grid

    @staticmethod
    def _sign(direction: str, mean_curve: np.ndarray) -> float:
        if direction == "increase":
            return 1.0
        if direction == "decrease":
            return -1.0
        j = int(np.argmax(np.abs(mean_curve)))
        return 1.0 if mean_curve[j] >= 0 else -1.0


def _band(prob: Any) -> tuple[float, float]:
    if isinstance(prob, bool) or not isinstance(prob, (int, float)) or not 0 < prob < 1:
        raise ValidationError(f"prob must be in (0, 1); got {prob!r}")
    return (1 - prob) / 2, 1 - (1 - prob) / 2


def _unique(labels: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        seen[lab] = seen.get(lab, 0) + 1
        out.append(lab if seen[lab] == 1 else f"{lab} #{seen[lab]}")
    return out


def _first_crossing(x: np.ndarray, e: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Smallest x with e >= target per row (linear interpolation); NaN when target <= 0."""
    hit = e >= target[:, None]
    j = np.argmax(hit, axis=1)
    rows = np.arange(e.shape[0])
    out = x[j].astype(float)
    ok = j > 0
    e0, e1 = e[rows[ok], j[ok] - 1], e[rows[ok], j[ok]]
    w = np.where(e1 > e0, (target[ok] - e0) / np.where(e1 > e0, e1 - e0, 1.0), 1.0)
    out[ok] = x[j[ok] - 1] + w * (x[j[ok]] - x[j[ok] - 1])
    out[~(target > 0)] = np.nan
    return out


def _ed_rows(x, e, mean_e, fractions, lo, hi, g) -> list[tuple]:
    rows = []
    emax = e.max(axis=1)
    for frac in fractions:
        if not 0 < frac < 1:
            raise ValidationError(f"fractions must lie in (0, 1); got {frac!r}")
        ed = _first_crossing(x, e, frac * emax)
        est = _first_crossing(x, mean_e[None, :], np.array([frac * mean_e.max()]))[0]
        ok = ed[np.isfinite(ed)]
        if ok.size < ed.size:
            warnings.warn(f"ED{frac * 100:g}: {ed.size - ok.size} of {ed.size} posterior draws "
                          "have no effect in the chosen direction and are left out",
                          PainstatsWarning, stacklevel=3)
        q = np.quantile(ok, [lo, hi]) if ok.size else (np.nan, np.nan)
        rows.append((g, f"ED{frac * 100:g}", float(est), float(np.mean(ok)) if ok.size else np.nan,
                     float(q[0]), float(q[1])))
    return rows


def _argmax_rows(x, dr, sign, lo, hi, g) -> list[tuple]:
    e = sign * dr
    j = np.argmax(e, axis=1)
    mean_curve = dr.mean(axis=0)
    jm = int(np.argmax(sign * mean_curve))
    arg = x[j]
    at_max = dr[:, jm]
    per_draw = dr[np.arange(dr.shape[0]), j]
    return [
        (g, "dose_at_max", float(x[jm]), float(arg.mean()), *np.quantile(arg, [lo, hi])),
        (g, "effect_at_max", float(mean_curve[jm]), float(at_max.mean()),
         *np.quantile(at_max, [lo, hi])),
        (g, "max_effect", float(per_draw.mean()), float(per_draw.mean()),
         *np.quantile(per_draw, [lo, hi])),
    ]
