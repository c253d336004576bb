"""File-level entry points of fine-tuning and evaluation (what the CLI and the rules call)."""

from __future__ import annotations

import logging

from lingtrace.evaluate import evaluate_checkpoints
from lingtrace.finetune import finetune
from lingtrace.io.atomic import write_parquet, write_parquet_and_csv
from lingtrace.io.data import read_data, read_parquet
from lingtrace.runs import parse_run, training_set

log = logging.getLogger(__name__)


def finetune_run(
    train_path, model, run_dir, run: str, seed: int, params: dict, extra_path=None, removed_path=None, threads: int = 1
) -> None:
    """Fine-tune run ``run`` of a task: pick its training rows, train, write its checkpoints."""
    task = params["task"]
    spec = parse_run(run)
    train = read_data(train_path, num_labels=task["num_labels"], languages=task["train_langs"])
    extra = read_data(extra_path, num_labels=task["num_labels"]) if extra_path else None
    removed = set(read_parquet(removed_path)["uid"].to_pylist()) if removed_path else None
    rows = training_set(train, spec, extra=extra, removed=removed)
    log.info("%s/%s seed %d: %d training examples", task["name"], run, seed, rows.num_rows)
    finetune(
        rows, model, run_dir, params["finetune"], num_labels=task["num_labels"], seed=seed,
        threads=threads, trust_remote_code=params.get("trust_remote_code", False), where=str(train_path),
    )  # fmt: skip


def parse_checkpoint_arg(arg: str) -> tuple[str, int, str]:
    run, seed, path = arg.split(":", 2)
    return run, int(seed), path


def evaluate_task(test_path, checkpoints: list[str], params: dict, out, predictions_out, threads: int = 1) -> None:
    """Metrics of every checkpoint on the test split -> ``out`` (Parquet, and CSV beside it); the
    last checkpoints' per-example losses and predictions -> ``predictions_out``."""
    task = params["task"]
    test = read_data(test_path, num_labels=task["num_labels"], languages=task["test_langs"])
    table, predictions = evaluate_checkpoints(
        [parse_checkpoint_arg(c) for c in checkpoints], test,
        max_length=params["finetune"]["max_length"], batch_size=params["finetune"]["eval_batch_size"],
        threads=threads, device=params.get("device", "cpu"),
    )  # fmt: skip
    write_parquet_and_csv(table, out)
    write_parquet(predictions, predictions_out)
