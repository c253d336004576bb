"""Projections: shared by train and test, unbiased, exact where they claim to be, rank-preserving."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

import lingtrace.tracin.projection as projection
from lingtrace.batching import encode
from lingtrace.errors import ConfigError
from lingtrace.tracin.gradients import compute_gradients, select_layers
from lingtrace.io.checkpoints import load_checkpoint
from lingtrace.tracin.projection import LayerShape, Projector, build_projector, gaussian_matrix
from lingtrace import settings

from conftest import checkpoint_dirs

DEFAULT_LAYERS = settings.load("gradients").layers  # the schema's default

LINEAR = LayerShape("enc.linear", "linear", n_in=41, n_out=30, bias=True)  # in_features 40, plus the bias column
EMBEDDING = LayerShape("enc.embedding", "embedding", n_in=50, n_out=24, padding_idx=1)


def synthetic_inputs(shape: LayerShape, batch=2, tokens=6, seed=0):
    """(layer input, output gradient) for ``batch`` examples of ``tokens`` tokens, float64."""
    gen = torch.Generator().manual_seed(seed)
    if shape.module == "embedding":
        x = torch.randint(0, shape.n_in, (batch, tokens), generator=gen)
    else:
        x = torch.randn(batch, tokens, shape.n_in - int(shape.bias), generator=gen, dtype=torch.float64)
    return x, torch.randn(batch, tokens, shape.n_out, generator=gen, dtype=torch.float64)


def layer_vectors(kind: str, shape: LayerShape, x, g, dim=None, seed=0) -> torch.Tensor:
    """(B, d) vectors of one synthetic layer under a projection kind."""
    proj = Projector(kind, [shape], dim, seed).to("cpu", torch.float64)
    layer = proj.layers[shape.name]
    return proj.assemble([layer.combine(layer.activations(x), layer.gradients(g))])


def exact_matrix(shape: LayerShape, x, g) -> torch.Tensor:
    """(B, n_out, n_in) per-example gradient written out by hand: sum_t g_t ⊗ a_t."""
    if shape.module == "embedding":
        a = torch.nn.functional.one_hot(x, shape.n_in).double()
        a[x == shape.padding_idx] = 0
    else:
        a = torch.cat([x, torch.ones(*x.shape[:-1], 1, dtype=x.dtype)], -1)
    return torch.einsum("bto,bti->boi", g, a)


@pytest.mark.parametrize("shape", [LINEAR, EMBEDDING], ids=["linear", "embedding"])
def test_exact_layer_is_the_outer_product_sum(shape):
    x, g = synthetic_inputs(shape)
    if shape.module == "embedding":
        x[0, 0] = shape.padding_idx  # a padding-row token gets no gradient
    expected = exact_matrix(shape, x, g).reshape(2, -1)
    torch.testing.assert_close(layer_vectors("none", shape, x, g), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [LINEAR, EMBEDDING], ids=["linear", "embedding"])
def test_logra_equals_projecting_the_exact_gradient(shape):
    """Projecting before the outer product gives P_out^T G P_in, the projection of the full G."""
    x, g = synthetic_inputs(shape)
    p_in = gaussian_matrix(shape.n_in, 8, 8, 0, shape.name, "in").double()
    p_out = gaussian_matrix(shape.n_out, 8, 8, 0, shape.name, "out").double()
    expected = (p_out.T @ exact_matrix(shape, x, g) @ p_in).reshape(2, -1)
    torch.testing.assert_close(layer_vectors("logra", shape, x, g, dim=8), expected, rtol=1e-10, atol=1e-12)


def test_logra_keeps_small_sides_exact():
    small_out = LayerShape("head.out_proj", "linear", n_in=41, n_out=3, bias=True)
    proj = Projector("logra", [small_out, LINEAR], 16, seed=0)
    assert proj.layers["head.out_proj"].dims == (3, 16)
    assert proj.layers["head.out_proj"].p_out is None
    assert proj.total_dim == 3 * 16 + 16 * 16
    x, g = synthetic_inputs(LINEAR)
    wide = max(LINEAR.n_in, LINEAR.n_out)  # a rank no smaller than either side: the identity on both
    torch.testing.assert_close(layer_vectors("logra", LINEAR, x, g, dim=wide), layer_vectors("none", LINEAR, x, g))


def test_gaussian_blocks_make_one_dense_projection(monkeypatch):
    """Chunked generation (several blocks per layer, layers summed) equals one explicit N(0, 1/dim) matrix."""
    monkeypatch.setattr(projection, "GAUSSIAN_BLOCK_ENTRIES", 7 * 64)  # 7 rows per block
    dim, other = 64, LayerShape("enc.other", "linear", n_in=9, n_out=5, bias=True)
    proj = Projector("gaussian", [LINEAR, other], dim, seed=3).to("cpu", torch.float64)
    inputs = {LINEAR.name: synthetic_inputs(LINEAR, seed=1), other.name: synthetic_inputs(other, seed=2)}
    parts, explicit = [], []
    for shape in (LINEAR, other):
        layer, (x, g) = proj.layers[shape.name], inputs[shape.name]
        parts.append(layer.combine(layer.activations(x), layer.gradients(g)))
        size = shape.n_in * shape.n_out
        blocks = [gaussian_matrix(min(7, size - s), dim, dim, 3, shape.name, "gaussian", i)
                  for i, s in enumerate(range(0, size, 7))]
        explicit.append(exact_matrix(shape, x, g).reshape(2, -1) @ torch.cat(blocks).double())
    torch.testing.assert_close(proj.assemble(parts), sum(explicit), rtol=1e-10, atol=1e-12)


def test_same_config_same_matrices_in_another_process():
    here = Projector("logra", [LINEAR], 8, seed=5).layers[LINEAR.name]
    again = Projector("logra", [LINEAR], 8, seed=5).layers[LINEAR.name]
    assert torch.equal(here.p_in, again.p_in) and torch.equal(here.p_out, again.p_out)
    code = (
        "import torch; from lingtrace.tracin.projection import Projector, LayerShape; "
        "s = LayerShape('enc.linear', 'linear', n_in=41, n_out=30, bias=True); "
        "l = Projector('logra', [s], 8, seed=5).layers[s.name]; "
        "print(repr(float(l.p_in.double().sum())), repr(float(l.p_out.double().square().sum())))"
    )
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert [float(v) for v in printed] == [float(here.p_in.double().sum()), float(here.p_out.double().square().sum())]
    other = Projector("logra", [LINEAR], 8, seed=6).layers[LINEAR.name]
    assert not torch.equal(here.p_in, other.p_in)


@pytest.mark.parametrize(("kind", "small", "large", "draws"), [("logra", 4, 32, 300), ("gaussian", 64, 1024, 50)])
def test_projected_dot_products_are_unbiased_and_sharpen_with_dim(kind, small, large, draws):
    """E<Pg, Pg'> = <g, g'>, and the error shrinks as the dimension grows (about 1/sqrt(dim))."""
    x, g = synthetic_inputs(LINEAR, seed=4)
    exact = layer_vectors("none", LINEAR, x, g)
    true_dot, scale = float(exact[0] @ exact[1]), float(exact[0].norm() * exact[1].norm())

    def draws_at(dim):
        return np.array([float(v[0] @ v[1]) for v in (layer_vectors(kind, LINEAR, x, g, dim, s) for s in range(draws))])

    errors = {}
    for dim in (small, large):
        dots = draws_at(dim)
        assert abs(dots.mean() - true_dot) < 4 * dots.std() / np.sqrt(draws)
        errors[dim] = np.sqrt(np.mean((dots - true_dot) ** 2)) / scale
    assert errors[large] < 0.5 * errors[small]


def test_projector_metadata_and_config_errors():
    proj = Projector("logra", [LINEAR, EMBEDDING], 8, seed=2)
    meta = proj.metadata()
    assert meta["kind"] == "logra" and meta["seed"] == 2 and meta["dim"] == 8
    assert [(m["name"], m["shape"], m["dims"]) for m in meta["layers"]] == [
        ("enc.linear", [30, 41], [8, 8]), ("enc.embedding", [24, 50], [8, 8])]
    assert meta["total_dim"] == proj.total_dim == 128
    assert Projector("gaussian", [LINEAR, EMBEDDING], 100, seed=0).total_dim == 100
    assert Projector("none", [LINEAR], None, seed=0).total_dim == 30 * 41
    with pytest.raises(ConfigError, match="gradients.projection"):
        Projector("sjlt", [LINEAR], 8, seed=0)
    with pytest.raises(ConfigError, match="gradients.dim"):
        Projector("logra", [LINEAR], 0, seed=0)


# --- rank agreement with exact TracIn on a fine-tuned tiny model -------------------------------------

# conftest's FINETUNE (3-label tiny task) with 10x its learning rate and 4 epochs.
TRAIN_HARD = {"epochs": 4, "batch_size": 8, "eval_batch_size": 32, "learning_rate": 0.05, "weight_decay": 0.01,
              "warmup_ratio": 0.1, "scheduler": "linear", "max_grad_norm": 1.0, "max_length": 48}


@pytest.fixture(scope="module")
def trained_checkpoints(tmp_path_factory, tiny_model_dir, tiny_data):
    """The last two checkpoints of a tiny run trained hard enough for its examples' gradients to differ.

    The session's tiny_checkpoints move so little from the random head (12 steps at lr 0.005) that
    every example of a label has nearly the same gradient: exact scores are near-ties inside each
    (train label, test label) block, and a rank correlation over them measures only projection noise
    (0.5-0.93 across seeds for either projection). Ten times the learning rate separates them.
    """
    from lingtrace.finetuning.trainer import finetune

    run_dir = tmp_path_factory.mktemp("trained-run")
    finetune(tiny_data[0], tiny_model_dir, checkpoint_dirs(run_dir, TRAIN_HARD["epochs"]), TRAIN_HARD, num_labels=3, seed=0)
    return [run_dir / "checkpoints" / f"epoch-{epoch}" for epoch in (3, 4)]


def tracin_scores(checkpoints, tiny_data, kind, dim=None, seed=0, test_seed=None) -> np.ndarray:
    """(n_train, n_test) sum over checkpoints of eta_c <g_train, g_test>; test_seed projects test differently."""
    train, test = tiny_data
    scores = 0.0
    for path in checkpoints:
        model, tokenizer, trace = load_checkpoint(path)
        layers = select_layers(model, DEFAULT_LAYERS)

        def grads(table, s):
            proj = build_projector(kind, layers, dim, s)
            return compute_gradients(model, encode(table, tokenizer, TRAIN_HARD["max_length"]), layers, proj, 64).grads

        g_train, g_test = grads(train, seed), grads(test, seed if test_seed is None else test_seed)
        scores = scores + trace["mean_lr"] * (g_train.astype(np.float64) @ g_test.T.astype(np.float64))
    return scores


@pytest.fixture(scope="module")
def exact_scores(trained_checkpoints, tiny_data):
    return tracin_scores(trained_checkpoints, tiny_data, "none")


@pytest.mark.parametrize("kind", ["logra", "gaussian"])
def test_projected_scores_rank_like_exact_ones(kind, trained_checkpoints, tiny_data, exact_scores):
    projected = tracin_scores(trained_checkpoints, tiny_data, kind, settings.load("gradients", {"projection": kind}).dim)
    assert spearmanr(projected.ravel(), exact_scores.ravel()).statistic >= 0.9


def test_mismatched_train_and_test_projections_lose_the_ranking(trained_checkpoints, tiny_data, exact_scores):
    """The agreement above needs train and test to share one projection: different seeds fall below the bar."""
    mixed = tracin_scores(trained_checkpoints, tiny_data, "logra", settings.load("gradients").dim, seed=0, test_seed=1)
    assert spearmanr(mixed.ravel(), exact_scores.ravel()).statistic < 0.9


@pytest.mark.parametrize("kind", ["none", "logra", "gaussian"])
@pytest.mark.parametrize("shape", [LINEAR, EMBEDDING], ids=["linear", "embedding"])
@pytest.mark.parametrize("tokens", [1, 6])
@pytest.mark.parametrize("direct_mm_entries", [1 << 30, 1], ids=["bmm", "mm-per-example"])
def test_write_into_strided_rows_equals_combine_of_the_masked_input(kind, shape, tokens, direct_mm_entries, monkeypatch):
    """The fast path (``write``: into a row-strided view, padding masked on the smaller side, the bias
    column appended once) against its slow twin (``combine`` of the explicitly masked gradients)."""
    monkeypatch.setattr(projection, "DIRECT_MM_ENTRIES", direct_mm_entries)
    x, g = synthetic_inputs(shape, batch=3, tokens=tokens, seed=5)
    mask = torch.ones(3, tokens, 1, dtype=torch.float64)
    if tokens > 1:  # (a per-example input, one token, has no padding)
        mask[0, tokens // 2 :] = 0.0  # the first example padded
    proj = Projector(kind, [shape], 8 if kind != "gaussian" else 16, seed=2).to("cpu", torch.float64)
    layer = proj.layers[shape.name]
    a, gp = layer.activations(x), layer.gradients(g)
    expected = layer.combine(a, layer.gradients(g * mask))
    rows = torch.full((3, layer.dim + 7), float("nan"), dtype=torch.float64)  # other columns stay untouched
    out = rows[:, 3 : 3 + layer.dim]
    if kind == "gaussian":
        out.zero_()
    layer.write(a, gp, mask if tokens > 1 else None, out, {})
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    assert rows[:, :3].isnan().all() and rows[:, 3 + layer.dim :].isnan().all()
