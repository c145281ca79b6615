"""The PyMC model of a dose-response meta-analysis (contrast-based, random effects marginalised).

For study s with contrasts y_s (active arms minus the control arm) and sampling covariance
V_s (diagonal: contrast variances; off-diagonal: the control-arm variance)::

    y_s ~ MVN(G_s beta, V_s + H_s)

where row i of G_s holds the basis functions of contrast i's dose(s) (see
:mod:`painstats.doseresp.curves`) at the nonlinear parameters of its group, and H_s is the
between-study covariance:

* ``random="parameters"``: every linear curve coefficient (slope(s), spline coefficients, Emax)
  varies between studies, beta_s = beta + u_s, u_s ~ N(0, diag(tau_j^2)), independently for each
  group within a study; H_s = G_s diag(tau^2) G_s' (same-group pairs only). The nonlinear
  parameters (ED50, Hill, rate) and an interaction coefficient are common. This is the one-stage
  model of dosresmeta (Crippa, Discacciati, Bottai, Spiegelman, Orsini 2019) with a diagonal
  between-study covariance.
* ``random="contrast"``: additive heterogeneity on each contrast, delta_si ~ N(f(d_si), tau^2),
  correlation 1/2 between the contrasts of a study (consistency), as MBNMAdose's random
  treatment effects: H_s = tau^2 (I + J) / 2.
* ``random="none"``: common-effect model, H_s = 0.

The random effects are integrated out analytically (they enter linearly), so NUTS samples only
beta, the nonlinear parameters and tau: no funnel. The coefficient of an Emax-type curve is
sampled as the effect at the largest observed dose (see :func:`_reference_parametrisation`).
The multivariate normal density of each study is evaluated with an unrolled Cholesky
factorisation vectorised over studies (studies with fewer contrasts are padded with independent
zero residuals, which add nothing to the density).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from painstats.doseresp._data import DoseData
from painstats.doseresp.curves import Curve

__all__ = ["Design", "Priors", "basis_matrix", "build_model", "make_design"]


@dataclass(frozen=True, slots=True)
class Priors:
    """Prior scales actually used (resolved from the defaults, the data and ``priors=``)."""

    effect: float  #: sd of the normal prior of a coefficient x its basis function's range
    tau: float  #: half-normal scale of the between-study SD on the effect scale
    ed50: float  #: log-normal sigma of ED50 (median: geometric midpoint of the positive doses)
    hill: float  #: log-normal sigma of the Hill coefficient (median 1)
    rate: float  #: log-normal sigma of the exponential rate (median log(2) / the ED50 median)


@dataclass(frozen=True, slots=True)
class Design:
    """Everything about the model structure that the posterior curves need."""

    curves: tuple[Curve, ...]
    interaction: bool
    random: str
    coef_names: tuple[str, ...]
    coef_scale: tuple[tuple[float, ...], ...]  #: prior sd of each coefficient, per group
    tau_scale: tuple[float, ...]  #: half-normal scale of each random coefficient's SD
    random_coefs: tuple[int, ...]  #: indices of coefficients with random effects
    ed50_median: tuple[tuple[float, ...], ...]  #: prior median, per dose column and group
    rate_median: tuple[tuple[float, ...], ...]
    priors: Priors
    #: largest positive dose per dose column and group: the reference dose at which the
    #: coefficient of a bounded (Emax-type) curve is sampled (see :func:`build_model`)
    ref_dose: tuple[tuple[float, ...], ...]


def _phi_names(curve: Curve) -> list[str]:
    return [f"{p}_{curve.dose}" for p in curve.nonlinear]


def basis_matrix(design: Design, doses, phi: dict, xp=np) -> list:
    """Columns g_j(d; phi), one per coefficient, ``doses`` shaped (..., D).

    ``phi`` maps ``'<param>_<dose>'`` (e.g. ``ed50_sessions_per_week``) to values that
    broadcast with ``doses[..., k]``.
    """
    cols: list = []
    primary = []
    for k, curve in enumerate(design.curves):
        d = doses[..., k]
        local = {p: phi[f"{p}_{curve.dose}"] for p in curve.nonlinear}
        g = curve.basis(d, local, xp)
        primary.append(g[0])
        cols.extend(g)
    if design.interaction:
        cols.append(primary[0] * primary[1])
    return cols


def make_design(data: DoseData, curves: tuple[Curve, ...], interaction: bool, random: str,
                priors: Priors) -> Design:
    """Coefficient names and prior scales (scaled to the outcome SD and each group's doses)."""
    G = len(data.group_names)
    ed50_med = np.ones((len(curves), G))
    ref = np.ones((len(curves), G))
    for k in range(len(curves)):
        for g in range(G):
            d = data.doses[data.group == g, k]
            pos = d[d > 0]
            if pos.size == 0:  # a group without doses in this column: fall back to all groups
                pos = data.doses[data.doses[:, k] > 0, k]
            # geometric midpoint of the positive doses: the centre of the range on the log
            # scale, where an ED50 is best identified (not the median arm, which follows
            # where the trials happened to put their arms)
            ed50_med[k, g] = float(np.sqrt(pos.min() * pos.max())) if pos.size else 1.0
            ref[k, g] = float(pos.max()) if pos.size else 1.0
    rate_med = math.log(2.0) / ed50_med
    names = [n for c in curves for n in c.coef_names]
    if interaction:
        names.append(f"{curves[0].dose}:{curves[1].dose}")
    scales = np.array([_ranges(data.doses[data.group == g], curves, interaction)
                       for g in range(G)])
    overall = _ranges(data.doses, curves, interaction)
    n_rand = len(names) - (1 if interaction else 0)
    rand = tuple(range(n_rand)) if random == "parameters" else ()
    return Design(curves=curves, interaction=interaction, random=random, coef_names=tuple(names),
                  coef_scale=tuple(tuple(float(priors.effect / r) for r in row) for row in scales),
                  tau_scale=tuple(float(priors.tau / overall[j]) for j in rand),
                  random_coefs=rand, ed50_median=tuple(tuple(r) for r in ed50_med),
                  rate_median=tuple(tuple(r) for r in rate_med), priors=priors,
                  ref_dose=tuple(tuple(r) for r in ref))


_BOUNDED = ("emax", "sigmoid_emax", "exponential")  # basis functions within [0, 1]


def _ranges(doses: np.ndarray, curves: tuple[Curve, ...], interaction: bool) -> list[float]:
    """max |g_j(d)| over the observed doses (1 for the bounded Emax-type bases)."""
    out = []
    primary = []
    for k, c in enumerate(curves):
        d = doses[:, k]
        if c.family in _BOUNDED:
            r = [1.0]
        else:
            r = [float(np.max(np.abs(col))) if d.size else 1.0 for col in c.basis(d, {})]
        primary.append(r[0])
        out.extend(r)
    if interaction:
        out.append(primary[0] * primary[1])
    return [x if x > 0 else 1.0 for x in out]


def _padding(data: DoseData):
    """Padded per-study arrays by position i = 0..m-1 within a study.

    Padded positions get dose 0 (so every basis function, hence mean and random-effect
    variance, is 0), y = 0 and unit sampling variance uncorrelated with the rest: they add
    exactly nothing to the density.
    """
    blocks = data.blocks()
    S = len(blocks)
    m = max(b.size for b in blocks)
    D = data.doses.shape[1]
    doses = np.zeros((m, S, D))
    grp = np.zeros((m, S), dtype=int)
    y = np.zeros((S, m))
    V = np.zeros((S, m, m))
    same = np.zeros((S, m, m))
    half = np.zeros((S, m, m))
    sizes = np.zeros(S)
    for s, b in enumerate(blocks):
        k = b.size
        doses[:k, s] = data.doses[b]
        grp[:k, s] = data.group[b]
        y[s, :k] = data.yi[b]
        V[s] = np.eye(m)
        V[s, :k, :k] = data.covariance(s)
        g = data.group[b]
        same[s, :k, :k] = g[:, None] == g[None, :]
        half[s, :k, :k] = 0.5 * (np.eye(k) + 1.0)
        sizes[s] = k
    return doses, grp, y, V, same, half, sizes


def _mvn_logp(resid, cov, m: int, sizes):
    """Per-study MVN log density by an unrolled Cholesky, vectorised over studies.

    ``resid[i]`` and ``cov[i][j]`` are (S,) vectors (position i, j within a study); building
    the factor entry by entry keeps the graph elementwise (fast to run and differentiate).
    """
    import pytensor.tensor as pt

    L: dict[tuple[int, int], object] = {}
    for j in range(m):
        s = cov[j][j]
        for k in range(j):
            s = s - L[j, k] ** 2
        L[j, j] = pt.sqrt(s)
        for i in range(j + 1, m):
            t = cov[i][j]
            for k in range(j):
                t = t - L[i, k] * L[j, k]
            L[i, j] = t / L[j, j]
    quad = 0.0
    logdet = 0.0
    z: list = []
    for i in range(m):
        t = resid[i]
        for k in range(i):
            t = t - L[i, k] * z[k]
        z.append(t / L[i, i])
        quad = quad + z[i] ** 2
        logdet = logdet + pt.log(L[i, i])
    return -0.5 * (quad + 2.0 * logdet + sizes * math.log(2.0 * math.pi))


def _bounded_coefs(design: Design) -> dict[int, int]:
    """Coefficient index -> dose column of each bounded (Emax-type) curve's coefficient."""
    out, j = {}, 0
    for k, c in enumerate(design.curves):
        if c.family in _BOUNDED:
            out[j] = k
        j += len(c.coef_names)
    return out


def _reference_parametrisation(design: Design, bounded: dict[int, int], phi_rv: dict):
    """``beta`` of a model with Emax-type curves, sampled through the effect at a reference dose.

    The coefficient of a bounded curve (Emax, the asymptote) is strongly correlated with its
    ED50 (or rate) when the data do not reach the plateau: along the ridge, only the effect
    over the observed doses is identified. NUTS samples ``beta_ref`` instead, whose bounded
    columns are the effect at the largest observed dose, E_ref = Emax g(d_ref; phi), nearly
    orthogonal to ED50; ``beta`` = E_ref / g(d_ref; phi) is a Deterministic. The prior is
    unchanged: the Normal prior density of ``beta`` plus the log-Jacobian
    log |d beta / d E_ref| = -log g(d_ref; phi) enter as a Potential on a flat ``beta_ref``
    (Bates & Watts 1988, Nonlinear Regression Analysis, on parameter-effects curvature).
    """
    import pymc as pm
    import pytensor.tensor as pt

    scale = np.asarray(design.coef_scale)  # (G, P)
    raw = pm.Flat("beta_ref", dims=("group", "coef"))
    cols = []
    log_jac = 0.0
    for j in range(scale.shape[1]):
        if j not in bounded:
            cols.append(raw[:, j])
            continue
        k = bounded[j]
        curve = design.curves[k]
        local = {p: phi_rv[f"{p}_{curve.dose}"] for p in curve.nonlinear}
        g_ref = curve.basis(pt.as_tensor(np.asarray(design.ref_dose[k], dtype=float)),
                            local, pt)[0]  # (G,), in (0, 1)
        cols.append(raw[:, j] / g_ref)
        log_jac = log_jac - pt.sum(pt.log(g_ref))
    beta = pm.Deterministic("beta", pt.stack(cols, axis=1), dims=("group", "coef"))
    prior = pm.logp(pm.Normal.dist(mu=0.0, sigma=scale), beta)
    pm.Potential("beta_prior", pt.sum(prior) + log_jac)
    return beta


def build_model(data: DoseData, design: Design, *, reference: bool = True):
    """The PyMC model; ``loglik`` (per study) is a Deterministic moved to log_likelihood later.

    ``reference=False`` samples ``beta`` directly also for Emax-type curves (the same
    posterior in worse coordinates; kept to test the reparametrisation's Jacobian).
    """
    import pymc as pm
    import pytensor.tensor as pt

    G = len(data.group_names)
    coords = {"group": list(data.group_names), "coef": list(design.coef_names),
              "study": list(data.labels)}
    if design.random_coefs:
        coords["coef_random"] = [design.coef_names[j] for j in design.random_coefs]
    doses, grp, y_pad, V_pad, same, half, sizes = _padding(data)
    m = y_pad.shape[1]
    pr = design.priors
    P = len(design.coef_names)
    bounded = _bounded_coefs(design) if reference else {}
    with pm.Model(coords=coords) as model:
        if not bounded:
            beta = pm.Normal("beta", mu=0.0, sigma=np.asarray(design.coef_scale),
                             dims=("group", "coef"))
        phi_rv = {}
        for k, c in enumerate(design.curves):
            for p in c.nonlinear:
                name = f"{p}_{c.dose}"
                if p == "ed50":
                    mu0, sig = np.log(design.ed50_median[k]), pr.ed50
                elif p == "hill":
                    mu0, sig = 0.0, pr.hill
                else:
                    mu0, sig = np.log(design.rate_median[k]), pr.rate
                phi_rv[name] = pm.LogNormal(name, mu=mu0, sigma=sig, dims="group")

        if bounded:
            beta = _reference_parametrisation(design, bounded, phi_rv)

        def pick(rv, i):  # per-study value of a group parameter at position i
            return rv[0] if G == 1 else rv[grp[i]]

        cols, mu = [], []
        for i in range(m):
            phi = {k: pick(v, i) for k, v in phi_rv.items()}
            g = basis_matrix(design, doses[i], phi, xp=pt)  # P columns, each (S,)
            b = [pick(beta[:, j], i) for j in range(P)]
            cols.append(g)
            mu.append(sum(bj * gj for bj, gj in zip(b, g)))
        cov = [[pt.as_tensor(V_pad[:, i, j]) for j in range(m)] for i in range(m)]
        if design.random == "parameters":
            tau = pm.HalfNormal("tau", sigma=np.asarray(design.tau_scale), dims="coef_random")
            for i in range(m):
                for j in range(i + 1):
                    extra = sum(tau[r] ** 2 * cols[i][c] * cols[j][c]
                                for r, c in enumerate(design.random_coefs))
                    if G > 1:
                        extra = extra * same[:, i, j]
                    cov[i][j] = cov[i][j] + extra
                    cov[j][i] = cov[i][j]
        elif design.random == "contrast":
            tau = pm.HalfNormal("tau", sigma=pr.tau)
            for i in range(m):
                for j in range(m):
                    cov[i][j] = cov[i][j] + tau**2 * half[:, i, j]
        resid = [y_pad[:, i] - mu[i] for i in range(m)]
        ll = _mvn_logp(resid, cov, m, sizes)
        pm.Potential("likelihood", pt.sum(ll))
        pm.Deterministic("loglik", ll, dims="study")
    return model
