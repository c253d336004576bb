"""The ``lingtrace`` command: every workflow stage, runnable alone on files.

Each Snakemake rule calls one subcommand with explicit input and output files and its config slices
(``--params``: JSON text or ``@file.json``/``@file.yaml``, keyed by config section; every key left out
takes the config schema's default, so ``--params '{}'`` runs a stage whose keys all have defaults).
Run ``lingtrace STAGE --help`` for a stage's arguments. Each command imports only what its stage needs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time
from pathlib import Path

from lingtrace.errors import ConfigError, LingtraceError

log = logging.getLogger("lingtrace")


def load_params(text: str) -> dict:
    """``--params``: JSON text, or @PATH to a JSON or YAML file."""
    try:
        if text.startswith("@"):
            path = Path(text[1:])
            raw = path.read_text()
            if path.suffix in (".yaml", ".yml"):
                import yaml

                return yaml.safe_load(raw) or {}
            return json.loads(raw)
        return json.loads(text)
    except (OSError, ValueError) as err:
        raise ConfigError(f"--params: cannot read {text[:80]!r} as JSON or a JSON/YAML file ({err})") from None


def section(params: dict, name: str):
    """Typed settings of one config section from ``--params`` (schema defaults for what is left out)."""
    from lingtrace import settings

    return settings.load(name, params.get(name))


# --- stages ---------------------------------------------------------------------------------


def cmd_corpus(args, params) -> None:
    import pyarrow.parquet as pq

    from lingtrace.io.atomic import atomic_path
    from lingtrace.model.corpus import build_corpus, parse_text_args

    table = build_corpus(params.get("world"), args.train, parse_text_args(args.text))
    with atomic_path(args.out) as tmp:
        pq.write_table(table, tmp)
    log.info("corpus: %d sentences in %d languages -> %s", table.num_rows, len(set(table["lang"].to_pylist())),
             args.out)  # fmt: skip


def cmd_tokenizer(args, params) -> None:
    from lingtrace.model.pretrain import build_tokenizer

    build_tokenizer(args.corpus, args.out, section(params, "tokenizer"))


def cmd_unknown_tokens(args, params) -> None:
    from lingtrace.model.tokenizer import write_unknown_token_rates

    write_unknown_token_rates(args.tokenizer, args.data, args.out)


def cmd_pretrain(args, params) -> None:
    from lingtrace.model.pretrain import pretrain_mlm

    stats = pretrain_mlm(args.corpus, args.tokenizer, args.out, section(params, "model").arch,
                         section(params, "pretrain"), args.threads, section(params, "study").device)  # fmt: skip
    log.info("pretraining done: %s", stats)


def cmd_data(args, params) -> None:
    from lingtrace.data.prepare import prepare_split
    from lingtrace.study import resolve_task, task_of

    prepare_split(resolve_task(task_of(params)), params.get("world"), args.split, args.out, lang=args.lang)


def cmd_similarity(args, params) -> None:
    from lingtrace.data.prepare import write_similarity

    write_similarity(params.get("world"), args.langs, args.out)


def cmd_finetune(args, params) -> None:
    from lingtrace.finetuning.stage import finetune_runs

    finetune_runs(args.train, args.model, args.run, args.seed, args.checkpoints, params, extra_path=args.extra,
                  removed_path=args.removed, subsets_path=args.subsets, threads=args.threads)  # fmt: skip


def cmd_evaluate(args, params) -> None:
    from lingtrace.finetuning.stage import evaluate_runs

    evaluate_runs(args.test, args.run, args.seed, args.checkpoints, params, args.out, args.predictions, args.threads)


def cmd_merge_metrics(args, params) -> None:
    from lingtrace.finetuning.stage import merge_metrics

    merge_metrics(args.inputs, args.out, csv=args.csv)


def cmd_dump_gradients(args, params) -> None:
    from lingtrace.tracin.stage import dump_run_gradients

    dump_run_gradients(
        params, args.run, args.data, args.checkpoint, args.split, args.shard, args.out,
        extra_path=args.extra, threads=args.threads,
    )  # fmt: skip


def cmd_score(args, params) -> None:
    from lingtrace.device import setup_torch
    from lingtrace.tracin.stage import score_files

    setup_torch(args.threads)
    score_files(params, args.epoch, args.train, args.test, args.out_topk, args.out_lang)


def cmd_score_subsets(args, params) -> None:
    from lingtrace.device import setup_torch
    from lingtrace.tracin.stage import score_subsets

    setup_torch(args.threads)
    score_subsets(params, args.epoch, args.train, args.test, args.subsets, args.out)


def cmd_merge_influence(args, params) -> None:
    from lingtrace.tracin.merge import merge_influence

    merge_influence(args.topk, args.lang, section(params, "influence").top_k, args.out_topk, args.out_lang)


def cmd_overhead(args, params) -> None:
    from lingtrace.report.overhead import overhead_report

    report = overhead_report(args.results, args.logs)
    if args.json:
        from lingtrace.io.atomic import write_json

        write_json(report, args.json)
    print(f"jobs {report['jobs']}, job-seconds {report['job_seconds']:.0f}, work {report['work_seconds']:.0f}, "
          f"overhead {100 * report['overhead_share']:.1f}%")
    for rule, row in report["rules"].items():
        print(f"  {rule:22s} {row['jobs']:4d} jobs {row['seconds']:8.1f} s")


def cmd_bench(args, params) -> None:
    from lingtrace.bench import run_bench
    from lingtrace.io.atomic import write_json

    results = run_bench(quick=args.quick, threads=args.threads)
    if args.json:
        write_json(results, args.json)
    keys = ("grad_ratio_vs_fwdbwd", "grad_speedup_vs_loop", "grad_vs_opacus", "score_fraction_of_matmul",
            "shard_fraction_of_matmul", "shard_write_vs_copy", "shard_read_vs_copy", "captum_speedup",
            "captum_max_rel_err", "captum_in_memory_speedup", "captum_head_speedup",
            "captum_fast_head_speedup")  # fmt: skip
    for key in keys:
        value = results.get(key)
        print(f"{key:28s} {'n/a (pip install lingtrace[bench])' if value is None else format(value, '.4g')}")


def cmd_analyze(args, params) -> None:
    from lingtrace.analysis.study import run_analysis

    paths = {"train": args.train, "test": args.test, "metrics": args.metrics, "planted": args.planted,
             "baseline_topk": args.baseline_topk, "overlap": args.word_overlap}  # fmt: skip
    run_analysis(args.run, args.seed, args.topk, args.lang_scores, paths, params, args.out, args.out_json)


def cmd_baselines(args, params) -> None:
    from lingtrace.analysis.baselines import write_baselines

    write_baselines(args.train, args.test, params, args.out_shortcut, args.out_topk, args.out_overlap)


def cmd_removal_sets(args, params) -> None:
    from lingtrace.validation.stage import write_removal_sets

    write_removal_sets(args.topk, args.seed, args.train, params, args.out_sample, args.out_tracin, args.out_random)


def cmd_control_set(args, params) -> None:
    from lingtrace.validation.stage import write_control_set

    write_control_set(args.train, params, args.out)


def cmd_lds_subsets(args, params) -> None:
    from lingtrace.validation.stage import write_lds_subsets

    write_lds_subsets(args.train, params, args.out)


def cmd_validate(args, params) -> None:
    from lingtrace.validation.stage import validate_task

    outs = {"ablation": args.out_ablation, "ablation_loss": args.out_ablation_loss, "mono": args.out_mono,
            "removal": args.out_removal, "json": args.out_json}  # fmt: skip
    validate_task(args.metrics, args.predictions, args.test, args.language_shares, args.sample, params, outs)


def cmd_lds(args, params) -> None:
    from lingtrace.validation.stage import write_lds

    write_lds(args.scores, args.subsets, args.predictions, args.train, args.test, params, args.out, args.out_json)


def cmd_figures(args, params) -> None:
    from lingtrace.report.pages import task_figures

    tables = {"influence_matrix": args.influence_matrix, "progression": args.progression,
              "language_shares": args.language_shares, "ablation": args.ablation}  # fmt: skip
    task_figures(tables, args.out, params)


def cmd_examples(args, params) -> None:
    from lingtrace.report.pages import write_examples_page

    write_examples_page(args.topk, args.train, args.test, args.predictions, params, args.out)


def cmd_summary(args, params) -> None:
    from lingtrace.report.summary import write_summary

    write_summary(args.task_summary, args.out_json, args.out_md)


def cmd_task_summary(args, params) -> None:
    from lingtrace.report.summary import write_task_summary

    write_task_summary(args.metrics, params, args.out, extras=args.extra, shortcut_path=args.shortcut)


def cmd_warm(args, params) -> None:
    from lingtrace import warm

    warm.serve(args.socket, args.idle_timeout)


def cmd_explain(args, params) -> None:
    from lingtrace.report.explain import explain, format_text

    if (args.uid is None) == (args.lang is None) or (args.lang is not None and args.index is None):
        raise ConfigError("explain: give --uid UID, or --lang LANG with --index I")
    explanation = explain(args.results, args.task, uid=args.uid, lang=args.lang, index=args.index, run=args.run,
                          seed=args.seed, variant=args.variant, k=args.k, checkpoint=args.checkpoint)  # fmt: skip
    if args.json:
        print(json.dumps(explanation, indent=2, ensure_ascii=False))
    else:
        print(format_text(explanation), end="")


# --- parser ---------------------------------------------------------------------------------

# The heavy imports of the stages that have them (imported first and timed apart from the work).
MODEL = ("torch", "transformers.modeling_utils", "transformers.tokenization_utils_fast")
TORCH = ("torch",)
TABLES = ("polars", "scipy.stats")


def _params(p):
    p.add_argument("--params", default="{}", help="config slices by section: JSON text or @file.json/@file.yaml")


def _threads(p):
    p.add_argument("--threads", type=int, default=1, help="torch threads")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lingtrace", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    def stage(name: str, func, help: str, threads: bool = False, needs: tuple = ()):
        """A subcommand; ``needs``: the heavy modules it imports, timed apart from its work in the log."""
        p = sub.add_parser(name, help=help)
        _params(p)
        if threads:
            _threads(p)
        p.set_defaults(func=func, needs=needs)
        return p

    p = stage("corpus", cmd_corpus, "write the pretraining corpus: babel sentences, train splits' texts, text files")
    p.add_argument("--train", nargs="+", default=[], help="train splits (data contract) whose texts go in")
    p.add_argument("--text", nargs="+", default=[], metavar="LANG=PATH", help="UTF-8 text files, a sentence a line")
    p.add_argument("--out", required=True)

    p = stage("tokenizer", cmd_tokenizer, "train the subword tokenizer on the corpus", needs=MODEL)
    p.add_argument("--corpus", required=True)
    p.add_argument("--out", required=True, help="tokenizer folder (save_pretrained)")

    p = stage("unknown-tokens", cmd_unknown_tokens, "log and write a tokenizer's unknown-token rate per language")
    p.add_argument("--tokenizer", required=True, help="tokenizer folder")
    p.add_argument("--data", required=True, help="a split (data contract)")
    p.add_argument("--out", required=True, help="CSV: lang, tokens, unknown, unknown_rate")

    p = stage("pretrain", cmd_pretrain, "masked-LM pretraining of the tiny encoder", threads=True, needs=MODEL)
    p.add_argument("--corpus", required=True)
    p.add_argument("--tokenizer", required=True, help="tokenizer folder")
    p.add_argument("--out", required=True, help="model folder (save_pretrained)")

    p = stage("data", cmd_data, "write one split of a task as the data contract")
    p.add_argument("--split", required=True, choices=["train", "test", "extra"])
    p.add_argument("--lang", help="the boosted language (split extra)")
    p.add_argument("--out", required=True)

    p = stage("similarity", cmd_similarity, "write the planted language-similarity matrix of the babel world")
    p.add_argument("--langs", nargs="+", required=True)
    p.add_argument("--out", required=True)

    p = stage("finetune", cmd_finetune, "fine-tune (run, seed) pairs; a checkpoint folder per epoch", threads=True, needs=MODEL)
    p.add_argument("--train", required=True)
    p.add_argument("--model", required=True, help="pretrained model folder or hub name")
    p.add_argument("--run", nargs="+", required=True, help="the run of each pair")
    p.add_argument("--seed", nargs="+", type=int, required=True, help="the seed of each pair")
    p.add_argument("--checkpoints", nargs="+", required=True, help="checkpoint folders, one per epoch, pair by pair")
    p.add_argument("--extra", help="extra pool (boost runs)")
    p.add_argument("--removed", help="table of removed uids (remove runs, without-random; a seed column: per seed)")
    p.add_argument("--subsets", help="the LDS subsets (subset-I runs)")

    p = stage("evaluate", cmd_evaluate, "per-language test accuracy and loss of checkpoints", threads=True, needs=MODEL)
    p.add_argument("--test", required=True)
    p.add_argument("--run", nargs="+", required=True, help="the run of each pair")
    p.add_argument("--seed", nargs="+", type=int, required=True, help="the seed of each pair")
    p.add_argument("--checkpoints", nargs="+", required=True, help="checkpoint folders, the same number per pair")
    p.add_argument("--out", required=True, help="per-language metrics (Parquet)")
    p.add_argument("--predictions", required=True, help="per-example loss and prediction at each pair's last checkpoint")

    p = stage("merge-metrics", cmd_merge_metrics, "stack per-job metric or prediction tables into one")
    p.add_argument("--inputs", nargs="+", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--csv", action="store_true", help="write a CSV beside the Parquet table")

    p = stage("dump-gradients", cmd_dump_gradients, "per-example loss gradients of checkpoints", threads=True, needs=MODEL)
    p.add_argument("--run", required=True, help="the run, which decides the training rows")
    p.add_argument("--data", required=True, help="the dumped split's data (data contract)")
    p.add_argument("--checkpoint", nargs="+", required=True, help="checkpoint folder of each dump")
    p.add_argument("--split", nargs="+", required=True, choices=["train", "test"],
                   help="split of each dump (all the same: the split --data holds)")
    p.add_argument("--out", nargs="+", required=True, help="gradient shard file of each dump")
    p.add_argument("--shard", nargs="+", type=int, required=True, help="shard of each dump (of gradients.shards)")
    p.add_argument("--extra", help="extra pool (boost runs)")

    p = stage("score", cmd_score, "TracIn: train gradient shards against test shards, merged tables", threads=True, needs=TORCH)
    p.add_argument("--epoch", nargs="+", type=int, required=True, help="the checkpoints, in order")
    p.add_argument("--train", nargs="+", required=True, help="train shard files, checkpoint by checkpoint")
    p.add_argument("--test", nargs="+", required=True, help="test shard files, checkpoint by checkpoint")
    p.add_argument("--out-topk", required=True)
    p.add_argument("--out-lang", required=True)

    p = stage("score-subsets", cmd_score_subsets, "TracIn summed over each LDS subset", threads=True, needs=TORCH)
    p.add_argument("--epoch", nargs="+", type=int, required=True, help="the checkpoints, in order")
    p.add_argument("--train", nargs="+", required=True, help="train shard files, checkpoint by checkpoint")
    p.add_argument("--test", nargs="+", required=True, help="test shard files, checkpoint by checkpoint")
    p.add_argument("--subsets", required=True, help="the LDS subsets (subset, uid)")
    p.add_argument("--out", required=True)

    p = stage("merge-influence", cmd_merge_influence, "merge shard tables into topk.parquet and lang_scores.parquet")
    p.add_argument("--topk", nargs="+", required=True, help="shard top-k tables")
    p.add_argument("--lang", nargs="+", required=True, help="shard language-sum tables")
    p.add_argument("--out-topk", required=True)
    p.add_argument("--out-lang", required=True)

    p = stage("baselines", cmd_baselines, "surface baselines: marker-only classifier, TF-IDF retriever, word overlap", needs=TABLES)
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--out-shortcut", required=True, help="the marker-only classifier's accuracy (Parquet; CSV beside)")
    p.add_argument("--out-topk", required=True, help="the TF-IDF retriever's top-k (the topk contract)")
    p.add_argument("--out-overlap", required=True, help="word-type overlap of every pair of languages")

    p = stage("analyze", cmd_analyze, "a task's analyses: shares, matrix, progression, reinforcement, planted", needs=TABLES)
    p.add_argument("--run", nargs="+", required=True, help="the run of each analysed (run, seed) pair")
    p.add_argument("--seed", nargs="+", type=int, required=True, help="the seed of each pair")
    p.add_argument("--topk", nargs="+", required=True, help="each pair's topk.parquet")
    p.add_argument("--lang-scores", nargs="+", required=True, help="each pair's lang_scores.parquet")
    p.add_argument("--train", required=True, help="training data (items and labels for the reinforcement analysis)")
    p.add_argument("--test", required=True, help="test data (items resampled together, labels for chance)")
    p.add_argument("--metrics", required=True, help="accuracy.parquet (trained checkpoints)")
    p.add_argument("--planted", help="planted similarity (babel tasks)")
    p.add_argument("--baseline-topk", help="the TF-IDF retriever's top-k (lingtrace baselines)")
    p.add_argument("--word-overlap", help="word-type overlap of the languages (lingtrace baselines)")
    p.add_argument("--out", nargs="+", required=True, help="the tables' Parquet paths ({table}.parquet; CSV beside)")
    p.add_argument("--out-json", required=True, help="the task's findings (summary.json piece)")

    p = stage("removal-sets", cmd_removal_sets, "the removal test's sampled test examples and removed training examples")
    p.add_argument("--topk", nargs="+", required=True, help="the joint run's topk.parquet of each retraining seed")
    p.add_argument("--seed", nargs="+", type=int, required=True, help="the retraining seeds, one per --topk")
    p.add_argument("--train", required=True)
    p.add_argument("--out-sample", required=True)
    p.add_argument("--out-tracin", required=True, help="per seed, the removed proponents (seed, uid)")
    p.add_argument("--out-random", nargs="+", required=True, help="per random draw, the removed examples (seed, uid)")

    p = stage("control-set", cmd_control_set, "the without-random run's removed examples")
    p.add_argument("--train", required=True)
    p.add_argument("--out", required=True)

    p = stage("lds-subsets", cmd_lds_subsets, "the LDS's random training subsets (subset, uid)")
    p.add_argument("--train", required=True)
    p.add_argument("--out", required=True)

    p = stage("validate", cmd_validate, "ablation changes, agreement with TracIn, removal-test effects", needs=TABLES)
    p.add_argument("--metrics", required=True)
    p.add_argument("--predictions", required=True)
    p.add_argument("--test", required=True, help="test data (items resampled together)")
    p.add_argument("--language-shares", required=True)
    p.add_argument("--sample", help="the removal test's sample (when the study makes removal runs)")
    p.add_argument("--out-ablation", required=True, help="accuracy changes (Parquet; CSV beside)")
    p.add_argument("--out-ablation-loss", required=True, help="loss changes and the specific change (Parquet; CSV beside)")
    p.add_argument("--out-mono", required=True)
    p.add_argument("--out-removal", required=True, help="per removal run, seed and sampled example (Parquet; CSV beside)")
    p.add_argument("--out-json", required=True)

    p = stage("lds", cmd_lds, "the linear datamodeling score of TracIn and of a TF-IDF baseline", needs=TABLES)
    p.add_argument("--scores", nargs="+", required=True, help="TracIn summed over each subset, one file per seed")
    p.add_argument("--subsets", required=True)
    p.add_argument("--predictions", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--out", required=True, help="LDS per variant and test language (Parquet; CSV beside)")
    p.add_argument("--out-json", required=True)

    p = stage("figures", cmd_figures, "a task's figures (PNG and SVG)", needs=TABLES)
    for table in ("influence-matrix", "progression", "language-shares", "ablation"):
        p.add_argument(f"--{table}", required=True)
    p.add_argument("--out", nargs="+", required=True, help="figure files: {figure}.png and {figure}.svg")

    p = stage("examples", cmd_examples, "an HTML page of test examples with their proponents and opponents")
    p.add_argument("--topk", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--predictions", required=True)
    p.add_argument("--out", required=True)

    p = stage("overhead", cmd_overhead, "how much of a finished study's job time was start-up rather than work")
    p.add_argument("--results", default="results", help="the study's results folder (its benchmarks/)")
    p.add_argument("--logs", default="logs", help="the study's job logs")
    p.add_argument("--json", help="write the figures to this JSON file")

    p = stage("bench", cmd_bench, "performance figures, side by side with plain torch, opacus and Captum")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not the reported figures)")
    p.add_argument("--json", help="write every figure to this JSON file")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")

    p = stage("warm", cmd_warm, "serve jobs as forks of one process with torch and transformers imported (the workflow starts it)")
    p.add_argument("--socket", required=True, help="Unix socket path to listen on")
    p.add_argument("--idle-timeout", type=float, default=3600.0, help="seconds without a job before it exits")

    p = stage("explain", cmd_explain, "one test example of a finished study: its proponents, opponents and languages")
    p.add_argument("--task", required=True)
    p.add_argument("--uid", help="the test example's uid")
    p.add_argument("--lang", help="with --index: a test language")
    p.add_argument("--index", type=int, help="the i-th (from 0) scored test example of --lang, in uid order")
    p.add_argument("--results", default="results", help="the study's results folder")
    p.add_argument("--run", default="joint", help="an analysed run (influence.runs)")
    p.add_argument("--seed", type=int, help="default: the seed with influence tables (the study's first)")
    p.add_argument("--variant", choices=["dot", "cosine"], help="default: analysis.variant")
    p.add_argument("--k", type=int, help="proponents and opponents shown (default: report.show_k)")
    p.add_argument("--checkpoint", default="all", help="'all' (summed over checkpoints) or an epoch")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = stage("task-summary", cmd_task_summary, "a task's entry of summary.json")
    p.add_argument("--metrics", required=True)
    p.add_argument("--shortcut", help="the marker-only classifier's accuracy (lingtrace baselines)")
    p.add_argument("--extra", nargs="*", default=[], help="JSON pieces (analysis, validation) to merge in")
    p.add_argument("--out", required=True)

    p = stage("summary", cmd_summary, "merge task summaries into summary.json and summary.md")
    p.add_argument("--task-summary", nargs="+", required=True)
    p.add_argument("--out-json", required=True)
    p.add_argument("--out-md", required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The ``lingtrace`` command: in the workflow's warm process when there is one (see lingtrace.warm)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] != ["warm"]:
        from lingtrace import warm

        status = warm.call(argv)
        if status is not None:
            return status
    return run(argv)


def run(argv: list[str]) -> int:
    """Run one subcommand in this process."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # progress bars clutter job logs
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("transformers", "httpx", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        started = time.monotonic()
        for module in args.needs:
            importlib.import_module(module)
        imported = time.monotonic()
        args.func(args, load_params(args.params))
        # read by `lingtrace overhead`: how much of a job was its work, not start-up and imports
        log.info("%s: imports %.2f s, work %.2f s", args.command, imported - started, time.monotonic() - imported)
    except LingtraceError as err:
        log.error("%s", err)
        print(f"lingtrace {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
