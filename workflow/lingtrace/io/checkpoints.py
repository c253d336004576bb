"""Reading fine-tuned checkpoints: safetensors weights, tokenizer (tokenizer.json) and trace.json."""

from __future__ import annotations

import json
import os
from pathlib import Path

from lingtrace.errors import ArtifactError
from lingtrace.loading import explained

RERUN = "Rerun its fine-tuning job (snakemake --forcerun finetune, or delete the run folder)."


def read_trace(path: str | os.PathLike) -> dict:
    trace_file = Path(path) / "trace.json"
    try:
        trace = json.loads(trace_file.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{trace_file}: missing. {RERUN}") from None
    except json.JSONDecodeError as err:
        raise ArtifactError(f"{trace_file}: not valid JSON ({err}). {RERUN}") from None
    for key in ("epoch", "mean_lr", "n_steps"):
        if key not in trace:
            raise ArtifactError(f"{trace_file}: no {key!r} entry. {RERUN}")
    return trace


def check_files(path: Path) -> None:
    """Refuse a checkpoint folder that lacks its weights or its tokenizer, naming the missing file."""
    if not (path / "model.safetensors").is_file() and not (path / "model.safetensors.index.json").is_file():
        raise ArtifactError(f"{path}: no model.safetensors in the checkpoint. {RERUN}")
    if not (path / "tokenizer.json").is_file():
        raise ArtifactError(f"{path / 'tokenizer.json'}: missing from the checkpoint. {RERUN}")


def load_checkpoint(path: str | os.PathLike, device=None, dtype=None, trust_remote_code: bool | None = None):
    """(model, tokenizer, trace) from a checkpoint directory; weights only through safetensors."""
    from transformers import AutoModelForSequenceClassification

    from lingtrace.model.build import remote_code
    from lingtrace.model.tokenizer import load_tokenizer

    path = Path(path)
    check_files(path)
    trace = read_trace(path)
    trust = remote_code(trust_remote_code)
    with explained(f"{path}: the checkpoint does not load", RERUN, ArtifactError):  # corrupt weights, config, shapes
        model = AutoModelForSequenceClassification.from_pretrained(path, use_safetensors=True, trust_remote_code=trust)
    with explained(f"{path}: the checkpoint's tokenizer does not load", RERUN, ArtifactError):
        tokenizer = load_tokenizer(path, trust_remote_code=trust)
    if dtype is not None:
        model = model.to(dtype)
    if device is not None:
        model = model.to(device)
    model.eval()
    return model, tokenizer, trace
