"""Masked-LM pretraining of the tiny encoder on its multilingual corpus (lingtrace.model.corpus).

XLM-R is pretrained on all of its languages before the paper fine-tunes it; this stage gives the tiny
model the same starting point: a multilingual encoder, not random weights.
"""

from __future__ import annotations

import logging
import math
import os

import pyarrow.parquet as pq

from lingtrace import settings
from lingtrace.batching import batch_indices
from lingtrace.device import adamw, resolve_device, setup_torch
from lingtrace.errors import ArtifactError
from lingtrace.io.atomic import atomic_dir, write_json
from lingtrace.loading import explained
from lingtrace.model.build import tiny_config
from lingtrace.model.corpus import corpus_texts
from lingtrace.model.tokenizer import load_tokenizer, train_tokenizer

log = logging.getLogger(__name__)


def build_tokenizer(corpus_path: str | os.PathLike, out_dir: str | os.PathLike, cfg=None) -> None:
    """Train the tokenizer (``tokenizer`` settings) on the corpus' texts; save it to ``out_dir``."""
    cfg = settings.load("tokenizer", cfg)
    texts = corpus_texts(pq.read_table(corpus_path))
    tokenizer = train_tokenizer(texts, vocab_size=cfg.vocab_size, min_frequency=cfg.min_frequency,
                                byte_fallback=bool(cfg.byte_fallback))  # fmt: skip
    with atomic_dir(out_dir) as tmp:
        tokenizer.save_pretrained(tmp)
    log.info("tokenizer: %d tokens (%d characters in the corpus; byte fallback %s), trained on %d sentences",
             len(tokenizer), len(set("".join(texts))), "on" if cfg.byte_fallback else "off", len(texts))  # fmt: skip


def encode_documents(tokenizer, corpus, max_length: int) -> list[list[int]]:
    """Token ids of every document in corpus order: a single text alone, a pair (text, text_b) with the
    pair template (<s> A </s></s> B </s>), as fine-tuning sees pair tasks."""
    texts = corpus["text"].to_pylist()
    seconds = corpus["text_b"].to_pylist() if "text_b" in corpus.column_names else [None] * len(texts)
    encoded: list[list[int] | None] = [None] * len(texts)
    for pairs in (False, True):
        rows = [i for i, second in enumerate(seconds) if (second is not None) == pairs]
        if not rows:
            continue
        args = ([texts[i] for i in rows], [seconds[i] for i in rows]) if pairs else ([texts[i] for i in rows],)
        ids = tokenizer(*args, truncation="longest_first" if pairs else True, max_length=max_length)["input_ids"]
        for i, row in zip(rows, ids):
            encoded[i] = row
    return encoded


def masked_lm_loss(model, batch):
    """``XLMRobertaForMaskedLM``'s loss (mean cross-entropy over the masked tokens) with the vocabulary
    head applied to the masked tokens only: the head's logits at every position are most of a tiny
    model's step, and unmasked positions do not enter the loss."""
    import torch.nn.functional as F

    hidden = model.roberta(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])[0]
    labels = batch["labels"]
    masked = labels != -100
    return F.cross_entropy(model.lm_head(hidden[masked]), labels[masked])


def pretrain_mlm(
    corpus_path: str | os.PathLike,
    tokenizer_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    arch=None,
    cfg=None,
    threads: int | None = None,
    device: str | None = None,
) -> dict:
    """Train ``XLMRobertaForMaskedLM`` from scratch (``model.arch`` and ``pretrain`` settings); save it
    (and the tokenizer) with save_pretrained."""
    arch = settings.load("model", {"arch": settings.as_dict(arch) or {}}).arch
    cfg = settings.load("pretrain", cfg)
    torch = setup_torch(threads, seed=cfg.seed)
    from transformers import DataCollatorForLanguageModeling, XLMRobertaForMaskedLM, get_scheduler

    device = resolve_device(device)
    with explained(f"{tokenizer_dir}: the tokenizer does not load", "Rerun the tokenizer job.", ArtifactError):
        tokenizer = load_tokenizer(tokenizer_dir)
    corpus = pq.read_table(corpus_path)
    max_length = cfg.max_length
    encoded = encode_documents(tokenizer, corpus, max_length)
    texts = corpus["text"]
    model = XLMRobertaForMaskedLM(tiny_config(arch, tokenizer, max_length)).to(device)
    collator = DataCollatorForLanguageModeling(
        tokenizer, mlm_probability=cfg.mlm_probability, seed=cfg.seed, return_tensors="pt"
    )
    steps_per_epoch = math.ceil(len(encoded) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    optimizer = adamw(model, cfg.learning_rate, cfg.weight_decay)
    scheduler = get_scheduler("linear", optimizer, int(cfg.warmup_ratio * total), total)
    generator = torch.Generator().manual_seed(cfg.seed)
    model.train()
    step, losses = 0, []
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(encoded), generator=generator).tolist()
        for idx in batch_indices(len(order), cfg.batch_size):
            batch = collator([{"input_ids": encoded[order[i]]} for i in idx])
            batch = {k: v.to(device) for k, v in batch.items()}
            loss = masked_lm_loss(model, batch)
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            losses.append(loss.item())
            if step % 100 == 0 or step == total:
                log.info("pretrain step %d/%d loss %.3f", step, total, sum(losses[-100:]) / len(losses[-100:]))
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        stats = {"steps": step, "final_loss": sum(losses[-50:]) / len(losses[-50:]), "documents": len(texts)}
        write_json(stats, os.path.join(tmp, "pretrain.json"))
    return stats
