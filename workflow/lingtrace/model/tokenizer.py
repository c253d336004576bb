"""A subword tokenizer trained with ``tokenizers`` and saved as a Hugging Face tokenizer.

Special tokens and the pair template follow XLM-R: ``<s> A </s></s> B </s>``. Every character of the
corpus is in the vocabulary (the trainer keeps the whole alphabet); with byte fallback, a character the
corpus never had is spelled as its UTF-8 bytes (``<0xE6>``...) instead of ``<unk>``, so text in any
script tokenizes without unknown tokens.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from lingtrace import settings

log = logging.getLogger(__name__)

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
BYTE_TOKENS = [f"<0x{i:02X}>" for i in range(256)]  # the names byte fallback looks up


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, min_frequency: int | None = None, byte_fallback: bool = False
):
    """Train a byte-pair-encoding tokenizer on ``texts`` and wrap it as a transformers tokenizer
    (``min_frequency`` None: the ``tokenizer`` section's default). With ``byte_fallback``, 256 of the
    ``vocab_size`` tokens are the byte tokens."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=max(vocab_size - len(BYTE_TOKENS), len(SPECIAL_TOKENS)) if byte_fallback else vocab_size,
        min_frequency=settings.load("tokenizer").min_frequency if min_frequency is None else min_frequency,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    if byte_fallback:
        with_byte_fallback(tok)
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


def with_byte_fallback(tok) -> None:
    """Give a trained BPE tokenizer the 256 byte tokens (after its own) and turn byte fallback on."""
    import json

    from tokenizers import decoders, models

    state = json.loads(tok.to_str())["model"]
    vocab = dict(state["vocab"])
    for token in BYTE_TOKENS:
        vocab.setdefault(token, len(vocab))
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in state["merges"]]
    tok.model = models.BPE(vocab, merges, unk_token="<unk>", byte_fallback=True)
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )


def unknown_token_rates(tokenizer, table) -> list[dict]:
    """Per language of a data-contract table: tokens of its texts (no special tokens), how many are the
    unknown token, and their share."""
    counts: dict[str, list[int]] = {}
    rows = table.select(["lang", "text_a", "text_b"]).to_pylist()
    texts = [(row["lang"], text) for row in rows for text in (row["text_a"], row["text_b"]) if text is not None]
    encoded = tokenizer([text for _, text in texts], add_special_tokens=False)["input_ids"]
    for (lang, _), ids in zip(texts, encoded):
        total, unknown = counts.setdefault(lang, [0, 0])
        counts[lang] = [total + len(ids), unknown + sum(i == tokenizer.unk_token_id for i in ids)]
    return [
        {"lang": lang, "tokens": total, "unknown": unknown, "unknown_rate": unknown / total if total else 0.0}
        for lang, (total, unknown) in sorted(counts.items())
    ]


def write_unknown_token_rates(tokenizer_dir: str | os.PathLike, data_path: str | os.PathLike, out) -> list[dict]:
    """Log and write (CSV) the unknown-token rate of each language of a data file under a tokenizer."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from lingtrace.io.atomic import atomic_path
    from lingtrace.io.data import read_data

    rates = unknown_token_rates(load_tokenizer(tokenizer_dir), read_data(data_path))
    for row in rates:
        log.info("unknown-token rate %s: %.4f (%d of %d tokens) in %s", row["lang"], row["unknown_rate"],
                 row["unknown"], row["tokens"], data_path)  # fmt: skip
    with atomic_path(out) as tmp:
        pacsv.write_csv(pa.Table.from_pylist(rates), tmp)
    return rates


def load_tokenizer(path: str | os.PathLike, trust_remote_code: bool | None = None):
    """A saved tokenizer; its callers say what a failure means (lingtrace.loading.explained): the
    starting model's (model.build.load_starting_tokenizer), a checkpoint's, the tiny encoder's."""
    from transformers import AutoTokenizer

    from lingtrace.model.build import remote_code

    return AutoTokenizer.from_pretrained(path, trust_remote_code=remote_code(trust_remote_code))
