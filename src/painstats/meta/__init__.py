"""Meta-analysis: effect sizes, random-effects models, meta-regression, subgroups, sensitivity
and publication-bias tools, and network / component network meta-analysis."""

from painstats.meta import conversions, network, priors
from painstats.meta.batch import BatchResult, random_effects_batch, random_effects_by
from painstats.meta.bayesian import bayesian_random_effects
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
    BayesianNetworkResult,
    ComponentNMAResult,
    NetworkMetaAnalysisResult,
    bayesian_network_meta_analysis,
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
from painstats.meta.results_bayes import BayesianRandomEffectsResult
from painstats.meta.results_regression import MetaRegressionResult
from painstats.meta.selection_model import SelectionModelResult, selection_model
from painstats.meta.subgroups import SubgroupResult, subgroup_analysis
from painstats.meta.trim_and_fill import TrimAndFillResult, trim_and_fill

__all__ = [
    "MEASURES",
    "METHODS",
    "TESTS",
    "BatchResult",
    "BayesianNetworkResult",
    "BayesianRandomEffectsResult",
    "ComponentNMAResult",
    "EggerTestResult",
    "FailSafeNResult",
    "MetaRegressionResult",
    "NetworkMetaAnalysisResult",
    "PermutationTestResult",
    "PetPeeseResult",
    "RandomEffectsResult",
    "RankCorrelationResult",
    "SelectionModelResult",
    "SubgroupResult",
    "TrimAndFillResult",
    "baujat",
    "bayesian_network_meta_analysis",
    "bayesian_random_effects",
    "change_sd",
    "ci_to_sd",
    "component_network_meta_analysis",
    "conversions",
    "correlation_from_sds",
    "cumulative",
    "effect_size",
    "egger_test",
    "fail_safe_n",
    "fivenum_to_mean_sd",
    "gosh",
    "influence",
    "leave_one_out",
    "meta_regression",
    "network",
    "network_meta_analysis",
    "node_split",
    "p_scores",
    "permutation_test",
    "pet_peese",
    "priors",
    "random_effects",
    "random_effects_batch",
    "random_effects_by",
    "rank_correlation_test",
    "rank_treatments",
    "se_to_sd",
    "selection_model",
    "subgroup_analysis",
    "trim_and_fill",
]
