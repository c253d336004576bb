"""presets/relational-pairs.yaml plans what its header says: joint runs of two pair tasks whose labels
need lexical relations (no ablation, removal or LDS runs), on the default study's encoder."""

import pytest
import yaml

from conftest import copy_workflow, snakemake

pytestmark = pytest.mark.workflow


def test_relational_preset_plans_joint_runs_of_relational_pair_tasks(tmp_path):
    workdir = copy_workflow(tmp_path)
    preset = yaml.safe_load((workdir / "presets/relational-pairs.yaml").read_text())
    assert {t["name"]: t["knobs"]["new_share"] for t in preset["tasks"]} == {"paraphrase": 0.0, "nli": 0.0, "swap": 0.0}
    plan = snakemake(workdir, "-n", "--cores", "2", "--configfile", "presets/relational-pairs.yaml").stdout
    assert "pretrain" in plan
    for task in ("paraphrase", "nli", "swap"):
        assert f"results/{task}/joint/seed-2/checkpoints/epoch-12" in plan
        assert f"{task}/without-" not in plan and f"{task}/remove-" not in plan and f"{task}/subset-" not in plan
