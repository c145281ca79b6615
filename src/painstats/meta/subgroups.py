"""Subgroup analysis: a random-effects model per subgroup and the test of differences."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from painstats._validation import check_level
from painstats.errors import InputTypeError, ValidationError
from painstats.meta._inputs import StudyData, check_data_frame, read_studies
from painstats.meta._kernels.fit import RMAFit, fit_rma
from painstats.meta._summary import Summary, fmt, p_eq, table
from painstats.meta.batch import pad_groups
from painstats.meta.options import resolve_method, resolve_test
from painstats.meta.random_effects import build_result
from painstats.meta.results import RandomEffectsResult

__all__ = ["SubgroupResult", "subgroup_analysis"]

GROUP_COLUMNS = ["k", "estimate", "se", "pvalue", "ci_low", "ci_high", "pi_low", "pi_high",
                 "tau2", "i2", "q", "q_pvalue"]


@dataclass(frozen=True, slots=True)
class SubgroupResult:
    """Separate random-effects models per subgroup, and the test for subgroup differences."""

    by: str
    groups: pd.DataFrame  #: indexed by group label (sorted); k, estimate, se, ci, tau2, i2, ...
    q_between: float  #: Wald-type test of equal subgroup means (common-effect, on the estimates)
    q_between_df: int
    q_between_pvalue: float
    models: dict[str, RandomEffectsResult] = field(repr=False)
    overall: RandomEffectsResult = field(repr=False)
    method: str = "REML"
    test: str = "z"

    def plot_forest(self, **kwargs):
        """Forest plot with subgroup headers and subtotals (:func:`painstats.plots.forest`)."""
        from painstats import plots

        return plots.forest(self, **kwargs)

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per subgroup and one for all studies."""
        rows = [[str(g), r.estimate, r.se, r.statistic, r.df, r.pvalue, r.ci_low, r.ci_high]
                for g, r in self.models.items()]
        o = self.overall
        rows.append(["overall", o.estimate, o.se, o.statistic, o.df, o.pvalue, o.ci_low, o.ci_high])
        return pd.DataFrame(rows, columns=["term", "estimate", "se", "statistic", "df", "p_value",
                                           "ci_low", "ci_high"])

    def summary(self) -> Summary:
        """Per-subgroup table and the test for subgroup differences."""
        g = self.groups
        header = ["k", "estimate", "se", "ci.lb", "ci.ub", "tau^2", "I^2"]
        rows = [[str(int(r.k)), fmt(r.estimate), fmt(r.se), fmt(r.ci_low), fmt(r.ci_high),
                 fmt(r.tau2), f"{r.i2:.2f}%"] for r in g.itertuples()]
        lines = [f"Subgroup analysis by {self.by} (random-effects per subgroup; "
                 f"tau^2 estimator: {self.method})", "",
                 table(header, rows, index=[str(i) for i in g.index]), "",
                 "Test for Subgroup Differences:",
                 f"QM(df = {self.q_between_df}) = {fmt(self.q_between)}, "
                 f"p-val {p_eq(self.q_between_pvalue)}"]
        return Summary("\n".join(lines))

    def __str__(self) -> str:
        return str(self.summary())


def _take(fit: RMAFit, i: int, n: int) -> RMAFit:
    """Row ``i`` of a batch fit, its per-study arrays cut to the ``n`` real studies."""
    parts = [a[i] for a in fit]
    row = RMAFit(*parts)
    return row._replace(weights=row.weights[:n])


def _group_studies(studies: StudyData, sel: np.ndarray) -> StudyData:
    labels = tuple(lab for lab, s in zip(studies.labels, sel) if s)
    return StudyData(studies.yi[sel], studies.vi[sel], labels, sel, 0)


def subgroup_analysis(
    *,
    data: pd.DataFrame,
    by: str,
    yi: Any = "yi",
    vi: Any = "vi",
    slab: Any = None,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    missing: str = "raise",
) -> SubgroupResult:
    """Fit a separate random-effects model in each subgroup and test their difference.

    The test for subgroup differences is metafor's recipe: a common-effect Wald test of the
    subgroup estimates (with their standard errors), ``Q_between = sum w_g (mu_g - mu_w)^2``
    with G - 1 df. A subgroup with a single study gets tau^2 = 0 (as metafor's k = 1 fit).

    Examples
    --------
    >>> import pandas as pd
    >>> from painstats.meta import subgroup_analysis
    >>> df = pd.DataFrame({"setting": ["clinic"] * 3 + ["home"] * 3,
    ...                    "yi": [-0.6, -0.4, -0.5, -0.1, -0.2, 0.0], "vi": [0.02] * 6})
    >>> sg = subgroup_analysis(data=df, by="setting", method="DL")
    >>> round(sg.q_between, 3), sg.q_between_df
    (12.0, 1)
    """
    method = resolve_method(method)
    test = resolve_test(test)
    level = check_level(level)
    data = check_data_frame(data)
    if data is None:
        raise InputTypeError("subgroup_analysis needs data=DataFrame")
    if by not in data.columns:
        raise ValidationError(f"by={by!r} is not a column of data; columns are {list(data.columns)}")
    studies = read_studies(yi, vi, data=data, slab=slab, missing=missing,
                           extra={by: np.where(data[by].isna().to_numpy(), np.nan, 0.0)})
    labels, codes = np.unique(data[by].to_numpy()[studies.keep].astype(str), return_inverse=True)
    if labels.size < 2:
        raise ValidationError(f"subgroup analysis needs at least 2 subgroups in {by}; "
                              f"found {labels.tolist()}")
    mask, (y, v) = pad_groups(codes, labels.size, studies.yi, studies.vi)
    fit = fit_rma(y, v, mask, method=method, test=test, level=level)
    models = {}
    for g, lab in enumerate(labels):
        sel = codes == g
        models[str(lab)] = build_result(_take(fit, g, int(sel.sum())),
                                        _group_studies(studies, sel), method, test, level)
    groups = pd.DataFrame([[getattr(r, c) for c in GROUP_COLUMNS] for r in models.values()],
                          columns=GROUP_COLUMNS, index=pd.Index(list(models), name=by))
    w = 1.0 / groups["se"].to_numpy() ** 2
    est = groups["estimate"].to_numpy()
    pooled = np.sum(w * est) / np.sum(w)
    qb = float(np.sum(w * (est - pooled) ** 2))
    overall_fit = fit_rma(studies.yi, studies.vi, method=method, test=test, level=level)
    return SubgroupResult(
        by=by, groups=groups, q_between=qb, q_between_df=labels.size - 1,
        q_between_pvalue=float(special.chdtrc(labels.size - 1, qb)), models=models,
        overall=build_result(overall_fit, studies, method, test, level), method=method, test=test,
    )
