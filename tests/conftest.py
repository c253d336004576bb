"""Shared fixtures: a tiny babel world, its data, and a tiny fine-tuned XLM-R with checkpoints.

Everything is small enough to build in seconds on CPU and is cached per test session.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

WORLD = {
    "seed": 3,
    "order_weight": 0.2,
    "inventory": {"entities": 8, "verbs": 4, "adjectives": 12, "aspects": 3},
    "languages": [
        {"code": "ala", "family": "alpha", "script": "latin", "order": "SVO", "overlap": 0.8, "loan": 0.1},
        {"code": "alb", "family": "alpha", "script": "latin", "order": "SVO", "overlap": 0.6, "loan": 0.1},
        {"code": "bea", "family": "beta", "script": "cyrillic", "order": "SOV", "overlap": 0.7, "loan": 0.1},
    ],
    "corpus_sentences_per_lang": 200,
}

TASK = {
    "name": "nli",
    "source": "synthetic",
    "shape": "nli",
    "num_labels": 3,
    "parallel": True,
    "train_langs": ["ala", "bea"],
    "zero_shot_langs": ["alb"],
    "test_langs": ["ala", "bea", "alb"],
    "train_per_lang": 24,
    "test_per_lang": 6,
    "boost_factor": 2,
    "knobs": {},
}

ARCH = {"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 32, "dropout": 0.1}
FINETUNE = {
    "epochs": 2,
    "batch_size": 8,
    "eval_batch_size": 32,
    "learning_rate": 0.005,
    "weight_decay": 0.01,
    "warmup_ratio": 0.1,
    "scheduler": "linear",
    "max_grad_norm": 1.0,
    "max_length": 48,
}


def checkpoint_dirs(run_dir, epochs: int) -> list:
    """The checkpoint folder of each epoch under ``run_dir``, as the workflow lays them out."""
    return [run_dir / "checkpoints" / f"epoch-{epoch}" for epoch in range(1, epochs + 1)]


@pytest.fixture(scope="session")
def world_cfg():
    return WORLD


@pytest.fixture(scope="session")
def task_cfg():
    return TASK


@pytest.fixture(scope="session")
def tiny_data():
    """(train, test) tables of the data contract for TASK."""
    from lingtrace.data.prepare import load_split

    return load_split(TASK, "train", WORLD), load_split(TASK, "test", WORLD)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A randomly initialised tiny XLM-R (save_pretrained) and a tokenizer trained on the world's corpus."""
    import torch
    from transformers import XLMRobertaForMaskedLM

    from lingtrace.data.sources.synthetic import generate_corpus
    from lingtrace.model.build import tiny_config
    from lingtrace.model.tokenizer import train_tokenizer

    out = tmp_path_factory.mktemp("tiny-model")
    texts = generate_corpus(WORLD)["text"].to_pylist()
    tokenizer = train_tokenizer(texts, vocab_size=300)
    torch.manual_seed(0)
    model = XLMRobertaForMaskedLM(tiny_config(ARCH, tokenizer, FINETUNE["max_length"]))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_model_dir, tiny_data):
    """A fine-tuned joint run: ``run_dir/checkpoints/epoch-{1,2}`` with trace.json each."""
    from lingtrace.finetuning.trainer import finetune

    run_dir = tmp_path_factory.mktemp("tiny-run")
    train, _ = tiny_data
    finetune(train, tiny_model_dir, checkpoint_dirs(run_dir, FINETUNE["epochs"]), FINETUNE,
             num_labels=TASK["num_labels"], seed=0)  # fmt: skip
    return run_dir


@pytest.fixture(scope="session")
def tiny_checkpoints(tiny_run):
    """Checkpoint directories of the tiny run, in epoch order."""
    return [tiny_run / "checkpoints" / f"epoch-{epoch}" for epoch in (1, 2)]
