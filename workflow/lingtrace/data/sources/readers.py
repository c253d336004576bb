"""Reading the ``local`` source's files: Parquet, JSON Lines (or a JSON array), CSV, TSV, a folder of
one of these, or a ``datasets.save_to_disk`` folder.

Text formats are parsed here, not through ``datasets``, so that every value stays as written (the label
``1.7`` is not turned into 1, ``"3"`` not into 3) and every fault is a DataError naming the file and the
line: bytes that are not UTF-8, a line that is not JSON, a row with more or fewer fields than the header,
an empty file, a header with no rows. A file that holds no rows is refused, in a folder too.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lingtrace.data.sources.raw import RawRows
from lingtrace.errors import DataError
from lingtrace.loading import explained

FORMATS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv", ".tsv": "tsv"}
DECLARED = {"parquet": "parquet", "jsonl": "json", "json": "json", "csv": "csv", "tsv": "tsv", "arrow": "arrow"}


def read_local(path: str | os.PathLike, declared_format: str = "auto") -> RawRows:
    """The rows of one local file or folder (``declared_format``: the task's ``format``)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    fmt = detect_format(path, declared_format)
    if fmt == "arrow":
        return read_saved_dataset(path)
    return RawRows.concat(str(path), [READERS[fmt](Path(file)) for file in data_files(path, fmt)])


def detect_format(path: Path, declared: str) -> str:
    if declared != "auto":
        return DECLARED[declared]
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "state.json").exists():
            return "arrow"
        kinds = {FORMATS[p.suffix] for p in path.iterdir() if p.suffix in FORMATS}
        if len(kinds) != 1:
            raise DataError(f"{path}: cannot tell the format of this directory (found {sorted(kinds)}); set format:")
        return kinds.pop()
    if path.suffix not in FORMATS:
        raise DataError(f"{path}: unknown file type {path.suffix!r}; set format: parquet, jsonl, csv, tsv or arrow")
    return FORMATS[path.suffix]


def data_files(path: Path, fmt: str) -> list[str]:
    """The files of a folder in format ``fmt`` (by suffix), in name order; a file is itself."""
    if not path.is_dir():
        return [str(path)]
    files = sorted(str(p) for p in path.iterdir() if FORMATS.get(p.suffix) == fmt)
    if not files:
        raise DataError(f"{path}: no {fmt} files in this directory")
    return files


def decoded(path: Path) -> str:
    """A text file's content; bytes that are not UTF-8 are refused naming the line (a BOM is dropped)."""
    data = path.read_bytes()
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as err:
        at = skip + err.start
        line = data.count(b"\n", 0, at) + 1
        raise DataError(f"{path} line {line}: not valid UTF-8 text (byte {at}: {err.reason}); "
                        "re-encode the file as UTF-8") from None  # fmt: skip


def read_json(path: Path) -> RawRows:
    """JSON Lines (one object per line; blank lines skipped), or one JSON array of objects."""
    text = decoded(path)
    if text.lstrip().startswith("["):
        return _json_array(path, text)
    records, numbers = [], []
    for number, line in enumerate(text.split("\n"), 1):  # not splitlines: JSON strings may hold U+2028
        if line.strip():
            records.append(_as_object(f"{path} line {number}", _parse_json(f"{path} line {number}", line)))
            numbers.append(number)
    if not records:
        raise DataError(f"{path}: no rows (the file is empty)")
    return RawRows.from_records(str(path), records, numbers, "line")


def _json_array(path: Path, text: str) -> RawRows:
    items = _parse_json(str(path), text)
    if not isinstance(items, list) or not items:
        raise DataError(f"{path}: a JSON array with no rows")
    records = [_as_object(f"{path} row {i}", item) for i, item in enumerate(items, 1)]
    return RawRows.from_records(str(path), records, list(range(1, len(records) + 1)), "row")


def _parse_json(where: str, text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"{where}: not valid JSON ({err.msg}, column {err.colno})") from None
    except RecursionError:
        raise DataError(f"{where}: JSON nested too deeply") from None


def _as_object(where: str, value) -> dict:
    if not isinstance(value, dict):
        raise DataError(f"{where}: a JSON {type(value).__name__}, not an object with one key per column")
    return value


def read_csv(path: Path) -> RawRows:
    return _read_delimited(path, "csv", delimiter=",", quoting=csv.QUOTE_MINIMAL)


def read_tsv(path: Path) -> RawRows:
    # Raw PAWS-X TSV has unbalanced quotes inside sentences: quotes are text (QUOTE_NONE), a tab always splits.
    return _read_delimited(path, "tsv", delimiter="\t", quoting=csv.QUOTE_NONE)


def _read_delimited(path: Path, fmt: str, delimiter: str, quoting: int) -> RawRows:
    """A header line naming the columns, then one row per line (blank lines skipped); every row must
    have as many fields as the header."""
    reader = csv.reader(io.StringIO(decoded(path), newline=""), delimiter=delimiter, quoting=quoting)
    try:
        header = next(reader, None)
        if not header:
            raise DataError(f"{path}: no rows (the file is empty)")
        _check_header(path, header)
        rows, numbers = [], []
        start = reader.line_num + 1  # the line a row starts on (a quoted CSV field may span lines)
        for fields in reader:
            number, start = start, reader.line_num + 1
            if not fields:
                continue
            if len(fields) != len(header):
                raise DataError(f"{path} line {number}: {len(fields)} fields, but the header names {len(header)} "
                                f"columns {header}" + (" (a tab inside a text?)" if fmt == "tsv" else ""))  # fmt: skip
            rows.append(fields)
            numbers.append(number)
    except csv.Error as err:
        raise DataError(f"{path} line {reader.line_num}: cannot be read as {fmt} ({err})") from None
    if not rows:
        raise DataError(f"{path}: only a header, no rows")
    columns = {name: [row[j] for row in rows] for j, name in enumerate(header)}
    return RawRows(str(path), columns, len(rows), [str(path)], [0] * len(rows), numbers, "line")


def _check_header(path: Path, header: list[str]) -> None:
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataError(f"{path} line 1: column(s) {repeated} named more than once in the header")


def read_parquet_file(path: Path) -> RawRows:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"{path}: not a readable Parquet file ({err})") from None
    return _with_rows(path, RawRows.from_table(str(path), table))


def read_saved_dataset(path: Path) -> RawRows:
    """A ``datasets.save_to_disk`` folder of one split."""
    import datasets

    with explained(f"{path}: cannot be read as a datasets.save_to_disk folder", "Save one split there again.",
                   DataError):  # fmt: skip
        loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        raise DataError(f"{path}: a DatasetDict; name one of its splits' folders ({list(loaded)})")
    return _with_rows(path, RawRows.from_table(str(path), loaded.data.table))


def _with_rows(path: Path, rows: RawRows) -> RawRows:
    if rows.n_rows == 0:
        raise DataError(f"{path}: no rows")
    return rows


READERS = {"json": read_json, "csv": read_csv, "tsv": read_tsv, "parquet": read_parquet_file}
