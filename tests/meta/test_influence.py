"""Leave-one-out, influence, cumulative, Baujat and GOSH against metafor 3.8 (influence.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from painstats.errors import ValidationError
from painstats.meta import random_effects

HERE = Path(__file__).resolve().parent

FIXTURE = json.loads((HERE.parent / "data" / "metafor_influence.json").read_text())
CASES = FIXTURE["cases"]
ITERATIVE = {"ML", "REML", "EB", "PM"}


def _num(x):
    return np.array([np.nan if v is None else float(v) for v in x])


def _fit(case):
    d = FIXTURE["datasets"][case["dataset"]]
    return random_effects(d["yi"], d["vi"], method=case["method"],
                          test="hksj" if case["test"] == "knha" else "z")


def _tolerance(case):
    rtol = 1e-6 if case["method"] in ITERATIVE else 1e-9
    return dict(rtol=rtol, atol=1e-9)


def test_fixture_covers_the_grid():
    assert len(CASES) == 187
    assert sum("influence" in c for c in CASES) == 170
    assert sum("gosh" in c for c in CASES) == 9
    assert {c["method"] for c in CASES} == {"FE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM"}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_leave_one_out_and_cumulative(case):
    res = _fit(case)
    for kind, frame in (("leave_one_out", res.leave_one_out()), ("cumulative", res.cumulative())):
        for col, want in case[kind].items():
            got = frame[col].to_numpy()
            want = _num(want)
            if col in ("i2",):
                assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=f"{kind} {col}")
            else:
                assert_allclose(got, want, **_tolerance(case), err_msg=f"{kind} {col}")


@pytest.mark.parametrize("case", [c for c in CASES if "influence" in c],
                         ids=[c["id"] for c in CASES if "influence" in c])
def test_influence_and_baujat(case):
    res = _fit(case)
    inf = res.influence()
    for col, want in case["influence"].items():
        if col == "influential":
            assert inf[col].tolist() == list(want), col
            continue
        assert_allclose(inf[col].to_numpy(), _num(want), **_tolerance(case), err_msg=col)
    b = res.baujat()
    for col in ("x", "y"):
        assert_allclose(b[col].to_numpy(), _num(case["baujat"][col]), **_tolerance(case), err_msg=col)


@pytest.mark.parametrize("case", [c for c in CASES if "gosh" in c],
                         ids=[c["id"] for c in CASES if "gosh" in c])
def test_gosh_matches_metafor_subset_by_subset(case):
    res = _fit(case)
    g = res.gosh(progress=False).set_index("subset")
    ref = case["gosh"]
    codes = _num(ref["subset_code"]).astype(np.int64)
    assert len(g) == codes.size == 2**res.k - 1
    g = g.loc[codes]
    for col in ("estimate", "tau2", "q"):
        assert_allclose(g[col].to_numpy(), _num(ref[col]), **_tolerance(case), err_msg=col)
    # metafor's own subset fits stop near tau2 = 1e-11 at the boundary (I2 ~ 1e-9 %)
    assert_allclose(g["i2"].to_numpy(), _num(ref["i2"]), rtol=1e-6, atol=1e-6, err_msg="i2")
    # metafor's gosh() takes H2 = Q/(k-1) for DL fits even where tau2 is truncated at 0;
    # painstats keeps the model's own definition tau2/s2 + 1 (identical wherever tau2 > 0)
    h2_ref = _num(ref["h2"])
    comparable = (g["tau2"].to_numpy() > 0) | (case["method"] != "DL")
    assert comparable.sum() > 0
    assert_allclose(g["h2"].to_numpy()[comparable], h2_ref[comparable], **_tolerance(case))


def test_gosh_random_subsets_are_reproducible_and_valid():
    rng = np.random.default_rng(5)
    k = 25
    v = rng.uniform(0.01, 0.1, k)
    y = rng.normal(0, 0.3, k)
    res = random_effects(y, v, method="DL")
    a = res.gosh(max_subsets=5000, random_seed=1, progress=False)
    b = res.gosh(max_subsets=5000, random_seed=1, progress=False)
    assert len(a) == 5000 and (a["k"] >= 1).all()
    assert a.equals(b)
    # every subset's numbers equal a direct fit of that subset
    row = a.iloc[17]
    members = [c for c in a.columns if c.startswith("in_") and row[c]]
    idx = [int(c[3:]) - 1 for c in members]
    if len(idx) >= 2:
        one = random_effects(y[idx], v[idx], method="DL")
        assert_allclose(row["estimate"], one.estimate, rtol=1e-10)
        assert_allclose(row["tau2"], one.tau2, rtol=1e-10, atol=1e-14)


def test_cumulative_order_and_bad_input():
    res = random_effects([0.1, 0.5, 0.3], [0.05, 0.04, 0.06], slab=["a", "b", "c"], method="DL")
    out = res.cumulative(order=[2010, 2001, 2005])
    assert list(out.index) == ["b", "c", "a"]
    full = out.iloc[-1]
    assert_allclose(full["estimate"], res.estimate, rtol=1e-12)
    with pytest.raises(ValidationError, match="order must have one value per study"):
        res.cumulative(order=[1, 2])
    with pytest.raises(ValidationError, match="influence\\(\\) needs at least 3 studies"):
        random_effects([0.1, 0.5], [0.05, 0.04]).influence()
    with pytest.raises(ValidationError, match="max_subsets must be a positive integer"):
        res.gosh(max_subsets=0)


@pytest.mark.parametrize("method", ["FE", "DL"])
def test_closed_form_gosh_equals_the_general_kernel(method):
    from painstats.meta._kernels.fit import fit_rma
    from painstats.meta._kernels.subsets import fe_dl_subsets

    rng = np.random.default_rng(11)
    k = 9
    v = rng.uniform(0.01, 0.2, k)
    y = rng.normal(0.2, 0.4, k)
    masks = ((np.arange(1, 2**k)[:, None] >> np.arange(k)) & 1).astype(bool)
    fast = fe_dl_subsets(y, v, masks, method)
    full = fit_rma(y, v, masks, method=method)
    assert_allclose(fast.estimate, full.beta[:, 0], rtol=1e-12, atol=1e-14)
    for f in ("tau2", "q", "i2", "h2"):
        assert_allclose(getattr(fast, f), getattr(full, f), rtol=1e-10, atol=1e-12, err_msg=f)
    assert (fast.k == full.k).all()
