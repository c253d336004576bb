"""``results/summary.json`` (the machine-readable result of a study) and ``summary.md``."""

from __future__ import annotations

import json
import os

import polars as pl

from lingtrace.finetuning.evaluate import final_checkpoint
from lingtrace.io.atomic import write_json, write_text
from lingtrace.study import chance, resolve_task


def final_accuracy(metrics: pl.DataFrame) -> pl.DataFrame:
    """Test accuracy of each run's last checkpoint per language, averaged over seeds."""
    return final_checkpoint(metrics).group_by("run", "lang").agg(
        pl.col("accuracy").mean().alias("accuracy"),
        pl.col("loss").mean().alias("loss"),
        pl.len().alias("seeds"),
    )


def nested(df: pl.DataFrame, outer: str, inner: str, value: str) -> dict:
    out: dict = {}
    for row in df.sort(outer, inner).iter_rows(named=True):
        out.setdefault(row[outer], {})[row[inner]] = row[value]
    return out


def write_task_summary(metrics_path, params: dict, out, extras: list[str] | None = None) -> None:
    """A task's entry: chance, final accuracy per run and language, merged with the JSON pieces in
    ``extras`` (the analysis and validation findings)."""
    task = resolve_task(params["task"])
    metrics = pl.read_parquet(metrics_path)
    final = final_accuracy(metrics)
    entry = {
        "chance": chance(task),
        "accuracy": nested(final, "run", "lang", "accuracy"),
        "train_langs": list(task.train_langs),
        "zero_shot_langs": list(task.zero_shot_langs),
    }
    joint = final.filter((pl.col("run") == "joint") & pl.col("lang").is_in(list(task.train_langs)))
    entry["joint_min_train_accuracy"] = joint["accuracy"].min()
    entry["learns_task"] = bool(joint["accuracy"].min() >= chance(task) + 0.2)
    findings = []
    for path in extras or []:
        with open(path) as fh:
            piece = json.load(fh)
        findings += piece.pop("findings", [])
        entry.update(piece)
    entry["findings"] = findings
    write_json(entry, out)


def write_summary(task_summaries: list[str], out_json, out_md) -> None:
    tasks = {}
    for path in task_summaries:
        name = os.path.basename(os.path.dirname(path))
        with open(path) as fh:
            tasks[name] = json.load(fh)
    write_json({"tasks": tasks}, out_json)
    write_text(render_markdown(tasks), out_md)


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def render_markdown(tasks: dict) -> str:
    lines = ["# lingtrace study summary", ""]
    for name, entry in tasks.items():
        lines += [f"## {name}", ""]
        joint = entry["accuracy"].get("joint", {})
        lines.append(
            f"Joint fine-tuning reaches {_pct(entry['joint_min_train_accuracy'])} test accuracy or more on every "
            f"fine-tuning language (chance {_pct(entry['chance'])})."
        )
        lines += ["", "| run | " + " | ".join(sorted(joint)) + " |", "|---|" + "---|" * len(joint)]
        for run, accs in entry["accuracy"].items():
            lines.append(f"| {run} | " + " | ".join(_pct(accs.get(lang)) for lang in sorted(joint)) + " |")
        lines.append("")
        for section in entry.get("findings", []):
            lines.append(f"- {section}")
        lines.append("")
    return "\n".join(lines)
