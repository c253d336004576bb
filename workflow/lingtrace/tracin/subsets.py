"""TracIn summed over subsets of the training set: what the linear datamodeling score (LDS) predicts.

A score is linear in the training vector, so the sum of a test example's scores over a subset S is one
dot product with S's summed training vectors (for cosine: summed unit vectors), per checkpoint; the
train shards are read one at a time and their subset sums added, in float64.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl
import torch

from lingtrace import settings
from lingtrace.errors import AnalysisError
from lingtrace.tracin.kernel import inverse_norms
from lingtrace.tracin.shards import as_path_lists, check_pairing, load_split


def subset_score_sums(train_paths: Mapping, test_paths: Mapping, subsets: pl.DataFrame, cfg=None) -> pl.DataFrame:
    """Per test example, variant and subset: the sum over the subset's training examples of the TracIn
    score (summed over checkpoints). ``train_paths``/``test_paths``: {epoch: [shard paths]} (train shards
    scored one at a time); ``subsets``: subset, uid. Columns test_uid, test_lang, variant, subset, score_sum."""
    cfg = settings.load("influence", cfg)
    train_lists, test_lists = as_path_lists(train_paths), as_path_lists(test_paths)
    test = load_split(test_lists, "test", sort_by_uid=False)
    ids = sorted(subsets["subset"].unique().to_list())
    members = {i: set(subsets.filter(pl.col("subset") == i)["uid"].to_list()) for i in ids}
    n_shards = len(next(iter(train_lists.values())))
    sums = unit_sums = None
    seen: set[str] = set()
    for shard in range(n_shards):
        train = load_split({e: [paths[shard]] for e, paths in train_lists.items()}, "train", sort_by_uid=True)
        check_pairing(train, test)
        seen.update(train.uids)
        membership = torch.tensor([[uid in members[i] for uid in train.uids] for i in ids], dtype=torch.float64)
        vectors = torch.from_numpy(np.stack(train.vectors)).to(torch.float64)  # (C, n, k)
        part = membership @ vectors  # (C, K, k)
        unit = membership @ (vectors * inverse_norms(vectors)[..., None])
        sums, unit_sums = (part, unit) if sums is None else (sums + part, unit_sums + unit)
    unknown = sorted(set(subsets["uid"].to_list()) - seen)
    if unknown:
        raise AnalysisError(f"LDS subsets name {len(unknown)} training examples with no gradient in the train shards "
                            f"(first: {unknown[0]!r}): the subsets were drawn from another training set")  # fmt: skip
    test_vectors = torch.from_numpy(np.stack(test.vectors)).to(torch.float64)
    etas = torch.tensor(train.etas, dtype=torch.float64)[:, None, None]
    scores = {
        "dot": (etas * torch.bmm(test_vectors, sums.transpose(1, 2))).sum(0),
        "cosine": (etas * torch.bmm(test_vectors * inverse_norms(test_vectors)[..., None],
                                    unit_sums.transpose(1, 2))).sum(0),
    }  # fmt: skip
    frames = [
        pl.DataFrame({
            "test_uid": np.repeat(test.uids, len(ids)),
            "test_lang": np.repeat(test.langs, len(ids)),
            "variant": variant,
            "subset": np.tile(np.array(ids, dtype=np.int64), len(test.uids)),
            "score_sum": scores[variant].numpy().reshape(-1),
        })  # fmt: skip
        for variant in cfg.variants
    ]
    return pl.concat(frames)
