"""A subword tokenizer trained with ``tokenizers`` and saved as a Hugging Face tokenizer.

Special tokens and the pair template follow XLM-R: ``<s> A </s></s> B </s>``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from lingtrace import settings

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def train_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int | None = None):
    """Train a byte-pair-encoding tokenizer on ``texts`` and wrap it as a transformers tokenizer
    (``min_frequency`` None: the ``tokenizer`` section's default)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=settings.load("tokenizer").min_frequency if min_frequency is None else min_frequency,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    tok.post_processor = processors.RobertaProcessing(("</s>", eos), ("<s>", bos), add_prefix_space=False)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
    )


def load_tokenizer(path: str | os.PathLike, trust_remote_code: bool | None = None):
    """A saved tokenizer; its callers say what a failure means (lingtrace.loading.explained): the
    starting model's (model.build.load_starting_tokenizer), a checkpoint's, the tiny encoder's."""
    from transformers import AutoTokenizer

    from lingtrace.model.build import remote_code

    return AutoTokenizer.from_pretrained(path, trust_remote_code=remote_code(trust_remote_code))
