"""A task's analyses, from its influence tables to tidy tables and the summary.json pieces.

``analyze_task`` reads the analysed runs' ``topk.parquet`` and ``lang_scores.parquet`` (first seed),
computes every analysis of this package, writes each table as Parquet and CSV, and returns the
task's findings: ``crosslingual_share`` and ``planted_spearman`` (as in summary.json) and more.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from lingtrace.analysis.matrix import influence_matrix
from lingtrace.analysis.planted import influence_vs_planted, share_vs_planted
from lingtrace.analysis.progression import share_by_checkpoint, share_slopes
from lingtrace.analysis.reinforcement import reinforcement
from lingtrace.analysis.shares import crosslingual_shares, language_shares, self_reliance, zero_shot_shares
from lingtrace import settings
from lingtrace.errors import ConfigError
from lingtrace.io.atomic import write_json, write_parquet_and_csv
from lingtrace.layout import ANALYSIS_TABLES as TABLES
from lingtrace.finetuning.runs import parse_run
from lingtrace.study import resolve_task


def write_tables(tables: dict[str, pl.DataFrame], outs: Sequence[str | os.PathLike]) -> None:
    """Every table to its Parquet path in ``outs`` (named ``{table}.parquet``), a CSV beside each
    (written atomically); a table an analysis did not apply to is written empty."""
    paths = {Path(out).stem: out for out in outs}
    if sorted(paths) != sorted(TABLES):
        raise ConfigError(f"analyze: give one Parquet path per table {list(TABLES)}, got {sorted(paths)}")
    for name in TABLES:
        write_parquet_and_csv(tables.get(name, pl.DataFrame()), paths[name])


def load_run(run: str, topk_path, lang_path) -> tuple[pl.DataFrame, pl.DataFrame]:
    run_col = pl.lit(run).alias("run")
    return pl.read_parquet(topk_path).with_columns(run_col), pl.read_parquet(lang_path).with_columns(run_col)


def finite(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)


def analyze_task(runs: dict[str, tuple], train_path, planted_path, params: dict) -> tuple[dict, dict]:
    """(tables, findings) of one task. ``runs`` maps run name -> (topk path, lang_scores path)."""
    cfg, task = settings.load("analysis", params.get("analysis")), resolve_task(params["task"])
    boot = {"n_boot": cfg.bootstrap, "level": cfg.confidence, "seed": cfg.seed}
    loaded = {run: load_run(run, *paths) for run, paths in runs.items()}
    topk = pl.concat([t for t, _ in loaded.values()])
    scores = pl.concat([s for _, s in loaded.values()])
    headline = cfg.headline_k

    tables = {
        "language_shares": language_shares(topk, scores, cfg.k, **boot),
        "crosslingual_shares": crosslingual_shares(topk, scores, cfg.k, **boot),
        "influence_matrix": influence_matrix(scores, **boot),
        "progression": share_by_checkpoint(topk, scores, headline, **boot),
        "progression_slopes": share_slopes(topk, scores, headline, **boot),
    }
    joint_topk, joint_scores = loaded["joint"]
    if task.parallel:
        train = pl.read_parquet(train_path, columns=["uid", "item_id", "lang"])
        tables["reinforcement"] = reinforcement(joint_topk, train, headline, **boot)
    zero_shot = [
        zero_shot_shares(t, s, parse_run(run).arg, cfg.k, **boot)
        for run, (t, s) in loaded.items()
        if parse_run(run).kind == "without" and parse_run(run).arg in set(t["test_lang"].to_list())
    ]
    if zero_shot:
        tables["zero_shot"] = pl.concat(zero_shot)
    reliance = [
        self_reliance(joint_topk, joint_scores, t, s, parse_run(run).arg, cfg.k, **boot).with_columns(
            run=pl.lit(run)
        )
        for run, (t, s) in loaded.items()
        if parse_run(run).kind == "boost"
    ]
    if reliance:
        tables["self_reliance"] = pl.concat(reliance)
    if planted_path:
        planted = pl.read_parquet(planted_path)
        joint_matrix = tables["influence_matrix"].filter(pl.col("run") == "joint")
        joint_shares = tables["language_shares"].filter(pl.col("run") == "joint")
        tables["planted"] = pl.concat(
            [
                influence_vs_planted(joint_matrix, planted, variant=v).select(
                    "run", "variant", "checkpoint", "measure", "spearman", "p_value", "n_pairs"
                )
                for v in ("cosine", "dot")
            ]
            + [
                share_vs_planted(joint_shares, planted, headline, variant=v).select(
                    "run", "variant", "checkpoint", "measure", "spearman", "p_value", "n_pairs"
                )
                for v in ("cosine", "dot")
            ],
            how="vertical_relaxed",
        )
    return tables, findings(tables, cfg, task)


def crosslingual_share_summary(shares: pl.DataFrame, variant: str, k: int) -> dict:
    """{run: {test_lang: {checkpoint: share}}} of top-k proponents from other languages (contract)."""
    rows = shares.filter((pl.col("variant") == variant) & (pl.col("direction") == "proponent") & (pl.col("k") == k))
    out: dict = {}
    for row in rows.sort("run", "test_lang", "checkpoint").iter_rows(named=True):
        out.setdefault(row["run"], {}).setdefault(row["test_lang"], {})[row["checkpoint"]] = row["crosslingual_share"]
    return out


def findings(tables: dict[str, pl.DataFrame], cfg, task) -> dict:
    variant, k = cfg.variant, cfg.headline_k
    cross = tables["crosslingual_shares"]
    summary = {
        "analysis_variant": variant,
        "analysis_k": k,
        "crosslingual_share": crosslingual_share_summary(cross, variant, k),
        "planted_spearman": None,
    }
    sentences = []
    seen = cross.filter(
        (pl.col("run") == "joint") & ~pl.col("zero_shot") & (pl.col("checkpoint") == "all")
        & (pl.col("variant") == variant) & (pl.col("direction") == "proponent") & (pl.col("k") == k)
    )  # fmt: skip
    if seen.height:
        mean_share = float(seen["crosslingual_share"].mean())
        summary["joint_mean_crosslingual_share"] = mean_share
        sentences.append(
            f"In the joint run, {100 * mean_share:.0f}% of the top-{k} proponents ({variant}) of a fine-tuning "
            f"language's test examples come from other languages (per language: "
            + ", ".join(f"{r['test_lang']} {100 * r['crosslingual_share']:.0f}%" for r in seen.iter_rows(named=True))
            + ")."
        )
    slopes = tables["progression_slopes"].filter(
        (pl.col("run") == "joint") & (pl.col("test_lang") == "all") & (pl.col("variant") == variant)
        & (pl.col("direction") == "proponent")
    )  # fmt: skip
    if slopes.height:
        row = slopes.row(0, named=True)
        summary["progression_slope"] = {key: finite(row[key]) for key in ("slope", "slope_lo", "slope_hi")}
        trend = "grows" if row["slope_lo"] > 0 else "shrinks" if row["slope_hi"] < 0 else "shows no clear trend"
        sentences.append(
            f"Over fine-tuning the cross-lingual share {trend}: {100 * row['slope']:+.1f} points per epoch "
            f"(95% interval {100 * row['slope_lo']:+.1f} to {100 * row['slope_hi']:+.1f})."
        )
    if "reinforcement" in tables:
        pooled = tables["reinforcement"].filter((pl.col("test_lang") == "all") & (pl.col("variant") == variant)
                                                & (pl.col("checkpoint") == "all"))  # fmt: skip
        if pooled.height:
            row = pooled.row(0, named=True)
            summary["reinforcing_rate"] = finite(row["reinforcing_rate"])
            summary["reinforcing_chance"] = finite(row["chance_rate"])
            sentences.append(
                f"{100 * row['reinforcing_rate']:.0f}% of cross-lingual proponents are translations of the test "
                f"language's own proponents (chance {100 * row['chance_rate']:.0f}%): sharing is mostly "
                + ("reinforcing." if row["reinforcing_rate"] > 0.5 else "complementary.")
            )
    if "planted" in tables:
        measure = cfg.planted_measure
        chosen = tables["planted"].filter((pl.col("variant") == variant) & (pl.col("measure") == measure))
        if chosen.height:
            row = chosen.row(0, named=True)
            summary["planted_spearman"] = finite(row["spearman"])
            summary["planted_p_value"] = finite(row["p_value"])
            summary["planted_measure"] = f"{measure} ({variant}, k={k})" if measure == "share" else f"{measure} ({variant})"
            described = f"share of top-{k} proponents ({variant})" if measure == "share" else f"mean {variant} influence"
            sentences.append(
                f"Cross-lingual reliance ({described}) follows the planted language similarity, off the diagonal: "
                f"Spearman {row['spearman']:.2f} (p = {row['p_value']:.2g}, {row['n_pairs']} language pairs)."
            )
    if "zero_shot" in tables:
        zs = tables["zero_shot"].filter((pl.col("checkpoint") == "all") & (pl.col("variant") == variant)
                                        & (pl.col("direction") == "proponent") & (pl.col("k") == k))  # fmt: skip
        summary["zero_shot_shares"] = {
            f"{r['run']}:{r['test_lang']}": {x["train_lang"]: x["share"] for x in zs.filter(
                (pl.col("run") == r["run"]) & (pl.col("test_lang") == r["test_lang"])).iter_rows(named=True)}
            for r in zs.unique(["run", "test_lang"]).sort("run").iter_rows(named=True)
        }  # fmt: skip
        for key, shares in summary["zero_shot_shares"].items():
            top = max(shares, key=shares.get)
            sentences.append(f"Zero-shot {key.split(':')[1]} ({key.split(':')[0]}) relies most on {top} "
                             f"({100 * shares[top]:.0f}% of its top-{k} proponents).")  # fmt: skip
    if "self_reliance" in tables:
        sr = tables["self_reliance"].filter((pl.col("checkpoint") == "all") & (pl.col("variant") == variant)
                                            & (pl.col("direction") == "proponent") & (pl.col("k") == k))  # fmt: skip
        for row in sr.iter_rows(named=True):
            summary.setdefault("self_reliance", {})[row["test_lang"]] = {
                key: finite(row[key]) for key in ("joint_own_share", "boost_own_share", "joint_enrichment",
                                                  "boost_enrichment", "delta_own_share_lo", "delta_own_share_hi")
            }  # fmt: skip
            sentences.append(
                f"Over-representing {row['test_lang']} ({100 * row['joint_train_fraction']:.0f}% -> "
                f"{100 * row['boost_train_fraction']:.0f}% of the data) raises its own share of proponents from "
                f"{100 * row['joint_own_share']:.0f}% to {100 * row['boost_own_share']:.0f}% (enrichment "
                f"{row['joint_enrichment']:.2f} -> {row['boost_enrichment']:.2f})."
            )
    summary["findings"] = sentences
    return summary


def run_analysis(runs: Sequence[str], topk_paths: Sequence[str], lang_paths: Sequence[str], train_path, planted_path,
                 params: dict, outs: Sequence[str], out_json) -> None:  # fmt: skip
    """CLI entry: the i-th run's tables are ``topk_paths[i]`` and ``lang_paths[i]``."""
    if not len(runs) == len(topk_paths) == len(lang_paths):
        raise ConfigError(f"analyze: give a topk and a lang_scores table per run ({len(runs)} runs, "
                          f"{len(topk_paths)} topk, {len(lang_paths)} lang_scores)")  # fmt: skip
    tables, summary = analyze_task(dict(zip(runs, zip(topk_paths, lang_paths))), train_path, planted_path, params)
    write_tables(tables, outs)
    write_json(summary, out_json)
