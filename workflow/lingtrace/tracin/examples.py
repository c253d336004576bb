"""Which examples TracIn traces: a run's training set, and the scored test examples."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from lingtrace.finetuning.runs import parse_run, training_set
from lingtrace.io.data import read_data


def test_sample(test: pa.Table, per_lang: int | None) -> pa.Table:
    """The first ``per_lang`` test items of each language, by item_id (the same items in every
    language of a parallel task); all of them when ``per_lang`` is None."""
    if per_lang is None:
        return test.sort_by("uid")
    parts = []
    for lang in sorted(set(test["lang"].to_pylist())):
        rows = test.filter(pc.equal(test["lang"], lang)).sort_by([("item_id", "ascending"), ("uid", "ascending")])
        parts.append(rows.slice(0, per_lang))
    return pa.concat_tables(parts).sort_by("uid")


def traced_examples(data_path, split: str, task, run: str, extra_path=None, test_per_lang: int | None = None) -> pa.Table:
    """The rows whose gradients a dump writes: the run's training set (the analysed runs are joint,
    without-L, mono-L and boost-L), or the test sample."""
    table = read_data(data_path, num_labels=task.num_labels)
    if split == "test":
        return test_sample(table, test_per_lang)
    extra = read_data(extra_path, num_labels=task.num_labels) if extra_path else None
    return training_set(table, parse_run(run), extra=extra)
