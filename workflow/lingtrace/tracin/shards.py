"""Gradient shards in, aligned arrays out: reading every checkpoint's shards of a split, with the
checks that keep incompatible or broken gradients from being scored together."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import warnings

import numpy as np
import torch

from lingtrace.errors import ArtifactError, NumericalError
from lingtrace.tracin.store import RERUN, GradShard, check_compatible, read_grad_shard


@dataclass
class Split:
    """One split's gradient vectors at every checkpoint, rows aligned across checkpoints."""

    checkpoints: list[str]  # epoch numbers as text, in epoch order
    etas: list[float]
    uids: list[str]
    langs: list[str]
    vectors: list[np.ndarray]  # per checkpoint (n, k) float32; a read-only view of the file where possible
    shards: list[list[GradShard]]  # per checkpoint, the shards the rows came from

    @property
    def dim(self) -> int:
        return self.vectors[0].shape[1]


def check_finite(shard: GradShard) -> None:
    """NaN or infinite stored gradients -> NumericalError naming the examples.

    A row sum (one BLAS pass) is finite when its row is, unless the sum overflows; only then, or when a
    row is broken, does the elementwise check run."""
    grads = shard.grads
    if not len(grads) or np.isfinite(grads @ np.ones(grads.shape[1], dtype=grads.dtype)).all():
        return
    bad = ~np.isfinite(grads).all(axis=1)
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
    return Split(
        checkpoints=[str(key) for key in keys],
        etas=[ckpt[0].eta for ckpt in shards],
        uids=[uids[i] for i in order],
        langs=[langs[i] for i in order],
        vectors=[gather_rows(ckpt, order) for ckpt in shards],
        shards=shards,
    )


def gather_rows(shards: list[GradShard], order: list[int]) -> np.ndarray:
    """The shards' vectors, concatenated, in ``order``: the shard's own (read-only) array when it is one
    shard in order, else one copy into a new array."""
    if len(shards) == 1 and order == list(range(len(order))):
        return shards[0].grads
    out = np.empty((len(order), shards[0].grads.shape[1]), dtype=np.float32)
    if order == list(range(len(order))):
        start = 0
        for shard in shards:
            out[start : start + len(shard)] = shard.grads
            start += len(shard)
        return out
    rank = np.empty(len(order), dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(order))  # where each concatenated row goes
    start = 0
    for shard in shards:
        out[rank[start : start + len(shard)]] = shard.grads
        start += len(shard)
    return out


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
    if train.dim != test.dim:
        raise ArtifactError(f"train and test gradients have different dims ({train.dim} vs {test.dim})")


def as_path_lists(paths_by_checkpoint: Mapping) -> dict:
    """{epoch: path or [paths]} -> {epoch: [paths]}"""
    return {
        key: list(paths) if isinstance(paths, (list, tuple)) else [paths] for key, paths in paths_by_checkpoint.items()
    }


def tensors(vectors: Sequence[np.ndarray]) -> list[torch.Tensor]:
    """Per-checkpoint arrays as CPU tensors sharing their memory (views of the shard files' pages are
    read-only: nothing here writes to them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch warns about read-only numpy arrays
        return [torch.from_numpy(v) for v in vectors]
