"""The pretraining corpus: which kind a study gets, and what each kind holds (never a test split)."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lingtrace.data.sources.synthetic import generate_corpus
from lingtrace.errors import ConfigError, DataError
from lingtrace.io.data import to_table, write_data
from lingtrace.model.corpus import (
    build_corpus,
    byte_fallback,
    check_corpus,
    corpus_kind,
    corpus_texts,
    parse_text_args,
    text_args,
    text_files,
)

SYNTHETIC = {"source": "synthetic"}
LOCAL = {"source": "local"}


def test_auto_is_babel_for_synthetic_studies_and_tasks_for_real_text():
    assert corpus_kind({}, [SYNTHETIC, SYNTHETIC]) == "babel"
    assert corpus_kind({}, [SYNTHETIC, LOCAL]) == "tasks"
    assert corpus_kind({"corpus": "auto"}, [{"source": "hf"}]) == "tasks"
    assert corpus_kind({"corpus": "files"}, [SYNTHETIC]) == "files"


def test_byte_fallback_follows_the_corpus_unless_set():
    assert byte_fallback({}, "babel") is False
    assert byte_fallback({}, "tasks") is True and byte_fallback({}, "files") is True
    assert byte_fallback({"byte_fallback": True}, "babel") is True
    assert byte_fallback({"byte_fallback": False}, "tasks") is False


def test_text_files_accept_a_path_or_a_list():
    files = text_files({"corpus_files": {"de": "a.txt", "ja": ["b.txt", "c.txt"]}})
    assert files == {"de": ["a.txt"], "ja": ["b.txt", "c.txt"]}
    assert parse_text_args(text_args(files)) == files
    with pytest.raises(ConfigError, match="not LANG=PATH"):
        parse_text_args(["de:a.txt"])


def test_babel_corpus_is_the_world_corpus(world_cfg):
    assert build_corpus(world_cfg).equals(generate_corpus(world_cfg))


def write_split(path, rows):
    """A data-contract file of (uid, lang, text_a[, text_b]) rows."""
    write_data(to_table([{"uid": r[0], "item_id": r[0], "lang": r[1], "text_a": r[2],
                          "text_b": r[3] if len(r) > 3 else None, "label": 0} for r in rows]), path)  # fmt: skip
    return path


def test_task_corpus_holds_both_texts_of_train_rows_then_the_text_files(tmp_path):
    first = write_split(tmp_path / "a.parquet", [("a1", "de", "Bayern"), ("a2", "ja", "バイエルン州")])
    second = write_split(tmp_path / "b.parquet", [("b1", "ru", "Бавария", "Саксония")])
    (tmp_path / "ja.txt").write_text("ドイツ語\n\n  フランス語  \n", encoding="utf-8")
    table = build_corpus(train_paths=[first, second], text_paths={"ja": [tmp_path / "ja.txt"]})
    assert table.column_names == ["lang", "text", "text_b"]
    assert table["text_b"].null_count == table.num_rows  # real text has no restatement pairs
    assert table.select(["lang", "text"]).to_pylist() == [
        {"lang": "de", "text": "Bayern"}, {"lang": "ja", "text": "バイエルン州"},
        {"lang": "ru", "text": "Бавария"}, {"lang": "ru", "text": "Саксония"},
        {"lang": "ja", "text": "ドイツ語"}, {"lang": "ja", "text": "フランス語"},
    ]  # fmt: skip


def test_corpus_texts_include_the_second_text_of_pairs():
    table = pa.table({"lang": ["a", "a"], "text": ["x y", "z"], "text_b": ["y x", None]})
    assert corpus_texts(table) == ["x y", "z", "y x"]


def test_corpus_errors_name_the_file(tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(DataError, match="bad.txt: not valid UTF-8"):
        build_corpus(text_paths={"fr": [tmp_path / "bad.txt"]})
    with pytest.raises(DataError, match="missing.txt: no such file"):
        build_corpus(text_paths={"fr": [tmp_path / "missing.txt"]})
    with pytest.raises(DataError, match="nothing to pretrain on"):
        build_corpus()


def test_check_corpus_names_the_key(world_cfg):
    tiny = {"model": {"name_or_path": None}, "tasks": [LOCAL]}
    with pytest.raises(ConfigError, match="^pretrain.corpus: files needs pretrain.corpus_files"):
        check_corpus({**tiny, "pretrain": {"corpus": "files"}})
    with pytest.raises(ConfigError, match="^pretrain.corpus: babel needs the world"):
        check_corpus({**tiny, "pretrain": {"corpus": "babel"}})
    check_corpus({**tiny, "pretrain": {}})  # auto: the local task's train split
    check_corpus({**tiny, "model": {"name_or_path": "xlm-roberta-base"}, "pretrain": {"corpus": "files"}})


def test_the_corpus_stage_writes_what_build_corpus_gives(tmp_path):
    from lingtrace.cli import main

    train = write_split(tmp_path / "train.parquet", [("a1", "de", "Bayern"), ("a2", "ru", "Бавария")])
    (tmp_path / "ja.txt").write_text("ドイツ語\n", encoding="utf-8")
    out = tmp_path / "corpus.parquet"
    assert main(["corpus", "--train", str(train), "--text", f"ja={tmp_path / 'ja.txt'}", "--out", str(out)]) == 0
    assert pq.read_table(out)["text"].to_pylist() == ["Bayern", "Бавария", "ドイツ語"]
