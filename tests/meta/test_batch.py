"""The batch kernel: identical numbers to single fits, masks, grouping, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from painstats.errors import ValidationError
from painstats.meta import METHODS, random_effects, random_effects_batch, random_effects_by
from painstats.meta.batch import BATCH_FIELDS


def simulate(n: int, rng: np.random.Generator, kmin: int = 5, kmax: int = 30):
    k = rng.integers(kmin, kmax + 1, n)
    mask = np.arange(kmax)[None, :] < k[:, None]
    vi = rng.uniform(0.005, 0.3, (n, kmax))
    tau2 = rng.choice([0.0, 0.01, 0.1, 1.0], n)
    yi = rng.normal(0.4, 1.0, n)[:, None] + rng.normal(size=(n, kmax)) * np.sqrt(vi + tau2[:, None])
    # garbage in the padding must not matter
    yi = np.where(mask, yi, 1e6)
    vi = np.where(mask, vi, -1.0)
    return yi, vi, mask


def _compare_rows(res, yi, vi, mask, rows, method, test):
    for i in rows:
        one = random_effects(yi[i, mask[i]], vi[i, mask[i]], method=method, test=test)
        for f in BATCH_FIELDS:
            assert_allclose(getattr(res, f)[i], getattr(one, f), rtol=1e-10, atol=1e-12,
                            err_msg=f"{method}/{test} analysis {i} field {f}")


def test_ten_thousand_reml_analyses_equal_single_fits(rng):
    yi, vi, mask = simulate(10_000, rng)
    res = random_effects_batch(yi, vi, mask=mask, method="REML")
    assert res.estimate.shape == (10_000,)
    _compare_rows(res, yi, vi, mask, range(10_000), "REML", "z")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("test", ["z", "hksj"])
def test_every_estimator_batch_equals_single(rng, method, test):
    yi, vi, mask = simulate(300, rng, kmin=2)
    res = random_effects_batch(yi, vi, mask=mask, method=method, test=test)
    _compare_rows(res, yi, vi, mask, range(300), method, test)


def test_batch_without_mask_and_to_frame(rng):
    yi, vi, mask = simulate(5, rng, kmin=8, kmax=8)
    res = random_effects_batch(yi, vi, method="DL")
    frame = res.to_frame()
    assert list(frame.columns) == list(BATCH_FIELDS) and len(frame) == 5
    assert (res.k == 8).all()


def test_random_effects_by_equals_batch_and_single(rng):
    parts = []
    for g, k in zip("cab", (4, 7, 2)):
        v = rng.uniform(0.01, 0.1, k)
        parts.append(pd.DataFrame({"review": g, "yi": rng.normal(0.3, 0.3, k), "vi": v}))
    df = pd.concat(parts, ignore_index=True)
    out = random_effects_by(df, by="review", method="PM", test="hksj")
    assert list(out.index) == ["a", "b", "c"]
    for g in "abc":
        sub = df[df.review == g]
        one = random_effects(sub.yi.to_numpy(), sub.vi.to_numpy(), method="PM", test="hksj")
        assert_allclose(out.loc[g, "estimate"], one.estimate, rtol=1e-10)
        assert_allclose(out.loc[g, "tau2"], one.tau2, rtol=1e-10, atol=1e-12)
        assert out.loc[g, "k"] == one.k


def test_batch_bad_input():
    y = np.zeros((2, 3))
    v = np.full((2, 3), 0.1)
    with pytest.raises(ValidationError, match="same shape"):
        random_effects_batch(y, v[:, :2])
    with pytest.raises(ValidationError, match="mask must be a boolean array"):
        random_effects_batch(y, v, mask=np.ones((2, 3)))
    bad = v.copy()
    bad[1, 2] = 0.0
    with pytest.raises(ValidationError, match=r"analysis 1 \(row 1\), study 2 \(column 2\) has vi=0"):
        random_effects_batch(y, bad)
    mask = np.array([[True, True, True], [True, False, False]])
    with pytest.raises(ValidationError, match="analysis 1 has k=1"):
        random_effects_batch(y, v, mask=mask)
    df = pd.DataFrame({"g": ["a", "a", "b"], "yi": [0.1, 0.2, 0.3], "vi": [0.1, 0.1, 0.1]})
    with pytest.raises(ValidationError, match=r"fewer than 2 studies.*\['b'\]"):
        random_effects_by(df, by="g")
    with pytest.raises(ValidationError, match="by='grp' is not a column"):
        random_effects_by(df, by="grp")
