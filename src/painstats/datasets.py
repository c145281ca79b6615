"""Bundled real datasets, each with its provenance.

Every dataset is a CSV file exported value-for-value from a public R package (summary
statistics of published trials) plus a JSON sidecar that records the primary publication to
cite, the R package it came from and that package's licence, the meaning, unit and type of
every column, known quirks, published results to reproduce, and the CSV's MD5 checksum.

Use the functions qualified, as ``painstats.datasets.list()``: inside this module ``list``
is the catalogue function, so ``from painstats.datasets import *`` would shadow the builtin.

The files live in ``painstats/data`` inside an installed wheel and in the repository's
top-level ``data/`` folder in a checkout or editable install; both are found automatically.

Examples
--------
>>> from painstats import datasets
>>> df = datasets.load("normand1999")
>>> df.shape
(9, 8)
>>> df.attrs["source"]["primary_source"][:9]
'Normand S'
>>> "normand1999" in set(datasets.list()["name"])
True
"""

from __future__ import annotations

import builtins
import copy
import functools
import json
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import pandas as pd

from painstats.errors import InputTypeError, ValidationError

__all__ = ["load", "info", "list"]

_CATALOGUE_COLUMNS = ("name", "title", "primary_source", "licence", "n_rows")


def _data_dir() -> Traversable:
    """Folder holding the CSV files and their sidecars.

    An installed wheel ships them as ``painstats/data``; an editable install or a checkout
    keeps them in the repository's top-level ``data/`` folder, two levels above this file.
    """
    packaged = resources.files("painstats") / "data"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "data"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(  # packaging error, not bad user input
        f"painstats data folder not found: looked in {packaged} and {checkout}"
    )


@functools.cache
def _sidecars() -> dict[str, dict[str, Any]]:
    """Read every sidecar once; map dataset name to its (never handed out) sidecar dict."""
    found: dict[str, dict[str, Any]] = {}
    for entry in sorted(_data_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            meta = json.loads(entry.read_text(encoding="utf-8"))
            found[meta["name"]] = meta
    return dict(sorted(found.items()))


def _lookup(name: Any) -> dict[str, Any]:
    """Return the cached sidecar of ``name``, raising a clear error for unknown names."""
    available = sorted(_sidecars())
    if not isinstance(name, str):
        raise InputTypeError(
            f"name must be a string, one of {available}; got {type(name).__name__} {name!r}"
        )
    key = name.strip().lower()
    if key not in _sidecars():
        raise ValidationError(f"name must be one of {available}; got {name!r}")
    return _sidecars()[key]


def info(name: str) -> dict[str, Any]:
    """Describe a bundled dataset: its sidecar, with provenance, columns and quirks.

    Parameters
    ----------
    name : str
        Dataset name, one of ``list()["name"]`` (case-insensitive).

    Returns
    -------
    dict
        A fresh copy of the sidecar with keys ``name``, ``title``, ``file``,
        ``primary_source`` (the publication to cite first), ``other_references``,
        ``secondary_source`` (R package, dataset, version and URL it was exported from),
        ``licence`` (that package's licence), ``good_for``, ``n_rows``, ``columns``
        (column name -> ``description``, ``unit``, ``type``), ``quirks`` (list of str),
        ``published_results`` (list of dicts: ``what``, ``method``, ``values``,
        ``reference``, optional ``note``) and ``md5`` (checksum of the CSV). Changing it
        does not change what later calls return.

    Raises
    ------
    InputTypeError
        If ``name`` is not a string.
    ValidationError
        If ``name`` is not a bundled dataset; the message lists the available names.

    Examples
    --------
    >>> from painstats import datasets
    >>> meta = datasets.info("rubinstein2019")
    >>> meta["secondary_source"]["package"], meta["n_rows"]
    ('pimeta', 23)
    >>> meta["columns"]["mean_smt"]["unit"]
    'points on a 0-100 pain scale'
    """
    return copy.deepcopy(_lookup(name))


def load(name: str) -> pd.DataFrame:
    """Load a bundled dataset as a new DataFrame, with its provenance attached.

    The CSV is read afresh on every call, so changing the returned frame never affects a
    later ``load``. Columns keep pandas' default types: integer columns with empty cells
    (e.g. ``n3`` of two-arm studies in wide-format network data) load as ``float64``, and
    empty text cells load as missing values.

    Parameters
    ----------
    name : str
        Dataset name, one of ``list()["name"]`` (case-insensitive).

    Returns
    -------
    pandas.DataFrame
        One row per line of the CSV, columns as documented in ``info(name)["columns"]``.
        ``df.attrs["source"]`` holds a copy of the sidecar (see :func:`info`): cite
        ``df.attrs["source"]["primary_source"]`` and read ``["quirks"]`` before analysing.

    Raises
    ------
    InputTypeError
        If ``name`` is not a string.
    ValidationError
        If ``name`` is not a bundled dataset; the message lists the available names.

    See Also
    --------
    info : the sidecar alone.
    list : one row per bundled dataset.

    Examples
    --------
    >>> from painstats import datasets
    >>> df = datasets.load("rubinstein2019")
    >>> df.shape
    (23, 8)
    >>> df.columns[:3].tolist()
    ['id', 'study', 'mean_smt']
    >>> df.attrs["source"]["licence"]
    'GPL-3: licence of the pimeta R package'
    """
    meta = _lookup(name)
    with (_data_dir() / meta["file"]).open("rb") as fh:
        frame = pd.read_csv(fh)
    frame.attrs["source"] = copy.deepcopy(meta)
    return frame


def list() -> pd.DataFrame:  # noqa: A001 - public name asked for; shadows builtin here only
    """List the bundled datasets.

    Returns
    -------
    pandas.DataFrame
        One row per dataset, sorted by name, with columns ``name``, ``title``,
        ``primary_source``, ``licence`` and ``n_rows``.

    See Also
    --------
    info : everything known about one dataset.

    Examples
    --------
    >>> from painstats import datasets
    >>> catalogue = datasets.list()
    >>> catalogue.columns.tolist()
    ['name', 'title', 'primary_source', 'licence', 'n_rows']
    >>> int(catalogue.set_index("name").loc["lawlor2001", "n_rows"])
    10
    """
    rows = builtins.list(_sidecars().values())
    records = [{key: meta[key] for key in _CATALOGUE_COLUMNS} for meta in rows]
    return pd.DataFrame.from_records(records, columns=builtins.list(_CATALOGUE_COLUMNS))
