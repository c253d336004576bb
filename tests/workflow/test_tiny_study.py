"""The tiny preset runs end to end, learns its task and gives the same numbers twice."""

import json

import polars as pl
import pytest

from conftest import TINY, snakemake

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


def test_metrics_cover_every_checkpoint_of_the_analysed_runs_and_the_last_of_the_others(tiny_study):
    metrics = pl.read_parquet(tiny_study / "results/review/metrics/accuracy.parquet")
    epochs = {run: sorted(group["checkpoint"].unique().to_list()) for (run,), group in metrics.group_by("run")}
    assert epochs["joint"] == epochs["without-bea"] == list(range(1, 9))  # influence.runs: every epoch
    assert epochs["without-ala"] == epochs["boost-ala"] == epochs["without-random"] == [8]
    assert sorted(metrics["seed"].unique().to_list()) == [0, 1]
    assert (tiny_study / "results/review/metrics/accuracy.csv").is_file()


def test_jobs_ran_in_the_warm_process(tiny_study):
    assert "ready on" in (tiny_study / "logs/warm.log").read_text()
    assert "imports 0.00 s" in (tiny_study / "logs/review/finetune/joint.log").read_text()


def test_nothing_left_to_do(tiny_study):
    dry = snakemake(tiny_study, "-n", "--cores", "2", *TINY)
    assert "Nothing to be done" in dry.stdout + dry.stderr


def test_report_and_figures(tiny_study):
    from matplotlib.image import imread

    snakemake(tiny_study, "--report", "report.html", *TINY)
    html = (tiny_study / "report.html").read_text()
    assert "influence_heatmaps" in html and "examples.html" in html
    for name in ("influence_heatmaps", "crosslingual_progression", "enrichment", "ablation"):
        assert imread(tiny_study / f"results/review/figures/{name}.png").shape[0] > 100
    page = (tiny_study / "results/review/examples.html").read_text()
    assert "proponents" in page and "opponents" in page and "ala" in page
    summary = (tiny_study / "results/summary.md").read_text()
    assert "Spearman" in summary and "top-50 proponents" in summary


def test_summary_contract_keys(tiny_study):
    entry = json.loads((tiny_study / "results/summary.json").read_text())["tasks"]["review"]
    assert {"chance", "accuracy", "crosslingual_share", "planted_spearman", "ablation"} <= set(entry)
    share = entry["crosslingual_share"]["joint"]
    assert set(share["ala"]) == {"all", "4", "8"}  # the influence checkpoints of the tiny preset
    assert all(0.0 <= v <= 1.0 for lang in share.values() for v in lang.values())
    assert share["alb"]["all"] == 1.0  # zero-shot: every proponent is from another language
    assert set(entry["ablation"]["delta"]["ala"]) == {"ala", "bea", "gaa"}
    assert isinstance(entry["ablation"]["spearman_vs_tracin"], float)
