"""The HTML report: sections, embedded images, 'not available' notes, headless Chromium."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from painstats import datasets
from painstats.meta import RandomEffectsResult, effect_size, random_effects, subgroup_analysis
from painstats.report import html_report, write_report

ARMS = {"mean1": "mean_smt", "sd1": "sd_smt", "n1": "n_smt", "mean2": "mean_ctrl",
        "sd2": "sd_ctrl", "n2": "n_ctrl"}
SECTIONS = ["summary", "forest", "funnel", "bias", "loo", "influence", "baujat"]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def rubinstein():
    es = effect_size("MD", data=datasets.load("rubinstein2019"), **ARMS)
    return es, random_effects("yi", "vi", data=es, slab="study", method="DL")


@pytest.fixture(scope="module")
def page(rubinstein):
    es, res = rubinstein
    return html_report(res, data=es, arms=ARMS, favours=("manipulation", "other"),
                       source="rubinstein2019.csv", title="SMT for chronic low back pain")


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def test_report_has_every_section_and_valid_images(page, rubinstein):
    _, res = rubinstein
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for anchor in SECTIONS:
        assert f'<section id="{anchor}">' in page and f'href="#{anchor}"' in page
    images = _images(page)
    assert len(images) >= 2 and all(img[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    assert "SMT for chronic low back pain" in page and "rubinstein2019.csv" in page
    assert f"{res.estimate:.4f}" in page and f"{res.tau2:.4f}" in page
    assert "http://" not in page and "https://" not in page  # self-contained


def test_report_runs_the_available_diagnostics(page, rubinstein):
    _, res = rubinstein
    for name, section in [("leave_one_out", "loo"), ("influence", "influence"),
                          ("baujat", "baujat")]:
        body = page.split(f'<section id="{section}">')[1].split("</section>")[0]
        if hasattr(res, name):
            assert "not available" not in body
        else:
            assert "not available" in body
    bias = page.split('<section id="bias">')[1].split("</section>")[0]
    assert bias.count("<h3>") + bias.count('class="na"') == 3


def test_missing_functions_are_reported_as_not_available(monkeypatch, rubinstein):
    _, res = rubinstein
    for name in ("leave_one_out", "influence", "baujat"):
        if hasattr(RandomEffectsResult, name):
            monkeypatch.delattr(RandomEffectsResult, name)
    monkeypatch.setitem(sys.modules, "painstats.meta.bias", None)
    monkeypatch.setitem(sys.modules, "painstats.meta.trim_and_fill", None)
    page = html_report(res)
    assert page.count('class="na"') >= 6
    assert "Leave-one-out analysis: not available (not provided by this version" in page
    assert "Egger&#x27;s regression test: not available" in page
    assert len(_images(page)) == 2  # forest and funnel are still there


def test_too_few_studies_are_explained_not_fatal():
    res = random_effects([0.1, 0.3], [0.02, 0.03])
    page = html_report(res)
    assert "not available" in page
    assert len(_images(page)) >= 2


def test_subgroup_report():
    d = datasets.load("haeuser2009")
    d = d[d["outcome"] == "pain"].reset_index(drop=True)
    es = effect_size("SMD", data=d, mean1="mti", sd1="sdti", n1="nti", mean2="mci",
                     sd2="sdci", n2="nci")
    sg = subgroup_analysis(data=es, by="med", slab="study")
    page = html_report(sg, data=es, layout="revman")
    assert "Subgroup analysis by med" in page
    assert len(_images(page)) >= 2


def test_write_report(tmp_path, rubinstein):
    _, res = rubinstein
    out = write_report(tmp_path / "r.html", res, title="T")
    assert out.read_text(encoding="utf-8").count("<section") == len(SECTIONS)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed")
def test_report_renders_in_headless_chromium(tmp_path, rubinstein):
    es, res = rubinstein
    report = write_report(tmp_path / "report.html", res, data=es, arms=ARMS)
    shot = tmp_path / "shot.png"
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", f"--screenshot={shot}",
             "--window-size=1280,4000", report.as_uri()],
            capture_output=True, text=True, timeout=180, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    img = plt.imread(shot)
    assert img.shape[:2] == (4000, 1280)
    gray = img[..., :3].mean(axis=2)
    dark_rows = np.flatnonzero((gray < 0.5).any(axis=1))
    assert dark_rows.size > 1000, "the page rendered (almost) blank"
    assert dark_rows.max() > 2000, "the images did not load (page too short)"
