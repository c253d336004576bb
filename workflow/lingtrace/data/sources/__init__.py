"""Data sources: where a task's examples come from, each turned into the data contract.

A source is one module of this package defining a ``DataSource`` subclass registered under the name
that a task's ``source`` key uses (``synthetic``, ``hf``, ``local``). Adding a source is one new module
here and its name in the schema's ``source`` enum; nothing else names the sources.

    source = source_of(task)            # the DataSource for a task (settings or raw dict)
    source.languages(task, "test")      # the languages of a split
    table = source.load(task, "train", world)
"""

from __future__ import annotations

import importlib
import pkgutil

from lingtrace.data.sources.base import DataSource
from lingtrace.errors import ConfigError

SOURCES: dict[str, DataSource] = {}


def register(cls: type[DataSource]) -> type[DataSource]:
    """Class decorator: make ``cls`` the source of tasks whose ``source`` is ``cls.name``."""
    SOURCES[cls.name] = cls()
    return cls


def _discover() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")


def source_of(task) -> DataSource:
    """The registered source a task names (its ``source`` key)."""
    name = task["source"] if isinstance(task, dict) else task.source
    if name not in SOURCES:  # not imported yet (importing one source module registers only that one)
        _discover()
    if name not in SOURCES:
        raise ConfigError(f"tasks: unknown source {name!r}; known sources: {sorted(SOURCES)}")
    return SOURCES[name]
