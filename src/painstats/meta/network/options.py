"""Allowed option values of network meta-analysis, shared by the code, the docs and the tests.

Every netmeta / metafor spelling is accepted (case-insensitive) so an R call ports line by line.
"""

from __future__ import annotations

from painstats._validation import resolve_option

__all__ = [
    "MODELS",
    "NETWORK_MEASURES",
    "NMA_METHODS",
    "NMA_METHOD_ALIASES",
    "SMALL_VALUES",
    "SMALL_VALUE_ALIASES",
    "SPLIT_METHODS",
    "SPLIT_METHOD_ALIASES",
    "resolve_model",
    "resolve_nma_method",
    "resolve_small_values",
    "resolve_split_method",
]

#: Heterogeneity estimators of the random-effects consistency model, and "FE" for the
#: common-effect model only. "DL" is the generalised DerSimonian-Laird estimator of netmeta.
NMA_METHODS = ("REML", "ML", "DL", "FE")

NMA_METHOD_ALIASES = {
    "REML": "REML",
    "ML": "ML",
    "DL": "DL",
    "DERSIMONIAN-LAIRD": "DL",
    "FE": "FE",
    "EE": "FE",
    "CE": "FE",
    "COMMON": "FE",
    "FIXED": "FE",
}

#: Effect measures for arm-level input (metafor escalc codes).
NETWORK_MEASURES = ("MD", "SMD", "ROM", "OR", "RR", "RD")

#: Node-splitting methods: netmeta's back-calculation and SIDDE.
SPLIT_METHODS = ("back-calculation", "sidde")

SPLIT_METHOD_ALIASES = {
    "BACK-CALCULATION": "back-calculation",
    "BACKCALCULATION": "back-calculation",
    "BACK_CALCULATION": "back-calculation",
    "SIDDE": "sidde",
    "NODE-SPLIT": "sidde",
}

#: Whether small effects are desirable (pain, off-time: "good") or not ("bad").
SMALL_VALUES = ("good", "bad")

SMALL_VALUE_ALIASES = {
    "GOOD": "good",
    "DESIRABLE": "good",
    "BAD": "bad",
    "UNDESIRABLE": "bad",
}

#: The two consistency models of a fit.
MODELS = ("common", "random")

_MODEL_ALIASES = {"COMMON": "common", "FIXED": "common", "FE": "common", "RANDOM": "random",
                  "RE": "random"}


def resolve_nma_method(method: str) -> str:
    """Canonical estimator name (``"EE"`` -> ``"FE"``)."""
    return resolve_option("method", method, NMA_METHOD_ALIASES)


def resolve_split_method(method: str) -> str:
    """Canonical node-splitting method name."""
    return resolve_option("method", method, SPLIT_METHOD_ALIASES)


def resolve_small_values(value: str) -> str:
    """Canonical ``small_values`` ("good" or "bad")."""
    return resolve_option("small_values", value, SMALL_VALUE_ALIASES)


def resolve_model(model: str) -> str:
    """Canonical model name ("common" or "random")."""
    return resolve_option("model", model, _MODEL_ALIASES)
