"""Per-example gradients from hooks: exact against a per-example backward loop, invariant, loud on NaN."""

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import torch

from lingtrace.batching import encode
from lingtrace.errors import ConfigError, NumericalError
from lingtrace.tracin.gradients import compute_gradients, dump_gradients, select_layers, shard_rows
from lingtrace.io.checkpoints import load_checkpoint
from lingtrace.tracin.store import grad_schema, read_grad_shard
from lingtrace.tracin.projection import build_projector
from lingtrace import settings

from gradient_oracle import per_example_backward

DEFAULT_LAYERS = settings.load("gradients").layers  # the schema's default

MAX_LENGTH = 48  # conftest's FINETUNE["max_length"], which the tiny checkpoints were trained with
EMBEDDINGS_AND_HEAD = r"roberta\.embeddings\.(word|position)_embeddings|classifier\.out_proj"


@pytest.fixture
def model64(tiny_checkpoints):
    """(model in float64, tokenizer) of the last tiny checkpoint, fresh per test (tests change it)."""
    model, tokenizer, _ = load_checkpoint(tiny_checkpoints[-1], dtype=torch.float64)
    return model, tokenizer


@pytest.fixture(scope="module")
def train_encoded(tiny_data, tiny_checkpoints):
    _, tokenizer, _ = load_checkpoint(tiny_checkpoints[-1])
    return encode(tiny_data[0], tokenizer, MAX_LENGTH)


def grads64(model, encoded, pattern=DEFAULT_LAYERS, kind="logra", batch_size=8, seed=0, dim=None):
    layers = select_layers(model, pattern)
    dim = dim if dim is not None else settings.load("gradients", {"projection": kind}).dim
    proj = build_projector(kind, layers, dim, seed)
    return compute_gradients(model, encoded, layers, proj, batch_size, dtype=torch.float64)


@pytest.mark.parametrize("pattern", [DEFAULT_LAYERS, EMBEDDINGS_AND_HEAD], ids=["encoder+head", "embeddings+out_proj"])
def test_hooks_equal_a_per_example_backward_loop(model64, train_encoded, pattern):
    model, _ = model64
    subset = train_encoded.subset(range(12))  # of different lengths: batches of 5 are padded
    hooked = grads64(model, subset, pattern, kind="none", batch_size=5).grads
    looped = per_example_backward(model, subset, select_layers(model, pattern))
    assert hooked.shape == looped.shape
    assert np.abs(looped).max() > 0
    assert np.abs(hooked - looped).max() <= 1e-9 * np.abs(looped).max()


def test_losses_and_predictions_are_per_example(model64, train_encoded):
    model, _ = model64
    subset = train_encoded.subset(range(6))
    result = grads64(model, subset, batch_size=6)
    model.eval()
    with torch.no_grad():
        for i, ids in enumerate(subset.input_ids):
            logits = model(input_ids=torch.tensor([ids])).logits[0]
            loss = torch.nn.functional.cross_entropy(logits, torch.tensor(subset.labels[i]))
            assert result.losses[i] == pytest.approx(float(loss), rel=1e-10)
            assert result.preds[i] == int(logits.argmax())
    assert result.uids == subset.uids and result.labels == subset.labels and result.langs == subset.langs


def test_padding_does_not_change_an_example(model64, train_encoded):
    model, _ = model64
    by_length = sorted(range(len(train_encoded)), key=lambda i: len(train_encoded.input_ids[i]))
    short, longest = by_length[0], by_length[-3:]
    assert len(train_encoded.input_ids[short]) < len(train_encoded.input_ids[longest[0]])
    alone = grads64(model, train_encoded.subset([short]), batch_size=1).grads[0]
    padded = grads64(model, train_encoded.subset([*longest, short]), batch_size=4).grads[-1]
    np.testing.assert_allclose(padded, alone, rtol=1e-9, atol=1e-12 * np.abs(alone).max())


def test_batch_size_does_not_change_the_vectors(model64, train_encoded):
    model, _ = model64
    subset = train_encoded.subset(range(20))
    reference = grads64(model, subset, batch_size=1).grads
    for batch_size in (7, 64):
        np.testing.assert_allclose(grads64(model, subset, batch_size=batch_size).grads, reference,
                                   rtol=1e-9, atol=1e-12 * np.abs(reference).max())


def test_same_seed_same_vectors_other_seed_other_vectors(model64, train_encoded):
    model, _ = model64
    subset = train_encoded.subset(range(6))
    first, again = grads64(model, subset, seed=1).grads, grads64(model, subset, seed=1).grads
    assert np.array_equal(first, again)
    other = grads64(model, subset, seed=2).grads
    assert first.shape == other.shape and not np.allclose(first, other)


def test_no_weight_gradient_and_backward_stops_at_the_first_traced_layer(model64, train_encoded):
    model, _ = model64
    untraced_output_needs_grad = []
    hook = model.roberta.embeddings.register_forward_hook(
        lambda module, args, output: untraced_output_needs_grad.append(output.requires_grad)
    )
    grads64(model, train_encoded.subset(range(8)))
    hook.remove()
    assert untraced_output_needs_grad == [False]  # the embeddings are not part of the backward graph
    assert all(p.grad is None for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())  # restored after the dump


def test_nan_weight_raises_naming_every_uid(model64, train_encoded):
    model, _ = model64
    with torch.no_grad():
        model.roberta.encoder.layer[1].output.dense.weight[0, 0] = float("nan")
    subset = train_encoded.subset(range(4))
    with pytest.raises(NumericalError, match="non-finite loss for 4 example") as err:
        grads64(model, subset)
    assert all(uid in str(err.value) for uid in subset.uids)


def test_nan_in_one_example_names_only_that_uid(model64, train_encoded):
    """A word embedding used by one example only: that example, and no other, is named."""
    model, _ = model64
    subset = train_encoded.subset(range(16))
    counts = {}
    for ids in subset.input_ids:
        for token in set(ids):
            counts[token] = counts.get(token, 0) + 1
    token = next(t for t, n in counts.items() if n == 1)
    culprit = next(uid for uid, ids in zip(subset.uids, subset.input_ids) if token in ids)
    with torch.no_grad():
        model.roberta.embeddings.word_embeddings.weight[token] = float("nan")
    with pytest.raises(NumericalError, match="1 example") as err:
        grads64(model, subset)
    assert culprit in str(err.value)
    assert not any(uid in str(err.value) for uid in subset.uids if uid != culprit)


def test_layer_selection(model64):
    model, _ = model64
    chosen = select_layers(model, DEFAULT_LAYERS)
    assert "classifier.out_proj" in chosen and "roberta.encoder.layer.0.attention.self.query" in chosen
    assert not any("embeddings" in name for name in chosen)
    assert len(chosen) == 2 * 6 + 2  # 6 Linear per encoder layer, 2 in the head
    with pytest.raises(ConfigError, match=re.escape(r"'nothing\.here' matches no") + r".* roberta\.embeddings"):
        select_layers(model, r"nothing\.here")
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        select_layers(model, "(")


def test_dump_round_trip_and_shards_cover_every_uid_once(tmp_path, tiny_checkpoints, tiny_data):
    train, _ = tiny_data
    checkpoint = tiny_checkpoints[0]
    cfg = {"layers": DEFAULT_LAYERS, "projection": "logra", "dim": 4, "seed": 7, "dtype": "float16", "batch_size": 16}
    for i in range(3):
        dump_gradients(checkpoint, train, cfg, tmp_path / f"shard-{i}.parquet", "train", MAX_LENGTH, shard=i, n_shards=3)
    shards = [read_grad_shard(tmp_path / f"shard-{i}.parquet") for i in range(3)]
    uids = [uid for shard in shards for uid in shard.uids]
    assert uids == sorted(train["uid"].to_pylist())  # contiguous blocks of the uid-sorted table
    assert [len(s) for s in shards] == [16, 16, 16]

    meta = shards[1].metadata
    _, _, trace = load_checkpoint(checkpoint)
    assert meta["checkpoint"] == trace["epoch"] == 1 and meta["eta"] == trace["mean_lr"]
    assert (meta["split"], meta["shard"], meta["n_shards"], meta["dtype"]) == ("train", 1, 3, "float16")
    assert meta["layers"]["pattern"] == DEFAULT_LAYERS and "classifier.out_proj" in meta["layers"]["modules"]
    assert meta["projection"]["kind"] == "logra" and meta["projection"]["seed"] == 7
    assert shards[1].grads.shape == (16, meta["projection"]["total_dim"])

    table = pq.read_table(tmp_path / "shard-1.parquet")
    dim = meta["projection"]["total_dim"]
    assert table.schema.names == grad_schema(1, "float16").names
    assert table.schema.field("grad").type == pa.binary(2 * dim)  # dim float16 values per row
    stored = np.frombuffer(table["grad"].combine_chunks().buffers()[1], dtype="<f2").reshape(-1, dim)
    np.testing.assert_array_equal(stored.astype(np.float32), shards[1].grads)
    rows = train.filter(pc.is_in(train["uid"], table["uid"])).sort_by("uid")
    assert shards[1].labels.tolist() == rows["label"].to_pylist() and shards[1].langs == rows["lang"].to_pylist()
    expected_norms = np.linalg.norm(shards[1].grads.astype(np.float64), axis=1)
    np.testing.assert_allclose(table["grad_norm"].to_numpy(), expected_norms, rtol=1e-6)
    assert meta["fingerprint"]["epoch"] == 1 and meta["fingerprint"]["seed"] == trace["seed"]
    assert len(meta["fingerprint"]["weights_sha256"]) == 64


def test_dump_matches_compute_gradients(tmp_path, tiny_checkpoints, tiny_data):
    _, test = tiny_data
    cfg = {"projection": "logra", "dim": 8, "dtype": "float32"}
    dump_gradients(tiny_checkpoints[1], test, cfg, tmp_path / "g.parquet", "test", MAX_LENGTH)
    shard = read_grad_shard(tmp_path / "g.parquet")
    model, tokenizer, _ = load_checkpoint(tiny_checkpoints[1])
    layers = select_layers(model, DEFAULT_LAYERS)
    direct = compute_gradients(model, encode(test.sort_by("uid"), tokenizer, MAX_LENGTH), layers,
                               build_projector("logra", layers, 8, 0), 64)
    assert shard.uids == direct.uids
    np.testing.assert_array_equal(shard.grads, direct.grads)


def test_shard_numbers_are_checked(tiny_data):
    with pytest.raises(ConfigError, match="shard 3 of 3"):
        shard_rows(tiny_data[0], 3, 3)
    assert shard_rows(tiny_data[0], 0, 1).num_rows == tiny_data[0].num_rows


def test_gradients_of_different_weights_are_not_scored_together(tmp_path, tiny_checkpoints, tiny_data):
    """A checkpoint folder with the same epoch and learning rate but other weights (another fine-tuning
    seed) gives shards with another fingerprint: score_shard refuses the pair, naming both files."""
    import shutil

    from safetensors.torch import load_file, save_file

    from lingtrace.errors import ArtifactError
    from lingtrace.io.checkpoints import checkpoint_fingerprint, read_trace
    from lingtrace.tracin.score import score_shard

    train, test = tiny_data
    other = tmp_path / "seed-1" / "epoch-1"
    shutil.copytree(tiny_checkpoints[0], other)
    weights = load_file(other / "model.safetensors")
    name = next(k for k in weights if k.endswith("classifier.out_proj.weight"))
    weights[name] = weights[name] + 0.01
    save_file(weights, other / "model.safetensors", metadata={"format": "pt"})
    cfg = {"projection": "logra", "dim": 4, "dtype": "float32"}
    dump_gradients(tiny_checkpoints[0], train, cfg, tmp_path / "train.parquet", "train", MAX_LENGTH, run="joint")
    dump_gradients(other, test, cfg, tmp_path / "test.parquet", "test", MAX_LENGTH, run="joint")
    meta = read_grad_shard(tmp_path / "train.parquet").metadata
    assert meta["fingerprint"] == {**checkpoint_fingerprint(tiny_checkpoints[0], read_trace(tiny_checkpoints[0])),
                                   "run": "joint"}  # fmt: skip
    with pytest.raises(ArtifactError, match="different checkpoints") as err:
        score_shard({1: tmp_path / "train.parquet"}, {1: [tmp_path / "test.parquet"]})
    assert str(tmp_path / "train.parquet") in str(err.value) and str(tmp_path / "test.parquet") in str(err.value)
    # the same weights (the test split dumped from the first checkpoint) score fine
    dump_gradients(tiny_checkpoints[0], test, cfg, tmp_path / "test0.parquet", "test", MAX_LENGTH, run="joint")
    assert score_shard({1: tmp_path / "train.parquet"}, {1: [tmp_path / "test0.parquet"]})[0].height > 0
