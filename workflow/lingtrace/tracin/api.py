"""TracIn influence from Python, without Snakemake: straight from gradient shard files.

    from lingtrace import tracin

    train = {1: ["grads/epoch-1/train/shard-0.parquet", ...], 2: [...]}   # {epoch: shard paths}
    test = {1: ["grads/epoch-1/test/shard-0.parquet"], 2: [...]}
    dense = tracin.tracin_scores(train, test)                  # small problems: the full matrix
    top = tracin.top_influencers(train, test, top_k=10)        # topk table (see tables.py)
    by_lang = tracin.language_scores(train, test)              # lang_scores table

Shards are given per checkpoint, as {epoch: path or [paths]}. The i-th train shard of every checkpoint
must hold the same examples (as dump_gradients writes them); test shards are concatenated in order.
The tables are exactly what the workflow's scoring jobs write. Settings left out (None) take the
config schema's defaults (the ``influence`` and ``gradients`` sections).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import torch

from lingtrace import settings
from lingtrace.errors import ArtifactError, ConfigError
from lingtrace.tracin.kernel import ALL, DTYPES, VARIANTS, Workspace, prepare_test, score_blocks
from lingtrace.tracin.merge import merge_lang, merge_topk
from lingtrace.tracin.score import score_shard
from lingtrace.tracin.shards import as_path_lists, check_pairing, load_split, tensors

DENSE_CHUNK_BYTES = 64 << 20  # training rows scored at a time by tracin_scores (as the compute dtype)

ShardsByCheckpoint = Mapping[int | str, str | os.PathLike | Sequence[str | os.PathLike]]


@dataclass
class DenseScores:
    """A full influence matrix: ``scores[i, j]`` is the influence of train example j on test example i."""

    scores: np.ndarray  # (n_test, n_train) float64 (computed in the influence.dtype)
    test_uids: list[str]
    train_uids: list[str]


def tracin_scores(
    train_shards: ShardsByCheckpoint,
    test_shards: ShardsByCheckpoint,
    variant: str = "dot",
    checkpoint: int | str | None = None,
    dtype: str | None = None,
) -> DenseScores:
    """The dense TracIn matrix, rows and columns in shard order, as float64 numbers computed in
    ``dtype`` (the ``influence.dtype`` setting: None takes its default, float32, as the score stage
    does; float64 for checks to the last bits, at twice the matmul's time).

    ``checkpoint`` None sums over all checkpoints (TracIn); an epoch gives that checkpoint's term alone.
    Holds n_test x n_train floats: for small problems and checks; use top_influencers for large ones.
    """
    compute = DTYPES[settings.load("influence", {} if dtype is None else {"dtype": dtype}).dtype]
    train = load_split(as_path_lists(train_shards), "train", sort_by_uid=False)
    test = load_split(as_path_lists(test_shards), "test", sort_by_uid=False)
    check_pairing(train, test)
    if variant not in VARIANTS:
        raise ConfigError(f"variant must be one of {list(VARIANTS)}, got {variant!r}")
    if checkpoint is not None and str(checkpoint) not in train.checkpoints:
        raise ArtifactError(f"checkpoint {checkpoint!r} is not among the given shards' {train.checkpoints}")
    wanted = ALL if checkpoint is None else train.checkpoints.index(str(checkpoint))
    side = prepare_test(torch.stack(tensors(test.vectors)).to(compute), torch.tensor(train.etas, dtype=compute))
    train_vectors = tensors(train.vectors)
    scores = np.empty((len(test.uids), len(train.uids)))
    step = max(1, DENSE_CHUNK_BYTES // (compute.itemsize * len(train.checkpoints) * max(train.dim, 1)))
    workspace = Workspace()
    for start in range(0, len(train.uids), step):  # a chunk at a time: a float64 copy stays small
        chunk = [v[start : start + step].to(compute) for v in train_vectors]  # float32 rows: no copy
        blocks = {slot: block for slot, _, block in score_blocks(side, chunk, [variant], workspace)}
        scores[:, start : start + step] = blocks[wanted].numpy()
    return DenseScores(scores, test.uids, train.uids)


def influence_tables(
    train_shards: ShardsByCheckpoint,
    test_shards: ShardsByCheckpoint,
    top_k: int | None = None,
    variants: Sequence[str] | None = None,
    chunk_size: int | None = None,
    device: str | None = None,
    dtype: str | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(topk, lang_scores) tables: every train shard scored against all test shards, then merged.

    The keyword arguments are the ``influence`` settings of the same names (None: the schema's default).
    """
    given = {"top_k": top_k, "variants": variants, "chunk_size": chunk_size, "device": device, "dtype": dtype}
    cfg = settings.load("influence", {key: value for key, value in given.items() if value is not None})
    train = as_path_lists(train_shards)
    counts = {key: len(paths) for key, paths in train.items()}
    if len(set(counts.values())) != 1:
        raise ArtifactError(f"checkpoints have different numbers of train shards {counts}; each needs the same shards")
    tables = [
        score_shard({key: paths[i] for key, paths in train.items()}, as_path_lists(test_shards), cfg)
        for i in range(next(iter(counts.values())))
    ]
    return merge_topk([t for t, _ in tables], cfg.top_k), merge_lang([lang for _, lang in tables])


def top_influencers(
    train_shards: ShardsByCheckpoint, test_shards: ShardsByCheckpoint, top_k: int | None = None, **kwargs
) -> pl.DataFrame:
    """The topk table: each test example's top_k proponents and opponents, per checkpoint and 'all'."""
    return influence_tables(train_shards, test_shards, top_k, **kwargs)[0]


def language_scores(train_shards: ShardsByCheckpoint, test_shards: ShardsByCheckpoint, **kwargs) -> pl.DataFrame:
    """The lang_scores table: per test example and training language, the summed influence and count."""
    return influence_tables(train_shards, test_shards, **kwargs)[1]


# --- from checkpoints -----------------------------------------------------------------------------


def dump_checkpoints(
    checkpoints: Sequence[str | os.PathLike],
    train,
    test,
    out_dir: str | os.PathLike,
    gradients: Mapping | None = None,
    max_length: int | None = None,
    train_shards: int = 1,
    threads: int | None = None,
    device: str | None = None,
) -> tuple[dict, dict]:
    """Per-example gradients of ``train`` and ``test`` (data-contract tables) at each checkpoint,
    written as shards under ``out_dir``; returns ({epoch: [train paths]}, {epoch: [test paths]}),
    ready for the functions above. ``gradients`` is the gradients config slice (layers, projection,
    dim, seed, dtype, batch_size); ``max_length`` truncates as fine-tuning did (None:
    ``finetune.max_length``); ``device`` None: ``study.device``."""
    from pathlib import Path

    from lingtrace.device import resolve_device
    from lingtrace.io.checkpoints import load_checkpoint
    from lingtrace.tracin.gradients import dump_gradients

    cfg = settings.load("gradients", gradients)
    max_length = max_length or settings.load("finetune").max_length
    device = device or settings.load("study").device
    train_paths, test_paths = {}, {}
    for checkpoint in checkpoints:
        loaded = load_checkpoint(checkpoint, device=resolve_device(device), fingerprint=True)  # once per checkpoint
        epoch = int(loaded[2]["epoch"])
        base = Path(out_dir) / f"epoch-{epoch}"
        train_paths[epoch] = [str(base / "train" / f"shard-{i}.parquet") for i in range(train_shards)]
        test_paths[epoch] = [str(base / "test" / "shard-0.parquet")]
        for i, path in enumerate(train_paths[epoch]):
            dump_gradients(checkpoint, train, cfg, path, "train", max_length, i, train_shards, threads, device,
                           loaded=loaded)  # fmt: skip
        dump_gradients(checkpoint, test, cfg, test_paths[epoch][0], "test", max_length, 0, 1, threads, device,
                       loaded=loaded)  # fmt: skip
    return train_paths, test_paths
