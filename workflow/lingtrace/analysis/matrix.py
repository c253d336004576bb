"""The language influence matrix: how much each training language's data moves each test language.

M[t, l] = mean over the test examples x' of language t of score_sum(x', l) / n_train(l), i.e. the
mean TracIn influence of one training example of language l on a test example of language t. Unlike
the top-k shares it uses every training example (``lang_scores.parquet`` holds the exact sums), and
it is not inflated by a language's training mass. Computed per checkpoint and variant ('dot' raw,
'cosine' normalised).
"""

from __future__ import annotations

import polars as pl

from lingtrace.analysis.shares import mark_zero_shot, training_mix
from lingtrace.analysis.stats import context_keys, group_keys, grouped_mean_interval


def example_influence(lang_scores: pl.DataFrame) -> pl.DataFrame:
    """Per test example, checkpoint, variant and training language: influence = score_sum / n_train.

    Columns: ctx..., test_uid, test_lang, checkpoint, variant, train_lang, zero_shot, influence.
    """
    ctx = context_keys(lang_scores)
    return (
        mark_zero_shot(lang_scores, training_mix(lang_scores))
        .select(
            *ctx, "test_uid", "test_lang", "checkpoint", "variant", "train_lang", "zero_shot",
            (pl.col("score_sum") / pl.col("n_train")).alias("influence"),
        )
        .sort(*ctx, "test_uid", "checkpoint", "variant", "train_lang")
    )


def influence_matrix(
    lang_scores: pl.DataFrame,
    n_boot: int | None = None,
    level: float | None = None,
    seed: int | None = None,
    items: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """M[t, l] per checkpoint and variant, with a bootstrap interval over test examples and a row-scaled copy.

    Columns: ctx..., checkpoint, variant, test_lang, train_lang, zero_shot, mean_influence,
    mean_influence_lo, mean_influence_hi, n_examples, relative_influence (M[t, l] divided by the
    largest |M[t, l']| of its row: 1 marks the most influential training language of test language t).
    """
    ctx = context_keys(lang_scores)
    by = [*ctx, "checkpoint", "variant", "test_lang", "train_lang", "zero_shot"]
    matrix = grouped_mean_interval(
        example_influence(lang_scores).rename({"influence": "mean_influence"}),
        "mean_influence", by, "test_uid", n_boot, level, seed, items=items,
    )
    row = [*group_keys(lang_scores), "checkpoint", "variant", "test_lang"]
    return matrix.with_columns(
        relative_influence=pl.col("mean_influence") / pl.col("mean_influence").abs().max().over(row)
    ).sort(*group_keys(lang_scores), "checkpoint", "variant", "test_lang", "train_lang")
