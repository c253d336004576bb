"""Merge the influence tables of score shards into a run's two tables, as one unsharded run gives them.

``topk.parquet``: test_uid, test_lang, checkpoint ('all' or the epoch as text), variant (dot | cosine),
direction (proponent | opponent), rank (1-based), train_uid, train_lang, score (float64).

``lang_scores.parquet``: test_uid, test_lang, checkpoint, variant, train_lang, score_sum (float64),
n_train (int64): the sum of the scores over the language's training examples, and how many there are.

Each shard scored one slice of the training examples against every test example (scoring.py). The
top-k of the whole set is the top-k of the union of the shards' top-k lists, re-ranked with the order
the scoring kernel uses (score, then the smaller train uid first), so the merged table is exactly the
unsharded one (given the same scores: see scoring.py on BLAS rounding). Language sums and counts are
added across shards, the sums in float64 and in sorted order (independent of the order the shards are
listed in); the rounding of those few additions is all the merge adds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import polars as pl

from lingtrace.errors import ArtifactError
from lingtrace.tracin.tables import LANG_SCHEMA, TOPK_SCHEMA, write_table

TOPK_GROUP = ["test_uid", "checkpoint", "variant", "direction"]
LANG_KEY = ["test_uid", "test_lang", "checkpoint", "variant", "train_lang"]
RESCORE = "Rerun the score_shard job that writes it (delete the file, then run snakemake again)."


def read_shard_table(path: str | os.PathLike, schema: dict) -> pl.DataFrame:
    """One shard's table, checked against ``schema``; any problem is an ArtifactError naming the file."""
    try:
        df = pl.read_parquet(path)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: influence shard not found. {RESCORE}") from None
    except Exception as err:  # polars raises several kinds for a truncated or foreign file
        raise ArtifactError(
            f"{path}: not a readable influence shard ({type(err).__name__}: {err}). {RESCORE}"
        ) from None
    wrong = {name: str(df.schema.get(name)) for name, dtype in schema.items() if df.schema.get(name) != dtype}
    if wrong:
        expected = {name: str(schema[name]) for name in wrong}
        raise ArtifactError(
            f"{path}: influence shard has wrong or missing columns {wrong} (expected {expected}). {RESCORE}"
        )
    return df.select(list(schema))


def distinct_paths(paths: Sequence, what: str) -> list[str]:
    paths = [str(p) for p in paths]
    if not paths:
        raise ArtifactError(f"no {what} shard files to merge")
    seen: dict[str, str] = {}
    for path in paths:
        real = os.path.realpath(path)
        if real in seen:
            raise ArtifactError(f"{what} shard {path} is given twice (also as {seen[real]}); each shard once")
        seen[real] = path
    return paths


def check_same_tests(frames: Sequence[pl.DataFrame], paths: Sequence[str]) -> None:
    """Every shard must have scored the same test examples at the same checkpoints and variants."""
    def coverage(df: pl.DataFrame) -> pl.DataFrame:
        return df.select("test_uid", "checkpoint", "variant").unique().sort(pl.all())

    scored = [(df, path) for df, path in zip(frames, paths) if len(df)]  # an empty train shard scores nothing
    if not scored:
        return
    reference, reference_path = coverage(scored[0][0]), scored[0][1]
    for df, path in scored[1:]:
        if not coverage(df).equals(reference):
            raise ArtifactError(
                f"influence shards {reference_path} and {path} cover different test examples, checkpoints or variants; "
                "all shards of a run must be scored against the same test gradients with the same config"
            )


def merge_topk(frames: Sequence[pl.DataFrame], top_k: int) -> pl.DataFrame:
    """Re-select the top ``top_k`` per (test_uid, checkpoint, variant, direction) from the shards' rows.

    Best first: the largest score for proponents, the smallest for opponents; equal scores by smaller
    train_uid. Rows come out sorted by test_uid, checkpoint, variant, direction, rank.
    """
    # One sort for both directions: on -score for proponents. "+ 0.0" turns -0.0 into 0.0, so that
    # equal scores sort as equal and the uid decides.
    best_first = pl.when(pl.col("direction") == "proponent").then(-pl.col("score")).otherwise(pl.col("score")) + 0.0
    ranked = (
        pl.concat(frames)
        .lazy()
        .with_columns(score=pl.col("score") + 0.0, best_first=best_first)
        .sort(TOPK_GROUP + ["best_first", "train_uid"])
        .with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(TOPK_GROUP))
        .collect()
    )
    check_no_overlap(ranked)
    return ranked.filter(pl.col("rank") <= top_k).select(list(TOPK_SCHEMA))


def check_no_overlap(ranked: pl.DataFrame) -> None:
    """No train example in two shards. Its copies would score the same, so they sit next to each other."""
    key = TOPK_GROUP + ["train_uid"]
    repeated = ranked.select(pl.all_horizontal([pl.col(c) == pl.col(c).shift(1) for c in key]).fill_null(False))
    if repeated.to_series().any():
        row = ranked.filter(repeated.to_series()).row(0, named=True)
        raise ArtifactError(
            f"train example {row['train_uid']} appears in more than one shard (test {row['test_uid']}); "
            "the shards of a run must split the training examples without overlap"
        )


def merge_lang(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Add the shards' per-language score sums and counts; rows sorted by the key columns."""
    df = pl.concat(frames)
    # Summed in sorted order, so the result does not depend on the order the shards are listed in.
    merged = df.group_by(LANG_KEY).agg(pl.col("score_sum").sort().sum(), pl.col("n_train").sum())
    return merged.sort(LANG_KEY).select(list(LANG_SCHEMA))


def merge_influence(topk_shard_paths: Sequence, lang_shard_paths: Sequence, top_k: int, out_topk, out_lang) -> None:
    """Merge the score shards' tables into ``out_topk`` and ``out_lang`` (written atomically)."""
    if not isinstance(top_k, int) or top_k < 1:
        raise ArtifactError(f"top_k must be a positive integer, got {top_k!r}")
    topk_paths = distinct_paths(topk_shard_paths, "topk")
    lang_paths = distinct_paths(lang_shard_paths, "lang_scores")
    if len(topk_paths) != len(lang_paths):
        raise ArtifactError(
            f"{len(topk_paths)} topk shards but {len(lang_paths)} lang_scores shards; one of each per shard"
        )
    lang_frames = [read_shard_table(p, LANG_SCHEMA) for p in lang_paths]
    check_same_tests(lang_frames, lang_paths)
    write_table(merge_lang(lang_frames), out_lang)
    topk_frames = [read_shard_table(p, TOPK_SCHEMA) for p in topk_paths]
    write_table(merge_topk(topk_frames, top_k), out_topk)
