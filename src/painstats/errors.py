"""Exceptions and warnings raised by painstats.

A small hierarchy: every error painstats raises on purpose derives from
:class:`PainstatsError`; bad input raises :class:`ValidationError` (a
``ValueError``) or :class:`InputTypeError` (a ``TypeError``); an iterative
estimator that fails to converge raises :class:`ConvergenceError`.
"""

from __future__ import annotations

__all__ = [
    "PainstatsError",
    "ValidationError",
    "InputTypeError",
    "ConvergenceError",
    "PainstatsWarning",
]


class PainstatsError(Exception):
    """Base class of every error painstats raises deliberately."""


class ValidationError(PainstatsError, ValueError):
    """An argument or a data value is not what the function expects.

    The message names the argument or column, the offending studies (label and
    row) and what was expected.
    """


class InputTypeError(PainstatsError, TypeError):
    """An argument has the wrong type (e.g. text where numbers are expected)."""


class ConvergenceError(PainstatsError, RuntimeError):
    """An iterative estimator did not converge; the message names the estimator."""


class PainstatsWarning(UserWarning):
    """A result was computed but deserves the user's attention."""
