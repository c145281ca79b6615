"""Tests of painstats.meta.priors: densities, quantiles, PyMC twins and the empirical tables."""

from __future__ import annotations

import csv
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import tolerances  # tests/tolerances.py (tests/ is on sys.path via conftest.py)
from numpy.testing import assert_allclose
from scipy import integrate, stats

from painstats import datasets
from painstats.errors import InputTypeError, ValidationError
from painstats.meta import priors

tol = tolerances.tol

PRIOR_DIR = Path(__file__).resolve().parents[2] / "data" / "priors"

PROPER = [
    priors.half_normal(0.5),
    priors.half_cauchy(0.5),
    priors.half_t(0.5, 3),
    priors.uniform(2.0),
    priors.lognormal_tau2(-2.56, 1.74),
    priors.log_t_tau2(-3.02, 2.27, 5),
]


def _independent_logpdf(p, t):
    """The same densities written from SciPy's distributions (on tau or via tau^2)."""
    if isinstance(p, priors.HalfNormal):
        return stats.halfnorm.logpdf(t, scale=p.scale)
    if isinstance(p, priors.HalfCauchy):
        return stats.halfcauchy.logpdf(t, scale=p.scale)
    if isinstance(p, priors.HalfStudentT):
        return np.log(2 * stats.t.pdf(t, p.df, scale=p.scale))
    if isinstance(p, priors.Uniform):
        return stats.uniform.logpdf(t, 0, p.upper)
    # density of tau = density of tau^2 at t^2 times d(tau^2)/d(tau) = 2 t
    if isinstance(p, priors.LogNormalTau2):
        return stats.lognorm.logpdf(t**2, s=p.sigma, scale=math.exp(p.mu)) + np.log(2 * t)
    x = np.log(t**2)
    return (stats.t.logpdf((x - p.location) / p.scale, p.df) - math.log(p.scale) - 2 * np.log(t)
            + np.log(2 * t))


@pytest.mark.parametrize("prior", PROPER, ids=lambda p: type(p).__name__)
def test_logpdf_matches_scipy_and_integrates_to_one(prior):
    t = np.array([1e-3, 0.05, 0.3, 1.0, 1.9])
    assert_allclose(prior.logpdf(t), _independent_logpdf(prior, t), **tol("closed_form"))
    # integrate over log(tau) in [-60, 60] (log-scale priors spread their mass there) and
    # compare with the closed-form CDF over the same range (log-t tails hold ~5e-8 beyond)
    total = integrate.quad(lambda s: prior.pdf(math.exp(s)) * math.exp(s), -60, 60,
                           points=[-5, -2, 0, 2], limit=400, epsabs=0, epsrel=1e-12)[0]
    assert_allclose(total, prior.cdf(math.exp(60)) - prior.cdf(math.exp(-60)), rtol=1e-9)
    assert total > 1 - 1e-7
    assert prior.logpdf(-0.1) == -np.inf


@pytest.mark.parametrize("prior", PROPER, ids=lambda p: type(p).__name__)
def test_cdf_and_ppf_are_inverse(prior):
    p = np.array([0.01, 0.25, 0.5, 0.9, 0.99])
    assert_allclose(prior.cdf(prior.ppf(p)), p, **tol("closed_form"))


def test_source_md_reference_quantiles():
    """The quantiles listed in /work/shared/priors/SOURCE.md (SciPy, 4 decimals)."""
    rows = [
        (priors.turner2015("pain", "non-pharmacological vs. placebo / control"),
         [0.0672, 0.3588, 1.9170]),
        (priors.turner2015(), [0.0505, 0.2780, 1.5298]),
        (priors.rhodes2015("pain", "non-pharmacological (any)", "other"),
         [0.0119, 0.2209, 4.0862]),
        (priors.rhodes2015(), [0.0064, 0.1791, 4.9973]),
    ]
    for prior, expected in rows:
        assert_allclose(prior.ppf([0.025, 0.5, 0.975]), expected, rtol=0, atol=0.00005)


def test_roever2020_turner_prior_quantiles():
    """Roever (2020, J Stat Softw 93(6)) prints these quantiles of the Turner prior for
    surgical / device related success / failure, pharmacological vs. placebo / control."""
    p = priors.turner2015("surgical / device related success / failure",
                          "pharmacological vs. placebo / control")
    assert_allclose(p.ppf([0.025, 0.5, 0.975]), [0.06233896, 0.34300852, 1.88734045],
                    rtol=0, atol=0.5e-8)


def test_every_table_row_is_selectable():
    with (PRIOR_DIR / "turner2015_logor_tau2.csv").open() as fh:
        turner = list(csv.DictReader(fh))
    with (PRIOR_DIR / "rhodes2015_smd_tau2.csv").open() as fh:
        rhodes = list(csv.DictReader(fh))
    assert len(turner) == 81 and len(rhodes) == 73
    for r in turner:
        p = priors.turner2015(r["outcome_type"], r["comparison_type"])
        assert (p.mu, p.sigma) == (float(r["mu"]), float(r["sigma"]))
    for r in rhodes:
        p = priors.rhodes2015(r["outcome_type"], r["comparison_type"], r["medical_area"])
        assert (p.location, p.scale, p.df) == (float(r["location"]), float(r["scale"]), 5.0)


def test_labels_are_matched_case_and_spacing_insensitively():
    a = priors.turner2015("PAIN", "Non-pharmacological vs. placebo/control")
    assert a == priors.LogNormalTau2(-2.05, 1.71)
    # the paper's capitalised wording and Turner-style comparisons map onto Rhodes' rows
    b = priors.rhodes2015("Pain", "non-pharmacological vs. pharmacological", "Other")
    assert b == priors.LogTTau2(-3.02, 2.27, 5.0)
    assert priors.rhodes2015("pain", "non-pharmacological (any)", "cancer").location == -0.46


def test_unknown_categories_list_the_choices():
    with pytest.raises(ValidationError, match=r"outcome_type must be one of \[.*'pain'"):
        priors.turner2015("back pain", "any")
    with pytest.raises(ValidationError, match=r"comparison_type must be one of .*non-pharm"):
        priors.rhodes2015("pain", "exercise", "other")
    with pytest.raises(ValidationError, match=r"medical_area must be one of .*respiratory"):
        priors.rhodes2015("pain", "non-pharmacological (any)", "musculoskeletal")
    with pytest.raises(ValidationError, match="'any' selects the general setting"):
        priors.turner2015("pain", "any")
    with pytest.raises(InputTypeError, match="outcome_type must be a string"):
        priors.turner2015(3, "any")


def test_tau_prior_factory():
    assert priors.tau_prior("Half-Normal", scale=0.5) == priors.half_normal(0.5)
    assert priors.tau_prior("log_t_tau2", location=-3, scale=2, df=5) == \
        priors.log_t_tau2(-3, 2, 5)
    assert priors.tau_prior("rhodes2015") == priors.rhodes2015()
    with pytest.raises(ValidationError, match=r"unknown tau prior 'gamma'; valid names are"):
        priors.tau_prior("gamma", a=1)
    with pytest.raises(InputTypeError, match="tau prior 'half_normal'"):
        priors.tau_prior("half_normal", sd=1)
    with pytest.raises(InputTypeError, match="name must be a string"):
        priors.tau_prior(None)


@pytest.mark.parametrize("call, match", [
    (lambda: priors.half_normal(0), "scale must be a positive finite number"),
    (lambda: priors.half_cauchy(-1), "scale must be a positive finite number"),
    (lambda: priors.half_t(1, 0), "df must be a positive finite number"),
    (lambda: priors.uniform(math.inf), "upper must be a positive finite number"),
    (lambda: priors.lognormal_tau2(math.nan, 1), "mu must be finite"),
    (lambda: priors.log_t_tau2(0, 1, -5), "df must be a positive finite number"),
    (lambda: priors.normal(0, 0), "sd must be a positive finite number"),
])
def test_bad_parameters_raise(call, match):
    with pytest.raises(ValidationError, match=match):
        call()


def test_non_numeric_parameter_raises():
    with pytest.raises(InputTypeError, match="scale must be a number; got str"):
        priors.half_normal("0.5")


def test_improper_uniform():
    p = priors.uniform(None)
    assert not p.proper and p.tail_exponent == 0.0
    assert_allclose(p.logpdf([0.0, 1e6]), [0.0, 0.0])
    with pytest.raises(ValidationError, match="improper uniform prior on tau has no CDF"):
        p.cdf(1.0)
    with pytest.raises(ValidationError, match="has no quantiles"):
        p.ppf(0.5)


def test_tail_exponents():
    assert priors.half_cauchy(1).tail_exponent == 2.0
    assert priors.half_t(1, 3).tail_exponent == 4.0
    assert math.isinf(priors.half_normal(1).tail_exponent)


@pytest.mark.parametrize("prior", PROPER + [priors.normal(0.2, 3.0)],
                         ids=lambda p: type(p).__name__)
def test_pymc_twin_has_the_same_density(prior):
    pm = pytest.importorskip("pymc")
    with pm.Model() as model:
        rv = prior.to_pymc("x")
    for x in [0.07, 0.4, 1.3]:
        if isinstance(prior, priors.LogTTau2):
            # PyMC samples log(tau); its density times |d log tau / d tau| = 1/tau
            got = float(pm.logp(model["log_x"], math.log(x)).eval()) - math.log(x)
        else:
            got = float(pm.logp(rv, x).eval())
        # PyTensor's special functions (lgamma in the t density) agree to ~1e-8 absolute
        assert_allclose(got, float(prior.logpdf(x)), rtol=1e-6, atol=1e-7)


def test_shipped_tables_match_sidecars_and_shared_copy():
    for name in ("turner2015_logor_tau2", "rhodes2015_smd_tau2"):
        meta = json.loads((PRIOR_DIR / f"{name}.json").read_text())
        digest = hashlib.md5((PRIOR_DIR / f"{name}.csv").read_bytes()).hexdigest()
        assert meta["md5"] == digest
        assert meta["file"] == f"{name}.csv"
        assert "doi:10." in meta["primary_source"]
        shared = Path("/work/shared/priors") / f"{name}.csv"
        if shared.exists():
            assert hashlib.md5(shared.read_bytes()).hexdigest() == digest


def test_datasets_catalogue_ignores_the_priors_folder():
    names = set(datasets.list()["name"])
    assert not {"turner2015_priors", "rhodes2015_priors"} & names
    assert (Path(str(datasets._data_dir())) / "priors" / "rhodes2015_smd_tau2.csv").exists()
    assert datasets.load("normand1999").shape == (9, 8)
