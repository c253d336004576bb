"""`lingtrace explain` on the tiny study: what it prints is what the study's tables hold, in their order."""

import json
import subprocess
import sys

import polars as pl
import pytest

from lingtrace.report.explain import explain

pytestmark = pytest.mark.workflow


def tables(study):
    influence = study / "results/review/joint/seed-0/influence"
    return (pl.read_parquet(influence / "topk.parquet"), pl.read_parquet(influence / "lang_scores.parquet"),
            pl.read_parquet(study / "results/review/data/train.parquet"))  # fmt: skip


@pytest.mark.parametrize("variant, checkpoint", [("cosine", "all"), ("dot", "8")])
def test_explain_equals_the_tables(tiny_study, variant, checkpoint):
    topk, lang_scores, train = tables(tiny_study)
    test = pl.read_parquet(tiny_study / "results/review/data/test.parquet")
    e = explain(tiny_study / "results", "review", lang="bea", index=2, variant=variant, k=7, checkpoint=checkpoint)
    scored = sorted(set(topk.filter(pl.col("test_lang") == "bea")["test_uid"].to_list()))
    uid = scored[2]
    assert e["example"]["uid"] == uid and e["seed"] == 0
    assert e["example"]["text_a"] == test.filter(pl.col("uid") == uid)["text_a"].item()
    texts = {r["uid"]: r for r in train.iter_rows(named=True)}
    chosen = (pl.col("variant") == variant) & (pl.col("checkpoint") == checkpoint)
    for direction, shown in (("proponent", e["proponents"]), ("opponent", e["opponents"])):
        expected = topk.filter(chosen & (pl.col("test_uid") == uid) & (pl.col("direction") == direction)
                               & (pl.col("rank") <= 7)).sort("rank")  # fmt: skip
        assert [(r["rank"], r["uid"], r["lang"], r["score"]) for r in shown] == list(
            zip(expected["rank"], expected["train_uid"], expected["train_lang"], expected["score"]))
        assert [(r["text_a"], r["label"]) for r in shown] == [
            (texts[u]["text_a"], texts[u]["label"]) for u in expected["train_uid"]]
    sums = lang_scores.filter(chosen & (pl.col("test_uid") == uid)).sort("train_lang")
    assert [(r["lang"], r["score_sum"], r["n_train"]) for r in e["languages"]] == list(
        zip(sums["train_lang"], sums["score_sum"], sums["n_train"]))
    predictions = pl.read_parquet(tiny_study / "results/review/metrics/predictions.parquet")
    row = predictions.filter((pl.col("run") == "joint") & (pl.col("seed") == 0) & (pl.col("uid") == uid)).row(
        0, named=True)
    assert (e["example"]["pred"], e["example"]["label"]) == (row["pred"], row["label"])


def test_the_command_prints_the_example_and_its_proponents(tiny_study):
    topk, _, train = tables(tiny_study)
    uid = topk.filter(pl.col("test_lang") == "alb")["test_uid"].min()  # a zero-shot language
    run = [sys.executable, "-m", "lingtrace.cli", "explain", "--task", "review", "--uid", uid]
    text = subprocess.run(run, cwd=tiny_study, capture_output=True, text=True, check=True).stdout
    first = topk.filter((pl.col("test_uid") == uid) & (pl.col("variant") == "cosine") & (pl.col("checkpoint") == "all")
                        & (pl.col("direction") == "proponent") & (pl.col("rank") == 1))["train_uid"].item()  # fmt: skip
    assert uid in text and "top 5 proponents" in text and train.filter(pl.col("uid") == first)["text_a"].item() in text
    as_json = json.loads(subprocess.run(run + ["--json", "--k", "3"], cwd=tiny_study, capture_output=True, text=True,
                                        check=True).stdout)  # fmt: skip
    assert as_json["proponents"][0]["uid"] == first and len(as_json["opponents"]) == 3
    missing = subprocess.run(run[:-1] + ["review-test-alb-999999"], cwd=tiny_study, capture_output=True, text=True)
    assert missing.returncode == 2 and "uid 'review-test-alb-999999' is not in" in missing.stderr
