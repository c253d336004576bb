"""Writing a task's splits as the data contract, from whichever source the task names."""

from __future__ import annotations

import logging
import os

import pyarrow as pa
import pyarrow.parquet as pq

from lingtrace import settings
from lingtrace.data.sources import source_of
from lingtrace.io.atomic import atomic_path
from lingtrace.io.data import write_data
from lingtrace.study import resolve_task

log = logging.getLogger(__name__)

# The task keys each split depends on (besides the common ones), so that editing test keys leaves the
# training data, and everything trained on it, alone.
COMMON_KEYS = (
    "name", "source", "shape", "num_labels", "parallel", "knobs", "label_noise", "train_langs", "sample_seed",
    "lang_column", "lang_values", "dataset", "configs", "splits", "files", "format", "columns", "label_map",
    "trust_remote_code", "empty_texts",
)  # fmt: skip
SPLIT_KEYS = {
    "train": ("train_per_lang", "train_sizes"),
    "extra": ("train_per_lang", "train_sizes", "boost_factor"),
    "test": ("zero_shot_langs", "test_langs", "test_per_lang"),
}


# Keys added after studies were run, left out of a slice while at their default: those studies keep
# their data params, and so their data and everything trained on it.
LATER_KEYS = ("empty_texts",)


def task_slice(task: dict, split: str) -> dict:
    """Only the task keys that a split depends on (a resolved task as a dict)."""
    keys = [k for k in (*COMMON_KEYS, *SPLIT_KEYS[split]) if k in task]
    return {k: task[k] for k in keys if k not in LATER_KEYS or task[k] != settings.schema_default("task", k)}


def world_slice(world: dict | None, langs: list[str]) -> dict | None:
    """The world with only the given languages: declaring another language changes nothing here."""
    if world is None:
        return None
    return {**world, "languages": [entry for entry in world["languages"] if entry["code"] in langs]}


def load_split(task, split: str, world=None, lang: str | None = None) -> pa.Table:
    """One split of a task (raw or resolved settings) as the data contract, from the task's source;
    ``world`` is the babel world (synthetic tasks), ``lang`` the boosted language of split ``extra``."""
    task = resolve_task(task)
    return source_of(task).load(task, split, world, lang=lang)


def prepare_split(task, world, split: str, out: str | os.PathLike, lang: str | None = None) -> None:
    """Write one split (``extra``: the boosted language ``lang``'s extra pool) of a task."""
    task = resolve_task(task)
    table = load_split(task, split, world, lang)
    write_data(table, out, num_labels=task.num_labels)
    counts = table.group_by("lang").aggregate([("uid", "count")]).to_pylist()
    log.info("%s/%s: %d examples (%s) -> %s", task.name, split, table.num_rows,
             ", ".join(f"{c['lang']}={c['uid_count']}" for c in counts), out)  # fmt: skip


def write_similarity(world, langs: list[str], out: str | os.PathLike) -> None:
    from lingtrace.data.sources.synthetic import planted_similarity

    with atomic_path(out) as tmp:
        pq.write_table(planted_similarity(world, langs), tmp)
