"""Reading the R reference fixtures in tests/data/*.json (imported as ``from reference import
num``; tests/ is on sys.path via conftest.py)."""

from __future__ import annotations

import numpy as np


def num(value):
    """Fixture number(s) -> float / float array: null -> nan; "Inf", "-Inf", "NaN" (how
    validation/metafor/json_writer.R writes non-finite values) parse with float()."""
    if isinstance(value, list):
        return np.array([num(v) for v in value], dtype=float)
    return float("nan") if value is None else float(value)
