"""The ``local`` data source: per split and language, a Parquet, JSON Lines, CSV/TSV file (or a folder of
them) or a ``datasets.save_to_disk`` folder, named in ``task.files[split][lang]`` and read by readers.py;
mapped onto the data contract as mapping.py describes."""

from __future__ import annotations

import pyarrow as pa

from lingtrace.data.sources import register
from lingtrace.data.sources.base import DataSource
from lingtrace.data.sources.mapping import load_mapped
from lingtrace.data.sources.raw import RawRows
from lingtrace.data.sources.readers import read_local
from lingtrace.errors import DataError


@register
class LocalSource(DataSource):
    name = "local"

    def load(self, task, split: str, world=None, lang: str | None = None) -> pa.Table:
        return load_mapped(self, task, split, lang, self.raw_rows)

    def raw_rows(self, task, split: str, lang: str) -> RawRows:
        """The rows of one split and language as read."""
        files = (task.files or {}).get(split) or {}
        if lang not in files:
            raise DataError(f"tasks ({task.name}).files.{split}: no file for language {lang!r} (have {sorted(files)})")
        return read_local(files[lang], task.format)
