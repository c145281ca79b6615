"""Permutation tests for meta-analysis and meta-regression: ``permutation_test``.

The permuted datasets are refitted in batches by the one kernel (:func:`fit_rma`), never
one by one: an exact test of a meta-regression with k = 8 (40320 permutations) is a few
batched calls.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from painstats._validation import check_count
from painstats.errors import ConvergenceError, InputTypeError, ValidationError
from painstats.meta._kernels.fit import fit_rma
from painstats.meta._summary import SIGNIF_LEGEND, Summary, fmt, fmt_p, p_eq, stars, table
from painstats.meta.results import TIDY_COLUMNS, RandomEffectsResult
from painstats.meta.results_regression import MetaRegressionResult

__all__ = ["COMPARISON_TOLERANCE", "MAX_EXACT", "PermutationTestResult", "permutation_test"]

#: A permuted statistic counts as "at least as extreme" when it is >= the observed one minus
#: this tolerance (metafor's ``comptol`` = sqrt(machine epsilon)), so that permutations that
#: reproduce the observed statistic up to rounding are counted.
COMPARISON_TOLERANCE = float(np.sqrt(np.finfo(float).eps))
#: The largest number of permutations enumerated for an exact test.
MAX_EXACT = 2**22
#: Elements (permutations x studies x coefficients) fitted per kernel call.
_CHUNK_ELEMENTS = 2**21


@dataclass(frozen=True, slots=True)
class PermutationTestResult:
    """Permutation p-values of a fitted model (metafor ``permutest``).

    ``pvalue`` is the permutation p-value of the pooled estimate for an intercept-only
    model and of the omnibus test of moderators (QM) for a meta-regression.
    """

    pvalue: float
    coef: pd.DataFrame  #: the model's estimate, se, statistic, ci_low, ci_high; pvalue = permutation
    coef_pvalues: pd.Series  #: permutation p-value of each coefficient (two-sided, |statistic|)
    qm: float  #: the model's omnibus statistic (Wald chi^2, or F under t/hksj)
    qm_df: Any
    qm_pvalue: float  #: permutation p-value of QM
    n_permutations: int  #: permutations evaluated (the observed data included)
    exact: bool
    n_exact: float  #: number of distinct permutations (2^k sign flips, or unique row orders)
    null_statistics: pd.DataFrame = field(repr=False)  #: permuted z/t statistics, one column per term
    null_estimates: pd.DataFrame = field(repr=False)  #: permuted coefficients
    null_qm: np.ndarray = field(repr=False)  #: permuted omnibus statistics
    intercept_only: bool = True
    k: int = 0
    method: str = "REML"
    test: str = "z"
    level: float = 0.95
    df: float = float("inf")
    random_seed: Any = None

    def to_frame(self) -> pd.DataFrame:
        """Tidy table with the permutation p-values: term, estimate, se, statistic, df, ..."""
        c = self.coef
        return pd.DataFrame({
            "term": c.index.to_list(), "estimate": c["estimate"].to_numpy(),
            "se": c["se"].to_numpy(), "statistic": c["statistic"].to_numpy(), "df": self.df,
            "p_value": c["pvalue"].to_numpy(), "ci_low": c["ci_low"].to_numpy(),
            "ci_high": c["ci_high"].to_numpy(),
        }, columns=TIDY_COLUMNS)

    def summary(self) -> Summary:
        """metafor-style print-out of ``permutest()``."""
        kind = "exact" if self.exact else "approximate"
        what = "sign flips" if self.intercept_only else "permutations of the moderators"
        lines = [f"Permutation test ({kind}; {self.n_permutations} {what})", ""]
        if not self.intercept_only:
            m = self.qm_df if isinstance(self.qm_df, int) else self.qm_df[0]
            lines.append(f"Test of Moderators (coefficient{'s' if m > 1 else ''} tested: {m}):¹")
            if self.test == "z":
                lines.append(f"QM(df = {m}) = {fmt(self.qm)}, p-val {p_eq(self.qm_pvalue)}")
            else:
                lines.append(f"F(df1 = {m}, df2 = {self.qm_df[1]}) = {fmt(self.qm)}, "
                             f"p-val {p_eq(self.qm_pvalue)}")
            lines.append("")
        c = self.coef
        stat = "zval" if self.test == "z" else "tval"
        header = ["estimate", "se", stat] + (["df"] if self.test != "z" else []) + [
            "pval¹", "ci.lb", "ci.ub", ""]
        rows = []
        for term in c.index:
            r = c.loc[term]
            rows.append([fmt(r["estimate"]), fmt(r["se"]), fmt(r["statistic"])]
                        + ([f"{self.df:g}"] if self.test != "z" else [])
                        + [fmt_p(r["pvalue"]), fmt(r["ci_low"]), fmt(r["ci_high"]),
                           stars(r["pvalue"])])
        index = None if self.intercept_only else list(c.index)
        lines += ["Model Results:", "", table(header, rows, index=index), "", "---",
                  SIGNIF_LEGEND,
                  f"¹ p-value{'' if self.intercept_only else 's'} based on permutation testing"]
        return Summary("\n".join(lines))

    def __str__(self) -> str:
        return str(self.summary())


def permutation_test(
    model: RandomEffectsResult | MetaRegressionResult,
    *,
    n_permutations: int = 1000,
    exact: bool | None = None,
    random_seed: int | np.random.Generator | None = None,
    progress: bool = False,
) -> PermutationTestResult:
    """Permutation test of a random-effects model or meta-regression (metafor ``permutest``).

    For an intercept-only model the signs of the effect sizes are flipped (under the null
    hypothesis mu = 0 each y_i is as likely to be -y_i); for a meta-regression the rows of
    the moderators are permuted against (y_i, v_i) (Higgins & Thompson 2004). Each permuted
    dataset is refitted with the model's method and test, and the p-value is the proportion
    of permutations whose statistic is at least as extreme as the observed one. As metafor:

    * the comparison is two-sided on |z| (or |t|), and one-sided (>=) on QM, and a permuted
      statistic counts when it is >= the observed one minus ``COMPARISON_TOLERANCE``
      (sqrt(machine epsilon));
    * an exact test enumerates all 2^k sign patterns or all distinct orders of the
      moderator rows (k! divided by the orders of identical rows), the observed one among
      them; it is used when that number is at most ``n_permutations`` or ``exact=True``;
    * a random test uses ``n_permutations`` permutations of which the first is the observed
      data (so p >= 1/n_permutations).

    Parameters
    ----------
    model : RandomEffectsResult or MetaRegressionResult
        The fitted model; its yi, vi, moderators, method, test and level are reused.
    n_permutations : int, default 1000
        Number of permutations of a random test (the observed data included), and the
        threshold below which the exact test is used. At least 2 (as metafor's ``iter``).
    exact : bool, optional
        None (default): exact when the number of distinct permutations is at most
        ``n_permutations`` (metafor's ``exact=FALSE``). True: always exact (at most
        ``MAX_EXACT`` permutations). False: always random (metafor has no such option).
    random_seed : int or numpy Generator, optional
        Seed of ``numpy.random.default_rng`` for a random test; the same seed gives the same
        permutations and p-values.
    progress : bool, default False
        Show a progress bar (tqdm if installed, else a line on stderr) over the batches.

    Returns
    -------
    PermutationTestResult
        ``pvalue``, ``coef_pvalues``, ``qm_pvalue``, ``n_permutations``, ``exact``, the
        permutation distributions ``null_statistics``, ``null_estimates``, ``null_qm``,
        ``summary()`` and ``to_frame()``.

    Raises
    ------
    ValidationError
        Fewer than 3 studies; ``n_permutations`` < 2; ``exact=True`` with more than
        ``MAX_EXACT`` distinct permutations.
    InputTypeError
        ``model`` is not a fitted random-effects model or meta-regression, or ``exact`` is
        not True, False or None.
    ConvergenceError
        An iterative tau^2 estimator did not converge for a permuted dataset (metafor drops
        such permutations from the p-value; painstats raises instead).

    Notes
    -----
    The p-values match ``metafor::permutest(x, exact=TRUE)`` exactly (they are counts); a
    random test uses NumPy's generator, so its p-value agrees with metafor's only within
    Monte Carlo error. metafor's permutation confidence intervals (``permci``) and its
    other ``control`` options (one-sided alternatives, ``p2defn="px2"``,
    ``stat="coef"``) are not implemented.

    References
    ----------
    Good P (2000). Permutation Tests: A Practical Guide to Resampling Methods for Testing
    Hypotheses. 2nd ed. Springer.
    Higgins JPT, Thompson SG (2004). Controlling the risk of spurious findings from
    meta-regression. Stat Med 23:1663-1682.
    Follmann DA, Proschan MA (1999). Valid inference in random effects meta-analysis.
    Biometrics 55:732-737.
    Viechtbauer W, Lopez-Lopez JA, Sanchez-Meca J, Marin-Martinez F (2015). A comparison of
    procedures to test for moderators in mixed-effects meta-regression models. Psychol
    Methods 20:360-374.

    Examples
    --------
    Spinal manipulation against recommended therapy for low back pain (Rubinstein 2019),
    the first eight comparisons: all 2^8 = 256 sign patterns are enumerated.

    >>> from painstats import datasets
    >>> from painstats.meta import effect_size, random_effects
    >>> from painstats.meta.permutation import permutation_test
    >>> d = datasets.load("rubinstein2019").head(8)
    >>> es = effect_size("MD", mean1=d["mean_smt"], sd1=d["sd_smt"], n1=d["n_smt"],
    ...                  mean2=d["mean_ctrl"], sd2=d["sd_ctrl"], n2=d["n_ctrl"])
    >>> res = random_effects(es["yi"], es["vi"], method="REML")
    >>> perm = permutation_test(res)
    >>> perm.exact, perm.n_permutations, round(perm.pvalue, 4)
    (True, 256, 0.5234)
    """
    if isinstance(model, MetaRegressionResult):
        y, v, X = model.yi, model.vi, np.asarray(model.X, dtype=float)
        terms = list(model.coef.index)
        intercept_only = False
    elif isinstance(model, RandomEffectsResult):
        y, v, X = model.yi, model.vi, None
        terms = ["overall"]
        intercept_only = True
    else:
        raise InputTypeError(
            "permutation_test needs a RandomEffectsResult or MetaRegressionResult; got "
            f"{type(model).__name__}"
        )
    k = int(model.k)
    if k < 3:
        raise ValidationError(f"a permutation test needs at least 3 studies; got k={k}")
    n_perm = check_count("n_permutations", n_permutations, 2)
    if exact is not None and not isinstance(exact, (bool, np.bool_)):
        raise InputTypeError(f"exact must be True, False or None; got {exact!r}")
    n_exact = 2**k if intercept_only else _n_unique_orders(X)
    use_exact = bool(exact) or (exact is None and n_exact <= n_perm)
    if use_exact and n_exact > MAX_EXACT:
        raise ValidationError(
            f"an exact permutation test would need {n_exact:.4g} permutations (more than "
            f"{MAX_EXACT}); use exact=None with n_permutations random permutations"
        )
    draw = _Draws(k, X, use_exact, n_perm, random_seed, intercept_only)
    stats, betas, qms = _run(draw, y, v, X, terms, model, progress)
    return _result(model, terms, stats, betas, qms, use_exact, n_exact, intercept_only,
                   random_seed)


# ---------------------------------------------------------------------------------------
# permutations


def _n_unique_orders(X: np.ndarray) -> int:
    """k! / prod(n_g!) over groups of identical rows (metafor's exact.iter)."""
    _, counts = np.unique(X, axis=0, return_counts=True)
    n = math.factorial(X.shape[0])
    for c in counts:
        n //= math.factorial(int(c))
    return n


def _multiset_orders(labels: np.ndarray) -> np.ndarray:
    """Every distinct order of the group labels, shape (n_orders, k), lexicographic."""
    groups, counts = np.unique(labels, return_counts=True)
    rows = np.zeros((1, 0), dtype=np.int32)
    rem = counts[None, :].astype(np.int32)
    for _ in range(labels.size):
        r, g = np.nonzero(rem > 0)
        rows = np.concatenate([rows[r], g[:, None].astype(np.int32)], axis=1)
        rem = rem[r].copy()
        rem[np.arange(r.size), g] -= 1
    return groups[rows]


class _Draws:
    """Hands out the permutations in batches: sign matrices or row orders."""

    def __init__(self, k, X, exact, n_perm, seed, intercept_only):
        self.k, self.exact, self.intercept_only = k, exact, intercept_only
        self.rng = None if exact else np.random.default_rng(seed)
        if intercept_only:
            self.n = 2**k if exact else n_perm
        else:
            # each row stands for its group of identical rows: the first row of the group
            _, first, inverse = np.unique(X, axis=0, return_index=True, return_inverse=True)
            self.rep = first[inverse.ravel()]
            self.orders = _multiset_orders(self.rep) if exact else None
            self.n = self.orders.shape[0] if exact else n_perm

    def batch(self, start: int, stop: int) -> np.ndarray:
        """Signs (n, k) or row indices (n, k) of permutations start..stop-1."""
        n, k = stop - start, self.k
        if self.exact:
            if self.intercept_only:  # expand.grid order: study 1 alternates fastest
                codes = np.arange(start, stop, dtype=np.int64)
                bits = (codes[:, None] >> np.arange(k, dtype=np.int64)) & 1
                return 1.0 - 2.0 * bits
            return self.orders[start:stop]
        if self.intercept_only:
            out = 1.0 - 2.0 * self.rng.integers(0, 2, size=(n, k))
            if start == 0:
                out[0] = 1.0  # the first permutation is the observed data
            return out
        out = self.rng.permuted(np.tile(np.arange(k), (n, 1)), axis=1)
        if start == 0:
            out[0] = np.arange(k)
        return out


def _run(draw: _Draws, y, v, X, terms, model, progress):
    p = len(terms)
    chunk = max(1, _CHUNK_ELEMENTS // (draw.k * p))
    bounds = [(a, min(a + chunk, draw.n)) for a in range(0, draw.n, chunk)]
    btt = _tested(terms)
    stats, betas, qms = [], [], []
    for a, b in _progress(bounds, progress):
        perm = draw.batch(a, b)
        try:
            if X is None:
                fit = fit_rma(perm * y, v, method=model.method, test=model.test,
                              level=model.level)
            else:
                shape = (perm.shape[0], draw.k)
                fit = fit_rma(np.broadcast_to(y, shape), np.broadcast_to(v, shape), X=X[perm],
                              method=model.method, test=model.test, level=model.level)
        except ConvergenceError as exc:
            raise ConvergenceError(f"in a permuted dataset: {exc}") from exc
        stats.append(fit.statistic)
        betas.append(fit.beta)
        qms.append(_batch_qm(fit.beta, fit.vcov, btt, model.test))
    return np.concatenate(stats), np.concatenate(betas), np.concatenate(qms)


def _tested(terms: list[str]) -> np.ndarray:
    """Coefficients in the omnibus test: all but the intercept (as metafor's btt)."""
    idx = [i for i, t in enumerate(terms) if t not in ("Intercept", "intrcpt")]
    return np.array(idx if idx else list(range(len(terms))), dtype=int)


def _batch_qm(beta: np.ndarray, vcov: np.ndarray, btt: np.ndarray, test: str) -> np.ndarray:
    """Wald statistic of the tested coefficients per permutation; F = Wald/m under t/hksj."""
    b = beta[:, btt]
    V = vcov[:, btt][:, :, btt]
    with np.errstate(invalid="ignore", divide="ignore"):
        wald = np.einsum("ni,ni->n", b, np.linalg.solve(V, b[..., None])[..., 0])
    return wald if test == "z" else wald / btt.size


def _progress(items: list, show: bool):
    if not show:
        return items
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is optional
        return _stderr_progress(items)
    return tqdm(items, desc="permutations", unit="batch")


def _stderr_progress(items: list):  # pragma: no cover - only without tqdm
    for i, item in enumerate(items, 1):
        yield item
        print(f"\rpermutations: batch {i}/{len(items)}", end="", file=sys.stderr)
    print(file=sys.stderr)


# ---------------------------------------------------------------------------------------
# p-values and the result


def _share_at_least(null: np.ndarray, observed: float) -> float:
    """metafor's mean(null >= observed - comptol, na.rm = TRUE)."""
    ok = ~np.isnan(null)
    return float(np.mean(null[ok] >= observed - COMPARISON_TOLERANCE))


def _result(model, terms, stats, betas, qms, exact, n_exact, intercept_only, seed):
    if intercept_only:
        obs = pd.DataFrame({"estimate": [model.estimate], "se": [model.se],
                            "statistic": [model.statistic], "ci_low": [model.ci_low],
                            "ci_high": [model.ci_high]}, index=pd.Index(terms, name="term"))
        qm, qm_df = model.statistic**2, (1 if model.test == "z" else (1, int(model.k) - 1))
    else:
        obs = model.coef[["estimate", "se", "statistic", "ci_low", "ci_high"]].copy()
        qm, qm_df = model.qm, model.qm_df
    pvals = np.array([_share_at_least(np.abs(stats[:, j]), abs(obs["statistic"].iloc[j]))
                      for j in range(len(terms))])
    coef = obs.assign(pvalue=pvals)[["estimate", "se", "statistic", "pvalue", "ci_low",
                                     "ci_high"]]
    qm_p = _share_at_least(qms, qm)
    for a in (qms,):
        a.setflags(write=False)
    return PermutationTestResult(
        pvalue=float(pvals[0]) if intercept_only else qm_p,
        coef=coef, coef_pvalues=pd.Series(pvals, index=coef.index, name="pvalue"),
        qm=float(qm), qm_df=qm_df, qm_pvalue=qm_p, n_permutations=int(stats.shape[0]),
        exact=exact, n_exact=float(n_exact),
        null_statistics=pd.DataFrame(stats, columns=terms),
        null_estimates=pd.DataFrame(betas, columns=terms), null_qm=qms,
        intercept_only=intercept_only, k=int(model.k), method=model.method, test=model.test,
        level=model.level, df=float(model.df), random_seed=seed,
    )
