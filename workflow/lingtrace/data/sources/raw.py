"""A real dataset's rows as read, before they are mapped onto the data contract (the ``hf`` and
``local`` sources): column values by name, as written in the data, and where each row came from, so
that a message names the file and line (or row) the user can open."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pyarrow as pa


@dataclass
class RawRows:
    """Rows of one split and language as read: ``columns[name][i]`` is row i's value of a column (None
    where the row has none). ``name`` is what the task config names (a file, a folder, ``dataset[config]``)."""

    name: str
    columns: dict[str, list]
    n_rows: int
    files: list[str] = field(default_factory=list)  # the files the rows came from
    file_of: list[int] = field(default_factory=list)  # per row: its file, an index into ``files``
    number: list[int] = field(default_factory=list)  # per row: its line (text files) or row (from 1) in its file
    unit: str = "row"  # what ``number`` counts: "line" or "row"

    def where(self, i: int) -> str:
        """Row i as the user finds it: ``FILE line N`` (or ``row N``)."""
        return f"{self.files[self.file_of[i]]} {self.unit} {self.number[i]}"

    @classmethod
    def from_records(cls, name: str, records: list[dict], numbers: list[int], unit: str) -> RawRows:
        """Rows given as dicts (JSON objects); a key missing from a row reads as None."""
        names = list(dict.fromkeys(key for record in records for key in record))
        columns = {key: [record.get(key) for record in records] for key in names}
        return cls(name, columns, len(records), [name], [0] * len(records), list(numbers), unit)

    @classmethod
    def from_table(cls, name: str, table: pa.Table) -> RawRows:
        """An Arrow table's rows, numbered from 1."""
        n = table.num_rows
        return cls(name, table.to_pydict(), n, [name], [0] * n, list(range(1, n + 1)), "row")

    @classmethod
    def concat(cls, name: str, parts: list[RawRows]) -> RawRows:
        """The rows of several files (a folder) one after another; a column some files lack reads as None there."""
        if len(parts) == 1:
            return replace(parts[0], name=name)
        names = list(dict.fromkeys(key for part in parts for key in part.columns))
        columns = {key: [v for part in parts for v in part.columns_or_none(key)] for key in names}
        files, file_of, number = [], [], []
        for part in parts:
            file_of += [len(files) + i for i in part.file_of]
            files += part.files
            number += part.number
        return cls(name, columns, sum(p.n_rows for p in parts), files, file_of, number, parts[0].unit)

    def columns_or_none(self, key: str) -> list:
        return self.columns.get(key, [None] * self.n_rows)
