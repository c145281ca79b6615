"""Pairwise meta-analysis: effect sizes, random-effects models, meta-regression, subgroups."""

from painstats.meta.options import METHODS, TESTS
from painstats.meta.random_effects import random_effects
from painstats.meta.results import RandomEffectsResult

__all__ = [
    "random_effects",
    "RandomEffectsResult",
    "METHODS",
    "TESTS",
]
