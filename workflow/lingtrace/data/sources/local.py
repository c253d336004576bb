"""The ``local`` data source: per split and language, a Parquet, JSON Lines, CSV/TSV file (or a folder of
them) or a ``datasets.save_to_disk`` folder, named in ``task.files[split][lang]``; mapped onto the data
contract as mapping.py describes."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa

from lingtrace.data.sources import register
from lingtrace.data.sources.base import DataSource
from lingtrace.data.sources.mapping import load_mapped
from lingtrace.errors import DataError

FORMATS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv", ".tsv": "tsv"}
DECLARED = {"parquet": "parquet", "jsonl": "json", "json": "json", "csv": "csv", "tsv": "tsv", "arrow": "arrow"}


@register
class LocalSource(DataSource):
    name = "local"

    def load(self, task, split: str, world=None, lang: str | None = None) -> pa.Table:
        return load_mapped(self, task, split, lang, self.raw_table)

    def raw_table(self, task, split: str, lang: str) -> tuple[pa.Table, str]:
        """(raw table, where) of one split and language."""
        files = (task.files or {}).get(split) or {}
        if lang not in files:
            raise DataError(f"tasks ({task.name}).files.{split}: no file for language {lang!r} (have {sorted(files)})")
        return read_local(files[lang], task.format), str(files[lang])


def _detect_format(path: Path, declared: str) -> str:
    if declared != "auto":
        return DECLARED[declared]
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "state.json").exists():
            return "arrow"
        suffixes = {p.suffix for p in path.iterdir() if p.suffix in FORMATS}
        if len(suffixes) != 1:
            raise DataError(f"{path}: cannot tell the format of this directory (found {sorted(suffixes)}); set format:")
        return FORMATS[suffixes.pop()]
    if path.suffix not in FORMATS:
        raise DataError(f"{path}: unknown file type {path.suffix!r}; set format: parquet, jsonl, csv, tsv or arrow")
    return FORMATS[path.suffix]


def _data_files(path: Path) -> list[str]:
    if path.is_dir():
        return sorted(str(p) for p in path.iterdir() if p.suffix in FORMATS)
    return [str(path)]


def read_local(path: str | os.PathLike, declared_format: str) -> pa.Table:
    """One local file or folder as an Arrow table, through ``datasets``; unreadable input (bad
    encoding, broken JSON or CSV, a corrupt Parquet file) is a DataError naming the file."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    fmt = _detect_format(path, declared_format)
    try:
        return _load_local(path, fmt)
    except DataError:
        raise
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not valid UTF-8 text (byte {err.start}: {err.reason}); re-encode it as UTF-8") from None
    except Exception as err:  # datasets wraps parser errors in its own types
        cause = err.__cause__ or err.__context__
        if isinstance(cause, UnicodeDecodeError):
            raise DataError(f"{path}: not valid UTF-8 text (byte {cause.start}: {cause.reason}); re-encode it as UTF-8") from None
        raise DataError(f"{path}: cannot be read as {fmt} ({type(err).__name__}: {err})") from None


def _load_local(path: Path, fmt: str) -> pa.Table:
    import datasets

    if fmt == "arrow":
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            raise DataError(f"{path}: a DatasetDict; name one of its splits' folders ({list(loaded)})")
        return loaded.data.table
    if fmt in ("csv", "tsv"):
        # Raw PAWS-X TSV has unbalanced quotes inside sentences: read quotes as text (QUOTE_NONE).
        kwargs = {"delimiter": "\t", "quoting": 3} if fmt == "tsv" else {}
        loaded = datasets.load_dataset("csv", data_files=_data_files(path), split="train", **kwargs)
    else:
        loaded = datasets.load_dataset(fmt, data_files=_data_files(path), split="train")
    return loaded.data.table
