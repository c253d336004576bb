"""The cross-lingual share over fine-tuning (paper section 4.3): does reliance on other languages grow?

Uses the per-checkpoint top-k (checkpoint != 'all'): each checkpoint's own TracIn term
eta_c <g_c(z), g_c(x')>. The slope is the least-squares slope of the mean cross-lingual share against
the epoch number. As every test example is ranked at every checkpoint, that slope equals the mean of
the per-example slopes, which is what the bootstrap resamples.
"""

from __future__ import annotations

import polars as pl

from lingtrace.analysis.shares import crosslingual_shares, example_crosslingual_shares
from lingtrace.analysis.stats import context_keys, group_keys, grouped_mean_interval

ALL = "all"


def _per_checkpoint(df: pl.DataFrame) -> pl.DataFrame:
    """The per-checkpoint rows, with the epoch as a number."""
    return df.filter(pl.col("checkpoint") != ALL).with_columns(epoch=pl.col("checkpoint").cast(pl.Float64))


def share_by_checkpoint(
    topk: pl.DataFrame,
    lang_scores: pl.DataFrame,
    k: int,
    n_boot: int | None = None,
    level: float | None = None,
    seed: int | None = None,
    items: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The cross-lingual share of each test language at each checkpoint (not 'all'), in epoch order.

    Columns: those of ``shares.crosslingual_shares`` plus ``epoch`` (the checkpoint as a number).
    """
    rows = topk.filter(pl.col("checkpoint") != ALL)
    return _per_checkpoint(crosslingual_shares(rows, lang_scores, k, n_boot, level, seed, items=items)).sort(
        *group_keys(topk), "variant", "direction", "test_lang", "epoch"
    )


def example_slopes(topk: pl.DataFrame, lang_scores: pl.DataFrame, k: int) -> pl.DataFrame:
    """Per test example, variant and direction: the least-squares slope of its cross-lingual share on the epoch.

    Columns: ctx..., test_uid, test_lang, variant, direction, zero_shot, n_checkpoints, slope (null with
    fewer than two checkpoints).
    """
    ctx = context_keys(topk)
    per_ckpt = _per_checkpoint(example_crosslingual_shares(topk.filter(pl.col("checkpoint") != ALL), lang_scores, k))
    x = pl.col("epoch") - pl.col("epoch").mean()
    y = pl.col("crosslingual_share") - pl.col("crosslingual_share").mean()
    return (
        per_ckpt.group_by(*ctx, "test_uid", "test_lang", "variant", "direction", "zero_shot")
        .agg(
            pl.len().alias("n_checkpoints"),
            pl.when(pl.len() >= 2).then((x * y).sum() / (x * x).sum()).alias("slope"),
        )
        .sort(*ctx, "variant", "direction", "test_lang", "test_uid")
    )


def share_slopes(
    topk: pl.DataFrame,
    lang_scores: pl.DataFrame,
    k: int,
    n_boot: int | None = None,
    level: float | None = None,
    seed: int | None = None,
    items: pl.DataFrame | None = None,
    trained: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Slope of the cross-lingual share per epoch, per test language and pooled over the seen ones ('all').

    With ``trained`` (run, seed, checkpoint, trained: ``convergence.trained_checkpoints``), only the
    trained checkpoints of each run and seed count, so the slope measures a change in sharing, not a
    model still learning the task. Columns: ctx..., variant, direction, k, test_lang ('all': every
    seen, i.e. not zero-shot, test language), zero_shot, slope, slope_lo, slope_hi (bootstrap over
    seeds, then test items), n_examples, n_seeds.
    """
    if trained is not None:
        keys = [c for c in ("run", "seed") if c in topk.columns] + ["checkpoint"]
        kept = trained.filter(pl.col("trained")).select(keys)
        topk = topk.join(kept, on=keys, how="semi")
    ctx = context_keys(topk)
    if topk.filter(pl.col("checkpoint") != ALL).is_empty():  # no trained checkpoint: no slope to measure
        return pl.DataFrame(schema={**{c: topk.schema[c] for c in ctx}, "variant": pl.String, "direction": pl.String,
                                    "k": pl.Int64, "test_lang": pl.String, "zero_shot": pl.Boolean,
                                    "slope": pl.Float64, "slope_lo": pl.Float64, "slope_hi": pl.Float64,
                                    "n_examples": pl.UInt32, "n_seeds": pl.UInt32})  # fmt: skip
    slopes = example_slopes(topk, lang_scores, k).drop_nulls("slope").with_columns(k=pl.lit(k, pl.Int64))
    ctx = context_keys(slopes)
    by = [*ctx, "variant", "direction", "k", "test_lang", "zero_shot"]
    per_lang = grouped_mean_interval(slopes, "slope", by, "test_uid", n_boot, level, seed, items=items)
    pooled = grouped_mean_interval(
        slopes.filter(~pl.col("zero_shot")).with_columns(test_lang=pl.lit(ALL)), "slope", by, "test_uid",
        n_boot, level, seed, items=items,
    )
    return pl.concat([per_lang, pooled]).sort(*group_keys(slopes), "variant", "direction", "test_lang")
