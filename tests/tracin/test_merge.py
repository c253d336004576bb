"""merge_influence: sharded scoring + merge is exactly the unsharded computation, deterministic, and
refuses shard files it cannot trust."""

import re

import numpy as np
import polars as pl
import pytest

from lingtrace.errors import ArtifactError
from lingtrace.tracin.merge import merge_influence
from lingtrace.tracin.score import score_shard_files

from shard_factory import expected_tables, random_problem, write_split


def score_and_merge(tmp_path, p, n_shards, chunk_size=5, top_k=4, merge_k=None, order=None, dtype="float64"):
    """Write p's gradients as n_shards train shards, score each, merge; returns (topk, lang) tables."""
    root = tmp_path / f"s{n_shards}-c{chunk_size}"
    train = write_split(root, "train", p["train"], p["train_uids"], p["train_langs"], p["etas"], n_shards=n_shards)
    test = write_split(root, "test", p["test"], p["test_uids"], p["test_langs"], p["etas"], n_shards=2)
    cfg = {"top_k": top_k, "variants": ["dot", "cosine"], "chunk_size": chunk_size, "device": "cpu", "dtype": dtype}
    topk_paths, lang_paths = [], []
    for i in range(n_shards):
        topk_paths.append(root / "influence" / f"topk-{i}.parquet")
        lang_paths.append(root / "influence" / f"lang-{i}.parquet")
        score_shard_files({e: paths[i] for e, paths in train.items()}, test, cfg, topk_paths[-1], lang_paths[-1])
    order = order or list(range(n_shards))
    out_topk, out_lang = root / "topk.parquet", root / "lang_scores.parquet"
    topk_paths, lang_paths = [topk_paths[i] for i in order], [lang_paths[i] for i in order]
    merge_influence(topk_paths, lang_paths, merge_k or top_k, out_topk, out_lang)
    return pl.read_parquet(out_topk), pl.read_parquet(out_lang)


def assert_lang_close(a: pl.DataFrame, b: pl.DataFrame, rtol=1e-12):
    assert a.drop("score_sum").equals(b.drop("score_sum"))
    np.testing.assert_allclose(a["score_sum"], b["score_sum"], rtol=rtol, atol=rtol * np.abs(b["score_sum"]).max())


def test_any_shard_count_and_chunk_size_gives_the_unsharded_tables_exactly(tmp_path):
    # Whole-number gradients: every score is exact in any summation order, so the comparison can be
    # bit for bit, and there are many equal scores for the tie-break to decide.
    p = random_problem(seed=20, n_ckpt=2, n_train=40, n_test=6, dim=3, integer=True)
    p["train"][:, 30:36] = p["train"][:, 5:11]  # duplicated examples in other shards: exact ties across shards
    reference_topk, reference_lang = score_and_merge(tmp_path, p, n_shards=1, chunk_size=40)
    for n_shards, chunk_size in [(1, 3), (2, 40), (2, 7), (3, 1), (3, 16)]:
        topk, lang = score_and_merge(tmp_path, p, n_shards, chunk_size)
        assert topk.equals(reference_topk), (n_shards, chunk_size)
        assert_lang_close(lang, reference_lang)
    assert reference_topk.filter(pl.col("score").is_duplicated()).height > 0  # ties were really exercised


@pytest.mark.parametrize("n_shards", [1, 2, 3])
def test_merged_tables_equal_the_brute_force_definition(tmp_path, n_shards):
    p = random_problem(seed=21, n_ckpt=3, n_train=29, n_test=5, dim=7)
    topk, lang = score_and_merge(tmp_path, p, n_shards)
    want_topk, want_lang = expected_tables(p, 4)
    assert topk.drop("score").equals(want_topk.drop("score"))
    np.testing.assert_allclose(topk["score"], want_topk["score"], rtol=1e-12, atol=1e-14)
    assert_lang_close(lang, want_lang, rtol=1e-9)


def test_float32_scoring_merges_to_the_same_influencers(tmp_path):
    p = random_problem(seed=22, n_ckpt=2, n_train=33, n_test=4, dim=9)
    topk, _ = score_and_merge(tmp_path, p, n_shards=3, dtype="float32")
    want_topk, _ = expected_tables(p, 4)
    assert topk.drop("score").equals(want_topk.drop("score"))
    np.testing.assert_allclose(topk["score"], want_topk["score"], rtol=1e-5, atol=1e-6)


def test_merge_can_keep_fewer_than_the_shards_scored(tmp_path):
    p = random_problem(seed=23, n_train=20)
    topk, _ = score_and_merge(tmp_path, p, n_shards=2, top_k=6, merge_k=2)
    want_topk, _ = expected_tables(p, 2)
    assert topk.drop("score").equals(want_topk.drop("score"))


def test_shard_order_does_not_change_the_output(tmp_path):
    p = random_problem(seed=24, n_train=30)
    a = score_and_merge(tmp_path / "a", p, n_shards=3, order=[0, 1, 2])
    b = score_and_merge(tmp_path / "b", p, n_shards=3, order=[2, 0, 1])
    assert a[0].equals(b[0]) and a[1].equals(b[1])
    assert a[0].equals(a[0].sort("test_uid", "checkpoint", "variant", "direction", "rank"))


@pytest.fixture
def shard_files(tmp_path):
    """Two scored shards' table files and the merge outputs' paths."""
    p = random_problem(seed=25, n_train=12)
    score_and_merge(tmp_path, p, n_shards=2)
    root = tmp_path / "s2-c5" / "influence"
    return [root / "topk-0.parquet", root / "topk-1.parquet"], [root / "lang-0.parquet", root / "lang-1.parquet"]


def test_truncated_shard_table_is_refused_naming_it(tmp_path, shard_files):
    topk, lang = shard_files
    data = topk[1].read_bytes()
    topk[1].write_bytes(data[: len(data) // 3])
    with pytest.raises(ArtifactError, match=re.escape(str(topk[1]))):
        merge_influence(topk, lang, 4, tmp_path / "t.parquet", tmp_path / "l.parquet")
    assert not (tmp_path / "t.parquet").exists()


def test_shard_table_with_wrong_columns_is_refused_naming_it(tmp_path, shard_files):
    topk, lang = shard_files
    pl.read_parquet(lang[0]).rename({"n_train": "count"}).write_parquet(lang[0])
    with pytest.raises(ArtifactError, match=re.escape(str(lang[0])) + ".*n_train"):
        merge_influence(topk, lang, 4, tmp_path / "t.parquet", tmp_path / "l.parquet")


def test_a_shard_given_twice_is_refused(tmp_path, shard_files):
    topk, lang = shard_files
    with pytest.raises(ArtifactError, match="given twice"):
        merge_influence([topk[0], topk[0]], [lang[0], lang[1]], 4, tmp_path / "t.parquet", tmp_path / "l.parquet")


def test_shards_scored_against_different_tests_are_refused(tmp_path, shard_files):
    topk, lang = shard_files
    pl.read_parquet(lang[1]).filter(pl.col("test_uid") != "te-000").write_parquet(lang[1])
    with pytest.raises(ArtifactError, match="cover different test examples"):
        merge_influence(topk, lang, 4, tmp_path / "t.parquet", tmp_path / "l.parquet")


def test_overlapping_train_shards_are_refused(tmp_path):
    p = random_problem(seed=26, n_train=20)
    test = write_split(tmp_path / "test", "test", p["test"], p["test_uids"], p["test_langs"], p["etas"])
    cfg = {"top_k": 25, "variants": ["dot"], "chunk_size": 8, "device": "cpu", "dtype": "float64"}
    paths = []
    for name, rows in (("a", list(range(0, 12))), ("b", list(range(8, 20)))):  # rows 8..11 in both
        sub = {key: [p[key][r] for r in rows] for key in ("train_uids", "train_langs")}
        vectors = p["train"][:, rows]
        train = write_split(tmp_path / name, "train", vectors, sub["train_uids"], sub["train_langs"], p["etas"])
        paths.append((tmp_path / f"{name}.topk.parquet", tmp_path / f"{name}.lang.parquet"))
        score_shard_files({e: ps[0] for e, ps in train.items()}, test, cfg, *paths[-1])
    topk, lang = [t for t, _ in paths], [lang for _, lang in paths]
    with pytest.raises(ArtifactError, match="more than one shard"):
        merge_influence(topk, lang, 25, tmp_path / "t.parquet", tmp_path / "l.parquet")
