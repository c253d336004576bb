"""File-level entries of the validation stage: removal and control sets, LDS subsets, ablation, removal
test and LDS summaries."""

from __future__ import annotations


from collections.abc import Sequence

import polars as pl

from lingtrace import settings
from lingtrace.analysis.study import headline, interval, is_finite, number, of_run
from lingtrace.errors import ConfigError
from lingtrace.finetuning.runs import CONTROL_RUN
from lingtrace.io.atomic import write_json, write_parquet, write_parquet_and_csv
from lingtrace.validation.ablation import (
    ablation_deltas,
    agreement,
    agreement_summary,
    control_set,
    loss_deltas,
    loss_table,
    mono_baselines,
)
from lingtrace.validation.lds import draw_subsets, example_lds, lds_table, outcomes, surface_predictions
from lingtrace.validation.removal import (
    composition,
    removal_effects,
    sample_test_examples,
    stratified_draw,
    summarise_removal,
    tracin_removal,
)


def uid_table(rows: list[tuple[int, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"seed": pl.Int64, "uid": pl.String}, orient="row")


def write_removal_sets(topk_paths: Sequence[str], seeds: Sequence[int], train_path, params: dict, out_sample,
                       out_tracin, out_randoms: Sequence[str]) -> None:  # fmt: skip
    """The sampled test examples (of the task's fine-tuning languages); per retraining seed, their top
    proponents by that seed's TracIn (``topk_paths[i]`` is seed ``seeds[i]``'s joint topk) up to
    ``removal.fraction`` of the training data; and per random draw, a set of the same size and label x
    language composition, drawn per seed."""
    cfg = settings.load("removal", params.get("removal"))
    if len(topk_paths) != len(seeds):
        raise ConfigError(f"removal-sets: one topk table per seed ({len(topk_paths)} tables, {len(seeds)} seeds)")
    from lingtrace.study import task_of

    langs = list(task_of(params)["train_langs"])
    train = pl.read_parquet(train_path, columns=["uid", "lang", "label"])
    limit = int(cfg.fraction * train.height)
    tracin, randoms, sample = [], [[] for _ in out_randoms], None
    for seed, path in zip(seeds, topk_paths):
        topk = pl.read_parquet(path)
        if sample is None:  # the same sampled test examples for every seed
            scored = topk.select("test_uid", "test_lang").unique().filter(pl.col("test_lang").is_in(langs))
            sample = sample_test_examples(scored, cfg.test_per_lang, cfg.seed)
        removed = tracin_removal(topk, sample, cfg.m, cfg.variant, limit)
        tracin += [(seed, uid) for uid in removed]
        cells = composition(train, removed)
        for draw, rows in enumerate(randoms):
            rows += [(seed, uid) for uid in stratified_draw(train, cells, cfg.seed, "removal-random", draw, seed)]
    write_parquet(sample, out_sample)
    write_parquet(uid_table(tracin), out_tracin)
    for path, rows in zip(out_randoms, randoms):
        write_parquet(uid_table(rows), path)


def write_control_set(train_path, params: dict, out) -> None:
    """The without-random run's removed examples: as many as one language's share, drawn uniformly."""
    train = pl.read_parquet(train_path, columns=["uid"])
    from lingtrace.study import task_of

    removed = control_set(train, task_of(params)["train_langs"], settings.load("removal", params.get("removal")).seed)
    write_parquet(pl.DataFrame({"uid": removed}, schema={"uid": pl.String}), out)


def write_lds_subsets(train_path, params: dict, out) -> None:
    cfg = settings.load("lds", params.get("lds"))
    uids = pl.read_parquet(train_path, columns=["uid"])["uid"].to_list()
    write_parquet(draw_subsets(uids, cfg.subsets, cfg.fraction, cfg.seed), out)


def headline_reliance(shares_path, variant: str, k: int) -> pl.DataFrame:
    """TracIn's reliance of each test language on each training language: the joint run's share of
    top-k proponents, summed checkpoint, pooled over the analysed seeds."""
    return of_run(headline(pl.read_parquet(shares_path), variant, k), "joint").select(
        "test_lang", "train_lang", reliance="share"
    )


def nested_intervals(table: pl.DataFrame, value: str) -> dict:
    out: dict = {}
    for row in table.iter_rows(named=True):
        out.setdefault(row["test_lang"], {})[row["removed_lang"]] = {
            "mean": row[value], "interval": [row[f"{value}_lo"], row[f"{value}_hi"]]}  # fmt: skip
    return out


def validate_task(metrics_path, predictions_path, test_path, shares_path, sample_path, params: dict, outs: dict) -> None:
    """Ablation (accuracy and loss changes, the specific change against the control run, agreement with
    TracIn within each test language) and the removal test; ``outs``: ablation, ablation_loss, mono,
    removal (Parquet paths) and json."""
    from lingtrace.analysis.study import jsonable
    from lingtrace.study import resolve_task, task_of

    cfg = settings.load("analysis", params.get("analysis"))
    task = resolve_task(task_of(params))
    boot = {"n_boot": cfg.bootstrap, "level": cfg.confidence, "seed": cfg.seed}
    metrics, predictions = pl.read_parquet(metrics_path), pl.read_parquet(predictions_path)
    test = pl.read_parquet(test_path, columns=["uid", "item_id"])
    items = test.select(pl.col("uid").alias("test_uid"), pl.col("item_id").alias("item")) if task.parallel else None
    has_ablation = metrics["run"].is_in([f"without-{lang}" for lang in task.train_langs]).any()
    deltas = ablation_deltas(metrics, cfg.confidence) if has_ablation else pl.DataFrame(
        schema={"removed_lang": pl.String, "test_lang": pl.String, "delta_accuracy": pl.Float64})  # fmt: skip
    losses = loss_deltas(predictions, task.train_langs)
    control = CONTROL_RUN in set(predictions["run"].to_list())
    loss = loss_table(losses, **boot, items=items) if losses.height else pl.DataFrame()
    write_parquet_and_csv(deltas, outs["ablation"])
    write_parquet_and_csv(loss, outs["ablation_loss"])
    write_parquet_and_csv(mono_baselines(metrics), outs["mono"])
    reliance = headline_reliance(shares_path, cfg.variant, cfg.headline_k)
    value = "specific" if control else "delta"
    within = agreement_summary(losses, reliance, cfg.bootstrap, cfg.confidence, cfg.seed, value)
    summary = {
        "ablation": {
            "delta": {},
            "spearman_vs_tracin": within["mean_spearman"],
            "agreement": {
                "within_language": within,
                "pooled_accuracy": agreement(deltas, reliance.rename({"reliance": "share"}), "share")
                if deltas.height else None,
            },
            "loss": nested_intervals(loss, f"{value}_loss") if loss.height else {},
            "loss_measure": "specific (without-L minus the without-random control)" if control else "raw",
        }
    }
    for row in deltas.iter_rows(named=True):
        summary["ablation"]["delta"].setdefault(row["test_lang"], {})[row["removed_lang"]] = row["delta_accuracy"]
    if sample_path:
        effects = removal_effects(predictions, pl.read_parquet(sample_path))
        summary["removal_test"] = summarise_removal(effects, cfg.bootstrap, cfg.confidence, cfg.seed)
        write_parquet_and_csv(effects, outs["removal"])
    else:
        write_parquet_and_csv(removal_effects(predictions.clear(), pl.DataFrame({"test_uid": []})), outs["removal"])
    summary["findings"] = validation_findings(summary, cfg.confidence)
    write_json(jsonable(summary), outs["json"])


def pct_interval(bounds, scale=1.0) -> str:
    return interval(*bounds, scale=scale, fmt="+.3f")


def validation_findings(summary: dict, confidence: float) -> list[str]:
    """The ablation and removal test in words, each claim only as far as its interval allows."""
    level = f"{100 * confidence:.0f}%"
    sentences = []
    within = summary["ablation"]["agreement"]["within_language"]
    if is_finite(within["mean_spearman"]):
        lo, hi = within["interval"]
        verdict = ("agrees with" if lo is not None and lo > 0 else "disagrees with" if hi is not None and hi < 0
                   else "shows no clear agreement with")  # fmt: skip
        sentences.append(
            f"Retraining without a language {verdict} TracIn: within each test language, the Spearman correlation "
            f"over the removed languages between the loss the removal adds ({summary['ablation']['loss_measure']}) "
            f"and TracIn's share of proponents averages {within['mean_spearman']:.2f} ({level} interval over "
            f"{within['seeds']} seeds {pct_interval(within['interval'])})."
        )
    removal = summary.get("removal_test")
    if removal:
        spec = removal["specific_effect"]
        tracin, random, diff = spec["tracin"], spec["random"], spec["difference"]
        if tracin["mean"] is not None and diff["mean"] is not None:
            beyond = diff["interval"][0] is not None and diff["interval"][0] > 0
            sentences.append(
                f"Removal test: removing TracIn's top proponents raises the sampled test examples' loss by "
                f"{tracin['mean']:+.3f} beyond the other test examples of their label and language ({level} "
                f"interval {pct_interval(tracin['interval'])}); a random removal of the same size and label x "
                f"language mix by {random['mean']:+.3f} {pct_interval(random['interval'])}; the difference "
                f"{diff['mean']:+.3f} {pct_interval(diff['interval'])} "
                + ("shows the proponents matter to these examples in particular."
                   if beyond else "does not show an effect specific to these examples.")
                + f" (Raw loss change {removal['tracin_effect']:+.3f} vs {removal['random_effect']:+.3f}; "
                f"{removal['seeds']} seeds, {removal['random_draws']} random draws.)"
            )  # fmt: skip
    return sentences


def write_lds(score_paths: Sequence[str], subsets_path, predictions_path, train_path, test_path, params: dict,
              out_table, out_json) -> None:  # fmt: skip
    """The LDS of TracIn (each variant; scores averaged over the analysed seeds' TracIn) and of a TF-IDF
    surface attribution, per test language and overall, with intervals over test examples."""
    from lingtrace.analysis.baselines import tfidf_scores
    from lingtrace.analysis.study import jsonable
    from lingtrace.study import resolve_task, task_of

    cfg = settings.load("analysis", params.get("analysis"))
    task = resolve_task(task_of(params))
    subsets = pl.read_parquet(subsets_path)
    tracin = pl.concat([pl.read_parquet(p) for p in score_paths]).group_by(
        "test_uid", "test_lang", "variant", "subset").agg(value=pl.col("score_sum").mean())  # fmt: skip
    predictions = pl.read_parquet(predictions_path)
    seed = int(predictions.filter(pl.col("run").str.starts_with("subset-"))["seed"].min())
    actual = outcomes(predictions, seed)
    scored = tracin.select("test_uid", "test_lang").unique()
    train = pl.read_parquet(train_path).sort("uid")
    test = pl.read_parquet(test_path).join(scored.select(pl.col("test_uid").alias("uid")), on="uid").sort("uid")
    surface = surface_predictions(tfidf_scores(train, test), test["uid"].to_list(), train["uid"].to_list(), subsets)
    per_example = pl.concat([
        example_lds(tracin.select("test_uid", "test_lang", "variant", "subset", "value"), actual),
        example_lds(surface.join(scored, on="test_uid").with_columns(variant=pl.lit("tfidf")).select(
            "test_uid", "test_lang", "variant", "subset", "value"), actual),
    ])  # fmt: skip
    items = test.select(pl.col("uid").alias("test_uid"), pl.col("item_id").alias("item")) if task.parallel else None
    boot = {"n_boot": cfg.bootstrap, "level": cfg.confidence, "seed": cfg.seed}
    table = pl.concat([
        lds_table(per_example, ["variant", "test_lang"], **boot, items=items),
        lds_table(per_example.with_columns(test_lang=pl.lit("all")), ["variant", "test_lang"], **boot, items=items),
    ]).sort("variant", "test_lang")  # fmt: skip
    write_parquet_and_csv(table, out_table)
    overall = {r["variant"]: {"lds": r["lds"], "interval": [r["lds_lo"], r["lds_hi"]], "examples": r["n_examples"],
                              "undefined_examples": r["n_undefined"]}
               for r in table.filter(pl.col("test_lang") == "all").iter_rows(named=True)}  # fmt: skip
    surface_lds = overall.pop("tfidf", None)
    summary = {"lds": {"variants": overall, "surface_baseline": surface_lds, "subsets": subsets["subset"].n_unique(),
                       "fraction": settings.load("lds", params.get("lds")).fraction, "subset_seed": seed}}  # fmt: skip
    summary["findings"] = [lds_sentence(summary["lds"], cfg.confidence)]
    write_json(jsonable(summary), out_json)


def lds_sentence(lds: dict, confidence: float) -> str:
    level = f"{100 * confidence:.0f}%"
    if not lds["variants"]:
        return f"Linear datamodeling score: no TracIn variant has test examples to score over {lds['subsets']} subsets."
    parts = [f"{variant} {number(v['lds'])} {pct_interval(v['interval'])}" for variant, v in sorted(lds["variants"].items())]
    base = lds["surface_baseline"]
    baseline = f"; a TF-IDF surface attribution {number(base['lds'])} {pct_interval(base['interval'])}" if base else ""
    if base and base.get("undefined_examples"):
        baseline += (f" (over the {base['examples']} test examples it tells apart; {base['undefined_examples']} share "
                     "no word with the training set and get no prediction)")  # fmt: skip
    best = max(lds["variants"].values(), key=lambda v: v["lds"] if v["lds"] is not None else -1)
    above = base is not None and best["interval"][0] is not None and base["interval"][1] is not None and (
        best["interval"][0] > base["interval"][1])  # fmt: skip
    return (f"Linear datamodeling score over {lds['subsets']} retrained {100 * lds['fraction']:.0f}% subsets (mean "
            f"over test examples, {level} interval): TracIn {', '.join(parts)}{baseline}; "
            + ("TracIn predicts retraining outcomes better than the surface baseline." if above
               else "TracIn is not clearly better than the surface baseline at predicting retraining outcomes."))  # fmt: skip
