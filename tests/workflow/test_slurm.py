"""The tiny preset through the SLURM profile on a real (local, single-node) SLURM cluster.

CI starts the cluster with tests/slurm/local-cluster.sh up and sets LINGTRACE_SLURM=1; without it,
this test is not collected as runnable (there is no cluster to talk to).
"""

import os
import re
import shutil

import pytest

from conftest import TINY, copy_workflow, snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.slurm]

# The joint run's influence tables of both seeds: fine-tuning, gradient dumps per checkpoint, split and
# shard, scoring and the merge, one SLURM job each (the whole study, 98 jobs, took 19 minutes on 2 cores).
SAME = [
    f"results/review/joint/seed-{seed}/influence/{table}.parquet"
    for seed in (0, 1)
    for table in ("topk", "lang_scores")
]


@pytest.fixture(scope="module")
def cluster():
    if not os.environ.get("LINGTRACE_SLURM"):
        pytest.skip("no local SLURM cluster: run tests/slurm/local-cluster.sh up and set LINGTRACE_SLURM=1")
    assert shutil.which("sbatch") and shutil.which("squeue"), "LINGTRACE_SLURM is set but SLURM is not installed"


def test_tiny_preset_on_slurm_equals_local_run(cluster, tiny_study, tmp_path):
    """On the cluster with fine-grained jobs (jobs.per: seed), against the local run's per-run jobs: the
    job layout and the executor change nothing in the results."""
    workdir = copy_workflow(tmp_path / "slurm")
    (workdir / "per-seed.yaml").write_text("jobs: {per: seed}\n")
    proc = snakemake(
        workdir, *SAME, "--profile", "profiles/slurm", *TINY, "per-seed.yaml", "--jobs", "8", "--slurm-status-command", "squeue",
        "--slurm-no-account", "--latency-wait", "5", "--seconds-between-status-checks", "2",
        "--slurm-init-seconds-before-status-checks", "1", timeout=1500,
    )  # fmt: skip
    log = max(workdir.glob(".snakemake/log/*.snakemake.log")).read_text()
    planned = int(re.search(r"^total\s+(\d+)$", log, re.M)[1])
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", log)
    assert len(set(submitted)) == planned, proc.stderr[-3000:]  # every job: file targets need no local `all`
    for path in SAME:
        assert (workdir / path).read_bytes() == (tiny_study / path).read_bytes(), path
