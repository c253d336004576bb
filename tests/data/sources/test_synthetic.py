"""The synthetic source writes the data contract; parallel tasks share items across languages."""

import pyarrow.compute as pc

from lingtrace.data.prepare import load_split
from lingtrace.io.data import DATA_SCHEMA, check_data


def test_parallel_split_shares_item_ids_and_labels(world_cfg, task_cfg):
    table = load_split(task_cfg, "test", world_cfg)
    assert table.schema.equals(DATA_SCHEMA)
    check_data(table, "test", num_labels=3, languages=task_cfg["test_langs"])
    by_item = {}
    for row in table.to_pylist():
        by_item.setdefault(row["item_id"], set()).add((row["lang"], row["label"]))
    assert all(len(v) == len(task_cfg["test_langs"]) for v in by_item.values())
    assert all(len({label for _, label in v}) == 1 for v in by_item.values())


def test_translations_differ_in_surface_form(world_cfg, task_cfg):
    table = load_split(task_cfg, "train", world_cfg)
    item = table["item_id"][0].as_py()
    texts = table.filter(pc.equal(table["item_id"], item))["text_a"].to_pylist()
    assert len(set(texts)) == len(texts)


def test_review_shape_is_not_parallel(world_cfg, task_cfg):
    task = dict(task_cfg, name="review", shape="review", num_labels=5, parallel=False)
    table = load_split(task, "train", world_cfg)
    assert table["item_id"].unique().to_pylist().__len__() == table.num_rows
    assert table["text_b"].null_count == table.num_rows


def test_adding_a_test_language_keeps_existing_rows(world_cfg, task_cfg):
    base = load_split(dict(task_cfg, test_langs=["ala"]), "test", world_cfg)
    more = load_split(task_cfg, "test", world_cfg)
    ala = more.filter(pc.equal(more["lang"], "ala"))
    assert ala.to_pylist() == base.to_pylist()


def test_per_language_sizes_are_honoured(world_cfg, task_cfg):
    task = dict(task_cfg, train_sizes={"ala": 10})
    table = load_split(task, "train", world_cfg)
    langs = table["lang"].to_pylist()
    counts = {lang: langs.count(lang) for lang in set(langs)}
    assert counts == {"ala": 10, "bea": task_cfg["train_per_lang"]}


def test_extra_pool_is_new_items_in_the_boosted_language(world_cfg, task_cfg):
    train = load_split(task_cfg, "train", world_cfg)
    extra = load_split(task_cfg, "extra", world_cfg, "ala")
    assert extra.num_rows == task_cfg["train_per_lang"] * (task_cfg["boost_factor"] - 1)
    assert set(extra["lang"].to_pylist()) == {"ala"}
    assert not set(extra["uid"].to_pylist()) & set(train["uid"].to_pylist())
    assert not set(extra["item_id"].to_pylist()) & set(train["item_id"].to_pylist())
