"""Closed-form fits of many subsets of one set of studies (GOSH), for FE and DL models.

For the common-effect and DerSimonian-Laird models every quantity of a subset is a function of
a few weighted sums over its studies, so a whole batch of subsets reduces to one matrix product
``masks @ [w, w y, w y^2, w^2]`` plus, for DL, one pass for the random-effects weights. This
is the same arithmetic as :func:`painstats.meta._kernels.fit.fit_rma` (tests assert equality),
specialised because GOSH evaluates up to millions of subsets.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["SubsetFits", "fe_dl_subsets"]


class SubsetFits(NamedTuple):
    estimate: np.ndarray
    tau2: np.ndarray
    q: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    k: np.ndarray


def fe_dl_subsets(y: np.ndarray, v: np.ndarray, masks: np.ndarray, method: str) -> SubsetFits:
    """Fit the FE or DL model to each row of ``masks`` (n, k) of the studies (y, v)."""
    m = masks.astype(float)
    w = 1.0 / v
    sums = m @ np.column_stack([w, w * y, w * y * y, w * w, np.ones_like(w)])
    sw, swy, swyy, sww, k = sums.T
    with np.errstate(divide="ignore", invalid="ignore"):
        est = swy / sw
        q = np.maximum(swyy - swy * est, 0.0)
        df = k - 1.0
        trp = sw - sww / sw
        single = df <= 0
        if method == "FE":
            tau2 = np.zeros_like(q)
            i2 = np.maximum(0.0, 100.0 * (q - df) / q)
            h2 = q / df
        else:
            tau2 = np.where(single, 0.0, np.maximum(0.0, (q - df) / trp))
            s2 = df / trp
            i2 = 100.0 * tau2 / (tau2 + s2)
            h2 = tau2 / s2 + 1.0
            wr = m / (v[None, :] + tau2[:, None])
            est = (wr @ y) / wr.sum(axis=1)
    i2 = np.where(single | ~np.isfinite(i2), 0.0, i2)
    h2 = np.where(single, 1.0, h2)
    tau2 = np.where(single, 0.0, tau2)
    q = np.where(single, 0.0, q)
    return SubsetFits(est, tau2, q, i2, h2, k.astype(int))
