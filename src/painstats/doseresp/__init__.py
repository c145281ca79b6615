"""Bayesian dose-response meta-analysis of exercise for pain.

:func:`fit` fits hierarchical dose-response curves (linear, log-linear, quadratic, restricted
cubic spline, Emax, sigmoid Emax, exponential; one or two dose columns; agent- or
modality-specific curves) by NUTS in PyMC (or nutpie) and returns a
:class:`DoseResponseResult`; :func:`simulate` makes trials with a known curve.
"""

from painstats.doseresp.fitting import fit
from painstats.doseresp.results import DoseResponseResult
from painstats.doseresp.simulate import simulate, true_curve, true_effective_dose

__all__: list[str] = [
    "DoseResponseResult",
    "fit",
    "simulate",
    "true_curve",
    "true_effective_dose",
]
