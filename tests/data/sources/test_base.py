"""What every data source inherits (derived task keys, split languages and sizes, the num_labels check)
and the registry that finds a source by a task's ``source`` name."""

import subprocess
import sys
from types import SimpleNamespace

import pytest

from lingtrace.data import sources
from lingtrace.data.sources.base import DataSource
from lingtrace.errors import ConfigError


def task(**changes):
    base = {"source": "plain", "train_langs": ["ala", "bea"], "zero_shot_langs": ["alb"], "test_langs": ["ala", "alb"],
            "train_per_lang": 10, "train_sizes": None, "test_per_lang": 4, "boost_factor": 3, "num_labels": 2}  # fmt: skip
    return SimpleNamespace(**(base | changes))


def test_resolve_fills_derived_keys_and_keeps_given_ones():
    raw = {"train_langs": ["ala", "bea"], "zero_shot_langs": ["alb"], "test_langs": None, "parallel": None}
    resolved = DataSource().resolve(raw)
    assert resolved["test_langs"] == ["ala", "bea", "alb"] and resolved["parallel"] is False
    assert raw["test_langs"] is None  # the input is not changed
    given = DataSource().resolve(
        {"train_langs": ["ala"], "zero_shot_langs": [], "test_langs": ["bea"], "parallel": True}
    )
    assert given["test_langs"] == ["bea"] and given["parallel"] is True


def test_languages_of_each_split():
    source = DataSource()
    assert source.languages(task(), "train") == ["ala", "bea"]
    assert source.languages(task(), "test") == ["ala", "alb"]
    assert source.languages(task(), "extra", "bea") == ["bea"]
    with pytest.raises(ConfigError, match=r"unknown split 'dev'; splits are \('train', 'test', 'extra'\)"):
        source.languages(task(), "dev")


def test_sizes_train_sizes_override_and_extra_pool_is_boost_minus_one_times_train():
    source, t = DataSource(), task(train_sizes={"bea": 6})
    assert source.size(t, "train", "ala") == 10 and source.size(t, "train", "bea") == 6
    assert source.size(t, "test", "bea") == 4
    assert source.size(t, "extra", "ala") == 20 and source.size(t, "extra", "bea") == 12
    assert source.size(task(boost_factor=1), "extra", "ala") == 0


def test_check_names_the_num_labels_key_and_load_is_abstract():
    class Plain(DataSource):
        name = "plain"

    Plain().check(task(), "tasks[0]", set())
    with pytest.raises(ConfigError, match=r"^tasks\[0\]\.num_labels: plain tasks must say how many labels"):
        Plain().check(task(num_labels=None), "tasks[0]", set())
    with pytest.raises(NotImplementedError):
        Plain().load(task(), "train")


def test_registry_finds_a_registered_source_by_dict_or_settings(monkeypatch):
    monkeypatch.setattr(sources, "SOURCES", dict(sources.SOURCES))

    @sources.register
    class Plain(DataSource):
        name = "plain"

    found = sources.source_of({"source": "plain"})
    assert isinstance(found, Plain) and sources.source_of(task()) is found


def test_unknown_source_error_lists_every_known_source():
    """In a fresh process with only one source module imported, the error still names all of them."""
    code = ("import lingtrace.data.sources.local\n"
            "from lingtrace.data.sources import source_of\n"
            "source_of({'source': 'nope'})")  # fmt: skip
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False).stderr
    assert "ConfigError: tasks: unknown source 'nope'; known sources: ['hf', 'local', 'synthetic']" in err
