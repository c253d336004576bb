"""The influence table contracts (``topk.parquet``, ``lang_scores.parquet``) and their writers.

``topk``: test_uid, test_lang, checkpoint ('all' or the epoch as text), variant (dot | cosine),
direction (proponent | opponent), rank (1-based), train_uid, train_lang, score (float64).

``lang_scores``: test_uid, test_lang, checkpoint, variant, train_lang, score_sum (float64), n_train
(int64): the sum of the scores over the language's training examples, and how many there are.

Order and ties: rank by score, and between equal scores the smaller training uid first.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from lingtrace.io.atomic import atomic_path
from lingtrace.tracin.shards import Split

TOPK_SCHEMA = {
    "test_uid": pl.String,
    "test_lang": pl.String,
    "checkpoint": pl.String,
    "variant": pl.String,
    "direction": pl.String,
    "rank": pl.Int64,
    "train_uid": pl.String,
    "train_lang": pl.String,
    "score": pl.Float64,
}
LANG_SCHEMA = {
    "test_uid": pl.String,
    "test_lang": pl.String,
    "checkpoint": pl.String,
    "variant": pl.String,
    "train_lang": pl.String,
    "score_sum": pl.Float64,
    "n_train": pl.Int64,
}



def dictionary(indices: np.ndarray, values: list[str]) -> pa.DictionaryArray:
    """A string column given as indices into ``values`` (distinct): no string is copied per row."""
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32, copy=False)), pa.array(values, pa.string()))


def codes(values: list[str]) -> tuple[np.ndarray, list[str]]:
    """(index of each value among the distinct ones, the distinct values sorted)."""
    distinct = sorted(set(values))
    where = {value: i for i, value in enumerate(distinct)}
    return np.array([where[v] for v in values], dtype=np.int32), distinct


def topk_arrow(top: Mapping, labels: Mapping, train: Split, test: Split) -> pa.Table:
    """The running top-k results as rows of the topk contract, an Arrow table whose string columns are
    dictionary-encoded from row indices (building and writing 3 M rows of uids as strings took longer
    than the scoring; this way Parquet writes them as dictionary pages, read back as plain strings)."""
    if not top:
        return frame_to_arrow(pl.DataFrame(schema=TOPK_SCHEMA))
    keys = list(top)
    counts = [top[key][0].numel() for key in keys]
    part = np.repeat(np.arange(len(keys), dtype=np.int32), counts)
    test_row = np.concatenate([np.repeat(np.arange(top[key][0].shape[0]), top[key][0].shape[1]) for key in keys])
    rank = np.concatenate([np.tile(np.arange(1, top[key][0].shape[1] + 1), top[key][0].shape[0]) for key in keys])
    train_row = np.concatenate([top[key][1].cpu().numpy().reshape(-1) for key in keys])
    # + 0.0 turns -0.0 into 0.0, so equal scores compare equal in every sort downstream.
    score = np.concatenate([top[key][0].cpu().numpy().astype(np.float64).reshape(-1) for key in keys]) + 0.0
    test_lang, test_langs = codes(test.langs)
    train_lang, train_langs = codes(train.langs)
    slot_names, variants, directions = codes([str(labels[k[0]]) for k in keys]), codes([k[1] for k in keys]), \
        codes([k[2] for k in keys])  # fmt: skip
    columns = {
        "test_uid": dictionary(test_row, test.uids),
        "test_lang": dictionary(test_lang[test_row], test_langs),
        "checkpoint": dictionary(slot_names[0][part], slot_names[1]),
        "variant": dictionary(variants[0][part], variants[1]),
        "direction": dictionary(directions[0][part], directions[1]),
        "rank": pa.array(rank.astype(np.int64)),
        "train_uid": dictionary(train_row, train.uids),
        "train_lang": dictionary(train_lang[train_row], train_langs),
        "score": pa.array(score),
    }
    return pa.table(columns)


def frame_to_arrow(df: pl.DataFrame) -> pa.Table:
    return df.to_arrow()


def as_frame(table: pa.Table, schema: Mapping) -> pl.DataFrame:
    """An Arrow table of a contract as a polars frame with the contract's dtypes (strings, not categories)."""
    df = pl.from_arrow(table)
    return df.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def topk_table(top: Mapping, labels: Mapping, train: Split, test: Split) -> pl.DataFrame:
    """The running top-k results as rows of the topk contract."""
    return as_frame(topk_arrow(top, labels, train, test), TOPK_SCHEMA)


def lang_table(sums: Mapping, labels: Mapping, lang_names: list[str], n_train: np.ndarray, test: Split) -> pl.DataFrame:
    """The per-language sums as rows of the lang_scores contract."""
    parts = []
    n_langs = len(lang_names)
    for (slot, variant), values in sums.items():
        n_test = values.shape[0]
        parts.append(
            pl.DataFrame(
                {
                    "test_row": np.repeat(np.arange(n_test), n_langs),
                    "train_lang": np.tile(np.array(lang_names, dtype=object), n_test).astype(str),
                    "score_sum": values.cpu().numpy().reshape(-1) + 0.0,
                    "n_train": np.tile(n_train, n_test).astype(np.int64),
                }
            ).with_columns(checkpoint=pl.lit(labels[slot]), variant=pl.lit(variant))
        )
    if not parts or not n_langs:
        return pl.DataFrame(schema=LANG_SCHEMA)
    df = pl.concat(parts)
    df = df.with_columns(
        test_uid=pl.Series(test.uids, dtype=pl.String).gather(df["test_row"]),
        test_lang=pl.Series(test.langs, dtype=pl.String).gather(df["test_row"]),
    )
    return df.select([pl.col(name).cast(dtype) for name, dtype in LANG_SCHEMA.items()])


def write_table(df: pl.DataFrame | pa.Table, path) -> None:
    """Write an influence table atomically (a killed job leaves no file that looks complete). An Arrow
    table (a score shard's, dictionary-encoded) is written without its Arrow schema, so every reader
    gets plain string columns."""
    with atomic_path(path) as tmp:
        if isinstance(df, pa.Table):
            pq.write_table(df, tmp, compression="zstd", store_schema=False, write_statistics=False)
        else:
            df.write_parquet(tmp, compression="zstd", statistics=True)

