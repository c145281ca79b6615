"""Helpers shared by the network tests: the metafor fixture and data builders."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd

from painstats.meta.network import component_network_meta_analysis, network_meta_analysis

FIXTURE_PATH = Path(__file__).resolve().parents[2] / "data" / "metafor_network.json"


def num(x):
    """Decode the fixture's non-finite markers."""
    if x is None:
        return np.nan
    if isinstance(x, str):
        return {"NaN": np.nan, "Inf": np.inf, "-Inf": -np.inf}[x]
    if isinstance(x, list):
        return np.array([num(v) for v in x], dtype=float)
    return float(x)


@functools.cache
def load_fixture() -> dict:
    return json.loads(FIXTURE_PATH.read_text(encoding="utf-8"))


def arms_frame(case: dict) -> pd.DataFrame:
    arms = case["arms"]
    return pd.DataFrame({k: v if k in ("study", "treatment") else num(v) for k, v in arms.items()})


def arm_columns(case: dict) -> dict:
    cols = {c: c for c in ("mean", "sd", "se", "n", "events") if c in case["arms"]}
    return cols


def fit_case(case: dict, method: str):
    """Fit a fixture case (cached: results are frozen and fits are reused across tests)."""
    return _fit_named(case["name"], method)


@functools.cache
def _fit_named(name: str, method: str):
    case = load_fixture()["cases"][name]
    arms = arms_frame(case)
    cols = arm_columns(case)
    if case["kind"] == "nma":
        return network_meta_analysis(arms, study="study", treatment="treatment",
                                     measure=case["measure"], method=method, **cols)
    inter = [tuple(i) for i in case.get("interactions", [])] or None
    return component_network_meta_analysis(arms, study="study", treatment="treatment",
                                           measure=case["measure"], inactive=case["inactive"],
                                           interactions=inter, method=method, **cols)
