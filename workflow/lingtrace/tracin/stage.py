"""File-level entries of the TracIn engine (what the CLI and the rules call): gradient dumps and scoring."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from lingtrace import settings
from lingtrace.errors import ConfigError
from lingtrace.study import resolve_task, task_of

log = logging.getLogger(__name__)


def dump_run_gradients(
    params: dict, run: str, data_path, checkpoints: Sequence[str], splits: Sequence[str], shards: Sequence[int],
    outs: Sequence[str], extra_path=None, threads: int | None = None,
) -> None:  # fmt: skip
    """One gradient shard per (checkpoint, split, shard), each written to its ``outs`` file.

    ``data_path`` holds the split (one split per call): the train rows are the run's training set, the
    test rows the scored sample (``influence.test_per_lang`` per language), cut into ``gradients.shards``
    shards. Each checkpoint is loaded once for all its dumps (list the dumps of one checkpoint together).
    """
    from lingtrace.device import resolve_device
    from lingtrace.io.checkpoints import load_checkpoint
    from lingtrace.tracin.examples import traced_examples
    from lingtrace.tracin.gradients import dump_gradients

    if len(set(splits)) != 1:
        raise ConfigError(f"dump-gradients: one split per call (the data file holds one), got {sorted(set(splits))}")
    if not len(checkpoints) == len(splits) == len(shards) == len(outs):
        raise ConfigError(f"give a split, a shard and an output per checkpoint: {len(checkpoints)} checkpoints, "
                          f"{len(splits)} splits, {len(shards)} shards, {len(outs)} outputs")  # fmt: skip
    task = resolve_task(task_of(params))
    gradients, influence, finetune, study = (
        settings.load(name, params.get(name)) for name in ("gradients", "influence", "finetune", "study")
    )
    n_shards = {"train": gradients.shards.train, "test": gradients.shards.test}
    rows = {splits[0]: traced_examples(data_path, splits[0], task, run, extra_path, influence.test_per_lang)}
    device = resolve_device(study.device)
    loaded, loaded_from = None, None
    for checkpoint, split, shard, out in zip(checkpoints, splits, shards, outs):
        if loaded_from != checkpoint:
            loaded, loaded_from = load_checkpoint(checkpoint, device=device, fingerprint=True), checkpoint
        dump_gradients(checkpoint, rows[split], gradients, out, split, finetune.max_length, int(shard),
                       n_shards[split], threads, study.device, loaded=loaded, run=run)  # fmt: skip


def score_files(
    params: dict, epochs: Sequence[int], train: Sequence[str], test: Sequence[str], out_topk, out_lang,
) -> None:  # fmt: skip
    """Score train shards against test shards at every checkpoint and write the merged tables.

    ``train``: the train shard files, checkpoint-major (for each epoch in ``epochs``, its shards in
    shard order); ``test`` likewise. Several train shards are scored one by one and merged exactly.
    """
    from lingtrace.tracin.merge import merge_lang, merge_topk
    from lingtrace.tracin.score import score_shard
    from lingtrace.tracin.tables import write_table

    cfg = settings.load("influence", params.get("influence"))
    train_by_epoch, test_by_epoch = by_epoch(epochs, train, "train"), by_epoch(epochs, test, "test")
    n_train_shards = len(next(iter(train_by_epoch.values())))
    tables = [
        score_shard({e: paths[i] for e, paths in train_by_epoch.items()}, test_by_epoch, cfg)
        for i in range(n_train_shards)
    ]
    if n_train_shards == 1:  # one shard: sorted as the merge sorts, so both paths give the same bytes
        topk, lang = merge_topk([tables[0][0]], cfg.top_k), merge_lang([tables[0][1]])
    else:
        topk, lang = merge_topk([t for t, _ in tables], cfg.top_k), merge_lang([s for _, s in tables])
    write_table(topk, out_topk)
    write_table(lang, out_lang)


def by_epoch(epochs: Sequence[int], paths: Sequence[str], what: str) -> dict[int, list[str]]:
    """{epoch: its shard files} from checkpoint-major ``paths`` (the same number of files per epoch)."""
    if not epochs or len(paths) % len(epochs):
        raise ConfigError(f"{len(paths)} {what} gradient files do not divide among the checkpoints {list(epochs)}")
    n = len(paths) // len(epochs)
    return {int(e): [str(p) for p in paths[i * n : (i + 1) * n]] for i, e in enumerate(epochs)}


def score_subsets(params: dict, epochs: Sequence[int], train: Sequence[str], test: Sequence[str], subsets_path,
                  out) -> None:  # fmt: skip
    """TracIn summed over each LDS subset, for every scored test example (lingtrace.tracin.subsets)."""
    import polars as pl

    from lingtrace.io.atomic import write_parquet
    from lingtrace.tracin.subsets import subset_score_sums

    sums = subset_score_sums(by_epoch(epochs, train, "train"), by_epoch(epochs, test, "test"),
                             pl.read_parquet(subsets_path), params.get("influence"))  # fmt: skip
    write_parquet(sums, out)
