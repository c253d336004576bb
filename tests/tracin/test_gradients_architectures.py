"""The per-example gradient oracle, over architectures from transformers (as Kronfluence runs its
per-sample-gradient tests over several): hook gradients of every Linear layer and of the token
embeddings equal one backward per unpadded example in float64, through each of the write paths;
logra and gaussian vectors equal the projection of those exact gradients."""

import numpy as np
import pytest
import torch

from lingtrace.batching import Encoded
from lingtrace.tracin import projection
from lingtrace.tracin.gradients import compute_gradients, select_layers
from lingtrace.tracin.projection import build_projector

from gradient_oracle import per_example_backward

VOCAB, MAX_TOKENS = 50, 12


def xlm_roberta():
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    config = XLMRobertaConfig(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                              intermediate_size=24, max_position_embeddings=MAX_TOKENS + 2, num_labels=3,
                              pad_token_id=1, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)  # fmt: skip
    return XLMRobertaForSequenceClassification(config), 1, r"^(roberta\.encoder\..*|classifier\..*|roberta\.embeddings\.word_embeddings)$"


def bert():
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=24, max_position_embeddings=MAX_TOKENS, num_labels=3, pad_token_id=0,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)  # fmt: skip
    # BERT's pooler (a per-example input) and its token-type embedding are traced too
    pattern = r"^(bert\.encoder\..*|bert\.pooler\.dense|classifier|bert\.embeddings\.(word|token_type)_embeddings)$"
    return BertForSequenceClassification(config), 0, pattern


ARCHITECTURES = {"xlm-roberta": xlm_roberta, "bert": bert}


def examples(pad_id: int, n=9, seed=0) -> Encoded:
    """Token ids of different lengths (batches are padded), none of them the padding id."""
    rng = np.random.default_rng(seed)
    ids = [[int(t) for t in rng.integers(pad_id + 1, VOCAB, rng.integers(3, MAX_TOKENS + 1))] for _ in range(n)]
    return Encoded([f"u{i}" for i in range(n)], ["x"] * n, [str(i) for i in range(n)],
                   [int(x) for x in rng.integers(0, 3, n)], ids)  # fmt: skip


@pytest.fixture(params=list(ARCHITECTURES), scope="module")
def architecture(request):
    torch.manual_seed(0)
    model, pad_id, pattern = ARCHITECTURES[request.param]()
    model = model.double().eval()
    encoded = examples(pad_id)
    layers = select_layers(model, pattern)
    return model, encoded, layers, per_example_backward(model, encoded, layers)


# the write paths of projection.outer_sums: a bmm and a copy; one gemm per example into its row
@pytest.mark.parametrize("direct_mm_entries", [1 << 30, 1], ids=["bmm", "mm-per-example"])
def test_hooks_equal_a_per_example_backward_loop(architecture, direct_mm_entries, monkeypatch):
    model, encoded, layers, looped = architecture
    monkeypatch.setattr(projection, "DIRECT_MM_ENTRIES", direct_mm_entries)
    assert any(isinstance(m, torch.nn.Embedding) for m in layers.values()) and len(layers) > 10
    hooked = compute_gradients(model, encoded, layers, build_projector("none", layers, None, 0), batch_size=4,
                               dtype=torch.float64)  # fmt: skip
    assert hooked.grads.shape == looped.shape
    assert np.abs(looped).max() > 0
    assert np.abs(hooked.grads - looped).max() <= 1e-9 * np.abs(looped).max()
    np.testing.assert_allclose(hooked.norms, np.linalg.norm(looped, axis=1), rtol=1e-9)


@pytest.mark.parametrize("kind", ["logra", "gaussian"])
def test_projected_vectors_are_the_projection_of_the_exact_gradients(architecture, kind):
    model, encoded, layers, looped = architecture
    dim = 4 if kind == "logra" else 32
    projector = build_projector(kind, layers, dim, seed=3)
    hooked = compute_gradients(model, encoded, layers, projector, batch_size=4, dtype=torch.float64).grads
    expected, start = [], 0
    for name, layer in projector.layers.items():
        exact = layer.exact if kind == "gaussian" else layer
        size = exact.shape.n_out * exact.shape.n_in
        g = torch.from_numpy(looped[:, start : start + size]).reshape(-1, exact.shape.n_out, exact.shape.n_in)
        start += size
        if kind == "logra":
            p_out = torch.eye(exact.shape.n_out) if layer.p_out is None else layer.p_out
            p_in = torch.eye(exact.shape.n_in) if layer.p_in is None else layer.p_in
            expected.append((p_out.double().T @ g @ p_in.double()).reshape(len(g), -1))
        else:
            out = torch.zeros(len(g), dim, dtype=torch.float64)
            layer.project(g.reshape(len(g), -1), out)
            expected.append(out)
    want = torch.cat(expected, dim=1) if kind == "logra" else sum(expected)
    np.testing.assert_allclose(hooked, want.numpy(), rtol=1e-9, atol=1e-11 * np.abs(want.numpy()).max())
