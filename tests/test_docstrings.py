"""Every docstring example in the installed package runs and prints what it shows."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import painstats

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(painstats.__path__, prefix="painstats.")
    if m.name not in {"painstats.__main__"}
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def test_public_functions_have_examples():
    from painstats import meta

    missing = [n for n in meta.__all__ if callable(getattr(meta, n))
               and not isinstance(getattr(meta, n), type)
               and ">>>" not in (getattr(meta, n).__doc__ or "")]
    assert not missing, f"public functions without a runnable example: {missing}"
