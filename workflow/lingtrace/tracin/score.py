"""One score job: a training shard (every checkpoint) against every test example, files in and
influence tables out (see tables.py for the contracts, merge.py for the exact merge of shards).

Inside a shard the training rows are scored in uid order, so "smaller position" and "smaller uid"
agree, the running top-k is exact whatever the chunk size, and merging shards by (score, uid) gives
what one unsharded run gives (given the same scores: see kernel.py on BLAS rounding).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import numpy as np
import polars as pl
import pyarrow as pa
import torch

from lingtrace import settings
from lingtrace.errors import NumericalError
from lingtrace.tracin.kernel import ALL, DTYPES, language_sums, prepare_test
from lingtrace.tracin.shards import as_path_lists, check_pairing, load_split, tensors
from lingtrace.tracin.tables import TOPK_SCHEMA, as_frame, lang_table, topk_arrow, write_table
from lingtrace.tracin.topk import top_k_scores

log = logging.getLogger("lingtrace.scoring")


def check_scores_finite(values: torch.Tensor, test_uids: list[str], what: str) -> None:
    flat = values.reshape(values.shape[0], -1)
    if flat.device.type == "cpu":  # numpy: one thread, no OpenMP start-up on a small array
        bad = np.flatnonzero(~np.isfinite(flat.numpy()).all(axis=1)).tolist()
    else:
        bad = (~torch.isfinite(flat)).any(dim=1).nonzero().squeeze(1).tolist()
    if bad:
        raise NumericalError(
            f"{what} overflowed to inf/NaN for test example(s) {[test_uids[i] for i in bad[:5]]}: the gradients are "
            "too large for the compute dtype; set influence.dtype: float64"
        )


def score_shard(train_paths: Mapping, test_paths: Mapping, cfg=None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Score one training shard against every test example, at every checkpoint.

    ``train_paths``: {epoch: path} (the shard of the train split at each checkpoint: the same examples
    at each); ``test_paths``: {epoch: [paths]} (all test shards, concatenated in the given order).
    ``cfg``: the ``influence`` settings (or a slice of them; the schema fills the rest): top_k, variants,
    chunk_size, device, dtype. Returns the shard's (topk, lang_scores) tables (see tables.py).
    """
    topk, lang = scored_tables(train_paths, test_paths, cfg)
    return as_frame(topk, TOPK_SCHEMA), lang


def scored_tables(train_paths: Mapping, test_paths: Mapping, cfg=None) -> tuple[pa.Table, pl.DataFrame]:
    """score_shard's tables, the topk one as an Arrow table with dictionary-encoded strings."""
    from lingtrace.device import resolve_device

    cfg = settings.load("influence", cfg)
    device, dtype = resolve_device(cfg.device), DTYPES[cfg.dtype]
    train = load_split(as_path_lists(train_paths), "train", sort_by_uid=True)
    test = load_split(as_path_lists(test_paths), "test", sort_by_uid=False)
    check_pairing(train, test)
    etas = torch.tensor(train.etas, dtype=torch.float64)
    test_vectors = torch.stack([v.to(device, dtype) for v in tensors(test.vectors)])
    train_vectors = tensors(train.vectors)  # per checkpoint (n, k), zero-copy where the file allows
    if device.type == "cuda":
        train_vectors = [v.pin_memory() for v in train_vectors]

    started = time.perf_counter()
    side = prepare_test(test_vectors, etas)
    top = top_k_scores(side, train_vectors, cfg.top_k, cfg.variants, cfg.chunk_size)
    lang_names = sorted(set(train.langs))
    lang_index = {lang: i for i, lang in enumerate(lang_names)}
    lang_ids = torch.tensor([lang_index[lang] for lang in train.langs], dtype=torch.int64)
    sums = language_sums(
        test_vectors, etas, train_vectors, lang_ids, len(lang_names), cfg.variants, cfg.chunk_size
    )
    log.info("scored %d train x %d test examples at %d checkpoints on %s in %.1fs",
             len(train.uids), len(test.uids), len(train.checkpoints), device, time.perf_counter() - started)

    for (slot, variant, direction), (values, _) in top.items():
        check_scores_finite(values, test.uids, f"{variant} scores")
    for (slot, variant), values in sums.items():
        check_scores_finite(values, test.uids, f"{variant} language sums")
    labels = {**dict(enumerate(train.checkpoints)), ALL: ALL}
    n_train = np.bincount(lang_ids.numpy(), minlength=len(lang_names))
    return topk_arrow(top, labels, train, test), lang_table(sums, labels, lang_names, n_train, test)


def score_shard_files(train_paths: Mapping, test_paths: Mapping, cfg, out_topk, out_lang) -> None:
    """``score_shard`` and write its two tables (the score_shard rule's job)."""
    topk, lang = scored_tables(train_paths, test_paths, cfg)
    write_table(topk, out_topk)
    write_table(lang, out_lang)
