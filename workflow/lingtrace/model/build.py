"""Building the tiny XLM-R-architecture encoder and loading sequence classifiers."""

from __future__ import annotations

import os
from pathlib import Path

from lingtrace.errors import ConfigError
from lingtrace.loading import explained, model_hint


def tiny_config(arch, tokenizer, max_length: int):
    """An ``XLMRobertaConfig`` from the ``model.arch`` settings (a dict or typed) and a trained tokenizer."""
    from transformers import XLMRobertaConfig

    from lingtrace import settings

    arch = settings.load("model", {"arch": settings.as_dict(arch)}).arch
    return XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=arch.hidden_size,
        num_hidden_layers=arch.num_hidden_layers,
        num_attention_heads=arch.num_attention_heads,
        intermediate_size=arch.intermediate_size,
        hidden_dropout_prob=arch.dropout,
        attention_probs_dropout_prob=arch.dropout,
        max_position_embeddings=max_length + 2,  # XLM-R positions start after the padding index
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def remote_code(flag: bool | None) -> bool:
    """Whether to run a model's own code from the hub: as given, or ``model.trust_remote_code``."""
    from lingtrace import settings

    return settings.load("model").trust_remote_code if flag is None else flag


def pickle_allowed(flag: bool | None) -> bool:
    """Whether the starting model may load from torch's pickled weights: as given, or ``model.allow_pickle``."""
    from lingtrace import settings

    return settings.load("model").allow_pickle if flag is None else flag


SAFE_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")


def check_weights(name_or_path: str | os.PathLike, allow_pickle: bool) -> None:
    """Refuse a local model folder without safetensors weights unless ``allow_pickle`` (hub names are
    checked by transformers, which is told to fetch safetensors only)."""
    folder = Path(name_or_path)
    if allow_pickle or not folder.is_dir() or any((folder / name).is_file() for name in SAFE_WEIGHTS):
        return
    held = sorted(p.name for p in folder.iterdir())
    raise ConfigError(
        f"model.name_or_path: {folder} has no model.safetensors (it holds {held}); lingtrace loads the starting "
        "model only from safetensors, because pickled weights (pytorch_model.bin) can run code when loaded. "
        "Convert it where you trust the file (`AutoModelForSequenceClassification.from_pretrained(DIR)"
        ".save_pretrained(DIR)` writes model.safetensors), or set model.allow_pickle: true to load it through "
        "torch's restricted unpickler"
    )


def load_classifier(
    name_or_path: str | os.PathLike, num_labels: int, trust_remote_code: bool | None = None,
    allow_pickle: bool | None = None, **kwargs,
):  # fmt: skip
    """The starting model: any HF encoder with a sequence-classification head, from a hub name or a
    local directory; weights only from safetensors unless ``allow_pickle`` (``model.allow_pickle``)."""
    from transformers import AutoModelForSequenceClassification

    allow_pickle = pickle_allowed(allow_pickle)
    check_weights(name_or_path, allow_pickle)
    with explained(f"model.name_or_path: could not load {str(name_or_path)!r}", model_hint(str(name_or_path))):
        return AutoModelForSequenceClassification.from_pretrained(
            name_or_path, num_labels=num_labels, trust_remote_code=remote_code(trust_remote_code),
            use_safetensors=None if allow_pickle else True, **kwargs,
        )  # fmt: skip


def load_starting_tokenizer(name_or_path: str | os.PathLike, trust_remote_code: bool | None = None):
    """The starting model's tokenizer; it must be a fast tokenizer, which checkpoints save as tokenizer.json."""
    from lingtrace.model.tokenizer import load_tokenizer

    with explained(f"model.name_or_path: could not load the tokenizer of {str(name_or_path)!r}",
                   model_hint(str(name_or_path))):  # fmt: skip
        tokenizer = load_tokenizer(name_or_path, trust_remote_code=trust_remote_code)
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(f"model.name_or_path: the tokenizer of {str(name_or_path)!r} is not a fast tokenizer; "
                          "checkpoints keep it as tokenizer.json, so provide a folder that has one")  # fmt: skip
    return tokenizer
