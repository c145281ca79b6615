"""Meta-analysis: effect sizes, random-effects models, meta-regression, subgroups, sensitivity
and publication-bias tools, and network / component network meta-analysis."""

from painstats.meta import conversions, network
from painstats.meta.batch import BatchResult, random_effects_batch, random_effects_by
from painstats.meta.bias import (
    EggerTestResult,
    PetPeeseResult,
    RankCorrelationResult,
    egger_test,
    pet_peese,
    rank_correlation_test,
)
from painstats.meta.conversions import (
    change_sd,
    ci_to_sd,
    correlation_from_sds,
    fivenum_to_mean_sd,
    se_to_sd,
)
from painstats.meta.effect_sizes import MEASURES, effect_size
from painstats.meta.fail_safe_n import FailSafeNResult, fail_safe_n
from painstats.meta.influence import baujat, cumulative, gosh, influence, leave_one_out
from painstats.meta.meta_regression import meta_regression
from painstats.meta.network import (
    ComponentNMAResult,
    NetworkMetaAnalysisResult,
    component_network_meta_analysis,
    network_meta_analysis,
    node_split,
    p_scores,
    rank_treatments,
)
from painstats.meta.options import METHODS, TESTS
from painstats.meta.permutation import PermutationTestResult, permutation_test
from painstats.meta.random_effects import random_effects
from painstats.meta.results import RandomEffectsResult
from painstats.meta.results_regression import MetaRegressionResult
from painstats.meta.subgroups import SubgroupResult, subgroup_analysis
from painstats.meta.trim_and_fill import TrimAndFillResult, trim_and_fill

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
    "leave_one_out",
    "influence",
    "cumulative",
    "baujat",
    "gosh",
    "egger_test",
    "rank_correlation_test",
    "pet_peese",
    "fail_safe_n",
    "trim_and_fill",
    "EggerTestResult",
    "RankCorrelationResult",
    "PetPeeseResult",
    "FailSafeNResult",
    "TrimAndFillResult",
    "permutation_test",
    "PermutationTestResult",
    "network",
    "network_meta_analysis",
    "component_network_meta_analysis",
    "node_split",
    "rank_treatments",
    "p_scores",
    "NetworkMetaAnalysisResult",
    "ComponentNMAResult",
    "RandomEffectsResult",
    "METHODS",
    "TESTS",
]
