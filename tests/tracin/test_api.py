"""The Python API: the dense matrix is the definition (in float64 to the last bits; by default in the
influence.dtype setting's float32), self-influence obeys its identities, and the table wrappers agree
with the dense matrix."""

import numpy as np
import polars as pl
import pytest

from lingtrace import tracin as influence
from lingtrace.errors import ArtifactError, ConfigError

from shard_factory import dense_scores, expected_tables, random_problem, write_split


@pytest.fixture
def study(tmp_path):
    p = random_problem(seed=30, n_ckpt=3, n_train=26, n_test=6, dim=8)
    train = write_split(tmp_path, "train", p["train"], p["train_uids"], p["train_langs"], p["etas"], n_shards=3)
    test = write_split(tmp_path, "test", p["test"], p["test_uids"], p["test_langs"], p["etas"], n_shards=2)
    return p, train, test


@pytest.mark.parametrize("variant", ["dot", "cosine"])
def test_dense_scores_are_the_definition(study, variant):
    p, train, test = study
    dense = influence.tracin_scores(train, test, variant, dtype="float64")
    assert dense.scores.shape == (6, 26)
    assert dense.test_uids == p["test_uids"] and dense.train_uids == p["train_uids"]  # shard order, not uid order
    want = dense_scores(p["test"], p["train"], p["etas"], variant)
    np.testing.assert_allclose(dense.scores, want["all"], rtol=1e-12, atol=1e-14)
    one = influence.tracin_scores(train, test, variant, checkpoint=2, dtype="float64")
    np.testing.assert_allclose(one.scores, want[1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("variant", ["dot", "cosine"])
def test_dense_scores_default_to_the_settings_float32_and_agree_with_float64(study, monkeypatch, variant):
    from lingtrace.tracin import api

    _, train, test = study
    exact = influence.tracin_scores(train, test, variant, dtype="float64").scores
    monkeypatch.setattr(api, "DENSE_CHUNK_BYTES", 4 * 3 * 8 * 5)  # 5 training rows a chunk: 6 chunks
    fast = influence.tracin_scores(train, test, variant).scores
    assert fast.dtype == np.float64 and not np.array_equal(fast, exact)  # float32 arithmetic, float64 numbers
    np.testing.assert_allclose(fast, exact, rtol=1e-5, atol=1e-6 * np.abs(exact).max())
    with pytest.raises(ConfigError, match="float16"):
        influence.tracin_scores(train, test, variant, dtype="float16")


@pytest.mark.parametrize("variant", ["dot", "cosine"])
def test_self_influence_is_non_negative_and_obeys_cauchy_schwarz(study, variant):
    _, train, _ = study
    m = influence.tracin_scores(train, train, variant, dtype="float64").scores
    self_influence = np.diag(m)
    assert (self_influence >= 0).all()
    assert self_influence[3] == 0  # the exactly zero gradient has no influence, not NaN
    bound = np.sqrt(np.outer(self_influence, self_influence))
    assert (np.abs(m) <= bound * (1 + 1e-12) + 1e-15).all()
    np.testing.assert_allclose(m, m.T, rtol=1e-12, atol=1e-15)
    assert np.abs(m).max() > 0


def test_a_checkpoint_not_in_the_shards_is_refused(study):
    _, train, test = study
    with pytest.raises(ArtifactError, match="checkpoint 7"):
        influence.tracin_scores(train, test, checkpoint=7)


def test_top_influencers_agree_with_the_dense_matrix(study):
    p, train, test = study
    top = influence.top_influencers(train, test, top_k=3, dtype="float64", device="cpu")
    dense = influence.tracin_scores(train, test, "dot", dtype="float64")
    best = top.filter((pl.col("checkpoint") == "all") & (pl.col("variant") == "dot")
                      & (pl.col("direction") == "proponent") & (pl.col("rank") == 1))
    for row in best.iter_rows(named=True):
        i = dense.test_uids.index(row["test_uid"])
        assert row["train_uid"] == dense.train_uids[int(np.argmax(dense.scores[i]))]
        assert row["score"] == pytest.approx(dense.scores[i].max(), rel=1e-12)
    want_topk, _ = expected_tables(p, 3)
    assert top.drop("score").equals(want_topk.drop("score"))


def test_language_scores_agree_with_the_dense_matrix(study):
    p, train, test = study
    lang = influence.language_scores(train, test, dtype="float64", device="cpu")
    dense = influence.tracin_scores(train, test, "cosine", dtype="float64")
    rows = lang.filter((pl.col("checkpoint") == "all") & (pl.col("variant") == "cosine"))
    assert rows.height == 6 * 3
    for row in rows.iter_rows(named=True):
        i = dense.test_uids.index(row["test_uid"])
        lang_of = dict(zip(p["train_uids"], p["train_langs"]))
        cols = [j for j, uid in enumerate(dense.train_uids) if lang_of[uid] == row["train_lang"]]
        assert row["n_train"] == len(cols)
        assert row["score_sum"] == pytest.approx(dense.scores[i, cols].sum(), rel=1e-9, abs=1e-12)


def test_checkpoints_with_different_shard_counts_are_refused(study):
    _, train, test = study
    uneven = {1: train[1], 2: train[2][:2], 3: train[3]}
    with pytest.raises(ArtifactError, match="different numbers of train shards"):
        influence.top_influencers(uneven, test)
