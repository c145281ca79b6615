"""subgroup_analysis(): each subgroup equals a separate fit; the between-group test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from painstats.errors import ValidationError
from painstats.meta import random_effects, subgroup_analysis


@pytest.fixture()
def data() -> pd.DataFrame:
    return pd.DataFrame({
        "drug": ["b", "a", "b", "a", "c", "b", "a"],
        "yi": [-0.5, -0.2, -0.7, -0.1, -0.4, -0.6, -0.3],
        "vi": [0.02, 0.03, 0.04, 0.02, 0.05, 0.03, 0.04],
    })


@pytest.mark.parametrize("method", ["REML", "DL", "FE"])
def test_groups_equal_separate_fits(data, method):
    sg = subgroup_analysis(data=data, by="drug", method=method, test="hksj")
    assert list(sg.groups.index) == ["a", "b", "c"]
    for g in ("a", "b"):
        sub = data[data.drug == g]
        one = random_effects(sub.yi.to_numpy(), sub.vi.to_numpy(), method=method, test="hksj")
        row = sg.groups.loc[g]
        assert_allclose([row.estimate, row.se, row.ci_low, row.tau2, row.i2],
                        [one.estimate, one.se, one.ci_low, one.tau2, one.i2], rtol=1e-10, atol=1e-12)
    # a single-study subgroup: tau2 = 0 and a z-interval, as metafor's k = 1 fit
    c = sg.groups.loc["c"]
    assert c.k == 1 and c.tau2 == 0
    assert_allclose(c.ci_high - c.estimate, stats.norm.isf(0.025) * np.sqrt(0.05), rtol=1e-12)


def test_q_between_formula(data):
    sg = subgroup_analysis(data=data, by="drug", method="REML")
    w = 1 / sg.groups.se.to_numpy() ** 2
    est = sg.groups.estimate.to_numpy()
    mu = np.sum(w * est) / w.sum()
    assert_allclose(sg.q_between, np.sum(w * (est - mu) ** 2), rtol=1e-12)
    assert sg.q_between_df == 2
    assert_allclose(sg.q_between_pvalue, stats.chi2.sf(sg.q_between, 2), rtol=1e-12)
    assert sg.overall.k == 7
    text = str(sg.summary())
    assert "Test for Subgroup Differences" in text
    assert len(sg.to_frame()) == 4


def test_bad_input(data):
    with pytest.raises(ValidationError, match="at least 2 subgroups"):
        subgroup_analysis(data=data.assign(drug="x"), by="drug")
    with pytest.raises(ValidationError, match="by='dose' is not a column"):
        subgroup_analysis(data=data, by="dose")
    d = data.copy()
    d["drug"] = d["drug"].astype(object)
    d.loc[1, "drug"] = None
    with pytest.raises(ValidationError, match=r"row 2\) has drug=NaN"):
        subgroup_analysis(data=d, by="drug")
