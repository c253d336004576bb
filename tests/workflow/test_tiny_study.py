"""The tiny preset runs end to end, learns its task and gives the same numbers twice."""

import json

import polars as pl
import pytest

from conftest import TINY, copy_workflow, snakemake

pytestmark = pytest.mark.workflow


def test_summary_holds_chance_and_accuracy(tiny_study):
    summary = json.loads((tiny_study / "results/summary.json").read_text())
    entry = summary["tasks"]["review"]
    assert entry["chance"] == pytest.approx(0.2)
    joint = entry["accuracy"]["joint"]
    assert set(joint) == {"ala", "bea", "gaa", "alb"}
    assert all(joint[lang] >= entry["chance"] + 0.2 for lang in ("ala", "bea", "gaa"))
    assert entry["learns_task"] is True
    assert {"joint", "without-ala", "boost-ala"} <= set(entry["accuracy"])


def test_metrics_cover_every_checkpoint(tiny_study):
    metrics = pl.read_parquet(tiny_study / "results/review/metrics/accuracy.parquet")
    assert sorted(metrics["checkpoint"].unique().to_list()) == [1, 2, 3, 4]
    assert sorted(metrics["seed"].unique().to_list()) == [0, 1]
    assert (tiny_study / "results/review/metrics/accuracy.csv").is_file()


def test_nothing_left_to_do(tiny_study):
    dry = snakemake(tiny_study, "-n", "--cores", "2", *TINY)
    assert "Nothing to be done" in dry.stdout + dry.stderr


def test_second_run_gives_identical_tables(tiny_study, tmp_path):
    again = copy_workflow(tmp_path / "again")
    snakemake(again, "--cores", "2", *TINY)
    for table in ("results/review/metrics/accuracy.parquet",):
        first = pl.read_parquet(tiny_study / table)
        second = pl.read_parquet(again / table)
        assert first.equals(second), table
    assert (tiny_study / "results/summary.json").read_text() == (again / "results/summary.json").read_text()
