"""painstats.meta against R metafor 3.8-1, case by case.

The reference values come from ``validation/metafor/rma_grid.R`` and live in
``tests/data/metafor_rma.json`` together with the data (yi, vi, moderators) of every case,
so these tests never need R. Every field of every result is compared with
``assert_allclose`` at the tolerance of its kind (``tests/tolerances.py``):

* closed form (DL, HE, HS, SJ, FE fits; Q and its p-value for every method): 1e-10 relative;
* iterative (ML, REML, EB, PM fits and everything derived from their tau2) and the Q-profile
  roots of ``confint_tau2()``: 1e-6 relative (the project's bar).

A case fails with the list of all fields that differ, not only the first.

The grid is guarded twice: ``test_fixture_covers_full_grid`` pins the number of cases per
method x test (and the edge cases), so the fixture cannot quietly shrink; and
``test_fixture_*_converged`` check with plain NumPy that the stored iterative values solve
their estimating equations, so the fixture cannot quietly be regenerated with metafor's
loose default controls.
"""

from __future__ import annotations

import collections
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tolerances  # tests/tolerances.py (tests/ is on sys.path via conftest.py)
from numpy.testing import assert_allclose
from reference import num  # tests/reference.py
from scipy import stats

from painstats.errors import PainstatsWarning

_TESTS_DIR = Path(__file__).resolve().parents[1]
FIXTURE_PATH = _TESTS_DIR / "data" / "metafor_rma.json"




tol = tolerances.tol

REFERENCE = json.loads(FIXTURE_PATH.read_text(encoding="utf-8"))
DATASETS = REFERENCE["datasets"]
RE_CASES = REFERENCE["random_effects"]
REG_CASES = REFERENCE["meta_regression"]
SUB_CASES = REFERENCE["subgroups"]

ITERATIVE_METHODS = frozenset({"ML", "REML", "EB", "PM"})


# ---------------------------------------------------------------------------------------
# helpers


ILL_CONDITIONED = 1e8  # cond(X'X) above which closed-form fits lose ~eps * cond


def kind_of(method: str, field: str = "", condition_number: float = 1.0) -> str:
    """Tolerance kind for a field of a fit with this estimator (see tests/tolerances.py)."""
    base = "iterative" if method in ITERATIVE_METHODS else "closed_form"
    if field == "tau":
        return f"sqrt_{base}"
    if field == "i2" and base == "iterative":
        return "iterative_percent"
    if base == "closed_form" and condition_number > ILL_CONDITIONED:
        return "closed_form_ill_conditioned"
    return base


def reg_kind(case: dict) -> str:
    return kind_of(case["method"], condition_number=case["design_condition_number"])


def dataset_frame(name: str) -> pd.DataFrame:
    ds = DATASETS[name]
    frame = pd.DataFrame({"yi": num(ds["yi"]), "vi": num(ds["vi"])})
    for col, values in ds["moderators"].items():
        frame[col] = values if isinstance(values[0], str) else num(values)
    frame.index = pd.Index(ds["slab"], name="study")
    return frame


class FieldChecker:
    """Collects every mismatching field of one case, then fails once with all of them."""

    def __init__(self, case_id: str):
        self.case_id = case_id
        self.failures: list[str] = []

    def close(self, field: str, actual, desired, kind: str) -> None:
        try:
            assert_allclose(
                np.asarray(actual, dtype=float),
                np.asarray(desired, dtype=float),
                err_msg=f"{self.case_id}: {field} ({kind})",
                **tol(kind),
            )
        except AssertionError as err:
            self.failures.append(str(err).strip())

    def equal(self, field: str, actual, desired) -> None:
        if actual != desired:
            self.failures.append(f"{self.case_id}: {field}: got {actual!r}, metafor {desired!r}")

    def finish(self) -> None:
        if self.failures:
            pytest.fail("\n\n".join(self.failures), pytrace=False)


def fit_random_effects(case: dict):
    from painstats.meta import random_effects

    ds = DATASETS[case["dataset"]]
    with warnings.catch_warnings():
        if case["metafor_warnings"]:
            warnings.simplefilter("ignore", PainstatsWarning)
        return random_effects(
            num(ds["yi"]),
            num(ds["vi"]),
            method=case["method"],
            test=case["test"],
            level=case["level"],
        )


def ids(cases):
    return [c["id"] for c in cases]


# ---------------------------------------------------------------------------------------
# random-effects model


RE_SCALARS = (
    "estimate", "se", "statistic", "pvalue", "ci_low", "ci_high", "pi_low", "pi_high",
    "tau2", "tau2_se", "tau", "i2", "h2",
)  # fmt: skip


@pytest.mark.parametrize("case", RE_CASES, ids=ids(RE_CASES))
def test_random_effects_matches_metafor(case):
    res = fit_random_effects(case)
    exp = case["expected"]
    kind = kind_of(case["method"])
    check = FieldChecker(case["id"])

    for field in RE_SCALARS:
        # FE: metafor gives no prediction interval and no SE of tau2 -> NaN here
        check.close(field, getattr(res, field), num(exp[field]), kind_of(case["method"], field))
    check.close("weights", res.weights, num(exp["weights"]), kind)
    # Cochran's Q uses the FE weights 1/vi whatever the method: closed form everywhere
    check.close("q", res.q, num(exp["q"]), "closed_form")
    check.close("q_pvalue", res.q_pvalue, num(exp["q_pvalue"]), "closed_form")
    check.close("df", res.df, num(exp["df"]), "exact")
    check.equal("q_df", int(res.q_df), exp["q_df"])
    check.equal("k", int(res.k), exp["k"])
    check.finish()


RE_CI_CASES = [c for c in RE_CASES if c["method"] != "FE"]


@pytest.mark.parametrize("case", RE_CI_CASES, ids=ids(RE_CI_CASES))
def test_confint_tau2_matches_metafor(case):
    """Q-profile CIs as metafor confint(), with the actual roots (metafor capped at tau2.max)."""
    ci = fit_random_effects(case).confint_tau2()
    exp = case["expected"]["confint"]
    check = FieldChecker(case["id"])
    check.equal("confint index", list(ci.index), ["tau2", "tau", "i2", "h2"])
    check.equal("confint columns", list(ci.columns), ["estimate", "ci_low", "ci_high"])
    if not check.failures:
        for row in ("tau2", "tau", "i2", "h2"):
            desired = num(exp[row])
            root = "sqrt_iterative" if row == "tau" else "qprofile_root"
            check.close(f"confint {row} estimate", ci.loc[row, "estimate"], desired[0],
                        kind_of(case["method"], row))  # fmt: skip
            check.close(f"confint {row} ci_low", ci.loc[row, "ci_low"], desired[1], root)
            check.close(f"confint {row} ci_high", ci.loc[row, "ci_high"], desired[2], root)
    check.finish()


# ---------------------------------------------------------------------------------------
# meta-regression


def fit_meta_regression(case: dict):
    from painstats.meta import meta_regression

    with warnings.catch_warnings():
        if case["metafor_warnings"]:
            warnings.simplefilter("ignore", PainstatsWarning)
        return meta_regression(
            case["formula"],
            data=dataset_frame(case["dataset"]),
            vi="vi",
            method=case["method"],
            test=case["test"],
            level=case["level"],
        )


COEF_COLUMNS = ("estimate", "se", "statistic", "pvalue", "ci_low", "ci_high")


@pytest.mark.parametrize("case", REG_CASES, ids=ids(REG_CASES))
def test_meta_regression_matches_metafor(case):
    reg = fit_meta_regression(case)
    exp = case["expected"]
    kind = reg_kind(case)
    check = FieldChecker(case["id"])

    terms = exp["coef"]["term"]
    check.equal("coef index", list(reg.coef.index), terms)
    if not check.failures:
        for col in COEF_COLUMNS:
            actual = reg.coef.loc[terms, col].to_numpy()
            check.close(f"coef {col}", actual, num(exp["coef"][col]), kind)
    for field in ("tau2", "tau2_se", "i2", "h2", "r2", "qm", "qm_pvalue"):
        field_kind = "iterative_percent" if (field == "i2" and kind == "iterative") else kind
        check.close(field, getattr(reg, field), num(exp[field]), field_kind)
    qe_kind = kind_of("FE", condition_number=case["design_condition_number"])  # FE weights
    check.close("qe", reg.qe, num(exp["qe"]), qe_kind)
    check.close("qe_pvalue", reg.qe_pvalue, num(exp["qe_pvalue"]), qe_kind)
    qm_df = exp["qm_df"]
    if case["test"] == "z":
        check.equal("qm_df", reg.qm_df, qm_df)
    else:  # F test: (m, k - p)
        check.equal("qm_df", tuple(int(d) for d in reg.qm_df), tuple(qm_df))
    check.equal("qe_df", int(reg.qe_df), exp["qe_df"])
    check.equal("k", int(reg.k), exp["k"])
    check.finish()


PREDICT_COLUMNS = ("pred", "se", "ci_low", "ci_high", "pi_low", "pi_high")


@pytest.mark.parametrize("case", REG_CASES, ids=ids(REG_CASES))
def test_meta_regression_predict_matches_metafor(case):
    """predict(new_data) as metafor predict(res, newmods=...); FE models have no PI (NaN)."""
    reg = fit_meta_regression(case)
    exp = case["expected"]["predict"]
    new_data = pd.DataFrame(
        {c: (v if isinstance(v[0], str) else num(v)) for c, v in exp["new_data"].items()}
    )
    pred = reg.predict(new_data)
    check = FieldChecker(case["id"])
    for col in PREDICT_COLUMNS:
        check.close(f"predict {col}", pred[col].to_numpy(), num(exp[col]), reg_kind(case))
    check.finish()


# ---------------------------------------------------------------------------------------
# subgroups


@pytest.mark.parametrize("case", SUB_CASES, ids=ids(SUB_CASES))
def test_subgroups_match_metafor(case):
    from painstats.meta import subgroup_analysis

    sg = subgroup_analysis(
        data=dataset_frame(case["dataset"]).reset_index(),
        by=case["by"],
        yi="yi",
        vi="vi",
        method=case["method"],
        test=case["test"],
    )
    exp = case["expected"]
    kind = kind_of(case["method"])
    check = FieldChecker(case["id"])
    groups = exp["groups"]
    check.equal("group labels (sorted)", [str(g) for g in sg.groups.index], groups["label"])
    if not check.failures:
        check.equal("k", [int(k) for k in sg.groups["k"]], groups["k"])
        for col in ("estimate", "se", "ci_low", "ci_high", "tau2", "i2"):
            check.close(f"groups {col}", sg.groups[col].to_numpy(), num(groups[col]),
                        kind_of(case["method"], col))  # fmt: skip
    check.close("q_between", sg.q_between, num(exp["q_between"]), kind)
    check.close("q_between_pvalue", sg.q_between_pvalue, num(exp["q_between_pvalue"]), kind)
    check.equal("q_between_df", int(sg.q_between_df), exp["q_between_df"])
    check.finish()


# ---------------------------------------------------------------------------------------
# the fixture itself: full grid, edge cases, converged values

METHODS = ("DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM", "FE")
TESTS = ("z", "t", "knha")
N_DATASETS = 23  # 10 real (incl. Normand with pooled SD) + 13 synthetic
N_LEVEL90_DATASETS = 6
N_REG_FORMULAS = 21
N_LEVEL90_FORMULAS = 2
SUBGROUP_SPECS = 7
SUB_METHODS = ("FE", "DL", "REML", "ML", "PM", "SJ")


def test_fixture_covers_full_grid():
    """Pin the grid: a regenerated fixture with fewer cases must fail here."""
    re_counts = collections.Counter((c["method"], c["test"]) for c in RE_CASES)
    assert re_counts == {(m, t): N_DATASETS + N_LEVEL90_DATASETS for m in METHODS for t in TESTS}
    re_levels = collections.Counter(c["level"] for c in RE_CASES)
    assert re_levels == {0.95: 27 * N_DATASETS, 0.90: 27 * N_LEVEL90_DATASETS}
    assert {c["dataset"] for c in RE_CASES} == set(DATASETS)
    assert len(DATASETS) == N_DATASETS

    reg_counts = collections.Counter((c["method"], c["test"]) for c in REG_CASES)
    n_reg = N_REG_FORMULAS + N_LEVEL90_FORMULAS
    assert reg_counts == {(m, t): n_reg for m in METHODS for t in TESTS}
    assert len({(c["dataset"], c["formula"]) for c in REG_CASES}) == N_REG_FORMULAS

    sub_counts = collections.Counter(c["method"] for c in SUB_CASES)
    assert sub_counts == {m: SUBGROUP_SPECS for m in SUB_METHODS}

    for collection in (RE_CASES, REG_CASES, SUB_CASES):
        assert len({c["id"] for c in collection}) == len(collection)


def test_fixture_covers_edge_cases():
    ks = {ds["k"] for ds in DATASETS.values()}
    assert {2, 3, 5, 10, 30, 100} <= ks

    by_id = {c["id"]: c["expected"] for c in RE_CASES}
    # every truncated estimator at tau2 = 0, with a Q-profile CI [0, >0]
    for method in ("DL", "HS", "ML", "REML", "EB", "PM"):
        assert by_id[f"sim_tau2_zero-{method}-z-95"]["tau2"] == 0
    assert by_id["sim_tau2_zero-REML-z-95"]["confint"]["tau2"][1] == 0
    assert by_id["sim_tau2_zero-REML-z-95"]["confint"]["tau2"][2] > 0
    # Q(0) below the lower chi2 quantile: both bounds 0
    assert by_id["sim_q_below_lower-REML-z-95"]["confint"]["tau2"][1:] == [0, 0]
    # very unequal variances, huge heterogeneity, an outlier, zero cells
    vi = num(DATASETS["sim_unequal_vi"]["vi"])
    assert vi.max() / vi.min() == pytest.approx(1e4)
    assert by_id["sim_huge_het-REML-z-95"]["i2"] > 99
    assert "sim_outlier" in DATASETS
    assert {"sim_zero_cells_or", "sim_zero_cells_rd"} <= set(DATASETS)
    # a Q-profile upper bound above metafor's default search limit max(100, 10 tau2)
    assert any(
        num(c["expected"]["confint"]["tau2"][2]) > max(100, 10 * num(c["expected"]["tau2"]))
        for c in RE_CI_CASES
    )
    # meta-regression: continuous, 3-level categorical, two moderators; FE and knha
    formulas = {c["formula"] for c in REG_CASES}
    assert {"yi ~ ablat", "yi ~ C(alloc)", "yi ~ ablat + C(alloc)", "yi ~ x + C(grp)"} <= formulas
    # subgroups with 2, 3 and 4 groups
    assert {len(c["expected"]["groups"]["label"]) for c in SUB_CASES} >= {2, 3, 4}


def test_fixture_records_provenance():
    meta = REFERENCE["meta"]
    assert meta["metafor_version"].startswith("3.8")
    assert meta["rma_control"]["threshold"] <= 1e-12
    assert meta["rma_control"]["tol"] <= 1e-13
    assert meta["confint_control"]["tol"] <= 1e-13
    for key in ("r_version", "date", "generated_by"):
        assert meta[key]


def _q_gen(tau2, yi, vi):
    """Generalised Q at tau2 (weights 1/(vi + tau2)) and the weighted mean."""
    w = 1.0 / (vi + tau2)
    mu = np.sum(w * yi) / np.sum(w)
    return np.sum(w * (yi - mu) ** 2), w, mu


def _converged_cases(method):
    return [
        c for c in RE_CASES if c["method"] == method and c["test"] == "z" and c["level"] == 0.95
    ]


@pytest.mark.parametrize("method", ["ML", "REML", "EB", "PM"])
def test_fixture_tau2_is_converged(method):
    """The stored tau2 solves its estimating equation to ~1e-9 (defaults would give ~1e-5)."""
    for case in _converged_cases(method):
        ds = DATASETS[case["dataset"]]
        yi, vi = num(ds["yi"]), num(ds["vi"])
        k = len(yi)
        tau2 = num(case["expected"]["tau2"])
        q, w, mu = _q_gen(tau2, yi, vi)
        if method in ("EB", "PM"):
            residual, scale = q - (k - 1), k - 1
        elif method == "ML":
            residual = np.sum(w**2 * (yi - mu) ** 2) - np.sum(w)
            scale = np.sum(w)
        else:  # REML: y'PPy - tr(P)
            W = np.diag(w)
            X = np.ones((k, 1))
            P = W - W @ X @ np.linalg.inv(X.T @ W @ X) @ X.T @ W
            residual = yi @ P @ P @ yi - np.trace(P)
            scale = np.trace(P)
        if tau2 < 1e-10:  # at the boundary the score must point below zero
            assert residual <= 1e-9 * scale, case["id"]
        else:
            assert abs(residual) <= 1e-9 * scale, (case["id"], residual / scale)


def test_fixture_qprofile_bounds_are_roots():
    """Stored Q-profile bounds solve Q_gen(tau2) = chi2 quantile to ~1e-9."""
    for case in _converged_cases("REML") + [
        c for c in RE_CI_CASES if c["method"] == "REML" and c["level"] == 0.90 and c["test"] == "z"
    ]:
        ds = DATASETS[case["dataset"]]
        yi, vi = num(ds["yi"]), num(ds["vi"])
        df = len(yi) - 1
        alpha = 1 - case["level"]
        lo, hi = num(case["expected"]["confint"]["tau2"])[1:]
        for bound, quantile in ((lo, 1 - alpha / 2), (hi, alpha / 2)):
            target = stats.chi2.ppf(quantile, df)
            q0 = _q_gen(0.0, yi, vi)[0]
            if bound == 0:
                assert q0 <= target * (1 + 1e-12), case["id"]
            else:
                q = _q_gen(bound, yi, vi)[0]
                assert q == pytest.approx(target, rel=1e-9), case["id"]
