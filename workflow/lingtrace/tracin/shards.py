"""Gradient shards in, aligned arrays out: reading every checkpoint's shards of a split, with the
checks that keep incompatible or broken gradients from being scored together."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from lingtrace.errors import ArtifactError, NumericalError
from lingtrace.tracin.store import RERUN, GradShard, check_compatible, read_grad_shard


@dataclass
@dataclass
class Split:
    """One split's gradient vectors at every checkpoint, rows aligned across checkpoints."""

    checkpoints: list[str]  # epoch numbers as text, in epoch order
    etas: list[float]
    uids: list[str]
    langs: list[str]
    vectors: np.ndarray  # (C, n, k) float32
    shards: list[list[GradShard]]  # per checkpoint, the shards the rows came from


def check_finite(shard: GradShard) -> None:
    """NaN or infinite stored gradients -> NumericalError naming the examples."""
    bad = ~np.isfinite(shard.grads).all(axis=1)
    if bad.any():
        uids = [uid for uid, flag in zip(shard.uids, bad) if flag]
        more = f" and {len(uids) - 5} more" if len(uids) > 5 else ""
        raise NumericalError(
            f"{shard.path}: the stored gradient of {', '.join(uids[:5])}{more} is NaN or infinite. "
            "The fine-tuning or the gradient dump diverged for these examples; check their losses, "
            f"then rerun the dump. {RERUN}"
        )


def check_eta(shard: GradShard) -> None:
    if not (np.isfinite(shard.eta) and shard.eta >= 0):
        raise ArtifactError(f"{shard.path}: eta {shard.eta!r} is not a finite non-negative learning rate. {RERUN}")


def load_checkpoint_shards(key, paths: Sequence) -> list[GradShard]:
    """Read and check the shards of one checkpoint; ``key`` must be the epoch their metadata names."""
    shards = [read_grad_shard(p) for p in paths]
    for shard in shards:
        if str(shard.checkpoint) != str(key):
            raise ArtifactError(
                f"{shard.path}: given as checkpoint {key!r} but its metadata says epoch {shard.checkpoint}"
            )
        check_finite(shard)
        check_eta(shard)
    return shards


def same_rows(reference: list[GradShard], other: list[GradShard], what: str) -> None:
    """The same uids in the same order at every checkpoint, or an error naming both files."""
    ref_uids = [u for s in reference for u in s.uids]
    uids = [u for s in other for u in s.uids]
    if ref_uids != uids:
        first = next((i for i, (a, b) in enumerate(zip(ref_uids, uids)) if a != b), min(len(ref_uids), len(uids)))
        raise ArtifactError(
            f"{what} gradient shards of different checkpoints hold different examples: "
            f"{[s.path for s in reference]} and {[s.path for s in other]} differ at row {first} "
            f"({len(ref_uids)} vs {len(uids)} rows). Dump both from the same data."
        )


def load_split(paths_by_checkpoint: Mapping, what: str, sort_by_uid: bool) -> Split:
    """Read a split's shards at every checkpoint ({epoch: [paths]}) into one aligned array."""
    if not paths_by_checkpoint:
        raise ArtifactError(f"no {what} gradient shards given")
    per_ckpt = {key: load_checkpoint_shards(key, paths) for key, paths in paths_by_checkpoint.items()}
    keys = sorted(per_ckpt, key=lambda key: int(key))
    shards = [per_ckpt[key] for key in keys]
    for other in shards[1:]:
        same_rows(shards[0], other, what)
    uids = [u for s in shards[0] for u in s.uids]
    langs = [lang for s in shards[0] for lang in s.langs]
    if len(set(uids)) != len(uids):
        raise ArtifactError(f"{what} gradient shards {[s.path for s in shards[0]]} repeat a uid; uids must be unique")
    dims = {s.grads.shape[1] for ckpt in shards for s in ckpt}
    if len(dims) > 1:
        raise ArtifactError(f"{what} gradient shards have different dims {sorted(dims)}: {[s.path for s in shards[0]]}")
    order = sorted(range(len(uids)), key=uids.__getitem__) if sort_by_uid else list(range(len(uids)))
    vectors = np.stack([np.concatenate([s.grads for s in ckpt])[order] for ckpt in shards])
    return Split(
        checkpoints=[str(key) for key in keys],
        etas=[ckpt[0].eta for ckpt in shards],
        uids=[uids[i] for i in order],
        langs=[langs[i] for i in order],
        vectors=vectors,
        shards=shards,
    )


def check_pairing(train: Split, test: Split) -> None:
    """Same checkpoints on both sides, and every test shard compatible with the train shard it meets."""
    if train.checkpoints != test.checkpoints:
        raise ArtifactError(
            f"train shards cover checkpoints {train.checkpoints} but test shards cover {test.checkpoints}; "
            "every checkpoint needs both"
        )
    for train_shards, test_shards in zip(train.shards, test.shards):
        for a in train_shards:
            for b in test_shards:
                check_compatible(a.metadata, a.path, b.metadata, b.path)
    if train.vectors.shape[2] != test.vectors.shape[2]:
        raise ArtifactError(
            f"train and test gradients have different dims ({train.vectors.shape[2]} vs {test.vectors.shape[2]})"
        )



def as_path_lists(paths_by_checkpoint: Mapping) -> dict:
    """{epoch: path or [paths]} -> {epoch: [paths]}"""
    return {
        key: list(paths) if isinstance(paths, (list, tuple)) else [paths] for key, paths in paths_by_checkpoint.items()
    }

