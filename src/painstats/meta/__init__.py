"""Pairwise meta-analysis: effect sizes, random-effects models, meta-regression, subgroups."""

__all__: list[str] = []
