"""Publication-quality plots of painstats results.

Every function takes a result (or the table a result method returned) first, draws into
``ax`` if one is given or into a new figure otherwise, and returns the Axes; nothing is
re-estimated. matplotlib is imported only when a plot is drawn: importing painstats (or
this package) does not import it.

Forest plots (:func:`forest`, :func:`leave_one_out`, :func:`cumulative`) come in three
layouts: ``"metafor"`` (default), ``"revman"`` (Cochrane RevMan 5) and ``"jama"``.
"""

from painstats.plots._style import LAYOUTS, Layout
from painstats.plots.diagnostics import baujat, gosh, labbe, radial
from painstats.plots.doseresp import dose_response_curve, dose_surface
from painstats.plots.forest import cumulative, forest, leave_one_out
from painstats.plots.funnel import funnel
from painstats.plots.output import SAVE_FORMATS, save
from painstats.plots.regression import bubble

__all__ = [
    "forest",
    "leave_one_out",
    "cumulative",
    "funnel",
    "baujat",
    "gosh",
    "radial",
    "labbe",
    "bubble",
    "dose_response_curve",
    "dose_surface",
    "save",
    "LAYOUTS",
    "Layout",
    "SAVE_FORMATS",
]
