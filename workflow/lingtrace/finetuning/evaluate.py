"""Per-language test accuracy and loss of every checkpoint of every run."""

from __future__ import annotations

import logging
import os

import polars as pl
import pyarrow as pa

from lingtrace.batching import collate, encode, length_sorted_batches
from lingtrace.device import resolve_device, setup_torch
from lingtrace.io.checkpoints import load_checkpoint

log = logging.getLogger(__name__)

METRICS_SCHEMA = pa.schema(
    [
        ("run", pa.string()),
        ("seed", pa.int64()),
        ("checkpoint", pa.int64()),
        ("lang", pa.string()),
        ("n", pa.int64()),
        ("accuracy", pa.float64()),
        ("loss", pa.float64()),
    ]
)


def predict(model, tokenizer, test: pa.Table, max_length: int, batch_size: int, device):
    """Per-example (loss, predicted label) on ``test``, in table order."""
    import torch

    data = encode(test, tokenizer, max_length, where="test data")
    losses, preds = [0.0] * len(data), [0] * len(data)
    with torch.no_grad():
        for idx in length_sorted_batches(data, batch_size):
            batch = collate(data, idx, tokenizer.pad_token_id, device)
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
            batch_losses = torch.nn.functional.cross_entropy(logits, batch["labels"], reduction="none").tolist()
            for i, loss, pred in zip(idx, batch_losses, logits.argmax(-1).tolist()):
                losses[i], preds[i] = loss, pred
    return data, losses, preds


def per_language(data, losses, preds) -> list[dict]:
    groups: dict[str, list[tuple[float, bool]]] = {}
    for lang, loss, pred, label in zip(data.langs, losses, preds, data.labels):
        groups.setdefault(lang, []).append((loss, pred == label))
    return [
        {
            "lang": lang,
            "n": len(vals),
            "accuracy": sum(ok for _, ok in vals) / len(vals),
            "loss": sum(loss for loss, _ in vals) / len(vals),
        }
        for lang, vals in sorted(groups.items())
    ]


PREDICTIONS_SCHEMA = pa.schema(
    [
        ("run", pa.string()),
        ("seed", pa.int64()),
        ("checkpoint", pa.int64()),
        ("uid", pa.string()),
        ("lang", pa.string()),
        ("label", pa.int64()),
        ("pred", pa.int64()),
        ("loss", pa.float64()),
    ]
)


def evaluate_checkpoints(
    checkpoints: list[tuple[str, int, str | os.PathLike]],
    test: pa.Table,
    max_length: int,
    batch_size: int,
    threads: int | None = None,
    device: str | None = None,
) -> pa.Table:
    """(metrics, predictions) for each (run, seed, checkpoint path); the epoch comes from its trace.

    ``metrics`` has per-language accuracy and loss of every checkpoint; ``predictions`` the loss and
    predicted label of every test example at each run's last checkpoint.
    """
    setup_torch(threads)
    dev = resolve_device(device)
    rows, predictions = [], []
    last = {}
    for run, seed, path in checkpoints:
        last[(run, seed)] = path
    for i, (run, seed, path) in enumerate(checkpoints, start=1):
        model, tokenizer, trace = load_checkpoint(path, device=dev)
        data, losses, preds = predict(model, tokenizer, test, max_length, batch_size, dev)
        for row in per_language(data, losses, preds):
            rows.append({"run": run, "seed": seed, "checkpoint": trace["epoch"], **row})
        if last[(run, seed)] == path:
            predictions += [
                {"run": run, "seed": seed, "checkpoint": trace["epoch"], "uid": uid, "lang": lang,
                 "label": label, "pred": pred, "loss": loss}  # fmt: skip
                for uid, lang, label, pred, loss in zip(data.uids, data.langs, data.labels, preds, losses)
            ]
        log.info("evaluated %d/%d: %s", i, len(checkpoints), path)
    return (
        pa.Table.from_pylist(rows, schema=METRICS_SCHEMA),
        pa.Table.from_pylist(predictions, schema=PREDICTIONS_SCHEMA),
    )


def final_checkpoint(metrics: pl.DataFrame) -> pl.DataFrame:
    """Rows of each (run, seed)'s last checkpoint of a metrics table."""
    last = metrics.group_by("run", "seed").agg(pl.col("checkpoint").max().alias("_last"))
    return metrics.join(last, on=["run", "seed"]).filter(pl.col("checkpoint") == pl.col("_last")).drop("_last")
