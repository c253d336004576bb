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


def test_missing_weights(tmp_path, tiny_checkpoints):
    copy = broken_copy(tmp_path, tiny_checkpoints[0], remove="model.safetensors")
    with pytest.raises(ArtifactError, match=r"epoch-1: no model.safetensors .*Rerun its fine-tuning job"):
        load_checkpoint(copy)


def test_truncated_weights(tmp_path, tiny_checkpoints):
    copy = broken_copy(tmp_path, tiny_checkpoints[0], corrupt="model.safetensors")
    with pytest.raises(ArtifactError, match=r"epoch-1: the checkpoint does not load"):
        load_checkpoint(copy)


def test_missing_or_broken_trace(tmp_path, tiny_checkpoints):
    copy = broken_copy(tmp_path, tiny_checkpoints[0], remove="trace.json")
    with pytest.raises(ArtifactError, match=r"trace.json: missing"):
        read_trace(copy)
    (copy / "trace.json").write_text("{not json")
    with pytest.raises(ArtifactError, match=r"trace.json: not valid JSON"):
        read_trace(copy)


def test_no_pickle_loading_in_the_package():
    from pathlib import Path

    import lingtrace

    sources = "\n".join(p.read_text() for p in Path(lingtrace.__file__).parent.rglob("*.py"))
    assert "torch.load(" not in sources and "pickle" not in sources
    assert "trust_remote_code=True" not in sources
