"""Plots of a network meta-analysis read result fields only; matplotlib is imported lazily."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from _network_fixture import fit_case, load_fixture

from painstats.meta.network import plot_forest, plot_network


@pytest.fixture(scope="module")
def fit():
    return fit_case(load_fixture()["cases"]["franchini2012"], "REML")


def test_importing_network_does_not_import_matplotlib():
    code = ("import sys, painstats.meta.network; "
            "sys.exit(1 if 'matplotlib' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_network_graph(fit):
    ax = plot_network(fit)
    nodes = ax.collections[0]
    assert len(nodes.get_offsets()) == 5
    sizes = nodes.get_sizes()
    people = fit.data.participants()
    assert np.argmax(sizes) == np.argmax(people)  # node area by participants
    widths = [line.get_linewidth() for line in ax.lines]
    assert len(widths) == 6  # six compared pairs
    assert max(widths) == pytest.approx(8.0)  # the pair with most studies
    assert {t.get_text() for t in ax.texts} == set(fit.treatments)
    plt.close("all")


def test_network_graph_without_sample_sizes():
    res = fit_case(load_fixture()["cases"]["tsd2_parkinsons"], "FE")
    fig, ax = plt.subplots()
    out = res.plot_network(ax=ax, max_node_size=500)
    assert out is ax
    plt.close(fig)


def test_forest(fit):
    ax = plot_forest(fit, reference="Placebo")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["Bromocriptine", "Cabergoline", "Pramipexole", "Ropinirole"]
    assert ax.get_xlabel() == "MD vs Placebo"
    common = fit.plot_forest(model="common", prediction=False, xlabel="off-time")
    assert common.get_xlabel() == "off-time"
    plt.close("all")
