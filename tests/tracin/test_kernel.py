"""The scoring kernel's building blocks (lingtrace.tracin.kernel), beyond the brute-force comparisons
of tests/tracin/test_score.py: the inverse norm of a zero vector is 0 (not inf), the test side is
scaled by each checkpoint's eta, score_blocks yields every (slot, variant) once in a fixed order with
a zero-gradient training row scoring cosine 0, and the workspace reuses a buffer only when it fits."""

import math

import torch
from lingtrace.tracin.kernel import (
    ALL,
    Workspace,
    checkpoint_sum,
    inverse_norms,
    language_sums,
    prepare_test,
    score_blocks,
)


def test_inverse_norms_are_zero_for_a_zero_vector_and_one_over_the_norm_otherwise():
    vectors = torch.tensor([[[3.0, 4.0], [0.0, 0.0]], [[0.0, -2.0], [1e-30, 0.0]]], dtype=torch.float64)
    inv = inverse_norms(vectors)
    assert inv.shape == (2, 2) and torch.isfinite(inv).all()
    assert inv[:, 0].tolist() == [0.2, 0.5] and inv[0, 1] == 0.0
    assert math.isclose(inv[1, 1].item(), 1e30, rel_tol=1e-15)  # tiny but not zero: a direction


def test_prepare_test_scales_each_checkpoint_by_its_eta_and_keeps_the_dtype():
    test = torch.tensor([[[1.0, 2.0]], [[3.0, 0.0]]], dtype=torch.float32)
    side = prepare_test(test, torch.tensor([0.5, 2.0], dtype=torch.float64))
    assert side.scaled.dtype == torch.float32 and side.scaled.tolist() == [[[0.5, 1.0]], [[6.0, 0.0]]]
    assert torch.allclose(side.inv_norms, torch.tensor([[1 / math.sqrt(5)], [1 / 3]]))  # of the unscaled vectors


def test_score_blocks_yield_each_slot_once_in_order_and_zero_rows_score_cosine_zero():
    torch.manual_seed(0)
    test = torch.randn(2, 3, 4, dtype=torch.float64)
    chunk = torch.randn(2, 5, 4, dtype=torch.float64)
    chunk[:, 1] = 0.0  # a zero training gradient
    etas = torch.tensor([0.25, 0.5], dtype=torch.float64)
    side = prepare_test(test, etas)
    blocks = {}
    order = []
    for slot, variant, block in score_blocks(side, chunk, ["dot", "cosine"]):
        order.append((slot, variant))
        blocks[(slot, variant)] = block.clone()  # buffers are reused within a chunk's workspace
    assert order == [(0, "dot"), (1, "dot"), (ALL, "dot"), (0, "cosine"), (1, "cosine"), (ALL, "cosine")]
    for c in (0, 1):
        assert torch.allclose(blocks[(c, "dot")], etas[c] * test[c] @ chunk[c].T)
        cos = blocks[(c, "cosine")]
        assert (cos[:, 1] == 0).all() and (cos.abs() <= etas[c] + 1e-12).all()
    for variant in ("dot", "cosine"):
        assert torch.equal(blocks[(ALL, variant)], blocks[(0, variant)] + blocks[(1, variant)])
    only_dot = [(slot, variant) for slot, variant, _ in score_blocks(side, chunk, ["dot"])]
    assert only_dot == [(0, "dot"), (1, "dot"), (ALL, "dot")]


def test_checkpoint_sum_adds_in_order_and_passes_a_single_block_through():
    a, b, c = (torch.tensor([x], dtype=torch.float64) for x in (1e16, 1.0, -1e16))
    out = torch.empty(1, dtype=torch.float64)
    assert checkpoint_sum([a, b, c], out).item() == (1e16 + 1.0) - 1e16  # left to right, as the definition
    assert checkpoint_sum([b], out) is b


def test_workspace_reuses_a_buffer_only_for_the_same_shape_dtype_and_device():
    ws = Workspace()
    like = torch.zeros(1, dtype=torch.float32)
    first = ws.get("x", (2, 3), like)
    assert ws.get("x", (2, 3), like) is first
    assert ws.get("x", (3, 2), like) is not first
    wider = ws.get("x", (3, 2), torch.zeros(1, dtype=torch.float64))
    assert wider.dtype == torch.float64 and ws.get("y", (3, 2), like) is not wider


def test_language_sums_give_only_the_variants_asked_for():
    test = torch.ones(2, 1, 3)
    train = torch.tensor([[[1.0, 0, 0], [0, 2.0, 0]], [[0, 0, 3.0], [0, 0, 0]]])
    sums = language_sums(test, torch.tensor([1.0, 0.5]), train, torch.tensor([1, 0]), 2, ["dot"], chunk_size=1)
    assert sorted(sums, key=str) == sorted([(0, "dot"), (1, "dot"), (ALL, "dot")], key=str)
    assert sums[(0, "dot")].dtype == torch.float64
    assert sums[(0, "dot")].tolist() == [[2.0, 1.0]] and sums[(1, "dot")].tolist() == [[0.0, 1.5]]
    assert sums[(ALL, "dot")].tolist() == [[2.0, 2.5]]
