"""Bubble plot of a meta-regression: effects against a moderator, with the fitted line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from painstats.errors import InputTypeError, ValidationError
from painstats.plots._common import axis_label, new_axes, resolve_transform, style_axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["bubble"]


def _moderator_values(mreg: Any, moderator: str, data: pd.DataFrame | None) -> np.ndarray:
    if data is not None:
        if not isinstance(data, pd.DataFrame):
            raise InputTypeError(f"data must be a DataFrame; got {type(data).__name__}")
        if moderator not in data.columns:
            raise ValidationError(f"moderator {moderator!r} is not a column of data; columns are "
                                  f"{list(data.columns)}")
        if len(data) != mreg.k:
            raise ValidationError(f"data has {len(data)} rows but the meta-regression has "
                                  f"k={mreg.k} studies; pass the analysed rows")
        col = data[moderator]
        if not pd.api.types.is_numeric_dtype(col):
            raise ValidationError(f"bubble plots need a numeric moderator; {moderator!r} is "
                                  f"{col.dtype}")
        return col.to_numpy(float)
    terms = list(mreg.coef.index)
    if moderator not in terms:
        raise ValidationError(f"moderator {moderator!r} is not a model term {terms}; pass data= "
                              "holding the moderator column")
    return np.asarray(mreg.X, float)[:, terms.index(moderator)]


def _grid_frame(mreg: Any, moderator: str, grid: np.ndarray, data: pd.DataFrame | None,
                at: Mapping[str, Any] | None) -> pd.DataFrame:
    """New data for ``predict``: the moderator on a grid, others at ``at`` or typical values."""
    frame = pd.DataFrame({moderator: grid})
    spec = getattr(mreg, "model_spec", None)
    needed = sorted(str(v) for v in getattr(spec, "required_variables", ()) or ())
    at = dict(at or {})
    for var in needed:
        if var == moderator:
            continue
        if var in at:
            frame[var] = at[var]
        elif data is not None and var in data.columns:
            col = data[var]
            frame[var] = col.mean() if pd.api.types.is_numeric_dtype(col) else col.mode().iloc[0]
        else:
            raise ValidationError(f"the model also needs {var!r}; give its value in at= or pass "
                                  "data= holding it")
    return frame


def bubble(
    mreg: Any,
    moderator: str,
    *,
    data: pd.DataFrame | None = None,
    at: Mapping[str, Any] | None = None,
    ax: Axes | None = None,
    ci: bool = True,
    pi: bool = False,
    labels: bool = False,
    measure: str | None = None,
    transform: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    color: str = "#1F4E79",
) -> Axes:
    """Bubble plot of a meta-regression: effect sizes against one numeric moderator.

    Circle areas are proportional to the study weights in the model, 1/(vi + tau²); the
    line and band are ``mreg.predict()`` over the moderator's range (other moderators held
    at ``at`` or at their mean / most common value in ``data``).

    Parameters
    ----------
    mreg : MetaRegressionResult
        The fitted meta-regression.
    moderator : str
        The moderator on the x axis: a column of ``data`` (or a model term).
    data : DataFrame, optional
        The analysed rows (one per study, in order); needed for transformed or multiple
        moderators.
    at : dict, optional
        Values of the other moderators for the fitted line.
    ax : matplotlib Axes, optional
        Draw here; by default a new figure.
    ci, pi : bool
        Shade the confidence band of the fitted line; draw the prediction band (dashed).
    labels : bool
        Label the circles with the study labels.
    measure, transform : str, optional
        Axis label and (for ratio measures) a back-transformed log y axis.
    xlabel, ylabel : str, optional
        Axis labels (default: the moderator and the measure).
    color : str
        Fill colour of the circles.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> from painstats.meta import meta_regression
    >>> from painstats.plots import bubble
    >>> df = pd.DataFrame({"yi": [-0.9, -0.6, -0.5, -0.2, -0.1],
    ...                    "vi": [0.04, 0.05, 0.03, 0.06, 0.05], "weeks": [4, 6, 8, 10, 12]})
    >>> reg = meta_regression("yi ~ weeks", data=df)
    >>> ax = bubble(reg, "weeks", data=df)
    >>> ax.get_xlabel()
    'weeks'
    >>> plt.close(ax.figure)
    """
    if not hasattr(mreg, "predict") or not hasattr(mreg, "coef"):
        raise InputTypeError(f"bubble() needs a MetaRegressionResult; got {type(mreg).__name__}")
    x = _moderator_values(mreg, moderator, data)
    exp = resolve_transform(measure, transform)
    f = np.exp if exp else (lambda v: np.asarray(v, float))
    yi, vi = np.asarray(mreg.yi, float), np.asarray(mreg.vi, float)
    w = 1.0 / (vi + (0.0 if mreg.method == "FE" else float(mreg.tau2)))
    grid = np.linspace(np.nanmin(x), np.nanmax(x), 200)
    pred = mreg.predict(_grid_frame(mreg, moderator, grid, data, at))
    ax = new_axes(ax, (5.2, 4.2))
    if exp:
        ax.set_yscale("log")
    if ci:
        ax.fill_between(grid, f(pred["ci_low"]), f(pred["ci_high"]), color="#9ecae1", alpha=0.45,
                        lw=0, label=f"{100 * mreg.level:g}% CI")
    if pi and np.isfinite(pred["pi_low"]).all():
        for col in ("pi_low", "pi_high"):
            ax.plot(grid, f(pred[col]), color="#555555", ls="--", lw=0.8)
    ax.plot(grid, f(pred["pred"]), color="black", lw=1.2, label="Fitted")
    ax.scatter(x, f(yi), s=500 * w / w.max(), facecolor=color, edgecolor="white", alpha=0.7,
               linewidths=0.6, zorder=3)
    ax.axhline(1.0 if exp else 0.0, color="#7f7f7f", lw=0.7, ls=":")
    if labels:
        for xx, yy, lab in zip(x, f(yi), mreg.labels):
            ax.annotate(str(lab), (xx, yy), xytext=(5, 3), textcoords="offset points",
                        fontsize=7)
    ax.set_xlabel(xlabel if xlabel is not None else moderator)
    ax.set_ylabel(ylabel if ylabel is not None else axis_label(measure, "Effect size"))
    style_axes(ax, log_y=exp)
    return ax
