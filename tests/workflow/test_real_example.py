"""The real-text example (presets/real-example.yaml) with small sizes: a local task in three scripts,
the tiny encoder pretrained on its training texts (pretrain.corpus: tasks), offline."""

import csv
import json
import shutil
import subprocess
import sys

import polars as pl
import pytest
import yaml

from conftest import ROOT, copy_workflow, snakemake

pytestmark = pytest.mark.workflow

PRESET = ("--configfile", "presets/real-example.yaml", "small.yaml")


@pytest.fixture(scope="module")
def real_study(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("real-example"))
    shutil.copytree(ROOT / "resources/datasets/iso-regions", workdir / "resources/datasets/iso-regions")
    task = yaml.safe_load((workdir / "presets/real-example.yaml").read_text())["tasks"][0]
    small = {
        "tasks": [{**task, "train_langs": ["de", "ru", "ja"], "zero_shot_langs": ["zh"], "train_per_lang": 64,
                   "test_per_lang": 16}],
        "runs": {"without": ["ru"]},
        "tokenizer": {"vocab_size": 1500},
        "pretrain": {"corpus": "tasks", "epochs": 1},
        "finetune": {"epochs": 2},
        "influence": {"test_per_lang": 8, "top_k": 20},
        "analysis": {"k": [10], "headline_k": 10, "bootstrap": 20},
    }  # fmt: skip
    (workdir / "small.yaml").write_text(yaml.safe_dump(small, allow_unicode=True))
    snakemake(workdir, "--cores", "2", *PRESET)
    return workdir


def pairs(table) -> set[tuple[str, str]]:
    return set(zip(table["lang"].to_list(), table["text"].to_list()))


def test_the_corpus_holds_the_train_texts_and_no_test_text(real_study):
    corpus = pl.read_parquet(real_study / "results/pretrain/corpus.parquet")
    train = pl.read_parquet(real_study / "results/regions/data/train.parquet").rename({"text_a": "text"})
    test = pl.read_parquet(real_study / "results/regions/data/test.parquet").rename({"text_a": "text"})
    assert pairs(train) <= pairs(corpus)
    assert not pairs(test) & pairs(corpus)
    assert set(corpus["lang"].unique().to_list()) == {"en", "de", "fr", "ru", "uk", "ja", "zh"}  # + corpus_files
    assert any("州" in text for text in train.filter(pl.col("lang") == "ja")["text"].to_list())


def test_no_unknown_tokens_on_the_test_split_in_any_script(real_study):
    with open(real_study / "results/regions/metrics/unknown_tokens.csv") as f:
        rates = {row["lang"]: row for row in csv.DictReader(f)}
    assert set(rates) == {"de", "ru", "ja", "zh"}
    assert all(float(row["unknown_rate"]) == 0.0 and int(row["tokens"]) > 0 for row in rates.values())
    log = (real_study / "logs/regions/unknown_tokens.log").read_text()
    assert "unknown-token rate zh: 0.0000" in log and "unknown-token rate ja: 0.0000" in log


def test_the_study_reports_every_language(real_study):
    entry = json.loads((real_study / "results/summary.json").read_text())["tasks"]["regions"]
    assert entry["chance"] == pytest.approx(0.25)
    assert set(entry["accuracy"]["joint"]) == {"de", "ru", "ja", "zh"}
    assert set(entry["crosslingual_share"]["joint"]) == {"de", "ru", "ja", "zh"}
    assert entry["planted_spearman"] is None
    assert not list((real_study / "results/regions/data").glob("planted*"))


def test_explain_shows_a_japanese_example(real_study):
    command = [sys.executable, "-m", "lingtrace.cli", "explain", "--task", "regions", "--lang", "ja", "--index", "0",
               "--json"]  # fmt: skip
    proc = subprocess.run(command, cwd=real_study, capture_output=True, text=True, check=True)
    out = json.loads(proc.stdout)
    assert out["example"]["lang"] == "ja" and len(out["proponents"]) == 5
    assert {row["lang"] for row in out["languages"]} == {"de", "ru", "ja"}
