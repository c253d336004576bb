"""Tokenising data-contract tables and cutting them into padded batches."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from lingtrace.errors import DataError


@dataclass
class Encoded:
    """A tokenised table: one list of token ids per example, in table order."""

    uids: list[str]
    langs: list[str]
    item_ids: list[str]
    labels: list[int]
    input_ids: list[list[int]]

    def __len__(self) -> int:
        return len(self.uids)

    def subset(self, indices) -> Encoded:
        pick = list(indices)
        return Encoded(
            [self.uids[i] for i in pick],
            [self.langs[i] for i in pick],
            [self.item_ids[i] for i in pick],
            [self.labels[i] for i in pick],
            [self.input_ids[i] for i in pick],
        )


def encode(table: pa.Table, tokenizer, max_length: int, where: str = "data") -> Encoded:
    """Tokenise text_a (and text_b where present) with truncation; refuse text that gives no tokens."""
    rows = table.to_pylist()
    singles = [i for i, r in enumerate(rows) if r["text_b"] is None]
    pairs = [i for i, r in enumerate(rows) if r["text_b"] is not None]
    input_ids: list[list[int] | None] = [None] * len(rows)
    if singles:
        enc = tokenizer([rows[i]["text_a"] for i in singles], truncation=True, max_length=max_length)
        for i, ids in zip(singles, enc["input_ids"]):
            input_ids[i] = ids
    if pairs:
        enc = tokenizer(
            [rows[i]["text_a"] for i in pairs],
            [rows[i]["text_b"] for i in pairs],
            truncation="longest_first",
            max_length=max_length,
        )
        for i, ids in zip(pairs, enc["input_ids"]):
            input_ids[i] = ids
    for row, ids in zip(rows, input_ids):
        if not tokenizer.decode(ids, skip_special_tokens=True).strip():
            raise DataError(f"{where}: uid {row['uid']!r} tokenizes to nothing (only special or unknown tokens)")
    return Encoded(
        uids=[r["uid"] for r in rows],
        langs=[r["lang"] for r in rows],
        item_ids=[r["item_id"] for r in rows],
        labels=[int(r["label"]) for r in rows],
        input_ids=input_ids,  # type: ignore[arg-type]
    )


def collate(encoded: Encoded, indices, pad_id: int, device=None):
    """A batch dict padded to its longest example: input_ids, attention_mask, labels."""
    import torch

    seqs = [encoded.input_ids[i] for i in indices]
    width = max(len(s) for s in seqs)
    # padded in Python and converted once: one tensor per row costs more than the batch's arithmetic
    # on a small model
    ids = torch.tensor([list(s) + [pad_id] * (width - len(s)) for s in seqs], dtype=torch.long)
    mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs], dtype=torch.long)
    labels = torch.tensor([encoded.labels[i] for i in indices], dtype=torch.long)
    batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    if device is not None:
        batch = {k: v.to(device) for k, v in batch.items()}
    return batch


def batch_indices(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield list(range(start, min(start + batch_size, n)))


def length_sorted_batches(encoded: Encoded, batch_size: int):
    """Batches of indices grouped by sequence length (less padding, same results): for inference,
    where batch composition does not change any example's output. Callers put results back by index."""
    order = sorted(range(len(encoded)), key=lambda i: (len(encoded.input_ids[i]), i))
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]
