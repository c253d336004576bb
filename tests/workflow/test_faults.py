"""Interrupted and hostile runs: SIGKILL mid-study, shell metacharacters in config values."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import TINY, copy_workflow, snakemake

pytestmark = pytest.mark.workflow

CHECKPOINT_FILES = ("trace.json", "model.safetensors", "tokenizer.json")
COMPARED = [
    "results/summary.json",
    "results/review/tables/language_shares.parquet",
    "results/review/metrics/accuracy.parquet",
    "results/review/joint/seed-0/influence/topk.parquet",
    "results/review/joint/seed-0/influence/lang_scores.parquet",
]


def test_sigkill_then_rerun_gives_the_uninterrupted_results(tiny_study, tmp_path):
    """Also the reproducibility check: a second, independent run gives byte-identical tables."""
    workdir = copy_workflow(tmp_path / "killed")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "2", *TINY], cwd=workdir, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.time() + 300
    # kill mid-run, once a run's epoch 2 is saved (under a hidden name until its last epoch is)
    staged = "results/review/*/seed-*/checkpoints/.epoch-2.tmp-*/trace.json"
    while time.time() < deadline and not list(workdir.glob(staged)):
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # nothing half-written looks complete: no temporary files under a final name, no checkpoint of an
    # unfinished run under its final name
    leftovers = [p for p in workdir.rglob("*") if ".tmp-" in p.name and not p.name.startswith(".")]
    assert not leftovers, leftovers
    for checkpoints in workdir.glob("results/review/*/seed-*/checkpoints"):
        final = [p for p in checkpoints.iterdir() if not p.name.startswith(".")]
        complete = sorted(p.name for p in final if all((p / name).is_file() for name in CHECKPOINT_FILES))
        assert complete in ([], [f"epoch-{e}" for e in range(1, 9)]), (checkpoints, complete)
        # the others: the empty folders Snakemake makes for a job's outputs before it starts
        assert all(p.name in complete or not any(p.iterdir()) for p in final), checkpoints
    snakemake(workdir, "--unlock", *TINY)  # a killed Snakemake leaves its lock behind
    snakemake(workdir, "--cores", "2", *TINY)  # the default profile sets rerun-incomplete
    for path in COMPARED:
        assert (workdir / path).read_bytes() == (tiny_study / path).read_bytes(), path


def test_a_missing_checkpoint_tokenizer_makes_its_run_train_again(tiny_study, tmp_path):
    workdir = tmp_path / "study"
    shutil.copytree(tiny_study, workdir, symlinks=True)
    (workdir / "results/review/joint/seed-1/checkpoints/epoch-3/tokenizer.json").unlink()
    plan = snakemake(workdir, "-n", "--cores", "2", *TINY).stdout
    jobs = re.findall(r"^rule (\w+):\n((?:    .*\n)*)", plan, re.M)
    reasons = [re.search(r"reason: (.*)", body)[1] for rule, body in jobs if rule == "finetune"]
    assert reasons == ["Missing output files: results/review/joint/seed-1/checkpoints/epoch-3/tokenizer.json"], plan


def test_config_values_never_reach_a_shell(tmp_path):
    workdir = copy_workflow(tmp_path)
    marker = tmp_path / "pwned"
    evil_path = f"x.csv'; touch {marker}; echo '"
    evil = {"tasks": [{"name": "evil", "source": "local", "num_labels": 2, "train_langs": ["en"],
                       "files": {"train": {"en": evil_path}, "test": {"en": evil_path}},
                       "columns": {"text_a": "a", "label": "y"}}],
            "influence": {"runs": ["joint"]}, "runs": {"without": [], "mono": [], "boost": [], "removal": False}}
    (workdir / "evil.yaml").write_text(yaml.safe_dump(evil))
    proc = snakemake(workdir, "--cores", "1", "--configfile", "evil.yaml", "--until", "prepare_data", check=False)
    assert proc.returncode != 0  # the file does not exist: the job fails, naming it
    logs = [log.read_text() for log in (workdir / "logs/evil/data").glob("*.log")]
    assert logs and all("no such file or directory" in log and evil_path in log for log in logs), logs
    assert not marker.exists()
