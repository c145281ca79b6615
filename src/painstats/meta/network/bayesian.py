"""Bayesian network meta-analysis in PyMC: ``bayesian_network_meta_analysis``.

The contrast-based consistency model of Lu & Ades (2004) and NICE DSU TSD2 (Dias et al. 2011,
2013) with the same input handling as :func:`painstats.meta.network.network_meta_analysis`
(:func:`~painstats.meta.network.data.read_network` builds the network; nothing is re-validated
here). Per study ``s`` with baseline arm ``b`` and contrasts ``k = 1..a_s - 1``::

    y_s ~ MVN(delta_s, V_s)                                   (V_s: exact within-study covariance)
    delta_sk = d[t_sk] - d[t_sb] + tau * (L z_s)_k,  z_s ~ N(0, I)    (random effects)
    delta_sk = d[t_sk] - d[t_sb]                                      (common effect)

with ``L L' = P`` (ones on the diagonal, 1/2 off it), so the random effects of a multi-arm
study have variance tau^2 and covariance tau^2/2 (correlation 1/2; Higgins & Whitehead 1996).
This is the multivariate normal likelihood of each study's contrasts, not TSD2's
conditional-normal decomposition of multi-arm trials; the two are the same model. By default
the random effects are non-centred (``z`` is sampled, delta is derived); with
``parametrization="marginal"`` they are integrated out analytically,
y_s ~ MVN(d-contrasts, V_s + tau^2 P), evaluated elementwise in the eigenbasis of the whitened
P. The likelihood is evaluated on contrasts whitened by the Cholesky factor of V_s, which is
exact and keeps the multi-arm correlations.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from painstats._validation import check_count, check_level, resolve_option
from painstats.errors import InputTypeError, PainstatsWarning, ValidationError
from painstats.meta._summary import Summary, fmt, table
from painstats.meta.network.data import MULTIARM_TOL, NetworkData, read_network
from painstats.meta.network.nma import (
    _check_reference,
    check_connected,
    fit_consistency,
    treatment_map,
)
from painstats.meta.network.options import resolve_model, resolve_small_values

__all__ = [
    "BAYES_SAMPLERS",
    "PARAMETRIZATIONS",
    "TAU_PRIORS",
    "BayesianNetworkResult",
    "bayesian_network_meta_analysis",
]

#: Priors for the between-study standard deviation tau.
TAU_PRIORS = ("half-normal", "uniform")
_TAU_PRIOR_ALIASES = {"HALF-NORMAL": "half-normal", "HALFNORMAL": "half-normal",
                      "HALF_NORMAL": "half-normal", "HN": "half-normal",
                      "UNIFORM": "uniform", "UNIF": "uniform", "DUNIF": "uniform"}

#: Random-effects parametrisations: study effects sampled as tau * z (non-centred), or
#: integrated out analytically (marginal multivariate normal likelihood).
PARAMETRIZATIONS = ("non-centred", "marginal")
_PARAMETRIZATION_ALIASES = {"NON-CENTRED": "non-centred", "NONCENTRED": "non-centred",
                            "NON-CENTERED": "non-centred", "NONCENTERED": "non-centred",
                            "NCP": "non-centred", "MARGINAL": "marginal"}

#: NUTS implementations: PyMC's own, or nutpie (optional dependency ``painstats[fast]``).
BAYES_SAMPLERS = ("pymc", "nutpie")
_SAMPLER_ALIASES = {"PYMC": "pymc", "NUTS": "pymc", "NUTPIE": "nutpie"}

#: Default prior scales, multiples of the data scale s = max over contrasts of max(|y|, sqrt(v)).
D_PRIOR_MULTIPLE = 10.0
TAU_PRIOR_MULTIPLE = {"half-normal": 1.0, "uniform": 5.0}

#: Diagnostic thresholds behind the PainstatsWarning (Vehtari et al. 2021).
RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100


def bayesian_network_meta_analysis(
    data: pd.DataFrame | None = None,
    *,
    study: Any,
    treatment: Any = None,
    mean: Any = None,
    sd: Any = None,
    se: Any = None,
    n: Any = None,
    events: Any = None,
    measure: str | None = None,
    treat1: Any = None,
    treat2: Any = None,
    yi: Any = None,
    vi: Any = None,
    cov: Any = None,
    n1: Any = None,
    n2: Any = None,
    reference: str | None = None,
    model: str = "random",
    parametrization: str = "non-centred",
    d_prior_sd: float | None = None,
    tau_prior: str = "half-normal",
    tau_prior_scale: float | None = None,
    tau: float | None = None,
    level: float = 0.95,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    cores: int = 1,
    target_accept: float = 0.95,
    sampler: str = "pymc",
    random_seed: int | None = None,
    progressbar: bool = False,
    missing: str = "raise",
    multiarm_tol: float = MULTIARM_TOL,
) -> BayesianNetworkResult:
    """Bayesian network meta-analysis (contrast-based consistency model) sampled with NUTS.

    Parameters
    ----------
    data, study, treatment, mean, sd, se, n, events, measure, treat1, treat2, yi, vi, cov, n1, n2
        Arm-level or contrast-level input exactly as in
        :func:`painstats.meta.network.network_meta_analysis` (same checks, same multi-arm
        handling).
    reference : str, optional
        The basic parameters are d[t] = t vs ``reference`` (default: first treatment in sorted
        order); ``effects()`` and the summary use it. Only the prior depends on it.
    model : {"random", "common"}
        Random effects with one common tau (aliases "RE"), or common effect ("FE", "fixed").
    parametrization : {"non-centred", "marginal"}
        Random-effects model only. "non-centred": the study effects are sampled as
        delta = d-contrast + tau L z with z ~ N(0, I) (``z`` in the posterior). "marginal":
        they are integrated out analytically, y_s ~ MVN(d-contrast, V_s + tau^2 P), which
        samples only d and tau and has no funnel; prefer it when the non-centred model reports
        divergent transitions (sparse networks with informative studies and large tau). Both
        are the same model with the same posterior of d and tau.
    d_prior_sd : float, optional
        SD of the vague normal prior d[t] ~ N(0, d_prior_sd^2). Default 10 s, with the data
        scale s = max over contrasts of max(|y|, sqrt(v)) (TSD2 uses N(0, 100^2) for outcomes of
        order 1).
    tau_prior : {"half-normal", "uniform"}
        Prior of tau: half-normal with SD ``tau_prior_scale`` (default s), or TSD2's uniform on
        (0, ``tau_prior_scale``) (default 5 s; TSD2's Parkinson's example uses U(0, 5)).
    tau_prior_scale : float, optional
        See ``tau_prior``.
    tau : float, optional
        Fix tau at this value (random-effects model only; no prior is used). With tau fixed at
        the REML estimate the posterior of d is the frequentist random-effects fit.
    level : float
        Probability of the equal-tailed credible and predictive intervals.
    draws, tune, chains, cores : int
        Posterior draws and tuning steps per chain, number of chains, parallel processes.
    target_accept : float
        NUTS target acceptance rate in (0, 1). With few studies tau is weakly identified and
        the random-effects posterior can still show a few divergent transitions at the default
        0.95 (TSD2's Parkinson's network: 1 in 2000 draws); raise it to 0.99 then.
    sampler : {"pymc", "nutpie"}
        NUTS implementation; "nutpie" needs the optional ``nutpie`` package.
    random_seed : int, optional
        Seed of the sampler and of the predictive draws; the same seed gives the same result.
        None draws a seed (recorded on the result).
    progressbar : bool
        Show the sampler's progress bar.
    missing, multiarm_tol
        As in :func:`~painstats.meta.network.network_meta_analysis`.

    Returns
    -------
    BayesianNetworkResult
        ``idata`` (ArviZ InferenceData with ``posterior``: d, tau, z (non-centred only), and
        u (d in preconditioned coordinates); ``sample_stats``;
        ``log_likelihood``: per study), ``effects()``, ``league_table()``,
        ``rank_probabilities()``, ``sucra()``, ``summary()``, ``to_frame()``,
        ``plot_forest()``, ``plot_rankogram()``.

    Raises
    ------
    ValidationError
        Bad data (as ``network_meta_analysis``: disconnected network, single arms, ...), bad
        prior or sampler settings.
    InputTypeError
        Arguments of the wrong type.

    Warns
    -----
    PainstatsWarning
        Divergent transitions, R-hat above 1.01 or bulk/tail ESS below 100 per chain for d or
        tau.

    Notes
    -----
    ``log_likelihood`` holds, per study, the marginal log density log N(y_s | d-contrasts,
    V_s + tau^2 P) of each draw (the random effects integrated out), so ``arviz.loo`` leaves out
    whole studies, multi-arm studies included. The predictive interval of a pair is that of
    the effect in a new study, d_i - d_j + tau e with e ~ N(0, 1) drawn once per posterior draw
    (seeded). Under vague priors the posterior means and SDs of the common-effect model equal
    the frequentist GLS estimates and SEs (up to Monte Carlo error and a prior shrinkage of
    order (se / d_prior_sd)^2), and SUCRA from the rank probabilities estimates the P-score
    (Rücker & Schwarzer 2015).

    References
    ----------
    .. [1] Lu G, Ades AE. Combination of direct and indirect evidence in mixed treatment
       comparisons. Stat Med. 2004;23:3105-3124.
    .. [2] Dias S, Welton NJ, Sutton AJ, Ades AE. NICE DSU Technical Support Document 2: a
       generalised linear modelling framework for pairwise and network meta-analysis of
       randomised controlled trials. 2011 (updated 2016).
    .. [3] Dias S, Sutton AJ, Ades AE, Welton NJ. Evidence synthesis for decision making 2: a
       generalized linear modeling framework for pairwise and network meta-analysis of
       randomized controlled trials. Med Decis Making. 2013;33:607-617.
    .. [4] Higgins JPT, Whitehead A. Borrowing strength from external trials in a
       meta-analysis. Stat Med. 1996;15:2733-2749.
    .. [5] Salanti G, Ades AE, Ioannidis JPA. Graphical methods and numerical summaries for
       presenting results from multiple-treatment meta-analysis. J Clin Epidemiol.
       2011;64:163-171.
    .. [6] Vehtari A, Gelman A, Simpson D, Carpenter B, Bürkner PC. Rank-normalization,
       folding, and localization: an improved R-hat. Bayesian Anal. 2021;16:667-718.

    Examples
    --------
    TSD2's Parkinson's network (a three-arm trial), common-effect model:

    >>> from painstats import datasets
    >>> from painstats.meta import bayesian_network_meta_analysis
    >>> park = datasets.load("tsd2_parkinsons")
    >>> fit = bayesian_network_meta_analysis(
    ...     park, study="studyn", treatment="treatment", mean="y", se="se",
    ...     reference="Placebo", model="common", draws=500, tune=300, chains=2, random_seed=1)
    >>> fit.effects()["estimate"].round(1)
    treatment
    Bromocriptine   -0.5
    Cabergoline     -0.8
    Pramipexole     -1.8
    Ropinirole      -0.5
    Name: estimate, dtype: float64
    >>> fit.sucra().idxmax()
    'Pramipexole'
    """
    settings = _check_settings(model=model, parametrization=parametrization, d_prior_sd=d_prior_sd, tau_prior=tau_prior,
                               tau_prior_scale=tau_prior_scale, tau=tau, draws=draws, tune=tune,
                               chains=chains, cores=cores, target_accept=target_accept,
                               sampler=sampler, random_seed=random_seed, progressbar=progressbar)
    level = check_level(level)
    net = read_network(data, study=study, treatment=treatment, mean=mean, sd=sd, se=se, n=n,
                       events=events, measure=measure, treat1=treat1, treat2=treat2, yi=yi,
                       vi=vi, cov=cov, n1=n1, n2=n2, missing=missing,
                       multiarm_tol=multiarm_tol)
    check_connected(net)
    ref = _check_reference(reference, net.treatments)
    prep = _prepare(net, net.treatments.index(ref))
    scale = _data_scale(net)
    priors = _priors(settings, scale)
    pm_model = _build_model(net, prep, settings, priors)
    idata = _sample(pm_model, settings)
    _add_log_likelihood(idata, net, prep, settings)
    result = BayesianNetworkResult(
        treatments=net.treatments, reference=ref, model=settings["model"],
        parametrization=settings["parametrization"], idata=idata,
        level=level, priors=priors, tau_fixed=settings["tau"], sampler=settings["sampler"],
        draws=settings["draws"], tune=settings["tune"], chains=settings["chains"],
        target_accept=settings["target_accept"], random_seed=settings["random_seed"],
        k=net.n_studies, m=net.n_contrasts, measure=net.measure, data=net,
    )
    result.check_diagnostics()
    return result


# ---------------------------------------------------------------------------------------
# argument checks


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputTypeError(f"{name} must be a number; got {type(value).__name__} {value!r}")
    if not np.isfinite(value):
        raise ValidationError(f"{name} must be finite; got {value!r}")
    return float(value)


def _positive(name: str, value: Any) -> float:
    out = _number(name, value)
    if out <= 0:
        raise ValidationError(f"{name} must be positive; got {value!r}")
    return out


def _check_settings(*, model, parametrization, d_prior_sd, tau_prior, tau_prior_scale, tau, draws, tune, chains,
                    cores, target_accept, sampler, random_seed, progressbar) -> dict[str, Any]:
    out: dict[str, Any] = {"model": resolve_model(model)}
    out["parametrization"] = resolve_option("parametrization", parametrization,
                                            _PARAMETRIZATION_ALIASES)
    out["d_prior_sd"] = None if d_prior_sd is None else _positive("d_prior_sd", d_prior_sd)
    out["tau_prior"] = resolve_option("tau_prior", tau_prior, _TAU_PRIOR_ALIASES)
    out["tau_prior_scale"] = (None if tau_prior_scale is None
                              else _positive("tau_prior_scale", tau_prior_scale))
    if tau is not None:
        if out["model"] == "common":
            raise ValidationError("tau applies to model='random' only; the common-effect model "
                                  "has no between-study heterogeneity")
        if tau_prior_scale is not None:
            raise ValidationError("give either tau (fixed) or tau_prior_scale (its prior), "
                                  "not both")
        if _number("tau", tau) < 0:
            raise ValidationError(f"tau must be non-negative; got {tau!r}")
    out["tau"] = None if tau is None else float(tau)
    out["draws"] = check_count("draws", draws, 10)
    out["tune"] = check_count("tune", tune, 0)
    out["chains"] = check_count("chains", chains, 1)
    out["cores"] = check_count("cores", cores, 1)
    acc = _number("target_accept", target_accept)
    if not 0 < acc < 1:
        raise ValidationError(f"target_accept must lie strictly between 0 and 1; got {acc!r}")
    out["target_accept"] = acc
    out["sampler"] = resolve_option("sampler", sampler, _SAMPLER_ALIASES)
    if random_seed is None:
        random_seed = int(np.random.default_rng().integers(2**31 - 1))
    elif isinstance(random_seed, bool) or not isinstance(random_seed, (int, np.integer)):
        raise InputTypeError(f"random_seed must be an int or None; got {random_seed!r}")
    elif not 0 <= random_seed < 2**32:
        raise ValidationError(f"random_seed must be in [0, 2**32); got {random_seed!r}")
    out["random_seed"] = int(random_seed)
    if not isinstance(progressbar, bool):
        raise InputTypeError(f"progressbar must be True or False; got {progressbar!r}")
    out["progressbar"] = progressbar
    return out


def _data_scale(net: NetworkData) -> float:
    """s = max over contrasts of max(|y|, sqrt(v)): the scale of the default priors."""
    y = np.abs(net.y[net.mask])
    sd = np.sqrt(np.diagonal(net.cov, axis1=1, axis2=2)[net.mask])
    return float(max(y.max(), sd.max()))


def _priors(settings: dict[str, Any], scale: float) -> dict[str, Any]:
    d_sd = settings["d_prior_sd"] or D_PRIOR_MULTIPLE * scale
    out: dict[str, Any] = {"d": ("normal", d_sd)}
    if settings["model"] == "random" and settings["tau"] is None:
        kind = settings["tau_prior"]
        out["tau"] = (kind, settings["tau_prior_scale"] or TAU_PRIOR_MULTIPLE[kind] * scale)
    return out


# ---------------------------------------------------------------------------------------
# model


@dataclass(frozen=True, slots=True)
class _Prepared:
    """Padded arrays of the model: whitening and random-effect factors per study."""

    col: np.ndarray  # (S, A + 1) index into the full d vector (reference -> 0); pads -> 0
    basic: np.ndarray  # (n - 1,) treatment index of each basic parameter
    winv: np.ndarray  # (S, A, A) inverse Cholesky factor of V_s (identity on pads)
    y_white: np.ndarray  # (S, A) whitened contrasts (0 on pads)
    re_chol: np.ndarray  # (S, A, A) Cholesky factor of P (identity on pads)
    rot: np.ndarray  # (S, A, A) U' W: whitening then rotation to the eigenbasis of W P W'
    y_rot: np.ndarray  # (S, A) rotated whitened contrasts
    lam: np.ndarray  # (S, A) eigenvalues of W P W' (0 on pads)
    mask: np.ndarray  # (S, A)
    centre: np.ndarray  # (n - 1,) common-effect GLS estimate of d (preconditioning only)
    root: np.ndarray  # (n - 1, n - 1) Cholesky factor of its covariance


def _prepare(net: NetworkData, ref: int) -> _Prepared:
    n = net.n_treatments
    basic = np.array([t for t in range(n) if t != ref])
    full = np.zeros(n, dtype=int)  # position of each treatment in [0, d...]
    full[basic] = np.arange(1, n)
    col = np.where(net.arms >= 0, full[np.maximum(net.arms, 0)], 0)
    S, A = net.y.shape
    eye = np.broadcast_to(np.eye(A), (S, A, A))
    both = net.mask[:, :, None] & net.mask[:, None, :]
    V = np.where(both, net.cov, eye)
    winv = np.linalg.inv(np.linalg.cholesky(V))
    P = np.where(both, 0.5 + 0.5 * eye, eye)
    rot = np.broadcast_to(np.eye(A), (S, A, A)).copy()
    lam = np.zeros((S, A))
    for s in range(S):  # eigenbasis of the real block only, so pads never mix in
        k = int(net.mask[s].sum())
        w = winv[s, :k, :k]
        lam[s, :k], vecs = np.linalg.eigh(w @ P[s, :k, :k] @ w.T)
        rot[s, :k, :k] = vecs.T @ w
    fe = fit_consistency(net, treatment_map(n, ref), "FE").common
    return _Prepared(col, basic, winv, np.einsum("sij,sj->si", winv, net.y),
                     np.linalg.cholesky(P), rot, np.einsum("sij,sj->si", rot, net.y), lam,
                     net.mask.copy(), np.asarray(fe.beta),
                     np.linalg.cholesky(np.asarray(fe.vcov)))


def _contrast_labels(net: NetworkData) -> list[str]:
    return [f"{net.studies[s]}: {net.treatments[net.arms[s, a + 1]]} vs "
            f"{net.treatments[net.arms[s, 0]]}" for s, a in zip(*np.nonzero(net.mask))]


def _build_model(net: NetworkData, prep: _Prepared, settings: dict[str, Any],
                 priors: dict[str, Any]):
    import pymc as pm
    import pytensor.tensor as pt

    coords = {"treatment": [net.treatments[t] for t in prep.basic],
              "contrast": _contrast_labels(net)}
    rows, cols = np.nonzero(prep.mask)
    with pm.Model(coords=coords) as model:
        # d = centre + root u (u flat, prior on d as a potential): an affine change of
        # variables that leaves the model unchanged but lets NUTS see an isotropic posterior.
        u = pm.Flat("u", dims="treatment")
        # elementwise product and sum rather than a dot product: no BLAS op in the graph
        d = pm.Deterministic("d", prep.centre + (prep.root * u[None, :]).sum(axis=1),
                             dims="treatment")
        pm.Potential("d_prior", pm.logp(pm.Normal.dist(0.0, priors["d"][1]), d).sum())
        full = pt.concatenate([pt.zeros(1), d])
        delta = full[prep.col[:, 1:]] - full[prep.col[:, :1]]  # (S, A); pads give 0
        if settings["model"] == "random":
            if settings["tau"] is not None:
                tau = pt.constant(settings["tau"])
            elif priors["tau"][0] == "half-normal":
                tau = pm.HalfNormal("tau", sigma=priors["tau"][1])
            else:
                tau = pm.Uniform("tau", lower=0.0, upper=priors["tau"][1])
            if settings["parametrization"] == "marginal":
                # y_s ~ MVN(delta_s, V_s + tau^2 P): with W = inv(chol(V_s)) and
                # W P W' = U diag(lam) U', the rotated U'W y_s are independent normals with
                # variances 1 + tau^2 lam -- the exact marginal likelihood, elementwise.
                mean_rot = (prep.rot * delta[:, None, :]).sum(axis=-1)
                sigma = pt.sqrt(1.0 + tau**2 * prep.lam)
                pm.Normal("y_white", mu=mean_rot[rows, cols], sigma=sigma[rows, cols],
                          observed=prep.y_rot[rows, cols], dims="contrast")
                return model
            z = pm.Normal("z", 0.0, 1.0, dims="contrast")
            zmat = pt.set_subtensor(pt.zeros(prep.mask.shape)[rows, cols], z)
            delta = delta + tau * (prep.re_chol * zmat[:, None, :]).sum(axis=-1)
        mean_white = (prep.winv * delta[:, None, :]).sum(axis=-1)
        pm.Normal("y_white", mu=mean_white[rows, cols], sigma=1.0,
                  observed=prep.y_white[rows, cols], dims="contrast")
    return model


def _sample(model, settings: dict[str, Any]):
    names = ["u", "d"] + (["tau"] if "tau" in model.named_vars else []) + (
        ["z"] if "z" in model.named_vars else [])
    if settings["sampler"] == "nutpie":
        return _sample_nutpie(model, settings, names)
    import pymc as pm

    with model:
        idata = pm.sample(draws=settings["draws"], tune=settings["tune"],
                          chains=settings["chains"], cores=settings["cores"],
                          target_accept=settings["target_accept"],
                          random_seed=settings["random_seed"],
                          progressbar=settings["progressbar"], compute_convergence_checks=False,
                          var_names=names)
    return idata


def _sample_nutpie(model, settings: dict[str, Any], names: list[str]):
    try:
        import nutpie
    except ImportError:  # pragma: no cover - nutpie is installed in the test environment
        raise ValidationError("sampler='nutpie' needs the nutpie package: "
                              "pip install 'painstats[fast]'") from None
    compiled = nutpie.compile_pymc_model(model, var_names=names)
    return nutpie.sample(compiled, draws=settings["draws"], tune=settings["tune"],
                         chains=settings["chains"], cores=settings["cores"],
                         seed=settings["random_seed"], target_accept=settings["target_accept"],
                         progress_bar=settings["progressbar"], save_warmup=False)


def _add_log_likelihood(idata, net: NetworkData, prep: _Prepared, settings: dict[str, Any]):
    """Per study and draw: log N(y_s | d-contrasts, V_s + tau^2 P), random effects integrated."""
    import xarray as xr

    post = idata.posterior
    theta = _theta(post["d"].to_numpy(), prep.basic, net.n_treatments)
    c, dr = theta.shape[:2]
    if settings["model"] == "common":
        tau = np.zeros((c, dr))
    elif settings["tau"] is not None:
        tau = np.full((c, dr), settings["tau"])
    else:
        tau = post["tau"].to_numpy()
    ll = np.empty((c, dr, net.n_studies))
    for s in range(net.n_studies):
        k = int(net.mask[s].sum())
        arms = net.arms[s, : k + 1]
        resid = net.y[s, :k] - (theta[..., arms[1:]] - theta[..., arms[:1]])
        P = 0.5 * (np.eye(k) + 1.0)
        sig = net.cov[s, :k, :k] + (tau**2)[..., None, None] * P
        L = np.linalg.cholesky(sig)
        r = np.linalg.solve(L, resid[..., None])[..., 0]
        logdet = 2.0 * np.log(np.diagonal(L, axis1=-2, axis2=-1)).sum(axis=-1)
        ll[..., s] = -0.5 * (k * np.log(2 * np.pi) + logdet + (r**2).sum(axis=-1))
    ds = xr.Dataset({"y": (("chain", "draw", "study"), ll)},
                    coords={"chain": post["chain"].to_numpy(), "draw": post["draw"].to_numpy(),
                            "study": list(net.studies)})
    if "log_likelihood" in idata.groups():  # pragma: no cover - not requested from samplers
        del idata.log_likelihood
    idata.add_groups({"log_likelihood": ds})


def _theta(d: np.ndarray, basic: np.ndarray, n: int) -> np.ndarray:
    """(chain, draw, n) effects of every treatment against the reference (0 for it)."""
    theta = np.zeros(d.shape[:2] + (n,))
    theta[..., basic] = d
    return theta


# ---------------------------------------------------------------------------------------
# result

#: Columns of ``effects()`` and (after term, treat1, treat2, model) of ``to_frame()``.
BAYES_COLUMNS = ["estimate", "sd", "median", "ci_low", "ci_high", "pi_low", "pi_high", "mcse",
                 "ess_bulk", "r_hat"]


@dataclass(frozen=True, slots=True)
class BayesianNetworkResult:
    """A Bayesian network meta-analysis: the posterior (``idata``) and summaries read from it.

    Relative effects "treat1 vs treat2" are treat1 minus treat2 on the scale of the contrasts
    (log scale for OR, RR, ROM). ``estimate`` is the posterior mean, ``sd`` the posterior SD,
    intervals are equal-tailed with probability ``level``.
    """

    treatments: tuple[str, ...]  #: sorted treatment names
    reference: str  #: treatment of the basic parameters d[t] = t vs reference
    model: str  #: "random" or "common"
    parametrization: str  #: "non-centred" or "marginal" (random-effects model)
    idata: Any = field(repr=False)  #: arviz.InferenceData (posterior, sample_stats, ...)
    level: float
    priors: dict[str, Any]  #: {"d": ("normal", sd), "tau": (kind, scale)} as used
    tau_fixed: float | None  #: tau when fixed instead of sampled
    sampler: str
    draws: int
    tune: int
    chains: int
    target_accept: float
    random_seed: int
    k: int  #: number of studies
    m: int  #: number of independent contrasts
    measure: str | None
    data: NetworkData = field(repr=False)

    # -- draws -----------------------------------------------------------------------
    def theta_draws(self) -> np.ndarray:
        """(chain, draw, n) posterior draws of every treatment vs the fit's reference."""
        ref = self.treatments.index(self.reference)
        basic = np.array([t for t in range(len(self.treatments)) if t != ref])
        return _theta(self.idata.posterior["d"].to_numpy(), basic, len(self.treatments))

    def tau_draws(self) -> np.ndarray:
        """(chain, draw) draws of tau (constant when fixed, zero for the common-effect model)."""
        shape = self.idata.posterior["d"].shape[:2]
        if self.model == "common":
            return np.zeros(shape)
        if self.tau_fixed is not None:
            return np.full(shape, self.tau_fixed)
        return self.idata.posterior["tau"].to_numpy()

    def _index(self, treatment: Any, name: str = "reference") -> int:
        if treatment not in self.treatments:
            raise ValidationError(f"{name} must be one of the treatments {list(self.treatments)}; "
                                  f"got {treatment!r}")
        return self.treatments.index(treatment)

    def _check_model(self, model: str | None) -> None:
        if model is not None and resolve_model(model) != self.model:
            raise ValidationError(f"this Bayesian fit is the {self.model} model only; "
                                  f"got model={model!r}")

    def _pairs(self, i1: np.ndarray, i2: np.ndarray) -> pd.DataFrame:
        """Posterior summaries of treatment i1 minus treatment i2 for arrays of pairs."""
        theta = self.theta_draws()
        x = theta[..., i1] - theta[..., i2]
        alpha = (1 - self.level) / 2
        out = {"estimate": x.mean(axis=(0, 1)), "sd": x.std(axis=(0, 1), ddof=1),
               "median": np.median(x, axis=(0, 1))}
        out["ci_low"], out["ci_high"] = np.quantile(x, [alpha, 1 - alpha], axis=(0, 1))
        if self.model == "random":
            rng = np.random.default_rng(self.random_seed)
            pred = x + (self.tau_draws() * rng.standard_normal(x.shape[:2]))[..., None]
            out["pi_low"], out["pi_high"] = np.quantile(pred, [alpha, 1 - alpha], axis=(0, 1))
        else:
            out["pi_low"] = out["pi_high"] = np.full(x.shape[-1], np.nan)
        out.update(_draw_diagnostics(x))
        return pd.DataFrame(out)[BAYES_COLUMNS]

    # -- effects -----------------------------------------------------------------------
    def effects(self, reference: str | None = None, model: str | None = None) -> pd.DataFrame:
        """Every treatment against ``reference`` (default: the fit's reference).

        DataFrame indexed by treatment (reference left out): posterior ``estimate`` (mean),
        ``sd``, ``median``, credible interval ``ci_low``/``ci_high``, predictive interval of
        the effect in a new study ``pi_low``/``pi_high`` (NaN for the common-effect model),
        Monte Carlo SE of the mean ``mcse``, ``ess_bulk`` and ``r_hat``. ``model`` is accepted
        for compatibility with the frequentist result and must name the fitted model.
        """
        self._check_model(model)
        ref = self._index(reference if reference is not None else self.reference)
        others = np.array([i for i in range(len(self.treatments)) if i != ref])
        frame = self._pairs(others, np.full(others.size, ref))
        frame.index = pd.Index([self.treatments[i] for i in others], name="treatment")
        frame.attrs["reference"] = self.treatments[ref]
        return frame

    def to_frame(self) -> pd.DataFrame:
        """Tidy table of every pair: term, treat1, treat2, model and the ``effects()`` columns.

        Pairs are listed with treat2 earlier in treatment order than treat1 (as the
        frequentist ``to_frame``).
        """
        i1, i2 = np.triu_indices(len(self.treatments), 1)
        frame = self._pairs(i2, i1)
        frame.insert(0, "model", self.model)
        frame.insert(0, "treat2", [self.treatments[i] for i in i1])
        frame.insert(0, "treat1", [self.treatments[i] for i in i2])
        frame.insert(0, "term", [f"{self.treatments[b]} vs {self.treatments[a]}"
                                 for a, b in zip(i1, i2)])
        return frame

    def league_table(self, digits: int = 2) -> pd.DataFrame:
        """Cell (row A, column B): posterior mean of A minus B with its credible interval."""
        n = len(self.treatments)
        i1, i2 = np.nonzero(~np.eye(n, dtype=bool))
        frame = self._pairs(i1, i2)
        cells = [[self.treatments[i] if i == j else "" for j in range(n)] for i in range(n)]
        for a, b, r in zip(i1, i2, frame.itertuples()):
            cells[a][b] = (f"{r.estimate:.{digits}f} ({r.ci_low:.{digits}f}, "
                           f"{r.ci_high:.{digits}f})")
        return pd.DataFrame(cells, index=pd.Index(self.treatments, name="treatment"),
                            columns=list(self.treatments))

    def heterogeneity(self) -> pd.Series:
        """Posterior of tau: mean, sd, median, ci_low, ci_high (tau fixed: that value)."""
        t = self.tau_draws()
        alpha = (1 - self.level) / 2
        lo, hi = np.quantile(t, [alpha, 1 - alpha])
        return pd.Series({"estimate": t.mean(), "sd": t.std(ddof=1), "median": np.median(t),
                          "ci_low": lo, "ci_high": hi}, name="tau")

    # -- ranking -----------------------------------------------------------------------
    def _ranks(self, small_values: str) -> np.ndarray:
        small = resolve_small_values(small_values)
        theta = self.theta_draws().reshape(-1, len(self.treatments))
        if small == "bad":
            theta = -theta
        return np.argsort(np.argsort(theta, axis=1), axis=1) + 1  # 1 = best

    def rank_probabilities(self, small_values: str = "good") -> pd.DataFrame:
        """Rankogram: posterior probability of each rank (columns 1..n; 1 = best) per treatment.

        ``small_values="good"`` when small effects are desirable (less pain), "bad" otherwise.
        """
        ranks = self._ranks(small_values)
        n = len(self.treatments)
        probs = np.stack([(ranks == r).mean(axis=0) for r in range(1, n + 1)], axis=1)
        return pd.DataFrame(probs, index=pd.Index(self.treatments, name="treatment"),
                            columns=pd.Index(range(1, n + 1), name="rank"))

    def sucra(self, small_values: str = "good") -> pd.Series:
        """SUCRA = (n - mean rank)/(n - 1) from the posterior ranks (Salanti et al. 2011)."""
        n = len(self.treatments)
        mean_rank = self._ranks(small_values).mean(axis=0)
        return pd.Series((n - mean_rank) / (n - 1),
                         index=pd.Index(self.treatments, name="treatment"), name="sucra")

    def ranking(self, small_values: str = "good") -> pd.DataFrame:
        """sucra, mean_rank, median_rank and p_best per treatment; best SUCRA first."""
        ranks = self._ranks(small_values)
        n = len(self.treatments)
        frame = pd.DataFrame({"sucra": (n - ranks.mean(axis=0)) / (n - 1),
                              "mean_rank": ranks.mean(axis=0),
                              "median_rank": np.median(ranks, axis=0),
                              "p_best": (ranks == 1).mean(axis=0)},
                             index=pd.Index(self.treatments, name="treatment"))
        return frame.sort_values("sucra", ascending=False, kind="stable")

    # -- diagnostics -------------------------------------------------------------------
    def diagnostics(self) -> dict[str, float]:
        """max_r_hat, min_ess_bulk, min_ess_tail over d and tau; divergences (count)."""
        import arviz as az

        names = ["u", "d"] + (["tau"] if "tau" in self.idata.posterior else [])
        post = self.idata.posterior[names]
        rhat = az.rhat(post)
        bulk = az.ess(post, method="bulk")
        tail = az.ess(post, method="tail")
        stats = self.idata.sample_stats
        div = int(stats["diverging"].sum()) if "diverging" in stats else 0
        return {"max_r_hat": max(float(rhat[v].max()) for v in names),
                "min_ess_bulk": min(float(bulk[v].min()) for v in names),
                "min_ess_tail": min(float(tail[v].min()) for v in names),
                "divergences": div}

    def diagnostic_problems(self) -> list[str]:
        """Plain-language list of failed checks (empty when sampling looks fine)."""
        diag = self.diagnostics()
        ess_min = ESS_PER_CHAIN_MIN * self.chains
        problems = []
        if diag["divergences"]:
            problems.append(f"{diag['divergences']} divergent transitions (raise target_accept"
                            + (" or use parametrization='marginal'"
                               if self.parametrization == "non-centred" and self.model == "random"
                               and self.tau_fixed is None else "") + ")")
        if not diag["max_r_hat"] <= RHAT_MAX:
            problems.append(f"max R-hat {diag['max_r_hat']:.3f} > {RHAT_MAX}")
        for kind in ("bulk", "tail"):
            if not diag[f"min_ess_{kind}"] >= ess_min:
                problems.append(f"min {kind} ESS {diag[f'min_ess_{kind}']:.0f} < {ess_min} "
                                f"({ESS_PER_CHAIN_MIN} per chain)")
        return problems

    def check_diagnostics(self) -> None:
        """Warn (PainstatsWarning) if divergences, R-hat or ESS signal unreliable sampling."""
        problems = self.diagnostic_problems()
        if problems:
            warnings.warn("Bayesian network meta-analysis: sampling may be unreliable: "
                          + "; ".join(problems) + ". Increase draws/tune or target_accept.",
                          PainstatsWarning, stacklevel=3)

    # -- plots ---------------------------------------------------------------------------
    def plot_forest(self, reference: str | None = None, ax: Any = None, **kwargs: Any) -> Any:
        """Forest plot of posterior means with credible (and predictive) intervals."""
        from painstats.meta.network.plots import plot_forest

        return plot_forest(self, reference=reference, ax=ax, **kwargs)

    def plot_rankogram(self, small_values: str = "good", ax: Any = None, **kwargs: Any) -> Any:
        """Rank probabilities; see :func:`painstats.meta.network.plot_rankogram`."""
        from painstats.meta.network.bayes_plots import plot_rankogram

        return plot_rankogram(self, small_values=small_values, ax=ax, **kwargs)

    # -- printing ------------------------------------------------------------------------
    def summary(self, small_values: str | None = None) -> Summary:
        """Priors, sampler, effects vs the reference, tau, diagnostics (and SUCRA if asked)."""
        title = (f"Bayesian network meta-analysis (k = {self.k} studies, m = {self.m} contrasts, "
                 f"n = {len(self.treatments)} treatments; "
                 f"{'random-effects' if self.model == 'random' else 'common-effect'} model)")
        pct = f"{100 * self.level:g}%"
        lines = [title, (f"Measure: {self.measure or 'as given (contrasts)'}; reference: "
                         f"{self.reference}"), f"Priors: {self._prior_text()}",
                 (f"Sampler: {self.sampler} NUTS, {self.chains} chains x {self.draws} draws "
                  f"({self.tune} tuning), target_accept = {self.target_accept:g}, "
                  f"random_seed = {self.random_seed}"
                  + (f"; {self.parametrization} random effects"
                     if self.model == "random" and self.tau_fixed is None else "")), "",
                 f"Treatments vs '{self.reference}' (posterior mean, SD, {pct} credible"
                 + (" and predictive" if self.model == "random" else "") + " intervals):", ""]
        lines += [_effects_text(self.effects(), self.model), ""]
        if self.model == "random":
            h = self.heterogeneity()
            lines.append(f"tau: mean = {fmt(h.estimate)}, sd = {fmt(h.sd)}, median = "
                         f"{fmt(h['median'])}, {pct} CrI ({fmt(h.ci_low)}, {fmt(h.ci_high)})"
                         if self.tau_fixed is None else f"tau fixed at {fmt(self.tau_fixed)}")
            lines.append("")
        if small_values is not None:
            rk = self.ranking(small_values)
            rows = [[f"{r.sucra:.3f}", f"{r.mean_rank:.2f}", f"{r.p_best:.3f}"]
                    for r in rk.itertuples()]
            lines += [f"Ranking (small values are {resolve_small_values(small_values)}):", "",
                      table(["SUCRA", "mean rank", "P(best)"], rows,
                            index=[str(i) for i in rk.index]), ""]
        diag = self.diagnostics()
        lines.append(f"Diagnostics (d, tau): max R-hat = {diag['max_r_hat']:.3f}; min ESS bulk = "
                     f"{diag['min_ess_bulk']:.0f}, tail = {diag['min_ess_tail']:.0f}; "
                     f"divergent transitions = {diag['divergences']}")
        problems = self.diagnostic_problems()
        if problems:
            lines.append("WARNING: " + "; ".join(problems))
        if self.data.n_dropped:
            lines.append(f"{self.data.n_dropped} input row(s) with missing values dropped")
        return Summary("\n".join(lines) + "\n")

    def _prior_text(self) -> str:
        out = f"d ~ Normal(0, {self.priors['d'][1]:.4g}^2)"
        if self.model == "random":
            if self.tau_fixed is not None:
                return out + f"; tau fixed at {self.tau_fixed:.4g}"
            kind, scale = self.priors["tau"]
            out += (f"; tau ~ HalfNormal({scale:.4g})" if kind == "half-normal"
                    else f"; tau ~ Uniform(0, {scale:.4g})")
        return out

    def __str__(self) -> str:
        return str(self.summary())


def _draw_diagnostics(x: np.ndarray) -> dict[str, np.ndarray]:
    """MCSE of the mean, bulk ESS and R-hat of (chain, draw, p) draws, per column."""
    import arviz as az
    import xarray as xr

    ds = xr.Dataset({"x": (("chain", "draw", "pair"), x)})
    return {"mcse": az.mcse(ds, method="mean")["x"].to_numpy(),
            "ess_bulk": az.ess(ds, method="bulk")["x"].to_numpy(),
            "r_hat": az.rhat(ds)["x"].to_numpy()}


def _effects_text(frame: pd.DataFrame, model: str) -> str:
    header = ["mean", "sd", "ci.lb", "ci.ub"] + (["pi.lb", "pi.ub"] if model == "random" else [])
    header += ["mcse", "ess", "rhat"]
    rows = []
    for r in frame.itertuples():
        row = [fmt(r.estimate), fmt(r.sd), fmt(r.ci_low), fmt(r.ci_high)]
        if model == "random":
            row += [fmt(r.pi_low), fmt(r.pi_high)]
        rows.append(row + [fmt(r.mcse), f"{r.ess_bulk:.0f}", f"{r.r_hat:.3f}"])
    return table(header, rows, index=[str(i) for i in frame.index])
