"""The tau^2 solvers: converged to their tolerance, and the Newton early stop."""

from __future__ import annotations

import numpy as np
import pytest

from painstats.meta._kernels import roots
from painstats.meta._kernels.fit import fit_rma


def _score_and_curvature(y, v, m, tau2, restricted):
    """Score of the (restricted) log-likelihood in tau^2 and minus its second derivative."""
    w = m / (v + tau2[:, None])
    sw = w.sum(-1)
    mu = (w * y).sum(-1) / sw
    wr = w * (y - mu[:, None])
    ypp = (wr * wr).sum(-1)
    yppp = (w * wr * wr).sum(-1) - (w * wr).sum(-1) ** 2 / sw
    sw2, sw3 = (w * w).sum(-1), (w**3).sum(-1)
    if restricted:
        trp, trpp = sw - sw2 / sw, sw2 - 2 * sw3 / sw + (sw2 / sw) ** 2
        return ypp - trp, 2 * yppp - trpp
    return ypp - sw, 2 * yppp - sw2


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_interior_estimates_are_roots_of_the_score_to_the_tolerance(rng, method):
    """The remaining Newton step at each interior estimate is below ~1e-11 (1 + tau^2):
    stopping on the predicted next step loses no accuracy that matters."""
    n, kmax = 3000, 30
    k = rng.integers(3, kmax + 1, n)
    m = (np.arange(kmax)[None, :] < k[:, None]).astype(float)
    v = rng.uniform(0.005, 0.3, (n, kmax))
    tau2 = rng.choice([0.01, 0.05, 0.1, 1.0], n)
    y = rng.normal(0.3, 1.0, n)[:, None] + rng.normal(size=(n, kmax)) * np.sqrt(v + tau2[:, None])
    y, v = np.where(m > 0, y, 0.0), np.where(m > 0, v, 1.0)
    fit = fit_rma(y, v, m > 0, method=method)
    inside = fit.tau2 > 0
    assert inside.sum() > 0.6 * n
    score, curv = _score_and_curvature(y[inside], v[inside], m[inside], fit.tau2[inside],
                                       method == "REML")
    remaining = np.abs(score / curv)
    assert np.all(remaining <= 1e-11 * (1.0 + fit.tau2[inside])), remaining.max()


def test_newton_flags_stop_one_step_earlier_at_the_same_root():
    """Newton on x^2 = 2 from x = 3: with the Newton flags the solver stops once the
    predicted next step is below the tolerance, one evaluation earlier, within 1e-12."""
    calls = {"plain": 0, "flagged": 0}

    def newton(x):
        return (2.0 - x * x) / (2.0 * x)

    def plain(x, idx):
        calls["plain"] += 1
        return newton(x)

    def flagged(x, idx):
        calls["flagged"] += 1
        return newton(x), np.full(x.shape, 1.0)  # next step ~ step^2 / (2 x)

    a, ok_a = roots.fisher_scoring(np.array([3.0]), plain)
    b, ok_b = roots.fisher_scoring(np.array([3.0]), flagged)
    assert ok_a.all() and ok_b.all()
    assert calls["flagged"] == calls["plain"] - 1
    assert abs(a[0] - np.sqrt(2.0)) < 1e-15 and abs(b[0] - np.sqrt(2.0)) < 1e-12


def test_fisher_steps_never_stop_early():
    """A linearly converging iteration (steps shrinking tenfold and more, not flagged as
    Newton) runs until its step is below the tolerance."""

    def step(x, idx):  # x -> 1 + (x - 1) / 20: linear convergence to 1
        return (1.0 - x) * 0.95, np.zeros(x.shape)

    x, ok = roots.fisher_scoring(np.array([5.0]), step)
    assert ok.all() and abs(x[0] - 1.0) <= 1e-12


def test_a_maximum_at_zero_reached_by_bisection_is_exactly_zero():
    """ML on these 18 studies: Fisher scoring from the DL value crawls toward 0 and the
    safeguarded phase bisects onto it; the fit is exactly tau^2 = 0 (once 7.7e-13)."""
    from painstats.meta import random_effects

    y = [-0.9967884469072098, -1.513760787063903, -1.6641313478918023, -0.7915932302661635,
        -0.44036707849647827, -0.6038027579215441, -0.7296723243268592, -0.9285527974585635,
        -0.5224267583914011, -1.5805648336986566, -0.03546730786024466, -1.008717360342917,
        -1.1477048792585287, -1.3840839064962238, -0.34299614869477235, -0.6388497476757315,
        -1.653293832873247, -1.1467092477017184]
    v = [0.2610250563898925, 0.2812285218929038, 0.18403568051190514, 0.10603110924995289,
        0.0940643082829053, 0.2678331506611658, 0.1169577938383861, 0.005771537003239733,
        0.04644744124023193, 0.14692045345119994, 0.16767355882394672, 0.12026163845867678,
        0.05532043506942939, 0.12559411366274598, 0.20027043568254405, 0.060744390508633554,
        0.27226689865714465, 0.08883637403348076]
    res = random_effects(y, v, method="ML")
    assert res.tau2 == 0.0 and res.i2 == 0.0
