"""The ``hf`` data source: ``datasets.load_dataset(task.dataset, config)`` per language (``task.configs``
maps a language code to the dataset's config name; by default the code itself, ``task.splits`` our
split names to the dataset's); mapped onto the data contract as mapping.py describes."""

from __future__ import annotations

import pyarrow as pa

from lingtrace.data.sources import register
from lingtrace.data.sources.base import DataSource
from lingtrace.data.sources.mapping import load_mapped
from lingtrace.data.sources.raw import RawRows
from lingtrace.errors import ConfigError, DataError
from lingtrace.loading import dataset_hint, explained


@register
class HubSource(DataSource):
    name = "hf"

    def check(self, task, where: str, world_langs: set[str]) -> None:
        super().check(task, where, world_langs)
        if not task.dataset:
            raise ConfigError(f"{where}.dataset: hf tasks name the dataset to load")

    def load(self, task, split: str, world=None, lang: str | None = None) -> pa.Table:
        return load_mapped(self, task, split, lang, self.raw_rows)

    def raw_rows(self, task, split: str, lang: str) -> RawRows:
        """The rows of one split and language as loaded."""
        import datasets

        name = task.dataset
        config = (task.configs or {}).get(lang, lang)
        hf_split = (task.splits or {}).get(split, split)
        with explained(f"tasks ({task.name}).dataset: could not load {name!r}", dataset_hint(name)):
            try:
                loaded = datasets.load_dataset(name, config, split=hf_split, trust_remote_code=task.trust_remote_code)
            except ValueError as err:  # an unknown config or split: name the language
                raise DataError(f"tasks ({task.name}): dataset {name!r} has no config {config!r} for language "
                                f"{lang!r} or no split {hf_split!r} ({err})") from None  # fmt: skip
        table = loaded.data.table
        if table.num_rows == 0:
            raise DataError(f"{name}[{config}] split {hf_split!r}: no rows")
        return RawRows.from_table(f"{name}[{config}]", table)
