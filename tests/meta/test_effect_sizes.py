"""Tests of painstats.meta.effect_sizes.effect_size against R metafor's escalc."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy.special import gamma

import tolerances  # tests/tolerances.py (tests/ is on sys.path via conftest.py)
from painstats import datasets
from painstats.errors import InputTypeError, ValidationError
from painstats.meta.effect_sizes import MEASURES, VTYPES, effect_size

_TESTS_DIR = Path(__file__).resolve().parents[1]
FIXTURE = _TESTS_DIR / "data" / "metafor_escalc.json"




_TOLERANCES = tolerances
CLOSED_FORM = _TOLERANCES.tol("closed_form")


def printed(values: list[str]) -> dict[str, object]:
    """assert_allclose keywords for numbers printed in a paper (half a unit of the last digit)."""
    return {"desired": [float(v) for v in values], "rtol": 0.0,
            "atol": max(_TOLERANCES.printed_atol(v) for v in values)}


def _load() -> dict:
    with FIXTURE.open(encoding="utf-8") as fh:
        return json.load(fh)


REF = _load()
CASES = REF["escalc"]


def _arr(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_matches_metafor_escalc(case: dict) -> None:
    inputs = {k: _arr(v) for k, v in case["inputs"].items()}
    res = effect_size(case["measure"], **inputs, **case["options"])
    assert_allclose(res["yi"].to_numpy(), _arr(case["yi"]), **CLOSED_FORM)
    assert_allclose(res["vi"].to_numpy(), _arr(case["vi"]), **CLOSED_FORM)


def test_fixture_covers_the_whole_grid() -> None:
    meta = REF["meta"]
    assert meta["metafor_version"] and meta["generated_by"] == "validation/metafor/escalc.R"
    assert meta["r_version"].startswith("R version 4")
    assert len(CASES) == meta["n_escalc_cases"] == 97
    by_measure = {m: sum(c["measure"] == m for c in CASES) for m in MEASURES}
    assert by_measure == {"MD": 8, "SMD": 16, "ROM": 16, "OR": 8, "RR": 8, "RD": 16,
                          "MC": 5, "SMCC": 10, "SMCR": 10}
    assert by_measure == meta["n_escalc_cases_by_measure"]
    combos = {(c["measure"], c["options"]["vtype"]) for c in CASES}
    assert combos == {(m, v) for m in MEASURES for v in VTYPES[m]} - {("MD", "UB")}
    sources = {c["source"] for c in CASES}
    assert {"rubinstein2019", "normand1999", "haeuser2009_pain", "haeuser2009_pain_raw",
            "morris2008_treatment_post_minus_pre", "morris2008_control_pre_minus_post",
            "synthetic_small_n", "synthetic_change", "synthetic_zero_cells",
            "synthetic_no_zero_cells"} <= sources
    binary_options = {(c["options"]["to"], c["options"]["add"]) for c in CASES
                      if "to" in c["options"]}
    assert binary_options == {("only0", 0.5), ("only0", 1), ("all", 0.5), ("if0all", 0.5),
                              ("none", 0.5), ("all", 0.25)}
    assert len({c["id"] for c in CASES}) == len(CASES)


# --------------------------------------------------------------------------------------
# published worked example: Morris (2008), Table 5


@pytest.fixture(scope="module")
def morris() -> tuple[pd.DataFrame, pd.DataFrame]:
    dat = datasets.load("morris2008")
    treat = dat[dat["group"] == "treatment"].reset_index(drop=True)
    ctrl = dat[dat["group"] == "control"].reset_index(drop=True)
    return treat, ctrl


def test_morris2008_table5_d_ppc2(morris: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """d_ppc2: difference in mean change over the pooled pre-test SD, J(n_T + n_C - 2).

    This is exactly Hedges' g (SMD) of the change means with the pre-test SDs as the SDs.
    """
    treat, ctrl = morris
    res = effect_size(
        "SMD",
        mean1=treat["m_post"] - treat["m_pre"], sd1=treat["sd_pre"], n1=treat["ni"],
        mean2=ctrl["m_post"] - ctrl["m_pre"], sd2=ctrl["sd_pre"], n2=ctrl["ni"],
    )
    assert_allclose(res["yi"].to_numpy(),
                    **printed(["0.7684", "0.8010", "1.2045", "1.0476", "0.4389"]))


def test_morris2008_table5_d_ppc1(morris: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """d_ppc1: SMCR of the treatment group minus SMCR of the control group."""
    treat, ctrl = morris
    es = [effect_size("SMCR", mean1=g["m_post"], mean2=g["m_pre"], sd1=g["sd_pre"],
                      n1=g["ni"], ri=g["ri"]) for g in (treat, ctrl)]
    assert_allclose((es[0]["yi"] - es[1]["yi"]).to_numpy(),
                    **printed(["0.7421", "0.9524", "1.8054", "1.1514", "0.5050"]))
    # per-group values as printed in metafor's own Morris (2008) test
    assert_allclose(es[0]["vi"].to_numpy(),
                    **printed(["0.0594", "0.0254", "0.2322", "0.1225", "0.0802"]))
    assert_allclose(es[1]["yi"].to_numpy(),
                    **printed(["-0.2365", "0.0958", "0.0000", "0.2667", "-0.4250"]))


# --------------------------------------------------------------------------------------
# identities and behaviour

ARMS = {"mean1": [39.0, 34.0, 20.0], "sd1": [18.0, 19.0, 20.0], "n1": [50, 62, 35],
        "mean2": [37.0, 36.0, 16.7], "sd2": [18.0, 22.0, 13.3], "n2": [95, 43, 68]}


def test_smd_uses_exact_j_not_the_approximation() -> None:
    res = effect_size("SMD", mean1=[1.0], sd1=[1.0], n1=[2], mean2=[0.0], sd2=[1.0], n2=[2])
    m = 2
    j_exact = gamma(m / 2) / (np.sqrt(m / 2) * gamma((m - 1) / 2))
    assert_allclose(res["yi"].to_numpy(), [j_exact], **CLOSED_FORM)
    assert abs(j_exact - (1 - 3 / (4 * m - 1))) > 5e-3
    # vi uses the corrected g and is not multiplied by J^2
    assert_allclose(res["vi"].to_numpy(), [1 / 2 + 1 / 2 + j_exact**2 / 8], **CLOSED_FORM)


def test_md_variance_is_unpooled() -> None:
    res = effect_size("MD", **ARMS)
    sd1, sd2 = np.array(ARMS["sd1"]), np.array(ARMS["sd2"])
    expected = sd1**2 / np.array(ARMS["n1"]) + sd2**2 / np.array(ARMS["n2"])
    assert_allclose(res["vi"].to_numpy(), expected, **CLOSED_FORM)


def test_with_data_returns_a_copy_with_yi_vi_and_never_mutates() -> None:
    data = pd.DataFrame(ARMS, index=["a", "b", "c"]).assign(study=["A", "B", "C"])
    before = data.copy(deep=True)
    res = effect_size("SMD", data=data, slab="study", **{k: k for k in ARMS})
    pd.testing.assert_frame_equal(data, before)
    assert list(res.columns) == [*data.columns, "yi", "vi"]
    assert res["yi"].dtype == np.float64 and res["vi"].dtype == np.float64
    assert list(res.index) == ["a", "b", "c"]
    res.loc["a", "mean1"] = -99.0
    pd.testing.assert_frame_equal(data, before)
    assert res.attrs == {"measure": "SMD", "vtype": "LS", "n_dropped": 0}


def test_without_data_returns_only_yi_vi() -> None:
    res = effect_size("MD", **ARMS)
    assert list(res.columns) == ["yi", "vi"]
    assert isinstance(res.index, pd.RangeIndex) and len(res) == 3


def test_existing_yi_vi_columns_are_replaced_in_the_copy() -> None:
    data = pd.DataFrame(ARMS).assign(yi=0.0, vi=0.0)
    res = effect_size("MD", data=data, **{k: k for k in ARMS})
    assert_allclose(res["yi"].to_numpy(), [2.0, -2.0, 3.3], **CLOSED_FORM)
    assert (data["yi"] == 0).all()


def test_missing_drop_removes_rows_and_counts_them() -> None:
    data = pd.DataFrame(ARMS)
    data.loc[1, "sd2"] = np.nan
    data.loc[2, "mean1"] = np.nan
    res = effect_size("MD", data=data, missing="drop", **{k: k for k in ARMS})
    assert res.attrs["n_dropped"] == 2
    assert list(res.index) == [0]
    full = effect_size("MD", **ARMS)
    assert_allclose(res["yi"].to_numpy(), full["yi"].to_numpy()[:1], **CLOSED_FORM)
    arrays = effect_size("MD", missing="drop", **{**ARMS, "sd2": [18.0, np.nan, 13.3]})
    assert arrays.attrs["n_dropped"] == 1
    assert list(arrays.index) == [0, 2]


def test_missing_drop_skips_range_checks_of_dropped_rows() -> None:
    res = effect_size("MD", missing="drop", **{**ARMS, "sd1": [18.0, np.nan, 20.0],
                                               "n1": [50, -4, 35]})
    assert res.attrs["n_dropped"] == 1


def test_scalars_are_repeated_for_every_study() -> None:
    res = effect_size("SMCR", mean1=[5.0, 6.0], mean2=[4.0, 4.5], sd1=2.0, n1=20, ri=0.5)
    assert len(res) == 2
    one = effect_size("SMCR", mean1=[5.0], mean2=[4.0], sd1=[2.0], n1=[20], ri=[0.5])
    assert_allclose(res["vi"].to_numpy()[0], one["vi"].to_numpy()[0], **CLOSED_FORM)


@pytest.mark.parametrize("spelling", ["smd", "SMD", " Hedges_g ", "standardised_mean_difference"])
def test_measure_spellings_are_aliases(spelling: str) -> None:
    res = effect_size(spelling, **ARMS)
    assert res.attrs["measure"] == "SMD"


def test_metafor_argument_names_are_accepted() -> None:
    ours = effect_size("SMD", **ARMS)
    rnames = {"m1i": "mean1", "sd1i": "sd1", "n1i": "n1", "m2i": "mean2", "sd2i": "sd2",
              "n2i": "n2"}
    theirs = effect_size("SMD", **{r: ARMS[p] for r, p in rnames.items()})
    pd.testing.assert_frame_equal(ours, theirs)
    binary = effect_size("OR", ai=[3, 0], n1i=[20, 15], ci=[5, 2], n2i=[21, 16])
    same = effect_size("OR", events1=[3, 0], n1=[20, 15], events2=[5, 2], n2=[21, 16])
    pd.testing.assert_frame_equal(binary, same)
    change = effect_size("SMCC", m1i=[5.0], m2i=[4.0], sd1i=[2.0], sd2i=[2.5], ni=[20], ri=[0.4])
    assert change.attrs["measure"] == "SMCC"


def test_smcr_ignores_sd2() -> None:
    base = {"mean1": [5.0, 6.0], "mean2": [4.0, 4.5], "sd1": [2.0, 1.5], "n1": [20, 12],
            "ri": [0.5, 0.2]}
    without = effect_size("SMCR", **base)
    with_sd2 = effect_size("SMCR", **base, sd2=[np.nan, -1.0])
    pd.testing.assert_frame_equal(without, with_sd2)


def test_zero_cell_correction_to_options() -> None:
    tables = {"events1": [0, 10], "n1": [20, 50], "events2": [4, 12], "n2": [20, 48]}
    only0 = effect_size("RD", **tables)
    if0all = effect_size("RD", to="if0all", **tables)
    none = effect_size("RD", to="none", **tables)
    # only the table with a zero cell is corrected, and RD's yi changes too
    assert_allclose(only0["yi"].to_numpy(), [0.5 / 21 - 4.5 / 21, 10 / 50 - 12 / 48],
                    **CLOSED_FORM)
    assert_allclose(none["yi"].to_numpy(), [-4 / 20, 10 / 50 - 12 / 48], **CLOSED_FORM)
    assert_allclose(if0all["yi"].to_numpy()[1], 10.5 / 51 - 12.5 / 49, **CLOSED_FORM)
    add1 = effect_size("OR", add=1, **tables)
    assert_allclose(add1["vi"].to_numpy()[0], 1 / 1 + 1 / 21 + 1 / 5 + 1 / 17,
                    **CLOSED_FORM)


def test_double_zero_and_all_event_tables_are_kept() -> None:
    res = effect_size("OR", events1=[0, 20], n1=[20, 20], events2=[0, 20], n2=[30, 20])
    assert len(res) == 2 and np.isfinite(res.to_numpy()).all()
    assert_allclose(res["yi"].to_numpy()[1], 0.0, atol=1e-15)


# --------------------------------------------------------------------------------------
# every raise


def test_sd_must_be_positive_names_study_and_row() -> None:
    data = pd.DataFrame({**ARMS, "study": ["Bronfort 2011", "Bronfort 1996", "Cecchi 2010"]})
    data.loc[2, "sd1"] = -18
    with pytest.raises(
        ValidationError,
        match=r"sd1 must be positive and finite; study 'Cecchi 2010' \(row 3\) has sd1=-18",
    ):
        effect_size("MD", data=data, slab="study", **{k: k for k in ARMS})
    with pytest.raises(ValidationError, match=r"sd2 must be positive.*row 1\) has sd2=0"):
        effect_size("SMD", **{**ARMS, "sd2": [0.0, 1.0, 1.0]})


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"n1": [1, 62, 35]}, r"n1 must be at least 2; study '1' \(row 1\) has n1=1"),
        ({"n2": [95, 43.5, 68]}, r"n2 must be a whole number; study '2' \(row 2\) has n2=43.5"),
        ({"n1": [50, np.inf, 35]}, r"n1 must be finite; study '2' \(row 2\) has n1=inf"),
        ({"mean2": [37.0, np.inf, 1.0]}, r"mean2 must be finite; study '2'"),
    ],
)
def test_sample_size_and_mean_checks(changes: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        effect_size("MD", **{**ARMS, **changes})


def test_rom_needs_positive_means() -> None:
    with pytest.raises(ValidationError, match=r"mean1 must be positive and finite; .*mean1=0"):
        effect_size("ROM", **{**ARMS, "mean1": [39.0, 0.0, 20.0]})
    with pytest.raises(ValidationError, match=r"mean2 must be positive and finite; .*mean2=-3"):
        effect_size("ROM", **{**ARMS, "mean2": [-3.0, 1.0, 2.0]})


TABLES = {"events1": [3, 0], "n1": [20, 15], "events2": [5, 2], "n2": [21, 16]}


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"events1": [21, 0]}, r"events1 must not exceed n1; study '1' \(row 1\) has "
                               r"events1=21 > n1=20"),
        ({"events2": [5, -1]}, r"events2 must be non-negative and finite; .*events2=-1"),
        ({"events1": [2.5, 0]}, r"events1 must be a whole number; .*events1=2.5"),
        ({"n2": [21, 1]}, r"n2 must be at least 2; study '2' \(row 2\) has n2=1"),
    ],
)
def test_two_by_two_count_checks(changes: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        effect_size("RR", **{**TABLES, **changes})


@pytest.mark.parametrize("measure", ["OR", "RR"])
def test_log_ratio_undefined_without_correction(measure: str) -> None:
    with pytest.raises(ValidationError, match=rf"{measure} is undefined .*study '2' \(row 2\)"):
        effect_size(measure, to="none", **TABLES)
    with pytest.raises(ValidationError, match="undefined for tables with a zero cell"):
        effect_size(measure, add=0, **TABLES)


CHANGE = {"mean1": [5.0, 6.0], "mean2": [4.0, 4.5], "sd1": [2.0, 1.5], "sd2": [2.5, 1.5],
          "n1": [20, 12], "ri": [0.5, 0.2]}


@pytest.mark.parametrize(
    ("measure", "changes", "match"),
    [
        ("SMCC", {"ri": [0.5, 1.2]}, r"ri must be between -1 and 1; .*\(row 2\) has ri=1.2"),
        ("MC", {"ri": [-1.5, 0.2]}, r"ri must be between -1 and 1; .*ri=-1.5"),
        ("SMCR", {"n1": [20, 2]}, r"n1 must be at least 3; study '2' \(row 2\) has n1=2"),
        ("SMCC", {"n1": [2, 12]}, r"n1 must be at least 3"),
        ("MC", {"n1": [1, 12]}, r"n1 must be at least 2"),
        ("MC", {"sd2": [2.5, -1.0]}, r"sd2 must be positive and finite"),
        ("SMCR", {"sd1": [0.0, 1.0]}, r"sd1 must be positive and finite"),
        ("SMCC", {"ri": [0.5, 1.0]}, r"SD of the change.*must be positive; study '2' \(row 2\)"),
        ("MC", {"ri": [0.5, 1.0]}, r"SD of the change.*sd_change=0"),
    ],
)
def test_change_score_checks(measure: str, changes: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        effect_size(measure, **{**CHANGE, **changes})


def test_nan_raises_unless_dropped() -> None:
    with pytest.raises(ValidationError, match=r"missing values: study '2' \(row 2\) has "
                                              r"sd1=NaN \(pass missing='drop'"):
        effect_size("MD", **{**ARMS, "sd1": [18.0, np.nan, 20.0]})


def test_all_rows_missing_raises() -> None:
    with pytest.raises(ValidationError, match="no studies left: all 3 studies have missing"):
        effect_size("MD", missing="drop", **{**ARMS, "sd1": [np.nan] * 3})


def test_empty_columns_raise() -> None:
    with pytest.raises(ValidationError, match="no studies given"):
        effect_size("MD", **{k: [] for k in ARMS})


def test_mismatched_lengths_raise() -> None:
    with pytest.raises(ValidationError, match="one value per study; .*sd1 has 2"):
        effect_size("MD", **{**ARMS, "sd1": [1.0, 2.0]})
    with pytest.raises(ValidationError, match="ri has 3 values but data has 2 rows"):
        effect_size("SMCR", data=pd.DataFrame(CHANGE), mean1="mean1", mean2="mean2",
                    sd1="sd1", n1="n1", ri=[0.1, 0.2, 0.3])


def test_unknown_measure_raises() -> None:
    with pytest.raises(ValidationError, match=r"measure must be one of .*got 'cohen_d'"):
        effect_size("cohen_d", **ARMS)
    with pytest.raises(InputTypeError, match="measure must be a string"):
        effect_size(3, **ARMS)


def test_missing_required_argument_raises() -> None:
    args = {k: v for k, v in ARMS.items() if k != "sd2"}
    with pytest.raises(ValidationError, match="measure MD needs .*; missing sd2"):
        effect_size("MD", **args)
    with pytest.raises(ValidationError, match="measure SMCR needs .*; missing ri"):
        effect_size("SMCR", **{k: v for k, v in CHANGE.items() if k != "ri"})


def test_unexpected_argument_raises() -> None:
    with pytest.raises(ValidationError, match="unexpected argument 'ri' for measure MD"):
        effect_size("MD", **ARMS, ri=0.5)
    with pytest.raises(ValidationError, match="unexpected argument 'ni' for measure SMD"):
        effect_size("SMD", **{k: v for k, v in ARMS.items() if k != "n1"}, ni=[5, 5, 5])
    with pytest.raises(ValidationError, match="unexpected argument 'mean1' for measure OR"):
        effect_size("OR", **TABLES, mean1=[1.0, 2.0])


def test_argument_given_twice_raises() -> None:
    with pytest.raises(ValidationError, match="n1 was given twice"):
        effect_size("MD", **ARMS, n1i=[50, 62, 35])


def test_non_numeric_cells_raise_type_error() -> None:
    data = pd.DataFrame({**ARMS, "sd1": ["18", "n/a", "20"]})
    with pytest.raises(InputTypeError, match="sd1 must be numeric; row 2 holds 'n/a'"):
        effect_size("MD", data=data, **{k: k for k in ARMS})
    with pytest.raises(InputTypeError, match="n1 must be numeric; got booleans"):
        effect_size("MD", **{**ARMS, "n1": [True, False, True]})


def test_bad_options_raise() -> None:
    with pytest.raises(ValidationError, match=r"vtype must be one of \['LS', 'LS2'\] for measure "
                                              r"SMCR; got 'UB'"):
        effect_size("SMCR", vtype="UB", **CHANGE)
    with pytest.raises(ValidationError, match=r"vtype must be one of .*got 'XX'"):
        effect_size("SMD", vtype="XX", **ARMS)
    with pytest.raises(ValidationError, match=r"to must be one of .*got 'some'"):
        effect_size("OR", to="some", **TABLES)
    with pytest.raises(ValidationError, match="add must be a non-negative finite number"):
        effect_size("OR", add=-0.5, **TABLES)
    with pytest.raises(InputTypeError, match="add must be a number"):
        effect_size("OR", add="half", **TABLES)
    with pytest.raises(ValidationError, match="missing must be 'raise' or 'drop'"):
        effect_size("OR", missing="omit", **TABLES)


def test_bad_data_and_columns_raise() -> None:
    with pytest.raises(InputTypeError, match="data must be a pandas DataFrame"):
        effect_size("MD", data={"a": [1]}, **ARMS)
    with pytest.raises(ValidationError, match="sd1='sd_1' is not a column of data"):
        effect_size("MD", data=pd.DataFrame(ARMS), **{**{k: k for k in ARMS}, "sd1": "sd_1"})
    with pytest.raises(InputTypeError, match="sd1='sd1' is a column name, but no data"):
        effect_size("MD", **{**ARMS, "sd1": "sd1"})
    with pytest.raises(ValidationError, match=r"slab must have one label per study \(3\)"):
        effect_size("MD", slab=["a", "b"], **ARMS)
