"""Simulated exercise-for-pain trials with a known dose-response curve: ``simulate``, ``true_curve``.

Every dataset is arm-level summary data of randomized trials of exercise for pain on a 0-100 mm
visual analogue scale (VAS): one usual-care control arm (all doses 0) and one or more exercise
arms per study, each with a mean, SD and n. The true curve, the between-study heterogeneity and
every study's random effect are kept in ``df.attrs["truth"]`` (a JSON-serialisable dict), so a
fitted curve can be compared with the truth (:func:`true_curve`, :func:`true_effective_dose`).
Nothing here is real data: the study labels are ``"sim01"``, ``"sim02"``, ... and
``df.attrs["simulated"]`` is True.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from painstats._validation import check_count, resolve_option
from painstats.errors import InputTypeError, ValidationError

__all__ = [
    "CURVES",
    "DEFAULT_PARAMETERS",
    "DOSE_COLUMNS",
    "OUTCOMES",
    "simulate",
    "true_curve",
    "true_effective_dose",
]

#: Dose columns of a simulated dataset, in order: sessions per week, load (% of one-repetition
#: maximum) and minutes per session. Control arms have 0 in all three.
DOSE_COLUMNS = ("sessions_per_week", "load_pct_1rm", "minutes")

#: Curve families: the shape in sessions per week, optionally "+" the shape in load (%1RM).
CURVES = ("emax", "linear", "emax+linear", "emax+emax", "linear+linear", "linear+emax")

#: Outcomes: the follow-up mean of each arm, or its mean change from baseline.
OUTCOMES = ("final", "change")

#: Default true parameters (VAS mm; negative = less pain than usual care). ``emax``/``ed50``:
#: Emax curve in sessions/week; ``slope``: linear curve in sessions/week (mm per session/week);
#: ``load_*``: the same for load in %1RM; ``interaction``: coefficient of the product of the two
#: dimensions' basis functions (see :func:`simulate`).
DEFAULT_PARAMETERS: dict[str, float] = {
    "emax": -20.0,
    "ed50": 1.5,
    "slope": -3.0,
    "load_emax": -10.0,
    "load_ed50": 40.0,
    "load_slope": -0.1,
    "interaction": 0.0,
}

_CURVE_ALIASES = {}
for _c in CURVES:
    for _sep in ("+", "_", "-", "*", " x ", "x"):
        _CURVE_ALIASES[_c.replace("+", _sep).upper()] = _c
_OUTCOME_ALIASES = {"FINAL": "final", "FOLLOW-UP": "final", "FOLLOWUP": "final",
                    "CHANGE": "change"}
_FAMILY_PARAMETERS = {"emax": ("emax", "ed50"), "linear": ("slope",)}
#: Ranges of the simulated trial characteristics (documented in ``simulate``).
_SESSIONS = (1, 6)
_LOAD = (30, 85)
_MINUTES = (20, 60)
_CONTROL_CHANGE = (-10.0, 0.0)
_MAX_ARMS = _SESSIONS[1] - _SESSIONS[0] + 1
_SEED_NOTE = "a numpy Generator was passed; rerun with the same Generator state to reproduce"


def simulate(
    n_studies: int = 30,
    *,
    curve: str = "emax",
    parameters: Mapping[str, float] | None = None,
    tau: float = 5.0,
    arms_per_study: int | tuple[int, int] = (1, 3),
    modalities: Mapping[str, Mapping[str, float]] | None = None,
    outcome: str = "final",
    n_range: tuple[int, int] = (15, 80),
    sd_range: tuple[float, float] = (15.0, 25.0),
    baseline_range: tuple[float, float] = (55.0, 70.0),
    random_seed: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Simulate arm-level exercise-for-pain trials whose true dose-response curve is known.

    Each study has a usual-care control arm (sessions, load and minutes all 0) and
    ``arms_per_study`` exercise arms with distinct whole sessions per week in 1-6, a load of
    30-85 %1RM and 20-60 minutes per session (multiples of 5). The true effect of an exercise
    arm of study i versus its control arm is

    * ``"emax"`` (default): ``(emax + u_i) * s / (ed50 + s)`` in sessions per week s;
    * ``"linear"``: ``(slope + u_i) * s``;
    * ``"emax+linear"``, ``"emax+emax"``, ``"linear+linear"``, ``"linear+emax"``: the
      sessions curve above plus a curve in load L (``load_slope * L`` or
      ``load_emax * L / (load_ed50 + L)``) plus ``interaction * b_s(s) * b_L(L)``, where the
      basis b(d) is d for a linear dimension and d / (ed50 + d) for an Emax one.

    The study random effects u_i ~ N(0, tau^2) act on the sessions Emax (or slope), the
    random-effects structure of the models in ``painstats.doseresp``. With ``modalities`` each
    exercise arm gets a modality drawn uniformly, and every modality has its own parameters.

    Per study: baseline pain ~ U(``baseline_range``) mm; the control arm's true change
    ~ U(-10, 0) mm (usual care helps a little); a common arm size drawn log-uniformly in
    ``n_range`` (right-skewed: small trials are common) and jittered by up to +-10% per arm;
    a true SD sigma ~ U(``sd_range``) mm for all its arms. An arm's reported mean is its true
    follow-up mean (``outcome="final"``) or true change (``"change"``) plus N(0, sigma^2 / n)
    sampling error; its reported SD is sigma * sqrt(chi^2_{n-1} / (n - 1)), the sampling
    distribution of a normal sample's SD (independent of the mean).

    Parameters
    ----------
    n_studies : int, default 30
        Number of studies (at least 1).
    curve : str, default "emax"
        One of ``CURVES``: the family in sessions per week, optionally "+" the family in load.
    parameters : mapping, optional
        True parameter values overriding ``DEFAULT_PARAMETERS`` (only those the curve uses:
        ``emax``/``ed50`` or ``slope``, and ``load_emax``/``load_ed50`` or ``load_slope`` and
        ``interaction`` for a two-dimensional curve). ``ed50`` and ``load_ed50`` must be > 0.
    tau : float, default 5.0
        Between-study SD (mm) of the random effect on the sessions Emax (or slope); 0 gives a
        common curve.
    arms_per_study : int or (int, int), default (1, 3)
        Number of exercise arms per study, or the (low, high) range it is drawn uniformly from;
        between 1 and 6.
    modalities : mapping, optional
        Modality name -> parameter overrides for that modality (on top of ``parameters``), e.g.
        ``{"aerobic": {"emax": -12}, "resistance": {"emax": -20}}``. Adds a ``modality``
        column; control arms have modality "usual care".
    outcome : {"final", "change"}, default "final"
        Report the follow-up mean (0-100 mm) or the change from baseline.
    n_range, sd_range, baseline_range : (low, high)
        Arm sizes (whole numbers >= 2), true SDs (> 0 mm) and baseline pain (0-100 mm).
    random_seed : int or numpy Generator, optional
        Seed of ``numpy.random.default_rng``; the same seed gives the same data. None draws a
        fresh seed, which is recorded in the truth so the data can be re-simulated.

    Returns
    -------
    DataFrame
        One row per arm: ``study`` ("sim01", ...), ``arm`` ("control", "ex1", ...),
        ``sessions_per_week``, ``load_pct_1rm``, ``minutes``, ``modality`` (if used),
        ``mean``, ``sd``, ``n``. ``df.attrs["simulated"]`` is True and ``df.attrs["truth"]``
        a JSON-serialisable dict: curve, dimensions, parameters, tau, seed, all settings,
        each study's random effect and control mean, and each arm's true mean and SD.

    Raises
    ------
    ValidationError
        Unknown curve or outcome, a parameter the curve does not use, ed50 <= 0, tau < 0,
        non-finite numbers, impossible ranges, or true arm means outside 0-100 mm.
    InputTypeError
        Arguments of the wrong type.

    See Also
    --------
    true_curve : the true effect versus control at any doses.
    true_effective_dose : the dose reaching a fraction of the maximum true effect.

    Examples
    --------
    >>> from painstats.doseresp import simulate, true_curve
    >>> df = simulate(4, random_seed=1)
    >>> list(df.columns)
    ['study', 'arm', 'sessions_per_week', 'load_pct_1rm', 'minutes', 'mean', 'sd', 'n']
    >>> df["study"].unique().tolist()
    ['sim01', 'sim02', 'sim03', 'sim04']
    >>> df.attrs["simulated"], df.attrs["truth"]["curve"], df.attrs["truth"]["parameters"]
    (True, 'emax', {'emax': -20.0, 'ed50': 1.5})
    >>> true_curve(df.attrs["truth"], [0, 1.5, 6]).round(2)
    array([  0., -10., -16.])
    """
    cfg = _settings(n_studies, curve, parameters, tau, arms_per_study, modalities, outcome,
                    n_range, sd_range, baseline_range)
    seed, rng, note = _generator(random_seed)
    studies = _draw_studies(cfg, rng)
    arms = _draw_arms(cfg, studies, rng)
    _check_pain_range(cfg, arms)
    df = _observe(arms, rng, cfg["modalities"] is not None)
    truth = _truth(cfg, seed, note, studies, arms)
    df.attrs["simulated"] = True
    df.attrs["truth"] = truth
    return df


def true_curve(
    truth: Mapping[str, Any],
    doses: Any,
    *,
    modality: str | None = None,
    study: str | None = None,
) -> np.ndarray:
    """True effect versus control (mm) of a simulated dataset at any doses.

    Parameters
    ----------
    truth : mapping
        ``df.attrs["truth"]`` of a dataset made by :func:`simulate`.
    doses : array_like or DataFrame
        Sessions per week (1-D) for a one-dimensional curve. For a two-dimensional curve a
        DataFrame (or mapping) with columns ``sessions_per_week`` and ``load_pct_1rm``, or an
        (m, 2) array in that order. A DataFrame works for either.
    modality : str, optional
        Required when the data were simulated with modalities: whose curve.
    study : str, optional
        A study label: that study's curve (with its random effect). Default: the mean curve.

    Returns
    -------
    ndarray
        One effect per dose (0 at the control doses).

    Examples
    --------
    >>> from painstats.doseresp import simulate, true_curve
    >>> df = simulate(3, curve="linear", parameters={"slope": -2}, tau=0, random_seed=2)
    >>> true_curve(df.attrs["truth"], [0, 1, 5])
    array([  0.,  -2., -10.])
    """
    spec = _truth_spec(truth)
    params = _truth_parameters(spec, modality)
    u = 0.0
    if study is not None:
        effects = spec["study_effects"]
        if study not in effects:
            raise ValidationError(
                f"study={study!r} is not a study of this simulation; studies are "
                f"{list(effects)[:5]}{' ...' if len(effects) > 5 else ''}")
        u = float(effects[study])
    grids = _dose_grid(spec["dimensions"], doses)
    return _effect(spec["curve"], params, u, *grids)


def true_effective_dose(
    truth: Mapping[str, Any],
    fraction: float = 0.8,
    *,
    dose_range: tuple[float, float] | None = None,
    modality: str | None = None,
) -> float:
    """Smallest sessions/week at which the mean true curve reaches ``fraction`` of its maximum.

    The maximum is the largest true effect (in absolute value) over ``dose_range``; for a
    monotone curve that is the effect at the top of the range, and the answer is ED80 for
    ``fraction=0.8``. Only one-dimensional curves in sessions per week are supported.

    Parameters
    ----------
    truth : mapping
        ``df.attrs["truth"]`` of a dataset made by :func:`simulate`.
    fraction : float, default 0.8
        In (0, 1].
    dose_range : (low, high), optional
        Doses over which the maximum is taken; default (0, 6), the simulated range.
    modality : str, optional
        Whose curve, for data simulated with modalities.

    Returns
    -------
    float

    Examples
    --------
    >>> from painstats.doseresp import simulate, true_effective_dose
    >>> df = simulate(3, parameters={"emax": -20, "ed50": 1.5}, random_seed=3)
    >>> round(true_effective_dose(df.attrs["truth"], 0.8), 6)  # s / (1.5 + s) = 0.8 * 6 / 7.5
    2.666667
    """
    spec = _truth_spec(truth)
    if len(spec["dimensions"]) != 1:
        raise ValidationError(
            f"true_effective_dose needs a curve in sessions per week only; this truth has "
            f"curve={spec['curve']!r} in {spec['dimensions']}")
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.integer, np.floating)):
        raise InputTypeError(f"fraction must be a number in (0, 1]; got {fraction!r}")
    if not 0 < fraction <= 1:
        raise ValidationError(f"fraction must be in (0, 1]; got {fraction!r}")
    low, high = (0.0, float(_SESSIONS[1])) if dose_range is None else _pair(
        "dose_range", dose_range, minimum=0.0)
    params = _truth_parameters(spec, modality)
    grid = np.linspace(low, high, 2001)
    eff = np.abs(_effect(spec["curve"], params, 0.0, grid))
    target = fraction * eff.max()
    if target == 0:
        return low
    i = int(np.argmax(eff >= target))
    if i == 0:
        return low

    def gap(d: float) -> float:
        return abs(float(_effect(spec["curve"], params, 0.0, np.array([d]))[0])) - target

    if gap(grid[i]) <= 0:  # the target is reached exactly at a grid point
        return float(grid[i])
    return float(optimize.brentq(gap, grid[i - 1], grid[i], xtol=1e-12, rtol=1e-14))


# --------------------------------------------------------------------------- validation

def _settings(n_studies, curve, parameters, tau, arms_per_study, modalities, outcome,
              n_range, sd_range, baseline_range) -> dict[str, Any]:
    curve = resolve_option("curve", curve, _CURVE_ALIASES)
    n_range = _pair("n_range", n_range, minimum=2.0, whole=True)
    sd_range = _pair("sd_range", sd_range, minimum=0.0, strict=True)
    baseline_range = _pair("baseline_range", baseline_range, minimum=0.0, maximum=100.0)
    base = _parameters(curve, parameters, "parameters")
    mods = None
    if modalities is not None:
        if not isinstance(modalities, Mapping) or len(modalities) == 0:
            raise InputTypeError(
                "modalities must be a non-empty mapping of modality name -> parameter "
                f"overrides, e.g. {{'aerobic': {{'emax': -12}}}}; got {modalities!r}")
        mods = {}
        for name, over in modalities.items():
            if not isinstance(name, str) or not name or name == "usual care":
                raise ValidationError(
                    f"modalities: names must be non-empty strings other than 'usual care'; "
                    f"got {name!r}")
            merged = {**base, **_overrides(f"modalities[{name!r}]", over)}
            mods[name] = _parameters(curve, merged, f"modalities[{name!r}]")
    return {
        "n_studies": check_count("n_studies", n_studies, 1),
        "curve": curve,
        "parameters": base,
        "tau": _number("tau", tau, minimum=0.0),
        "arms_per_study": _arms(arms_per_study),
        "modalities": mods,
        "outcome": resolve_option("outcome", outcome, _OUTCOME_ALIASES),
        "n_range": tuple(int(x) for x in n_range),
        "sd_range": sd_range,
        "baseline_range": baseline_range,
    }


def _number(name: str, value: Any, *, minimum: float | None = None, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputTypeError(f"{name} must be a number; got {type(value).__name__} {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValidationError(f"{name} must be finite; got {value!r}")
    if minimum is not None and (x < minimum or (strict and x == minimum)):
        relation = ">" if strict else ">="
        raise ValidationError(f"{name} must be {relation} {minimum:g}; got {value!r}")
    return x


def _pair(name: str, value: Any, *, minimum: float, maximum: float | None = None,
          strict: bool = False, whole: bool = False) -> tuple[float, float]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence) or len(value) != 2:
        raise InputTypeError(f"{name} must be a (low, high) pair of numbers; got {value!r}")
    low = _number(f"{name}[0]", value[0], minimum=minimum, strict=strict)
    high = _number(f"{name}[1]", value[1], minimum=minimum, strict=strict)
    if maximum is not None and high > maximum:
        raise ValidationError(f"{name} must lie within [{minimum:g}, {maximum:g}]; got {value!r}")
    if low > high:
        raise ValidationError(f"{name} must have low <= high; got {value!r}")
    if whole and not (low == int(low) and high == int(high)):
        raise ValidationError(f"{name} must hold whole numbers; got {value!r}")
    return low, high


def _arms(value: Any) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        low, high = _pair("arms_per_study", value, minimum=1.0, maximum=_MAX_ARMS, whole=True)
        return int(low), int(high)
    k = check_count("arms_per_study", value, 1)
    if k > _MAX_ARMS:
        raise ValidationError(
            f"arms_per_study must be at most {_MAX_ARMS} (one per distinct sessions/week "
            f"1-6); got {value!r}")
    return k, k


def _overrides(name: str, values: Any) -> dict[str, float]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise InputTypeError(f"{name} must be a mapping of parameter name -> value; got {values!r}")
    unknown = [k for k in values if k not in DEFAULT_PARAMETERS]
    if unknown:
        raise ValidationError(
            f"{name}: unknown parameter(s) {unknown}; known are {list(DEFAULT_PARAMETERS)}")
    return {k: _number(f"{name}[{k!r}]", v) for k, v in values.items()}


def _parameters(curve: str, values: Any, name: str) -> dict[str, float]:
    """The curve's parameters: defaults updated by ``values``; unused ones are an error."""
    given = _overrides(name, values)
    used = _curve_parameters(curve)
    extra = [k for k in given if k not in used]
    if extra and name == "parameters":
        raise ValidationError(
            f"parameters {extra} are not used by curve {curve!r}; its parameters are {list(used)}")
    out = {k: given.get(k, DEFAULT_PARAMETERS[k]) for k in used}
    for k in ("ed50", "load_ed50"):
        if k in out and not out[k] > 0:
            raise ValidationError(f"{name}[{k!r}] must be > 0; got {out[k]:g}")
    return out


def _curve_parameters(curve: str) -> tuple[str, ...]:
    families = curve.split("+")
    names = _FAMILY_PARAMETERS[families[0]]
    if len(families) == 2:
        names += tuple(f"load_{p}" for p in _FAMILY_PARAMETERS[families[1]]) + ("interaction",)
    return names


def _generator(random_seed: Any) -> tuple[int | None, np.random.Generator, str | None]:
    if isinstance(random_seed, np.random.Generator):
        return None, random_seed, _SEED_NOTE
    if random_seed is None:
        seed = int(np.random.SeedSequence().entropy)
    elif isinstance(random_seed, bool) or not isinstance(random_seed, (int, np.integer)):
        raise InputTypeError(
            f"random_seed must be an int, a numpy Generator or None; got {random_seed!r}")
    elif random_seed < 0:
        raise ValidationError(f"random_seed must be >= 0; got {random_seed!r}")
    else:
        seed = int(random_seed)
    return seed, np.random.default_rng(seed), None


# --------------------------------------------------------------------------- drawing

def _labels(k: int) -> list[str]:
    width = max(2, len(str(k)))
    return [f"sim{i:0{width}d}" for i in range(1, k + 1)]


def _draw_studies(cfg: dict[str, Any], rng: np.random.Generator) -> pd.DataFrame:
    k = cfg["n_studies"]
    lo, hi = cfg["n_range"]
    return pd.DataFrame({
        "study": _labels(k),
        "effect": rng.normal(0.0, cfg["tau"], k) if cfg["tau"] > 0 else np.zeros(k),
        "baseline": rng.uniform(*cfg["baseline_range"], k),
        "control_change": rng.uniform(*_CONTROL_CHANGE, k),
        "sigma": rng.uniform(*cfg["sd_range"], k),
        "n": np.exp(rng.uniform(math.log(lo), math.log(hi + 1), k)),
        "arms": rng.integers(cfg["arms_per_study"][0], cfg["arms_per_study"][1] + 1, k),
    })


def _draw_arms(cfg: dict[str, Any], studies: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One row per arm with its doses, true mean, true SD and n (not yet observed)."""
    rows = []
    lo, hi = cfg["n_range"]
    names = None if cfg["modalities"] is None else list(cfg["modalities"])
    for st in studies.itertuples(index=False):
        m = int(st.arms)
        sessions = np.sort(rng.choice(np.arange(_SESSIONS[0], _SESSIONS[1] + 1), m, replace=False))
        load = rng.integers(_LOAD[0] // 5, _LOAD[1] // 5 + 1, m) * 5.0
        minutes = rng.integers(_MINUTES[0] // 5, _MINUTES[1] // 5 + 1, m) * 5.0
        mods = [None] * m if names is None else [names[j] for j in rng.integers(0, len(names), m)]
        n = np.clip(np.floor(st.n * rng.uniform(0.9, 1.1, m + 1)), lo, hi).astype(int)
        rows.append(_arm_row(cfg, st, "control", 0.0, 0.0, 0.0, "usual care", int(n[0]), 0.0))
        for j in range(m):
            params = cfg["parameters"] if mods[j] is None else cfg["modalities"][mods[j]]
            eff = float(_effect(cfg["curve"], params, st.effect, np.array([sessions[j]]),
                                np.array([load[j]]))[0])
            rows.append(_arm_row(cfg, st, f"ex{j + 1}", float(sessions[j]), load[j], minutes[j],
                                 mods[j], int(n[j + 1]), eff))
    return pd.DataFrame(rows)


def _arm_row(cfg, st, arm, sessions, load, minutes, modality, n, effect) -> dict[str, Any]:
    control = st.control_change + (st.baseline if cfg["outcome"] == "final" else 0.0)
    return {"study": st.study, "arm": arm, "sessions_per_week": sessions,
            "load_pct_1rm": float(load), "minutes": float(minutes), "modality": modality,
            "true_effect": effect, "true_mean": control + effect, "true_sd": st.sigma,
            "n": n, "control_mean": control, "baseline": st.baseline}


def _check_pain_range(cfg: dict[str, Any], arms: pd.DataFrame) -> None:
    """A true follow-up mean outside the VAS (0-100 mm) means the parameters are unrealistic."""
    if cfg["outcome"] != "final":
        return
    bad = ~arms["true_mean"].between(0.0, 100.0)
    if bad.any():
        r = arms[bad].iloc[0]
        raise ValidationError(
            f"the true follow-up mean of study {r['study']!r} arm {r['arm']!r} is "
            f"{r['true_mean']:.1f} mm, outside the 0-100 mm VAS ({int(bad.sum())} arm(s) in all); "
            "choose a smaller effect (emax/slope) or tau")


def _observe(arms: pd.DataFrame, rng: np.random.Generator, with_modality: bool) -> pd.DataFrame:
    n = arms["n"].to_numpy()
    sigma = arms["true_sd"].to_numpy()
    mean = arms["true_mean"].to_numpy() + rng.normal(0.0, 1.0, n.size) * sigma / np.sqrt(n)
    sd = sigma * np.sqrt(rng.chisquare(n - 1) / (n - 1))
    cols = {"study": arms["study"].to_numpy(), "arm": arms["arm"].to_numpy()}
    for c in DOSE_COLUMNS:
        cols[c] = arms[c].to_numpy(dtype=float)
    if with_modality:
        cols["modality"] = arms["modality"].to_numpy()
    cols.update({"mean": mean, "sd": sd, "n": n.astype(np.int64)})
    return pd.DataFrame(cols)


def _truth(cfg, seed, note, studies: pd.DataFrame, arms: pd.DataFrame) -> dict[str, Any]:
    dims = ["sessions_per_week"] + (["load_pct_1rm"] if "+" in cfg["curve"] else [])
    arm_cols = ["study", "arm", "true_effect", "true_mean", "true_sd"]
    return {
        "simulated": True,
        "curve": cfg["curve"],
        "dimensions": dims,
        "parameters": dict(cfg["parameters"]),
        "random_effect_on": "slope" if cfg["curve"].startswith("linear") else "emax",
        "tau": cfg["tau"],
        "modalities": None if cfg["modalities"] is None else {
            k: dict(v) for k, v in cfg["modalities"].items()},
        "outcome": cfg["outcome"],
        "seed": seed,
        "seed_note": note,
        "settings": {"n_studies": cfg["n_studies"], "arms_per_study": list(cfg["arms_per_study"]),
                     "n_range": list(cfg["n_range"]), "sd_range": list(cfg["sd_range"]),
                     "baseline_range": list(cfg["baseline_range"]),
                     "control_change_range": list(_CONTROL_CHANGE)},
        "study_effects": dict(zip(studies["study"], studies["effect"].astype(float))),
        "control_means": dict(zip(arms["study"], arms["control_mean"].astype(float))),
        "baselines": dict(zip(studies["study"], studies["baseline"].astype(float))),
        "arms": [
            {k: (v.item() if isinstance(v, np.generic) else v) for k, v in rec.items()}
            for rec in arms[arm_cols].to_dict("records")
        ],
    }


# --------------------------------------------------------------------------- the curve

def _basis(family: str, d: np.ndarray, ed50: float | None) -> np.ndarray:
    return d / (ed50 + d) if family == "emax" else d


def _effect(curve: str, p: Mapping[str, float], u: float, sessions: np.ndarray,
            load: np.ndarray | None = None) -> np.ndarray:
    """True effect vs control; ``u`` is the study's random effect on the sessions Emax/slope."""
    families = curve.split("+")
    s = np.asarray(sessions, dtype=float)
    if families[0] == "emax":
        b_s = _basis("emax", s, p["ed50"])
        out = (p["emax"] + u) * b_s
    else:
        b_s = s
        out = (p["slope"] + u) * s
    if len(families) == 1:
        return out + 0.0  # no negative zeros at dose 0
    ld = np.asarray(load, dtype=float)
    if families[1] == "emax":
        b_l = _basis("emax", ld, p["load_ed50"])
        out = out + p["load_emax"] * b_l
    else:
        b_l = ld
        out = out + p["load_slope"] * ld
    return out + p["interaction"] * b_s * b_l + 0.0


def _truth_spec(truth: Any) -> Mapping[str, Any]:
    if not isinstance(truth, Mapping) or not truth.get("simulated"):
        raise InputTypeError(
            "truth must be df.attrs['truth'] of a dataset made by painstats.doseresp.simulate; "
            f"got {type(truth).__name__}")
    for key in ("curve", "dimensions", "parameters", "modalities", "study_effects"):
        if key not in truth:
            raise ValidationError(f"truth is missing the entry {key!r}; was it made by simulate?")
    return truth


def _truth_parameters(spec: Mapping[str, Any], modality: str | None) -> Mapping[str, float]:
    mods = spec["modalities"]
    if mods is None:
        if modality is not None:
            raise ValidationError(
                f"modality={modality!r} given, but the data were simulated without modalities")
        return spec["parameters"]
    if modality not in mods:
        raise ValidationError(
            f"modality must be one of {list(mods)} for data simulated with modalities; "
            f"got {modality!r}")
    return mods[modality]


def _dose_grid(dims: Sequence[str], doses: Any) -> list[np.ndarray]:
    if isinstance(doses, (pd.DataFrame, Mapping)):
        missing = [d for d in dims if d not in doses]
        if missing:
            raise ValidationError(f"doses needs the column(s) {missing}; got {list(doses)}")
        arrays = [np.asarray(doses[d], dtype=float).ravel() for d in dims]
    else:
        try:
            arr = np.asarray(doses, dtype=float)
        except (TypeError, ValueError):
            raise InputTypeError(f"doses must be numbers; got {doses!r}") from None
        if len(dims) == 1:
            arrays = [np.atleast_1d(arr).ravel()]
        elif arr.ndim == 2 and arr.shape[1] == len(dims):
            arrays = [arr[:, j] for j in range(len(dims))]
        else:
            raise ValidationError(
                f"doses must be a DataFrame with columns {list(dims)} or an (m, {len(dims)}) "
                f"array for a two-dimensional curve; got shape {arr.shape}")
    for d, a in zip(dims, arrays):
        if not np.all(np.isfinite(a) & (a >= 0)):
            raise ValidationError(f"doses: {d} must be finite and >= 0; got {a[~(a >= 0)][:5]}")
    return arrays
