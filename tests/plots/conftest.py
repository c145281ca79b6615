"""Fixtures for the plot tests: the Agg backend, real datasets fitted once, text helpers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from painstats import datasets
from painstats.meta import effect_size, random_effects, subgroup_analysis

RUBINSTEIN_ARMS = {"mean1": "mean_smt", "sd1": "sd_smt", "n1": "n_smt",
                   "mean2": "mean_ctrl", "sd2": "sd_ctrl", "n2": "n_ctrl"}
HAEUSER_ARMS = {"mean1": "mti", "sd1": "sdti", "n1": "nti", "mean2": "mci", "sd2": "sdci",
                "n2": "nci"}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def rubinstein():
    """Rubinstein 2019: 23 comparisons, mean differences, DL (es, res)."""
    es = effect_size("MD", data=datasets.load("rubinstein2019"), **RUBINSTEIN_ARMS)
    return es, random_effects("yi", "vi", data=es, slab="study", method="DL")


@pytest.fixture(scope="session")
def haeuser():
    """Häuser 2009 pain outcomes, Hedges' g, subgroups by drug (es, SubgroupResult)."""
    d = datasets.load("haeuser2009")
    d = d[d["outcome"] == "pain"].reset_index(drop=True)
    es = effect_size("SMD", data=d, **HAEUSER_ARMS)
    return es, subgroup_analysis(data=es, by="med", slab="study")


@pytest.fixture(scope="session")
def binary():
    """A small 2x2-table meta-analysis on the log risk ratio scale (es, res)."""
    arms = pd.DataFrame({
        "trial": ["Ang 2001", "Bors 2004", "Chu 2009", "Dale 2012", "Egan 2015", "Fox 2019"],
        "e1": [4, 6, 30, 62, 33, 12], "n1": [123, 306, 231, 1359, 506, 250],
        "e2": [11, 29, 41, 248, 47, 15], "n2": [139, 303, 220, 1286, 580, 244],
    })
    es = effect_size("RR", data=arms, events1="e1", n1="n1", events2="e2", n2="n2")
    return es, random_effects("yi", "vi", data=es, slab="trial")
