"""TracIn scoring of gradient shards: the top-k influencers of every test example, and per-language sums.

    dot:     score(z, z') = sum_c eta_c <g_c(z), g_c(z')>
    cosine:  score(z, z') = sum_c eta_c cos(g_c(z), g_c(z'))

z is a training example, z' a test example, c a checkpoint, eta_c its mean learning rate and g_c the
stored (unscaled) gradient vector. The cosine of an exactly zero vector with anything is taken to be 0
(a zero gradient has no direction and no influence); NaN or infinite gradients are refused.

Two layers:

- The kernel, tensors in and tensors out, timed by ``lingtrace bench``: ``prepare_test``,
  ``score_blocks`` (the score blocks of one chunk of training rows), ``RunningTopK`` (a streaming exact
  top-k), ``top_k_scores`` and ``language_sums``.
- ``score_shard``: one training shard (every checkpoint) against every test example, files in and
  influence tables out (see merge.py for the two table contracts and the exact merge of shards).

Order and ties: rank by score, and between equal scores the smaller training uid first. Inside a
shard the training rows are scored in uid order, so "smaller position" and "smaller uid" agree, the
running top-k is exact whatever the chunk size, and merging shards by (score, uid) gives what one
unsharded run gives. The one caveat is the matmul: BLAS libraries (MKL, cuBLAS) pick kernels by
matrix size, so the same score computed in blocks of another shape can differ in its last bits (about
1e-7 relative in float32, 1e-16 in float64), and two scores that close may swap ranks. Everything after
the matmul is elementwise, and inputs whose dot products are exact (e.g. whole numbers) give identical
tables for every chunk size and shard count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl
import torch

from lingtrace.errors import ArtifactError, ConfigError, NumericalError
from lingtrace.io.atomic import atomic_path
from lingtrace.io.grads import RERUN, GradShard, check_compatible, read_grad_metadata, read_grad_shard

log = logging.getLogger("lingtrace.scoring")

ALL = "all"
VARIANTS = ("dot", "cosine")
DIRECTIONS = {"proponent": True, "opponent": False}  # direction -> rank the largest scores first
DTYPES = {"float32": torch.float32, "float64": torch.float64}

TOPK_SCHEMA = {
    "test_uid": pl.String,
    "test_lang": pl.String,
    "checkpoint": pl.String,
    "variant": pl.String,
    "direction": pl.String,
    "rank": pl.Int64,
    "train_uid": pl.String,
    "train_lang": pl.String,
    "score": pl.Float64,
}
LANG_SCHEMA = {
    "test_uid": pl.String,
    "test_lang": pl.String,
    "checkpoint": pl.String,
    "variant": pl.String,
    "train_lang": pl.String,
    "score_sum": pl.Float64,
    "n_train": pl.Int64,
}


# --- the kernel -------------------------------------------------------------------------------


@dataclass
class TestSide:
    """The test examples, ready to be scored against any number of training chunks."""

    scaled: torch.Tensor  # (C, N, k): eta_c * g_c(z')
    inv_norms: torch.Tensor  # (C, N): 1 / |g_c(z')|, 0 for an exactly zero vector


def inverse_norms(vectors: torch.Tensor) -> torch.Tensor:
    """(..., k) -> (...): 1 / L2 norm, and 0 (not inf) for an exactly zero vector."""
    norms = torch.linalg.vector_norm(vectors, dim=-1)
    return torch.where(norms > 0, norms.reciprocal(), torch.zeros_like(norms))


def prepare_test(test: torch.Tensor, etas: torch.Tensor) -> TestSide:
    """``test`` (C, N, k) unscaled gradients, ``etas`` (C,) -> TestSide on the same device and dtype."""
    etas = etas.to(test.device, test.dtype)
    return TestSide(scaled=test * etas[:, None, None], inv_norms=inverse_norms(test))


class Workspace:
    """Score buffers reused from chunk to chunk: allocating and first touching hundreds of MB per chunk
    costs more than the arithmetic done in them."""

    def __init__(self):
        self.buffers: dict[str, torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        buf = self.buffers.get(name)
        if buf is None or buf.shape != shape or buf.dtype != like.dtype or buf.device != like.device:
            buf = self.buffers[name] = torch.empty(shape, dtype=like.dtype, device=like.device)
        return buf


def score_blocks(
    test: TestSide, chunk: torch.Tensor, variants: Sequence[str], workspace: Workspace | None = None
) -> Iterator[tuple[int | str, str, torch.Tensor]]:
    """The score blocks of one chunk of training rows ``chunk`` (C, n, k), each yielded once ready.

    Yields (slot, variant, block (N, n)), slot the checkpoint index 0..C-1 or ALL (the sum over
    checkpoints, added in checkpoint order). One matmul per checkpoint; a cosine block is the dot block
    divided by both norms. Every block has its own buffer in ``workspace``, valid until the workspace's
    next chunk, so a consumer may work on several blocks at once (top_k_scores does, in threads).
    """
    ws = workspace or Workspace()
    n_ckpt, n_test, n = chunk.shape[0], test.scaled.shape[1], chunk.shape[1]
    shape = (n_test, n)
    dots = torch.bmm(test.scaled, chunk.transpose(1, 2), out=ws.get("dots", (n_ckpt, *shape), chunk))
    if "dot" in variants:
        for c in range(n_ckpt):
            yield c, "dot", dots[c]
        yield ALL, "dot", checkpoint_sum(list(dots), ws.get("total_dot", shape, chunk))
    if "cosine" in variants:
        inv_train = inverse_norms(chunk)
        per_ckpt = [ws.get(f"cos-{c}", shape, chunk) for c in range(n_ckpt)]
        for c, cos in enumerate(per_ckpt):
            elementwise(np.multiply, torch.mul, dots[c], inv_train[c], cos)
            elementwise(np.multiply, torch.mul, cos, test.inv_norms[c][:, None], cos)
            yield c, "cosine", cos
        yield ALL, "cosine", checkpoint_sum(per_ckpt, ws.get("total_cos", shape, chunk))


def checkpoint_sum(blocks: list[torch.Tensor], out: torch.Tensor) -> torch.Tensor:
    """blocks[0] + blocks[1] + ... added in this order (the same rounding for any chunking), into ``out``."""
    if len(blocks) == 1:
        return blocks[0]
    elementwise(np.add, torch.add, blocks[0], blocks[1], out)
    for block in blocks[2:]:
        elementwise(np.add, torch.add, out, block, out)
    return out


def elementwise(np_op, torch_op, a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> None:
    """out = op(a, b), broadcasting. numpy on the CPU: torch's CPU elementwise ops are multithreaded,
    and on a loaded machine a thread that waits for a busy core makes them several times slower than
    numpy's single thread. The same IEEE operation either way, so the results are identical."""
    if on_host(out):
        np_op(a.numpy(), b.numpy(), out=out.numpy())
    else:
        torch_op(a, b, out=out)


# Selection and bookkeeping. On the CPU these go through numpy on zero-copy views: its partition and
# argpartition are several times faster than torch's CPU topk, its ops release the GIL (so the lists of
# a chunk are updated in threads), and each torch CPU op pays an OpenMP fork/join that costs more than
# the small operations here (far more on a busy machine). On CUDA they are torch ops.


def on_host(t: torch.Tensor) -> bool:
    """Whether ``t`` is worked on with numpy (a CPU tensor) rather than with torch ops."""
    return t.device.type == "cpu"


def concat_columns(pieces: Sequence[torch.Tensor]) -> torch.Tensor:
    if on_host(pieces[0]):
        return torch.from_numpy(np.concatenate([p.numpy() for p in pieces], axis=1))
    return torch.cat(list(pieces), dim=1)


def gather_columns(a: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """out[i, j] = a[i, idx[i, j]]"""
    if on_host(a):
        return torch.from_numpy(np.take_along_axis(a.numpy(), idx.numpy(), axis=1))
    return a.gather(1, idx)


def rank_order(values: torch.Tensor, positions: torch.Tensor, largest: bool) -> torch.Tensor:
    """(N, m) -> (N, m) column indices that sort each row best first, equal values by smaller position."""
    if not on_host(values):
        by_position = positions.argsort(dim=1)
        ordered = values.gather(1, by_position).argsort(dim=1, descending=largest, stable=True)
        return by_position.gather(1, ordered)
    key, pos = (-values if largest else values).numpy(), positions.numpy()
    order = np.argsort(key, axis=1)  # a plain sort, then the rows with equal values again by position
    in_order = np.take_along_axis(key, order, axis=1)
    tied = np.flatnonzero((in_order[:, 1:] == in_order[:, :-1]).any(axis=1))
    if len(tied):
        order[tied] = np.lexsort((pos[tied], key[tied]), axis=1)
    return torch.from_numpy(order)


def best_columns(values: torch.Tensor, k: int, largest: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The k best entries of each row of ``values`` (N, m > k), in no order: (columns, values, tied), the
    first two (N, k). ``tied`` (N,) marks rows whose k-th and (k+1)-th best values are equal: there the
    tie-break, not the value, decides who is in, and the columns chosen here may be the wrong ones.
    """
    if not on_host(values):
        top, idx = values.topk(k + 1, dim=1, largest=largest, sorted=True)
        return idx[:, :k], top[:, :k], top[:, k - 1] == top[:, k]
    a = values.numpy()
    kth = a.shape[1] - k - 1 if largest else k  # where the (k+1)-th best lands
    part = np.argpartition(a, kth, axis=1)
    idx = part[:, kth + 1 :] if largest else part[:, :k]
    kept = np.take_along_axis(a, idx, axis=1)
    boundary = np.take_along_axis(a, part[:, kth : kth + 1], axis=1)[:, 0]
    tied = (kept.min(axis=1) if largest else kept.max(axis=1)) == boundary
    return torch.from_numpy(idx), torch.from_numpy(kept), torch.from_numpy(tied)


def first_k(
    values: torch.Tensor, k: int, largest: bool, positions: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The k best entries of each row of ``values`` (N, m), equal values to the smaller position, in no order.

    ``positions`` (N, m) are distinct within a row; None means the column numbers 0..m-1. Returns new
    (values, positions), each (N, min(k, m)).
    """
    rows, m = values.shape
    as_columns = positions is None
    if as_columns:
        positions = torch.arange(m, device=values.device).expand(rows, m)
    if m <= k:
        return values.clone(), positions.clone()
    idx, kept, tied = best_columns(values, k, largest)
    tied_rows = tied.nonzero().squeeze(1)
    if len(tied_rows):  # rare: sort these rows in full
        row_values = values[tied_rows]
        row_positions = positions[tied_rows]
        idx[tied_rows] = rank_order(row_values, row_positions, largest)[:, :k].to(idx.device)
        kept[tied_rows] = row_values.gather(1, idx[tied_rows])
    return kept, idx if as_columns else gather_columns(positions, idx)


PADDING = np.iinfo(np.int64).max  # the position of a padding entry; its value is the worst possible


def entries_beyond(
    values: torch.Tensor, threshold: np.ndarray, largest: bool, positions: torch.Tensor | int, inclusive: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The entries of each row of ``values`` (N, m) better than that row's ``threshold`` (N,), or equal
    to it if ``inclusive``, with their positions: ``positions`` (N, m), or an int, the position of
    column 0 (then column j is at positions + j). CPU only.

    Returns (values, positions), each (N, w) with w the largest count in a row, rows in their original
    order; shorter rows are padded with the worst possible value (-inf for largest, +inf otherwise) at
    position PADDING.
    """
    a, t = values.numpy(), threshold[:, None]
    n_rows, m = a.shape
    if largest:
        mask = a >= t if inclusive else a > t
    else:
        mask = a <= t if inclusive else a < t
    flat = np.flatnonzero(mask)  # row-major: row by row, columns ascending
    counts = np.diff(np.searchsorted(flat, np.arange(n_rows + 1) * m))
    width = int(counts.max()) if len(flat) else 0
    starts = np.cumsum(counts) - counts
    # the i-th entry found goes to slot (i - start of its row) of its row in the (n_rows, width) output
    slots = np.arange(len(flat)) + np.repeat(np.arange(n_rows) * width - starts, counts)
    out_values = np.full(n_rows * width, -np.inf if largest else np.inf, dtype=a.dtype)
    out_positions = np.full(n_rows * width, PADDING, dtype=np.int64)
    out_values[slots] = a.reshape(-1).take(flat)
    if isinstance(positions, int):
        out_positions[slots] = flat + np.repeat(positions - np.arange(n_rows) * m, counts)
    else:
        out_positions[slots] = positions.numpy().reshape(-1).take(flat)
    shape = (n_rows, width)
    return torch.from_numpy(out_values.reshape(shape)), torch.from_numpy(out_positions.reshape(shape))


def group_threshold(block: torch.Tensor, k: int, largest: bool) -> np.ndarray:
    """(N,): for each row of ``block`` (N, n >= k) a value that at least k of its entries reach, so
    that no entry worse than it can be among the row's best k.

    The k-th best of the maxima (minima) of column groups of up to 8: each of those k groups holds an
    entry that good. One vectorised pass and a value-only partition of n/8 columns, much cheaper than a
    selection over the block, and tight: about k + 10 entries per row reach it. CPU only.
    """
    a = block.numpy()
    size = min(8, a.shape[1] // k)
    groups = a[:, : a.shape[1] // size * size].reshape(a.shape[0], size, -1)  # group g: columns g, g + G, ...
    best = groups.max(axis=1) if largest else groups.min(axis=1)
    return kth_best(best, k, largest)


def kth_best(a: np.ndarray, k: int, largest: bool) -> np.ndarray:
    """(N, m >= k) -> (N,): the k-th best value of each row (value-only partition)."""
    kth = a.shape[1] - k if largest else k - 1
    return np.partition(a, kth, axis=1)[:, kth]


class RunningTopK:
    """The best k scores per test row over all chunks seen so far, with their training positions.

    Keeps a pool of candidates that always contains the first k (by score, then position) of every row,
    and cuts it back when it grows past ``spare`` * k columns and at the end, so the result is exact for
    any chunking. On the CPU a chunk's candidates are found with one comparison per score: once the
    pool holds k per row, only the entries better than its k-th best value can enter (an equal one
    loses on position: chunks come in position order); before that, the entries at least as good as the
    chunk's group_threshold. Far cheaper than a selection over every block.
    """

    def __init__(self, k: int, largest: bool, spare: int = 4):
        self.k, self.largest, self.spare = k, largest, spare
        self.values: torch.Tensor | None = None  # (N, m) candidate scores, in no order
        self.positions: torch.Tensor | None = None  # (N, m) int64
        self.threshold: np.ndarray | None = None  # (N,) the pool's k-th best value (CPU only)

    def candidates(self, block: torch.Tensor, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(values, positions) of the entries of ``block`` (N, n) that may be among the best k."""
        if not on_host(block) or block.shape[1] <= 2 * self.k:
            values, columns = first_k(block, self.k, self.largest)
            return values, columns + offset
        if self.threshold is not None:
            return entries_beyond(block, self.threshold, self.largest, offset)
        return entries_beyond(block, group_threshold(block, self.k, self.largest), self.largest, offset, inclusive=True)

    def update(self, block: torch.Tensor, offset: int) -> None:
        """Fold in ``block`` (N, n), the scores of training positions offset .. offset + n - 1."""
        values, positions = self.candidates(block, offset)
        if self.values is not None:
            values = concat_columns([self.values, values])
            positions = concat_columns([self.positions, positions])
        self.values, self.positions = values, positions
        if on_host(values) and values.shape[1] >= self.k:
            self.threshold = kth_best(values.numpy(), self.k, self.largest)
        if values.shape[1] > self.spare * self.k:
            self.cut()

    def cut(self) -> None:
        """Cut the pool back to its first k: on the CPU, to the entries at least as good as its k-th best
        (k per row, more only where values tie: the order sorts those out), elsewhere by selection."""
        if self.threshold is not None:
            self.values, self.positions = entries_beyond(
                self.values, self.threshold, self.largest, self.positions, inclusive=True
            )
        else:
            self.values, self.positions = first_k(self.values, self.k, self.largest, self.positions)

    def result(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(values, positions), each (N, min(k, seen)), rank 1 first."""
        self.cut()
        order = rank_order(self.values, self.positions, self.largest)[:, : self.k].to(self.values.device)
        return gather_columns(self.values, order), gather_columns(self.positions, order)


def top_k_scores(
    test: TestSide,
    train: torch.Tensor,
    k: int,
    variants: Sequence[str],
    chunk_size: int,
    threads: int | None = None,
) -> dict[tuple[int | str, str, str], tuple[torch.Tensor, torch.Tensor]]:
    """Top-k proponents and opponents of every test row, per checkpoint and for ALL, per variant.

    ``train`` (C, n, k) may live on the CPU: it is moved to the test side's device and dtype one chunk
    of ``chunk_size`` rows at a time. Memory is bounded by the chunk, not by n: the score blocks take
    (2C + 2) * N * chunk_size values. On the CPU the lists are updated in ``threads`` threads (default:
    torch's thread count). Returns {(slot, variant, direction): (scores (N, k'), train positions (N, k'))},
    rank 1 first, k' = min(k, n); positions index the rows of ``train``.
    """
    device, dtype = test.scaled.device, test.scaled.dtype
    workers = (threads or torch.get_num_threads()) if device.type == "cpu" else 1
    running: dict[tuple, RunningTopK] = {}
    workspace = Workspace()
    with ThreadPoolExecutor(workers) as pool:
        for start in range(0, train.shape[1], chunk_size):
            chunk = train[:, start : start + chunk_size].to(device, dtype, non_blocking=True)
            updates = []
            for slot, variant, block in score_blocks(test, chunk, variants, workspace):
                for direction, largest in DIRECTIONS.items():
                    top = running.setdefault((slot, variant, direction), RunningTopK(k, largest))
                    updates.append(pool.submit(top.update, block, start))
            for update in updates:  # all done (errors raised) before the next chunk overwrites the blocks
                update.result()
        return dict(zip(running, pool.map(RunningTopK.result, running.values())))


def language_sums(
    test: torch.Tensor,
    etas: torch.Tensor,
    train: torch.Tensor,
    lang_ids: torch.Tensor,
    n_langs: int,
    variants: Sequence[str],
    chunk_size: int,
) -> dict[tuple[int | str, str], torch.Tensor]:
    """Per test row and training language, the sum of the scores over that language's training rows.

    A score is linear in the training vector, so the sum over a language is one dot product with the
    language's summed vectors (for cosine: summed unit vectors), per checkpoint; all in float64.
    ``test`` (C, N, k), ``etas`` (C,), ``train`` (C, n, k) (any device), ``lang_ids`` (n,) in
    0..n_langs-1. Returns {(slot, variant): (N, n_langs) float64}, slot a checkpoint index or ALL.
    """
    device = test.device
    test = test.to(torch.float64)
    n_ckpt, _, dim = train.shape
    sums = torch.zeros(n_ckpt, n_langs, dim, dtype=torch.float64, device=device)
    unit_sums = torch.zeros_like(sums)
    lang_ids = lang_ids.to(device)
    for start in range(0, train.shape[1], chunk_size):
        chunk = train[:, start : start + chunk_size].to(device, torch.float64)
        # (n_langs, n) one-hot times the chunk: a deterministic sum per language (CUDA's index_add_ is not)
        member = torch.nn.functional.one_hot(lang_ids[start : start + chunk_size], n_langs).T.to(torch.float64)
        sums += member @ chunk
        unit_sums += member @ (chunk * inverse_norms(chunk)[..., None])
    etas = etas.to(device, torch.float64)[:, None, None]
    per_ckpt = {
        "dot": etas * torch.bmm(test, sums.transpose(1, 2)),
        "cosine": etas * torch.bmm(test * inverse_norms(test)[..., None], unit_sums.transpose(1, 2)),
    }
    out = {}
    for variant in variants:
        for c in range(n_ckpt):
            out[(c, variant)] = per_ckpt[variant][c]
        out[(ALL, variant)] = per_ckpt[variant].sum(0)
    return out


# --- shards in, tables out ----------------------------------------------------------------------


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


def scoring_settings(cfg: Mapping) -> dict:
    """Validate the scoring config slice; returns it with defaults filled in."""
    out = {"top_k": cfg.get("top_k", 100), "variants": list(cfg.get("variants", VARIANTS)),
           "chunk_size": cfg.get("chunk_size", 4096), "device": cfg.get("device", "auto"),
           "dtype": cfg.get("dtype", "float32")}
    for key in ("top_k", "chunk_size"):
        if not isinstance(out[key], int) or isinstance(out[key], bool) or out[key] < 1:
            raise ConfigError(f"scoring.{key} must be a positive integer, got {out[key]!r}")
    unknown = [v for v in out["variants"] if v not in VARIANTS]
    if unknown or not out["variants"]:
        raise ConfigError(f"scoring.variants must be a non-empty subset of {list(VARIANTS)}, got {out['variants']!r}")
    if out["dtype"] not in DTYPES:
        raise ConfigError(f"scoring.dtype must be one of {list(DTYPES)}, got {out['dtype']!r}")
    return out


def check_scores_finite(values: torch.Tensor, test_uids: list[str], what: str) -> None:
    bad = (~torch.isfinite(values)).reshape(values.shape[0], -1).any(dim=1).nonzero().squeeze(1).tolist()
    if bad:
        raise NumericalError(
            f"{what} overflowed to inf/NaN for test example(s) {[test_uids[i] for i in bad[:5]]}: the gradients are "
            "too large for the compute dtype; set scoring.dtype: float64"
        )


def group_by_checkpoint(paths: Sequence) -> dict[int, list[str]]:
    """{epoch: [paths]} for gradient shard files, by the epoch in each file's metadata, order kept.

    For callers that get one flat list of files (a Snakemake rule's input)."""
    out: dict[int, list[str]] = {}
    for path in paths:
        out.setdefault(int(read_grad_metadata(path)["checkpoint"]), []).append(str(path))
    return out


def as_path_lists(paths_by_checkpoint: Mapping) -> dict:
    """{epoch: path or [paths]} -> {epoch: [paths]}"""
    return {
        key: list(paths) if isinstance(paths, (list, tuple)) else [paths] for key, paths in paths_by_checkpoint.items()
    }


def score_shard(train_paths: Mapping, test_paths: Mapping, cfg: Mapping) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Score one training shard against every test example, at every checkpoint.

    ``train_paths``: {epoch: path} (the shard of the train split at each checkpoint: the same examples
    at each); ``test_paths``: {epoch: [paths]} (all test shards, concatenated in the given order).
    ``cfg``: top_k, variants, chunk_size, device ('cpu', 'cuda', 'auto'), dtype ('float32', 'float64');
    other keys are ignored. Returns the shard's (topk, lang_scores) tables; see merge.py for their columns.
    """
    from lingtrace.device import resolve_device

    cfg = scoring_settings(cfg)
    device, dtype = resolve_device(cfg["device"]), DTYPES[cfg["dtype"]]
    train = load_split(as_path_lists(train_paths), "train", sort_by_uid=True)
    test = load_split(as_path_lists(test_paths), "test", sort_by_uid=False)
    check_pairing(train, test)
    etas = torch.tensor(train.etas, dtype=torch.float64)
    test_vectors = torch.from_numpy(test.vectors).to(device, dtype)
    train_vectors = torch.from_numpy(train.vectors)
    if device.type == "cuda":
        train_vectors = train_vectors.pin_memory()

    started = time.perf_counter()
    side = prepare_test(test_vectors, etas)
    top = top_k_scores(side, train_vectors, cfg["top_k"], cfg["variants"], cfg["chunk_size"])
    lang_names = sorted(set(train.langs))
    lang_ids = torch.tensor([lang_names.index(lang) for lang in train.langs], dtype=torch.int64)
    sums = language_sums(
        test_vectors, etas, train_vectors, lang_ids, len(lang_names), cfg["variants"], cfg["chunk_size"]
    )
    log.info("scored %d train x %d test examples at %d checkpoints on %s in %.1fs",
             len(train.uids), len(test.uids), len(train.checkpoints), device, time.perf_counter() - started)

    for (slot, variant, direction), (values, _) in top.items():
        check_scores_finite(values, test.uids, f"{variant} scores")
    for (slot, variant), values in sums.items():
        check_scores_finite(values, test.uids, f"{variant} language sums")
    labels = {**dict(enumerate(train.checkpoints)), ALL: ALL}
    n_train = np.bincount(lang_ids.numpy(), minlength=len(lang_names))
    return topk_table(top, labels, train, test), lang_table(sums, labels, lang_names, n_train, test)


def topk_table(top: Mapping, labels: Mapping, train: Split, test: Split) -> pl.DataFrame:
    """The running top-k results as rows of the topk contract."""
    parts = []
    for (slot, variant, direction), (values, positions) in top.items():
        n_test, k = values.shape
        parts.append(
            pl.DataFrame(
                {
                    "test_row": np.repeat(np.arange(n_test), k),
                    "rank": np.tile(np.arange(1, k + 1), n_test),
                    "train_row": positions.cpu().numpy().reshape(-1),
                    # + 0.0 turns -0.0 into 0.0, so equal scores compare equal in every sort downstream.
                    "score": values.cpu().numpy().astype(np.float64).reshape(-1) + 0.0,
                }
            ).with_columns(checkpoint=pl.lit(labels[slot]), variant=pl.lit(variant), direction=pl.lit(direction))
        )
    if not parts:
        return pl.DataFrame(schema=TOPK_SCHEMA)
    df = pl.concat(parts)
    test_uids, test_langs = pl.Series(test.uids, dtype=pl.String), pl.Series(test.langs, dtype=pl.String)
    train_uids, train_langs = pl.Series(train.uids, dtype=pl.String), pl.Series(train.langs, dtype=pl.String)
    df = df.with_columns(
        test_uid=test_uids.gather(df["test_row"]),
        test_lang=test_langs.gather(df["test_row"]),
        train_uid=train_uids.gather(df["train_row"]),
        train_lang=train_langs.gather(df["train_row"]),
    )
    return df.select([pl.col(name).cast(dtype) for name, dtype in TOPK_SCHEMA.items()])


def lang_table(sums: Mapping, labels: Mapping, lang_names: list[str], n_train: np.ndarray, test: Split) -> pl.DataFrame:
    """The per-language sums as rows of the lang_scores contract."""
    parts = []
    n_langs = len(lang_names)
    for (slot, variant), values in sums.items():
        n_test = values.shape[0]
        parts.append(
            pl.DataFrame(
                {
                    "test_row": np.repeat(np.arange(n_test), n_langs),
                    "train_lang": np.tile(np.array(lang_names, dtype=object), n_test).astype(str),
                    "score_sum": values.cpu().numpy().reshape(-1) + 0.0,
                    "n_train": np.tile(n_train, n_test).astype(np.int64),
                }
            ).with_columns(checkpoint=pl.lit(labels[slot]), variant=pl.lit(variant))
        )
    if not parts or not n_langs:
        return pl.DataFrame(schema=LANG_SCHEMA)
    df = pl.concat(parts)
    df = df.with_columns(
        test_uid=pl.Series(test.uids, dtype=pl.String).gather(df["test_row"]),
        test_lang=pl.Series(test.langs, dtype=pl.String).gather(df["test_row"]),
    )
    return df.select([pl.col(name).cast(dtype) for name, dtype in LANG_SCHEMA.items()])


def write_table(df: pl.DataFrame, path) -> None:
    """Write an influence table atomically (a killed job leaves no file that looks complete)."""
    with atomic_path(path) as tmp:
        df.write_parquet(tmp, compression="zstd", statistics=True)


def score_shard_files(train_paths: Mapping, test_paths: Mapping, cfg: Mapping, out_topk, out_lang) -> None:
    """``score_shard`` and write its two tables (the score_shard rule's job)."""
    topk, lang = score_shard(train_paths, test_paths, cfg)
    write_table(topk, out_topk)
    write_table(lang, out_lang)


# --- benchmark ------------------------------------------------------------------------------------
