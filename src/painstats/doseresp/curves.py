"""Dose-response curve families: basis functions shared by the PyMC model and the posterior curves.

Every family writes the effect of a dose ``d`` (against dose 0) as a sum of *linear* coefficients
times basis functions that may depend on *nonlinear* parameters::

    f(d) = sum_j beta_j * g_j(d; phi)

==================  =====================================  ================  ================
family              f(d)                                   linear coef.      nonlinear
==================  =====================================  ================  ================
``linear``          beta * d                               beta              --
``loglinear``       beta * log(d + 1)                      beta              --
``quadratic``       beta1 * d + beta2 * d^2                beta1, beta2      --
``rcs``             beta1 * d + sum_j beta_{j+1} s_j(d)    k - 1 of them     -- (fixed knots)
``emax``            emax * d / (ed50 + d)                  emax              ed50
``sigmoid_emax``    emax * d^h / (ed50^h + d^h)            emax              ed50, hill
``exponential``     emax * (1 - exp(-rate * d))            emax              rate
==================  =====================================  ================  ================

``s_j`` are the nonlinear terms of Harrell's restricted cubic spline (``rms::rcspline.eval``
with ``norm=2``, the parametrisation dosresmeta uses): for knots ``t_1 < ... < t_k``,

    s_j(d) = [(d - t_j)_+^3 - (d - t_{k-1})_+^3 (t_k - t_j) / (t_k - t_{k-1})
              + (d - t_k)_+^3 (t_{k-1} - t_j) / (t_k - t_{k-1})] / (t_k - t_1)^2.

The basis functions accept NumPy arrays or PyTensor tensors (``xp`` is ``numpy`` or
``pytensor.tensor``), so the sampled model and the posterior curves use the same formulas.

References
----------
Harrell FE (2015). Regression Modeling Strategies, 2nd ed., section 2.4.5. Springer.
Orsini N, Li R, Wolk A, Khudyakov P, Spiegelman D (2012). Meta-analysis for linear and
nonlinear dose-response relations: examples, an evaluation of approximations, and software.
Am J Epidemiol 175:66-73.
Pedder H, Dias S, Bennetts M, Boucher M, Welton NJ (2019). Modelling time-course relationships
with multiple treatments: model-based network meta-analysis for continuous summary outcomes.
Res Synth Methods 10:267-286.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from painstats._validation import resolve_option
from painstats.errors import ValidationError

__all__ = ["CURVES", "MONOTONE", "Curve", "rcs_knots", "rcs_terms", "resolve_curve"]

#: Curve families, canonical names.
CURVES = ("linear", "loglinear", "quadratic", "rcs", "emax", "sigmoid_emax", "exponential")

#: Families that are monotone in the dose for every parameter value.
MONOTONE = frozenset({"linear", "loglinear", "emax", "sigmoid_emax", "exponential"})

_ALIASES = {
    "LINEAR": "linear", "LIN": "linear",
    "LOGLINEAR": "loglinear", "LOG-LINEAR": "loglinear", "LOG_LINEAR": "loglinear",
    "LOG": "loglinear", "LOG1P": "loglinear",
    "QUADRATIC": "quadratic", "QUAD": "quadratic",
    "RCS": "rcs", "SPLINE": "rcs", "RESTRICTED CUBIC SPLINE": "rcs", "RESTRICTED_CUBIC_SPLINE": "rcs",
    "EMAX": "emax",
    "SIGMOID_EMAX": "sigmoid_emax", "SIGMOID EMAX": "sigmoid_emax", "SIGMOID-EMAX": "sigmoid_emax",
    "HILL": "sigmoid_emax", "EMAX.HILL": "sigmoid_emax", "EMAX_HILL": "sigmoid_emax",
    "EXPONENTIAL": "exponential", "EXP": "exponential",
}

#: Nonlinear parameters of each family, in order.
NONLINEAR: dict[str, tuple[str, ...]] = {
    "linear": (), "loglinear": (), "quadratic": (), "rcs": (),
    "emax": ("ed50",), "sigmoid_emax": ("ed50", "hill"), "exponential": ("rate",),
}


def resolve_curve(value: Any, argument: str = "model") -> str:
    """Canonical family name for a user spelling (case-insensitive; R spellings accepted)."""
    return resolve_option(argument, value, _ALIASES)


def rcs_knots(doses: np.ndarray, n_knots: int = 3) -> np.ndarray:
    """Default knots: dose quantiles as dosresmeta/Harrell (3 knots: 10/50/90th percentiles).

    Quantiles of all doses given (control arms included), R's type-7 quantile.
    """
    probs = {3: (0.10, 0.50, 0.90), 4: (0.05, 0.35, 0.65, 0.95),
             5: (0.05, 0.275, 0.50, 0.725, 0.95)}
    if n_knots not in probs:
        raise ValidationError(f"knots must be 3, 4 or 5 (or explicit dose values); got {n_knots}")
    return np.quantile(np.asarray(doses, float), probs[n_knots])


def rcs_terms(d: Any, knots: np.ndarray, xp: Any = np) -> list[Any]:
    """Harrell's nonlinear spline terms s_1..s_{k-2} (``rms::rcspline.eval``, ``norm=2``)."""
    t = [float(x) for x in knots]
    k = len(t)
    norm = (t[-1] - t[0]) ** 2
    out = []
    for j in range(k - 2):
        a = (t[-1] - t[j]) / (t[-1] - t[-2])
        b = (t[-2] - t[j]) / (t[-1] - t[-2])
        term = (_pos3(d - t[j], xp) - _pos3(d - t[-2], xp) * a + _pos3(d - t[-1], xp) * b) / norm
        out.append(term)
    return out


def _pos3(x: Any, xp: Any) -> Any:
    return xp.maximum(x, 0.0) ** 3


@dataclass(frozen=True, slots=True)
class Curve:
    """One dose dimension's curve: family, dose column, knots (``rcs`` only)."""

    family: str
    dose: str  #: column name of the dose
    knots: tuple[float, ...] = ()

    @property
    def coef_names(self) -> list[str]:
        """Names of the linear coefficients, e.g. ``['dose', "dose'"]`` for a 3-knot spline."""
        d = self.dose
        if self.family in ("linear",):
            return [d]
        if self.family == "loglinear":
            return [f"log1p({d})"]
        if self.family == "quadratic":
            return [d, f"{d}^2"]
        if self.family == "rcs":
            return [d] + [f"{d}{chr(39) * (j + 1)}" for j in range(len(self.knots) - 2)]
        return [f"emax({d})"]

    @property
    def nonlinear(self) -> tuple[str, ...]:
        """Names of the nonlinear parameters (``ed50``, ``hill``, ``rate``)."""
        return NONLINEAR[self.family]

    @property
    def monotone(self) -> bool:
        """True when the family is monotone in the dose for every parameter value."""
        return self.family in MONOTONE

    def basis(self, d: Any, phi: dict[str, Any], xp: Any = np) -> list[Any]:
        """Basis functions g_j(d; phi), each shaped like ``d`` (broadcast with ``phi``)."""
        fam = self.family
        if fam == "linear":
            return [d]
        if fam == "loglinear":
            return [xp.log1p(d)]
        if fam == "quadratic":
            return [d, d**2]
        if fam == "rcs":
            return [d] + rcs_terms(d, np.asarray(self.knots), xp)
        if fam == "emax":
            return [d / (phi["ed50"] + d)]
        if fam == "sigmoid_emax":
            # d^h / (ed50^h + d^h) = 1 / (1 + (ed50 / d)^h), written to be 0 at d = 0
            dh = xp.exp(phi["hill"] * xp.log(xp.maximum(d, 1e-300)))
            eh = xp.exp(phi["hill"] * xp.log(phi["ed50"]))
            return [xp.where(d > 0, dh / (eh + dh), 0.0)]
        if fam == "exponential":
            return [1.0 - xp.exp(-phi["rate"] * d)]
        raise ValidationError(f"unknown curve family {fam!r}; expected one of {CURVES}")
