"""File-level entry points of the validation stage: removal sets, ablation and removal effects."""

from __future__ import annotations

import polars as pl

from lingtrace import settings
from lingtrace.io.atomic import write_json, write_parquet, write_parquet_and_csv
from lingtrace.validation.ablation import ablation_deltas, agreement, mono_baselines
from lingtrace.validation.removal import (
    random_removal,
    removal_effects,
    sample_test_examples,
    summarise_removal,
    tracin_removal,
)


def write_removal_sets(topk_path, train_path, params: dict, out_sample, out_tracin, out_random) -> None:
    """The sampled test examples (of the task's fine-tuning languages), the union of their top-m
    proponents, and as many random examples (``removal`` settings)."""
    cfg = settings.load("removal", params.get("removal"))
    topk = pl.read_parquet(topk_path)
    langs = list(params["task"]["train_langs"])
    scored = topk.select("test_uid", "test_lang").unique().filter(pl.col("test_lang").is_in(langs))
    sample = sample_test_examples(scored, cfg.test_per_lang, cfg.seed)
    tracin = tracin_removal(topk, sample, cfg.m, cfg.variant)
    pool = pl.read_parquet(train_path, columns=["uid"])["uid"].to_list()
    write_parquet(sample, out_sample)
    write_parquet(pl.DataFrame({"uid": tracin}, schema={"uid": pl.String}), out_tracin)
    write_parquet(pl.DataFrame({"uid": random_removal(pool, len(tracin), cfg.seed)}, schema={"uid": pl.String}), out_random)


def validate_task(metrics_path, predictions_path, matrix_path, shares_path, sample_path, params: dict, out_ablation,
                  out_mono, out_removal, out_json) -> None:  # fmt: skip
    """Ablation deltas and their agreement with TracIn; removal-test effects; the summary piece."""
    cfg = settings.load("analysis", params.get("analysis"))
    metrics = pl.read_parquet(metrics_path)
    deltas = ablation_deltas(metrics, cfg.confidence) if metrics["run"].str.starts_with("without-").any() else (
        pl.DataFrame(schema={"removed_lang": pl.String, "test_lang": pl.String, "delta_accuracy": pl.Float64}))
    write_parquet_and_csv(deltas, out_ablation)
    write_parquet_and_csv(mono_baselines(metrics), out_mono)
    variant, k = cfg.variant, cfg.headline_k
    matrix = pl.read_parquet(matrix_path).filter(
        (pl.col("run") == "joint") & (pl.col("checkpoint") == "all") & (pl.col("variant") == variant))
    shares = pl.read_parquet(shares_path).filter(
        (pl.col("run") == "joint") & (pl.col("checkpoint") == "all") & (pl.col("variant") == variant)
        & (pl.col("direction") == "proponent") & (pl.col("k") == k))  # fmt: skip
    summary = {
        "ablation": {
            "delta": {},
            "spearman_vs_tracin": None,
            "agreement": {
                "share": agreement(deltas, shares, "share") if deltas.height else None,
                "mean_influence": agreement(deltas, matrix, "mean_influence") if deltas.height else None,
            },
        }
    }
    for row in deltas.iter_rows(named=True):
        summary["ablation"]["delta"].setdefault(row["test_lang"], {})[row["removed_lang"]] = row["delta_accuracy"]
    if deltas.height:
        summary["ablation"]["spearman_vs_tracin"] = summary["ablation"]["agreement"]["share"]["spearman"]
    if sample_path:
        effects = removal_effects(pl.read_parquet(predictions_path), pl.read_parquet(sample_path))
        summary["removal_test"] = summarise_removal(effects)
        write_parquet(effects, out_removal)
    else:
        write_parquet(pl.DataFrame(schema={"kind": pl.String, "seed": pl.Int64, "effect": pl.Float64}), out_removal)
    summary["findings"] = validation_findings(summary)
    write_json(summary, out_json)


def validation_findings(summary: dict) -> list[str]:
    sentences = []
    share = (summary["ablation"]["agreement"] or {}).get("share")
    if share and share["spearman"] is not None:
        verdict = ("agrees with" if share["spearman"] > 0 and share["p_value"] < 0.05
                   else "shows no significant agreement with")  # fmt: skip
        sentences.append(
            f"Retraining without a language {verdict} TracIn: Spearman {share['spearman']:.2f} "
            f"(p = {share['p_value']:.2g}, {share['n_pairs']} pairs) between the accuracy lost on test language T "
            "when L is removed and L's share of T's proponents."
        )
    removal = summary.get("removal_test")
    if removal and removal["tracin_effect"] is not None and removal["random_effect"] is not None:
        if removal["ratio"] is not None:
            comparison = f"{removal['ratio']:.1f} times as much"
        else:
            comparison = "random removal did not raise it, so no ratio"
        sentences.append(
            f"Removal test: removing TracIn's top proponents raises the sampled test examples' loss by "
            f"{removal['tracin_effect']:.3f}, removing as many random examples by {removal['random_effect']:.3f} "
            f"({comparison}; difference {removal['difference']:.3f}), over {removal['seeds']} seed(s)."
        )
    return sentences
