"""What every data source provides: the languages and sizes of each split, the keys a task of this
source must have and the defaults of its derived keys, and the rows themselves as the data contract."""

from __future__ import annotations

import pyarrow as pa

from lingtrace.errors import ConfigError

SPLITS = ("train", "test", "extra")


class DataSource:
    """Base class of the sources; subclasses set ``name`` and implement ``load``."""

    name: str = ""

    def resolve(self, task: dict) -> dict:
        """A task (schema defaults already filled) with its derived keys filled in: ``test_langs``
        (fine-tuning then zero-shot languages), ``parallel`` and ``num_labels`` (per source)."""
        task = dict(task)
        if task.get("test_langs") is None:
            task["test_langs"] = list(task["train_langs"]) + list(task["zero_shot_langs"])
        if task.get("parallel") is None:
            task["parallel"] = False
        return task

    def check(self, task, where: str, world_langs: set[str]) -> None:
        """Raise ConfigError naming the key for what this source needs of a task."""
        if task.num_labels is None:
            raise ConfigError(f"{where}.num_labels: {self.name} tasks must say how many labels they have")

    def languages(self, task, split: str, lang: str | None = None) -> list[str]:
        """The languages a split holds: train -> train_langs, test -> test_langs, extra -> the boosted ``lang``."""
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; splits are {SPLITS}")
        if split == "extra":
            return [lang]
        return list(task.train_langs if split == "train" else task.test_langs)

    def size(self, task, split: str, lang: str) -> int:
        """Examples of ``lang`` in a split: ``train_sizes`` overrides ``train_per_lang``; the test split
        has ``test_per_lang``; a boosted language's extra pool is (boost_factor - 1) times its train size."""
        if split == "test":
            return int(task.test_per_lang)
        base = int((task.train_sizes or {}).get(lang, task.train_per_lang))
        return base * (int(task.boost_factor) - 1) if split == "extra" else base

    def load(self, task, split: str, world=None, lang: str | None = None) -> pa.Table:
        """The rows of a split (``extra``: the boosted language ``lang``'s extra pool) as the data contract."""
        raise NotImplementedError
