"""Array kernels of network meta-analysis: batch-first shapes, masks, estimating equations."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl
import tolerances
from _network_fixture import fit_case, load_fixture
from numpy.testing import assert_allclose

from painstats.errors import ConvergenceError
from painstats.meta.network import _kernels as K
from painstats.meta.network.nma import treatment_map


@pytest.fixture(scope="module")
def net():
    return fit_case(load_fixture()["cases"]["sim_multiarm"], "FE").data


def design(net):
    return K.contrast_design(net.arms, treatment_map(net.n_treatments, 0))


def dense(net):
    """y, V, X, R of the network as dense matrices (the R script's formulation)."""
    X = design(net)
    ys, Vs, Xs, Rs = [], [], [], []
    for s in range(net.n_studies):
        k = int(net.mask[s].sum())
        ys.append(net.y[s, :k])
        Vs.append(net.cov[s, :k, :k])
        Xs.append(X[s, :k])
        Rs.append(0.5 + 0.5 * np.eye(k))
    return np.concatenate(ys), sl.block_diag(*Vs), np.vstack(Xs), sl.block_diag(*Rs)


def test_contrast_design_rows(net):
    X = design(net)
    assert X.shape == (net.n_studies, 3, net.n_treatments - 1)
    assert np.all(X[~net.mask] == 0)
    s = int(np.flatnonzero(net.n_arms == 4)[0])
    arms = net.arms[s]
    for a in range(3):
        row = np.zeros(net.n_treatments)
        row[arms[a + 1]] += 1
        row[arms[0]] -= 1
        assert_allclose(X[s, a], row[1:])


def test_gls_equals_dense_algebra(net):
    y, V, X, R = dense(net)
    for tau2 in (0.0, 0.07):
        W = np.linalg.inv(V + tau2 * R)
        B = np.linalg.inv(X.T @ W @ X)
        beta = B @ X.T @ W @ y
        fit = K.gls(net.y, net.cov, design(net), net.mask, tau2)
        assert_allclose(fit.beta, beta, **tolerances.tol("closed_form"))
        assert_allclose(fit.vcov, B, **tolerances.tol("closed_form"))
        r = y - X @ beta
        assert_allclose(fit.q, r @ W @ r, **tolerances.tol("closed_form"))
        assert fit.df == y.size - X.shape[1]


def test_dl_equals_jackson_white_riley(net):
    y, V, X, R = dense(net)
    W = np.linalg.inv(V)
    P = W - W @ X @ np.linalg.solve(X.T @ W @ X, X.T @ W)
    expect = max(0.0, (y @ P @ y - (y.size - X.shape[1])) / np.trace(P @ R))
    got = K.estimate_tau2(net.y, net.cov, design(net), net.mask, method="DL")
    assert_allclose(got, expect, **tolerances.tol("closed_form"))


@pytest.mark.parametrize("method", ["ML", "REML"])
def test_likelihood_score_is_zero(net, method):
    y, V, X, R = dense(net)
    t = float(K.estimate_tau2(net.y, net.cov, design(net), net.mask, method=method))
    assert t > 0
    W = np.linalg.inv(V + t * R)
    P = W - W @ X @ np.linalg.solve(X.T @ W @ X, X.T @ W)
    if method == "REML":
        score = y @ P @ R @ P @ y - np.trace(P @ R)
    else:
        r = P @ y  # = W (y - X beta)
        score = r @ R @ r - np.trace(W @ R)
    assert abs(score) < 1e-8 * np.trace(W @ R)


def test_batch_equals_single_fits(net):
    rng = np.random.default_rng(5)
    ys = net.y + 0.1 * rng.standard_normal((4, *net.y.shape))
    X = design(net)
    for method in ("DL", "ML", "REML"):
        batch = K.estimate_tau2(ys, net.cov, X, net.mask, method=method)
        single = [float(K.estimate_tau2(y, net.cov, X, net.mask, method=method)) for y in ys]
        assert batch.shape == (4,)
        assert_allclose(batch, single, rtol=1e-10, atol=1e-13)
    fit = K.gls(ys, net.cov, X, net.mask, np.array([0.0, 0.01, 0.02, 0.03]))
    assert fit.beta.shape == (4, X.shape[-1]) and fit.vcov.shape == (4, X.shape[-1],
                                                                      X.shape[-1])
    one = K.gls(ys[2], net.cov, X, net.mask, 0.02)
    assert_allclose(fit.beta[2], one.beta, rtol=1e-12)


def test_mask_leaves_a_study_out(net):
    """Masking a study's contrasts equals fitting the network without it."""
    s = 0
    mask = net.mask.copy()
    mask[s] = False
    keep = np.ones(net.n_studies, dtype=bool)
    keep[s] = False
    sub = net.subset(keep)
    assert sub.treatments == net.treatments  # no treatment lost
    X = design(net)
    for method in ("FE", "DL", "REML"):
        t_mask = K.estimate_tau2(net.y, net.cov, X, mask, method=method)
        t_sub = K.estimate_tau2(sub.y, sub.cov, design(sub), sub.mask, method=method)
        assert_allclose(t_mask, t_sub, rtol=1e-10, atol=1e-14)
        b_mask = K.gls(net.y, net.cov, X, mask, t_mask).beta
        b_sub = K.gls(sub.y, sub.cov, design(sub), sub.mask, t_sub).beta
        assert_allclose(b_mask, b_sub, rtol=1e-10, atol=1e-12)


def test_correlation_blocks():
    R = K.correlation_blocks(np.array([[True, True, False]]))
    assert_allclose(R[0], [[1, 0.5, 0], [0.5, 1, 0], [0, 0, 0]])


def test_no_residual_df_gives_zero_tau2():
    y = np.array([[0.3], [0.1]])
    cov = np.array([[[0.1]], [[0.2]]])
    X = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    for method in ("DL", "ML", "REML"):
        assert K.estimate_tau2(y, cov, X, method=method) == 0.0


def test_unconverged_fisher_scoring_raises(net, monkeypatch):
    def stuck(start, step):
        return np.asarray(start, dtype=float).reshape(-1), np.zeros(np.size(start), dtype=bool)

    monkeypatch.setattr(K, "fisher_scoring", stuck)
    with pytest.raises(ConvergenceError, match="REML estimation of tau\\^2 did not converge"):
        K.estimate_tau2(net.y, net.cov, design(net), net.mask, method="REML")
