"""Network and component network meta-analysis (contrast-based; frequentist and Bayesian)."""

from painstats.meta.network.bayes_plots import plot_rankogram
from painstats.meta.network.bayes_results import BayesianNetworkResult
from painstats.meta.network.bayesian import (
    BAYES_SAMPLERS,
    PARAMETRIZATIONS,
    TAU_PRIORS,
    bayesian_network_meta_analysis,
)
from painstats.meta.network.component import (
    ComponentEstimates,
    ComponentNMAResult,
    component_network_meta_analysis,
)
from painstats.meta.network.data import NetworkData, arms_from_wide
from painstats.meta.network.inconsistency import (
    DesignDecomposition,
    NodeSplitResult,
    SplitEstimates,
    node_split,
)
from painstats.meta.network.nma import network_meta_analysis
from painstats.meta.network.options import NETWORK_MEASURES, NMA_METHODS, SPLIT_METHODS
from painstats.meta.network.plots import plot_forest, plot_network
from painstats.meta.network.ranking import RankingResult, p_scores, rank_treatments
from painstats.meta.network.results import NetworkEstimates, NetworkMetaAnalysisResult

__all__ = [
    "BAYES_SAMPLERS",
    "NETWORK_MEASURES",
    "NMA_METHODS",
    "PARAMETRIZATIONS",
    "SPLIT_METHODS",
    "TAU_PRIORS",
    "BayesianNetworkResult",
    "ComponentEstimates",
    "ComponentNMAResult",
    "DesignDecomposition",
    "NetworkData",
    "NetworkEstimates",
    "NetworkMetaAnalysisResult",
    "NodeSplitResult",
    "RankingResult",
    "SplitEstimates",
    "arms_from_wide",
    "bayesian_network_meta_analysis",
    "component_network_meta_analysis",
    "network_meta_analysis",
    "node_split",
    "p_scores",
    "plot_forest",
    "plot_network",
    "plot_rankogram",
    "rank_treatments",
]
