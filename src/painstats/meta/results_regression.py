"""Result of a mixed-effects meta-regression, and its omnibus test and pseudo-R^2."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from painstats.errors import ValidationError
from painstats.meta._kernels.fit import RMAFit, fit_rma
from painstats.meta._summary import SIGNIF_LEGEND, Summary, fmt, p_eq, table
from painstats.meta.results import TIDY_COLUMNS, coef_rows, heterogeneity_lines

__all__ = ["MetaRegressionResult", "moderator_test", "pseudo_r2"]


def _tested(terms: list[str]) -> np.ndarray:
    """Indices of the coefficients in the omnibus test: all but the intercept."""
    idx = [i for i, t in enumerate(terms) if t != "Intercept"]
    return np.array(idx if idx else list(range(len(terms))), dtype=int)


def moderator_test(fit: RMAFit, terms: list[str], test: str):
    """Wald chi^2 test of the moderators; F = Wald/m with (m, k - p) df under t/hksj."""
    btt = _tested(terms)
    b = fit.beta[btt]
    V = fit.vcov[np.ix_(btt, btt)]
    m = btt.size
    try:
        wald = float(b @ np.linalg.solve(V, b))
    except np.linalg.LinAlgError:
        wald = float("nan")
    if test == "z":
        return wald, m, float(special.chdtrc(m, wald))
    ddf = int(fit.q_df)
    f = wald / m
    return f, (m, ddf), float(special.fdtrc(m, ddf, f)) if ddf > 0 else float("nan")


def _contains_intercept(X: np.ndarray) -> bool:
    ones = np.ones(X.shape[0])
    coef, *_ = np.linalg.lstsq(X, ones, rcond=None)
    return bool(np.allclose(X @ coef, ones, atol=1e-8))


def pseudo_r2(fit: RMAFit, X: np.ndarray, studies, method: str) -> float:
    """metafor's R^2 (percent): proportional reduction of tau^2 against the intercept-only model.

    For the common-effect model, 100 x the adjusted R^2 of the weighted least-squares fit.
    NaN when the model is intercept-only or does not contain the intercept.
    """
    k, p = X.shape
    if p == 1 and _contains_intercept(X) or not _contains_intercept(X):
        return float("nan")
    if method == "FE":
        if np.var(studies.yi) == 0:
            return 0.0
        if k == p:  # saturated: R's adjusted R^2 is NaN (0 residual df)
            return float("nan")
        q0 = float(fit_rma(studies.yi, studies.vi, method="FE").q)
        adj = 1.0 - (float(fit.q) / q0) * (k - 1) / (k - p)
        return max(0.0, 100.0 * adj)
    tau2_re = float(fit_rma(studies.yi, studies.vi, method=method).tau2)
    if tau2_re == 0:
        return 0.0
    return max(0.0, 100.0 * (tau2_re - float(fit.tau2)) / tau2_re)


@dataclass(frozen=True, slots=True)
class MetaRegressionResult:
    """A fitted mixed-effects meta-regression (metafor ``rma(yi, vi, mods=...)``)."""

    formula: str
    coef: pd.DataFrame  #: index term; estimate, se, statistic, pvalue, ci_low, ci_high
    vcov: np.ndarray = field(repr=False)
    tau2: float = 0.0  #: residual heterogeneity
    tau2_se: float = float("nan")
    i2: float = 0.0  #: residual I^2, percent
    h2: float = 1.0
    r2: float = float("nan")  #: percent of tau^2 accounted for by the moderators
    qm: float = float("nan")  #: omnibus test of moderators (chi^2, or F under t/hksj)
    qm_df: Any = None  #: m, or (m, k - p) for the F-test
    qm_pvalue: float = float("nan")
    qe: float = float("nan")  #: residual heterogeneity Q (FE weights)
    qe_df: int = 0
    qe_pvalue: float = float("nan")
    k: int = 0
    df: float = float("inf")
    crit: float = float("nan")
    method: str = "REML"
    test: str = "z"
    level: float = 0.95
    labels: Sequence[str] = field(default=(), repr=False)
    n_dropped: int = 0
    model_spec: Any = field(default=None, repr=False)
    X: np.ndarray = field(default=None, repr=False)
    yi: np.ndarray = field(default=None, repr=False)
    vi: np.ndarray = field(default=None, repr=False)

    def predict(self, new_data: pd.DataFrame) -> pd.DataFrame:
        """Predicted average effect at new moderator values (metafor ``predict(newmods=)``).

        Returns a DataFrame with ``pred, se, ci_low, ci_high, pi_low, pi_high``; the
        prediction interval adds tau^2 and uses the same critical value as the CI.
        """
        if not isinstance(new_data, pd.DataFrame):
            raise ValidationError("new_data must be a DataFrame with the moderator columns")
        try:
            Xn = np.asarray(self.model_spec.get_model_matrix(new_data), dtype=float)
        except Exception as exc:
            raise ValidationError(f"new_data does not fit the model's moderators: {exc}") from exc
        beta = self.coef["estimate"].to_numpy()
        pred = Xn @ beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", Xn, self.vcov, Xn))
        half_pi = self.crit * np.sqrt(se**2 + self.tau2)
        out = pd.DataFrame({
            "pred": pred, "se": se, "ci_low": pred - self.crit * se,
            "ci_high": pred + self.crit * se,
            "pi_low": pred - half_pi if self.method != "FE" else np.nan,
            "pi_high": pred + half_pi if self.method != "FE" else np.nan,
        }, index=new_data.index)
        return out

    def plot_bubble(self, moderator: str, **kwargs):
        """Bubble plot against one moderator (:func:`painstats.plots.bubble`)."""
        from painstats import plots

        return plots.bubble(self, moderator, **kwargs)

    def to_frame(self) -> pd.DataFrame:
        """Tidy coefficient table: term, estimate, se, statistic, df, p_value, ci_low, ci_high."""
        c = self.coef
        return pd.DataFrame({
            "term": c.index.to_list(), "estimate": c["estimate"].to_numpy(),
            "se": c["se"].to_numpy(), "statistic": c["statistic"].to_numpy(),
            "df": self.df, "p_value": c["pvalue"].to_numpy(),
            "ci_low": c["ci_low"].to_numpy(), "ci_high": c["ci_high"].to_numpy(),
        }, columns=TIDY_COLUMNS)

    def summary(self) -> Summary:
        """metafor-style print-out."""
        kind = "Common-Effects with Moderators" if self.method == "FE" else "Mixed-Effects"
        est = "" if self.method == "FE" else f"; tau^2 estimator: {self.method}"
        lines = [f"{kind} Model (k = {self.k}{est})", ""]
        lines += heterogeneity_lines(self.method, self.tau2, self.tau2_se, self.i2, self.h2,
                                     residual=True, r2=self.r2)
        lines += ["", "Test for Residual Heterogeneity:",
                  f"QE(df = {self.qe_df}) = {fmt(self.qe)}, p-val {p_eq(self.qe_pvalue)}", ""]
        m = self.qm_df if isinstance(self.qm_df, int) else self.qm_df[0]
        lines.append(f"Test of Moderators (coefficient{'s' if m > 1 else ''} tested: {m}):")
        if self.test == "z":
            lines.append(f"QM(df = {m}) = {fmt(self.qm)}, p-val {p_eq(self.qm_pvalue)}")
        else:
            lines.append(f"F(df1 = {m}, df2 = {self.qm_df[1]}) = {fmt(self.qm)}, "
                         f"p-val {p_eq(self.qm_pvalue)}")
        c = self.coef
        header, rows = coef_rows(c["estimate"].to_numpy(), c["se"].to_numpy(),
                                 c["statistic"].to_numpy(), self.df, c["pvalue"].to_numpy(),
                                 c["ci_low"].to_numpy(), c["ci_high"].to_numpy(), self.test)
        lines += ["", "Model Results:", "", table(header, rows, index=list(c.index))]
        lines += ["", "---", SIGNIF_LEGEND]
        return Summary("\n".join(lines))

    def __str__(self) -> str:
        return str(self.summary())
