"""Saving plots: PNG at a chosen DPI, SVG, PDF with TrueType text; bad formats."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from plot_helpers import make_result

from painstats.errors import InputTypeError, ValidationError
from painstats.plots import forest, funnel, save
from painstats.plots.output import to_png_bytes, to_svg_text


@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
def test_save_each_format(tmp_path, suffix):
    ax = forest(make_result(5))
    out = save(ax, tmp_path / f"forest.{suffix}")
    head = out.read_bytes()[:200]
    assert {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}[suffix] in head


def test_png_size_follows_dpi(tmp_path):
    ax = funnel(make_result(6))
    small = plt.imread(save(ax, tmp_path / "a.png", dpi=50))
    big = plt.imread(save(ax.figure, tmp_path / "b.png", dpi=200))
    assert big.shape[0] == pytest.approx(4 * small.shape[0], rel=0.03)


def test_pdf_embeds_truetype_fonts(tmp_path):
    data = save(forest(make_result(3)), tmp_path / "f.pdf").read_bytes()
    assert b"/FontFile2" in data and b"/Type3" not in data


def test_format_argument_overrides_suffix(tmp_path):
    out = save(forest(make_result(3)), tmp_path / "plot.out", format="svg")
    assert out.read_text().lstrip().startswith("<?xml")


def test_bad_format_dpi_and_object(tmp_path):
    ax = forest(make_result(3))
    with pytest.raises(ValidationError, match=r"format must be one of \['png', 'svg', 'pdf'\]"):
        save(ax, tmp_path / "plot.jpg")
    with pytest.raises(ValidationError, match="dpi must be a number from 10 to 2400"):
        save(ax, tmp_path / "plot.png", dpi=0)
    with pytest.raises(InputTypeError, match="expected a matplotlib Figure or Axes"):
        save("figure", tmp_path / "plot.png")


def test_html_helpers():
    ax = forest(make_result(3))
    assert to_png_bytes(ax)[:4] == b"\x89PNG"
    assert to_svg_text(ax).startswith("<svg")
