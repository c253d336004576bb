"""The TracIn stage's file-level entries (lingtrace.tracin.stage): score_files takes checkpoint-major
file lists and writes the same tables whether the train split comes in one shard or several (the
language sums up to the merge's rounding), and those of the definition; score_subsets writes what
subset_score_sums gives; dump_run_gradients refuses miswired argument lists before loading anything.
(by_epoch itself: tests/tracin/test_score.py.)"""

import numpy as np
import polars as pl
import pytest
from lingtrace.errors import ConfigError
from lingtrace.tracin.stage import by_epoch, dump_run_gradients, score_files, score_subsets
from lingtrace.tracin.subsets import subset_score_sums
from shard_factory import expected_tables, random_problem, write_split

INFLUENCE = {"top_k": 3, "variants": ["dot", "cosine"], "chunk_size": 4, "device": "cpu", "dtype": "float64"}
EPOCHS = [1, 2]


def flat(paths_by_epoch: dict) -> list[str]:
    """Checkpoint-major: every shard of epoch 1, then every shard of epoch 2."""
    return [str(p) for e in EPOCHS for p in paths_by_epoch[e]]


def problem_files(root, n_train_shards, p):
    train = write_split(root, "train", p["train"], p["train_uids"], p["train_langs"], p["etas"], n_shards=n_train_shards)
    test = write_split(root, "test", p["test"], p["test_uids"], p["test_langs"], p["etas"], n_shards=2)
    return flat(train), flat(test)


def test_score_files_gives_the_same_tables_for_one_train_shard_or_three(tmp_path):
    p = random_problem(seed=21, n_ckpt=2, n_train=17, n_test=5, dim=4, integer=True)
    written = {}
    for n in (1, 3):
        train, test = problem_files(tmp_path / f"g{n}", n, p)
        assert len(train) == 2 * n
        out = (tmp_path / f"topk-{n}.parquet", tmp_path / f"lang-{n}.parquet")
        score_files({"influence": INFLUENCE}, EPOCHS, train, test, *out)
        written[n] = [pl.read_parquet(path) for path in out]
    assert written[1][0].equals(written[3][0])  # top-k: exactly
    one, three = written[1][1], written[3][1]  # language sums: up to the rounding of the merge's additions
    assert one.drop("score_sum").equals(three.drop("score_sum"))
    np.testing.assert_allclose(one["score_sum"], three["score_sum"], rtol=1e-12, atol=1e-12)
    want_topk, want_lang = expected_tables(p, 3, as_kernel=True)
    got_topk = written[3][0].sort("test_uid", "checkpoint", "variant", "direction", "rank")
    assert got_topk.drop("score").equals(want_topk.drop("score"))
    np.testing.assert_allclose(got_topk["score"], want_topk["score"], rtol=1e-12, atol=1e-12)
    got_lang = written[3][1].sort("test_uid", "test_lang", "checkpoint", "variant", "train_lang")
    assert got_lang.drop("score_sum").equals(want_lang.drop("score_sum"))
    np.testing.assert_allclose(got_lang["score_sum"], want_lang["score_sum"], rtol=1e-9, atol=1e-12)


def test_score_files_takes_the_top_k_from_the_params(tmp_path):
    p = random_problem(seed=22, n_ckpt=2, n_train=9, n_test=2, dim=3)
    train, test = problem_files(tmp_path, 2, p)
    score_files({"influence": {**INFLUENCE, "top_k": 2, "variants": ["dot"]}}, EPOCHS, train, test,
                tmp_path / "t.parquet", tmp_path / "l.parquet")  # fmt: skip
    topk = pl.read_parquet(tmp_path / "t.parquet")
    assert set(topk["rank"]) == {1, 2} and set(topk["variant"]) == {"dot"}
    assert topk.height == 2 * 3 * 2 * 2  # test rows x (epochs + all) x directions x k
    assert set(pl.read_parquet(tmp_path / "l.parquet")["variant"]) == {"dot"}


def test_score_files_refuses_file_lists_that_do_not_divide_among_the_epochs(tmp_path):
    p = random_problem(seed=23, n_ckpt=2)
    train, test = problem_files(tmp_path, 1, p)
    with pytest.raises(ConfigError, match="3 train gradient files do not divide among the checkpoints"):
        score_files({"influence": INFLUENCE}, EPOCHS, train + train[:1], test, tmp_path / "t", tmp_path / "l")
    assert not (tmp_path / "t").exists()


def test_score_subsets_writes_the_subset_sums(tmp_path):
    p = random_problem(seed=24, n_ckpt=2, n_train=12, n_test=3, dim=4)
    train, test = problem_files(tmp_path, 2, p)
    subsets = pl.DataFrame({"subset": [0] * 6 + [1] * 6, "uid": p["train_uids"][:6] + p["train_uids"][6:]})
    subsets.write_parquet(tmp_path / "subsets.parquet")
    score_subsets({"influence": INFLUENCE}, EPOCHS, train, test, tmp_path / "subsets.parquet", tmp_path / "s.parquet")
    got = pl.read_parquet(tmp_path / "s.parquet")
    want = subset_score_sums(by_epoch(EPOCHS, train, "train"), by_epoch(EPOCHS, test, "test"), subsets, INFLUENCE)
    assert got.equals(want)
    assert got.height == 3 * 2 * 2  # test rows x subsets x variants


def test_dump_run_gradients_refuses_miswired_lists_before_loading(tmp_path):
    params = {"task": {"name": "t", "source": "synthetic", "train_langs": ["ala"]}}
    nowhere = str(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match=r"one split per call .* got \['test', 'train'\]"):
        dump_run_gradients(params, "joint", nowhere, [nowhere] * 2, ["train", "test"], [0, 0], ["a", "b"])
    with pytest.raises(ConfigError, match="2 checkpoints, 2 splits, 1 shards, 2 outputs"):
        dump_run_gradients(params, "joint", nowhere, [nowhere] * 2, ["train"] * 2, [0], ["a", "b"])
    assert list(tmp_path.iterdir()) == []
