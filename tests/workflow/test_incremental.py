"""Precise reruns on a finished tiny study: a config edit reruns only the stages that read it."""

import re
import shutil

import pytest
import yaml

from conftest import TINY, snakemake

pytestmark = pytest.mark.workflow


@pytest.fixture
def study(tiny_study, tmp_path):
    """A copy of the finished tiny study (timestamps and Snakemake's metadata included)."""
    copy = tmp_path / "study"
    shutil.copytree(tiny_study, copy, symlinks=True)
    return copy


def planned(workdir, edit: dict) -> dict[str, int]:
    """Rules a dry run would execute (with counts) after layering ``edit`` over the tiny preset."""
    (workdir / "edit.yaml").write_text(yaml.safe_dump(edit))
    out = snakemake(workdir, "-n", "--cores", "2", *TINY, "--configfile", "presets/tiny.yaml", "edit.yaml").stdout
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:")[1].split("total")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "all"}


def rerun(workdir, edit: dict) -> None:
    (workdir / "edit.yaml").write_text(yaml.safe_dump(edit))
    snakemake(workdir, "--cores", "2", *TINY, "--configfile", "presets/tiny.yaml", "edit.yaml")


def mtimes(workdir, pattern: str) -> dict:
    return {p: p.stat().st_mtime_ns for p in workdir.glob(pattern)}


CHECKPOINTS = "results/review/*/seed-*/checkpoints/epoch-*/model.safetensors"
# The removal test retrains on sets drawn from TracIn's top proponents (tiny preset: remove-tracin and one
# matched random draw, one job each): a change that rescores retrains those runs and nothing else.
REMOVAL_JOBS = 2


def not_removal(paths: dict) -> dict:
    return {p: t for p, t in paths.items() if "/remove-" not in str(p)}


def retrains_only_the_removal_runs(plan: dict) -> bool:
    return "finetune" not in plan and plan.get("finetune_removal") == REMOVAL_JOBS and plan.get("evaluate") == REMOVAL_JOBS
GRADS = "results/review/*/seed-*/grads/epoch-*/*/shard-*.parquet"


def test_unrelated_key_reruns_nothing(study):
    assert planned(study, {"study": {"description": "edited"}}) == {}


def test_figure_setting_reruns_only_the_figures(study):
    assert planned(study, {"report": {"dpi": 80}}) == {"figures": 1}


def test_top_k_reruns_scoring_consumers_only(study):
    plan = planned(study, {"influence": {"top_k": 60}})
    assert {"score", "analyze"} <= set(plan)
    assert not {"dump_train_gradients", "dump_test_gradients"} & set(plan) and "pretrain" not in plan
    assert retrains_only_the_removal_runs(plan)


def test_projection_dim_reruns_dumps_and_scoring_not_training(study):
    plan = planned(study, {"gradients": {"dim": 8}})
    assert {"dump_train_gradients", "dump_test_gradients", "score", "analyze"} <= set(plan)
    assert "pretrain" not in plan and retrains_only_the_removal_runs(plan)


def test_adding_a_test_language_retrains_only_the_removal_runs(study):
    edit = {"tasks": [{**yaml.safe_load((study / "presets/tiny.yaml").read_text())["tasks"][0],
                       "zero_shot_langs": ["alb", "bec"]}]}  # fmt: skip
    plan = planned(study, edit)
    assert {"prepare_data", "evaluate", "dump_test_gradients"} <= set(plan) and "dump_train_gradients" not in plan
    assert "pretrain" not in plan and "corpus" not in plan
    before_ckpt, before_grads = mtimes(study, CHECKPOINTS), mtimes(study, GRADS)
    rerun(study, edit)
    assert not_removal(mtimes(study, CHECKPOINTS)) == not_removal(before_ckpt)
    train_grads = {p: t for p, t in mtimes(study, GRADS).items() if "/train/" in str(p)}
    assert train_grads == {p: t for p, t in before_grads.items() if "/train/" in str(p)}
    assert "bec" in (study / "results/summary.json").read_text()


def test_a_change_to_one_run_retrains_and_reevaluates_only_that_run(study):
    task = yaml.safe_load((study / "presets/tiny.yaml").read_text())["tasks"][0]
    plan = planned(study, {"tasks": [{**task, "boost_factor": 2}]})  # only boost-ala's extra pool changes
    assert plan.get("finetune") == 1 and plan.get("evaluate") == 1 and plan.get("prepare_extra") == 1
    assert "dump_train_gradients" not in plan and "score" not in plan  # boost-ala is not analysed in the tiny preset
