"""How much of a finished study's job time went to work, and how much to starting processes, importing
torch and transformers and loading: from Snakemake's per-job benchmarks (wall seconds) and the job logs,
where every ``lingtrace`` command ends with ``STAGE: imports I s, work W s``."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

from lingtrace.errors import ArtifactError

WORK = re.compile(r": imports [\d.]+ s, work ([\d.]+) s\r?$", re.M)


def benchmark_seconds(results: str | os.PathLike) -> dict[str, list[float]]:
    """{rule: [wall seconds of each job]} from results/benchmarks/{rule}/**/*.tsv."""
    root = Path(results) / "benchmarks"
    if not root.is_dir():
        raise ArtifactError(f"{root}: no benchmarks folder; run the study with Snakemake first")
    seconds: dict[str, list[float]] = {}
    for path in sorted(root.rglob("*.tsv")):
        with open(path) as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if rows:
            seconds.setdefault(path.relative_to(root).parts[0], []).extend(float(row["s"]) for row in rows)
    return seconds


def work_seconds(logs: str | os.PathLike) -> float:
    """The summed work of every lingtrace command in the job logs."""
    if not Path(logs).is_dir():
        raise ArtifactError(f"{logs}: no logs folder; give the study's logs/ (the job logs hold each stage's work time)")
    return sum(float(m) for path in Path(logs).rglob("*.log") for m in WORK.findall(path.read_text(errors="replace")))


def overhead_report(results, logs) -> dict:
    """Jobs, job-seconds, work seconds and the overhead share (1 - work / job-seconds), with job-seconds per rule."""
    per_rule = benchmark_seconds(results)
    total = sum(sum(v) for v in per_rule.values())
    work = work_seconds(logs)
    return {
        "jobs": sum(len(v) for v in per_rule.values()),
        "job_seconds": total,
        "work_seconds": work,
        "overhead_share": 1.0 - work / total if total else 0.0,
        "rules": {rule: {"jobs": len(v), "seconds": sum(v)} for rule, v in sorted(per_rule.items())},
    }
