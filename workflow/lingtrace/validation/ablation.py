"""Language ablation: what removing a fine-tuning language does to each test language.

For each ``without-L`` run and test language T, the change in final test accuracy and loss against
``joint`` of the same seed, with a t-interval over seeds; then the agreement (Spearman, L != T)
between that effect and TracIn's influence of L on T.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

from lingtrace import settings
from lingtrace.analysis.stats import spearman
from lingtrace.finetuning.evaluate import final_checkpoint


def t_interval(values: np.ndarray, confidence: float | None = None) -> tuple[float, float]:
    """Two-sided t-interval of the mean; (nan, nan) with fewer than two values."""
    values = np.asarray(values, dtype=float)
    confidence = settings.load("analysis").confidence if confidence is None else confidence
    if len(values) < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


def ablation_deltas(metrics: pl.DataFrame, confidence: float | None = None) -> pl.DataFrame:
    """Per removed language L and test language T: mean over seeds of (without-L minus joint) in
    accuracy and loss, paired by seed, with t-intervals. Columns: removed_lang, test_lang, n_seeds,
    delta_accuracy, delta_accuracy_low, delta_accuracy_high, delta_loss, delta_loss_low, delta_loss_high."""
    final = final_checkpoint(metrics)
    joint = final.filter(pl.col("run") == "joint").select("seed", "lang", acc_joint="accuracy", loss_joint="loss")
    ablated = final.filter(pl.col("run").str.starts_with("without-")).with_columns(
        removed_lang=pl.col("run").str.strip_prefix("without-")
    )
    paired = ablated.join(joint, on=["seed", "lang"]).with_columns(
        d_acc=pl.col("accuracy") - pl.col("acc_joint"), d_loss=pl.col("loss") - pl.col("loss_joint")
    )
    rows = []
    for (removed, lang), group in paired.group_by("removed_lang", "lang", maintain_order=True):
        d_acc, d_loss = group["d_acc"].to_numpy(), group["d_loss"].to_numpy()
        acc_low, acc_high = t_interval(d_acc, confidence)
        loss_low, loss_high = t_interval(d_loss, confidence)
        rows.append(
            {
                "removed_lang": removed,
                "test_lang": lang,
                "n_seeds": len(group),
                "delta_accuracy": float(d_acc.mean()),
                "delta_accuracy_low": acc_low,
                "delta_accuracy_high": acc_high,
                "delta_loss": float(d_loss.mean()),
                "delta_loss_low": loss_low,
                "delta_loss_high": loss_high,
            }
        )
    return pl.DataFrame(rows).sort("removed_lang", "test_lang")


def mono_baselines(metrics: pl.DataFrame) -> pl.DataFrame:
    """Final accuracy of each mono-L run on each test language, averaged over seeds."""
    final = final_checkpoint(metrics).filter(pl.col("run").str.starts_with("mono-"))
    return (
        final.with_columns(train_lang=pl.col("run").str.strip_prefix("mono-"))
        .group_by("train_lang", test_lang="lang")
        .agg(pl.col("accuracy").mean(), pl.col("loss").mean(), n_seeds=pl.len())
        .sort("train_lang", "test_lang")
    )


def agreement(deltas: pl.DataFrame, influence: pl.DataFrame, measure: str) -> dict:
    """Spearman correlation, over (test language T, removed language L != T) pairs, between the
    harm of removing L (minus the accuracy change) and TracIn's influence of L on T (column
    ``measure`` of ``influence``, keyed by test_lang and train_lang)."""
    pairs = deltas.join(
        influence.select("test_lang", removed_lang="train_lang", influence=measure), on=["test_lang", "removed_lang"]
    ).filter(pl.col("test_lang") != pl.col("removed_lang"))
    if pairs.height < 3:
        return {"spearman": None, "p_value": None, "n_pairs": pairs.height}
    rho, p = spearman(-pairs["delta_accuracy"].to_numpy(), pairs["influence"].to_numpy())
    finite = bool(np.isfinite(rho))
    return {"spearman": rho if finite else None, "p_value": p if finite else None, "n_pairs": pairs.height}
