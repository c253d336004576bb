"""Reinforcing vs complementary cross-lingual influence, on parallel tasks (paper section 4.2).

For a test example x' of language t and its top-k proponents: own = the item_ids of the proponents
in language t, cross = the proponents in other languages. The reinforcing rate is the share of
cross whose item_id is in own (translations of an own-language proponent); 1 - rate is
complementary. Chance: a cross-lingual proponent z of language l would be a translation with
probability |own ∩ items(l, y)| / |items(l, y)| were it drawn at random from l's training items with
the test example's label y (proponents nearly always share the test label, so a draw from the whole
pool understates chance); that is averaged over cross like the rate. Examples with no own or no cross
proponent are skipped.
"""

from __future__ import annotations

import polars as pl

from lingtrace.analysis.shares import LIST_KEYS, top_k
from lingtrace.analysis.stats import context_keys, group_keys, grouped_mean_interval
from lingtrace.errors import AnalysisError


def example_reinforcement(topk: pl.DataFrame, train: pl.DataFrame, k: int, test: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per test example (and checkpoint, variant): reinforcing rate and chance rate of its cross-lingual proponents.

    ``train`` holds the run's training rows (uid, item_id, lang, label; e.g.
    ``lingtrace.finetuning.runs.training_set``). With ``test`` (uid, label), chance is label-matched:
    a cross-lingual proponent of language l is compared with a draw from l's training items *with the
    test example's label* (proponents nearly always share it, so a uniform draw understates chance).
    Columns: ctx..., test_uid, test_lang, checkpoint, variant, n_own, n_cross, reinforcing_rate,
    chance_rate, excess (rate - chance). Examples with n_own == 0 or n_cross == 0 are left out.
    """
    ctx = context_keys(topk)
    items = train.select(pl.col("uid").alias("train_uid"), "item_id")
    props = top_k(topk.filter(pl.col("direction") == "proponent"), k).join(items, on="train_uid", how="left")
    if props["item_id"].null_count():
        missing = props.filter(pl.col("item_id").is_null())["train_uid"].unique().sort().head(5).to_list()
        raise AnalysisError(f"proponents missing from the training rows given (first: {missing})")
    keys = [*ctx, *LIST_KEYS]
    is_own = pl.col("train_lang") == pl.col("test_lang")
    own = props.filter(is_own).select(*keys, "item_id").unique()
    cross = props.filter(~is_own)

    # |own ∩ items(l, y)| per example and language l, over |items(l, y)|: y the test example's label, or
    # any label (one pool per language) without test labels.
    labelled = test is not None
    pool = train.select(pl.col("lang").alias("train_lang"), "item_id",
                        (pl.col("label") if labelled else pl.lit(0)).alias("_label")).unique()  # fmt: skip
    pool_size = pool.group_by("train_lang", "_label").agg(pl.len().alias("pool_items"))
    test_label = (test.select(pl.col("uid").alias("test_uid"), pl.col("label").alias("_label")) if labelled
                  else props.select("test_uid").unique().with_columns(_label=pl.lit(0)))  # fmt: skip
    unlabelled = props.select("test_uid").unique().join(test_label, on="test_uid", how="anti")
    if unlabelled.height:
        raise AnalysisError(f"test examples with proponents but no row in the test split given "
                            f"(first: {unlabelled['test_uid'].sort().head(5).to_list()})")  # fmt: skip
    own = own.join(test_label, on="test_uid", how="left")
    hits = own.join(pool, on=["item_id", "_label"]).group_by(*keys, "train_lang").agg(pl.len().alias("own_in_pool"))

    per_proponent = (
        cross.join(own.select(*keys, "item_id").with_columns(_in_own=pl.lit(True)), on=[*keys, "item_id"], how="left")
        .join(hits, on=[*keys, "train_lang"], how="left")
        .join(test_label, on="test_uid", how="left")
        .join(pool_size, on=["train_lang", "_label"], how="left")
        .with_columns(
            reinforcing=pl.col("_in_own").is_not_null().cast(pl.Float64),
            # no training item of the test example's label in language l: a label-matched draw from l
            # cannot be a translation, so chance is 0 (not a missing value)
            chance=(pl.col("own_in_pool").fill_null(0) / pl.col("pool_items")).fill_null(0.0),
        )
    )
    n_own = own.group_by(keys).agg(pl.col("item_id").n_unique().alias("n_own"))
    return (
        per_proponent.group_by(keys)
        .agg(
            pl.len().alias("n_cross"),
            pl.col("reinforcing").mean().alias("reinforcing_rate"),
            pl.col("chance").mean().alias("chance_rate"),
        )
        .join(n_own, on=keys, how="inner")
        .with_columns(excess=pl.col("reinforcing_rate") - pl.col("chance_rate"))
        .select(*keys, "n_own", "n_cross", "reinforcing_rate", "chance_rate", "excess")
        .sort(keys)
    )


def reinforcement(
    topk: pl.DataFrame,
    train: pl.DataFrame,
    k: int,
    n_boot: int | None = None,
    level: float | None = None,
    seed: int | None = None,
    items: pl.DataFrame | None = None,
    test: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Mean reinforcing rate, chance rate and their difference per test language and pooled ('all');
    with ``test`` (uid, label) the chance is label-matched (see example_reinforcement).

    Columns: ctx..., checkpoint, variant, k, test_lang ('all' for every test language pooled),
    reinforcing_rate, chance_rate, excess, each with _lo and _hi (bootstrap over test examples),
    n_examples (examples with both own and cross-lingual proponents).
    """
    per_example = example_reinforcement(topk, train, k, test).with_columns(k=pl.lit(k, pl.Int64))
    ctx = context_keys(per_example)
    values = ["reinforcing_rate", "chance_rate", "excess"]
    by = [*ctx, "checkpoint", "variant", "k", "test_lang"]
    per_lang = grouped_mean_interval(per_example, values, by, "test_uid", n_boot, level, seed, items=items)
    pooled = grouped_mean_interval(
        per_example.with_columns(test_lang=pl.lit("all")), values, by, "test_uid", n_boot, level, seed, items=items
    )
    return pl.concat([per_lang, pooled]).sort(*group_keys(per_example), "checkpoint", "variant", "k", "test_lang")
