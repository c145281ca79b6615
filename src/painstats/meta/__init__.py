"""Pairwise meta-analysis: effect sizes, random-effects models, meta-regression, subgroups."""

from painstats.meta.options import METHODS, TESTS
from painstats.meta.random_effects import random_effects
from painstats.meta.results import RandomEffectsResult
from painstats.meta.meta_regression import meta_regression
from painstats.meta.results_regression import MetaRegressionResult

__all__ = [
    "random_effects",
    "meta_regression",
    "MetaRegressionResult",
    "RandomEffectsResult",
    "METHODS",
    "TESTS",
]
