"""Ranking: P-scores (Rücker & Schwarzer 2015) and SUCRA by resampling (Salanti 2011)."""

from __future__ import annotations

import numpy as np
import pytest
from _network_fixture import fit_case, load_fixture
from numpy.testing import assert_allclose

from painstats.errors import InputTypeError, ValidationError
from painstats.meta.network import p_scores, rank_treatments


@pytest.fixture(scope="module")
def fit():
    return fit_case(load_fixture()["cases"]["senn2013_md"], "REML")


def test_p_scores_sum_and_reverse(fit):
    rank = fit.ranking(n_sim=10, random_seed=1)
    n = len(fit.treatments)
    # each pair contributes Phi(z) + Phi(-z) = 1, so the P-scores sum to n/2
    assert_allclose(rank.p_score.sum(), n / 2, rtol=1e-12)
    bad = fit.ranking(small_values="undesirable", n_sim=10, random_seed=1)
    assert_allclose(bad.p_score, 1 - rank.p_score, rtol=1e-12)
    assert rank.model == "random" and bad.small_values == "bad"


def test_p_scores_of_two_treatments_are_one_sided_p_values():
    theta = np.array([0.0, -0.5])
    cov = np.array([[0.0, 0.0], [0.0, 0.04]])
    ps = p_scores(theta, cov, "good")
    from scipy.stats import norm
    assert_allclose(ps, [norm.cdf(-0.5 / 0.2), norm.cdf(0.5 / 0.2)], rtol=1e-14)


def test_sucra_is_seeded_and_converges_to_p_score(fit):
    a = fit.ranking(n_sim=2000, random_seed=7)
    b = fit.ranking(n_sim=2000, random_seed=7)
    assert_allclose(a.sucra, b.sucra, rtol=0, atol=0)
    assert a.random_seed == 7 and a.n_sim == 2000
    assert_allclose(a.rank_probabilities.sum(axis=1), 1.0)
    assert_allclose(a.rank_probabilities.sum(axis=0), 1.0)
    n = len(fit.treatments)
    assert_allclose(a.sucra, (n - a.mean_rank) / (n - 1), rtol=1e-14)
    # SUCRA is the resampling estimate of the P-score (Rücker & Schwarzer 2015). The Monte
    # Carlo SE of a mean rank over 20000 draws is sd(rank)/sqrt(20000) <= (n-1)/2/141 ~ 0.032
    # ranks, i.e. <= 0.0036 in SUCRA units; 0.015 is four such SEs.
    big = fit.ranking(n_sim=20000, random_seed=np.random.default_rng(11))
    assert_allclose(big.sucra, big.p_score, atol=0.015)
    assert big.random_seed is None


def test_tables(fit):
    rank = fit.ranking(n_sim=100, random_seed=2)
    frame = rank.to_frame()
    assert list(frame.columns) == ["p_score", "sucra", "mean_rank"]
    assert frame["p_score"].is_monotonic_decreasing
    assert rank.rankogram().shape == (10, 10)
    assert "P-score" in str(rank) and "SUCRA from 100 draws" in str(rank.summary())
    common = rank_treatments(fit, model="common", n_sim=10, random_seed=1)
    assert common.model == "common"


def test_errors(fit):
    with pytest.raises(ValidationError, match="small_values must be one of"):
        fit.ranking(small_values="low")
    with pytest.raises(ValidationError, match="n_sim must be at least 1"):
        fit.ranking(n_sim=0)
    with pytest.raises(InputTypeError, match="random_seed must be an int"):
        fit.ranking(random_seed="seed")
