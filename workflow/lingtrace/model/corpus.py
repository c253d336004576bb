"""The tiny encoder's pretraining corpus: the babel world's sentences, the study's training texts, or
unlabeled text files, as one table of (lang, text).

``pretrain.corpus`` says which: ``babel``, ``tasks`` (the train split of every task, never a test
split, plus ``pretrain.corpus_files``), ``files`` (``pretrain.corpus_files`` alone), or ``auto``
(babel when every task is synthetic, tasks otherwise). The workflow resolves ``auto`` with
``corpus_kind`` and hands the corpus stage explicit files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pyarrow as pa

from lingtrace import settings
from lingtrace.errors import ConfigError, DataError
from lingtrace.io.data import read_data

KINDS = ("babel", "tasks", "files")


def corpus_kind(pretrain, tasks: Iterable) -> str:
    """``pretrain.corpus`` with ``auto`` resolved: babel when every task is synthetic, tasks otherwise."""
    kind = settings.load("pretrain", settings.as_dict(pretrain)).corpus
    if kind != "auto":
        return kind
    sources = [task["source"] if isinstance(task, Mapping) else task.source for task in tasks]
    return "babel" if all(source == "synthetic" for source in sources) else "tasks"


def byte_fallback(tokenizer, kind: str) -> bool:
    """``tokenizer.byte_fallback`` with null resolved: on for real text (corpus tasks or files), off for
    babel, whose alphabet is closed (and whose tokenizer stays as it was before the option existed)."""
    chosen = settings.load("tokenizer", settings.as_dict(tokenizer)).byte_fallback
    return kind != "babel" if chosen is None else bool(chosen)


def text_files(pretrain) -> dict[str, list[str]]:
    """``pretrain.corpus_files`` as {language: [paths]}, in config order."""
    files = settings.load("pretrain", settings.as_dict(pretrain)).corpus_files or {}
    return {lang: [paths] if isinstance(paths, str) else list(paths) for lang, paths in files.items()}


def check_corpus(config: Mapping) -> None:
    """Raise ConfigError naming the key when the chosen corpus cannot be built (tiny model only)."""
    if config["model"]["name_or_path"] is not None:
        return
    kind = corpus_kind(config["pretrain"], config["tasks"])
    if kind == "babel" and not config.get("world"):
        raise ConfigError("pretrain.corpus: babel needs the world of languages (config key world); "
                          "for real-text tasks use tasks or files")  # fmt: skip
    if kind == "files" and not text_files(config["pretrain"]):
        raise ConfigError("pretrain.corpus: files needs pretrain.corpus_files ({language: text file or files})")


def read_lines(path: str | os.PathLike) -> list[str]:
    """The non-empty lines of a UTF-8 text file, stripped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (pretrain.corpus_files)") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not valid UTF-8 (byte {err.start}: {err.reason}); re-encode it as UTF-8") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def training_texts(data_paths: Sequence[str | os.PathLike]) -> tuple[list[str], list[str]]:
    """(langs, texts) of train splits (data contract), file by file in row order; a pair gives both texts."""
    langs, texts = [], []
    for path in data_paths:
        for row in read_data(path).select(["lang", "text_a", "text_b"]).to_pylist():
            for text in (row["text_a"], row["text_b"]):
                if text is not None and text.strip():
                    langs.append(row["lang"])
                    texts.append(text)
    return langs, texts


def build_corpus(world=None, train_paths: Sequence = (), text_paths: Mapping[str, Sequence] | None = None) -> pa.Table:
    """The corpus table (lang, text, text_b): the babel world's documents (``world`` given; some are pairs
    whose text_b restates their text), then the train splits' texts, then the text files' lines
    ({language: [paths]}); text_b is null but for babel's pairs."""
    parts = []
    if world is not None:
        from lingtrace.data.sources.synthetic import generate_corpus

        parts.append(generate_corpus(world))
    if train_paths:
        langs, texts = training_texts(train_paths)
        parts.append(singles(langs, texts))
    for lang, paths in (text_paths or {}).items():
        lines = [line for path in paths for line in read_lines(path)]
        parts.append(singles([lang] * len(lines), lines))
    if not parts or sum(part.num_rows for part in parts) == 0:
        raise DataError("corpus: nothing to pretrain on (give a world, train splits or text files with text in them)")
    return parts[0] if len(parts) == 1 else pa.concat_tables(parts)


def singles(langs: list[str], texts: list[str]) -> pa.Table:
    """Single-text documents (text_b null)."""
    return pa.table({"lang": langs, "text": texts, "text_b": pa.nulls(len(texts), pa.string())})


def corpus_texts(table: pa.Table) -> list[str]:
    """Every text of a corpus table, pairs' second texts included (what the tokenizer learns from)."""
    seconds = table["text_b"].to_pylist() if "text_b" in table.column_names else []
    return table["text"].to_pylist() + [text for text in seconds if text is not None]


def parse_text_args(values: Sequence[str]) -> dict[str, list[str]]:
    """``LANG=PATH`` arguments as {language: [paths]} (a language may come several times)."""
    files: dict[str, list[str]] = {}
    for value in values:
        lang, sep, path = value.partition("=")
        if not sep or not lang or not path:
            raise ConfigError(f"--text: {value!r} is not LANG=PATH")
        files.setdefault(lang, []).append(path)
    return files


def text_args(files: Mapping[str, Sequence[str]]) -> list[str]:
    """{language: [paths]} as ``LANG=PATH`` arguments (the inverse of ``parse_text_args``)."""
    return [f"{lang}={path}" for lang, paths in files.items() for path in paths]
