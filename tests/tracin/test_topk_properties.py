"""Property tests: for any scores and any split of the training rows into shards and chunks, the
streaming top-k, its candidate searches and the merge of shards give exactly the brute-force answer
(ties to the smaller position or uid) and the exact per-language sums.

Whole-number scores make every sum exact in any order, so the comparisons are bit for bit, and they
tie often, so the tie-break is exercised on every example.
"""

from unittest import mock

import numpy as np
import polars as pl
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lingtrace.tracin import kernel as kernel_module
from lingtrace.tracin import topk as topk_module
from lingtrace.tracin.kernel import ALL, prepare_test
from lingtrace.tracin.merge import merge_lang, merge_topk
from lingtrace.tracin.score import score_shard
from lingtrace.tracin.topk import (
    DIRECTIONS,
    PADDING,
    RunningTopK,
    entries_beyond,
    first_k,
    top_k_scores,
)

from shard_factory import brute_top_k, dense_scores, expected_tables, write_split

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FILES = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])


@st.composite
def score_rows(draw, max_rows=5, max_cols=90):
    """(N, m) float64 scores: small whole numbers (many ties) or spread-out floats."""
    rows, cols = draw(st.integers(1, max_rows)), draw(st.integers(1, max_cols))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        return rng.integers(-3, 4, (rows, cols)).astype(np.float64)
    return rng.standard_normal((rows, cols))


def brute(values: np.ndarray, k: int, largest: bool, positions: np.ndarray | None = None):
    """Per row, the first k (value, position) pairs: best value first, equal values by smaller position."""
    positions = np.broadcast_to(np.arange(values.shape[1]), values.shape) if positions is None else positions
    out = []
    for row, pos in zip(values, positions):
        pairs = sorted(zip(row.tolist(), pos.tolist()), key=lambda vp: (-vp[0] if largest else vp[0], vp[1]))
        out.append(pairs[:k])
    return out


def as_pairs(values: torch.Tensor, positions: torch.Tensor, ordered: bool):
    rows = []
    for vals, pos in zip(values.tolist(), positions.tolist()):
        pairs = [(v, p) for v, p in zip(vals, pos) if p != PADDING]
        rows.append(pairs if ordered else sorted(pairs, key=lambda vp: vp[1]))
    return rows


@FAST
@given(scores=score_rows(), k=st.integers(1, 12), largest=st.booleans())
def test_first_k_is_the_brute_force_first_k(scores, k, largest):
    values, positions = first_k(torch.from_numpy(scores), k, largest)
    want = [sorted(row, key=lambda vp: vp[1]) for row in brute(scores, k, largest)]
    assert as_pairs(values, positions, ordered=False) == want


@FAST
@given(scores=score_rows(max_cols=200), largest=st.booleans(), inclusive=st.booleans(), offset=st.integers(0, 1000),
       quantile=st.floats(0.0, 1.0), data=st.data())  # fmt: skip
def test_entries_beyond_finds_exactly_the_entries_beyond_the_threshold(scores, largest, inclusive, offset, quantile, data):
    threshold = np.quantile(scores, quantile, axis=1)
    if data.draw(st.booleans()):  # a threshold equal to some entries, to test inclusive
        threshold = scores[np.arange(len(scores)), data.draw(st.integers(0, scores.shape[1] - 1))]
    better = {(True, False): np.greater, (True, True): np.greater_equal, (False, False): np.less,
              (False, True): np.less_equal}[largest, inclusive]  # fmt: skip
    want = [sorted((float(v), j + offset) for j, v in enumerate(row) if better(v, t)) for row, t in zip(scores, threshold)]
    values, positions = entries_beyond(torch.from_numpy(scores), threshold, largest, offset, inclusive)
    assert [sorted(row) for row in as_pairs(values, positions, ordered=False)] == want
    padding = positions == PADDING
    assert (values[padding] == (-np.inf if largest else np.inf)).all()


@st.composite
def chunkings(draw, n: int):
    """Sorted cut points splitting 0..n into consecutive chunks of any sizes."""
    cuts = draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=6, unique=True)) if n > 1 else []
    return [0, *sorted(c for c in cuts if 0 < c < n), n]


@FAST
@given(scores=score_rows(max_cols=150), k=st.integers(1, 15), largest=st.booleans(), spare=st.integers(1, 4),
       data=st.data())  # fmt: skip
def test_running_top_k_over_any_chunking_is_the_brute_force_top_k(scores, k, largest, spare, data):
    cuts = data.draw(chunkings(scores.shape[1]))
    top = RunningTopK(k, largest, spare=spare)
    for start, stop in zip(cuts[:-1], cuts[1:]):
        top.update(torch.from_numpy(np.ascontiguousarray(scores[:, start:stop])), start)
    values, positions = top.result()
    assert as_pairs(values, positions, ordered=True) == brute(scores, k, largest)


@st.composite
def problems(draw, max_ckpt=3, max_train=60, max_test=7):
    """Gradients of a study as whole numbers: exact scores, many ties (duplicated training rows)."""
    n_ckpt, n_train, n_test = draw(st.integers(1, max_ckpt)), draw(st.integers(1, max_train)), draw(st.integers(1, max_test))
    dim = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    train = rng.integers(-2, 3, (n_ckpt, n_train, dim)).astype(np.float32)
    test = rng.integers(-2, 3, (n_ckpt, n_test, dim)).astype(np.float32)
    langs = ("ala", "bea", "cyr")[: draw(st.integers(1, 3))]
    return dict(train=train, test=test, etas=[2.0 ** -(c + 1) for c in range(n_ckpt)],
                train_uids=[f"tr-{(7 * i) % n_train:03d}-{i}" for i in range(n_train)],
                test_uids=[f"te-{i:03d}" for i in range(n_test)],
                train_langs=[langs[int(x)] for x in rng.integers(0, len(langs), n_train)],
                test_langs=[langs[i % len(langs)] for i in range(n_test)])  # fmt: skip


@FAST
@given(p=problems(), k=st.integers(1, 8), chunk=st.integers(1, 70), threads=st.integers(1, 3),
       slab=st.sampled_from([1, 7, 64, 1 << 18]), on_device_path=st.booleans())  # fmt: skip
def test_top_k_scores_are_the_brute_force_top_k_for_any_chunk_slab_and_threads(p, k, chunk, threads, slab, on_device_path):
    side = prepare_test(torch.from_numpy(p["test"]).double(), torch.tensor(p["etas"], dtype=torch.float64))
    host = (lambda t: False) if on_device_path else kernel_module.on_host  # the torch ops used on CUDA, on the CPU
    with mock.patch.object(topk_module, "SLAB_ENTRIES", slab), mock.patch.object(topk_module, "on_host", host), \
            mock.patch.object(kernel_module, "on_host", host):  # fmt: skip
        result = top_k_scores(side, torch.from_numpy(p["train"]), k, ["dot", "cosine"], chunk, threads=threads)
    n_ckpt, n_train = len(p["etas"]), p["train"].shape[1]
    for variant in ("dot", "cosine"):
        dense = dense_scores(p["test"], p["train"], p["etas"], variant, as_kernel=True)
        for slot in [*range(n_ckpt), ALL]:
            scores = dense["all" if slot == ALL else slot]
            for direction, largest in DIRECTIONS.items():
                values, positions = result[(slot, variant, direction)]
                want = brute_top_k(scores, list(range(n_train)), k, largest)
                assert positions.tolist() == want, (slot, variant, direction)
                expected = np.take_along_axis(scores, np.array(want), axis=1)
                assert np.array_equal(values.numpy(), expected)  # the same float64 operations in the same order


@FILES
@given(p=problems(max_train=30, max_test=4), k=st.integers(1, 6), chunk=st.integers(1, 40), data=st.data())
def test_any_split_into_shards_merges_to_the_brute_force_tables(tmp_path_factory, p, k, chunk, data):
    """Score shards holding any partition of the training rows (not only uid blocks), merge them:
    the top-k table and the per-language sums of one brute-force computation."""
    n_train = p["train"].shape[1]
    n_shards = data.draw(st.integers(1, 4))
    owner = np.array(data.draw(st.lists(st.integers(0, n_shards - 1), min_size=n_train, max_size=n_train)))
    root = tmp_path_factory.mktemp("merge")
    test = write_split(root, "test", p["test"], p["test_uids"], p["test_langs"], p["etas"])
    cfg = {"top_k": k, "variants": ["dot", "cosine"], "chunk_size": chunk, "device": "cpu", "dtype": "float64"}
    tables = []
    for shard in range(n_shards):
        rows = np.flatnonzero(owner == shard)
        if not len(rows):
            continue
        paths = write_split(root / f"shard-{shard}", "train", p["train"][:, rows], [p["train_uids"][r] for r in rows],
                            [p["train_langs"][r] for r in rows], p["etas"])  # fmt: skip
        tables.append(score_shard({e: ps[0] for e, ps in paths.items()}, test, cfg))
    topk = merge_topk([t for t, _ in tables], k)
    lang = merge_lang([lg for _, lg in tables])
    want_topk, want_lang = expected_tables(p, k, as_kernel=True)
    assert topk.equals(want_topk)
    # a language without training rows in any shard has no row in either table
    want_lang = want_lang.filter(pl.col("n_train") > 0)
    assert lang.drop("score_sum").equals(want_lang.drop("score_sum"))
    scale = max(1.0, float(np.abs(want_lang["score_sum"]).max()))
    np.testing.assert_allclose(lang["score_sum"], want_lang["score_sum"], rtol=1e-9, atol=1e-9 * scale)
