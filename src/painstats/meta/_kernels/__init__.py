"""Array-only kernels of pairwise meta-analysis: batch-first NumPy, no pandas, no printing.

Every estimator takes arrays shaped ``(..., k)`` plus an optional boolean mask and returns
arrays shaped ``(...)``; a single meta-analysis is the batch of one.
"""

from painstats.meta._kernels.fit import RMAFit, fit_rma
from painstats.meta._kernels.qprofile import qprofile_tau2

__all__ = ["RMAFit", "fit_rma", "qprofile_tau2"]
