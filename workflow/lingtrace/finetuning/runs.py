"""Runs: which training examples a fine-tuning run sees.

``joint`` (every fine-tuning language), ``without-{L}`` (L removed: the ablation, and the zero-shot
setting for test language L), ``mono-{L}`` (only L), ``boost-{L}`` (L over-represented with its extra
pool), ``remove-tracin`` / ``remove-random`` (the removal test: joint minus a list of examples).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from lingtrace.errors import ConfigError

RUN_KINDS = ("joint", "without", "mono", "boost", "remove")
REMOVAL_KINDS = ("tracin", "random")


@dataclass(frozen=True)
class Run:
    kind: str
    arg: str | None = None

    @property
    def name(self) -> str:
        return self.kind if self.arg is None else f"{self.kind}-{self.arg}"


def parse_run(name: str) -> Run:
    kind, _, arg = name.partition("-")
    if kind not in RUN_KINDS or (kind == "joint") != (arg == ""):
        raise ConfigError(f"unknown run {name!r}: runs are joint, without-L, mono-L, boost-L, remove-tracin|random")
    if kind == "remove" and arg not in REMOVAL_KINDS:
        raise ConfigError(f"unknown removal run {name!r}: use remove-tracin or remove-random")
    return Run(kind, arg or None)


def training_set(
    train: pa.Table, run: Run, extra: pa.Table | None = None, removed: set[str] | None = None
) -> pa.Table:
    """The rows of the balanced training pool (plus extra rows for boost) that ``run`` trains on."""
    if run.kind == "without":
        rows = train.filter(pc.not_equal(train["lang"], run.arg))
    elif run.kind == "mono":
        rows = train.filter(pc.equal(train["lang"], run.arg))
    elif run.kind == "boost":
        if extra is None:
            raise ConfigError(f"run {run.name} needs the extra pool of {run.arg}")
        rows = pa.concat_tables([train, extra.select(train.column_names).cast(train.schema)])
    elif run.kind == "remove":
        if removed is None:
            raise ConfigError(f"run {run.name} needs its list of removed examples")
        rows = train.filter(pc.invert(pc.is_in(train["uid"], pa.array(sorted(removed), pa.string()))))
    else:
        rows = train
    return rows.sort_by("uid")
