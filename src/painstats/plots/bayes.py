"""Plots of a Bayesian random-effects meta-analysis: joint and marginal posteriors.

Both functions only read the result (its exact posterior or its MCMC draws); nothing is
re-estimated. matplotlib is imported when a plot is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from painstats.errors import InputTypeError
from painstats.plots._common import new_axes, style_axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["joint", "marginals"]

_REGIONS = (0.5, 0.9, 0.95, 0.99)


def _check(result: Any) -> None:
    from painstats.meta.results_bayes import BayesianRandomEffectsResult

    if not isinstance(result, BayesianRandomEffectsResult):
        raise InputTypeError("needs a BayesianRandomEffectsResult (from "
                             f"bayesian_random_effects); got {type(result).__name__}")


def joint(result: Any, *, ax: Axes | None = None, regions: tuple[float, ...] = _REGIONS,
          gridsize: int = 120, conditional: bool = True, cmap: str = "Greys") -> Axes:
    """Joint posterior of (mu, tau).

    Exact method: shaded density with contours of the highest-density regions holding
    ``regions`` of the probability, and (``conditional=True``) the conditional mean
    E[mu | tau, y] with its 95% band. MCMC: the draws, with the same regions estimated
    from a kernel density estimate.

    Parameters
    ----------
    result : BayesianRandomEffectsResult
    ax : matplotlib Axes, optional
        Draw here; by default a new figure.
    regions : tuple of float
        Probabilities of the highest-density regions drawn as contours.
    gridsize : int
        Grid points per axis for the density.
    conditional : bool
        Draw E[mu | tau, y] +- 1.96 sd (exact method).
    cmap : str
        Colour map of the shading.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from painstats.meta import bayesian_random_effects, priors
    >>> res = bayesian_random_effects([-0.5, -0.2, -0.9], [0.04, 0.09, 0.06],
    ...                               tau_prior=priors.half_normal(0.5))
    >>> ax = res.plot_joint()
    >>> ax.get_xlabel()
    'effect mu'
    """
    _check(result)
    ax = new_axes(ax, (5.5, 4.2))
    mu_lo, mu_hi = _range(result, "mu")
    tau_hi = float(np.ravel(result.quantile("tau", 0.995))[0])
    mus = np.linspace(mu_lo, mu_hi, gridsize)
    taus = np.linspace(0.0, tau_hi * 1.05, gridsize)
    M, T = np.meshgrid(mus, taus)
    if result.method == "exact":
        dens = result.posterior.joint_pdf(M, T)
    else:
        from scipy import stats

        kde = stats.gaussian_kde(np.vstack([result.draws["mu"], result.draws["tau"]]))
        dens = kde(np.vstack([M.ravel(), T.ravel()])).reshape(M.shape)
        ax.scatter(result.draws["mu"], result.draws["tau"], s=2, color="0.6", alpha=0.25,
                   linewidths=0, rasterized=True)
    if result.method == "exact":
        ax.pcolormesh(M, T, dens, cmap=cmap, shading="auto", rasterized=True)
    levels = _hdr_levels(dens, regions)
    cs = ax.contour(M, T, dens, levels=sorted(set(levels)), colors="tab:red", linewidths=0.9)
    labels = {lev: f"{100 * p:g}%" for lev, p in zip(levels, regions)}
    ax.clabel(cs, fmt=labels, fontsize=7)
    if conditional and result.method == "exact":
        from painstats.meta._kernels.bayes_exact import conditional_mu

        post = result.posterior
        _, mh, V = conditional_mu(taus, post.y, post.v, post.m0, post.s0)
        ax.plot(mh, taus, color="tab:blue", lw=1.2, label="E[mu | tau, y]")
        for sgn in (-1, 1):
            ax.plot(mh + sgn * 1.96 * np.sqrt(V), taus, color="tab:blue", lw=0.8, ls="--")
        ax.legend(frameon=False, fontsize=8, loc="upper right")
    ax.set_xlim(mu_lo, mu_hi)
    ax.set_ylim(0.0, taus[-1])
    ax.set_xlabel("effect mu")
    ax.set_ylabel("heterogeneity tau")
    style_axes(ax)
    return ax


def marginals(result: Any, *, axes=None, prior: bool = True,
              params: tuple[str, ...] = ("mu", "tau", "predictive"), shade: str = "hpd"):
    """Marginal posterior densities (of mu, tau and a new study's effect by default).

    Each panel shows the density, the median (vertical line) and the shortest
    (``shade="hpd"``) or central (``shade="central"``) credible interval as a shaded area;
    with ``prior=True`` the prior density is dashed (tau; mu if its prior is proper).

    Parameters
    ----------
    result : BayesianRandomEffectsResult
    axes : sequence of matplotlib Axes, optional
        One per parameter; by default a new figure with one row of panels.
    prior : bool
        Overlay the prior densities.
    params : tuple of str
        Which of "mu", "tau", "predictive".
    shade : {"hpd", "central"}

    Returns
    -------
    numpy array of matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from painstats.meta import bayesian_random_effects, priors
    >>> res = bayesian_random_effects([-0.5, -0.2, -0.9], [0.04, 0.09, 0.06],
    ...                               tau_prior=priors.half_normal(0.5))
    >>> axs = res.plot_marginals()
    >>> [a.get_xlabel() for a in axs]
    ['effect mu', 'heterogeneity tau', 'effect in a new study']
    """
    _check(result)
    if shade not in ("hpd", "central"):
        from painstats.errors import ValidationError

        raise ValidationError(f"shade must be 'hpd' or 'central'; got {shade!r}")
    if axes is None:
        import matplotlib.pyplot as plt

        _fig, axes = plt.subplots(1, len(params), figsize=(3.4 * len(params), 3.0),
                                 layout="constrained", squeeze=False)
        axes = axes[0]
    axes = np.asarray(axes, dtype=object).ravel()
    names = {"mu": "effect mu", "tau": "heterogeneity tau",
             "predictive": "effect in a new study"}
    for ax, p in zip(axes, params):
        s = {"mu": result.mu, "tau": result.tau, "predictive": result.predictive}[p]
        lo, hi = _range(result, p)
        if p == "tau":
            lo = 0.0
        x = np.linspace(lo, hi, 400)
        y = result.pdf(p, x)
        ax.plot(x, y, color="black", lw=1.3)
        a, b = (s.hpd_low, s.hpd_high) if shade == "hpd" else (s.ci_low, s.ci_high)
        inside = (x >= a) & (x <= b)
        ax.fill_between(x[inside], 0, y[inside], color="0.8", lw=0)
        ax.axvline(s.median, color="black", lw=0.8)
        if prior and p == "tau":
            ax.plot(x, result.tau_prior.pdf(x), color="tab:blue", ls="--", lw=1,
                    label="prior")
        if prior and p == "mu" and result.mu_prior.proper:
            ax.plot(x, np.exp(result.mu_prior.logpdf(x)), color="tab:blue", ls="--", lw=1,
                    label="prior")
        ax.set_xlim(lo, hi)
        ax.set_ylim(bottom=0)
        ax.set_xlabel(names[p])
        ax.set_ylabel("posterior density")
        style_axes(ax)
    return axes


def _range(result, p: str) -> tuple[float, float]:
    q = np.ravel(result.quantile(p, [0.002, 0.998]))
    pad = 0.08 * (q[1] - q[0])
    return float(q[0] - pad), float(q[1] + pad)


def _hdr_levels(dens: np.ndarray, regions) -> list[float]:
    """Density thresholds whose super-level sets hold ``regions`` of the gridded mass."""
    flat = np.sort(dens.ravel())[::-1]
    cum = np.cumsum(flat)
    cum /= cum[-1]
    return [float(flat[min(np.searchsorted(cum, r), flat.size - 1)]) for r in regions]
