"""Fine-tuning: checkpoints with traces, determinism, and a loud stop on non-finite loss."""

import json

import pytest
import torch
from safetensors.torch import load_file

from lingtrace.errors import NumericalError
from lingtrace.finetuning.trainer import finetune

from conftest import FINETUNE, checkpoint_dirs


def test_checkpoints_have_traces(tiny_run, tiny_data):
    train, _ = tiny_data
    steps_per_epoch = -(-train.num_rows // FINETUNE["batch_size"])
    traces = [json.loads((tiny_run / f"checkpoints/epoch-{e}/trace.json").read_text()) for e in (1, 2)]
    assert [t["epoch"] for t in traces] == [1, 2]
    assert traces[0]["first_step"] == 1 and traces[0]["last_step"] == steps_per_epoch
    assert traces[1]["first_step"] == steps_per_epoch + 1
    assert all(0 < t["mean_lr"] <= FINETUNE["learning_rate"] for t in traces)
    # linear decay: the second epoch's mean learning rate is lower than the first's peak region
    assert traces[1]["mean_lr"] < FINETUNE["learning_rate"]
    assert (tiny_run / "checkpoints/epoch-2/model.safetensors").is_file()
    assert not list(tiny_run.glob("checkpoints/.*"))  # no temporary leftovers


def test_same_seed_same_weights(tmp_path, tiny_model_dir, tiny_data, tiny_run):
    train, _ = tiny_data
    finetune(train, tiny_model_dir, checkpoint_dirs(tmp_path, 2), FINETUNE, num_labels=3, seed=0)
    again = load_file(tmp_path / "checkpoints/epoch-1/model.safetensors")
    first = load_file(tiny_run / "checkpoints/epoch-1/model.safetensors")
    assert all(torch.equal(first[k], again[k]) for k in first)


def test_other_seed_other_weights(tmp_path, tiny_model_dir, tiny_data, tiny_run):
    train, _ = tiny_data
    finetune(train, tiny_model_dir, checkpoint_dirs(tmp_path, 1), {**FINETUNE, "epochs": 1}, num_labels=3, seed=1)
    other = load_file(tmp_path / "checkpoints/epoch-1/model.safetensors")
    first = load_file(tiny_run / "checkpoints/epoch-1/model.safetensors")
    assert not torch.equal(first["classifier.out_proj.weight"], other["classifier.out_proj.weight"])


def test_nan_loss_stops_with_uids(tmp_path, tiny_model_dir, tiny_data):
    train, _ = tiny_data
    cfg = {**FINETUNE, "epochs": 1, "learning_rate": float("inf")}
    with pytest.raises(NumericalError, match=r"non-finite training loss .* uids \['nli-train-"):
        finetune(train, tiny_model_dir, checkpoint_dirs(tmp_path, 1), cfg, num_labels=3, seed=0)
    assert not (tmp_path / "checkpoints/epoch-1").exists()


KILLED_AFTER_EPOCH_1 = """
import os, sys
import pyarrow.parquet as pq
from lingtrace.finetuning import trainer

save = trainer.save_checkpoint

def save_then_die(model, tokenizer, trace, folder):
    save(model, tokenizer, trace, folder)
    if trace["epoch"] == 1:
        os._exit(9)  # like SIGKILL: no cleanup runs

trainer.save_checkpoint = save_then_die
trainer.finetune(pq.read_table(sys.argv[1]), sys.argv[2], sys.argv[3:], {"epochs": 2, "batch_size": 8},
                 num_labels=3, seed=0)
"""


def test_a_killed_run_leaves_no_checkpoint_under_its_final_name(tmp_path, tiny_model_dir, tiny_data):
    import subprocess
    import sys

    import pyarrow.parquet as pq

    train = tmp_path / "train.parquet"
    pq.write_table(tiny_data[0], train)
    folders = checkpoint_dirs(tmp_path, 2)
    args = [sys.executable, "-c", KILLED_AFTER_EPOCH_1, str(train), str(tiny_model_dir), *map(str, folders)]
    assert subprocess.run(args, capture_output=True).returncode == 9
    checkpoints = tmp_path / "checkpoints"
    assert not [p for p in checkpoints.iterdir() if not p.name.startswith(".")]  # epoch 1 was saved, but hidden
    assert any((p / "trace.json").is_file() for p in checkpoints.iterdir())
    finetune(tiny_data[0], tiny_model_dir, folders, {"epochs": 2, "batch_size": 8}, num_labels=3, seed=0)
    assert sorted(p.name for p in checkpoints.iterdir()) == ["epoch-1", "epoch-2"]  # and the leftovers are gone
