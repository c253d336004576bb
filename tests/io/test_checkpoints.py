"""Broken checkpoints are refused, naming the file and what to rerun; weights load only via safetensors."""

import shutil

import pytest

from lingtrace.errors import ArtifactError
from lingtrace.io.checkpoints import load_checkpoint, read_trace


def broken_copy(tmp_path, checkpoint, remove=None, corrupt=None):
    copy = tmp_path / "epoch-1"
    shutil.copytree(checkpoint, copy)
    if remove:
        (copy / remove).unlink()
    if corrupt:
        (copy / corrupt).write_bytes((copy / corrupt).read_bytes()[:100])
    return copy


@pytest.mark.parametrize(
    "damage, message",
    [
        ({"remove": "model.safetensors"}, r"epoch-1: no model.safetensors .*Rerun its fine-tuning job"),
        ({"corrupt": "model.safetensors"}, r"epoch-1: the checkpoint does not load"),
        ({"remove": "tokenizer.json"}, r"epoch-1/tokenizer.json: missing from the checkpoint. Rerun its fine-tuning"),
        ({"corrupt": "tokenizer.json"}, r"epoch-1: the checkpoint's tokenizer does not load \(.*Rerun its fine"),
    ],
)
def test_missing_or_broken_files_are_named(tmp_path, tiny_checkpoints, damage, message):
    copy = broken_copy(tmp_path, tiny_checkpoints[0], **damage)
    with pytest.raises(ArtifactError, match=message):
        load_checkpoint(copy)


def test_missing_or_broken_trace(tmp_path, tiny_checkpoints):
    copy = broken_copy(tmp_path, tiny_checkpoints[0], remove="trace.json")
    with pytest.raises(ArtifactError, match=r"trace.json: missing"):
        read_trace(copy)
    (copy / "trace.json").write_text("{not json")
    with pytest.raises(ArtifactError, match=r"trace.json: not valid JSON"):
        read_trace(copy)


def test_no_pickle_loading_in_the_package():
    import re
    from pathlib import Path

    import lingtrace

    sources = "\n".join(p.read_text() for p in Path(lingtrace.__file__).parent.rglob("*.py"))
    assert "torch.load(" not in sources
    assert not re.search(r"import pickle|from pickle|pickle\.loads?\(", sources)  # model.allow_pickle is only a word
    assert "trust_remote_code=True" not in sources


def test_gradient_dump_names_the_missing_tokenizer(tmp_path, tiny_checkpoints, tiny_data, task_cfg, capsys):
    import json

    from lingtrace import cli
    from lingtrace.io.data import write_data

    copy = broken_copy(tmp_path, tiny_checkpoints[0], remove="tokenizer.json")
    test = tmp_path / "test.parquet"
    write_data(tiny_data[1], test)
    out = tmp_path / "shard-0.parquet"
    code = cli.main(["dump-gradients", "--params", json.dumps({"task": task_cfg}), "--run", "joint",
                     "--data", str(test), "--checkpoint", str(copy), "--split", "test",
                     "--shard", "0", "--out", str(out)])  # fmt: skip
    assert code == 2 and "epoch-1/tokenizer.json: missing from the checkpoint" in capsys.readouterr().err
    assert not out.exists()
