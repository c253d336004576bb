"""Gradient shards from plain arrays, and a brute-force TracIn oracle, for the scoring/merge/influence tests.

The oracle is the definition written out in numpy float64: the full score matrix per checkpoint, its
eta-weighted sum, and top-k by sorting each row on (score, train uid).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from lingtrace.tracin.store import write_grad_shard
from lingtrace.tracin.tables import LANG_SCHEMA, TOPK_SCHEMA


def fingerprint(epoch: int, run="joint", seed=0) -> dict:
    """A checkpoint fingerprint as dump_gradients writes it (the weights hash made up from the rest)."""
    return {"run": run, "seed": seed, "epoch": epoch, "weights_sha256": f"{run}-{seed}-{epoch}".encode().hex()}


def shard_metadata(epoch: int, eta: float, dim: int, split: str, shard=0, n_shards=1, seed=0, run="joint",
                   model_seed=0) -> dict:  # fmt: skip
    return {
        "projection": {"kind": "gaussian", "seed": seed, "dim": dim, "total_dim": dim},
        "layers": {"pattern": "classifier.*", "modules": ["classifier.out_proj"]},
        "checkpoint": epoch,
        "eta": eta,
        "fingerprint": fingerprint(epoch, run, model_seed),
        "dtype": "float32",
        "split": split,
        "shard": shard,
        "n_shards": n_shards,
    }


def write_split(root, split, vectors, uids, langs, etas, epochs=None, n_shards=1, seed=0, run="joint",
                model_seed=0) -> dict[int, list[Path]]:  # fmt: skip
    """Write ``vectors`` (C, n, dim) as n_shards shards per checkpoint; returns {epoch: [paths]}."""
    epochs = epochs or list(range(1, len(vectors) + 1))
    parts = np.array_split(np.arange(len(uids)), n_shards)
    out: dict[int, list[Path]] = {}
    for c, epoch in enumerate(epochs):
        for i, rows in enumerate(parts):
            path = Path(root) / f"epoch-{epoch}" / split / f"shard-{i}.parquet"
            n = len(rows)
            write_grad_shard(
                path,
                [uids[r] for r in rows],
                [langs[r] for r in rows],
                [0] * n,
                [0] * n,
                np.zeros(n),
                vectors[c][rows],
                shard_metadata(epoch, etas[c], vectors.shape[2], split, i, n_shards, seed, run, model_seed),
            )
            out.setdefault(epoch, []).append(path)
    return out


def random_problem(seed=0, n_ckpt=2, n_train=23, n_test=7, dim=6, langs=("ala", "bea", "cyr"), integer=False):
    """Arrays for one study: train/test vectors (C, n, dim) float32-representable, uids, langs, etas.

    ``integer`` vectors (small whole numbers, many repeats) make every dot product exact in any
    summation order, and give plenty of exactly tied scores to exercise the tie-break.
    """
    rng = np.random.default_rng(seed)
    if integer:
        train = rng.integers(-2, 3, (n_ckpt, n_train, dim)).astype(np.float32)
        test = rng.integers(-2, 3, (n_ckpt, n_test, dim)).astype(np.float32)
        etas = [2.0 ** -(c + 1) for c in range(n_ckpt)]  # powers of two keep eta * score exact
    else:
        train = rng.standard_normal((n_ckpt, n_train, dim)).astype(np.float32)
        test = rng.standard_normal((n_ckpt, n_test, dim)).astype(np.float32)
        etas = list(rng.uniform(0.1, 1.0, n_ckpt))
    train[:, 3] = 0.0  # an exactly zero gradient: cosine 0 with everything
    # uids not in row order, so that "uid order" and "row order" differ
    train_uids = [f"tr-{(7 * i) % n_train:03d}-{i}" for i in range(n_train)]
    test_uids = [f"te-{i:03d}" for i in range(n_test)]
    train_langs = [langs[i % len(langs)] for i in range(n_train)]
    test_langs = [langs[(i + 1) % len(langs)] for i in range(n_test)]
    return dict(train=train, test=test, etas=etas, train_uids=train_uids, test_uids=test_uids,
                train_langs=train_langs, test_langs=test_langs)


def unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def inverse(norms: np.ndarray) -> np.ndarray:
    return np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)


def dense_scores(test, train, etas, variant, as_kernel=False) -> dict:
    """{slot: (N, n) float64}, slot a checkpoint index or 'all': the definition, in float64.

    ``as_kernel``: the cosine as the kernel rounds it, eta * dot / |train| / |test| in this order
    (for whole-number gradients, so that exact zeros and ties stay exact and the orders can be compared)."""
    test, train = np.asarray(test, np.float64), np.asarray(train, np.float64)
    if variant == "cosine" and as_kernel:
        per_ckpt = {c: ((etas[c] * test[c]) @ train[c].T) * inverse(np.linalg.norm(train[c], axis=1))
                    * inverse(np.linalg.norm(test[c], axis=1))[:, None] for c in range(len(etas))}  # fmt: skip
    else:
        if variant == "cosine":
            test, train = unit(test), unit(train)
        per_ckpt = {c: etas[c] * test[c] @ train[c].T for c in range(len(etas))}
    total = per_ckpt[0].copy()
    for c in range(1, len(etas)):  # in checkpoint order, as the kernel adds them
        total += per_ckpt[c]
    return {**per_ckpt, "all": total}


def brute_top_k(scores: np.ndarray, uids: list[str], k: int, largest: bool) -> list[list[int]]:
    """Per row, the columns of the k best scores, best first, equal scores by smaller uid."""
    return [
        sorted(range(scores.shape[1]), key=lambda j: (-row[j] if largest else row[j], uids[j]))[:k]
        for row in scores
    ]


def expected_tables(p: dict, k: int, variants=("dot", "cosine"), epochs=None, as_kernel=False
                    ) -> tuple[pl.DataFrame, pl.DataFrame]:  # fmt: skip
    """The topk and lang_scores tables one unsharded exact computation must give, sorted like merge's
    (``as_kernel``: see dense_scores)."""
    epochs = epochs or list(range(1, len(p["etas"]) + 1))
    label = {c: str(e) for c, e in enumerate(epochs)} | {"all": "all"}
    topk, lang_rows = [], []
    langs = sorted(set(p["train_langs"]))
    for variant in variants:
        for slot, scores in dense_scores(p["test"], p["train"], p["etas"], variant, as_kernel).items():
            for direction, largest in (("proponent", True), ("opponent", False)):
                for i, cols in enumerate(brute_top_k(scores, p["train_uids"], k, largest)):
                    for rank, j in enumerate(cols, 1):
                        topk.append((p["test_uids"][i], p["test_langs"][i], label[slot], variant, direction, rank,
                                     p["train_uids"][j], p["train_langs"][j], float(scores[i, j])))
            for i in range(scores.shape[0]):
                for lang in langs:
                    cols = [j for j, lg in enumerate(p["train_langs"]) if lg == lang]
                    lang_rows.append((p["test_uids"][i], p["test_langs"][i], label[slot], variant, lang,
                                 float(scores[i, cols].sum()), len(cols)))
    topk_df = pl.DataFrame(topk, schema=TOPK_SCHEMA, orient="row")
    lang_df = pl.DataFrame(lang_rows, schema=LANG_SCHEMA, orient="row")
    return (topk_df.sort("test_uid", "checkpoint", "variant", "direction", "rank"),
            lang_df.sort("test_uid", "test_lang", "checkpoint", "variant", "train_lang"))
