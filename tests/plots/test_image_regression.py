"""Image regression: small PNGs compared with committed baselines (with a tolerance).

The baselines use matplotlib's bundled DejaVu Sans and the default style, so they do not
depend on the fonts installed. Regenerate them after a deliberate change of the look with
``PAINSTATS_REGENERATE_BASELINES=1 pytest tests/plots/test_image_regression.py`` and look at
the new files before committing them. Structural checks (text equals fields, no overlaps)
live in the other test modules; these catch unintended visual changes.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import matplotlib
import matplotlib.style
import numpy as np
import pytest
from matplotlib.testing.compare import compare_images

from painstats.meta import random_effects
from painstats.plots import LAYOUTS, forest, funnel, save

BASELINE = Path(__file__).parent / "baseline"
REGENERATE = os.environ.get("PAINSTATS_REGENERATE_BASELINES") == "1"
TOL = 2.5  #: RMS (0-255): absorbs anti-aliasing noise; a changed box colour scores 3.5


def _result():
    yi = np.array([-0.62, -0.18, -0.95, -0.31, 0.12])
    vi = np.array([0.041, 0.090, 0.062, 0.020, 0.110])
    return random_effects(yi, vi, slab=["Ang 2010", "Bo 2012", "Cy 2015", "Dee 2018",
                                        "Eke 2021"], method="REML")


def _check(ax, name: str, tmp_path: Path) -> None:
    expected = BASELINE / name
    if REGENERATE:
        BASELINE.mkdir(exist_ok=True)
        save(ax, expected, dpi=60)
        pytest.skip(f"regenerated {expected}")
    if not expected.exists():
        pytest.fail(f"missing baseline {expected}; run with PAINSTATS_REGENERATE_BASELINES=1")
    actual = save(ax, tmp_path / name, dpi=60)
    diff = compare_images(str(expected), str(actual), tol=TOL)
    assert diff is None, diff


@pytest.fixture()
def dejavu():
    with matplotlib.style.context("default"), matplotlib.rc_context({"font.family": "DejaVu Sans"}):
        yield


@pytest.mark.parametrize("layout", ["metafor", "revman", "jama"])
def test_forest_looks_the_same(layout, tmp_path, dejavu):
    lay = replace(LAYOUTS[layout], fonts=("DejaVu Sans",))
    ax = forest(_result(), layout=lay, favours=("exercise", "control"))
    _check(ax, f"forest_{layout}.png", tmp_path)


def test_funnel_looks_the_same(tmp_path, dejavu):
    _check(funnel(_result(), measure="SMD"), "funnel_contours.png", tmp_path)
