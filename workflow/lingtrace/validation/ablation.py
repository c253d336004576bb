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
from lingtrace.analysis.stats import grouped_mean_interval, spearman
from lingtrace.finetuning.evaluate import final_checkpoint
from lingtrace.finetuning.runs import CONTROL_RUN


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
    ablated = final.filter(pl.col("run").str.starts_with("without-") & (pl.col("run") != CONTROL_RUN)).with_columns(
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


def loss_deltas(predictions: pl.DataFrame, train_langs) -> pl.DataFrame:
    """Per removed language L, seed and test example: the final loss without L minus with every language,
    the same for the control run (a random share as large as one language's removed), and the specific
    change (the first minus the second). Columns removed_lang, seed, uid, lang, delta, control, specific."""
    final = predictions.select("run", "seed", "uid", "lang", "loss")
    joint = final.filter(pl.col("run") == "joint").select("seed", "uid", joint_loss="loss")
    control = final.filter(pl.col("run") == CONTROL_RUN).select("seed", "uid", control_loss="loss")
    ablated = final.filter(pl.col("run").is_in([f"without-{lang}" for lang in train_langs])).with_columns(
        removed_lang=pl.col("run").str.strip_prefix("without-")
    )
    return (
        ablated.join(joint, on=["seed", "uid"])
        .join(control, on=["seed", "uid"], how="left")
        .select(
            "removed_lang", "seed", "uid", "lang",
            delta=pl.col("loss") - pl.col("joint_loss"),
            control=pl.col("control_loss") - pl.col("joint_loss"),
        )
        .with_columns(specific=pl.col("delta") - pl.col("control"))
        .sort("removed_lang", "seed", "uid")
    )  # fmt: skip


def loss_table(deltas: pl.DataFrame, n_boot: int, level: float, seed: int, items=None) -> pl.DataFrame:
    """Per removed language and test language: mean loss change, control change and specific change,
    with intervals over seeds, then test items. Columns removed_lang, test_lang, delta_loss, control_loss,
    specific_loss (each with _lo, _hi), n_examples, n_seeds."""
    renamed = deltas.rename({"lang": "test_lang", "delta": "delta_loss", "control": "control_loss",
                             "specific": "specific_loss", "uid": "test_uid"})  # fmt: skip
    return grouped_mean_interval(renamed, ["delta_loss", "control_loss", "specific_loss"],
                                 ["seed", "removed_lang", "test_lang"], "test_uid", n_boot, level, seed,
                                 items=items).sort("removed_lang", "test_lang")  # fmt: skip


def harm_matrix(deltas: pl.DataFrame, value: str) -> tuple[list[int], list[str], list[str], np.ndarray]:
    """(seeds, test languages, removed languages, harm (seeds, tests, removed)): the mean ``value`` (the
    specific or raw loss change) of each test language's examples when each language is removed."""
    means = deltas.group_by("seed", "lang", "removed_lang").agg(pl.col(value).mean())
    seeds = sorted(means["seed"].unique().to_list())
    tests, removed = sorted(means["lang"].unique().to_list()), sorted(means["removed_lang"].unique().to_list())
    harm = np.full((len(seeds), len(tests), len(removed)), np.nan)
    for seed, lang, gone, v in means.iter_rows():
        harm[seeds.index(seed), tests.index(lang), removed.index(gone)] = v
    return seeds, tests, removed, harm


def per_language_spearman(harm: np.ndarray, reliance: np.ndarray, tests: list[str], removed: list[str]) -> dict:
    """{test language: Spearman over the removed languages L != T of harm[T, L] and reliance[T, L]}."""
    out = {}
    for i, lang in enumerate(tests):
        keep = [j for j, gone in enumerate(removed) if gone != lang and np.isfinite(reliance[i, j])]
        rho, _ = spearman(harm[i, keep], reliance[i, keep]) if len(keep) >= 3 else (float("nan"), None)
        out[lang] = rho
    return out


def agreement_summary(deltas: pl.DataFrame, reliance: pl.DataFrame, n_boot: int, level: float, seed: int,
                      value: str = "specific") -> dict:  # fmt: skip
    """Agreement of the ablation with TracIn within each test language T: Spearman over the removed
    languages L != T between T's mean loss change when L is removed (``value``) and TracIn's reliance of
    T on L (``reliance``: test_lang, train_lang, reliance); then averaged over test languages, with an
    interval that resamples seeds (each resample pools the drawn seeds' loss changes; no interval with
    fewer than two seeds). The control run's change is the same for every removed language L, so
    subtracting it (``value`` specific) leaves this within-language ranking as the raw loss change gives
    it; the control matters for the size of each effect (the ablation loss table), not for the rank."""
    if deltas.is_empty():
        return {"mean_spearman": None, "interval": [None, None], "per_language": {}, "seeds": 0, "measure": value}
    seeds, tests, removed, harm = harm_matrix(deltas, value)
    lookup = {(t, l): r for t, l, r in reliance.select("test_lang", "train_lang", "reliance").iter_rows()}
    rel = np.array([[lookup.get((t, l), np.nan) for l in removed] for t in tests])

    def mean_rho(seed_index) -> float:
        rhos = np.array(list(per_language_spearman(harm[seed_index].mean(axis=0), rel, tests, removed).values()))
        rhos = rhos[np.isfinite(rhos)]
        return float(rhos.mean()) if len(rhos) else float("nan")

    rng = np.random.default_rng(seed)
    draws = n_boot if len(seeds) >= 2 else 0
    boots = np.array([mean_rho(rng.integers(0, len(seeds), len(seeds))) for _ in range(draws)])
    boots = boots[np.isfinite(boots)]
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2]) if len(boots) else (np.nan, np.nan)
    return {
        "mean_spearman": mean_rho(np.arange(len(seeds))),
        "interval": [float(lo), float(hi)],
        "per_language": per_language_spearman(harm.mean(axis=0), rel, tests, removed),
        "seeds": len(seeds),
        "measure": value,
    }


def control_set(train: pl.DataFrame, train_langs, seed: int) -> list[str]:
    """The control run's removed examples: a uniform draw from the whole pool as large as the mean
    fine-tuning language's share (so its effect is the effect of losing that much data at all)."""
    from lingtrace.validation.removal import uniform_draw

    size = round(train.height / len(train_langs))
    return uniform_draw(train["uid"].to_list(), size, seed, CONTROL_RUN)


def agreement(deltas: pl.DataFrame, influence: pl.DataFrame, measure: str) -> dict:
    """Spearman correlation, over (test language T, removed language L != T) pairs, between the
    harm of removing L (minus the accuracy change) and TracIn's influence of L on T (column
    ``measure`` of ``influence``, keyed by test_lang and train_lang). Pooled over test languages:
    kept for comparison; ``agreement_summary`` is the within-language statistic."""
    pairs = deltas.join(
        influence.select("test_lang", removed_lang="train_lang", influence=measure), on=["test_lang", "removed_lang"]
    ).filter(pl.col("test_lang") != pl.col("removed_lang"))
    if pairs.height < 3:
        return {"spearman": None, "p_value": None, "n_pairs": pairs.height}
    rho, p = spearman(-pairs["delta_accuracy"].to_numpy(), pairs["influence"].to_numpy())
    finite = bool(np.isfinite(rho))
    return {"spearman": rho if finite else None, "p_value": p if finite else None, "n_pairs": pairs.height}
