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



def topk_table(top: Mapping, labels: Mapping, train: Split, test: Split) -> pl.DataFrame:
    """The running top-k results as rows of the topk contract."""
    parts = []
    for (slot, variant, direction), (values, positions) in top.items():
        n_test, k = values.shape
        parts.append(
            pl.DataFrame(
                {
                    "test_row": np.repeat(np.arange(n_test), k),
                    "rank": np.tile(np.arange(1, k + 1), n_test),
                    "train_row": positions.cpu().numpy().reshape(-1),
                    # + 0.0 turns -0.0 into 0.0, so equal scores compare equal in every sort downstream.
                    "score": values.cpu().numpy().astype(np.float64).reshape(-1) + 0.0,
                }
            ).with_columns(checkpoint=pl.lit(labels[slot]), variant=pl.lit(variant), direction=pl.lit(direction))
        )
    if not parts:
        return pl.DataFrame(schema=TOPK_SCHEMA)
    df = pl.concat(parts)
    test_uids, test_langs = pl.Series(test.uids, dtype=pl.String), pl.Series(test.langs, dtype=pl.String)
    train_uids, train_langs = pl.Series(train.uids, dtype=pl.String), pl.Series(train.langs, dtype=pl.String)
    df = df.with_columns(
        test_uid=test_uids.gather(df["test_row"]),
        test_lang=test_langs.gather(df["test_row"]),
        train_uid=train_uids.gather(df["train_row"]),
        train_lang=train_langs.gather(df["train_row"]),
    )
    return df.select([pl.col(name).cast(dtype) for name, dtype in TOPK_SCHEMA.items()])


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


def write_table(df: pl.DataFrame, path) -> None:
    """Write an influence table atomically (a killed job leaves no file that looks complete)."""
    with atomic_path(path) as tmp:
        df.write_parquet(tmp, compression="zstd", statistics=True)

