"""Did every seed train, and from which checkpoint on is a run trained? Read off the metrics table.

A seed that did not converge (stuck on a plateau, or diverged) changes every average it enters, and
an early checkpoint that is barely trained mixes "not yet trained" into the progression over epochs.
Both are marked here rather than silently averaged:

- ``seed_convergence``: per run, seed and fine-tuning language, the final accuracy, its distance to the
  median over the run's seeds, and ``converged``: every fine-tuning language within ``tolerance`` of
  its median;
- ``trained_checkpoints``: per run and seed, the checkpoints whose mean accuracy over the fine-tuning
  languages has reached ``fraction`` of the way from chance to the run's final accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from lingtrace.finetuning.evaluate import final_checkpoint


def seed_convergence(metrics: pl.DataFrame, train_langs: Sequence[str], tolerance: float) -> pl.DataFrame:
    """Columns: run, seed, lang, accuracy, median, deviation, converged (of the (run, seed): every
    fine-tuning language within ``tolerance`` of the run's median)."""
    final = final_checkpoint(metrics).filter(pl.col("lang").is_in(list(train_langs)))
    per_lang = final.with_columns(median=pl.col("accuracy").median().over("run", "lang")).with_columns(
        deviation=(pl.col("accuracy") - pl.col("median")).abs()
    )
    flags = per_lang.group_by("run", "seed").agg(converged=(pl.col("deviation") <= tolerance + 1e-12).all())
    return (
        per_lang.join(flags, on=["run", "seed"])
        .select("run", "seed", "lang", "accuracy", "median", "deviation", "converged")
        .sort("run", "seed", "lang")
    )


def seed_spread(metrics: pl.DataFrame, train_langs: Sequence[str]) -> pl.DataFrame:
    """Per run and fine-tuning language: the final accuracy's range over seeds (max - min), and the seeds."""
    final = final_checkpoint(metrics).filter(pl.col("lang").is_in(list(train_langs)))
    return (
        final.group_by("run", "lang")
        .agg(spread=pl.col("accuracy").max() - pl.col("accuracy").min(), mean=pl.col("accuracy").mean(),
             seeds=pl.len())  # fmt: skip
        .sort("run", "lang")
    )


def trained_checkpoints(metrics: pl.DataFrame, train_langs: Sequence[str], chance: float, fraction: float) -> pl.DataFrame:
    """Columns: run, seed, checkpoint (as text, like the influence tables), mean_accuracy, trained."""
    seen = metrics.filter(pl.col("lang").is_in(list(train_langs)))
    mean = seen.group_by("run", "seed", "checkpoint").agg(mean_accuracy=pl.col("accuracy").mean())
    last = final_checkpoint(mean).select("run", "seed", final=pl.col("mean_accuracy"))
    bar = pl.lit(chance) + fraction * (pl.col("final") - chance)
    return (
        mean.join(last, on=["run", "seed"])
        .with_columns(trained=pl.col("mean_accuracy") >= bar - 1e-12, checkpoint=pl.col("checkpoint").cast(pl.String))
        .select("run", "seed", "checkpoint", "mean_accuracy", "trained")
        .sort("run", "seed", "checkpoint")
    )
