"""The data contract refuses bad data, naming the file, column and uid."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lingtrace.errors import ArtifactError, DataError
from lingtrace.io.data import read_data, to_table, write_data

ROW = {"uid": "u1", "item_id": "i1", "lang": "ala", "text_a": "rogu bek", "text_b": None, "label": 1}


def table(*changes):
    return to_table([{**ROW, "uid": f"u{i}", **change} for i, change in enumerate(changes or [{}])])


def test_round_trip(tmp_path):
    path = tmp_path / "train.parquet"
    write_data(table({}, {"lang": "bea"}), path, num_labels=2)
    assert read_data(path, num_labels=2, languages=["ala", "bea"]).num_rows == 2


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "bad.parquet"
    pq.write_table(table().drop(["label"]), path)
    with pytest.raises(DataError, match=r"bad.parquet.*missing column.*label"):
        read_data(path)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"label": 7}, r"uid 'u0' has label 7, outside 0..2"),
        ({"text_a": "  "}, r"uid 'u0' has an empty text_a"),
        ({"lang": ""}, r"uid 'u0' has an empty lang"),
    ],
)
def test_bad_rows_are_named(tmp_path, change, message):
    with pytest.raises(DataError, match=message):
        write_data(table(change), tmp_path / "x.parquet", num_labels=3)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_duplicate_uid(tmp_path):
    bad = pa.concat_tables([table(), table()])
    with pytest.raises(DataError, match="duplicate uid 'u0'"):
        write_data(bad, tmp_path / "x.parquet")


def test_empty_language(tmp_path):
    path = tmp_path / "t.parquet"
    write_data(table(), path)
    with pytest.raises(DataError, match=r"no rows for language\(s\) \['bea'\]"):
        read_data(path, languages=["ala", "bea"])


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "t.parquet"
    write_data(table(), path)
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(ArtifactError, match="t.parquet: not a readable Parquet file"):
        read_data(path)
