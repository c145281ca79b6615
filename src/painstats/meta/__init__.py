"""Pairwise meta-analysis: effect sizes, random-effects models, meta-regression, subgroups."""

from painstats.meta.options import METHODS, TESTS
from painstats.meta.random_effects import random_effects
from painstats.meta.results import RandomEffectsResult
from painstats.meta.meta_regression import meta_regression
from painstats.meta.results_regression import MetaRegressionResult
from painstats.meta.subgroups import SubgroupResult, subgroup_analysis
from painstats.meta.batch import BatchResult, random_effects_batch, random_effects_by

__all__ = [
    "random_effects",
    "meta_regression",
    "MetaRegressionResult",
    "subgroup_analysis",
    "SubgroupResult",
    "random_effects_batch",
    "random_effects_by",
    "BatchResult",
    "RandomEffectsResult",
    "METHODS",
    "TESTS",
]
