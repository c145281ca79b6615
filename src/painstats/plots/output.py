"""Saving plots to PNG, SVG or PDF, and rendering them for HTML."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from painstats.errors import InputTypeError, ValidationError

__all__ = ["save", "to_png_bytes", "to_svg_text", "SAVE_FORMATS"]

#: Formats written by :func:`save` (chosen by the file suffix or ``format=``).
SAVE_FORMATS = ("png", "svg", "pdf")


def _figure(obj: Any):
    from matplotlib.figure import Figure

    if isinstance(obj, Figure):
        return obj
    fig = getattr(obj, "figure", None)
    if isinstance(fig, Figure):
        return fig
    raise InputTypeError(f"expected a matplotlib Figure or Axes; got {type(obj).__name__}")


def save(fig: Any, path: str | Path, *, dpi: float = 300, format: str | None = None,
         transparent: bool = False) -> Path:
    """Save a figure (or the figure of an Axes) as PNG, SVG or PDF.

    PDF and SVG keep text as TrueType text (``pdf.fonttype = 42``), as journals ask, so
    the file stays editable; PNG is written at ``dpi`` dots per inch. Nothing is cropped
    off: the bounding box is the figure's content plus a small pad.

    Parameters
    ----------
    fig : Figure or Axes
        What to save (e.g. the Axes returned by :func:`painstats.plots.forest`).
    path : str or Path
        Output file; its suffix (.png, .svg, .pdf) gives the format unless ``format`` does.
    dpi : float
        Resolution of PNG output (and of any raster parts of PDF/SVG).
    format : {"png", "svg", "pdf"}, optional
        Overrides the suffix.
    transparent : bool
        Transparent background.

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import matplotlib.pyplot as plt
    >>> from painstats.meta import random_effects
    >>> from painstats.plots import forest, save
    >>> ax = forest(random_effects([-0.5, -0.2, -0.9], [0.04, 0.09, 0.06]))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = save(ax, pathlib.Path(d) / "forest.pdf")
    ...     out.read_bytes()[:4]
    b'%PDF'
    >>> plt.close(ax.figure)
    """
    import matplotlib

    figure = _figure(fig)
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in SAVE_FORMATS:
        raise ValidationError(f"format must be one of {list(SAVE_FORMATS)} (from the file suffix "
                              f"or format=); got {fmt or path.name!r}")
    if not isinstance(dpi, (int, float)) or isinstance(dpi, bool) or not 10 <= dpi <= 2400:
        raise ValidationError(f"dpi must be a number from 10 to 2400; got {dpi!r}")
    with matplotlib.rc_context({"pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "path"}):
        figure.savefig(path, dpi=dpi, format=fmt, bbox_inches="tight", pad_inches=0.04,
                       transparent=transparent, facecolor="none" if transparent else "white",
                       metadata=_metadata(fmt))
    return path


def _metadata(fmt: str) -> dict[str, Any]:
    """Reproducible output: no creation date in PDF/SVG."""
    if fmt == "pdf":
        return {"Creator": "painstats", "CreationDate": None}
    if fmt == "svg":
        return {"Creator": "painstats", "Date": None}
    return {"Software": "painstats"}


def to_png_bytes(fig: Any, *, dpi: float = 150) -> bytes:
    """The figure as PNG bytes (for embedding as base64 in HTML)."""
    buf = io.BytesIO()
    _figure(fig).savefig(buf, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.04,
                         facecolor="white", metadata={"Software": "painstats"})
    return buf.getvalue()


def to_png_data_uri(fig: Any, *, dpi: float = 150) -> str:
    """``data:image/png;base64,...`` of the figure."""
    return "data:image/png;base64," + base64.b64encode(to_png_bytes(fig, dpi=dpi)).decode()


def to_svg_text(fig: Any) -> str:
    """The figure as an inline SVG document (text drawn as paths, so fonts need not exist)."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "painstats"}):
        _figure(fig).savefig(buf, format="svg", bbox_inches="tight", pad_inches=0.04,
                             facecolor="white", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]
