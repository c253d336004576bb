"""The influence table contracts (lingtrace.tracin.tables): running top-k results and language sums
become rows of the topk and lang_scores schemas (ranks from 1, the epoch or 'all' as text, -0.0 as 0.0,
nothing at all for an empty shard), dictionary-encoded string columns decode to the right values, and
an Arrow table is written so that every reader gets plain strings back."""

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from lingtrace.tracin.kernel import ALL
from lingtrace.tracin.shards import Split
from lingtrace.tracin.tables import (
    LANG_SCHEMA,
    TOPK_SCHEMA,
    codes,
    dictionary,
    lang_table,
    topk_arrow,
    topk_table,
    write_table,
)


def split(uids, langs) -> Split:
    return Split(checkpoints=["1"], etas=[1.0], uids=uids, langs=langs, vectors=[np.zeros((len(uids), 2), np.float32)],
                 shards=[[]])  # fmt: skip


TRAIN = split(["tr-a", "tr-b", "tr-c"], ["bea", "ala", "bea"])
TEST = split(["te-1", "te-0"], ["ala", "bea"])
LABELS = {0: "3", ALL: ALL}


def test_codes_and_dictionary_columns_round_trip():
    idx, distinct = codes(["bea", "ala", "bea", "cyr"])
    assert distinct == ["ala", "bea", "cyr"] and idx.tolist() == [1, 0, 1, 2] and idx.dtype == np.int32
    column = dictionary(idx, distinct)
    assert isinstance(column, pa.DictionaryArray) and column.to_pylist() == ["bea", "ala", "bea", "cyr"]


def test_top_k_results_become_rows_of_the_topk_contract():
    top = {
        (0, "dot", "proponent"): (torch.tensor([[2.0, 1.0], [5.0, -0.0]]), torch.tensor([[2, 0], [1, 2]])),
        (ALL, "cosine", "opponent"): (torch.tensor([[-0.5, 0.25], [-1.0, 0.0]]), torch.tensor([[1, 2], [0, 1]])),
    }
    df = topk_table(top, LABELS, TRAIN, TEST)
    assert dict(df.schema) == TOPK_SCHEMA and df.height == 8
    rows = df.sort("checkpoint", "test_uid", "rank").rows(named=True)
    first = next(r for r in rows if r["test_uid"] == "te-1")  # checkpoint "3", test row 0, rank 1: train row 2
    assert (first["checkpoint"], first["variant"], first["direction"]) == ("3", "dot", "proponent")
    assert (first["test_uid"], first["test_lang"], first["rank"], first["train_uid"], first["train_lang"],
            first["score"]) == ("te-1", "ala", 1, "tr-c", "bea", 2.0)  # fmt: skip
    te0 = [r for r in rows if r["checkpoint"] == "3" and r["test_uid"] == "te-0"]
    assert [(r["rank"], r["train_uid"], r["train_lang"], r["score"]) for r in te0] == [
        (1, "tr-b", "ala", 5.0), (2, "tr-c", "bea", 0.0)]  # fmt: skip
    assert not any(np.signbit(r["score"]) and r["score"] == 0 for r in rows)  # -0.0 written as 0.0
    summed = df.filter(pl.col("checkpoint") == "all").sort("test_uid", "rank")
    assert summed["variant"].unique().to_list() == ["cosine"] and summed["direction"].unique().to_list() == ["opponent"]
    assert summed.filter(pl.col("test_uid") == "te-0")["train_uid"].to_list() == ["tr-a", "tr-b"]


def test_an_empty_shard_gives_an_empty_table_of_the_contract():
    table = topk_arrow({}, LABELS, TRAIN, TEST)
    assert table.num_rows == 0
    assert dict(topk_table({}, LABELS, TRAIN, TEST).schema) == TOPK_SCHEMA
    empty = lang_table({}, LABELS, ["ala"], np.array([1]), TEST)
    assert empty.height == 0 and dict(empty.schema) == LANG_SCHEMA
    no_langs = lang_table({(0, "dot"): torch.zeros(2, 0)}, LABELS, [], np.array([], dtype=np.int64), TEST)
    assert no_langs.height == 0 and dict(no_langs.schema) == LANG_SCHEMA


def test_language_sums_become_rows_of_the_lang_scores_contract():
    sums = {(0, "dot"): torch.tensor([[1.5, -0.0], [2.0, 3.0]], dtype=torch.float64),
            (ALL, "dot"): torch.tensor([[4.0, 5.0], [6.0, 7.0]], dtype=torch.float64)}  # fmt: skip
    df = lang_table(sums, LABELS, ["ala", "bea"], np.array([1, 2]), TEST)
    assert dict(df.schema) == LANG_SCHEMA and df.height == 8
    got = {(r["checkpoint"], r["test_uid"], r["train_lang"]): (r["test_lang"], r["score_sum"], r["n_train"])
           for r in df.iter_rows(named=True)}  # fmt: skip
    assert got[("3", "te-1", "ala")] == ("ala", 1.5, 1)
    assert got[("3", "te-0", "bea")] == ("bea", 3.0, 2)
    assert got[("all", "te-1", "bea")] == ("ala", 5.0, 2)
    assert not np.signbit(got[("3", "te-1", "bea")][1])  # -0.0 written as 0.0


def test_written_tables_read_back_with_plain_string_columns(tmp_path):
    top = {(0, "dot", "proponent"): (torch.tensor([[1.0], [2.0]]), torch.tensor([[1], [0]]))}
    arrow = topk_arrow(top, LABELS, TRAIN, TEST)
    assert pa.types.is_dictionary(arrow.schema.field("train_uid").type)
    write_table(arrow, tmp_path / "a.parquet")
    back = pq.read_table(tmp_path / "a.parquet")
    assert all(not pa.types.is_dictionary(field.type) for field in back.schema)
    assert back.schema.field("test_uid").type in (pa.string(), pa.large_string())
    assert pl.read_parquet(tmp_path / "a.parquet").equals(topk_table(top, LABELS, TRAIN, TEST))
    frame = topk_table(top, LABELS, TRAIN, TEST)
    write_table(frame, tmp_path / "f.parquet")
    assert pl.read_parquet(tmp_path / "f.parquet").equals(frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet", "f.parquet"]  # no temporary left
