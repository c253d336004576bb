"""The ``lingtrace`` command: every workflow stage, runnable alone on files.

Each Snakemake rule calls one subcommand with paths and its own config slice (``--params``, JSON
text or ``@file.json``/``@file.yaml``). Run ``lingtrace STAGE --help`` for a stage's arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from lingtrace.errors import LingtraceError

log = logging.getLogger("lingtrace")


def load_params(text: str) -> dict:
    """``--params``: JSON text, or @PATH to a JSON or YAML file."""
    if text.startswith("@"):
        path = Path(text[1:])
        raw = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(raw)
        return json.loads(raw)
    return json.loads(text)


# --- stages ---------------------------------------------------------------------------------


def cmd_corpus(args) -> None:
    import pyarrow.parquet as pq

    from lingtrace.data.synthetic import generate_corpus
    from lingtrace.io.atomic import atomic_path

    world = load_params(args.params)
    table = generate_corpus(world, world["corpus_sentences_per_lang"])
    with atomic_path(args.out) as tmp:
        pq.write_table(table, tmp)
    log.info("corpus: %d sentences in %d languages -> %s", table.num_rows, len(world["languages"]), args.out)


def cmd_tokenizer(args) -> None:
    from lingtrace.model.pretrain import build_tokenizer

    build_tokenizer(args.corpus, args.out, load_params(args.params))


def cmd_pretrain(args) -> None:
    from lingtrace.model.pretrain import pretrain_mlm

    params = load_params(args.params)
    stats = pretrain_mlm(args.corpus, args.tokenizer, args.out, params["arch"], params["pretrain"], args.threads)
    log.info("pretraining done: %s", stats)


def cmd_data(args) -> None:
    from lingtrace.data.prepare import prepare_split

    params = load_params(args.params)
    prepare_split(params["task"], params.get("world"), args.split, args.out, lang=args.lang)


def cmd_similarity(args) -> None:
    from lingtrace.data.prepare import write_similarity

    params = load_params(args.params)
    write_similarity(params["world"], params["langs"], args.out)


def cmd_finetune(args) -> None:
    from lingtrace.training import finetune_run

    params = load_params(args.params)
    finetune_run(
        train_path=args.train,
        model=args.model,
        run_dir=args.run_dir,
        run=args.run,
        seed=args.seed,
        params=params,
        extra_path=args.extra,
        removed_path=args.removed,
        threads=args.threads,
    )


def cmd_evaluate(args) -> None:
    from lingtrace.training import evaluate_task

    evaluate_task(args.test, args.checkpoint, load_params(args.params), args.out, args.predictions, args.threads)


def cmd_dump_gradients(args) -> None:
    from lingtrace.gradients import dump_gradients
    from lingtrace.selection import traced_examples

    params = load_params(args.params)
    rows = traced_examples(
        args.data, args.split, params["task"], args.run, extra_path=args.extra, removed_path=args.removed,
        test_per_lang=params.get("test_per_lang"),
    )  # fmt: skip
    settings = params["gradients"]
    dump_gradients(
        args.checkpoint, rows, settings, args.out, split=args.split, shard=args.shard, n_shards=args.shards,
        threads=args.threads, device=settings.get("device", "cpu"),
    )  # fmt: skip


def cmd_score_shard(args) -> None:
    from lingtrace.device import setup_torch
    from lingtrace.scoring import group_by_checkpoint, score_shard_files

    setup_torch(args.threads)
    score_shard_files(
        group_by_checkpoint(args.train), group_by_checkpoint(args.test), load_params(args.params),
        args.out_topk, args.out_lang,
    )  # fmt: skip


def cmd_merge_influence(args) -> None:
    from lingtrace.merge import merge_influence

    merge_influence(args.topk, args.lang, args.top_k, args.out_topk, args.out_lang)


def cmd_bench(args) -> None:
    from lingtrace.bench import run_bench
    from lingtrace.io.atomic import write_json

    results = run_bench(quick=args.quick, threads=args.threads)
    if args.json:
        write_json(results, args.json)
    keys = ("grad_ratio_vs_fwdbwd", "grad_speedup_vs_loop", "score_fraction_of_matmul",
            "shard_fraction_of_matmul", "captum_speedup", "captum_max_rel_err")  # fmt: skip
    for key in keys:
        print(f"{key:28s} {results[key]:.4g}")


def cmd_analyze(args) -> None:
    from lingtrace.analysis.study import run_analysis

    run_analysis(args.run, args.train, args.planted, load_params(args.params), args.out_dir, args.out_json)


def cmd_removal_sets(args) -> None:
    from lingtrace.validation.stage import write_removal_sets

    write_removal_sets(args.topk, args.train, load_params(args.params), args.out_sample, args.out_tracin,
                       args.out_random)  # fmt: skip


def cmd_validate(args) -> None:
    from lingtrace.validation.stage import validate_task

    validate_task(args.metrics, args.predictions, args.tables, args.sample, load_params(args.params),
                  args.out_ablation, args.out_mono, args.out_removal, args.out_json)  # fmt: skip


def cmd_figures(args) -> None:
    from lingtrace.report import task_figures

    params = load_params(args.params)
    task_figures(args.tables, args.out_dir, params["report"], params["task"])


def cmd_examples(args) -> None:
    from lingtrace.report import write_examples_page

    params = load_params(args.params)
    write_examples_page(args.topk, args.train, args.test, args.predictions, params["report"], params["task"]["name"],
                        args.out)  # fmt: skip


def cmd_summary(args) -> None:
    from lingtrace.summary import write_summary

    write_summary(args.task_summary, args.out_json, args.out_md)


def cmd_task_summary(args) -> None:
    from lingtrace.summary import write_task_summary

    write_task_summary(args.metrics, load_params(args.params), args.out, extras=args.extra)


# --- parser ---------------------------------------------------------------------------------


def _params(p):
    p.add_argument("--params", required=True, help="this stage's config slice: JSON text or @file.json/@file.yaml")


def _threads(p):
    p.add_argument("--threads", type=int, default=1, help="torch threads")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lingtrace", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("corpus", help="write the babel world's monolingual pretraining corpus")
    _params(p)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_corpus)

    p = sub.add_parser("tokenizer", help="train the subword tokenizer on the corpus")
    _params(p)
    p.add_argument("--corpus", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_tokenizer)

    p = sub.add_parser("pretrain", help="masked-LM pretraining of the tiny encoder")
    _params(p)
    _threads(p)
    p.add_argument("--corpus", required=True)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("data", help="write one split of a task as the data contract")
    _params(p)
    p.add_argument("--split", required=True, choices=["train", "test", "extra"])
    p.add_argument("--lang", help="the boosted language (split extra)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("similarity", help="write the planted language-similarity matrix of the babel world")
    _params(p)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_similarity)

    p = sub.add_parser("finetune", help="fine-tune one run; a checkpoint per epoch")
    _params(p)
    _threads(p)
    p.add_argument("--train", required=True)
    p.add_argument("--model", required=True, help="pretrained model directory or hub name")
    p.add_argument("--run", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--extra", help="extra pool (boost runs)")
    p.add_argument("--removed", help="table of removed uids (remove runs)")
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser("evaluate", help="per-language test accuracy and loss of checkpoints")
    _params(p)
    _threads(p)
    p.add_argument("--test", required=True)
    p.add_argument("--checkpoint", nargs="+", required=True, help="RUN:SEED:DIR, one per checkpoint")
    p.add_argument("--out", required=True, help="per-language metrics (Parquet; a CSV is written beside it)")
    p.add_argument("--predictions", required=True, help="per-example loss and prediction at each last checkpoint")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("dump-gradients", help="per-example loss gradients of one checkpoint, split and shard")
    _params(p)
    _threads(p)
    p.add_argument("--checkpoint", required=True, help="checkpoint directory")
    p.add_argument("--data", required=True, help="the split's data (data contract)")
    p.add_argument("--split", required=True, choices=["train", "test"])
    p.add_argument("--run", required=True, help="the run, which decides the training rows")
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--shards", type=int, default=1)
    p.add_argument("--extra", help="extra pool (boost runs)")
    p.add_argument("--removed", help="table of removed uids (remove runs)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_dump_gradients)

    p = sub.add_parser("score-shard", help="TracIn: one train shard against every test example and checkpoint")
    _params(p)
    _threads(p)
    p.add_argument("--train", nargs="+", required=True, help="the shard's gradient files, one per checkpoint")
    p.add_argument("--test", nargs="+", required=True, help="every test gradient file of every checkpoint")
    p.add_argument("--out-topk", required=True)
    p.add_argument("--out-lang", required=True)
    p.set_defaults(func=cmd_score_shard)

    p = sub.add_parser("merge-influence", help="merge shard results into topk.parquet and lang_scores.parquet")
    p.add_argument("--top-k", type=int, required=True)
    p.add_argument("--topk", nargs="+", required=True, help="shard top-k tables")
    p.add_argument("--lang", nargs="+", required=True, help="shard language-sum tables")
    p.add_argument("--out-topk", required=True)
    p.add_argument("--out-lang", required=True)
    p.set_defaults(func=cmd_merge_influence)

    p = sub.add_parser("analyze", help="a task's analyses: shares, matrix, progression, reinforcement, planted")
    _params(p)
    p.add_argument("--run", nargs="+", required=True, help="RUN=TOPK_PARQUET:LANG_SCORES_PARQUET per analysed run")
    p.add_argument("--train", required=True, help="training data (item ids for the reinforcement analysis)")
    p.add_argument("--planted", help="planted similarity (babel tasks)")
    p.add_argument("--out-dir", required=True, help="folder for the tables (Parquet and CSV)")
    p.add_argument("--out-json", required=True, help="the task's findings (summary.json piece)")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("removal-sets", help="the removal test's sampled test examples and removed training examples")
    _params(p)
    p.add_argument("--topk", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--out-sample", required=True)
    p.add_argument("--out-tracin", required=True)
    p.add_argument("--out-random", required=True)
    p.set_defaults(func=cmd_removal_sets)

    p = sub.add_parser("validate", help="ablation deltas, agreement with TracIn, removal-test effects")
    _params(p)
    p.add_argument("--metrics", required=True)
    p.add_argument("--predictions", required=True)
    p.add_argument("--tables", required=True, help="the task's analysis tables folder")
    p.add_argument("--sample", help="the removal test's sample (when the study makes removal runs)")
    p.add_argument("--out-ablation", required=True)
    p.add_argument("--out-mono", required=True)
    p.add_argument("--out-removal", required=True)
    p.add_argument("--out-json", required=True)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("figures", help="a task's figures (PNG and SVG)")
    _params(p)
    p.add_argument("--tables", required=True)
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_figures)

    p = sub.add_parser("examples", help="an HTML page of test examples with their proponents and opponents")
    _params(p)
    p.add_argument("--topk", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--predictions", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_examples)

    p = sub.add_parser("bench", help="performance figures, side by side with plain torch and Captum")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not the reported figures)")
    p.add_argument("--json", help="write every figure to this JSON file")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("task-summary", help="a task's entry of summary.json")
    _params(p)
    p.add_argument("--metrics", required=True)
    p.add_argument("--extra", nargs="*", default=[], help="JSON pieces (analysis, validation) to merge in")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_task_summary)

    p = sub.add_parser("summary", help="merge task summaries into summary.json and summary.md")
    p.add_argument("--task-summary", nargs="+", required=True)
    p.add_argument("--out-json", required=True)
    p.add_argument("--out-md", required=True)
    p.set_defaults(func=cmd_summary)
    return parser


def main(argv: list[str] | None = None) -> int:
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
        args.func(args)
    except LingtraceError as err:
        log.error("%s", err)
        print(f"lingtrace {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
