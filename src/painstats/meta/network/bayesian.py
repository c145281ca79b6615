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
(``parametrization="marginal"``) the random effects are integrated out analytically,
y_s ~ MVN(d-contrasts, V_s + tau^2 P), evaluated elementwise in the eigenbasis of the whitened
P; with ``parametrization="non-centred"`` they are sampled non-centred (``z`` is sampled,
delta is derived), which gives the study effects' posterior but samples more slowly and
shows more divergent transitions on sparse networks. The likelihood is evaluated on contrasts whitened by the Cholesky factor of V_s, which is
exact and keeps the multi-arm correlations. The basic parameters are sampled as
d = centre + root u, an affine change of variables around the common-effect GLS estimate and
its covariance (the normal prior stays on d), so NUTS sees a nearly isotropic posterior; the
model is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from painstats._validation import check_count, check_level, resolve_option
from painstats.errors import InputTypeError, ValidationError
from painstats.meta.network.bayes_results import BayesianNetworkResult, _theta
from painstats.meta.network.data import MULTIARM_TOL, NetworkData, read_network
from painstats.meta.network.nma import (
    _check_reference,
    check_connected,
    fit_consistency,
    treatment_map,
)
from painstats.meta.network.options import resolve_model
from painstats.meta.priors import TauPrior

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
    parametrization: str = "marginal",
    d_prior_sd: float | None = None,
    tau_prior: str | TauPrior = "half-normal",
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
    parametrization : {"marginal", "non-centred"}
        Random-effects model only. "non-centred": the study effects are sampled as
        delta = d-contrast + tau L z with z ~ N(0, I) (``z`` in the posterior). "marginal":
        they are integrated out analytically, y_s ~ MVN(d-contrast, V_s + tau^2 P), so only d
        and tau are sampled and the tau-z funnel is gone (a milder tau-d one remains at large
        tau). Both are the same model with the same posterior of d and tau. On TSD2's
        Parkinson's network (4 x 5000 draws, validation/bayes_nma/) "marginal" at
        target_accept 0.95 gave 6 divergences and took 46 s, "non-centred" at 0.99 gave 9 and
        took 128 s; both reproduced the exact posterior moments within 3 Monte Carlo SEs.
        "marginal" is the default for that reason.
    d_prior_sd : float, optional
        SD of the vague normal prior d[t] ~ N(0, d_prior_sd^2). Default 10 s, with the data
        scale s = max over contrasts of max(|y|, sqrt(v)) (TSD2 uses N(0, 100^2) for outcomes of
        order 1).
    tau_prior : {"half-normal", "uniform"} or painstats.meta.priors.TauPrior
        Prior of tau: half-normal with SD ``tau_prior_scale`` (default s), or TSD2's uniform on
        (0, ``tau_prior_scale``) (default 5 s; TSD2's Parkinson's example uses U(0, 5)), or
        any prior object of :mod:`painstats.meta.priors` (half-Cauchy, half-t, log-normal or
        log-t on tau^2, the empirical priors of Turner 2015 / Rhodes 2015 -- e.g.
        ``priors.rhodes2015("pain", "non-pharmacological (any)", "other")`` for SMDs of
        exercise-for-pain trials), used through its ``to_pymc``.
    tau_prior_scale : float, optional
        See ``tau_prior`` (not with a prior object, which carries its own parameters).
    tau : float, optional
        Fix tau at this value (random-effects model only; no prior is used). With tau fixed at
        the REML estimate the posterior of d is the frequentist random-effects fit.
    level : float
        Probability of the equal-tailed credible and predictive intervals.
    draws, tune, chains, cores : int
        Posterior draws and tuning steps per chain, number of chains, parallel processes.
    target_accept : float
        NUTS target acceptance rate in (0, 1). With few studies tau is weakly identified and
        the random-effects posterior can show a few divergent transitions at large tau (see
        ``parametrization``); raise it to 0.99 then.
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
    settings = _check_settings(
        model=model, parametrization=parametrization, d_prior_sd=d_prior_sd,
        tau_prior=tau_prior, tau_prior_scale=tau_prior_scale, tau=tau, draws=draws, tune=tune,
        chains=chains, cores=cores, target_accept=target_accept, sampler=sampler,
        random_seed=random_seed, progressbar=progressbar)
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


def _check_settings(*, model, parametrization, d_prior_sd, tau_prior, tau_prior_scale, tau,
                    draws, tune, chains, cores, target_accept, sampler, random_seed,
                    progressbar) -> dict[str, Any]:
    out: dict[str, Any] = {"model": resolve_model(model)}
    out["parametrization"] = resolve_option("parametrization", parametrization,
                                            _PARAMETRIZATION_ALIASES)
    out["d_prior_sd"] = None if d_prior_sd is None else _positive("d_prior_sd", d_prior_sd)
    if isinstance(tau_prior, TauPrior):
        if tau_prior_scale is not None:
            raise ValidationError("tau_prior_scale applies to tau_prior='half-normal' or "
                                  f"'uniform'; the prior object {tau_prior!r} has its own "
                                  "parameters")
        if tau is not None:
            raise ValidationError("give either tau (fixed) or tau_prior (its prior), not both")
        out["tau_prior"] = tau_prior
    else:
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
        if isinstance(kind, TauPrior):
            out["tau"] = ("prior", kind)
        else:
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
            elif priors["tau"][0] == "prior":
                tau = priors["tau"][1].to_pymc("tau")
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
