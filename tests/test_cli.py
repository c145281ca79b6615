"""The painstats command, end to end in a subprocess, including errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from painstats import datasets
from painstats.meta import effect_size, random_effects


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "painstats", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120, check=False)


PNG = b"\x89PNG\r\n\x1a\n"
ARM_OPTIONS = ["--measure", "MD", "--mean1", "mean_smt", "--sd1", "sd_smt", "--n1", "n_smt",
               "--mean2", "mean_ctrl", "--sd2", "sd_ctrl", "--n2", "n_ctrl", "--slab", "study"]


def test_demo_prints_the_published_rubinstein_result(tmp_path):
    out = run("demo", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Random-Effects Model (k = 23; tau^2 estimator: DL)" in out.stdout
    assert "-3.1700" in out.stdout and "-7.8461" in out.stdout and "1.5060" in out.stdout
    plot = tmp_path / "rubinstein2019_forest.png"
    assert plot.read_bytes()[:8] == PNG
    assert "Forest plot written to rubinstein2019_forest.png" in out.stdout


def test_demo_forest_path_layout_and_none(tmp_path):
    out = run("demo", "--forest", str(tmp_path / "f.svg"), "--layout", "revman", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "<svg" in (tmp_path / "f.svg").read_text()
    out = run("demo", "--forest", "", cwd=tmp_path)
    assert out.returncode == 0 and "Forest plot" not in out.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.svg"]


def test_datasets_lists_sources():
    out = run("datasets")
    assert out.returncode == 0, out.stderr
    assert "rubinstein2019" in out.stdout and "normand1999" in out.stdout


@pytest.fixture()
def csv(tmp_path):
    df = datasets.load("rubinstein2019")
    path = tmp_path / "trials.csv"
    df.to_csv(path, index=False)
    return path, df


def test_meta_from_arm_columns_writes_json_equal_to_api(csv, tmp_path):
    path, df = csv
    out_json = tmp_path / "out.json"
    out = run("meta", str(path), "--measure", "MD", "--mean1", "mean_smt", "--sd1", "sd_smt",
              "--n1", "n_smt", "--mean2", "mean_ctrl", "--sd2", "sd_ctrl", "--n2", "n_ctrl",
              "--method", "REML", "--test", "knha", "--slab", "study", "--json", str(out_json))
    assert out.returncode == 0, out.stderr
    numbers = json.loads(out_json.read_text())
    es = effect_size("MD", data=df, mean1="mean_smt", sd1="sd_smt", n1="n_smt",
                     mean2="mean_ctrl", sd2="sd_ctrl", n2="n_ctrl")
    res = random_effects("yi", "vi", data=es, method="REML", test="knha")
    assert numbers["estimate"] == pytest.approx(res.estimate, rel=1e-12)
    assert numbers["tau2"] == pytest.approx(res.tau2, rel=1e-12)
    assert numbers["studies"][0]["label"] == "Bronfort 2011"
    assert len(numbers["studies"]) == 23


def test_meta_with_yi_vi_and_subgroups(tmp_path):
    path = tmp_path / "es.csv"
    pd.DataFrame({"yi": [0.1, 0.3, 0.2, 0.5, 0.4], "vi": [0.01, 0.02, 0.03, 0.02, 0.01],
                  "g": ["a", "a", "b", "b", "b"]}).to_csv(path, index=False)
    out = run("meta", str(path), "--by", "g", "--method", "DL")
    assert out.returncode == 0, out.stderr
    assert "Test for Subgroup Differences" in out.stdout


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("", [], "the file is empty"),
        ("yi,vi\n", [], "has a header but no rows"),
        ("yi,vi\n0.1,0.01\n0.2,abc\n", [], "column 'vi' row 2 is not a number: 'abc'"),
        ("effect,vi\n0.1,0.01\n0.2,0.02\n", [], "--yi column 'yi' not found"),
        ("yi,vi\n0.1,0.01\n0.2,-0.02\n", [], "vi must be positive and finite; study '2' (row 2)"),
        ("m1,s1\n1,2\n", ["--measure", "SMD", "--mean1", "m1", "--sd1", "s1"], "needs the options"),
        ("yi,vi\n0.1,0.01\n", ["--measure", "XYZ"], "--measure must be one of"),
    ],
)
def test_errors_are_one_line_with_exit_status_2(tmp_path, content, args, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    out = run("meta", str(path), *args)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert str(path) in out.stderr


def test_missing_file():
    out = run("meta", "/nonexistent/trials.csv")
    assert out.returncode == 2 and "no such file" in out.stderr


def test_meta_writes_forest_and_funnel_in_each_format(csv, tmp_path):
    path, _ = csv
    out = run("meta", str(path), *ARM_OPTIONS, "--forest", str(tmp_path / "forest.pdf"),
              "--funnel", str(tmp_path / "funnel.png"), "--layout", "jama", "--dpi", "72",
              "--favours", "manipulation", "other therapies", "--order", "estimate",
              "--columns", "id")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "forest.pdf").read_bytes()[:4] == b"%PDF"
    assert (tmp_path / "funnel.png").read_bytes()[:8] == PNG


def test_meta_subgroup_forest_as_svg(tmp_path):
    path = tmp_path / "es.csv"
    pd.DataFrame({"yi": [0.1, 0.3, 0.2, 0.5, 0.4, 0.35], "vi": [0.01, 0.02, 0.03, 0.02, 0.01, 0.02],
                  "g": ["a", "a", "b", "b", "b", "a"], "name": list("uvwxyz")}).to_csv(path, index=False)
    out = run("meta", str(path), "--by", "g", "--slab", "name", "--forest", str(tmp_path / "f.svg"))
    assert out.returncode == 0, out.stderr
    assert "<svg" in (tmp_path / "f.svg").read_text()


def test_report_end_to_end(csv, tmp_path):
    path, _ = csv
    html = tmp_path / "report.html"
    out = run("report", str(path), *ARM_OPTIONS, "--method", "DL", "-o", str(html),
              "--title", "Manipulation for low back pain", "--favours", "SMT", "other")
    assert out.returncode == 0, out.stderr
    page = html.read_text(encoding="utf-8")
    assert "Manipulation for low back pain" in page and "data:image/png;base64," in page
    assert '<section id="funnel">' in page and str(path) in page
    assert f"Report written to {html}" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--forest", "{tmp}/plot.jpg"], "{tmp}/plot.jpg: the plot file must end in .png, .svg, .pdf"),
        (["--funnel", "{tmp}/no/such/dir/f.png"], "{tmp}/no/such/dir/f.png: cannot write the plot"),
        (["--json", "{tmp}/no/such/dir/x.json"], "{tmp}/no/such/dir/x.json: cannot write"),
        (["--by", "arm"], "--by column 'arm' not found"),
        (["--columns", "year"], "--columns column 'year' not found"),
        (["--forest", "{tmp}/f.png", "--order", "year"], "order must be 'estimate'"),
    ],
)
def test_output_and_plot_errors_are_one_line(csv, tmp_path, args, message):
    path, _ = csv
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    out = run("meta", str(path), *ARM_OPTIONS, *args)
    assert out.returncode == 2, out.stdout
    assert message.replace("{tmp}", str(tmp_path)) in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_report_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("yi,vi\n0.1,0.01\n0.2,abc\n")
    out = run("report", str(bad), "-o", str(tmp_path / "r.html"))
    assert out.returncode == 2 and "column 'vi' row 2 is not a number" in out.stderr
    assert not (tmp_path / "r.html").exists()
    good = tmp_path / "good.csv"
    good.write_text("yi,vi\n0.1,0.01\n0.2,0.02\n0.4,0.03\n")
    out = run("report", str(good), "-o", str(tmp_path / "missing" / "r.html"))
    assert out.returncode == 2
    assert f"{tmp_path / 'missing' / 'r.html'}: cannot write the report" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
