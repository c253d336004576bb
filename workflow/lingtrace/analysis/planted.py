"""Does the measured influence recover the planted similarity of the synthetic babel languages?

Spearman correlation, over the off-diagonal (test language != training language) pairs of a measured
test x training language table, between the measured value and the planted similarity of the pair
(``planted_similarity.parquet``: lang_a = test language, lang_b = training language). Zero-shot test
rows take part like any other.
"""

from __future__ import annotations

import polars as pl

from lingtrace.analysis.stats import context_keys, spearman
from lingtrace.errors import AnalysisError


def planted_pairs(table: pl.DataFrame, planted: pl.DataFrame, value: str) -> pl.DataFrame:
    """The off-diagonal pairs of ``table`` (test_lang, train_lang, ``value``) with their planted similarity.

    ``table`` must hold one row per pair (and context); columns: ctx..., test_lang, train_lang,
    ``value``, similarity. Pairs the planted table does not cover are left out.
    """
    ctx = context_keys(table)
    pairs = table.filter(pl.col("test_lang") != pl.col("train_lang")).select(*ctx, "test_lang", "train_lang", value)
    if pairs.select(*ctx, "test_lang", "train_lang").is_duplicated().any():
        raise AnalysisError(
            "more than one value per (test_lang, train_lang): select one checkpoint, variant, direction and k first"
        )
    similarity = planted.select(
        pl.col("lang_a").alias("test_lang"), pl.col("lang_b").alias("train_lang"), "similarity"
    )
    return pairs.join(similarity, on=["test_lang", "train_lang"], how="inner").sort(*ctx, "test_lang", "train_lang")


def planted_spearman(table: pl.DataFrame, planted: pl.DataFrame, value: str) -> pl.DataFrame:
    """Spearman's rho (and p-value) of ``value`` against the planted similarity over the off-diagonal pairs.

    Columns: ctx..., measure (= ``value``), spearman, p_value, n_pairs.
    """
    pairs = planted_pairs(table, planted, value)
    ctx = context_keys(pairs)
    groups = pairs.partition_by(ctx, as_dict=True, maintain_order=True) if ctx else {(): pairs}
    rows = []
    for key, group in groups.items():
        rho, p = spearman(group[value].to_numpy(), group["similarity"].to_numpy())
        rows.append({**dict(zip(ctx, key)), "measure": value, "spearman": rho, "p_value": p, "n_pairs": group.height})
    schema = {**{c: pairs.schema[c] for c in ctx}, "measure": pl.String, "spearman": pl.Float64,
              "p_value": pl.Float64, "n_pairs": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


def influence_vs_planted(
    matrix: pl.DataFrame,
    planted: pl.DataFrame,
    *,
    variant: str,
    value: str = "mean_influence",
    checkpoint: str = "all",
) -> pl.DataFrame:
    """Spearman of an influence-matrix column (default: mean influence per example, checkpoint 'all').

    ``matrix`` is ``matrix.influence_matrix``'s output. Columns: ctx..., variant, checkpoint, measure,
    spearman, p_value, n_pairs.
    """
    rows = matrix.filter((pl.col("variant") == variant) & (pl.col("checkpoint") == checkpoint))
    return planted_spearman(rows, planted, value).with_columns(
        variant=pl.lit(variant), checkpoint=pl.lit(checkpoint)
    ).select(*context_keys(matrix), "variant", "checkpoint", "measure", "spearman", "p_value", "n_pairs")


def share_vs_planted(
    shares: pl.DataFrame,
    planted: pl.DataFrame,
    k: int,
    *,
    variant: str,
    value: str = "share",
    checkpoint: str = "all",
    direction: str = "proponent",
) -> pl.DataFrame:
    """Spearman of a top-k share column (``share`` or ``enrichment``) against the planted similarity.

    ``shares`` is ``shares.language_shares``'s output. Columns: ctx..., variant, checkpoint, direction,
    k, measure, spearman, p_value, n_pairs.
    """
    rows = shares.filter(
        (pl.col("variant") == variant)
        & (pl.col("checkpoint") == checkpoint)
        & (pl.col("direction") == direction)
        & (pl.col("k") == k)
    )
    return planted_spearman(rows, planted, value).with_columns(
        variant=pl.lit(variant), checkpoint=pl.lit(checkpoint), direction=pl.lit(direction), k=pl.lit(k, pl.Int64)
    ).select(*context_keys(shares), "variant", "checkpoint", "direction", "k", "measure", "spearman", "p_value",
             "n_pairs")
