"""Network and component network meta-analysis (frequentist, contrast-based)."""

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
    "NETWORK_MEASURES",
    "NMA_METHODS",
    "SPLIT_METHODS",
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
    "component_network_meta_analysis",
    "network_meta_analysis",
    "node_split",
    "p_scores",
    "plot_forest",
    "plot_network",
    "rank_treatments",
]
