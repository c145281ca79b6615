"""Tests of painstats.meta.conversions against metafor's conv.fivenum and the Cochrane Handbook."""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import tolerances  # tests/tolerances.py (tests/ is on sys.path via conftest.py)
from painstats.errors import InputTypeError, PainstatsWarning, ValidationError
from painstats.meta.conversions import (
    change_sd,
    ci_to_sd,
    correlation_from_sds,
    fivenum_to_mean_sd,
    se_to_sd,
)

_TESTS_DIR = Path(__file__).resolve().parents[1]
FIXTURE = _TESTS_DIR / "data" / "metafor_escalc.json"




_TOLERANCES = tolerances
CLOSED_FORM = _TOLERANCES.tol("closed_form")
PRINTED_6DP = {"rtol": 0.0, "atol": _TOLERANCES.printed_atol("6.594468")}

with FIXTURE.open(encoding="utf-8") as _fh:
    REF = json.load(_fh)
FIVENUM = REF["fivenum"]
CONV = REF["conversions"]


def _arr(values: list) -> np.ndarray:
    return np.array([np.nan if v is None or v == "NaN" else v for v in values], dtype=float)


# --------------------------------------------------------------------------------------
# five-number summaries


@pytest.mark.parametrize("case", FIVENUM, ids=[c["id"] for c in FIVENUM])
def test_fivenum_matches_metafor(case: dict) -> None:
    inputs = {k: _arr(v) for k, v in case["inputs"].items()}
    skewed = np.array([bool(s) for s in case["skewed"]])
    kwargs = {"method": case["method"], "skew_test": case["skew_test"]}
    if case["skew_test"] and skewed.any():
        with pytest.warns(PainstatsWarning, match="test of skewness .* is significant"):
            res = fivenum_to_mean_sd(**inputs, **kwargs)
    else:
        res = fivenum_to_mean_sd(**inputs, **kwargs)
    for ours, theirs in [("mean", "mean"), ("sd", "sd"), ("skew_statistic", "skew_statistic"),
                         ("skew_critical", "skew_critical")]:
        assert_allclose(res[ours].to_numpy(float), _arr(case[theirs]), equal_nan=True,
                        **CLOSED_FORM)
    assert (res["skewed"].to_numpy() == skewed).all()


def test_fivenum_fixture_covers_the_whole_grid() -> None:
    assert len(FIVENUM) == REF["meta"]["n_fivenum_cases"] == 38
    methods = {c["method"] for c in FIVENUM}
    assert methods == {"default", "luo/wan/shi", "wan2014"}
    assert {c["skew_test"] for c in FIVENUM} == {True, False}
    scenarios = set()
    for c in FIVENUM:
        res = fivenum_to_mean_sd(**{k: _arr(v) for k, v in c["inputs"].items()},
                                 skew_test=False)
        scenarios |= set(res["scenario"])
    assert scenarios == {"S1", "S2", "S3"}
    assert sum(any(c["skewed"]) for c in FIVENUM) >= 6
    assert "conv.fivenum" in REF["meta"]["conv_fivenum_source"]


def test_fivenum_metafor_documented_example() -> None:
    """metafor's ``conv.fivenum`` help page prints these for its example data."""
    res = fivenum_to_mean_sd(n=[20, 20, 20], min=[2, np.nan, 2], q1=[np.nan, 4, 4],
                             median=[6, 6, 6], q3=[np.nan, 10, 10], max=[14, np.nan, 14])
    assert_allclose(res["mean"], [6.594468, 6.719500, 6.938841], **PRINTED_6DP)
    assert_allclose(res["sd"], [3.211576, 4.787076, 3.679435], **PRINTED_6DP)
    assert list(res["scenario"]) == ["S1", "S2", "S3"]
    assert list(res.columns) == ["mean", "sd", "scenario", "skew_statistic", "skew_critical",
                                 "skewed"]


def test_fivenum_scalars_and_omitted_median() -> None:
    res = fivenum_to_mean_sd(n=40, q1=3.0, q3=9.0)
    assert len(res) == 1 and np.isnan(res["mean"][0]) and res["sd"][0] > 0
    assert not res["skewed"][0]


def test_fivenum_skew_test_off_estimates_skewed_rows_without_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = fivenum_to_mean_sd(n=20, min=2, median=6, max=30, skew_test=False)
    assert bool(res["skewed"][0]) and np.isfinite(res["mean"][0])


def test_fivenum_propagate_gives_nan_rows() -> None:
    res = fivenum_to_mean_sd(n=[20, np.nan, 20], min=[2, 2, np.nan], median=[6, 6, 6],
                             max=[14, 14, np.nan], missing="propagate")
    assert np.isfinite(res["mean"][0])
    assert np.isnan(res["mean"][1:]).all() and np.isnan(res["sd"][1:]).all()
    assert res["scenario"][0] == "S1" and res["scenario"][1:].isna().all()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n": [4, 20], "min": 1, "median": 5, "max": 9}, ValidationError,
         r"n must be at least 5; study '1' \(row 1\) has n=4"),
        ({"n": 20.5, "min": 1, "median": 5, "max": 9}, ValidationError, "n must be a whole number"),
        ({"n": [20, np.nan], "min": 1, "median": 5, "max": 9}, ValidationError,
         r"missing values: study '2' \(row 2\) has n=NaN"),
        ({"n": 20, "min": 6, "median": 5, "max": 9}, ValidationError,
         r"min <= q1 <= median <= q3 <= max; row 1 has min=6, median=5, max=9"),
        ({"n": 20, "q1": 4, "median": 5, "q3": 3}, ValidationError, "median <= q3"),
        ({"n": 20, "min": 1, "median": 5}, ValidationError,
         "each row needs min and max, q1 and q3, or all four.*row 1"),
        ({"n": 20, "min": 1, "q1": 2, "median": 5, "max": 9}, ValidationError,
         "has none of these combinations"),
        ({"n": 20}, ValidationError, "give the reported quantiles"),
        ({"n": 20, "min": 1, "median": 5, "max": np.inf}, ValidationError, "max must be finite"),
        ({"n": 20, "min": 1, "median": 5, "max": 9, "method": "hozo"}, ValidationError,
         r"method must be one of .*got 'hozo'"),
        ({"n": 20, "min": 1, "median": 5, "max": 9, "skew_test": "yes"}, InputTypeError,
         "skew_test must be True or False"),
        ({"n": [20, 30], "min": [1, 2, 3], "median": 5, "max": 9}, ValidationError,
         "one value per row"),
        ({"n": 20, "min": "low", "median": 5, "max": 9}, InputTypeError, "min must be numeric"),
        ({"n": 20, "min": 1, "median": 5, "max": 9, "missing": "drop"}, ValidationError,
         r"missing must be one of \['PROPAGATE', 'RAISE'\]"),
    ],
)
def test_fivenum_raises(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        fivenum_to_mean_sd(**kwargs)


# --------------------------------------------------------------------------------------
# SE, CI, change-from-baseline


def test_se_to_sd_matches_reference() -> None:
    inputs = CONV["se_to_sd"]["inputs"]
    assert_allclose(se_to_sd(inputs["se"], inputs["n"]), CONV["se_to_sd"]["sd"],
                    **CLOSED_FORM)


@pytest.mark.parametrize("case", CONV["ci_to_sd"]["cases"],
                         ids=[f"{c['level']}-{c['dist']}" for c in CONV["ci_to_sd"]["cases"]])
def test_ci_to_sd_matches_reference(case: dict) -> None:
    i = CONV["ci_to_sd"]["inputs"]
    got = ci_to_sd(i["ci_low"], i["ci_high"], i["n"], level=case["level"], dist=case["dist"])
    assert_allclose(got, case["sd"], **CLOSED_FORM)


def test_conversion_fixture_covers_the_grid() -> None:
    levels = {(c["level"], c["dist"]) for c in CONV["ci_to_sd"]["cases"]}
    assert levels == {(lv, d) for lv in (0.95, 0.90, 0.99) for d in ("t", "z")}
    assert len(CONV["change_sd"]["sd_change"]) == 6
    assert len(CONV["se_to_sd"]["sd"]) == 4


def test_ci_to_sd_handbook_example() -> None:
    """Cochrane Handbook 6.5.2.2: 95% CI, large sample: SD = sqrt(N) x width / 3.92."""
    two_q = np.sqrt(100) * (4.92 - 1.0) / ci_to_sd(1.0, 4.92, 100, dist="z")
    assert_allclose(two_q, 3.92, rtol=0.0, atol=_TOLERANCES.printed_atol("3.92"))
    assert_allclose(ci_to_sd(1.0, 4.92, 100, level=95, dist="normal"),
                    ci_to_sd(1.0, 4.92, 100, dist="z"), **CLOSED_FORM)


def test_change_sd_matches_reference_and_roundtrips() -> None:
    i = CONV["change_sd"]["inputs"]
    got = change_sd(i["sd_baseline"], i["sd_final"], i["r"])
    assert_allclose(got, CONV["change_sd"]["sd_change"], **CLOSED_FORM)
    j = CONV["correlation_from_sds"]["inputs"]
    r = correlation_from_sds(j["sd_baseline"], j["sd_final"], j["sd_change"])
    assert_allclose(r, CONV["correlation_from_sds"]["r"], **CLOSED_FORM)
    assert_allclose(r, i["r"], **CLOSED_FORM)


def test_scalars_give_floats_and_arrays_give_arrays() -> None:
    assert isinstance(se_to_sd(1.5, 36), float)
    assert isinstance(change_sd(18.0, 20.0, 0.5), float)
    out = se_to_sd(np.array([1.5, 2.0]), 25)
    assert isinstance(out, np.ndarray) and out.shape == (2,)
    assert isinstance(correlation_from_sds(pd.Series([18.0]), 20.0, 19.0), np.ndarray)


def test_propagate_returns_nan_for_missing_rows() -> None:
    out = se_to_sd([1.5, np.nan], [36, 25], missing="propagate")
    assert out[0] == 9.0 and np.isnan(out[1])
    out = ci_to_sd([1.0, np.nan], [2.0, 3.0], [10, -5], missing="propagate")
    assert np.isfinite(out[0]) and np.isnan(out[1])
    out = change_sd([np.nan, 2.0], 2.0, 0.5, missing="propagate")
    assert np.isnan(out[0]) and out[1] == pytest.approx(2.0)
    out = correlation_from_sds(2.0, 2.0, [np.nan, 2.0], missing="propagate")
    assert np.isnan(out[0]) and out[1] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("func", "args", "kwargs", "error", "match"),
    [
        (se_to_sd, ([1.0, -1.0], 10), {}, ValidationError,
         r"se must be positive and finite; study '2' \(row 2\) has se=-1"),
        (se_to_sd, (1.0, 1), {}, ValidationError, "n must be at least 2"),
        (se_to_sd, (1.0, 10.5), {}, ValidationError, "n must be a whole number"),
        (se_to_sd, ([1.0, np.nan], 10), {}, ValidationError,
         r"missing values: study '2' \(row 2\) has se=NaN \(pass missing='propagate'"),
        (se_to_sd, ([1.0, 2.0], [10, 20, 30]), {}, ValidationError, "one value per row"),
        (se_to_sd, (1.0, 10), {"missing": "drop"}, ValidationError, "missing must be one of"),
        (se_to_sd, ("a", 10), {}, InputTypeError, "se must be numeric"),
        (ci_to_sd, (2.0, 1.0, 10), {}, ValidationError,
         r"ci_high must be greater than ci_low; study '1' \(row 1\) has ci_high=1"),
        (ci_to_sd, (1.0, np.inf, 10), {}, ValidationError, "ci_high must be finite"),
        (ci_to_sd, (-np.inf, 1.0, 10), {}, ValidationError, "ci_low must be finite"),
        (ci_to_sd, (1.0, 2.0, 1), {}, ValidationError, "n must be at least 2"),
        (ci_to_sd, (1.0, 2.0, 10), {"level": 150}, ValidationError, "level must be in"),
        (ci_to_sd, (1.0, 2.0, 10), {"level": "95%"}, InputTypeError, "level must be a number"),
        (ci_to_sd, (1.0, 2.0, 10), {"dist": "chisq"}, ValidationError,
         r"dist must be one of .*got 'chisq'"),
        (change_sd, (0.0, 1.0, 0.5), (), ValidationError, "sd_baseline must be positive"),
        (change_sd, (1.0, -1.0, 0.5), {}, ValidationError, "sd_final must be positive"),
        (change_sd, (1.0, 1.0, 1.5), {}, ValidationError,
         r"r must be between -1 and 1; study '1' \(row 1\) has r=1.5"),
        (correlation_from_sds, (0.0, 1.0, 1.0), {}, ValidationError,
         "sd_baseline must be positive"),
        (correlation_from_sds, (1.0, 0.0, 1.0), {}, ValidationError, "sd_final must be positive"),
        (correlation_from_sds, (1.0, 1.0, -1.0), {}, ValidationError,
         "sd_change must be at least 0"),
        (correlation_from_sds, (1.0, 1.0, np.inf), {}, ValidationError,
         "sd_change must be finite"),
        (correlation_from_sds, (2.0, 3.0, 6.0), {}, ValidationError,
         r"sd_change must lie between .*implied r=-1.91667"),
    ],
)
def test_converters_raise(func, args, kwargs, error, match) -> None:  # noqa: ANN001
    with pytest.raises(error, match=match):
        func(*args, **dict(kwargs))
