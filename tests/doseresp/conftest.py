"""Seeded dose-response fits shared by the tests (sampled once per session)."""

from __future__ import annotations

import pandas as pd
import pytest

from painstats.doseresp import fit, simulate

#: Sampler settings for the shared fits: small but enough for ESS >= 100 per chain.
FAST = {"draws": 1000, "tune": 500, "chains": 2, "cores": 1}


@pytest.fixture(scope="session")
def fast() -> dict:
    """Sampler settings for test fits."""
    return dict(FAST)


@pytest.fixture(scope="session")
def sim_emax() -> pd.DataFrame:
    """Simulated sessions/week trials, true Emax curve (emax -20 mm, ED50 1.5)."""
    return simulate(24, curve="emax", random_seed=11)


@pytest.fixture(scope="session")
def fit_emax(sim_emax):
    return fit(sim_emax, dose="sessions_per_week", model="emax", random_seed=3, **FAST)
