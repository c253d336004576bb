"""Which corpus the tiny encoder is pretrained on, as the workflow plans it (dry runs of the tiny preset)."""

import re

import pytest
import yaml

from conftest import TINY, copy_workflow, snakemake

pytestmark = pytest.mark.workflow


def planned_job(workdir, rule: str, edit: dict) -> str:
    """The dry-run block (input, shell command) of ``rule``'s job with ``edit`` over the tiny preset."""
    (workdir / "edit.yaml").write_text(yaml.safe_dump(edit))
    out = snakemake(workdir, "-n", "-p", "--cores", "2", *TINY, "--configfile", "presets/tiny.yaml", "edit.yaml").stdout
    match = re.search(rf"^rule {rule}:\n(.*?)\n\n", out, re.M | re.S)
    assert match, out[-2000:]
    return match[1]


def test_a_synthetic_study_pretrains_on_the_babel_corpus(tmp_path):
    workdir = copy_workflow(tmp_path)
    corpus = planned_job(workdir, "corpus", {})
    assert "input:" not in corpus and '"world"' in corpus and "--train" not in corpus
    assert "byte_fallback" not in planned_job(workdir, "tokenizer", {})


def test_corpus_tasks_reads_every_train_split_and_no_test_split(tmp_path):
    workdir = copy_workflow(tmp_path)
    (workdir / "more.txt").write_text("rogu rebi\n")
    corpus = planned_job(workdir, "corpus", {"pretrain": {"corpus": "tasks", "corpus_files": {"ala": "more.txt"}}})
    assert re.search(r"input: .*results/review/data/train\.parquet", corpus) and "more.txt" in corpus
    assert "test.parquet" not in corpus and '"world"' not in corpus
    assert "--train results/review/data/train.parquet --text ala=more.txt" in corpus
    assert '"byte_fallback":true' in planned_job(workdir, "tokenizer", {"pretrain": {"corpus": "tasks"}})


def test_corpus_files_needs_files(tmp_path):
    workdir = copy_workflow(tmp_path)
    (workdir / "edit.yaml").write_text(yaml.safe_dump({"pretrain": {"corpus": "files"}}))
    proc = snakemake(workdir, "-n", *TINY, "--configfile", "presets/tiny.yaml", "edit.yaml", check=False)
    assert proc.returncode != 0 and "pretrain.corpus: files needs pretrain.corpus_files" in proc.stdout + proc.stderr
