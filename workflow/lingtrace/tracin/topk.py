"""Exact streaming top-k over score blocks: the best k training rows of every test row, with ties
broken by the smaller training position (so chunked and sharded runs give what one unsharded run gives).

On the CPU the selection goes through numpy on zero-copy views: its partition and argpartition are
several times faster than torch's CPU topk, its ops release the GIL (so the lists of a chunk are updated
in threads), and each torch CPU op pays an OpenMP fork/join that costs more than the small operations
here (far more on a busy machine). On CUDA they are torch ops.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import torch

from lingtrace.tracin.kernel import (
    ALL,
    TestSide,
    Workspace,
    checkpoint_sum,
    chunk_dots,
    cosine_block,
    inverse_norms,
    on_host,
    score_blocks,
)

DIRECTIONS = {"proponent": True, "opponent": False}  # direction -> rank the largest scores first


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
COMPARE = {(True, False): np.greater, (True, True): np.greater_equal, (False, False): np.less,
           (False, True): np.less_equal}  # (largest, inclusive) -> "better than the threshold"


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
    a = values.numpy()
    flat = np.flatnonzero(COMPARE[largest, inclusive](a, threshold[:, None]))  # row-major
    rows = flat // max(a.shape[1], 1)
    found = a.reshape(-1).take(flat)
    if isinstance(positions, int):
        where = flat - rows * a.shape[1] + positions
    else:
        where = positions.numpy().reshape(-1).take(flat)
    return pack_rows(rows, found, where, a.shape[0], largest, a.dtype)


def pack_rows(rows: np.ndarray, values: np.ndarray, positions: np.ndarray, n_rows: int, largest: bool, dtype,
              ordered: bool = False) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Entries given as (row, value, position) triples -> (values, positions), each (n_rows, w), w the
    largest count in a row; shorter rows padded with the worst value at position PADDING. ``ordered``:
    the rows are already non-decreasing."""
    counts = np.bincount(rows, minlength=n_rows)
    width = int(counts.max()) if len(rows) else 0
    order = slice(None) if ordered else np.argsort(rows, kind="stable")
    starts = np.cumsum(counts) - counts
    # the i-th entry of a row goes to slot (row * width + i) of the (n_rows, width) output
    slots = np.arange(len(rows)) + np.repeat(np.arange(n_rows) * width - starts, counts)
    out_values = np.full(n_rows * width, -np.inf if largest else np.inf, dtype=dtype)
    out_positions = np.full(n_rows * width, PADDING, dtype=np.int64)
    out_values[slots] = values[order]
    out_positions[slots] = positions[order]
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
        self.fold(*self.candidates(block, offset))

    def fold(self, values: torch.Tensor, positions: torch.Tensor) -> None:
        """Add candidates (N, w) found in a chunk (any entries that may be among the best k, padded as
        entries_beyond pads), the chunks in position order."""
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


@contextmanager
def torch_threads(n: int):
    """torch's intra-op thread count set to ``n`` inside the block (restored after)."""
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n != before:
            torch.set_num_threads(before)


def top_k_scores(
    test: TestSide,
    train: torch.Tensor | Sequence[torch.Tensor],
    k: int,
    variants: Sequence[str],
    chunk_size: int,
    threads: int | None = None,
) -> dict[tuple[int | str, str, str], tuple[torch.Tensor, torch.Tensor]]:
    """Top-k proponents and opponents of every test row, per checkpoint and for ALL, per variant.

    ``train`` ((C, n, k), or C tensors (n, k)) may live on the CPU: it is moved to the test side's
    device and dtype one chunk of ``chunk_size`` rows at a time. Memory is bounded by the chunk, not by
    n: the score blocks take C * N * chunk_size values on the CPU, (2C + 2) * N * chunk_size on CUDA.
    Returns {(slot, variant, direction): (scores (N, k'), train positions (N, k'))}, rank 1 first,
    k' = min(k, n); positions index the rows of ``train``.

    On the CPU the matmuls run with torch's threads; then ``threads`` worker threads (default: torch's
    thread count) each take a range of test rows and work through it in slabs that stay in cache: the
    cosine and summed blocks are derived slab by slab, searched for candidates, and folded into that
    range's own lists (numpy, one thread each: torch's small threaded ops stall on a busy machine).
    """
    device, dtype = test.scaled.device, test.scaled.dtype
    n_ckpt, n_train = len(train), train[0].shape[0]
    if n_train == 0:  # an empty training shard has no influencers
        return {}
    lists = {
        (slot, variant, direction): RunningTopK(k, largest)
        for variant in variants
        for slot in [*range(n_ckpt), ALL]
        for direction, largest in DIRECTIONS.items()
    }
    workspace = Workspace()
    if not on_host(test.scaled):
        for start in range(0, n_train, chunk_size):
            chunk = [part[start : start + chunk_size].to(device, dtype, non_blocking=True) for part in train]
            for slot, variant, block in score_blocks(test, chunk, variants, workspace):
                for direction in DIRECTIONS:
                    lists[(slot, variant, direction)].update(block, start)
        return {key: top.result() for key, top in lists.items()}
    workers = threads or torch.get_num_threads()
    parts = row_parts(test.scaled.shape[1], workers)
    # each row range has lists of its own, so the tasks of a chunk share nothing they write
    by_part = [{(slot, variant, direction): RunningTopK(k, largest) for slot, variant, direction in lists
                for largest in [DIRECTIONS[direction]]} for _ in parts]  # fmt: skip
    inv_test = test.inv_norms.numpy()
    with ThreadPoolExecutor(workers) as pool:
        for start in range(0, n_train, chunk_size):
            chunk = [part[start : start + chunk_size].to(device, dtype) for part in train]
            shape = (n_ckpt, test.scaled.shape[1], chunk[0].shape[0])
            dots = chunk_dots(test, chunk, workspace.get("dots", shape, test.scaled)).numpy()
            inv_train = [inverse_norms(part).numpy() for part in chunk] if "cosine" in variants else None
            with torch_threads(1):
                tasks = [
                    pool.submit(fold_rows, {(slot, direction): mine[(slot, v, direction)] for slot, v, direction in mine
                                            if v == variant}, rows, variant, dots, inv_train, inv_test, start, k)
                    for variant in variants for rows, mine in zip(parts, by_part)
                ]  # fmt: skip
                for task in tasks:  # all done (errors raised) before the next chunk overwrites the blocks
                    task.result()
        with torch_threads(1):
            results = [dict(zip(mine, pool.map(RunningTopK.result, mine.values()))) for mine in by_part]
    return {key: concat_rows([result[key] for result in results]) for key in lists}


# Rows per slab of a block on the CPU: about this many entries, so that a slab of every block of a chunk
# stays in the core's cache while it is derived, compared and searched.
SLAB_ENTRIES = 1 << 18


def row_parts(n_rows: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous (start, stop) ranges of near-equal size covering 0..n_rows-1 (none empty)."""
    parts = max(1, min(parts, n_rows))
    return [(i * n_rows // parts, (i + 1) * n_rows // parts) for i in range(parts)]


def slab_candidates(a: np.ndarray, threshold: np.ndarray | None, k: int, largest: bool, mask: np.ndarray):
    """(flat indices, values) of the entries of ``a`` (R, n) that may be among its rows' best k, in row
    order: those better than ``threshold`` (R,), or, without one (a list's first chunk), those at least
    as good as the slab's group_threshold (all of a row's first k where n <= 2k). ``mask``: a boolean
    buffer of at least R * n entries, reused (a fresh one per call costs page faults)."""
    n_rows, n = a.shape
    if threshold is None and n <= 2 * k:
        values, columns = first_k(torch.from_numpy(a), k, largest)
        flat = (columns.numpy() + np.arange(n_rows)[:, None] * n).reshape(-1)
        return flat, values.numpy().reshape(-1)
    inclusive = threshold is None
    if inclusive:
        threshold = group_threshold(torch.from_numpy(a), k, largest)
    hits = COMPARE[largest, inclusive](a, threshold[:, None], out=mask[: a.size].reshape(a.shape))
    flat = np.flatnonzero(hits)
    return flat, a.reshape(-1).take(flat)


def fold_rows(lists: dict, rows: tuple[int, int], variant: str, dots: np.ndarray, inv_train, inv_test,
              start: int, k: int) -> None:  # fmt: skip
    """Fold one chunk's ``variant`` blocks, for test rows ``rows``, into ``lists`` ({(slot, direction):
    RunningTopK of these rows}), slab by slab: each slab's blocks (dot per checkpoint, or cosine
    derived from it, and their checkpoint sum) are derived and searched while in cache."""
    n_ckpt, _, n = dots.shape
    first, stop = rows
    height = max(1, SLAB_ENTRIES // n)
    buffers = np.empty((n_ckpt + 1, min(height, stop - first), n), dtype=dots.dtype)
    mask = np.empty(min(height, stop - first) * n, dtype=bool)
    found = {key: [] for key in lists}
    for lo in range(first, stop, height):
        hi = min(lo + height, stop)
        if variant == "dot":
            blocks = [dots[c, lo:hi] for c in range(n_ckpt)]
        else:  # as kernel.cosine_block, the same operations in the same order
            blocks = [buffers[c, : hi - lo] for c in range(n_ckpt)]
            for c, block in enumerate(blocks):
                np.multiply(dots[c, lo:hi], inv_train[c], out=block)
                np.multiply(block, inv_test[c, lo:hi, None], out=block)
        total = blocks[0]
        if n_ckpt > 1:  # as kernel.checkpoint_sum
            total = np.add(blocks[0], blocks[1], out=buffers[n_ckpt, : hi - lo])
            for block in blocks[2:]:
                np.add(total, block, out=total)
        for slot, block in [*enumerate(blocks), (ALL, total)]:
            for direction, largest in DIRECTIONS.items():
                top = lists[(slot, direction)]
                threshold = None if top.threshold is None else top.threshold[lo - first : hi - first]
                flat, values = slab_candidates(block, threshold, k, largest, mask)
                found[(slot, direction)].append((flat + (lo - first) * n, values))  # flat in rows first..stop
    for (slot, direction), parts in found.items():
        flat, values = (np.concatenate(column) for column in zip(*parts))
        rows = flat // n
        top = lists[(slot, direction)]
        top.fold(*pack_rows(rows, values, flat - rows * n + start, stop - first, top.largest, dots.dtype, ordered=True))


def concat_rows(parts: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Results of consecutive row ranges (each (rows, k'), on the CPU) stacked into one."""
    return (torch.from_numpy(np.concatenate([values.numpy() for values, _ in parts])),
            torch.from_numpy(np.concatenate([positions.numpy() for _, positions in parts])))  # fmt: skip
