"""Tests of painstats.datasets: shipped files, sidecars, loading and provenance."""

from __future__ import annotations

import doctest
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import painstats
from painstats import datasets
from painstats.errors import InputTypeError, ValidationError

DATA_DIR = Path(__file__).resolve().parents[1] / "data"

# Copy of /work/shared/datasets/MD5SUMS as delivered with the exported CSVs. These sums
# prove that the shipped files were not edited (not even re-saved) after export.
MD5SUMS = """\
0c7bca6329a77d98c966a4b8674a2a06  crippa2016_aripiprazole_dose_panss.csv
4c574a98c489ebc6a75fd3e060d07b75  franchini2012_parkinson_wide.csv
dea1cd68969efa6df60cd7306ee14673  haeuser2009_fms_antidepressants_all_outcomes.csv
fc272332ab10f19e32e9789ead6780e4  lawlor2001_exercise_depression.csv
5734e2fa99c1aa3ce0d32cfd3b68045d  mattioni2021_hiie_vs_mict_metabolic_meta.csv
e626c46e419a2991f22102170f7ccdce  mbnmadose_osteopain_womac_pain_2wk.csv
997e7a3274e59a15b500be944ae43d8a  mbnmatime_hyalarthritis_vas_pain_timecourse.csv
8435bfff39f2d7821bad23546769b7c3  morris2008_pretest_posttest_control.csv
868b290654a287860dd4362483667578  normand1999_stroke_los.csv
6eedf0c471ee333caa3b09d15211119d  rubinstein2019_smt_vs_recommended_clbp_pain1m.csv
5d61f033609f47ded2cf86bc8d42c5b5  schwingshackl2014_training_modality_t2d_hba1c_wide.csv
129de7b4e062fc49f3b3f48766505d8d  stowe2010_parkinson_adjuvant_wide.csv
c87a6deeca7812b286b6525ae60ae367  tsd2_parkinsons_offtime_armlevel.csv
"""
KNOWN_MD5 = {
    fname: digest for digest, fname in (line.split() for line in MD5SUMS.splitlines())
}

# name -> (CSV file, rows, columns); written out by hand so that a changed file, a renamed
# dataset or a dropped column fails here and not in a user's notebook.
EXPECTED = {
    "crippa2016": ("crippa2016_aripiprazole_dose_panss.csv", 18,
                   ["id", "author", "dose", "y", "sd", "n"]),
    "franchini2012": ("franchini2012_parkinson_wide.csv", 7,
                      ["Study", "Treatment1", "y1", "sd1", "n1", "Treatment2", "y2", "sd2",
                       "n2", "Treatment3", "y3", "sd3", "n3"]),
    "haeuser2009": ("haeuser2009_fms_antidepressants_all_outcomes.csv", 71,
                    ["study", "ref", "year", "country", "female", "white", "mage", "duration",
                     "med", "jadad", "vantulder", "tgrp", "cgrp", "outcome", "type", "nti",
                     "mti", "sdti", "nci", "mci", "sdci"]),
    "hyalarthritis": ("mbnmatime_hyalarthritis_vas_pain_timecourse.csv", 150,
                      ["studyID", "time", "treatment", "n", "y", "se"]),
    "lawlor2001": ("lawlor2001_exercise_depression.csv", 10,
                   ["study", "smd", "varsmd", "sesmd", "abstract", "duration", "itt", "alloc",
                    "phd"]),
    "mattioni2021": ("mattioni2021_hiie_vs_mict_metabolic_meta.csv", 391,
                     ["study", "endpoint", "population", "age", "category_age", "duration",
                      "category_duration", "men_ratio", "category_men_ratio", "type_exercise",
                      "bsln", "bsln_adjusted", "category_bsln", "N_HIIE", "Mean_HIIE",
                      "SD_HIIE", "N_MICT", "Mean_MICT", "SD_MICT", "HIIE", "desired_effect"]),
    "morris2008": ("morris2008_pretest_posttest_control.csv", 10,
                   ["study", "group", "m_pre", "m_post", "sd_pre", "sd_post", "ni", "ri"]),
    "normand1999": ("normand1999_stroke_los.csv", 9,
                    ["study", "source", "n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i"]),
    "osteopain": ("mbnmadose_osteopain_womac_pain_2wk.csv", 74,
                  ["studyID", "agent", "dose", "class", "y", "se", "n"]),
    "rubinstein2019": ("rubinstein2019_smt_vs_recommended_clbp_pain1m.csv", 23,
                       ["id", "study", "mean_smt", "sd_smt", "n_smt", "mean_ctrl", "sd_ctrl",
                        "n_ctrl"]),
    "schwingshackl2014": ("schwingshackl2014_training_modality_t2d_hba1c_wide.csv", 14,
                          ["study", "t1", "t2", "t3", "y1", "y2", "y3", "sd1", "sd2", "sd3",
                           "missing1", "missing2", "missing3", "n1", "n2", "n3"]),
    "stowe2010": ("stowe2010_parkinson_adjuvant_wide.csv", 29,
                  ["study", "id", "t1", "y1", "sd1", "n1", "t2", "y2", "sd2", "n2", "t3", "y3",
                   "sd3", "n3"]),
    "tsd2_parkinsons": ("tsd2_parkinsons_offtime_armlevel.csv", 15,
                        ["studyn", "trtn", "y", "se", "n", "diff", "se_diff", "treatment"]),
}
NAMES = sorted(EXPECTED)

SIDECAR_KEYS = {
    "name", "title", "file", "primary_source", "other_references", "secondary_source",
    "licence", "good_for", "n_rows", "columns", "quirks", "published_results", "md5",
}
COLUMN_TYPES = {"integer", "number", "string"}


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _sidecar_files() -> list[Path]:
    return sorted(DATA_DIR.glob("*.json"))


# --- the shipped files -----------------------------------------------------------------


def test_md5sums_cover_every_shipped_csv():
    shipped = {p.name for p in DATA_DIR.glob("*.csv")}
    assert shipped == set(KNOWN_MD5)


@pytest.mark.parametrize("fname", sorted(KNOWN_MD5))
def test_shipped_csv_is_byte_identical_to_export(fname):
    assert _md5(DATA_DIR / fname) == KNOWN_MD5[fname]


def test_one_sidecar_per_csv_named_after_it():
    assert {p.stem for p in _sidecar_files()} == {Path(f).stem for f in KNOWN_MD5}
    for path in _sidecar_files():
        assert json.loads(path.read_text(encoding="utf-8"))["file"] == path.stem + ".csv"


# --- sidecars --------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_sidecar_has_required_keys_and_matches_its_csv(name):
    meta = datasets.info(name)
    fname, n_rows, columns = EXPECTED[name]
    assert set(meta) == SIDECAR_KEYS
    assert meta["name"] == name
    assert meta["file"] == fname
    assert meta["md5"] == KNOWN_MD5[fname]
    assert meta["n_rows"] == n_rows
    with (DATA_DIR / fname).open(encoding="utf-8") as fh:
        header = fh.readline().strip().replace('"', "").split(",")
    assert list(meta["columns"]) == header == columns


@pytest.mark.parametrize("name", NAMES)
def test_sidecar_fields_are_filled_in(name):
    meta = datasets.info(name)
    for key in ("title", "primary_source", "licence", "good_for"):
        assert isinstance(meta[key], str) and meta[key].strip(), key
    source = meta["secondary_source"]
    assert source["package"] and source["dataset"] and source["url"]
    # a version is given, or the sidecar says why not
    assert source.get("version") or source.get("version_note")
    assert meta["quirks"] and all(isinstance(q, str) and q for q in meta["quirks"])
    assert isinstance(meta["other_references"], list)
    for result in meta["published_results"]:
        assert {"what", "method", "values", "reference"} <= set(result)
    for column, spec in meta["columns"].items():
        assert set(spec) == {"description", "unit", "type"}, column
        assert spec["description"], column
        assert spec["type"] in COLUMN_TYPES, column


def test_sidecar_names_are_unique_and_listed():
    names = [json.loads(p.read_text(encoding="utf-8"))["name"] for p in _sidecar_files()]
    assert sorted(names) == NAMES


# --- load ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_load_gives_documented_rows_and_columns(name):
    df = datasets.load(name)
    _, n_rows, columns = EXPECTED[name]
    assert isinstance(df, pd.DataFrame)
    assert df.shape == (n_rows, len(columns))
    assert df.columns.tolist() == columns


@pytest.mark.parametrize("name", NAMES)
def test_loaded_columns_have_documented_types(name):
    df = datasets.load(name)
    for column, spec in df.attrs["source"]["columns"].items():
        values = df[column]
        present = values.dropna()
        if spec["type"] == "string":
            assert pd.api.types.is_string_dtype(values), column
        else:
            assert pd.api.types.is_numeric_dtype(values), column
        if spec["type"] == "integer":
            assert np.array_equal(present, np.round(present)), column


@pytest.mark.parametrize("name", NAMES)
def test_load_attaches_the_sidecar_as_source(name):
    df = datasets.load(name)
    assert df.attrs["source"] == datasets.info(name)
    assert df.attrs["source"]["primary_source"] == datasets.info(name)["primary_source"]


def test_load_is_case_insensitive_and_strips_spaces():
    expected = datasets.load("normand1999")
    pd.testing.assert_frame_equal(datasets.load(" Normand1999 "), expected)


def test_loading_twice_gives_independent_frames():
    first = datasets.load("rubinstein2019")
    first.loc[0, "mean_smt"] = -999.0
    first["extra"] = 1
    first.attrs["source"]["title"] = "changed"
    first.attrs["source"]["columns"]["id"]["unit"] = "changed"
    second = datasets.load("rubinstein2019")
    assert second.loc[0, "mean_smt"] == 39
    assert "extra" not in second.columns
    assert second.attrs["source"]["title"] != "changed"
    assert second.attrs["source"]["columns"]["id"]["unit"] is None
    assert datasets.info("rubinstein2019")["title"] != "changed"


def test_info_returns_a_copy():
    meta = datasets.info("morris2008")
    meta["quirks"].clear()
    meta["name"] = "changed"
    assert datasets.info("morris2008")["quirks"]
    assert datasets.info("morris2008")["name"] == "morris2008"


def test_known_values_of_a_loaded_dataset():
    # first row of normand1999 as exported (Edinburgh): checks the parsing, not the file
    row = datasets.load("normand1999").iloc[0]
    assert row["source"] == "Edinburgh"
    assert (row["n1i"], row["m1i"], row["sd1i"]) == (155, 55, 47)
    assert (row["n2i"], row["m2i"], row["sd2i"]) == (156, 75, 64)


def test_wide_network_data_read_empty_arms_as_missing():
    stowe = datasets.load("stowe2010")
    assert stowe["t3"].notna().sum() == 1
    assert stowe.loc[stowe["t3"].notna(), "study"].tolist() == ["LARGO"]
    assert stowe["n3"].isna().sum() == 28


# --- unknown names ---------------------------------------------------------------------


@pytest.mark.parametrize("func", [datasets.load, datasets.info])
def test_unknown_name_raises_and_lists_available_names(func):
    with pytest.raises(ValidationError, match=r"name must be one of \[.*'normand1999'.*\]; "
                       r"got 'normand'"):
        func("normand")


def test_unknown_name_error_is_a_value_error():
    with pytest.raises(ValueError, match="rubinstein2019"):
        datasets.load("no_such_dataset")


@pytest.mark.parametrize("func", [datasets.load, datasets.info])
def test_non_string_name_raises_type_error(func):
    with pytest.raises(InputTypeError, match=r"name must be a string, one of \[.*\]; got int 3"):
        func(3)


# --- list ------------------------------------------------------------------------------


def test_list_has_one_row_per_dataset():
    catalogue = datasets.list()
    assert catalogue.columns.tolist() == ["name", "title", "primary_source", "licence",
                                          "n_rows"]
    assert catalogue["name"].tolist() == NAMES
    for row in catalogue.itertuples():
        meta = datasets.info(row.name)
        assert row.title == meta["title"]
        assert row.primary_source == meta["primary_source"]
        assert row.licence == meta["licence"]
        assert row.n_rows == EXPECTED[row.name][1]


# --- locating the data -----------------------------------------------------------------


def test_data_found_from_checkout_when_package_has_no_data_folder():
    # In an editable install painstats/ has no data/ subfolder: the repository's data/ is used.
    packaged = Path(painstats.__file__).parent / "data"
    if packaged.is_dir():
        pytest.skip("running from an installed wheel")
    assert Path(str(datasets._data_dir())).resolve() == DATA_DIR


def test_missing_data_folder_raises(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets.resources, "files", lambda _pkg: tmp_path / "pkg")
    monkeypatch.setattr(datasets, "__file__", str(tmp_path / "a" / "b" / "datasets.py"))
    with pytest.raises(FileNotFoundError, match="painstats data folder not found"):
        datasets._data_dir()


# --- documentation ---------------------------------------------------------------------


def test_docstring_examples_run():
    result = doctest.testmod(datasets, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
