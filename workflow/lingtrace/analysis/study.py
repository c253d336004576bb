"""A task's analyses, from its influence tables to tidy tables and the summary.json pieces.

``analyze_task`` reads the analysed runs' ``topk.parquet`` and ``lang_scores.parquet`` (every analysed
seed), computes every analysis of this package with intervals that resample seeds, then test items
(an item's translations together on parallel tasks), sets each finding beside its control (a TF-IDF
retriever, label-matched chance, surface overlap, trained checkpoints only), and returns the tables
and the task's findings: ``crosslingual_share``, ``planted`` and the rest of summary.json.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from lingtrace import settings
from lingtrace.analysis.convergence import trained_checkpoints
from lingtrace.analysis.matrix import influence_matrix
from lingtrace.analysis.planted import planted_check
from lingtrace.analysis.progression import share_by_checkpoint, share_slopes
from lingtrace.analysis.reinforcement import reinforcement
from lingtrace.analysis.shares import (
    crosslingual_shares,
    example_shares,
    language_shares,
    self_reliance,
    zero_shot_shares,
)
from lingtrace.errors import ConfigError
from lingtrace.finetuning.runs import parse_run
from lingtrace.io.atomic import write_json, write_parquet_and_csv
from lingtrace.layout import ANALYSIS_TABLES as TABLES
from lingtrace.study import chance, resolve_task, task_of


def write_tables(tables: dict[str, pl.DataFrame], outs: Sequence[str | os.PathLike]) -> None:
    """Every table to its Parquet path in ``outs`` (named ``{table}.parquet``), a CSV beside each
    (written atomically); a table an analysis did not apply to is written empty."""
    paths = {Path(out).stem: out for out in outs}
    if sorted(paths) != sorted(TABLES):
        raise ConfigError(f"analyze: give one Parquet path per table {list(TABLES)}, got {sorted(paths)}")
    for name in TABLES:
        write_parquet_and_csv(tables.get(name, pl.DataFrame()), paths[name])


def load_runs(runs: Sequence[tuple[str, int, str, str]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(topk, lang_scores) of every (run, seed, topk path, lang_scores path), stacked with run and seed."""
    topk, scores = [], []
    for run, seed, topk_path, lang_path in runs:
        context = [pl.lit(run).alias("run"), pl.lit(int(seed), pl.Int64).alias("seed")]
        topk.append(pl.read_parquet(topk_path).with_columns(context))
        scores.append(pl.read_parquet(lang_path).with_columns(context))
    return pl.concat(topk), pl.concat(scores)


def finite(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)


def jsonable(obj):
    """NaN and infinities as None, recursively (summary.json is strict JSON)."""
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, float):
        return finite(obj)
    return obj


def of_run(df: pl.DataFrame, run: str) -> pl.DataFrame:
    return df.filter(pl.col("run") == run)


def headline(df: pl.DataFrame, variant: str, k: int | None = None, checkpoint: str = "all") -> pl.DataFrame:
    """Rows of the headline variant, proponents, summed checkpoint (and k, where the table has one)."""
    rows = df.filter((pl.col("variant") == variant) & (pl.col("checkpoint") == checkpoint))
    if "direction" in rows.columns:
        rows = rows.filter(pl.col("direction") == "proponent")
    if k is not None and "k" in rows.columns:
        rows = rows.filter(pl.col("k") == k)
    return rows


def baseline_shares(topk: pl.DataFrame, train: pl.DataFrame, k: int, boot: dict, items) -> pl.DataFrame:
    """The TF-IDF retriever's language shares (its topk table over the joint run's training set)."""
    mix = train.group_by(pl.col("lang").alias("train_lang")).agg(pl.len().alias("n_train"))
    return language_shares(topk.with_columns(run=pl.lit("tfidf")), mix.with_columns(run=pl.lit("tfidf")), [k],
                           **boot, items=items)  # fmt: skip


def planted_inputs(topk, scores, baseline_topk, train, cfg, variant: str) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Per (seed, test example, training language) top-k shares of the joint run, and the baseline's."""

    def per_example(top, lang_scores):
        shares = example_shares(headline(top, variant), lang_scores, cfg.headline_k)
        return shares.select(*[c for c in ("seed",) if c in shares.columns], "test_uid", "test_lang", "train_lang",
                             pl.col("share").alias("value")).filter(pl.col("test_lang") != pl.col("train_lang"))

    tracin = per_example(of_run(topk, "joint").drop("run"), of_run(scores, "joint").drop("run"))
    if baseline_topk is None:
        return tracin, None
    mix = train.group_by(pl.col("lang").alias("train_lang")).agg(pl.len().alias("n_train"))
    return tracin, per_example(baseline_topk.with_columns(variant=pl.lit(variant)), mix)


def analyze_task(
    runs: Sequence[tuple[str, int, str, str]],
    train_path,
    test_path,
    metrics_path,
    params: dict,
    planted_path=None,
    baseline_topk_path=None,
    overlap_path=None,
) -> tuple[dict, dict]:
    """(tables, findings) of one task. ``runs``: (run, seed, topk path, lang_scores path) of every
    analysed run and seed; the joint run must be among them."""
    cfg, task = settings.load("analysis", params.get("analysis")), resolve_task(task_of(params))
    boot = {"n_boot": cfg.bootstrap, "level": cfg.confidence, "seed": cfg.seed}
    topk, scores = load_runs(runs)
    if "joint" not in set(topk["run"].to_list()):
        raise ConfigError("analyze: the joint run must be among the analysed runs")
    train = pl.read_parquet(train_path, columns=["uid", "item_id", "lang", "label"])
    test = pl.read_parquet(test_path, columns=["uid", "item_id", "lang", "label"])
    # translations of one item are resampled together on parallel tasks
    items = test.select(pl.col("uid").alias("test_uid"), pl.col("item_id").alias("item")) if task.parallel else None
    metrics = pl.read_parquet(metrics_path)
    trained = trained_checkpoints(metrics, task.train_langs, chance(task), cfg.trained_fraction)
    k = cfg.headline_k

    tables = {
        "language_shares": language_shares(topk, scores, cfg.k, **boot, items=items),
        "crosslingual_shares": crosslingual_shares(topk, scores, cfg.k, **boot, items=items),
        "influence_matrix": influence_matrix(scores, **boot, items=items),
        "progression": share_by_checkpoint(topk, scores, k, **boot, items=items),
        "progression_slopes": share_slopes(topk, scores, k, **boot, items=items, trained=trained),
        "trained_checkpoints": trained,
    }
    if task.parallel:
        joint_train = train.select("uid", "item_id", "lang", "label")
        tables["reinforcement"] = reinforcement(of_run(topk, "joint"), joint_train, k, **boot, items=items,
                                                test=test.select("uid", "label"))  # fmt: skip
    zero_shot = [
        zero_shot_shares(of_run(topk, run), of_run(scores, run), parse_run(run).arg, cfg.k, **boot, items=items)
        for run in sorted(set(topk["run"].to_list()))
        if parse_run(run).kind == "without" and parse_run(run).arg in set(of_run(topk, run)["test_lang"].to_list())
    ]
    if zero_shot:
        tables["zero_shot"] = pl.concat(zero_shot)
    reliance = [
        self_reliance(of_run(topk, "joint"), of_run(scores, "joint"), of_run(topk, run), of_run(scores, run),
                      parse_run(run).arg, cfg.k, **boot, items=items).with_columns(run=pl.lit(run))  # fmt: skip
        for run in sorted(set(topk["run"].to_list()))
        if parse_run(run).kind == "boost"
    ]
    if reliance:
        tables["self_reliance"] = pl.concat(reliance)
    baseline_topk = pl.read_parquet(baseline_topk_path) if baseline_topk_path else None
    if baseline_topk is not None:
        tables["baseline_shares"] = baseline_shares(baseline_topk, train, k, boot, items)
    planted = None
    if planted_path and overlap_path:
        tracin, base = planted_inputs(topk, scores, baseline_topk, train, cfg, cfg.variant)
        cluster = "item" if items is not None else "test_uid"
        if items is not None:
            tracin, base = (None if t is None else t.join(items, on="test_uid", how="left") for t in (tracin, base))
        tables["planted"], planted = planted_check(
            tracin, base, pl.read_parquet(planted_path), pl.read_parquet(overlap_path), cluster, cfg.bootstrap,
            cfg.confidence, cfg.seed, cfg.permutations,
        )  # fmt: skip
    return tables, findings(tables, cfg, task, planted)


def crosslingual_share_summary(shares: pl.DataFrame, variant: str, k: int) -> dict:
    """{run: {test_lang: {checkpoint: share}}} of top-k proponents from other languages (contract)."""
    rows = shares.filter((pl.col("variant") == variant) & (pl.col("direction") == "proponent") & (pl.col("k") == k))
    out: dict = {}
    for row in rows.sort("run", "test_lang", "checkpoint").iter_rows(named=True):
        out.setdefault(row["run"], {}).setdefault(row["test_lang"], {})[row["checkpoint"]] = row["crosslingual_share"]
    return out


def pct(x) -> str:
    return "n/a" if not is_finite(x) else f"{100 * x:.0f}%"


def interval(lo, hi, scale: float = 100.0, unit: str = "", fmt: str = "+.1f") -> str:
    if not (is_finite(lo) and is_finite(hi)):
        return "[n/a]"
    return f"[{scale * lo:{fmt}}{unit}, {scale * hi:{fmt}}{unit}]"


def is_finite(x) -> bool:
    return x is not None and math.isfinite(x)


def number(x, fmt: str = ".2f") -> str:
    return format(x, fmt) if is_finite(x) else "n/a"


def findings(tables: dict[str, pl.DataFrame], cfg, task, planted: dict | None) -> dict:
    """The summary.json piece and the findings in words: a finding is stated only where its control holds,
    and otherwise the sentence says what the control showed."""
    variant, k = cfg.variant, cfg.headline_k
    cross = tables["crosslingual_shares"]
    level = f"{100 * cfg.confidence:.0f}%"
    summary = {
        "analysis_variant": variant,
        "analysis_k": k,
        "crosslingual_share": crosslingual_share_summary(cross, variant, k),
        "planted_spearman": planted["spearman"] if planted else None,
    }
    sentences = []
    seen = headline(of_run(cross, "joint"), variant, k).filter(~pl.col("zero_shot"))
    if seen.height:
        mean_share = float(seen["crosslingual_share"].mean())
        summary["joint_mean_crosslingual_share"] = mean_share
        sentence = (
            f"In the joint run, {pct(mean_share)} of the top-{k} proponents ({variant}) of a fine-tuning "
            "language's test examples come from other languages ("
            + ", ".join(f"{r['test_lang']} {pct(r['crosslingual_share'])}" for r in seen.iter_rows(named=True)) + ")"
        )
        if "baseline_shares" in tables:
            base = headline(tables["baseline_shares"], "tfidf", k)
            own = base.filter((pl.col("test_lang") == pl.col("train_lang")) & ~pl.col("zero_shot"))
            if own.height:
                base_share = 1.0 - float(own["share"].mean())
                summary["tfidf_mean_crosslingual_share"] = base_share
                sentence += f"; a TF-IDF retriever with no model takes {pct(base_share)} from other languages"
        sentences.append(sentence + ".")
    slopes = of_run(tables["progression_slopes"], "joint").filter(
        (pl.col("test_lang") == "all") & (pl.col("variant") == variant) & (pl.col("direction") == "proponent")
    )
    if slopes.height:
        row = slopes.row(0, named=True)
        summary["progression_slope"] = {key: finite(row[key]) for key in ("slope", "slope_lo", "slope_hi")}
        trend = "grows" if row["slope_lo"] > 0 else "shrinks" if row["slope_hi"] < 0 else "shows no clear trend"
        sentences.append(
            f"Over the trained checkpoints (those past {pct(cfg.trained_fraction)} of the way from chance to the "
            f"final accuracy) the cross-lingual share {trend}: {100 * row['slope']:+.1f} points per epoch "
            f"({level} interval {interval(row['slope_lo'], row['slope_hi'])}, over seeds and test items)."
        )
    else:
        summary["progression_slope"] = None
        sentences.append(f"No slope of the cross-lingual share: fewer than two checkpoints of the joint run are past "
                         f"{pct(cfg.trained_fraction)} of the way from chance to its final accuracy.")  # fmt: skip
    if "reinforcement" in tables:
        pooled = headline(of_run(tables["reinforcement"], "joint") if "run" in tables["reinforcement"].columns
                          else tables["reinforcement"], variant, k).filter(pl.col("test_lang") == "all")  # fmt: skip
        if pooled.height:
            row = pooled.row(0, named=True)
            summary["reinforcement"] = {key: finite(row[key]) for key in (
                "reinforcing_rate", "chance_rate", "excess", "excess_lo", "excess_hi")}  # fmt: skip
            summary["reinforcing_rate"] = finite(row["reinforcing_rate"])
            summary["reinforcing_chance"] = finite(row["chance_rate"])
            above = row["excess_lo"] > 0
            sentences.append(
                f"{pct(row['reinforcing_rate'])} of cross-lingual proponents are translations of the test language's "
                f"own proponents, against {pct(row['chance_rate'])} for a draw with the test example's label: "
                + (f"above chance by {100 * row['excess']:.1f} points ({level} interval "
                   f"{interval(row['excess_lo'], row['excess_hi'])}), so sharing reinforces more than chance would."
                   if above else "not above that chance, so the translations say nothing beyond the label.")
            )  # fmt: skip
    if planted:
        summary["planted"] = planted
        sentences.append(planted_sentence(planted, k, variant, level, alpha=1 - cfg.confidence))
    if "zero_shot" in tables:
        zs = headline(tables["zero_shot"], variant, k)
        summary["zero_shot_shares"] = {
            f"{r['run']}:{r['test_lang']}": {x["train_lang"]: x["share"] for x in zs.filter(
                (pl.col("run") == r["run"]) & (pl.col("test_lang") == r["test_lang"])).iter_rows(named=True)}
            for r in zs.unique(["run", "test_lang"]).sort("run", "test_lang").iter_rows(named=True)
        }  # fmt: skip
        for key, shares in summary["zero_shot_shares"].items():
            top = max(shares, key=shares.get)
            sentences.append(f"Zero-shot {key.split(':')[1]} ({key.split(':')[0]}) relies most on {top} "
                             f"({pct(shares[top])} of its top-{k} proponents).")  # fmt: skip
    if "self_reliance" in tables:
        for row in headline(tables["self_reliance"], variant, k).iter_rows(named=True):
            summary.setdefault("self_reliance", {})[row["test_lang"]] = {
                key: finite(row[key]) for key in ("joint_own_share", "boost_own_share", "joint_enrichment",
                                                  "boost_enrichment", "delta_own_share_lo", "delta_own_share_hi")
            }  # fmt: skip
            change = ("raises" if row["delta_own_share_lo"] > 0 else "lowers" if row["delta_own_share_hi"] < 0
                      else "does not clearly change")  # fmt: skip
            sentences.append(
                f"Over-representing {row['test_lang']} ({pct(row['joint_train_fraction'])} -> "
                f"{pct(row['boost_train_fraction'])} of the data) {change} its own share of proponents "
                f"({pct(row['joint_own_share'])} -> {pct(row['boost_own_share'])}; {level} interval of the change "
                f"{interval(row['delta_own_share_lo'], row['delta_own_share_hi'])} points); enrichment over its "
                f"share of the data {row['joint_enrichment']:.2f} -> {row['boost_enrichment']:.2f}."
            )
    summary["findings"] = sentences
    return jsonable(summary)


def planted_sentence(planted: dict, k: int, variant: str, level: str, alpha: float) -> str:
    """The planted check in words: 'beyond surface overlap' only if every control holds (Mantel p below
    ``alpha``, one minus analysis.confidence)."""
    base = planted["baselines"]
    partial, contrast = planted["partial_spearman"], planted["zero_overlap_contrast"]
    close = (f"close minus far cross-script pairs {number(100 * contrast['value'], '+.1f')} points ({level} "
             f"interval {interval(*contrast['interval'])})" if is_finite(contrast["value"]) else
             "no close and far cross-script pairs to contrast")  # fmt: skip
    numbers = (
        f"Spearman {number(planted['spearman'])} (Mantel p = {number(planted['p_value'], '.2g')}, "
        f"{planted['n_pairs']} pairs) against {number(base['tfidf']['spearman'])} for a TF-IDF retriever and "
        f"{number(base['word_overlap']['spearman'])} for word overlap; partial Spearman given word overlap "
        f"{number(partial['value'])} (Mantel p = {number(partial['p_value'], '.2g')}); {close}"
        if "tfidf" in base else
        f"Spearman {number(planted['spearman'])} (Mantel p = {number(planted['p_value'], '.2g')}) against "
        f"{number(base['word_overlap']['spearman'])} for word overlap"
    )  # fmt: skip
    beats = "tfidf" in base and all(
        _gt(planted["spearman"], b["spearman"]) for b in (base["tfidf"], base["word_overlap"])
    )
    holds = beats and _lt(partial["p_value"], alpha) and _gt(contrast["interval"][0], 0.0)
    if holds:
        return (f"TracIn's reliance (share of top-{k} proponents, {variant}) follows the planted language structure "
                f"beyond what surface overlap explains: {numbers}.")  # fmt: skip
    failed = []
    if not beats:
        failed.append("it does not beat the surface baselines")
    if not _lt(partial["p_value"], alpha):
        failed.append("controlling for word overlap leaves no significant association")
    if not _gt(contrast["interval"][0], 0.0):
        failed.append("cross-script pairs of one family are not relied on more than other cross-script pairs")
    return (f"The planted language structure is not recovered beyond surface overlap ({'; '.join(failed)}): "
            f"{numbers}.")  # fmt: skip


def _gt(a, b) -> bool:
    """a > b, false where either is missing or NaN."""
    return is_finite(a) and is_finite(b) and a > b


def _lt(a, b) -> bool:
    return _gt(b, a)


def run_analysis(runs: Sequence[str], seeds: Sequence[int], topk_paths: Sequence[str], lang_paths: Sequence[str],
                 paths: dict, params: dict, outs: Sequence[str], out_json) -> None:  # fmt: skip
    """CLI entry: the i-th (run, seed) pair's tables are ``topk_paths[i]`` and ``lang_paths[i]``; ``paths``
    has train, test, metrics, and optionally planted, baseline_topk, overlap."""
    if not len(runs) == len(seeds) == len(topk_paths) == len(lang_paths):
        raise ConfigError(f"analyze: give a seed, a topk and a lang_scores table per run ({len(runs)} runs, "
                          f"{len(seeds)} seeds, {len(topk_paths)} topk, {len(lang_paths)} lang_scores)")  # fmt: skip
    tables, summary = analyze_task(
        list(zip(runs, seeds, topk_paths, lang_paths)), paths["train"], paths["test"], paths["metrics"], params,
        paths.get("planted"), paths.get("baseline_topk"), paths.get("overlap"),
    )  # fmt: skip
    write_tables(tables, outs)
    write_json(summary, out_json)
