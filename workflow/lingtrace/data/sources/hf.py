"""The ``hf`` data source: ``datasets.load_dataset(task.dataset, config)`` per language (``task.configs``
maps a language code to the dataset's config name; by default the code itself, ``task.splits`` our
split names to the dataset's); mapped onto the data contract as mapping.py describes."""

from __future__ import annotations

import pyarrow as pa

from lingtrace.data.sources import register
from lingtrace.data.sources.base import DataSource
from lingtrace.data.sources.mapping import load_mapped
from lingtrace.errors import ConfigError, DataError


def hub_hint(name: str) -> str:
    return (
        f"could not load dataset {name!r} from the Hugging Face hub. With no network (or HF_HUB_OFFLINE=1), "
        f"download it elsewhere (`datasets.load_dataset({name!r}, CONFIG).save_to_disk(DIR)` per language), "
        "copy the folders here and use source: local with files: {split: {lang: DIR}}"
    )


@register
class HubSource(DataSource):
    name = "hf"

    def check(self, task, where: str, world_langs: set[str]) -> None:
        super().check(task, where, world_langs)
        if not task.dataset:
            raise ConfigError(f"{where}.dataset: hf tasks name the dataset to load")

    def load(self, task, split: str, world=None, lang: str | None = None) -> pa.Table:
        return load_mapped(self, task, split, lang, self.raw_table)

    def raw_table(self, task, split: str, lang: str) -> tuple[pa.Table, str]:
        import datasets

        name = task.dataset
        config = (task.configs or {}).get(lang, lang)
        hf_split = (task.splits or {}).get(split, split)
        try:
            loaded = datasets.load_dataset(name, config, split=hf_split, trust_remote_code=task.trust_remote_code)
        except ValueError as err:  # an unknown config or split: name the language
            raise DataError(f"tasks ({task.name}): dataset {name!r} has no config {config!r} for language {lang!r} "
                            f"or no split {hf_split!r} ({err})") from None  # fmt: skip
        except (ConnectionError, OSError, FileNotFoundError) as err:
            raise ConfigError(f"tasks ({task.name}).dataset: {hub_hint(name)} ({type(err).__name__}: {err})") from None
        return loaded.data.table, f"{name}[{config}]"
