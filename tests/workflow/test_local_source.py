"""The tiny study on local files and a local model directory, with no network."""

import json
import os

import polars as pl
import pytest
import yaml

from conftest import TINY, copy_workflow, snakemake

pytestmark = pytest.mark.workflow


def write_fixture(folder):
    """Per-language JSON Lines files (MARC-like columns) and a random tiny XLM-R with its tokenizer."""
    import torch
    from transformers import XLMRobertaForSequenceClassification

    from lingtrace.data.prepare import load_split
    from lingtrace.data.sources.synthetic import generate_corpus
    from lingtrace.model.build import tiny_config
    from lingtrace.model.tokenizer import train_tokenizer

    world = yaml.safe_load((folder / "presets/tiny.yaml").read_text())["world"]
    world = {"seed": 7, **world, "corpus_sentences_per_lang": 300}
    task = {"name": "review", "source": "synthetic", "shape": "review", "train_langs": ["ala", "bea", "alb"],
            "train_per_lang": 120, "test_per_lang": 20}  # fmt: skip
    files = {}
    for split in ("train", "test"):
        table = load_split(task, split, world)
        for lang in task["train_langs"]:
            path = folder / "local" / f"reviews_{lang}_{split}.jsonl"
            path.parent.mkdir(exist_ok=True)
            rows = [r for r in table.to_pylist() if r["lang"] == lang]
            path.write_text("".join(json.dumps({"review_id": r["uid"], "review_body": r["text_a"],
                                                "stars": r["label"] + 1}) + "\n" for r in rows))  # fmt: skip
            files.setdefault(split, {})[lang] = str(path)
    tokenizer = train_tokenizer(generate_corpus(world)["text"].to_pylist(), vocab_size=600)
    torch.manual_seed(0)
    config = tiny_config({"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                          "intermediate_size": 64}, tokenizer, 64)  # fmt: skip
    config.num_labels = 5
    XLMRobertaForSequenceClassification(config).save_pretrained(folder / "local/model")
    tokenizer.save_pretrained(folder / "local/model")
    return files


def test_tiny_study_on_local_files(tmp_path, monkeypatch):
    workdir = copy_workflow(tmp_path / "local-study")
    files = write_fixture(workdir)
    overlay = {
        "model": {"name_or_path": "local/model"},
        "study": {"seeds": [0]},
        "tasks": [{"name": "marc", "source": "local", "num_labels": 5, "parallel": False,
                   "train_langs": ["ala", "bea"], "zero_shot_langs": ["alb"], "train_per_lang": 100,
                   "test_per_lang": 20, "files": files, "format": "jsonl",
                   "columns": {"uid": "review_id", "text_a": "review_body", "label": "stars"},
                   "label_map": {str(s): s - 1 for s in range(1, 6)}}],
        "runs": {"without": ["bea"], "mono": [], "boost": [], "removal": True},
        "influence": {"runs": ["joint", "without-bea"], "seeds": 1},
        "removal": {"seeds": 1},
    }  # fmt: skip
    (workdir / "local.yaml").write_text(yaml.safe_dump(overlay))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    snakemake(workdir, "--cores", "2", *TINY, "--configfile", "presets/tiny.yaml", "local.yaml")
    train = pl.read_parquet(workdir / "results/marc/data/train.parquet")
    assert train.columns == ["uid", "item_id", "lang", "text_a", "text_b", "label"]
    assert train.group_by("lang").len().sort("lang")["len"].to_list() == [100, 100]
    assert not (workdir / "results/pretrain").exists()  # the local model is used as is
    summary = json.loads((workdir / "results/summary.json").read_text())["tasks"]["marc"]
    assert summary["chance"] == pytest.approx(0.2)
    removal = {"remove-tracin", *(f"remove-random-{d}" for d in range(1))}  # the tiny preset: one matched draw
    subsets = {f"subset-{i}" for i in range(4)}  # the tiny preset's LDS subsets
    assert set(summary["accuracy"]) == {"joint", "without-bea", "without-random"} | removal | subsets
    assert set(summary["removal_test"]) >= {"tracin_effect", "random_effect"}
    assert summary["ablation"]["delta"]["ala"]["bea"] == pytest.approx(
        summary["accuracy"]["without-bea"]["ala"] - summary["accuracy"]["joint"]["ala"])
    assert summary["planted_spearman"] is None and "crosslingual_share" in summary
    assert (workdir / "results/marc/figures/influence_heatmaps.png").is_file()
    assert os.environ["HF_HUB_OFFLINE"] == "1"
