"""The language composition of the top-k most influential training examples (paper section 4.1).

For a test example x' and a direction (proponents: most positive scores; opponents: most negative),
the share of training language l is |{z in Top_k(x') : lang(z) = l}| / k; averaged over the test
examples of test language t it is S[t, l]. The cross-lingual share is 1 - S[t, t]; a zero-shot test
language (not a training language of the run) has no own-language data, so its cross-lingual share
is 1 by definition. Enrichment over chance is S[t, l] / (l's fraction of the run's training data).

Inputs are one run's ``topk.parquet`` and ``lang_scores.parquet`` (the training-language mix, from
``n_train``); context columns (task, run, seed), where present, are carried as grouping keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from lingtrace.analysis.stats import context_keys, group_keys, grouped_mean_interval
from lingtrace.errors import AnalysisError

#: The columns that name one ranked list of the top-k table.
LIST_KEYS = ["test_uid", "test_lang", "checkpoint", "variant", "direction"]


def _join(left: pl.DataFrame, right: pl.DataFrame, on: list[str], how: str = "inner") -> pl.DataFrame:
    """A join on ``on``, or a cross join when there are no keys."""
    return left.join(right, on=on, how=how) if on else left.join(right, how="cross")


def _ks(ks: int | Sequence[int]) -> list[int]:
    return [int(ks)] if isinstance(ks, int) else [int(k) for k in ks]


def training_mix(lang_scores: pl.DataFrame) -> pl.DataFrame:
    """Each training language's size in the run: columns ctx..., train_lang, n_train, train_fraction."""
    ctx = context_keys(lang_scores)
    mix = lang_scores.select(*ctx, "train_lang", "n_train").unique()
    if mix.select(*ctx, "train_lang").is_duplicated().any():
        raise AnalysisError("lang_scores gives more than one n_train for a training language of a run")
    total = pl.col("n_train").sum().over(ctx) if ctx else pl.col("n_train").sum()
    return mix.with_columns(train_fraction=pl.col("n_train") / total).sort(*ctx, "train_lang")


def for_each_k(per_example, topk: pl.DataFrame, lang_scores: pl.DataFrame, ks: int | Sequence[int]) -> pl.DataFrame:
    """``per_example(topk, lang_scores, k)`` for every k, stacked, with a ``k`` column."""
    return pl.concat([per_example(topk, lang_scores, k).with_columns(k=pl.lit(k, pl.Int64)) for k in _ks(ks)])


def top_k(topk: pl.DataFrame, k: int) -> pl.DataFrame:
    """The rows of rank <= k; k must lie between 1 and the K the table was kept at (its largest rank)."""
    largest = topk["rank"].max()
    if k < 1 or largest is None or k > largest:
        raise AnalysisError(f"k={k} is outside 1..K, and this top-k table keeps K={largest}")
    return topk.filter(pl.col("rank") <= k)


def mark_zero_shot(df: pl.DataFrame, mix: pl.DataFrame) -> pl.DataFrame:
    """Add ``zero_shot``: the test language is not a training language of the run."""
    ctx = context_keys(mix)
    seen = mix.select(*ctx, pl.col("train_lang").alias("test_lang"), pl.lit(True).alias("_seen"))
    return df.join(seen, on=[*ctx, "test_lang"], how="left").with_columns(
        zero_shot=pl.col("_seen").is_null()
    ).drop("_seen")


def example_shares(topk: pl.DataFrame, lang_scores: pl.DataFrame, k: int) -> pl.DataFrame:
    """Per ranked list (test example, checkpoint, variant, direction) and training language: share of its top-k.

    share = count / k (k is the list's length: the rows of rank <= k), zero for languages absent
    from the list; enrichment = share / train_fraction. Columns: ctx..., test_uid, test_lang,
    checkpoint, variant, direction, train_lang, zero_shot, n_train, train_fraction, count, share, enrichment.
    """
    ctx = context_keys(topk)
    mix = training_mix(lang_scores)
    top = top_k(topk, k)
    unknown = top.join(mix, on=[*ctx, "train_lang"], how="anti")
    if unknown.height:
        langs = sorted(unknown["train_lang"].unique().to_list())
        raise AnalysisError(f"top-k training languages {langs} have no n_train in lang_scores")
    lists = top.group_by(*ctx, *LIST_KEYS).agg(pl.len().alias("list_len"))
    counts = top.group_by(*ctx, *LIST_KEYS, "train_lang").agg(pl.len().alias("count"))
    grid = _join(lists, mix, ctx)
    shares = (
        grid.join(counts, on=[*ctx, *LIST_KEYS, "train_lang"], how="left")
        .with_columns(pl.col("count").fill_null(0).cast(pl.Int64))
        .with_columns(share=pl.col("count") / pl.col("list_len"))
        .with_columns(enrichment=pl.col("share") / pl.col("train_fraction"))
    )
    return (
        mark_zero_shot(shares, mix)
        .select(*ctx, *LIST_KEYS, "train_lang", "zero_shot", "n_train", "train_fraction", "count", "share",
                "enrichment")
        .sort(*ctx, *LIST_KEYS, "train_lang")
    )


def example_crosslingual_shares(topk: pl.DataFrame, lang_scores: pl.DataFrame, k: int) -> pl.DataFrame:
    """Per ranked list: own_share = share of its top-k in the test language, crosslingual_share = 1 - own_share.

    Columns: ctx..., test_uid, test_lang, checkpoint, variant, direction, zero_shot, own_share,
    crosslingual_share (1 for a zero-shot test language).
    """
    ctx = context_keys(topk)
    own = top_k(topk, k).group_by(*ctx, *LIST_KEYS).agg(
        own_share=(pl.col("train_lang") == pl.col("test_lang")).mean()
    )
    return (
        mark_zero_shot(own, training_mix(lang_scores))
        .with_columns(crosslingual_share=1.0 - pl.col("own_share"))
        .select(*ctx, *LIST_KEYS, "zero_shot", "own_share", "crosslingual_share")
        .sort(*ctx, *LIST_KEYS)
    )


def language_shares(
    topk: pl.DataFrame,
    lang_scores: pl.DataFrame,
    ks: int | Sequence[int],
    n_boot: int | None = None,
    level: float | None = None,
    seed: int | None = None,
    items: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """S[t, l] per test language, checkpoint, variant, direction and k: mean share of the top-k from l, and enrichment.

    Columns: ctx..., test_lang, checkpoint, variant, direction, k, train_lang, zero_shot, n_train,
    train_fraction, share, share_lo, share_hi, enrichment, enrichment_lo, enrichment_hi, n_examples
    (intervals: percentile bootstrap over the test examples at ``level``).
    """
    ctx = context_keys(topk)
    by = [*ctx, "test_lang", "checkpoint", "variant", "direction", "k", "train_lang", "zero_shot", "n_train",
          "train_fraction"]
    per_example = for_each_k(example_shares, topk, lang_scores, ks)
    return grouped_mean_interval(per_example, ["share", "enrichment"], by, "test_uid", n_boot, level, seed, items=items)


def crosslingual_shares(
    topk: pl.DataFrame,
    lang_scores: pl.DataFrame,
    ks: int | Sequence[int],
    n_boot: int | None = None,
    level: float | None = None,
    seed: int | None = None,
    items: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """1 - S[t, t] per test language, checkpoint, variant, direction and k (1 for zero-shot test languages).

    Columns: ctx..., test_lang, checkpoint, variant, direction, k, zero_shot, crosslingual_share,
    crosslingual_share_lo, crosslingual_share_hi, own_share, own_share_lo, own_share_hi, n_examples.
    """
    ctx = context_keys(topk)
    by = [*ctx, "test_lang", "checkpoint", "variant", "direction", "k", "zero_shot"]
    per_example = for_each_k(example_crosslingual_shares, topk, lang_scores, ks)
    return grouped_mean_interval(
        per_example, ["crosslingual_share", "own_share"], by, "test_uid", n_boot, level, seed, items=items
    )


def zero_shot_shares(
    topk: pl.DataFrame,
    lang_scores: pl.DataFrame,
    lang: str,
    ks: int | Sequence[int],
    n_boot: int | None = None,
    level: float | None = None,
    seed: int | None = None,
    items: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """For a ``without-{lang}`` run: the language shares of test language ``lang``, which it never trained on.

    Columns as ``language_shares``; raises if ``lang`` is a training language of the run or not a test language.
    """
    if lang in training_mix(lang_scores)["train_lang"].to_list():
        raise AnalysisError(f"{lang!r} is a training language of this run, so it is not zero-shot here")
    if lang not in topk["test_lang"].unique().to_list():
        raise AnalysisError(f"{lang!r} is not a test language of this run")
    rows = topk.filter(pl.col("test_lang") == lang)
    return language_shares(rows, lang_scores, ks, n_boot, level, seed, items=items)


def _own_language_shares(topk: pl.DataFrame, lang_scores: pl.DataFrame, lang: str, ks: list[int]) -> pl.DataFrame:
    """Per ranked list of test language ``lang`` and k: its own-language share, enrichment and training fraction."""
    rows = topk.filter(pl.col("test_lang") == lang).drop(group_keys(topk))
    scores = lang_scores.drop(group_keys(lang_scores))
    if lang not in training_mix(scores)["train_lang"].to_list():
        raise AnalysisError(f"{lang!r} is not a training language of this run")
    return pl.concat(
        [
            example_shares(rows, scores, k)
            .filter(pl.col("train_lang") == lang)
            .select(*context_keys(rows), *LIST_KEYS, "train_fraction", pl.col("share").alias("own_share"),
                    "enrichment", k=pl.lit(k, pl.Int64))
            for k in ks
        ]
    )


def self_reliance(
    joint_topk: pl.DataFrame,
    joint_lang_scores: pl.DataFrame,
    boost_topk: pl.DataFrame,
    boost_lang_scores: pl.DataFrame,
    lang: str,
    ks: int | Sequence[int],
    n_boot: int | None = None,
    level: float | None = None,
    seed: int | None = None,
    items: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Test language ``lang``'s reliance on its own data in the ``boost-{lang}`` run against the ``joint`` run.

    Own-language share and enrichment of both runs, and their paired differences (boost - joint) over
    the test examples both runs share. Columns: test_lang, checkpoint, variant, direction, k,
    joint_train_fraction, boost_train_fraction, then {joint,boost,delta}_own_share and
    {joint,boost,delta}_enrichment, each with _lo and _hi, and n_examples.
    """
    ks = _ks(ks)
    joint = _own_language_shares(joint_topk, joint_lang_scores, lang, ks)
    boost = _own_language_shares(boost_topk, boost_lang_scores, lang, ks)
    keys = [*context_keys(joint), *LIST_KEYS, "k"]  # paired by seed and test example
    paired = joint.join(boost, on=keys, how="inner", suffix="_boost").select(
        *keys,
        pl.col("train_fraction").alias("joint_train_fraction"),
        pl.col("train_fraction_boost").alias("boost_train_fraction"),
        pl.col("own_share").alias("joint_own_share"),
        pl.col("own_share_boost").alias("boost_own_share"),
        (pl.col("own_share_boost") - pl.col("own_share")).alias("delta_own_share"),
        pl.col("enrichment").alias("joint_enrichment"),
        pl.col("enrichment_boost").alias("boost_enrichment"),
        (pl.col("enrichment_boost") - pl.col("enrichment")).alias("delta_enrichment"),
    )
    values = [f"{run}_{what}" for what in ("own_share", "enrichment") for run in ("joint", "boost", "delta")]
    by = ["test_lang", "checkpoint", "variant", "direction", "k", "joint_train_fraction", "boost_train_fraction"]
    return grouped_mean_interval(paired, values, by, "test_uid", n_boot, level, seed, items=items)
