"""Writing a task's splits as the data contract, from whichever source the task names."""

from __future__ import annotations

import logging
import os

import pyarrow.parquet as pq

from lingtrace.errors import ConfigError
from lingtrace.io.atomic import atomic_path
from lingtrace.io.data import write_data

log = logging.getLogger(__name__)

COMMON_KEYS = (
    "name", "source", "shape", "num_labels", "parallel", "knobs", "label_noise",
    "dataset", "configs", "splits", "files", "format", "columns", "label_map", "trust_remote_code",
)  # fmt: skip
SPLIT_KEYS = {
    "train": ("train_langs", "train_per_lang", "train_sizes"),
    "extra": ("train_langs", "train_per_lang", "train_sizes", "boost_factor"),
    "test": ("test_langs", "test_per_lang"),
}


def split_languages(task: dict, split: str, lang: str | None = None) -> list[str]:
    if split == "extra":
        return [lang]
    return list(task["train_langs"] if split == "train" else task["test_langs"])


def task_slice(task: dict, split: str) -> dict:
    """Only the task keys that a split depends on, so that editing test keys leaves train data alone."""
    return {k: task[k] for k in (*COMMON_KEYS, *SPLIT_KEYS[split]) if k in task}


def world_slice(world: dict | None, langs: list[str]) -> dict | None:
    """The world with only the given languages: declaring another language changes nothing here."""
    if world is None:
        return None
    return {**world, "languages": [entry for entry in world["languages"] if entry["code"] in langs]}


def prepare_split(task: dict, world: dict | None, split: str, out: str | os.PathLike, lang: str | None = None) -> None:
    if task["source"] == "synthetic":
        from lingtrace.data import synthetic

        if split == "extra":
            table = synthetic.generate_extra(world, task, lang)
        else:
            table = synthetic.generate_split(world, task, split)
    elif task["source"] in ("hf", "local"):
        from lingtrace.data.sources import load_split

        table = load_split(task, split, lang=lang)
    else:
        raise ConfigError(f"tasks ({task['name']}).source: unknown source {task['source']!r}")
    write_data(table, out, num_labels=task["num_labels"])
    counts = table.group_by("lang").aggregate([("uid", "count")]).to_pylist()
    log.info("%s/%s: %d examples (%s) -> %s", task["name"], split, table.num_rows,
             ", ".join(f"{c['lang']}={c['uid_count']}" for c in counts), out)  # fmt: skip


def write_similarity(world: dict, langs: list[str], out: str | os.PathLike) -> None:
    from lingtrace.data.synthetic import planted_similarity

    with atomic_path(out) as tmp:
        pq.write_table(planted_similarity(world, langs), tmp)
