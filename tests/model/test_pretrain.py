"""Masked-LM pretraining of the tiny encoder (lingtrace.model.pretrain): encode_documents encodes a
pair document with the pair template and a single text alone, in corpus order and truncated to
max_length; masked_lm_loss (the vocabulary head on masked tokens only) gives the loss and gradients of
XLMRobertaForMaskedLM's own loss over every position; build_tokenizer and a short pretrain_mlm run on
a tiny corpus write a loadable tokenizer and model (model.safetensors, pretrain.json with the step
count), and a tokenizer that does not load is an ArtifactError naming the folder."""

import json
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lingtrace.errors import ArtifactError
from lingtrace.model.pretrain import build_tokenizer, encode_documents, masked_lm_loss, pretrain_mlm

TEXTS = ["the cat sat on the mat", "a dog ran in the park", "the bird sang a song", "cats and dogs play"]


@pytest.fixture(scope="module")
def tokenizer():
    from lingtrace.model.tokenizer import train_tokenizer

    return train_tokenizer(TEXTS * 5, vocab_size=120, min_frequency=1)


def test_a_pair_document_is_encoded_as_a_pair_and_a_single_one_alone(tokenizer):
    corpus = pa.table({"text": ["the cat sat", "a dog ran", "the bird"], "text_b": [None, "in the park", None]})
    ids = encode_documents(tokenizer, corpus, max_length=32)
    assert ids[0] == tokenizer("the cat sat")["input_ids"]
    assert ids[1] == tokenizer("a dog ran", "in the park")["input_ids"]
    assert ids[2] == tokenizer("the bird")["input_ids"]
    sep = tokenizer.sep_token_id
    assert ids[0].count(sep) == 1 and ids[1].count(sep) == 3  # <s> A </s></s> B </s>
    assert ids[1][0] == tokenizer.cls_token_id and ids[1][-1] == sep


def test_a_corpus_without_text_b_is_all_single_texts_and_long_documents_are_truncated(tokenizer):
    long = " ".join(TEXTS * 4)
    ids = encode_documents(tokenizer, pa.table({"text": [long, "the cat"]}), max_length=10)
    assert len(ids[0]) == 10 and ids[0][-1] == tokenizer.sep_token_id
    assert ids[1] == tokenizer("the cat")["input_ids"]
    pair = encode_documents(tokenizer, pa.table({"text": [long], "text_b": [long]}), max_length=12)[0]
    assert len(pair) == 12 and pair.count(tokenizer.sep_token_id) == 3  # both texts kept, each cut


def test_masked_lm_loss_matches_the_models_own_loss_and_gradients(tokenizer):
    import torch
    from transformers import DataCollatorForLanguageModeling, XLMRobertaConfig, XLMRobertaForMaskedLM

    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                              intermediate_size=32, max_position_embeddings=40, pad_token_id=tokenizer.pad_token_id,
                              hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)  # fmt: skip
    model = XLMRobertaForMaskedLM(config).double()
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.3, seed=0, return_tensors="pt")
    batch = collator([{"input_ids": ids} for ids in tokenizer(TEXTS)["input_ids"]])
    assert 0 < (batch["labels"] != -100).sum() < batch["labels"].numel()  # some positions masked, not all

    def loss_and_grads(loss_fn):
        model.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]

    fast, fast_grads = loss_and_grads(lambda: masked_lm_loss(model, batch))
    full, full_grads = loss_and_grads(lambda: model(**batch).loss)
    torch.testing.assert_close(fast, full, rtol=1e-12, atol=0)
    assert len(fast_grads) == len(full_grads)
    for a, b in zip(fast_grads, full_grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-14)


def test_build_tokenizer_and_a_short_pretraining_run_write_a_loadable_model(tmp_path):
    import torch
    from transformers import AutoTokenizer, XLMRobertaForMaskedLM

    corpus = pa.table({"lang": ["en"] * 20, "text": [t + f" {i}" for i in range(5) for t in TEXTS],
                       "text_b": [None] * 19 + ["the cat and the dog"]})  # fmt: skip
    pq.write_table(corpus, tmp_path / "corpus.parquet")
    build_tokenizer(tmp_path / "corpus.parquet", tmp_path / "tok", {"vocab_size": 100, "min_frequency": 1})
    tok = AutoTokenizer.from_pretrained(tmp_path / "tok")
    assert len(tok) <= 100 and tok.mask_token_id is not None
    arch = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32}
    cfg = {"epochs": 2, "batch_size": 8, "max_length": 16, "learning_rate": 0.01, "warmup_ratio": 0.0}
    stats = pretrain_mlm(tmp_path / "corpus.parquet", tmp_path / "tok", tmp_path / "model", arch, cfg, threads=1)
    assert stats["steps"] == 2 * math.ceil(20 / 8) and stats["documents"] == 20
    assert math.isfinite(stats["final_loss"]) and stats["final_loss"] > 0
    assert (tmp_path / "model" / "model.safetensors").exists()
    assert json.loads((tmp_path / "model" / "pretrain.json").read_text()) == stats
    model = XLMRobertaForMaskedLM.from_pretrained(tmp_path / "model")
    assert model.config.hidden_size == 16 and model.config.num_hidden_layers == 1
    assert model.config.vocab_size >= len(tok)
    assert AutoTokenizer.from_pretrained(tmp_path / "model").get_vocab() == tok.get_vocab()
    # trained: it fills masked tokens of its corpus better than a freshly initialised model
    batch = tok(corpus["text"].to_pylist(), padding=True, return_tensors="pt")
    masked = torch.zeros_like(batch["input_ids"], dtype=torch.bool)
    masked[:, 1::4] = True
    masked &= batch["attention_mask"].bool() & (batch["input_ids"] != tok.sep_token_id)
    labels = torch.where(masked, batch["input_ids"], torch.full_like(batch["input_ids"], -100))
    inputs = {**batch, "input_ids": batch["input_ids"].masked_fill(masked, tok.mask_token_id), "labels": labels}
    torch.manual_seed(0)
    fresh = XLMRobertaForMaskedLM(model.config).eval()
    with torch.no_grad():
        assert model.eval()(**inputs).loss < fresh(**inputs).loss


def test_a_tokenizer_that_does_not_load_is_an_artifact_error(tmp_path):
    pq.write_table(pa.table({"text": TEXTS}), tmp_path / "corpus.parquet")
    (tmp_path / "tok").mkdir()
    with pytest.raises(ArtifactError, match="tok: the tokenizer does not load"):
        pretrain_mlm(tmp_path / "corpus.parquet", tmp_path / "tok", tmp_path / "model", cfg={"epochs": 1})
    assert not (tmp_path / "model").exists()
