"""Tokenising and batching."""

import pytest

from lingtrace.batching import Encoded, collate, encode, length_sorted_batches
from lingtrace.errors import DataError
from lingtrace.io.data import to_table
from lingtrace.model.tokenizer import train_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(["rogu bek tal", "fodna lilari"] * 20, vocab_size=80)


def row(uid, a, b=None):
    return {"uid": uid, "item_id": uid, "lang": "x", "text_a": a, "text_b": b, "label": 0}


def test_text_that_tokenizes_to_nothing_is_named(tokenizer):
    table = to_table([row("ok", "rogu bek"), row("bad", "\u200b")])
    with pytest.raises(DataError, match=r"train.parquet: uid 'bad' tokenizes to nothing"):
        encode(table, tokenizer, 16, where="train.parquet")


def test_pairs_and_singles_keep_table_order(tokenizer):
    enc = encode(to_table([row("a", "rogu"), row("b", "bek", "tal"), row("c", "fodna lilari")]), tokenizer, 16)
    assert enc.uids == ["a", "b", "c"]
    assert enc.input_ids[1].count(tokenizer.sep_token_id) == 3  # <s> A </s></s> B </s>


def test_collate_pads_and_masks(tokenizer):
    enc = encode(to_table([row("a", "rogu"), row("b", "rogu bek tal fodna")]), tokenizer, 16)
    batch = collate(enc, [0, 1], tokenizer.pad_token_id)
    assert batch["input_ids"].shape[0] == 2
    assert batch["attention_mask"][0].sum() == len(enc.input_ids[0])
    assert (batch["input_ids"][0][len(enc.input_ids[0]):] == tokenizer.pad_token_id).all()


def test_length_sorted_batches_cover_every_example_once():
    enc = Encoded(list("abcde"), ["x"] * 5, list("abcde"), [0] * 5, [[0] * n for n in (5, 1, 3, 2, 4)])
    batches = list(length_sorted_batches(enc, 2))
    assert sorted(i for b in batches for i in b) == [0, 1, 2, 3, 4]
    assert batches[0] == [1, 3]  # the two shortest
