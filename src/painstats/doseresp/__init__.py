"""Bayesian dose-response meta-analysis of exercise for pain (to come)."""

__all__: list[str] = []
