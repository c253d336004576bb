"""Runs: which training examples a fine-tuning run sees.

``joint`` (every fine-tuning language), ``without-{L}`` (L removed: the ablation, and the zero-shot
setting for test language L), ``without-random`` (the ablation's control: a random share as large as
one language's removed), ``mono-{L}`` (only L), ``boost-{L}`` (L over-represented with its extra pool),
``remove-tracin`` / ``remove-random-{d}`` (the removal test: joint minus TracIn's top proponents, or
minus a matched random draw d), ``subset-{i}`` (the LDS: the i-th random subset of the joint pool).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from lingtrace.errors import ConfigError

RUN_KINDS = ("joint", "without", "mono", "boost", "remove", "subset")
CONTROL = "random"  # without-random: not a language (a language may not be called so)
CONTROL_RUN = f"without-{CONTROL}"  # the ablation's control: a random share of the data as large as one language's


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
        raise ConfigError(f"unknown run {name!r}: runs are joint, without-L, without-random, mono-L, boost-L, "
                          "remove-tracin, remove-random-D, subset-I")  # fmt: skip
    if kind == "remove" and not (arg == "tracin" or (arg.startswith("random-") and arg[7:].isdigit())):
        raise ConfigError(f"unknown removal run {name!r}: use remove-tracin or remove-random-D (D a draw number)")
    if kind == "subset" and not arg.isdigit():
        raise ConfigError(f"unknown subset run {name!r}: use subset-I (I a subset number)")
    return Run(kind, arg or None)


def training_set(
    train: pa.Table,
    run: Run,
    extra: pa.Table | None = None,
    removed: set[str] | None = None,
    kept: set[str] | None = None,
) -> pa.Table:
    """The rows of the balanced training pool (plus extra rows for boost) that ``run`` trains on:
    ``removed`` uids are left out (remove-* runs, without-random), only ``kept`` ones stay (subset-*)."""
    if (run.kind == "without" and run.arg == CONTROL) or run.kind == "remove":
        if removed is None:
            raise ConfigError(f"run {run.name} needs its list of removed examples")
        rows = train.filter(pc.invert(pc.is_in(train["uid"], pa.array(sorted(removed), pa.string()))))
    elif run.kind == "subset":
        if kept is None:
            raise ConfigError(f"run {run.name} needs its subset of the training examples")
        rows = train.filter(pc.is_in(train["uid"], pa.array(sorted(kept), pa.string())))
    elif run.kind == "without":
        rows = train.filter(pc.not_equal(train["lang"], run.arg))
    elif run.kind == "mono":
        rows = train.filter(pc.equal(train["lang"], run.arg))
    elif run.kind == "boost":
        if extra is None:
            raise ConfigError(f"run {run.name} needs the extra pool of {run.arg}")
        rows = pa.concat_tables([train, extra.select(train.column_names).cast(train.schema)])
    else:
        rows = train
    return rows.sort_by("uid")


def removed_uids(table: pa.Table | None, seed: int) -> set[str] | None:
    """The uids a removal table lists for ``seed`` (a table with a seed column lists one set per seed)."""
    if table is None:
        return None
    if "seed" in table.column_names:
        table = table.filter(pc.equal(table["seed"], seed))
    return set(table["uid"].to_pylist())


def subset_uids(table: pa.Table | None, run: Run) -> set[str] | None:
    """The uids of subset ``run.arg`` of an LDS subsets table (subset, uid)."""
    if table is None or run.kind != "subset":
        return None
    return set(table.filter(pc.equal(table["subset"], int(run.arg)))["uid"].to_pylist())
