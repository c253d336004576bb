"""Which rows each run trains on."""

import pytest

from lingtrace.errors import ConfigError
from lingtrace.finetuning.runs import Run, parse_run, training_set


def test_parse_run():
    assert parse_run("joint") == Run("joint")
    assert parse_run("without-ala") == Run("without", "ala")
    assert parse_run("remove-tracin").name == "remove-tracin"
    assert parse_run("remove-random-2") == Run("remove", "random-2") and parse_run("subset-7") == Run("subset", "7")
    for bad in ("joint-x", "mono", "remove-foo", "remove-random", "subset-x", "other-ala"):
        with pytest.raises(ConfigError, match="run"):
            parse_run(bad)


def test_training_sets(tiny_data, world_cfg, task_cfg):
    from lingtrace.data.prepare import load_split

    train, _ = tiny_data
    langs = lambda t: sorted(set(t["lang"].to_pylist()))  # noqa: E731
    assert training_set(train, parse_run("joint")).num_rows == train.num_rows
    assert langs(training_set(train, parse_run("without-ala"))) == ["bea"]
    assert langs(training_set(train, parse_run("mono-ala"))) == ["ala"]
    extra = load_split(task_cfg, "extra", world_cfg, "ala")
    boosted = training_set(train, parse_run("boost-ala"), extra=extra)
    assert boosted.num_rows == train.num_rows + extra.num_rows
    removed = set(train["uid"].to_pylist()[:5])
    kept = training_set(train, parse_run("remove-random-0"), removed=removed)
    assert kept.num_rows == train.num_rows - 5 and not removed & set(kept["uid"].to_pylist())
    assert training_set(train, parse_run("without-random"), removed=removed).num_rows == train.num_rows - 5
    subset = training_set(train, parse_run("subset-3"), kept=removed)
    assert sorted(subset["uid"].to_pylist()) == sorted(removed)
    assert kept["uid"].to_pylist() == sorted(kept["uid"].to_pylist())
