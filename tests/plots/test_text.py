"""Number formats of the annotations and text wrapping in points."""

from __future__ import annotations

import math

import pytest

from painstats.plots._text import TextMeasurer, fmt_num, fmt_p, fmt_small, fmt_tick

MINUS = "\u2212"


@pytest.mark.parametrize(("x", "digits", "expected"), [
    (-3.17002, 2, f"{MINUS}3.17"), (1.5, 1, "1.5"), (-0.001, 2, "0.00"), (math.nan, 2, "NA"),
    (math.inf, 2, "\u221e"), (-math.inf, 2, f"{MINUS}\u221e"), (2.0, 0, "2"),
])
def test_fmt_num(x, digits, expected):
    assert fmt_num(x, digits) == expected


@pytest.mark.parametrize(("x", "expected"), [
    (34.1234, "34.12"), (0.4567, "0.46"), (0.0123, "0.012"), (0.0032, "0.0032"), (0.0, "0"),
    (math.nan, "NA"), (1.2e-9, "1.2e\u221209"), (0.000012, "0.000012"),
])
def test_fmt_small_keeps_two_significant_digits(x, expected):
    assert fmt_small(x) == expected


@pytest.mark.parametrize(("p", "style", "expected"), [
    (0.1834, "plain", "= 0.18"), (0.0034, "plain", "= 0.003"), (0.0004, "plain", "< 0.001"),
    (0.995, "plain", "> 0.99"), (0.1834, "jama", "= .18"), (0.0034, "jama", "= .003"),
    (0.0004, "jama", "< .001"), (0.1834, "revman", "= 0.18"), (0.0044, "revman", "= 0.004"),
    (7.1e-5, "revman", "= 0.00007"), (2e-7, "revman", "< 0.00001"), (math.nan, "plain", "= NA"),
])
def test_fmt_p_styles(p, style, expected):
    assert fmt_p(p, style) == expected


@pytest.mark.parametrize(("x", "expected"), [
    (0.5, "0.5"), (2.0, "2"), (-10.0, f"{MINUS}10"), (0.25, "0.25"), (0.001, "0.001"),
    (-0.0, "0"), (1e-7, "0"),
])
def test_fmt_tick(x, expected):
    assert fmt_tick(x) == expected


def test_wrap_respects_the_width_and_keeps_every_word():
    m = TextMeasurer(["DejaVu Sans"], 9)
    text = "Supervised progressive resistance training for chronic low back pain " * 3
    wrapped = m.wrap(text.strip(), 120)
    lines = wrapped.split("\n")
    assert len(lines) > 3
    assert all(m.width(line) <= 120 for line in lines)
    assert " ".join(lines) == text.strip()


def test_wrap_splits_words_longer_than_a_line():
    m = TextMeasurer(["DejaVu Sans"], 9)
    wrapped = m.wrap("x" * 200, 60)
    assert wrapped.replace("\n", "") == "x" * 200
    assert all(m.width(line) <= 60 for line in wrapped.split("\n"))


def test_widths_grow_with_size_and_bold():
    small, big = TextMeasurer(["DejaVu Sans"], 8), TextMeasurer(["DejaVu Sans"], 16)
    assert big.width("Study") == pytest.approx(2 * small.width("Study"), rel=0.05)
    assert small.width("Study", bold=True) > small.width("Study")
    assert small.width("a\nlonger line") == small.width("longer line")
