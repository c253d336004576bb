"""The removal test: does removing TracIn's top proponents hurt the examples they were proponents of?

For a seeded sample of scored test examples per language, their top proponents (per retraining seed,
from that seed's TracIn) are removed, up to a share of the training data, and the model retrained
(``remove-tracin``). The control removes as many random examples drawn with the same label x language
composition (``remove-random-{d}``, several draws), so a shift in class or language balance, which
moves every test example of that label, cannot pass for an effect. The *specific effect* is what the
removal does to the sampled test examples beyond what it does to the other test examples of the same
label and language:

    spec(x) = [loss_R(x) - loss_joint(x)] - mean over y (same label and language, not sampled) of the same

averaged over the sampled x, per removal run R and seed.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from lingtrace.analysis.stats import grouped_mean_interval
from lingtrace.errors import AnalysisError
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


def tracin_removal(topk: pl.DataFrame, sample: pl.DataFrame, m: int, variant: str, limit: int | None = None) -> list[str]:
    """The sampled test examples' top proponents (summed over checkpoints): rank 1 of every sampled
    example, then rank 2, ... up to rank ``m``, stopping before the set would exceed ``limit`` examples.
    Returns the removed training uids, sorted."""
    chosen = topk.filter(
        (pl.col("checkpoint") == "all")
        & (pl.col("variant") == variant)
        & (pl.col("direction") == "proponent")
        & (pl.col("rank") <= m)
        & pl.col("test_uid").is_in(sample["test_uid"].implode())
    ).sort("rank", "test_uid")
    removed: set[str] = set()
    for rank, group in chosen.group_by("rank", maintain_order=True):
        more = set(group["train_uid"].to_list()) - removed
        if limit is not None and len(removed) + len(more) > limit:
            break
        removed |= more
    return sorted(removed)


def composition(train: pl.DataFrame, uids: list[str]) -> pl.DataFrame:
    """How many of ``uids`` fall in each (lang, label) cell: columns lang, label, n."""
    return (
        train.filter(pl.col("uid").is_in(uids))
        .group_by("lang", "label")
        .agg(pl.len().alias("n"))
        .sort("lang", "label")
    )


def stratified_draw(train: pl.DataFrame, cells: pl.DataFrame, *seed_parts) -> list[str]:
    """A uniform draw from ``train`` (uid, lang, label) with exactly ``cells.n`` examples of each (lang,
    label) cell, seeded by ``seed_parts``. Returns the drawn uids, sorted."""
    drawn = []
    for lang, label, n in cells.select("lang", "label", "n").iter_rows():
        pool = sorted(train.filter((pl.col("lang") == lang) & (pl.col("label") == label))["uid"].to_list())
        if n > len(pool):
            raise AnalysisError(f"removal: cannot draw {n} examples of language {lang!r}, label {label}: the pool "
                                f"has {len(pool)}")  # fmt: skip
        rng = np.random.default_rng(stable_seed(*seed_parts, lang, label))
        drawn += [pool[i] for i in rng.choice(len(pool), size=n, replace=False)]
    return sorted(drawn)


def uniform_draw(pool: list[str], n: int, *seed_parts) -> list[str]:
    """``n`` uids drawn uniformly (seeded) from ``pool``, sorted."""
    pool = sorted(pool)
    rng = np.random.default_rng(stable_seed(*seed_parts))
    return sorted(pool[i] for i in rng.choice(len(pool), size=min(n, len(pool)), replace=False))


def loss_changes(predictions: pl.DataFrame, run: str, seeds: list[int] | None = None) -> pl.DataFrame:
    """Per seed and test example: the final loss of ``run`` minus that of ``joint`` (same seed). Columns
    seed, uid, lang, label, delta."""
    final = predictions.select("run", "seed", "uid", "lang", "label", "loss")
    joint = final.filter(pl.col("run") == "joint").select("seed", "uid", joint_loss="loss")
    changed = final.filter(pl.col("run") == run).join(joint, on=["seed", "uid"])
    if seeds is not None:
        changed = changed.filter(pl.col("seed").is_in(seeds))
    return changed.select("seed", "uid", "lang", "label", delta=pl.col("loss") - pl.col("joint_loss"))


def specific_effects(deltas: pl.DataFrame, sample: pl.DataFrame) -> pl.DataFrame:
    """Per seed and sampled test example: its loss change minus the mean change of the test examples of
    the same language and label that were not sampled. Columns seed, uid, lang, label, delta,
    baseline, specific (null where no such test example exists)."""
    sampled = pl.col("uid").is_in(sample["test_uid"].implode())
    others = (
        deltas.filter(~sampled)
        .group_by("seed", "lang", "label")
        .agg(baseline=pl.col("delta").mean())
    )
    return (
        deltas.filter(sampled)
        .join(others, on=["seed", "lang", "label"], how="left")
        .with_columns(specific=pl.col("delta") - pl.col("baseline"))
        .sort("seed", "uid")
    )


def removal_runs(predictions: pl.DataFrame) -> list[str]:
    return sorted(r for r in predictions["run"].unique().to_list() if r.startswith("remove-"))


def removal_effects(predictions: pl.DataFrame, sample: pl.DataFrame) -> pl.DataFrame:
    """Per removal run (remove-tracin, remove-random-{d}), seed and sampled test example: the raw loss
    change, the mean change of the other test examples of its label and language, and the specific
    effect. Columns run, kind (tracin | random), seed, uid, lang, label, delta, baseline, specific."""
    parts = [
        specific_effects(loss_changes(predictions, run), sample).with_columns(
            run=pl.lit(run), kind=pl.lit("tracin" if run == "remove-tracin" else "random"))
        for run in removal_runs(predictions)
    ]  # fmt: skip
    schema = {"run": pl.String, "kind": pl.String, "seed": pl.Int64, "uid": pl.String, "lang": pl.String,
              "label": pl.Int64, "delta": pl.Float64, "baseline": pl.Float64, "specific": pl.Float64}  # fmt: skip
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).select(list(schema)).cast(schema).sort("kind", "run", "seed", "uid")


def summarise_removal(effects: pl.DataFrame, n_boot: int, level: float, seed: int) -> dict:
    """The removal test in numbers: raw and specific effects of TracIn and of random removal, and their
    paired difference (per seed and sampled example, TracIn minus the mean over random draws), each a
    mean with an interval that resamples seeds, then sampled examples (random removal: each example's
    change averaged over the draws of its seed first)."""
    boot = {"n_boot": n_boot, "level": level, "seed": seed}

    def estimate(rows: pl.DataFrame, value: str) -> dict:
        rows = rows.drop_nulls(value)
        if rows.is_empty():
            return {"mean": None, "interval": [None, None], "seeds": 0, "examples": 0}
        out = grouped_mean_interval(rows, value, [], "uid", **boot).row(0, named=True)
        return {"mean": out[value], "interval": [out[f"{value}_lo"], out[f"{value}_hi"]], "seeds": out["n_seeds"],
                "examples": rows["uid"].n_unique()}  # fmt: skip

    tracin = effects.filter(pl.col("kind") == "tracin")
    random = effects.filter(pl.col("kind") == "random")
    # the draws of one seed share its joint model: average them per (seed, example) before resampling seeds
    draws = random.group_by("seed", "uid").agg(pl.col("delta").mean(), pl.col("specific").mean())
    paired = tracin.join(draws.rename({"specific": "random_specific"}), on=["seed", "uid"]).with_columns(
        difference=pl.col("specific") - pl.col("random_specific")
    )
    return {
        "tracin_effect": estimate(tracin, "delta")["mean"],
        "random_effect": estimate(draws, "delta")["mean"],
        "specific_effect": {
            "tracin": estimate(tracin, "specific"),
            "random": estimate(draws, "specific"),
            "difference": estimate(paired, "difference"),
        },
        "seeds": tracin["seed"].n_unique(),
        "random_draws": random["run"].n_unique(),
    }
