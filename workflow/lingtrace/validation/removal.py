"""The removal test: does removing TracIn's top proponents hurt more than removing random examples?

For a seeded sample of scored test examples per language, the union of their top-m proponents is
removed and the model retrained (``remove-tracin``); separately, as many random training examples
are removed (``remove-random``). The effect is the change in the sampled test examples' loss against
``joint`` of the same seed.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from lingtrace.seeding import stable_seed


def sample_test_examples(scored: pl.DataFrame, per_lang: int, seed: int) -> pl.DataFrame:
    """``per_lang`` test examples of each language, drawn with a seeded generator from the scored
    ones (``scored`` has test_uid, test_lang). Columns: test_uid, test_lang."""
    parts = []
    for lang in sorted(scored["test_lang"].unique().to_list()):
        uids = sorted(scored.filter(pl.col("test_lang") == lang)["test_uid"].unique().to_list())
        rng = np.random.default_rng(stable_seed(seed, "removal-sample", lang))
        pick = rng.choice(len(uids), size=min(per_lang, len(uids)), replace=False)
        parts.append(pl.DataFrame({"test_uid": [uids[i] for i in sorted(pick)], "test_lang": lang}))
    return pl.concat(parts)


def tracin_removal(topk: pl.DataFrame, sample: pl.DataFrame, m: int, variant: str) -> list[str]:
    """Union of the top-m proponents (summed over checkpoints) of the sampled test examples."""
    chosen = topk.filter(
        (pl.col("checkpoint") == "all")
        & (pl.col("variant") == variant)
        & (pl.col("direction") == "proponent")
        & (pl.col("rank") <= m)
        & pl.col("test_uid").is_in(sample["test_uid"].implode())
    )
    return sorted(chosen["train_uid"].unique().to_list())


def random_removal(pool: list[str], n: int, seed: int) -> list[str]:
    """``n`` training uids drawn uniformly (seeded) from the run's pool."""
    pool = sorted(pool)
    rng = np.random.default_rng(stable_seed(seed, "removal-random"))
    return sorted(pool[i] for i in rng.choice(len(pool), size=min(n, len(pool)), replace=False))


def removal_effects(predictions: pl.DataFrame, sample: pl.DataFrame) -> pl.DataFrame:
    """Per removal kind and seed: mean over the sampled test examples of (loss after removal minus
    loss of joint). ``predictions`` has run, seed, uid, loss (final checkpoints)."""
    chosen = predictions.filter(pl.col("uid").is_in(sample["test_uid"].implode()))
    joint = chosen.filter(pl.col("run") == "joint").select("seed", "uid", joint_loss="loss")
    removed = chosen.filter(pl.col("run").str.starts_with("remove-")).with_columns(
        kind=pl.col("run").str.strip_prefix("remove-")
    )
    return (
        removed.join(joint, on=["seed", "uid"])
        .group_by("kind", "seed")
        .agg(effect=(pl.col("loss") - pl.col("joint_loss")).mean(), n=pl.len())
        .sort("kind", "seed")
    )


def summarise_removal(effects: pl.DataFrame) -> dict:
    """tracin_effect and random_effect (means over seeds), their difference, and their ratio (only
    when random removal raised the loss: a ratio over a zero or negative effect means nothing)."""
    mean = {row["kind"]: row["effect"] for row in effects.group_by("kind").agg(pl.col("effect").mean()).to_dicts()}
    tracin, random = mean.get("tracin"), mean.get("random")
    both = tracin is not None and random is not None
    return {
        "tracin_effect": tracin,
        "random_effect": random,
        "difference": tracin - random if both else None,
        "ratio": tracin / random if both and random > 0 else None,
        "seeds": effects["seed"].n_unique(),
    }
