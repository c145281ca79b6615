"""painstats.meta.trim_and_fill against R metafor 3.8-1 ``trimfill``.

Reference values: ``validation/metafor/bias.R`` -> ``tests/data/metafor_bias.json``. Every
estimator (L0, R0, Q0) with every tau^2 method, the side chosen by metafor and forced to
either side, after z and Knapp-Hartung fits; k0, its SE, the filled studies and every field
of the refitted model are compared at the tolerance of their kind (``tests/tolerances.py``).
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tolerances  # tests/tolerances.py (tests/ is on sys.path via conftest.py)
from numpy.testing import assert_allclose
from reference import num  # tests/reference.py

from painstats.errors import ConvergenceError, InputTypeError, ValidationError
from painstats.meta import meta_regression, random_effects
from painstats.meta.trim_and_fill import (
    TRIM_AND_FILL_ESTIMATORS,
    TRIM_AND_FILL_SIDES,
    trim_and_fill,
)

_TESTS_DIR = Path(__file__).resolve().parents[1]
FIXTURE_PATH = _TESTS_DIR / "data" / "metafor_bias.json"




tol = tolerances.tol

REFERENCE = json.loads(FIXTURE_PATH.read_text(encoding="utf-8"))
META = REFERENCE["meta"]
DATASETS = REFERENCE["datasets"]
CASES = REFERENCE["trim_and_fill"]
OK_CASES = [c for c in CASES if c["error"] is None]
ERROR_CASES = [c for c in CASES if c["error"] is not None]

ITERATIVE = frozenset({"ML", "REML", "EB", "PM"})
R_TEST = {"z": "z", "knha": "hksj", "t": "t"}


def fit(name: str, method: str = "REML", test: str = "z", level: float = 0.95):
    ds = DATASETS[name]
    return random_effects(num(ds["yi"]), num(ds["vi"]), method=method, test=R_TEST[test],
                          level=level)


def _kind(method: str, field: str) -> str:
    base = "iterative" if method in ITERATIVE else "closed_form"
    if field == "i2" and base == "iterative":
        return "iterative_percent"
    return base


# ---------------------------------------------------------------------------------------
# the grid


def test_fixture_covers_full_grid():
    """Counts per method x estimator x side x test, and the boundary cases, cannot shrink."""
    n_ds = len(DATASETS)
    assert n_ds == 18
    grid = collections.Counter((c["method"], c["test"], c["estimator"], c["side"], c["level"])
                               for c in CASES)
    for method in META["methods"]:
        for est in META["tf_estimators"]:
            assert grid[(method, "z", est, None, 0.95)] == n_ds
        assert grid[(method, "knha", "L0", None, 0.95)] == n_ds
    for method in META["tf_side_methods"]:
        for side in ("left", "right"):
            assert grid[(method, "z", "L0", side, 0.95)] == n_ds
    for est in ("R0", "Q0"):
        for side in ("left", "right"):
            assert grid[("REML", "z", est, side, 0.95)] == n_ds
    assert len(CASES) == n_ds * (9 * 3 + 9 + 3 * 2 + 2 * 2) + 2
    assert set(TRIM_AND_FILL_ESTIMATORS) == {c["estimator"] for c in CASES}
    assert set(TRIM_AND_FILL_SIDES) == {c["expected"]["side"] for c in OK_CASES}
    # boundary cases: k0 = 0, studies filled on either side, k = 3, tau2 = 0, metafor errors
    k0 = collections.Counter((c["expected"]["k0"] > 0, c["expected"]["side"]) for c in OK_CASES
                             if c["side"] is None)
    assert all(k0[(filled, side)] > 20 for filled in (True, False) for side in ("left", "right"))
    # k = 3 with two filled studies (a trimmed fit with one study): FE and ML
    k3 = {c["method"] for c in OK_CASES
          if c["id"].startswith("sim_k3_fill-") and c["expected"]["k0"] == 2}
    assert {"FE", "ML"} <= k3
    assert len(ERROR_CASES) == 10 + 2  # Q0 diverges on sim_ties_vi (10) and sim_k3_fill (FE, ML)


# ---------------------------------------------------------------------------------------
# against metafor


FIELDS = ("estimate", "se", "pvalue", "ci_low", "ci_high", "tau2", "i2")
ADJUSTED_FIELDS = ("statistic", "pi_low", "pi_high", "tau2_se", "h2", "q", "q_pvalue")


def _study_on_trimmed_estimate(case: dict) -> bool:
    """sim_k3_fill with k0 = 2: the last trimmed fit has one study, which then lies exactly
    on the trimmed estimate (see test_se_k0_when_a_study_sits_on_the_trimmed_estimate)."""
    return case["dataset"] == "sim_k3_fill" and case["expected"]["k0"] == 2


@pytest.mark.parametrize("case", OK_CASES, ids=lambda c: c["id"])
def test_trim_and_fill_matches_metafor_trimfill(case):
    res = fit(case["dataset"], case["method"], case["test"], case["level"])
    tf = trim_and_fill(res, estimator=case["estimator"], side=case["side"])
    ex = case["expected"]
    assert (tf.k0, tf.side, tf.estimator) == (ex["k0"], ex["side"], case["estimator"])
    failures = []

    def close(name, actual, desired, kind):
        try:
            assert_allclose(np.asarray(actual, dtype=float), num(desired),
                            err_msg=f"{case['id']}: {name} ({kind})", **tol(kind))
        except AssertionError as err:
            failures.append(str(err))

    method = case["method"]
    if not _study_on_trimmed_estimate(case):
        close("se_k0", tf.se_k0, ex["se_k0"], "closed_form")
    close("p_k0", tf.p_k0, ex["p_k0"], "closed_form")
    for name in FIELDS:
        close(name, getattr(tf, name), ex[name], _kind(method, name))
    for name in ADJUSTED_FIELDS:
        kind = "closed_form" if name in ("q", "q_pvalue") and tf.k0 == 0 else _kind(method, name)
        close(f"adjusted.{name}", getattr(tf.adjusted, name), ex[name], kind)
    close("filled_yi", tf.filled_yi, ex["filled_yi"], _kind(method, "filled_yi"))
    close("filled_vi", tf.filled_vi, ex["filled_vi"], "exact")
    if failures:
        pytest.fail("\n".join(failures))
    assert tf.adjusted.k == ex["k"] == res.k + tf.k0
    assert tf.adjusted.test == R_TEST[ex["test"]]
    assert_allclose(tf.adjusted.level, ex["level"], rtol=1e-15)


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: c["id"])
def test_trim_and_fill_fails_where_metafor_fails(case):
    """Q0 can leave the domain of its square root; metafor stops with an error there too."""
    res = fit(case["dataset"], case["method"], case["test"], case["level"])
    with pytest.raises(ConvergenceError, match=r"trim-and-fill \(Q0\) failed at iteration \d+: "
                                               r"2k\^2 - 4 S_r \+ 1/4 = .* < 0"):
        trim_and_fill(res, estimator=case["estimator"], side=case["side"])


# ---------------------------------------------------------------------------------------
# behaviour


def test_k0_zero_returns_the_original_model_unchanged():
    res = fit("sim_k0_zero", "REML", "knha", 0.90)
    tf = trim_and_fill(res)
    assert tf.k0 == 0 and tf.adjusted is res and tf.original is res
    assert tf.adjusted.test == "hksj" and tf.adjusted.level == 0.90
    assert tf.filled_yi.size == 0 and tf.filled_vi.size == 0


def test_refit_uses_z_and_95_percent_after_knha():
    res = fit("sim_asym_left", "REML", "knha", 0.90)
    tf = trim_and_fill(res)
    assert tf.k0 > 0
    assert (tf.adjusted.test, tf.adjusted.level, tf.adjusted.method) == ("z", 0.95, "REML")
    assert tf.adjusted.labels[-tf.k0:] == tuple(f"Filled {i + 1}" for i in range(tf.k0))


def test_filled_studies_mirror_the_most_extreme():
    """Filled = 2b - y of the k0 studies furthest on the side, with the same variances."""
    res = fit("sim_asym_left", "FE")
    tf = trim_and_fill(res)
    assert tf.side == "left"
    order = np.argsort(res.yi, kind="stable")[-tf.k0:]
    b = (tf.filled_yi + res.yi[order]) / 2
    assert_allclose(b, b[0], **tol("closed_form"))
    assert_allclose(tf.filled_vi, res.vi[order], rtol=0, atol=0)
    assert np.all(tf.filled_yi < res.estimate)
    frame = tf.study_frame()
    assert frame["filled"].sum() == tf.k0 and len(frame) == res.k + tf.k0


def test_se_k0_when_a_study_sits_on_the_trimmed_estimate():
    """The one deliberate difference from metafor (se_k0 only; k0 and the fit agree).

    For sim_k3_fill L0 trims two of three studies; the last trimmed fit has a single study,
    so that study's deviation y - b is 0 in exact arithmetic. painstats computes b = y
    exactly and gives the deviation sign 0 (it is neither above nor below), hence S_r = 5
    and L0 = 1.6; metafor's beta comes out one ulp below y, the sign is +1, S_r = 6 and
    L0 = 2.4. Both round to k0 = 2, but se_k0 uses the unrounded L0.
    """
    cases = [c for c in OK_CASES if _study_on_trimmed_estimate(c)]
    assert len(cases) == 5
    k = 3

    def se_l0(sr):
        l0 = (4 * sr - k * (k + 1)) / (2 * k - 1)
        var = (k * (k + 1) * (2 * k + 1) + 10 * l0**3 + 27 * l0**2 + 17 * l0 - 18 * k * l0**2
               - 18 * k * l0 + 6 * k**2 * l0) / 24
        return 4 * np.sqrt(var) / (2 * k - 1)

    for case in cases:
        tf = trim_and_fill(fit(case["dataset"], case["method"], case["test"], case["level"]),
                           estimator=case["estimator"], side=case["side"])
        assert tf.k0 == case["expected"]["k0"] == 2
        assert_allclose(case["expected"]["se_k0"], se_l0(6), **tol("closed_form"))
        assert_allclose(tf.se_k0, se_l0(5), **tol("closed_form"))


def test_r0_test_of_no_missing_studies():
    tf = trim_and_fill(fit("bcg"), estimator="R0")
    assert tf.p_k0 == 0.5 ** (tf.k0 + 1)
    assert np.isnan(trim_and_fill(fit("bcg")).p_k0)


def test_three_studies_and_tau2_zero():
    tf = trim_and_fill(fit("sim_k3_fill", "FE"))
    assert tf.k0 == 2 and tf.adjusted.k == 5
    assert_allclose(tf.filled_yi, [0.3 - 0.02, 0.3 - 0.6], **tol("closed_form"))
    tf0 = trim_and_fill(fit("sim_tau2_zero", "DL"))
    assert tf0.original.tau2 == 0


def test_options_are_case_insensitive():
    tf = trim_and_fill(fit("bcg"), side="LEFT")
    assert tf.side == "left"


def test_summary_and_frame_layout_as_metafor():
    tf = trim_and_fill(fit("bcg"), estimator="R0")
    text = str(tf.summary())
    assert "Estimated number of missing studies on the right side: 0 (SE = 1.4142)" in text
    assert "Test of H0: no missing studies on the right side:      p-val = 0.5000" in text
    assert "Random-Effects Model (k = 13; tau^2 estimator: REML)" in text
    assert str(tf) == text
    frame = tf.to_frame()
    assert list(frame["term"]) == ["original", "adjusted"]
    assert isinstance(frame, pd.DataFrame)


# ---------------------------------------------------------------------------------------
# every raise


def test_too_few_studies_raises():
    with pytest.raises(ValidationError, match="trim_and_fill needs at least 3 studies; got k=2"):
        trim_and_fill(random_effects([0.1, 0.4], [0.01, 0.03]))


def test_meta_regression_input_raises():
    df = pd.DataFrame({"yi": num(DATASETS["bcg"]["yi"]), "vi": num(DATASETS["bcg"]["vi"]),
                       "x": np.arange(13.0)})
    with pytest.raises(ValidationError, match="trim_and_fill needs an intercept-only model"):
        trim_and_fill(meta_regression("yi ~ x", data=df))


def test_non_result_input_raises():
    with pytest.raises(InputTypeError, match="trim_and_fill needs a RandomEffectsResult"):
        trim_and_fill({"yi": [1, 2, 3]})


def test_unknown_estimator_raises():
    with pytest.raises(ValidationError, match=r"estimator must be one of \['L0', 'Q0', 'R0'\]"):
        trim_and_fill(fit("bcg"), estimator="L1")


def test_bad_side_raises():
    with pytest.raises(ValidationError, match=r"side must be one of \['LEFT', 'RIGHT'\]; got 'up'"):
        trim_and_fill(fit("bcg"), side="up")


def test_bad_maxiter_raises():
    with pytest.raises(ValidationError, match="maxiter must be a positive whole number"):
        trim_and_fill(fit("bcg"), maxiter=0)


def test_equal_variances_need_a_side():
    res = random_effects([0.1, 0.5, 0.3, 0.9], [0.04] * 4)
    with pytest.raises(ValidationError,
                       match="cannot choose the side: every study has the same vi"):
        trim_and_fill(res)
    assert trim_and_fill(res, side="left").side == "left"


def test_no_convergence_within_maxiter_raises():
    res = fit("sim_asym_left")
    assert trim_and_fill(res).iterations > 2
    with pytest.raises(ConvergenceError, match=r"trim-and-fill \(L0\) did not converge in 2"):
        trim_and_fill(res, maxiter=2)


def test_r0_undefined_raises():
    """All effects equal: no study lies below the estimate, R0's run length is undefined."""
    res = random_effects([0.3] * 5, [0.01, 0.02, 0.03, 0.04, 0.05], method="FE")
    with pytest.raises(ConvergenceError, match=r"trim-and-fill \(R0\) failed at iteration 1"):
        trim_and_fill(res, estimator="R0")
    assert trim_and_fill(res).k0 == 0
