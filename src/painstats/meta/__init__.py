"""Pairwise meta-analysis: effect sizes, random-effects models, meta-regression, subgroups."""

from painstats.meta import conversions
from painstats.meta.conversions import (
    change_sd,
    ci_to_sd,
    correlation_from_sds,
    fivenum_to_mean_sd,
    se_to_sd,
)
from painstats.meta.effect_sizes import MEASURES, effect_size
from painstats.meta.options import METHODS, TESTS
from painstats.meta.random_effects import random_effects
from painstats.meta.results import RandomEffectsResult
from painstats.meta.meta_regression import meta_regression
from painstats.meta.results_regression import MetaRegressionResult
from painstats.meta.subgroups import SubgroupResult, subgroup_analysis
from painstats.meta.batch import BatchResult, random_effects_batch, random_effects_by

__all__ = [
    "effect_size",
    "MEASURES",
    "conversions",
    "fivenum_to_mean_sd",
    "se_to_sd",
    "ci_to_sd",
    "change_sd",
    "correlation_from_sds",
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
