"""``lingtrace explain``: one test example of a finished study and the training examples behind it.

Reads a study's files under its results folder: ``{task}/data/test.parquet`` and the training data
(``train.parquet``, and ``extra-*.parquet`` for boost runs), ``{task}/metrics/predictions.parquet``, and
the run's influence tables (``{task}/{run}/seed-{seed}/influence/topk.parquet`` and
``lang_scores.parquet``) of the seed that has them (TracIn analyses the study's first seed).

    explanation = explain("results", "review", uid="review-test-ala-000003")
    print(format_text(explanation))
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import polars as pl

from lingtrace import settings
from lingtrace.errors import ArtifactError, LingtraceError
from lingtrace.io.data import read_parquet

RERUN = "Run the study (snakemake) first; influence tables exist for the runs in influence.runs, first seed."


class NotInStudy(LingtraceError):
    """A uid, language, index, run, checkpoint or variant the study's files do not hold."""


def _read(path: Path) -> pl.DataFrame:
    return pl.from_arrow(read_parquet(path, rerun_hint=RERUN))


def influence_dir(results: Path, task: str, run: str, seed: int | None) -> tuple[Path, int]:
    """(influence folder, seed) of a run: the given seed's, or the one seed that has influence tables."""
    run_dir = results / task / run
    if seed is None:
        seeds = sorted(int(p.name.removeprefix("seed-")) for p in run_dir.glob("seed-*")
                       if re.fullmatch(r"seed-\d+", p.name) and (p / "influence/topk.parquet").exists())  # fmt: skip
        if not seeds:
            raise ArtifactError(f"{run_dir}/seed-*/influence/topk.parquet: not found. {RERUN}")
        seed = seeds[0]
    return run_dir / f"seed-{seed}" / "influence", seed


def training_rows(results: Path, task: str) -> pl.DataFrame:
    """Every training example a run of the task may hold: the train split and the boost runs' extra pools."""
    data = results / task / "data"
    paths = [data / "train.parquet", *sorted(data.glob("extra-*.parquet"))]
    return pl.concat([_read(path) for path in paths]).unique("uid", keep="first", maintain_order=True)


def choose_uid(topk: pl.DataFrame, test: pl.DataFrame, uid: str | None, lang: str | None, index: int | None,
               where: Path) -> str:  # fmt: skip
    """The test uid asked for: ``uid``, or the ``index``-th (0-based) scored example of ``lang`` in uid order."""
    scored = set(topk["test_uid"].unique().to_list())
    if uid is not None:
        if uid not in set(test["uid"].to_list()):
            raise NotInStudy(f"uid {uid!r} is not in {where / 'data/test.parquet'}")
        if uid not in scored:
            raise NotInStudy(f"uid {uid!r} was not scored by TracIn (influence.test_per_lang limits which are)")
        return uid
    langs = sorted(test["lang"].unique().to_list())
    if lang not in langs:
        raise NotInStudy(f"language {lang!r} is not in {where / 'data/test.parquet'} (languages: {langs})")
    uids = sorted(u for u in test.filter(pl.col("lang") == lang)["uid"].to_list() if u in scored)
    if index is None or not 0 <= index < len(uids):
        raise NotInStudy(f"--index {index}: language {lang!r} has {len(uids)} scored test examples "
                         f"(0..{len(uids) - 1})")  # fmt: skip
    return uids[index]


def _check_choice(table: pl.DataFrame, column: str, value: str, path: Path) -> None:
    values = sorted(table[column].unique().to_list())
    if value not in values:
        raise NotInStudy(f"{column} {value!r} is not in {path} (it has {values})")


def _example(row: dict) -> dict:
    return {key: row[key] for key in ("uid", "lang", "label", "text_a", "text_b")}


def _neighbours(topk: pl.DataFrame, train: pl.DataFrame, direction: str, k: int, path: Path) -> list[dict]:
    rows = topk.filter((pl.col("direction") == direction) & (pl.col("rank") <= k)).sort("rank")
    wanted = set(rows["train_uid"].to_list())
    texts = {row["uid"]: row for row in train.iter_rows(named=True) if row["uid"] in wanted}
    missing = [u for u in rows["train_uid"].to_list() if u not in texts]
    if missing:
        raise ArtifactError(f"{path}: training uid {missing[0]!r} is in no training data file of the task. {RERUN}")
    return [{"rank": row["rank"], "score": row["score"], **_example(texts[row["train_uid"]])}
            for row in rows.iter_rows(named=True)]  # fmt: skip


def explain(results: str | os.PathLike, task: str, uid: str | None = None, lang: str | None = None,
            index: int | None = None, run: str = "joint", seed: int | None = None, variant: str | None = None,
            k: int | None = None, checkpoint: str = "all") -> dict:  # fmt: skip
    """One test example (``uid``, or ``lang`` and ``index``) of a finished study: its text, label and
    prediction, its top-``k`` proponents and opponents (rank, score, language, label, text) and the summed
    influence of each training language, under ``variant`` (None: ``analysis.variant``) at ``checkpoint``
    ('all': summed over checkpoints). ``k`` None: ``report.show_k``. Returns a JSON-able dict."""
    results = Path(results)
    variant = variant or settings.load("analysis").variant
    k = k or settings.load("report").show_k
    folder, seed = influence_dir(results, task, run, seed)
    topk_path, lang_path = folder / "topk.parquet", folder / "lang_scores.parquet"
    topk = _read(topk_path)
    for column, value in (("variant", variant), ("checkpoint", checkpoint)):
        _check_choice(topk, column, value, topk_path)
    topk = topk.filter((pl.col("variant") == variant) & (pl.col("checkpoint") == checkpoint))
    test = _read(results / task / "data/test.parquet")
    uid = choose_uid(topk, test, uid, lang, index, results / task)
    example = _example(test.filter(pl.col("uid") == uid).row(0, named=True))
    prediction = _prediction(results / task / "metrics/predictions.parquet", run, seed, uid)
    mine = topk.filter(pl.col("test_uid") == uid)
    train = training_rows(results, task)
    by_lang = _read(lang_path).filter((pl.col("test_uid") == uid) & (pl.col("variant") == variant)
                                      & (pl.col("checkpoint") == checkpoint)).sort("train_lang")  # fmt: skip
    return {
        "task": task, "run": run, "seed": seed, "variant": variant, "checkpoint": checkpoint, "k": k,
        "example": {**example, **prediction},
        "proponents": _neighbours(mine, train, "proponent", k, topk_path),
        "opponents": _neighbours(mine, train, "opponent", k, topk_path),
        "languages": [{"lang": r["train_lang"], "n_train": r["n_train"], "score_sum": r["score_sum"],
                       "score_mean": r["score_sum"] / r["n_train"] if r["n_train"] else 0.0}
                      for r in by_lang.iter_rows(named=True)],
    }  # fmt: skip


def _prediction(path: Path, run: str, seed: int, uid: str) -> dict:
    rows = _read(path).filter((pl.col("run") == run) & (pl.col("seed") == seed) & (pl.col("uid") == uid))
    if rows.is_empty():
        raise NotInStudy(f"{path}: no prediction of run {run!r}, seed {seed} for uid {uid!r}")
    row = rows.row(0, named=True)
    return {"pred": row["pred"], "loss": row["loss"], "pred_checkpoint": row["checkpoint"]}


def _text(row: dict) -> str:
    return row["text_a"] if row["text_b"] is None else f"{row['text_a']} ║ {row['text_b']}"


def _neighbour_lines(title: str, rows: list[dict]) -> list[str]:
    lines = [title, f"  {'rank':>4}  {'lang':<8} {'label':>5}  {'score':>11}  text"]
    lines += [f"  {r['rank']:>4}  {r['lang']:<8} {r['label']:>5}  {r['score']:>11.4g}  {_text(r)}" for r in rows]
    return lines


def format_text(explanation: dict) -> str:
    """The explanation as plain text for a terminal."""
    e = explanation
    ex = e["example"]
    where = "summed over checkpoints" if e["checkpoint"] == "all" else f"checkpoint {e['checkpoint']}"
    lines = [
        f"{e['task']}: run {e['run']}, seed {e['seed']}, TracIn {e['variant']} ({where})",
        "",
        f"test example {ex['uid']} ({ex['lang']})",
        f"  {_text(ex)}",
        f"  label {ex['label']}, predicted {ex['pred']} (loss {ex['loss']:.4g}, epoch {ex['pred_checkpoint']})",
        "",
        *_neighbour_lines(f"top {e['k']} proponents (lower its loss)", e["proponents"]),
        "",
        *_neighbour_lines(f"top {e['k']} opponents (raise its loss)", e["opponents"]),
        "",
        "influence by training language (sum and mean over the language's training examples)",
        f"  {'lang':<8} {'n_train':>7}  {'score_sum':>11}  {'score_mean':>11}",
        *(f"  {r['lang']:<8} {r['n_train']:>7}  {r['score_sum']:>11.4g}  {r['score_mean']:>11.4g}"
          for r in e["languages"]),  # fmt: skip
    ]
    return "\n".join(lines) + "\n"
