"""Shared fixtures: small real datasets as (yi, vi) arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from painstats import datasets


@pytest.fixture(scope="session")
def normand() -> pd.DataFrame:
    """Normand 1999 length of stay: mean differences with strong heterogeneity."""
    d = datasets.load("normand1999")
    return pd.DataFrame({
        "source": d["source"],
        "yi": d["m1i"] - d["m2i"],
        "vi": d["sd1i"] ** 2 / d["n1i"] + d["sd2i"] ** 2 / d["n2i"],
    })


@pytest.fixture(scope="session")
def rng() -> np.random.Generator:
    return np.random.default_rng(20261125)
