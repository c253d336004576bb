"""GPU requests: with CUDA in the config, exactly the stages that run on it ask SLURM for a GPU."""

import re

import pytest
import yaml

from conftest import TINY, copy_workflow, snakemake

pytestmark = pytest.mark.workflow

ON_GPU = {"pretrain", "finetune", "finetune_removal", "finetune_subsets", "evaluate", "evaluate_subsets",
          "dump_train_gradients", "dump_test_gradients", "score"}


def planned_resources(workdir, edit: dict) -> dict[str, set[str]]:
    """Rule -> the set of its jobs' resource lines in a dry run with ``edit`` over the tiny preset."""
    (workdir / "edit.yaml").write_text(yaml.safe_dump(edit))
    out = snakemake(workdir, "-n", "--cores", "2", *TINY, "--configfile", "presets/tiny.yaml", "edit.yaml").stdout
    jobs = re.findall(r"^rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", out, re.M)
    found: dict[str, set[str]] = {}
    for rule, resources in jobs:
        found.setdefault(rule, set()).add(resources)
    return found


def test_cuda_stages_ask_for_one_gpu_and_the_rest_for_none(tmp_path):
    workdir = copy_workflow(tmp_path)
    plan = planned_resources(workdir, {"study": {"device": "cuda"}, "influence": {"device": "cuda"}})
    assert ON_GPU <= set(plan)
    for rule, lines in plan.items():
        gpus = {m[1] if (m := re.search(r"gpu=(\d+)", line)) else "0" for line in lines}
        assert gpus == ({"1"} if rule in ON_GPU else {"0"}), (rule, lines)


def test_cpu_study_asks_for_no_gpu(tmp_path):
    plan = planned_resources(copy_workflow(tmp_path), {})
    assert all("gpu=1" not in line for lines in plan.values() for line in lines)
