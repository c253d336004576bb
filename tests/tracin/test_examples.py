"""Which examples TracIn traces: the test sample (the first items of each language by item_id, so the
same items in every language of a parallel task) and a run's training set read from the data files."""

import pytest

from lingtrace.errors import ConfigError, DataError
from lingtrace.io.data import to_table, write_data
from lingtrace.tracin import examples  # not `import test_sample`: pytest would collect it as a test
from lingtrace.tracin.examples import traced_examples


class Task:
    num_labels = 3


def rows(lang, items, prefix=None):
    """One row per item_id; uids ordered against item_id order (z.. for the first item, a.. for the last)."""
    prefix = prefix or lang
    return [{"uid": f"{prefix}-{chr(ord('z') - k)}", "item_id": item, "lang": lang, "text_a": f"text {item}",
             "text_b": None, "label": k % 3} for k, item in enumerate(items)]  # fmt: skip


TEST = to_table(rows("bea", ["i0", "i1", "i2", "i3"]) + rows("ala", ["i2", "i0", "i3", "i1"]))


def test_sample_takes_the_first_items_per_language_sorted_by_uid():
    sample = examples.test_sample(TEST, 2)
    assert sorted(zip(sample["lang"].to_pylist(), sample["item_id"].to_pylist())) == [
        ("ala", "i0"), ("ala", "i1"), ("bea", "i0"), ("bea", "i1")]  # fmt: skip
    assert sample["uid"].to_pylist() == sorted(sample["uid"].to_pylist())


def test_sample_ties_on_item_id_break_by_uid_and_none_means_all():
    tied = to_table(rows("ala", ["i0", "i0", "i1"]))
    assert examples.test_sample(tied, 1)["uid"].to_pylist() == ["ala-y"]  # ala-y < ala-z, both item i0
    everything = examples.test_sample(TEST, None)
    assert everything.num_rows == TEST.num_rows and everything["uid"].to_pylist() == sorted(TEST["uid"].to_pylist())
    assert examples.test_sample(TEST, 10).num_rows == TEST.num_rows  # fewer items than asked: all of them


def test_traced_examples_reads_the_split_and_applies_the_run(tmp_path):
    train = to_table(rows("ala", ["i0", "i1"]) + rows("bea", ["i0", "i1", "i2"]))
    extra = to_table(rows("ala", ["i5", "i6"], prefix="ala-extra"))
    paths = {name: tmp_path / f"{name}.parquet" for name in ("train", "test", "extra")}
    for name, table in (("train", train), ("test", TEST), ("extra", extra)):
        write_data(table, paths[name])
    sample = traced_examples(paths["test"], "test", Task, "joint", test_per_lang=1)
    assert sorted(sample["item_id"].to_pylist()) == ["i0", "i0"]
    mono = traced_examples(paths["train"], "train", Task, "mono-bea")
    assert mono["uid"].to_pylist() == ["bea-x", "bea-y", "bea-z"]
    boost = traced_examples(paths["train"], "train", Task, "boost-ala", extra_path=paths["extra"])
    assert boost.num_rows == 7 and boost["uid"].to_pylist() == sorted(boost["uid"].to_pylist())
    with pytest.raises(ConfigError, match="boost-ala needs the extra pool of ala"):
        traced_examples(paths["train"], "train", Task, "boost-ala")


def test_traced_examples_checks_labels_against_the_task(tmp_path):
    path = tmp_path / "test.parquet"
    write_data(TEST, path)

    class Binary:
        num_labels = 2

    with pytest.raises(DataError, match=r"test.parquet: uid .* has label 2, outside 0..1"):
        traced_examples(path, "test", Binary, "joint")
