"""Sensitivity and influence: leave-one-out, influence diagnostics, cumulative analysis,
Baujat plot values and GOSH, all as batches of masked fits of the one random-effects kernel.

Leave-one-out is a batch of k masked problems, a cumulative analysis a batch of k nested
ones, GOSH a batch of up to 2^k - 1 subsets: never a Python loop over refits. Batches are
processed in chunks so memory stays O(chunk x k).

References
----------
Viechtbauer W, Cheung MWL (2010). Outlier and influence diagnostics for meta-analysis.
    Res Synth Methods 1:112-125.
Baujat B, Mahe C, Pignon JP, Hill C (2002). A graphical method for exploring heterogeneity in
    meta-analyses: application to a meta-analysis of 65 trials. Stat Med 21:2641-2652.
Olkin I, Dahabreh IJ, Trikalinos TA (2012). GOSH - a graphical display of study heterogeneity.
    Res Synth Methods 3:214-223.
Lau J, Schmid CH, Chalmers TC (1995). Cumulative meta-analysis of clinical trials builds
    evidence for exemplary medical care. J Clin Epidemiol 48:45-57.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import special

from painstats.errors import ValidationError
from painstats.meta._kernels.fit import RMAFit, fit_rma
from painstats.meta._kernels.subsets import fe_dl_subsets

if TYPE_CHECKING:
    from painstats.meta.results import RandomEffectsResult

__all__ = ["leave_one_out", "influence", "cumulative", "baujat", "gosh", "SUMMARY_COLUMNS"]

#: Columns of leave-one-out and cumulative tables (metafor leave1out / cumul).
SUMMARY_COLUMNS = ["estimate", "se", "statistic", "pvalue", "ci_low", "ci_high", "q", "q_pvalue",
                   "tau2", "i2", "h2"]
#: Elements per kernel chunk (rows x studies); bounds the memory of large batches.
CHUNK_ELEMENTS = 2_000_000
#: GOSH default: all subsets when there are at most this many, else a random sample of it.
GOSH_MAX_SUBSETS = 1_000_000


def _chunks(n: int, k: int) -> Iterator[slice]:
    step = max(1, CHUNK_ELEMENTS // max(k, 1))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def _masked_fits(res: RandomEffectsResult, masks: np.ndarray, y=None, v=None) -> RMAFit:
    """Fit every row of ``masks`` (n, k) with the model's settings; chunked, concatenated."""
    y = res.yi if y is None else y
    v = res.vi if v is None else v
    parts = [fit_rma(y, v, masks[sl], method=res.method, test=res.test, level=res.level)
             for sl in _chunks(masks.shape[0], masks.shape[1])]
    return RMAFit(*(np.concatenate([getattr(p, f) for p in parts]) for f in RMAFit._fields))


def _summary_frame(fit: RMAFit, index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame({
        "estimate": fit.beta[:, 0], "se": fit.se[:, 0], "statistic": fit.statistic[:, 0],
        "pvalue": fit.pvalue[:, 0], "ci_low": fit.ci_low[:, 0], "ci_high": fit.ci_high[:, 0],
        "q": fit.q, "q_pvalue": fit.q_pvalue, "tau2": fit.tau2, "i2": fit.i2, "h2": fit.h2,
    }, index=index)


def _need(res: RandomEffectsResult, k_min: int, what: str) -> None:
    if res.k < k_min:
        raise ValidationError(f"{what} needs at least {k_min} studies; this model has k={res.k}")


def leave_one_out(res: RandomEffectsResult) -> pd.DataFrame:
    """Refit the model leaving out each study in turn (metafor ``leave1out``).

    Returns a DataFrame indexed by the omitted study (input order) with columns
    ``estimate, se, statistic, pvalue, ci_low, ci_high, q, q_pvalue, tau2, i2, h2``; the
    refits use the model's method, test and level. With k = 2 each refit has one study:
    tau^2 = 0 and, as metafor, a z-interval even under HKSJ.

    Examples
    --------
    >>> from painstats.meta import random_effects
    >>> res = random_effects([0.1, 0.5, 0.3, 0.9], [0.05, 0.04, 0.06, 0.05], method="DL")
    >>> res.leave_one_out()["estimate"].round(3).tolist()
    [0.573, 0.436, 0.5, 0.316]
    """
    _need(res, 2, "leave-one-out analysis")
    fit = _masked_fits(res, ~np.eye(res.k, dtype=bool))
    return _summary_frame(fit, pd.Index(res.labels, name="omitted"))


def cumulative(res: RandomEffectsResult, order: Any = None) -> pd.DataFrame:
    """Cumulative meta-analysis: the model refitted on the first 1, 2, ..., k studies.

    Parameters
    ----------
    order : array_like, optional
        Sort key per study (e.g. publication year; ties keep input order), or None for the
        input order. The rows follow the cumulative order, indexed by the study added.

    Returns
    -------
    DataFrame with ``k`` and the columns of :func:`leave_one_out`. The first row is a
    single study (tau^2 = 0, Q = 0, I^2 = 0, H^2 = 1; a z-interval even under HKSJ).

    Examples
    --------
    >>> from painstats.meta import random_effects
    >>> res = random_effects([0.1, 0.5, 0.3], [0.05, 0.04, 0.06], method="DL")
    >>> res.cumulative()["k"].tolist()
    [1, 2, 3]
    """
    perm = np.arange(res.k)
    if order is not None:
        key = np.asarray(order)
        if key.shape != (res.k,):
            raise ValidationError(f"order must have one value per study ({res.k}); got shape {key.shape}")
        if key.dtype.kind in "f" and np.isnan(key).any():
            raise ValidationError("order has missing values")
        perm = np.argsort(key, kind="stable")
    masks = np.tri(res.k, dtype=bool)
    fit = _masked_fits(res, masks, y=res.yi[perm], v=res.vi[perm])
    out = _summary_frame(fit, pd.Index([res.labels[i] for i in perm], name="added"))
    out.insert(0, "k", np.arange(1, res.k + 1))
    return out


def influence(res: RandomEffectsResult) -> pd.DataFrame:
    """Case-deletion influence diagnostics (metafor ``influence``, Viechtbauer & Cheung 2010).

    Returns one row per study: ``rstudent`` (externally standardised residual), ``dffits``,
    ``cooks_d``, ``cov_ratio``, ``tau2_del`` and ``qe_del`` (tau^2 and Q without the
    study), ``hat`` (a proportion), ``weight`` (percent), ``dfbetas`` and ``influential``
    (metafor's rule: |DFFITS| > 3 sqrt(p/(k-p)), P(chi^2_1 < Cook's D) > 0.5,
    hat > 3p/k, or |DFBETAS| > 1).

    Examples
    --------
    >>> from painstats.meta import random_effects
    >>> res = random_effects([0.1, 0.5, 0.3, 0.9, 2.5], [0.05, 0.04, 0.06, 0.05, 0.05])
    >>> res.influence()["influential"].tolist()
    [False, False, False, False, True]
    """
    _need(res, 3, "influence()")
    y, v, k = res.yi, res.vi, res.k
    loo = _masked_fits(res, ~np.eye(k, dtype=bool))
    b_del, vb_del = loo.beta[:, 0], loo.vcov[:, 0, 0]
    tau2_del, s2w_del = loo.tau2, loo.s2w
    w = 1.0 / (v + res.tau2)
    hat = w / w.sum()
    resid = y - b_del
    resid = np.where(np.abs(resid) < 100 * np.finfo(float).eps, 0.0, resid)
    rstudent = resid / np.sqrt(v * s2w_del + vb_del + tau2_del * s2w_del)
    dffits = (res.estimate - b_del) / np.sqrt(s2w_del * hat * (tau2_del + v))
    # variance of the full-data estimate with tau^2 from the deletion fit (for DFBETAS)
    vb_full_del = 1.0 / np.sum(1.0 / (v[None, :] + tau2_del[:, None]), axis=1)
    dfbetas = (res.estimate - b_del) / np.sqrt(s2w_del * vb_full_del)
    vb = res.se**2
    cooks = (res.estimate - b_del) ** 2 / vb
    p = 1
    influential = ((np.abs(dffits) > 3 * np.sqrt(p / (k - p))) | (special.chdtr(1, cooks) > 0.5)
                   | (hat > 3 * p / k) | (np.abs(dfbetas) > 1))
    return pd.DataFrame({
        "rstudent": rstudent, "dffits": dffits, "cooks_d": cooks, "cov_ratio": vb_del / vb,
        "tau2_del": tau2_del, "qe_del": loo.q, "hat": hat, "weight": 100 * hat,
        "dfbetas": dfbetas, "influential": influential,
    }, index=pd.Index(res.labels, name="study"))


def baujat(res: RandomEffectsResult) -> pd.DataFrame:
    """Values of the Baujat plot (metafor ``baujat``).

    ``x``: each study's squared Pearson residual (y_i - mu)^2/(v_i + tau^2), its contribution
    to Q for the common-effect model; ``y``: its influence on the pooled estimate,
    (mu_(-i) - mu)^2 / Var(mu_(-i)).

    Examples
    --------
    >>> from painstats.meta import random_effects
    >>> res = random_effects([0.1, 0.5, 0.3, 0.9], [0.05, 0.04, 0.06, 0.05], method="FE")
    >>> bool(abs(res.baujat()["x"].sum() - res.q) < 1e-12)
    True
    """
    _need(res, 2, "baujat()")
    loo = _masked_fits(res, ~np.eye(res.k, dtype=bool))
    x = (res.yi - res.estimate) ** 2 / (res.tau2 + res.vi)
    y = (loo.beta[:, 0] - res.estimate) ** 2 / loo.vcov[:, 0, 0]
    return pd.DataFrame({"x": x, "y": y}, index=pd.Index(res.labels, name="study"))


def _subset_masks(k: int, codes: np.ndarray) -> np.ndarray:
    return ((codes[:, None] >> np.arange(k, dtype=np.int64)) & 1).astype(bool)


def gosh(res: RandomEffectsResult, max_subsets: int | None = None, random_seed: Any = None,
         progress: bool = True) -> pd.DataFrame:
    """Graphical display of study heterogeneity: the model fitted to subsets of the studies.

    All 2^k - 1 non-empty subsets when that is at most ``max_subsets`` (default 10^6, as
    metafor ``gosh``), else ``max_subsets`` random subsets (uniform over subsets; metafor
    draws the same distribution). Subsets are evaluated in batches by the one kernel.

    Returns
    -------
    DataFrame, one row per subset: ``estimate, i2, h2, tau2, q, k``, ``subset`` (the subset
    as an integer whose bit j is study j, for k <= 62) and one boolean column per study.
    Each subset is fitted with the model's method (I^2 and H^2 as that model defines them;
    metafor's ``gosh`` takes H^2 = Q/(k - 1) for DL fits even where tau^2 is truncated at
    0, so the two differ there and only there).

    Examples
    --------
    >>> from painstats.meta import random_effects
    >>> res = random_effects([0.1, 0.5, 0.3, 0.9], [0.05, 0.04, 0.06, 0.05], method="DL")
    >>> g = res.gosh(progress=False)
    >>> len(g), int(g["k"].max())
    (15, 4)
    """
    _need(res, 2, "gosh()")
    k = res.k
    limit = GOSH_MAX_SUBSETS if max_subsets is None else int(max_subsets)
    if limit < 1:
        raise ValidationError(f"max_subsets must be a positive integer; got {max_subsets!r}")
    total = 2.0**k - 1
    if total <= limit:
        codes = np.arange(1, 2**k, dtype=np.int64)
        masks_of = lambda sl: _subset_masks(k, codes[sl])  # noqa: E731
        n = codes.size
    else:
        rng = np.random.default_rng(random_seed)
        n = limit
        codes = None
        masks_all = np.zeros((n, k), bool)
        todo = np.arange(n)
        while todo.size:  # uniform over non-empty subsets: Bernoulli(1/2), reject empty
            draw = rng.random((todo.size, k)) < 0.5
            masks_all[todo] = draw
            todo = todo[~draw.any(axis=1)]
        masks_of = lambda sl: masks_all[sl]  # noqa: E731
    fits = []
    chunks = list(_chunks(n, k))
    for sl in _progress(chunks, progress and len(chunks) > 4, "GOSH"):
        if res.method in ("FE", "DL"):  # closed form: one matrix product per chunk
            f = fe_dl_subsets(res.yi, res.vi, masks_of(sl), res.method)
            fits.append((f.estimate, f.i2, f.h2, f.tau2, f.q, f.k))
            continue
        f = fit_rma(res.yi, res.vi, masks_of(sl), method=res.method, test="z", level=res.level)
        fits.append((f.beta[:, 0], f.i2, f.h2, f.tau2, f.q, f.k))
    cols = [np.concatenate(c) for c in zip(*fits)]
    out = pd.DataFrame({"estimate": cols[0], "i2": cols[1], "h2": cols[2], "tau2": cols[3],
                        "q": cols[4], "k": cols[5].astype(int)})
    masks = _subset_masks(k, codes) if codes is not None else masks_all
    if k <= 62:
        out["subset"] = masks @ (np.int64(1) << np.arange(k, dtype=np.int64))
    study = pd.DataFrame(masks, columns=[f"in_{lab}" for lab in res.labels])
    return pd.concat([out, study], axis=1)


def _progress(items: list, show: bool, desc: str):
    """Iterate with a tqdm progress bar when asked and tqdm is installed."""
    if not show:
        return items
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is optional
        return items
    return tqdm(items, desc=desc, unit="batch")
