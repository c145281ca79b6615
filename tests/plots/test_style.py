"""Layout presets and measure names."""

from __future__ import annotations

from dataclasses import replace

import pytest

from painstats.errors import InputTypeError, ValidationError
from painstats.plots import LAYOUTS, Layout
from painstats.plots._style import measure_name, resolve_layout


def test_presets_by_name_case_insensitive_and_custom():
    assert resolve_layout(" RevMan ").name == "revman"
    custom = replace(LAYOUTS["jama"], fontsize=11)
    assert resolve_layout(custom) is custom
    assert isinstance(custom, Layout)


def test_unknown_layouts():
    with pytest.raises(ValidationError, match=r"layout must be one of \['jama', 'metafor', 'revman'\]"):
        resolve_layout("bmj")
    with pytest.raises(InputTypeError, match="layout must be one of"):
        resolve_layout(None)


def test_measure_names():
    assert measure_name("smd", LAYOUTS["metafor"]) == "Std. Mean Difference"
    assert measure_name("MD", LAYOUTS["jama"]) == "Mean difference"
    assert measure_name(None, LAYOUTS["revman"]) == "Estimate"
    assert measure_name("Hazard Ratio", LAYOUTS["metafor"]) == "Hazard Ratio"


def test_ci_parts():
    assert LAYOUTS["metafor"].ci_parts("1", "0", "2") == ("1", "[0,", "2]")
    assert LAYOUTS["jama"].ci_parts("1", "0", "2") == ("1", "(0 to", "2)")
