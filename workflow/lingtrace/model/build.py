"""Building the tiny XLM-R-architecture encoder and loading sequence classifiers."""

from __future__ import annotations

import os

from lingtrace.errors import ConfigError


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


def offline_hint(name: str) -> str:
    return (
        f"could not load {name!r}. If it is a hub name and this machine has no network "
        f"(or HF_HUB_OFFLINE=1), download it elsewhere with `huggingface-cli download {name} --local-dir DIR` "
        f"(or `save_pretrained(DIR)`), copy DIR here and set model.name_or_path: DIR"
    )


def load_classifier(name_or_path: str | os.PathLike, num_labels: int, trust_remote_code: bool | None = None, **kwargs):
    """Any HF encoder with a sequence-classification head, from a hub name or a local directory."""
    from transformers import AutoModelForSequenceClassification

    try:
        return AutoModelForSequenceClassification.from_pretrained(
            name_or_path, num_labels=num_labels, trust_remote_code=remote_code(trust_remote_code), **kwargs
        )
    except OSError as err:
        raise ConfigError(f"model.name_or_path: {offline_hint(str(name_or_path))} ({err})") from None
