"""File-level entry points of fine-tuning and evaluation (what the CLI and the rules call).

A job covers one or more (run, seed) pairs, each with its checkpoint folders, one per epoch; how many
pairs a job takes is the workflow's choice (``jobs.per``), and results do not depend on it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import polars as pl

from lingtrace import settings
from lingtrace.errors import ConfigError
from lingtrace.finetuning.evaluate import evaluate_checkpoints
from lingtrace.finetuning.runs import parse_run, removed_uids, subset_uids, training_set
from lingtrace.finetuning.trainer import finetune
from lingtrace.io.atomic import write_parquet, write_parquet_and_csv
from lingtrace.io.data import read_data, read_parquet
from lingtrace.study import resolve_task, task_of

log = logging.getLogger(__name__)


def per_pair(runs: Sequence[str], seeds: Sequence[int], checkpoints: Sequence[str]) -> list[tuple[str, int, list[str]]]:
    """(run, seed, checkpoint folders) for each pair: ``checkpoints`` hold the same number of folders
    per pair, pair after pair."""
    if len(runs) != len(seeds) or not runs:
        raise ConfigError(f"give one seed per run: {len(runs)} runs and {len(seeds)} seeds")
    if len(checkpoints) % len(runs):
        raise ConfigError(f"{len(checkpoints)} checkpoint folders do not divide among {len(runs)} (run, seed) pairs")
    n = len(checkpoints) // len(runs)
    return [(run, int(seed), list(checkpoints[i * n : (i + 1) * n])) for i, (run, seed) in enumerate(zip(runs, seeds))]


def finetune_runs(
    train_path, model, runs: Sequence[str], seeds: Sequence[int], checkpoints: Sequence[str], params: dict,
    extra_path=None, removed_path=None, subsets_path=None, threads: int | None = None,
) -> None:  # fmt: skip
    """Fine-tune each (run, seed) pair on its training rows; write its checkpoint folders (one per epoch).

    ``removed_path``: the uids a removal run leaves out (with a seed column: per seed); ``subsets_path``:
    the LDS subsets (subset, uid) that subset-I runs train on."""
    task = resolve_task(task_of(params))
    cfg, study, model_cfg = (settings.load(name, params.get(name)) for name in ("finetune", "study", "model"))
    train = read_data(train_path, num_labels=task.num_labels, languages=task.train_langs)
    extra = read_data(extra_path, num_labels=task.num_labels) if extra_path else None
    removed = read_parquet(removed_path) if removed_path else None
    subsets = read_parquet(subsets_path) if subsets_path else None
    for run, seed, folders in per_pair(runs, seeds, checkpoints):
        spec = parse_run(run)
        rows = training_set(train, spec, extra=extra, removed=removed_uids(removed, seed), kept=subset_uids(subsets, spec))
        log.info("%s/%s seed %d: %d training examples", task.name, run, seed, rows.num_rows)
        finetune(
            rows, model, folders, cfg, num_labels=task.num_labels, seed=seed, device=study.device, threads=threads,
            trust_remote_code=model_cfg.trust_remote_code, allow_pickle=model_cfg.allow_pickle, where=str(train_path),
        )  # fmt: skip


def evaluate_runs(
    test_path, runs: Sequence[str], seeds: Sequence[int], checkpoints: Sequence[str], params: dict, out,
    predictions_out, threads: int | None = None,
) -> None:  # fmt: skip
    """Per-language accuracy and loss of every checkpoint of each (run, seed) pair -> ``out`` (Parquet);
    each pair's last checkpoint's per-example losses and predictions -> ``predictions_out``."""
    task = resolve_task(task_of(params))
    cfg, study = (settings.load(name, params.get(name)) for name in ("finetune", "study"))
    test = read_data(test_path, num_labels=task.num_labels, languages=task.test_langs)
    listed = [(run, seed, path) for run, seed, folders in per_pair(runs, seeds, checkpoints) for path in folders]
    table, predictions = evaluate_checkpoints(
        listed, test, max_length=cfg.max_length, batch_size=cfg.eval_batch_size, threads=threads, device=study.device,
    )  # fmt: skip
    write_parquet(table, out)
    write_parquet(predictions, predictions_out)


def merge_metrics(paths: Sequence[str], out, csv: bool = False) -> None:
    """Stack per-job metric or prediction tables into one task table (sorted; with ``csv``, a CSV beside it)."""
    tables = [pl.read_parquet(p) for p in paths]
    keys = [c for c in ("run", "seed", "checkpoint", "lang", "uid") if c in tables[0].columns]
    merged = pl.concat(tables).sort(keys)
    (write_parquet_and_csv if csv else write_parquet)(merged, out)
