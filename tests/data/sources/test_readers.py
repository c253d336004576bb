"""Local files are read with every value as written, and every unreadable file is refused naming it and the line."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lingtrace.data.sources.readers import read_local
from lingtrace.errors import DataError


def test_latin1_json_lines_are_refused_naming_the_file_and_line(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_bytes('{"a": "ok", "y": 1}\n{"a": "caf\xe9", "y": 0}\n'.encode("latin-1"))
    with pytest.raises(DataError, match=r"train.jsonl line 2: not valid UTF-8 text .*re-encode the file as UTF-8"):
        read_local(path)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.jsonl", "", r"empty.jsonl: no rows \(the file is empty\)"),
        ("blank.jsonl", "\n\n", r"blank.jsonl: no rows"),
        ("header.csv", "a,y\n", r"header.csv: only a header, no rows"),
        ("header.tsv", "a\ty\n", r"header.tsv: only a header, no rows"),
        ("empty.tsv", "", r"empty.tsv: no rows \(the file is empty\)"),
        ("extra.tsv", "a\ty\nx\t1\nz\t0\tmore\n", r"extra.tsv line 3: 3 fields, but the header names 2 columns"),
        ("short.csv", "a,y\nx,1\nz\n", r"short.csv line 3: 1 fields, but the header names 2"),
        ("broken.jsonl", '{"a": "x", "y": 1}\n{"a": "z", "y": 1\n', r"broken.jsonl line 2: not valid JSON"),
        ("list.jsonl", '{"a": "x"}\n[1, 2]\n', r"list.jsonl line 2: a JSON list, not an object"),
        ("twice.csv", "a,a\nx,y\n", r"twice.csv line 1: column\(s\) \['a'\] named more than once"),
        ("deep.jsonl", "[" * 100000, r"deep.jsonl: JSON nested too deeply|deep.jsonl: not valid JSON"),
    ],
)
def test_unreadable_text_files_are_named_with_the_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        read_local(path)


def test_zero_row_parquet_is_refused(tmp_path):
    path = tmp_path / "zero.parquet"
    pq.write_table(pa.table({"a": pa.array([], pa.string()), "y": pa.array([], pa.int64())}), path)
    with pytest.raises(DataError, match=r"zero.parquet: no rows"):
        read_local(path)


def test_values_stay_as_written(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [{"a": "x", "y": 1}, {"a": "z", "y": 1.7}, {"y": "3"}]))
    rows = read_local(path)
    assert rows.columns == {"a": ["x", "z", None], "y": [1, 1.7, "3"]}
    assert [rows.where(i) for i in range(3)] == [f"{path} line {n}" for n in (1, 2, 3)]


def test_csv_lines_count_quoted_newlines_and_skip_blank_lines(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b'\xef\xbb\xbfa,y\r\n"two\nlines",1\r\n\r\nlast,0\r\n')  # a BOM, CRLF, a blank line
    rows = read_local(path)
    assert rows.columns == {"a": ["two\nlines", "last"], "y": ["1", "0"]}
    assert [rows.where(i) for i in range(2)] == [f"{path} line 2", f"{path} line 5"]


def test_tsv_quotes_are_text(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text('id\ts\n1\tShe said "hi.\n')
    assert read_local(path).columns == {"id": ["1"], "s": ['She said "hi.']}


def test_a_folder_names_each_row_by_its_own_file(tmp_path):
    (tmp_path / "part-0.jsonl").write_text('{"a": "x"}\n')
    (tmp_path / "part-1.jsonl").write_text('{"a": "y", "b": 1}\n\n{"a": "z", "b": 2}\n')
    rows = read_local(tmp_path)
    assert rows.columns == {"a": ["x", "y", "z"], "b": [None, 1, 2]}
    assert rows.where(2) == f"{tmp_path / 'part-1.jsonl'} line 3"
    (tmp_path / "part-2.jsonl").write_text("")
    with pytest.raises(DataError, match=r"part-2.jsonl: no rows"):
        read_local(tmp_path)


def test_a_json_array_is_read_by_row(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('[{"a": "x"}, {"a": "y"}]')
    rows = read_local(path)
    assert rows.columns == {"a": ["x", "y"]} and rows.where(1) == f"{path} row 2"
