"""``results/summary.json`` (the machine-readable result of a study) and ``summary.md``."""

from __future__ import annotations

import json
import os

import polars as pl

from lingtrace import settings
from lingtrace.analysis.convergence import seed_convergence, seed_spread
from lingtrace.errors import AnalysisError
from lingtrace.finetuning.evaluate import final_checkpoint
from lingtrace.io.atomic import write_json, write_text
from lingtrace.study import chance, resolve_task, task_of


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


def convergence_entry(metrics: pl.DataFrame, task, tolerance: float) -> dict:
    """Which (run, seed) pairs converged, and each run's spread of final accuracy over seeds."""
    flags = seed_convergence(metrics, task.train_langs, tolerance).select("run", "seed", "converged").unique()
    spread = seed_spread(metrics, task.train_langs)
    return {
        "tolerance": tolerance,
        "seeds": {run: {str(seed): ok for _, seed, ok in group.sort("seed").iter_rows()}
                  for (run,), group in flags.sort("run").group_by("run", maintain_order=True)},  # fmt: skip
        "not_converged": [f"{r}/seed-{s}" for r, s, ok in flags.sort("run", "seed").iter_rows() if not ok],
        "spread": nested(spread, "run", "lang", "spread"),
    }


def write_task_summary(metrics_path, params: dict, out, extras: list[str] | None = None, shortcut_path=None) -> None:
    """A task's entry: chance, final accuracy per run and language (mean over seeds), which seeds
    converged, the marker-only shortcut's accuracy, merged with the JSON pieces in ``extras`` (the
    analysis and validation findings)."""
    task = resolve_task(task_of(params))
    cfg = settings.load("analysis", params.get("analysis"))
    metrics = pl.read_parquet(metrics_path)
    final = final_accuracy(metrics)
    entry = {
        "chance": chance(task),
        "accuracy": nested(final, "run", "lang", "accuracy"),
        "train_langs": list(task.train_langs),
        "zero_shot_langs": list(task.zero_shot_langs),
        "convergence": convergence_entry(metrics, task, cfg.seed_tolerance),
    }
    joint = final.filter((pl.col("run") == "joint") & pl.col("lang").is_in(list(task.train_langs)))
    if joint.is_empty():
        raise AnalysisError(f"{metrics_path}: no joint run on the fine-tuning languages of task {task.name}")
    entry["joint_min_train_accuracy"] = joint["accuracy"].min()
    entry["margins"] = {"over_chance": cfg.chance_margin, "over_shortcut": cfg.shortcut_margin}
    entry["learns_task"] = bool(joint["accuracy"].min() >= chance(task) + cfg.chance_margin)
    if shortcut_path:
        shortcut = pl.read_parquet(shortcut_path)
        by_lang = dict(shortcut.select("lang", "accuracy").iter_rows())
        missing = sorted({"all", *joint["lang"]} - set(by_lang))
        if missing:
            raise AnalysisError(f"{shortcut_path}: no shortcut accuracy for {missing}")
        margins = [row["accuracy"] - by_lang[row["lang"]] for row in joint.iter_rows(named=True)]
        entry["baselines"] = {"shortcut_accuracy": by_lang.pop("all"), "shortcut_accuracy_by_lang": by_lang,
                              "joint_min_margin_over_shortcut": min(margins)}  # fmt: skip
        entry["needs_content"] = bool(min(margins) >= cfg.shortcut_margin)
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


def learning_sentences(entry: dict) -> list[str]:
    """Did the joint model learn the task from content, and did every seed converge? In words."""
    over_chance, over_shortcut = entry["margins"]["over_chance"], entry["margins"]["over_shortcut"]
    worst, floor = entry["joint_min_train_accuracy"], entry["chance"] + over_chance
    sentence = (f"Joint fine-tuning reaches {_pct(worst)} test accuracy or more on every fine-tuning language "
                f"(chance {_pct(entry['chance'])}")  # fmt: skip
    base = entry.get("baselines")
    if base:
        margin = base["joint_min_margin_over_shortcut"]
        sentence += f"; a classifier on function and marker words and the texts' word overlap alone: {_pct(base['shortcut_accuracy'])})"
        if not entry["learns_task"]:
            sentence += (f", less than {100 * over_chance:.0f} points above chance on some language: "
                         "the task is not learned well enough to read its attributions as findings.")  # fmt: skip
        elif entry["needs_content"]:
            sentence += (f", at least {100 * margin:.1f} points above that shortcut on every language: the task is "
                         "learned from content.")  # fmt: skip
        else:
            sentence += (f", {_points(margin)} that shortcut on some language (less than {100 * over_shortcut:.0f}): "
                         "accuracy there may come from markers, not content.")  # fmt: skip
    elif worst is not None and worst < floor:
        sentence += f"), less than {100 * over_chance:.0f} points above chance on some language."
    else:
        sentence += ")."
    sentences = [sentence]
    conv = entry.get("convergence")
    if conv:
        if conv["not_converged"]:
            sentences.append(f"Not converged (a fine-tuning language further than {100 * conv['tolerance']:.0f} points "
                             f"from the median over seeds; marked, still averaged in the table): "
                             f"{', '.join(conv['not_converged'])}.")  # fmt: skip
        else:
            spread = max(v for langs in conv["spread"].values() for v in langs.values())
            sentences.append(f"Every seed of every run converged: final accuracy within {100 * conv['tolerance']:.0f} "
                             f"points of the median over seeds (largest spread {100 * spread:.1f} points).")  # fmt: skip
    return sentences


def _points(margin: float) -> str:
    """A margin in words: '3.2 points above' or '4.0 points below'."""
    return f"{100 * abs(margin):.1f} points {'above' if margin >= 0 else 'below'}"


def render_markdown(tasks: dict) -> str:
    lines = ["# lingtrace study summary", ""]
    for name, entry in tasks.items():
        lines += [f"## {name}", ""]
        joint = entry["accuracy"].get("joint", {})
        lines += learning_sentences(entry)
        lines += ["", "| run | " + " | ".join(sorted(joint)) + " |", "|---|" + "---|" * len(joint)]
        for run, accs in entry["accuracy"].items():
            lines.append(f"| {run} | " + " | ".join(_pct(accs.get(lang)) for lang in sorted(joint)) + " |")
        if entry.get("baselines"):
            by_lang = entry["baselines"]["shortcut_accuracy_by_lang"]
            lines.append("| *shortcut* | " + " | ".join(_pct(by_lang.get(lang)) for lang in sorted(joint)) + " |")
        lines.append("")
        if entry.get("findings") and not passes_learning_controls(entry):
            lines += ["What follows are measurements of a model that fails the controls above (not learned, or "
                      "not beyond the shortcut): they describe what TracIn sees in it, not how languages share "
                      "what a task needs.", ""]  # fmt: skip
        for section in entry.get("findings", []):
            lines.append(f"- {section}")
        lines.append("")
    return "\n".join(lines)


def passes_learning_controls(entry: dict) -> bool:
    """The joint model learned the task (over chance by the margin) and, where there is a shortcut
    baseline, beat it by the margin."""
    return bool(entry.get("learns_task", True)) and bool(entry.get("needs_content", True))
