"""The overhead report: job wall seconds from Snakemake benchmark TSVs, work seconds from the
``STAGE: imports I s, work W s`` lines of the job logs, and the share of job time that was not work."""

import pytest

from lingtrace.errors import ArtifactError
from lingtrace.report.overhead import WORK, benchmark_seconds, overhead_report, work_seconds

HEADER = "s\th:m:s\tmax_rss\tmax_vms\n"


def bench(root, rel, *seconds):
    path = root / "benchmarks" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(f"{s}\t0:00:{int(s):02d}\t1.0\t2.0\n" for s in seconds))


def study(tmp_path):
    """Jobs of 10 + 20 s (train) and 30 s (score): 60 job-seconds; logs with 8.5 + 12.25 + 9.25 = 30 s of work."""
    results, logs = tmp_path / "results", tmp_path / "logs"
    bench(results, "train/nli/joint/seed-0.tsv", 10.0)
    bench(results, "train/nli/mono-ala.tsv", 20.0)
    bench(results, "score/nli.tsv", 30.0)
    bench(results, "score/empty.tsv")  # a header without rows is no job
    (logs / "nli" / "deep").mkdir(parents=True)
    (logs / "nli" / "train.log").write_text(
        "2024-01-01 10:00:00 INFO lingtrace.train: loading\n"
        "2024-01-01 10:00:09 INFO lingtrace.cli: train: imports 2.00 s, work 8.50 s\n"
    )
    (logs / "nli" / "deep" / "score.log").write_text(
        "x INFO lingtrace.cli: score: imports 1.10 s, work 12.25 s\n"
        "x INFO lingtrace.cli: merge: imports 0.50 s, work 9.25 s\n"
        "x INFO other: imports 1.00 s, work 99.00 s and more\n"  # not at the end of a line: not a STAGE line
    )
    (logs / "nli" / "notes.txt").write_text("x: imports 1.00 s, work 500.00 s\n")  # not a .log file
    return results, logs


def test_benchmark_seconds_group_by_the_rule_folder(tmp_path):
    results, _ = study(tmp_path)
    seconds = benchmark_seconds(results)
    assert {rule: sorted(v) for rule, v in seconds.items()} == {"train": [10.0, 20.0], "score": [30.0]}


def test_work_seconds_sum_every_stage_line_of_every_log(tmp_path):
    _, logs = study(tmp_path)
    assert work_seconds(logs) == pytest.approx(8.5 + 12.25 + 9.25)


def test_overhead_report_hand_computed(tmp_path):
    report = overhead_report(*study(tmp_path))
    assert report["jobs"] == 3
    assert report["job_seconds"] == pytest.approx(60.0)
    assert report["work_seconds"] == pytest.approx(30.0)
    assert report["overhead_share"] == pytest.approx(0.5)
    assert report["rules"] == {"score": {"jobs": 1, "seconds": 30.0}, "train": {"jobs": 2, "seconds": 30.0}}
    assert list(report["rules"]) == ["score", "train"]


def test_no_job_seconds_give_zero_overhead_not_a_division_error(tmp_path):
    (tmp_path / "results" / "benchmarks").mkdir(parents=True)
    (tmp_path / "logs").mkdir()
    report = overhead_report(tmp_path / "results", tmp_path / "logs")
    assert report["jobs"] == 0 and report["job_seconds"] == 0 and report["overhead_share"] == 0.0


def test_missing_benchmarks_folder_is_an_artifact_error_naming_it(tmp_path):
    with pytest.raises(ArtifactError, match=r"benchmarks: no benchmarks folder; run the study with Snakemake"):
        overhead_report(tmp_path / "results", tmp_path / "logs")


def test_missing_logs_folder_is_an_error_not_a_full_overhead(tmp_path):
    (tmp_path / "results" / "benchmarks").mkdir(parents=True)
    with pytest.raises(ArtifactError, match=r"logs: no logs folder"):
        overhead_report(tmp_path / "results", tmp_path / "logs")


def test_the_line_the_cli_logs_is_the_line_overhead_reads(tmp_path, caplog, capsys):
    """`lingtrace overhead` itself ends with its STAGE line; written to a job log it counts as that job's work."""
    import logging

    from lingtrace.cli import main

    results, logs = study(tmp_path)
    with caplog.at_level(logging.INFO, logger="lingtrace"):
        assert main(["overhead", "--results", str(results), "--logs", str(logs)]) == 0
    assert "jobs 3, job-seconds 60, work 30, overhead 50.0%" in capsys.readouterr().out
    stage_lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("overhead: imports ")]
    assert len(stage_lines) == 1
    line = f"2024-01-01 10:00:00,123 INFO lingtrace.cli: {stage_lines[0]}\n"  # the cli's log format
    work = stage_lines[0].rsplit("work ", 1)[1].split()[0]
    assert WORK.findall(line) == [work]  # parsed, even when the work rounds to 0.00
    (logs / "overhead.log").write_text(line)
    assert work_seconds(logs) == pytest.approx(30.0 + float(work))
