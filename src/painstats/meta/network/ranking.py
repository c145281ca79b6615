"""Ranking treatments: P-scores (Rücker & Schwarzer 2015) and SUCRA by resampling (Salanti 2011)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from painstats._validation import check_count
from painstats.errors import InputTypeError
from painstats.meta._summary import Summary, table
from painstats.meta.network.options import resolve_small_values

__all__ = ["RankingResult", "p_scores", "rank_treatments"]


@dataclass(frozen=True, slots=True)
class RankingResult:
    """P-scores, SUCRA, mean ranks and rank probabilities of every treatment."""

    treatments: tuple[str, ...]
    p_score: np.ndarray  #: frequentist analogue of SUCRA, in [0, 1]; 1 = certainly best
    sucra: np.ndarray  #: surface under the cumulative ranking curve, from the draws
    mean_rank: np.ndarray  #: mean rank over the draws (1 = best)
    rank_probabilities: np.ndarray  #: (n, n): treatment x rank (1..n), from the draws
    model: str  #: "common" or "random"
    small_values: str  #: "good" or "bad"
    n_sim: int
    random_seed: int | None

    def to_frame(self) -> pd.DataFrame:
        """treatment, p_score, sucra, mean_rank; best P-score first."""
        frame = pd.DataFrame({"p_score": self.p_score, "sucra": self.sucra,
                              "mean_rank": self.mean_rank},
                             index=pd.Index(self.treatments, name="treatment"))
        return frame.sort_values("p_score", ascending=False, kind="stable")

    def rankogram(self) -> pd.DataFrame:
        """Rank probabilities: rows treatments, columns ranks 1..n."""
        n = len(self.treatments)
        return pd.DataFrame(self.rank_probabilities, index=pd.Index(self.treatments,
                            name="treatment"), columns=pd.Index(range(1, n + 1), name="rank"))

    def summary(self) -> Summary:
        frame = self.to_frame()
        rows = [[f"{r.p_score:.4f}", f"{r.sucra:.4f}", f"{r.mean_rank:.2f}"]
                for r in frame.itertuples()]
        lines = [(f"Treatment ranking ({self.model} effects model; small values are "
                  f"{self.small_values}; SUCRA from {self.n_sim} draws)"), "",
                 table(["P-score", "SUCRA", "mean rank"], rows,
                       index=[str(t) for t in frame.index])]
        return Summary("\n".join(lines))

    def __str__(self) -> str:
        return str(self.summary())


def p_scores(theta: np.ndarray, cov: np.ndarray, small_values: str = "good") -> np.ndarray:
    """P-score of each treatment: the mean over the others of Phi((theta_j - theta_i)/se_ij).

    (for ``small_values="good"``; the sign flips for "bad"). ``theta``/``cov`` are the effects
    of every treatment against any common reference and their covariance.

    Examples
    --------
    >>> import numpy as np
    >>> from painstats.meta.network import p_scores
    >>> p_scores(np.array([0.0, -0.5]), np.diag([0.0, 0.04])).round(4)
    array([0.0062, 0.9938])
    """
    theta = np.asarray(theta, dtype=float)
    d = np.diag(cov)
    se = np.sqrt(np.maximum(d[:, None] + d[None, :] - 2.0 * np.asarray(cov), 0.0))
    diff = theta[None, :] - theta[:, None]  # theta_j - theta_i
    if small_values == "bad":
        diff = -diff
    n = theta.size
    with np.errstate(divide="ignore", invalid="ignore"):
        prob = special.ndtr(diff / se)
    np.fill_diagonal(prob, 0.0)
    return prob.sum(axis=1) / (n - 1)


def rank_treatments(
    result: Any,
    *,
    model: str | None = None,
    small_values: str = "good",
    n_sim: int = 1000,
    random_seed: Any = None,
) -> RankingResult:
    """Rank the treatments of a network meta-analysis by P-score and by SUCRA.

    Parameters
    ----------
    result : NetworkMetaAnalysisResult
    model : {"random", "common"}, optional
        Default random effects (common for a common-effect fit).
    small_values : {"good", "bad"}
        Whether small effects are desirable (less pain: "good"; netmeta's "desirable") or not.
    n_sim : int
        Draws from the multivariate normal distribution of the estimates for SUCRA and the
        rank probabilities.
    random_seed : int, numpy Generator or None
        Seed of ``numpy.random.default_rng``; the same seed gives the same SUCRA.

    Returns
    -------
    RankingResult

    Notes
    -----
    P-scores are exact (no sampling): P_i = (n-1)^{-1} sum_{j != i} Phi((theta_j -
    theta_i)/se_ij) when small values are good (Rücker & Schwarzer 2015). SUCRA_i =
    (n - mean rank_i)/(n - 1) with the ranks of the draws, as netmeta's ``rankogram``; it
    converges to the P-score as ``n_sim`` grows.

    References
    ----------
    .. [1] Rücker G, Schwarzer G. Ranking treatments in frequentist network meta-analysis
       works without resampling methods. BMC Med Res Methodol. 2015;15:58.
    .. [2] Salanti G, Ades AE, Ioannidis JPA. Graphical methods and numerical summaries for
       presenting results from multiple-treatment meta-analysis: an overview and tutorial.
       J Clin Epidemiol. 2011;64:163-171.

    Examples
    --------
    >>> from painstats import datasets
    >>> from painstats.meta.network import network_meta_analysis
    >>> park = datasets.load("tsd2_parkinsons")
    >>> res = network_meta_analysis(park, study="studyn", treatment="treatment", mean="y",
    ...                             se="se", method="FE")
    >>> rank = res.ranking(small_values="good", random_seed=1)
    >>> rank.to_frame()["p_score"].round(3)
    treatment
    Pramipexole      0.987
    Cabergoline      0.681
    Bromocriptine    0.375
    Ropinirole       0.368
    Placebo          0.089
    Name: p_score, dtype: float64
    """
    est = result.model_estimates(model)
    small = resolve_small_values(small_values)
    n_sim = check_count("n_sim", n_sim, 1)
    if isinstance(random_seed, bool) or not (
        random_seed is None or isinstance(random_seed, (int, np.integer, np.random.Generator,
                                                        np.random.SeedSequence))):
        raise InputTypeError(f"random_seed must be an int, a numpy Generator or None; "
                             f"got {random_seed!r}")
    theta, cov = np.asarray(est.theta), np.asarray(est.cov)
    n = theta.size
    ps = p_scores(theta, cov, small)
    rng = np.random.default_rng(random_seed)
    vals, vecs = np.linalg.eigh(cov)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    draws = theta + rng.standard_normal((n_sim, n)) @ root.T
    if small == "bad":
        draws = -draws
    ranks = np.argsort(np.argsort(draws, axis=1), axis=1) + 1  # 1 = best (smallest)
    probs = np.stack([(ranks == r).mean(axis=0) for r in range(1, n + 1)], axis=1)
    mean_rank = ranks.mean(axis=0)
    seed = int(random_seed) if isinstance(random_seed, (int, np.integer)) else None
    return RankingResult(
        treatments=tuple(result.treatments), p_score=_ro(ps), sucra=_ro((n - mean_rank) / (n - 1)),
        mean_rank=_ro(mean_rank), rank_probabilities=_ro(probs), model=est.model,
        small_values=small, n_sim=n_sim, random_seed=seed,
    )


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=float)
    a.setflags(write=False)
    return a
