"""Typed settings built from the config schema, the one place where a setting's default is written.

``lingtrace/schemas/config.schema.yaml`` (also reachable as ``workflow/schemas/``) declares every key
of a study config with its type, allowed values and default. Snakemake validates the whole config
against it before any job runs; every stage builds its settings here from the slice it is given, with
the same defaults filled in the same way, so a stage called from the CLI (``--params '{}'``) or from
Python sees exactly the values Snakemake would have passed.

    finetune = settings.load("finetune", {"epochs": 2})   # frozen dataclass; finetune.batch_size == 32
    task = settings.load("task", {...})                   # an item of ``tasks``

A section is a top-level key of the schema, or one of NESTED_SECTIONS (``task``: an item of ``tasks``;
``knobs``: a babel task's difficulty knobs; ``language``: an item of ``world.languages``). Objects with declared properties become frozen dataclasses (attribute
access; ``as_dict`` gives the JSON slice back, without the keys that were left out and have no
default; a key left out reads as None); free-form mappings (``train_sizes``, ``files``) stay
dicts, lists become tuples.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any

from lingtrace.errors import ConfigError

# Sections below the top level, as the path of keys that leads to them ("items": an array's items).
NESTED_SECTIONS = {
    "task": ("tasks", "items"),
    "knobs": ("tasks", "items", "knobs"),
    "language": ("world", "languages", "items"),
}


@functools.cache
def schema() -> dict:
    """The config schema (parsed once)."""
    import yaml

    return yaml.safe_load(resources.files("lingtrace").joinpath("schemas/config.schema.yaml").read_text())


def section_schema(section: str) -> dict:
    """The schema of one section, with the schema's ``$defs`` beside it so that its references resolve."""
    root = schema()
    if section in NESTED_SECTIONS:
        node = root
        for key in NESTED_SECTIONS[section]:
            node = resolve(node[key] if key == "items" else node["properties"][key])
    elif section in root["properties"]:
        node = root["properties"][section]
    else:
        raise ConfigError(f"no config section {section!r}; sections are {sorted(root['properties'])} and "
                          f"{sorted(NESTED_SECTIONS)}")  # fmt: skip
    return {"$defs": root.get("$defs", {}), **node}


def resolve(node: dict) -> dict:
    """A schema node with a local ``$ref`` (``#/$defs/NAME``) replaced by what it points to."""
    while "$ref" in node:
        name = node["$ref"].removeprefix("#/$defs/")
        node = {**schema()["$defs"][name], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


@functools.cache
def _validator_class():
    from jsonschema import Draft202012Validator, validators

    properties = Draft202012Validator.VALIDATORS["properties"]

    def fill_defaults(validator, props, instance, node):
        if isinstance(instance, dict):
            for name, sub in props.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from properties(validator, props, instance, node)

    return validators.extend(Draft202012Validator, {"properties": fill_defaults})


def schema_default(section: str, key: str):
    """The schema's default of one key of a section."""
    return copy.deepcopy(resolve(section_schema(section)["properties"][key]).get("default"))


def with_defaults(section: str, value: Mapping | None = None) -> dict:
    """``value`` (a config slice; None for an empty one) validated, with every schema default filled in.

    Raises ConfigError naming the key, as ``section.key.subkey: message``.
    """
    data = copy.deepcopy(dict(value or {}))
    errors = sorted(_validator_class()(section_schema(section)).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        key = ".".join([section, *(str(p) for p in error.absolute_path)])
        raise ConfigError(f"{key}: {error.message}")
    return data


def complete(config: Mapping) -> dict:
    """A whole study config validated against the schema, with every default filled in (what
    Snakemake's ``validate`` gives the Snakefile)."""
    data = copy.deepcopy(dict(config))
    errors = sorted(_validator_class()(schema()).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        raise ConfigError(f"{'.'.join(str(p) for p in error.absolute_path) or 'config'}: {error.message}")
    return data


def load(section: str, value: Any = None):
    """Typed settings of one section from a raw slice (dict, or settings already built: returned as is)."""
    if dataclasses.is_dataclass(value):
        return value
    return _typed(section_schema(section), with_defaults(section, value), section)


def as_dict(settings) -> Any:
    """Settings back to plain JSON-able values (the inverse of ``load``): keys that were left out and
    have no default are left out again."""
    if dataclasses.is_dataclass(settings):
        return {
            f.name: as_dict(getattr(settings, f.name))
            for f in dataclasses.fields(settings)
            if f.name != "_absent" and f.name not in settings._absent
        }
    if isinstance(settings, (list, tuple)):
        return [as_dict(v) for v in settings]
    if isinstance(settings, dict):
        return {k: as_dict(v) for k, v in settings.items()}
    return settings


def replace(settings, **changes):
    """A copy of typed settings with some fields changed (dataclasses.replace)."""
    return dataclasses.replace(settings, **changes)


def _typed(node: dict, value: Any, name: str):
    node = resolve(node)
    props = node.get("properties")
    if props and isinstance(value, dict):
        cls = _settings_class(name, tuple(props))
        fields = {key: _typed(sub, value.get(key), f"{name}.{key}") for key, sub in props.items()}
        return cls(**fields, _absent=frozenset(key for key in props if key not in value))
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        return tuple(_typed(node["items"], item, name) for item in value)
    return value


@functools.cache
def _settings_class(name: str, keys: tuple[str, ...]):
    absent = ("_absent", frozenset, dataclasses.field(default=frozenset(), repr=False, compare=False))
    cls = dataclasses.make_dataclass(
        "Settings_" + name.replace(".", "_"), [*((key, Any) for key in keys), absent], frozen=True
    )
    cls.__doc__ = f"Settings of config section {name!r} (keys and defaults: the config schema)."
    return cls
