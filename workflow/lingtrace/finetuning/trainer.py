"""The fine-tuning loop of one run and seed: AdamW with a transformers schedule, a checkpoint and a trace per epoch.

Each checkpoint directory holds the model (safetensors, via save_pretrained), the tokenizer
(``tokenizer.json``) and ``trace.json``: the optimiser steps the epoch covers and the mean learning
rate over them, which TracIn uses as the checkpoint's weight eta. The checkpoints of a run are written
under temporary names and appear under their final names together, after the last epoch is saved: a
killed job leaves no ``epoch-{c}`` folder of an unfinished run.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from lingtrace import settings
from lingtrace.batching import batch_indices, collate, encode
from lingtrace.device import adamw, autocast, resolve_device, setup_torch
from lingtrace.errors import ConfigError, NumericalError
from lingtrace.io.atomic import atomic_dirs, write_json
from lingtrace.model.build import load_classifier, load_starting_tokenizer
from lingtrace.seeding import stable_seed

log = logging.getLogger(__name__)


def finetune(
    train: pa.Table,
    model_path: str | os.PathLike,
    checkpoints: Sequence[str | os.PathLike],
    cfg,
    num_labels: int,
    seed: int,
    device: str | None = None,
    threads: int | None = None,
    trust_remote_code: bool | None = None,
    where: str = "training data",
    allow_pickle: bool | None = None,
) -> list[dict]:
    """Fine-tune on ``train`` (data-contract rows) from ``model_path``; write the checkpoint of epoch
    c to ``checkpoints[c - 1]`` (one folder per epoch of ``cfg``, the ``finetune`` settings), all of
    them at the end. ``trust_remote_code`` and ``allow_pickle``: the ``model`` settings of that name."""
    cfg = settings.load("finetune", cfg)
    if len(checkpoints) != cfg.epochs:
        raise ConfigError(f"finetune.epochs is {cfg.epochs} but {len(checkpoints)} checkpoint folders were given")
    torch = setup_torch(threads, seed=seed)
    from transformers import get_scheduler

    device = resolve_device(device)
    tokenizer = load_starting_tokenizer(model_path, trust_remote_code=trust_remote_code)
    model = load_classifier(model_path, num_labels, trust_remote_code=trust_remote_code, allow_pickle=allow_pickle)
    model = model.to(device)
    if cfg.gradient_checkpointing and device.type == "cuda":
        model.gradient_checkpointing_enable()
    data = encode(train, tokenizer, cfg.max_length, where=where)
    steps_per_epoch = math.ceil(len(data) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    optimizer = adamw(model, cfg.learning_rate, cfg.weight_decay)
    scheduler = get_scheduler(cfg.scheduler, optimizer, int(cfg.warmup_ratio * total), total)
    log.info("fine-tuning on %d examples, seed %d, %d epochs, %d steps, device %s", len(data), seed, cfg.epochs,
             total, device)  # fmt: skip
    traces, step, started = [], 0, time.time()
    log_every = max(1, steps_per_epoch // 5)
    with atomic_dirs(checkpoints) as staged:
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            order = epoch_order(data.uids, seed, epoch)
            lrs, losses = [], []
            for idx in batch_indices(len(order), cfg.batch_size):
                batch = collate(data, [order[i] for i in idx], tokenizer.pad_token_id, device)
                with autocast(device, cfg.precision):
                    loss = model(**batch).loss
                if not torch.isfinite(loss):
                    uids = [data.uids[order[i]] for i in idx]
                    raise NumericalError(
                        f"non-finite training loss at epoch {epoch}, step {step + 1}; batch uids {uids}"
                    )
                loss.backward()
                if cfg.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                lrs.append(scheduler.get_last_lr()[0])
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                losses.append(loss.item())
                step += 1
                if step % log_every == 0:
                    log.info("step %d/%d, loss %.4f, %.1f examples/s", step, total, losses[-1],
                             step * cfg.batch_size / (time.time() - started))  # fmt: skip
            trace = {
                "epoch": epoch,
                "first_step": step - len(lrs) + 1,
                "last_step": step,
                "n_steps": len(lrs),
                "mean_lr": sum(lrs) / len(lrs),
                "train_loss": sum(losses) / len(losses),
                "n_train": len(data),
                "seed": seed,
            }
            save_checkpoint(model, tokenizer, trace, staged[epoch - 1])
            traces.append(trace)
            log.info(
                "epoch %d/%d: steps %d-%d, mean lr %.3g, train loss %.4f (%.0fs elapsed)",
                epoch, cfg.epochs, trace["first_step"], step, trace["mean_lr"], trace["train_loss"],
                time.time() - started,
            )  # fmt: skip
    return traces


def epoch_order(uids: list[str], seed: int, epoch: int) -> list[int]:
    """The order an epoch visits the examples in: by a seeded hash of each uid, so that removing
    examples (ablation, the removal test) leaves the others in the same relative order and the runs
    differ by the data alone, not by a reshuffle."""
    return sorted(range(len(uids)), key=lambda i: stable_seed(seed, epoch, uids[i]))


def save_checkpoint(model, tokenizer, trace: dict, folder: Path) -> None:
    """One checkpoint into ``folder``: the run's staging folder of that epoch (see ``atomic_dirs``)."""
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    write_json(trace, folder / "trace.json")
