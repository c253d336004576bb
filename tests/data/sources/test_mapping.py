"""Mapping a real dataset onto the data contract: every row is checked, sampled or not, and a fault is
named by the source file, its column and the line, as the user wrote them."""

import json

import pytest

from lingtrace import cli
from lingtrace.data.prepare import load_split
from lingtrace.data.sources.mapping import whole_number
from lingtrace.errors import DataError


def jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def task(path, **changes):
    """A local single-text task over one JSON Lines file (columns id, text, y), every row sampled."""
    return {"name": "t", "source": "local", "num_labels": 3, "train_langs": ["en"], "test_langs": ["en"],
            "train_per_lang": 3, "files": {"train": {"en": path}},
            "columns": {"uid": "id", "text_a": "text", "label": "y"}, **changes}  # fmt: skip


ROWS = [{"id": "a", "text": "one", "y": 0}, {"id": "b", "text": "two", "y": 1}, {"id": "c", "text": "three", "y": 2}]


def with_row(i, **change):
    return [{**row, **change} if j == i else row for j, row in enumerate(ROWS)]


def test_a_fractional_label_is_refused_not_truncated(tmp_path):
    path = jsonl(tmp_path / "train.jsonl", with_row(1, y=1.7))
    with pytest.raises(DataError, match=r"train.jsonl line 2: column 'y' \(columns.label\) holds 1.7, not a whole number"):
        load_split(task(path), "train")


@pytest.mark.parametrize("value", [True, "one", "1.5", "", None, [1], "1e0"])
def test_labels_that_are_not_whole_numbers_are_refused(tmp_path, value):
    path = jsonl(tmp_path / "train.jsonl", with_row(2, y=value))
    with pytest.raises(DataError, match=r"train.jsonl line 3: column 'y' \(columns.label\)"):
        load_split(task(path), "train")


def test_whole_numbers_as_written_are_labels(tmp_path):
    assert [whole_number(v) for v in (2, 2.0, "2", " 2 ", "2.0", "-1")] == [2, 2, 2, 2, 2, -1]
    path = jsonl(tmp_path / "train.jsonl", [{**ROWS[0], "y": "0"}, {**ROWS[1], "y": 1.0}, ROWS[2]])
    labels = dict(zip(*load_split(task(path), "train").select(["uid", "label"]).to_pydict().values()))
    assert labels == {"t-train-en-a": 0, "t-train-en-b": 1, "t-train-en-c": 2}


def test_a_label_out_of_range_is_named(tmp_path):
    path = jsonl(tmp_path / "train.jsonl", with_row(0, y=3))
    with pytest.raises(DataError, match=r"line 1: column 'y' \(columns.label\) holds 3: label 3, outside 0..2"):
        load_split(task(path), "train")


def test_label_map_maps_text_and_numbers(tmp_path):
    path = jsonl(tmp_path / "train.jsonl", [{**ROWS[0], "y": 5}, {**ROWS[1], "y": "4"}, {**ROWS[2], "y": 3.0}])
    table = load_split(task(path, label_map={"5": 2, "4": 1, "3": 0}), "train")
    assert sorted(table["label"].to_pylist()) == [0, 1, 2]


def test_a_duplicate_uid_in_a_row_that_is_not_sampled_is_refused(tmp_path):
    path = jsonl(tmp_path / "train.jsonl", ROWS + [{"id": "c", "text": "four", "y": 0}])
    with pytest.raises(DataError, match=r"train.jsonl line 4: column 'id' \(columns.uid\) repeats the value 'c' of "
                                        r".*train.jsonl line 3; uids must be unique"):  # fmt: skip
        load_split(task(path, train_per_lang=1), "train")


@pytest.mark.parametrize("text", ["", "   ", None])
def test_an_empty_text_is_named_by_the_source_file_and_column(tmp_path, text):
    path = jsonl(tmp_path / "train.jsonl", with_row(1, text=text))
    with pytest.raises(DataError, match=r"train.jsonl line 2: column 'text' \(columns.text_a\) is (empty|missing); "
                                        r"fix the row, or set empty_texts: drop"):  # fmt: skip
        load_split(task(path, train_per_lang=1), "train")


def test_blank_translations_are_left_out_of_every_language_when_asked(tmp_path, caplog):
    """PAWS-X's machine-translated training sets have blank rows where translation failed (``32035\t\t\t0``)."""
    files = {}
    for lang in ("en", "de"):
        rows = [f"{i}\ts{i} {lang}\tt{i} {lang}\t{i % 2}" for i in range(1, 5)]
        if lang == "de":
            rows[1] = "2\t\t\t0"
        (tmp_path / f"{lang}.tsv").write_text("id\tsentence1\tsentence2\tlabel\n" + "\n".join(rows) + "\n")
        files[lang] = str(tmp_path / f"{lang}.tsv")
    pawsx = task(None, parallel=True, num_labels=2, train_langs=["en", "de"], test_langs=["en", "de"],
                 train_per_lang=3, files={"train": files},
                 columns={"uid": "id", "item_id": "id", "text_a": "sentence1", "text_b": "sentence2", "label": "label"})
    with pytest.raises(DataError, match=r"de.tsv line 3: column 'sentence1' \(columns.text_a\) is empty"):
        load_split(pawsx, "train")
    table = load_split({**pawsx, "empty_texts": "drop"}, "train")
    assert sorted(table["item_id"].to_pylist()) == ["t-train-1", "t-train-1", "t-train-3", "t-train-3",
                                                    "t-train-4", "t-train-4"]  # fmt: skip
    assert "de.tsv: left out 1 of 4 rows of language 'de' with an empty text" in caplog.text
    with pytest.raises(DataError, match=r"language 'en' \(.*en.tsv\) has only 3 usable items, 4 .*\(parallel tasks need items present"):
        load_split({**pawsx, "empty_texts": "drop", "train_per_lang": 4}, "train")


def test_an_empty_second_text_in_a_tsv_is_named(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("id\ts1\ts2\tlabel\n1\ta b\tb a\t1\n2\tc d\t\t0\n")
    columns = {"uid": "id", "text_a": "s1", "text_b": "s2", "label": "label"}
    with pytest.raises(DataError, match=r"train.tsv line 3: column 's2' \(columns.text_b\) is empty"):
        load_split(task(str(path), columns=columns, num_labels=2, train_per_lang=1), "train")


def test_a_duplicate_item_id_in_a_parallel_task_is_refused(tmp_path):
    files = {
        "en": jsonl(tmp_path / "en.jsonl", [{"pair": "p1", "text": "a", "y": 0}, {"pair": "p2", "text": "b", "y": 1}]),
        "de": jsonl(tmp_path / "de.jsonl", [{"pair": "p1", "text": "a", "y": 0}, {"pair": "p1", "text": "b", "y": 1}]),
    }
    parallel = task(None, parallel=True, train_langs=["en", "de"], test_langs=["en", "de"], train_per_lang=1,
                    files={"train": files}, columns={"item_id": "pair", "text_a": "text", "label": "y"})  # fmt: skip
    with pytest.raises(DataError, match=r"de.jsonl line 2: column 'pair' \(columns.item_id\) repeats the value 'p1'"):
        load_split(parallel, "train")


def test_a_missing_uid_is_named(tmp_path):
    path = jsonl(tmp_path / "train.jsonl", [ROWS[0], {"text": "x", "y": 0}])
    with pytest.raises(DataError, match=r"train.jsonl line 2: column 'id' \(columns.uid\) is missing"):
        load_split(task(path, train_per_lang=1), "train")


def test_the_data_stage_reports_a_latin1_file_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "train.jsonl"
    path.write_bytes('{"id": "a", "text": "caf\xe9", "y": 0}\n'.encode("latin-1"))
    params = json.dumps({"task": task(str(path), train_per_lang=1)})
    assert cli.main(["data", "--params", params, "--split", "train", "--out", str(tmp_path / "out.parquet")]) == 2
    assert "train.jsonl line 1: not valid UTF-8" in capsys.readouterr().err
