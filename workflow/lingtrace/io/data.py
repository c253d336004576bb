"""The data contract: ``results/{task}/data/{split}.parquet``.

Columns: ``uid`` (str, unique), ``item_id`` (str, shared by translations of one item), ``lang`` (str),
``text_a`` (str), ``text_b`` (str, nullable), ``label`` (int).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from lingtrace.errors import ArtifactError, DataError
from lingtrace.io.atomic import atomic_path

DATA_SCHEMA = pa.schema(
    [
        ("uid", pa.string()),
        ("item_id", pa.string()),
        ("lang", pa.string()),
        ("text_a", pa.string()),
        ("text_b", pa.string()),
        ("label", pa.int64()),
    ]
)


def to_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=DATA_SCHEMA)


def write_data(table: pa.Table, path: str | os.PathLike, num_labels: int | None = None) -> None:
    check_data(table, str(path), num_labels=num_labels)
    with atomic_path(path) as tmp:
        pq.write_table(table.cast(DATA_SCHEMA), tmp)


def read_parquet(path: str | os.PathLike, rerun_hint: str = "") -> pa.Table:
    """Read a Parquet file, turning a truncated or corrupt file into an error that names it."""
    try:
        return pq.read_table(path)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: file not found. {rerun_hint}".strip()) from None
    except (pa.ArrowInvalid, OSError) as err:
        raise ArtifactError(f"{path}: not a readable Parquet file ({err}). {rerun_hint}".strip()) from None


def read_data(
    path: str | os.PathLike, num_labels: int | None = None, languages: Iterable[str] | None = None
) -> pa.Table:
    table = read_parquet(path, rerun_hint="Rerun the data stage for this task.")
    check_data(table, str(path), num_labels=num_labels, languages=languages)
    return table.select(DATA_SCHEMA.names).cast(DATA_SCHEMA)


def check_data(
    table: pa.Table, where: str, num_labels: int | None = None, languages: Iterable[str] | None = None
) -> None:
    """Refuse data that breaks the contract, naming the file, column and offending uid."""
    missing = [name for name in DATA_SCHEMA.names if name not in table.column_names]
    if missing:
        raise DataError(f"{where}: missing column(s) {missing}; the data contract needs {DATA_SCHEMA.names}")
    rows = table.select(DATA_SCHEMA.names).to_pylist()
    seen: set[str] = set()
    for row in rows:
        uid = row["uid"]
        if uid is None or uid == "":
            raise DataError(f"{where}: a row has an empty uid (item_id={row['item_id']!r})")
        if uid in seen:
            raise DataError(f"{where}: duplicate uid {uid!r}")
        seen.add(uid)
        if not row["lang"]:
            raise DataError(f"{where}: uid {uid!r} has an empty lang")
        if row["text_a"] is None or not row["text_a"].strip():
            raise DataError(f"{where}: uid {uid!r} has an empty text_a")
        label = row["label"]
        if label is None or (num_labels is not None and not 0 <= label < num_labels):
            raise DataError(f"{where}: uid {uid!r} has label {label!r}, outside 0..{num_labels - 1}")
    if languages is not None:
        present = {row["lang"] for row in rows}
        empty = [lang for lang in languages if lang not in present]
        if empty:
            raise DataError(f"{where}: no rows for language(s) {empty}")
