"""Allowed option values, shared by the code, its validation, the docs and the tests.

Every metafor spelling is accepted (case-insensitive) so an R call can be ported line by line.
"""

from __future__ import annotations

from painstats._validation import resolve_option

__all__ = ["METHODS", "TESTS", "METHOD_ALIASES", "TEST_ALIASES", "resolve_method", "resolve_test"]

#: Canonical tau^2 estimators: common effect and the eight of metafor's rma.uni used here.
METHODS = ("FE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM")

METHOD_ALIASES = {
    "FE": "FE",
    "EE": "FE",
    "CE": "FE",
    "COMMON": "FE",
    "FIXED": "FE",
    "DL": "DL",
    "DERSIMONIAN-LAIRD": "DL",
    "HE": "HE",
    "HEDGES": "HE",
    "HS": "HS",
    "HUNTER-SCHMIDT": "HS",
    "SJ": "SJ",
    "SIDIK-JONKMAN": "SJ",
    "ML": "ML",
    "REML": "REML",
    "EB": "EB",
    "PM": "PM",
    "PAULE-MANDEL": "PM",
}

#: Canonical tests of the coefficients: normal, t(k - p), Hartung-Knapp-Sidik-Jonkman.
TESTS = ("z", "t", "hksj")

TEST_ALIASES = {
    "Z": "z",
    "T": "t",
    "HKSJ": "hksj",
    "KNHA": "hksj",
    "HK": "hksj",
    "HARTUNG-KNAPP": "hksj",
}


def resolve_method(method: str) -> str:
    """Canonical estimator name for any accepted spelling (``"EE"`` -> ``"FE"``)."""
    return resolve_option("method", method, METHOD_ALIASES)


def resolve_test(test: str) -> str:
    """Canonical test name for any accepted spelling (``"knha"`` -> ``"hksj"``)."""
    return resolve_option("test", test, TEST_ALIASES)
