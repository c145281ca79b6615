"""Bayesian dose-response meta-analysis of exercise for pain (to come)."""

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
