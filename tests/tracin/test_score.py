"""The scoring kernel and score_shard: equal to the brute-force definition, exact under any chunking,
and loud about shards that must not be scored together."""

import re

import numpy as np
import pytest
import torch

from lingtrace.tracin import kernel as kernel_module
from lingtrace.tracin import topk as topk_module
from lingtrace.errors import ArtifactError, ConfigError, NumericalError
from lingtrace.tracin.store import write_grad_shard
from lingtrace.tracin.kernel import ALL, language_sums, prepare_test
from lingtrace.tracin.score import score_shard
from lingtrace.tracin.stage import by_epoch
from lingtrace.tracin.tables import LANG_SCHEMA, TOPK_SCHEMA
from lingtrace.tracin.topk import top_k_scores

from shard_factory import brute_top_k, dense_scores, expected_tables, random_problem, shard_metadata, write_split

VARIANTS = ["dot", "cosine"]
CFG64 = {"top_k": 4, "variants": VARIANTS, "chunk_size": 5, "device": "cpu", "dtype": "float64"}


def kernel(p, k, chunk_size, dtype=torch.float64):
    test = torch.from_numpy(p["test"]).to(dtype)
    side = prepare_test(test, torch.tensor(p["etas"], dtype=torch.float64))
    return top_k_scores(side, torch.from_numpy(p["train"]), k, VARIANTS, chunk_size)


def check_against_brute_force(result, p, k, rtol):
    """Every (slot, variant, direction): the same columns in the same order, and the same scores."""
    n_ckpt, n_train = len(p["etas"]), p["train"].shape[1]
    assert len(result) == (n_ckpt + 1) * len(VARIANTS) * 2
    for variant in VARIANTS:
        dense = dense_scores(p["test"], p["train"], p["etas"], variant)
        for slot in [*range(n_ckpt), ALL]:
            for direction, largest in topk_module.DIRECTIONS.items():
                values, positions = result[(slot, variant, direction)]
                expected = brute_top_k(dense["all" if slot == ALL else slot], list(range(n_train)), k, largest)
                assert positions.tolist() == expected, (slot, variant, direction)
                want = np.take_along_axis(dense["all" if slot == ALL else slot], np.array(expected), axis=1)
                np.testing.assert_allclose(values.numpy(), want, rtol=rtol, atol=rtol * np.abs(want).max())


@pytest.mark.parametrize("chunk_size", [1, 4, 23, 100])
def test_kernel_equals_brute_force_float64(chunk_size):
    p = random_problem(seed=1, n_ckpt=3, n_train=23, n_test=6, dim=8)
    p["test"][1, 2] = 0.0  # a zero test vector: all its cosines at checkpoint 1 tie at 0
    check_against_brute_force(kernel(p, 5, chunk_size), p, 5, rtol=1e-12)


def test_kernel_float32_agrees_with_float64():
    p = random_problem(seed=2, n_ckpt=2, n_train=40, n_test=5, dim=16)
    check_against_brute_force(kernel(p, 6, 16, dtype=torch.float32), p, 6, rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_exact_ties_go_to_the_smaller_position_for_any_chunking(dtype):
    # Small whole numbers: every score is exact in any summation order, and many are equal.
    p = random_problem(seed=3, n_ckpt=2, n_train=60, n_test=8, dim=3, integer=True)
    p["train"][:, 40:50] = p["train"][:, 10:20]  # duplicated examples tie everywhere
    results = [kernel(p, 7, chunk, dtype) for chunk in (1, 6, 13, 60)]
    dense = dense_scores(p["test"], p["train"], p["etas"], "dot")["all"]
    values, positions = results[0][(ALL, "dot", "proponent")]
    assert positions.tolist() == brute_top_k(dense, list(range(60)), 7, largest=True)
    for other in results[1:]:
        for key, (values, positions) in results[0].items():
            assert torch.equal(other[key][0], values) and torch.equal(other[key][1], positions), key


def test_torch_path_equals_numpy_path(monkeypatch):
    """The torch ops used on CUDA give the same result as the numpy ones used on the CPU."""
    p = random_problem(seed=4, n_ckpt=2, n_train=50, n_test=6, dim=3, integer=True)
    on_host = kernel(p, 5, 7)
    for module in (topk_module, kernel_module):
        monkeypatch.setattr(module, "on_host", lambda t: False)
    on_device = kernel(p, 5, 7)
    for key, (values, positions) in on_host.items():
        assert torch.equal(on_device[key][0], values) and torch.equal(on_device[key][1], positions), key
    p = random_problem(seed=4, n_ckpt=2, n_train=50, n_test=6, dim=8)
    check_against_brute_force(kernel(p, 5, 7), p, 5, rtol=1e-12)


def test_fewer_training_rows_than_k():
    p = random_problem(seed=5, n_ckpt=2, n_train=4, n_test=3, dim=5)
    result = kernel(p, 10, 3)
    assert result[(ALL, "dot", "proponent")][1].shape == (3, 4)
    check_against_brute_force(result, p, 10, rtol=1e-12)


def test_language_sums_equal_sums_of_pair_scores():
    p = random_problem(seed=6, n_ckpt=3, n_train=31, n_test=5, dim=7)
    names = sorted(set(p["train_langs"]))
    ids = torch.tensor([names.index(lang) for lang in p["train_langs"]])
    sums = language_sums(torch.from_numpy(p["test"]), torch.tensor(p["etas"]), torch.from_numpy(p["train"]),
                         ids, len(names), VARIANTS, chunk_size=4)
    for variant in VARIANTS:
        dense = dense_scores(p["test"], p["train"], p["etas"], variant)
        for slot in [0, 1, 2, ALL]:
            scores = dense["all" if slot == ALL else slot]
            want = np.stack([scores[:, ids.numpy() == i].sum(axis=1) for i in range(len(names))], axis=1)
            scale = np.abs(scores).sum(axis=1, keepdims=True)  # relative to the terms, as sums may cancel
            assert (np.abs(sums[(slot, variant)].numpy() - want) <= 1e-9 * scale).all(), (slot, variant)


# --- score_shard: files in, tables out -----------------------------------------------------------------


def shards(tmp_path, p, n_train_shards=1, **kwargs):
    train = write_split(tmp_path / "g", "train", p["train"], p["train_uids"], p["train_langs"], p["etas"],
                        n_shards=n_train_shards, **kwargs)
    test = write_split(tmp_path / "g", "test", p["test"], p["test_uids"], p["test_langs"], p["etas"], **kwargs)
    return train, test


def test_score_shard_tables_follow_the_contract_and_the_definition(tmp_path):
    p = random_problem(seed=7, n_ckpt=2, n_train=19, n_test=5, dim=6)
    train, test = shards(tmp_path, p)
    topk, lang = score_shard({e: paths[0] for e, paths in train.items()}, test, CFG64)
    assert dict(topk.schema) == TOPK_SCHEMA and dict(lang.schema) == LANG_SCHEMA
    want_topk, want_lang = expected_tables(p, 4)
    got = topk.sort("test_uid", "checkpoint", "variant", "direction", "rank")
    assert got.drop("score").equals(want_topk.drop("score"))
    np.testing.assert_allclose(got["score"], want_topk["score"], rtol=1e-12, atol=1e-14)
    got_lang = lang.sort("test_uid", "test_lang", "checkpoint", "variant", "train_lang")
    assert got_lang.drop("score_sum").equals(want_lang.drop("score_sum"))
    np.testing.assert_allclose(got_lang["score_sum"], want_lang["score_sum"], rtol=1e-9, atol=1e-12)


def test_checkpoint_order_does_not_matter(tmp_path):
    p = random_problem(seed=8, n_ckpt=3, n_train=15, n_test=4, dim=5)
    train, test = shards(tmp_path, p)
    forward = score_shard({e: train[e][0] for e in (1, 2, 3)}, {e: test[e] for e in (1, 2, 3)}, CFG64)
    backward = score_shard({e: train[e][0] for e in (3, 1, 2)}, {e: test[e] for e in (2, 3, 1)}, CFG64)
    assert forward[0].equals(backward[0]) and forward[1].equals(backward[1])


def test_mismatched_projection_is_refused_naming_both_files(tmp_path):
    p = random_problem(seed=9)
    train, _ = shards(tmp_path, p)
    _, test = shards(tmp_path / "other", p, seed=1)  # test gradients projected with another seed
    with pytest.raises(ArtifactError) as err:
        score_shard({e: paths[0] for e, paths in train.items()}, test, CFG64)
    assert str(train[1][0]) in str(err.value) and str(test[1][0]) in str(err.value)
    assert "projection" in str(err.value)


def test_truncated_shard_is_refused_naming_it(tmp_path):
    p = random_problem(seed=10)
    train, test = shards(tmp_path, p)
    path = train[2][0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match=re.escape(str(path))):
        score_shard({e: paths[0] for e, paths in train.items()}, test, CFG64)


def test_nan_gradient_raises_naming_the_example(tmp_path):
    p = random_problem(seed=11)
    p["train"][1, 5, 2] = np.nan
    train, test = shards(tmp_path, p)
    with pytest.raises(NumericalError, match=re.escape(p["train_uids"][5])):
        score_shard({e: paths[0] for e, paths in train.items()}, test, CFG64)


def test_a_checkpoint_without_test_shards_is_refused(tmp_path):
    p = random_problem(seed=12)
    train, test = shards(tmp_path, p)
    with pytest.raises(ArtifactError, match="every checkpoint needs both"):
        score_shard({e: paths[0] for e, paths in train.items()}, {1: test[1]}, CFG64)


def test_test_rows_must_match_across_checkpoints(tmp_path):
    p = random_problem(seed=13, n_test=6)
    train, test = shards(tmp_path, p)
    rows = [0, 2, 1, 3, 4, 5]  # epoch 2's test shard in another order
    write_grad_shard(test[2][0], [p["test_uids"][r] for r in rows], [p["test_langs"][r] for r in rows], [0] * 6,
                     [0] * 6, np.zeros(6), p["test"][1][rows], shard_metadata(2, p["etas"][1], 6, "test"))
    with pytest.raises(ArtifactError, match="hold different examples"):
        score_shard({e: paths[0] for e, paths in train.items()}, test, CFG64)


def test_bad_config_and_miswired_checkpoints_are_refused(tmp_path):
    p = random_problem(seed=14)
    train, test = shards(tmp_path, p)
    one_shard = {e: paths[0] for e, paths in train.items()}
    with pytest.raises(ConfigError, match="influence.variants"):
        score_shard(one_shard, test, {**CFG64, "variants": ["dot", "l2"]})
    with pytest.raises(ConfigError, match="influence.top_k"):
        score_shard(one_shard, test, {**CFG64, "top_k": 0})
    with pytest.raises(ArtifactError, match="its metadata says epoch 1"):
        score_shard({2: train[1][0], 1: train[2][0]}, test, CFG64)


def test_checkpoint_major_file_lists_group_by_epoch(tmp_path):
    p = random_problem(seed=15, n_ckpt=3)
    train, test = shards(tmp_path, p, n_train_shards=2)
    flat = [path for e in (3, 1, 2) for path in test[e]]
    assert by_epoch([3, 1, 2], flat, "test") == {e: [str(path) for path in test[e]] for e in (3, 1, 2)}
    by_ckpt = by_epoch([1, 2, 3], [train[e][1] for e in (1, 2, 3)], "train")
    assert score_shard({e: paths[0] for e, paths in by_ckpt.items()}, by_epoch([3, 1, 2], flat, "test"), CFG64)[0].height > 0
    with pytest.raises(ConfigError, match="do not divide among the checkpoints"):
        by_epoch([1, 2], flat, "test")


def test_train_and_test_shards_of_different_checkpoints_are_refused_naming_both_files(tmp_path):
    """Same epoch, eta, projection and layers, but the test gradients come from another fine-tuning
    seed: the checkpoint fingerprints differ, so nothing is scored."""
    p = random_problem(seed=16)
    train, _ = shards(tmp_path, p)
    _, test = shards(tmp_path / "seed-1", p, model_seed=1)
    with pytest.raises(ArtifactError, match="different checkpoints") as err:
        score_shard({e: paths[0] for e, paths in train.items()}, test, CFG64)
    assert str(train[1][0]) in str(err.value) and str(test[1][0]) in str(err.value)
    assert "seed 0" in str(err.value) and "seed 1" in str(err.value)


def test_a_shard_without_fingerprint_is_refused_beside_one_with(tmp_path):
    p = random_problem(seed=17)
    train, test = shards(tmp_path, p)
    rows = list(range(len(p["test_uids"])))
    old = {k: v for k, v in shard_metadata(1, p["etas"][0], 6, "test").items() if k != "fingerprint"}
    write_grad_shard(test[1][0], p["test_uids"], p["test_langs"], [0] * len(rows), [0] * len(rows),
                     np.zeros(len(rows)), p["test"][0], old)  # fmt: skip
    with pytest.raises(ArtifactError, match="no fingerprint"):
        score_shard({e: paths[0] for e, paths in train.items()}, test, CFG64)
