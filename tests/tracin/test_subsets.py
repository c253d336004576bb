"""Subset score sums (what the LDS compares with subset-run outcomes): per test example, variant and
subset, the sum of the TracIn scores over the subset's training examples, checked against a brute-force
sum of the dense score matrix, with the train gradients in several shards and checkpoint epochs 2 and 5."""

import numpy as np
import polars as pl
import pytest

from lingtrace.errors import AnalysisError
from lingtrace.tracin.subsets import subset_score_sums
from shard_factory import dense_scores, random_problem, write_split

SUBSET_IDS = (5, 0, 2)  # not contiguous, not in order


def problem(tmp_path, n_shards):
    p = random_problem(seed=4, n_ckpt=2, n_train=17, n_test=5, dim=6)
    train = write_split(tmp_path, "train", p["train"], p["train_uids"], p["train_langs"], p["etas"],
                        epochs=[2, 5], n_shards=n_shards)  # fmt: skip
    test = write_split(tmp_path, "test", p["test"], p["test_uids"], p["test_langs"], p["etas"], epochs=[2, 5])
    rng = np.random.default_rng(1)
    # subset 2 always holds train row 3, whose gradient is exactly zero (cosine 0 with everything)
    rows = {i: sorted(set(rng.choice(17, size=8, replace=False).tolist()) | ({3} if i == 2 else set()))
            for i in SUBSET_IDS}  # fmt: skip
    subsets = pl.DataFrame(
        [(i, p["train_uids"][j]) for i in SUBSET_IDS for j in rows[i]], schema=["subset", "uid"], orient="row"
    )
    return p, train, test, subsets, rows


def brute_force(p, rows, variant) -> dict:
    """{(test_uid, subset): sum over the subset's columns of the dense 'all' scores}."""
    dense = dense_scores(p["test"], p["train"], p["etas"], variant)["all"]
    return {(uid, i): float(dense[t, rows[i]].sum()) for t, uid in enumerate(p["test_uids"]) for i in SUBSET_IDS}


@pytest.mark.parametrize("n_shards", [1, 3])
def test_subset_sums_equal_brute_force_sums_of_the_score_matrix(tmp_path, n_shards):
    p, train, test, subsets, rows = problem(tmp_path, n_shards)
    out = subset_score_sums(train, test, subsets, {"variants": ["dot", "cosine"]})
    assert out.columns == ["test_uid", "test_lang", "variant", "subset", "score_sum"]
    assert out.height == len(p["test_uids"]) * len(SUBSET_IDS) * 2
    for variant in ("dot", "cosine"):
        got = out.filter(pl.col("variant") == variant)
        expected = brute_force(p, rows, variant)
        assert {(u, s): v for u, s, v in got.select("test_uid", "subset", "score_sum").iter_rows()} == pytest.approx(
            expected, rel=1e-9, abs=1e-12
        )
        # test rows stay in shard order, subsets sorted within each
        assert got["test_uid"].to_list() == [u for u in p["test_uids"] for _ in SUBSET_IDS]
        assert got["subset"].to_list() == sorted(SUBSET_IDS) * len(p["test_uids"])
    langs = dict(zip(p["test_uids"], p["test_langs"]))
    assert all(langs[u] == lang for u, lang in out.select("test_uid", "test_lang").iter_rows())


def test_sharding_does_not_change_the_sums(tmp_path):
    one = subset_score_sums(*problem(tmp_path / "one", 1)[1:4], {"variants": ["dot", "cosine"]})
    three = subset_score_sums(*problem(tmp_path / "three", 3)[1:4], {"variants": ["dot", "cosine"]})
    assert one["score_sum"].to_numpy() == pytest.approx(three["score_sum"].to_numpy(), rel=1e-12, abs=1e-12)


def test_only_the_configured_variants_are_written(tmp_path):
    _, train, test, subsets, _ = problem(tmp_path, 2)
    out = subset_score_sums(train, test, subsets, {"variants": ["cosine"]})
    assert out["variant"].unique().to_list() == ["cosine"]
    assert out["score_sum"].dtype == pl.Float64


def test_subsets_naming_examples_without_gradients_are_refused(tmp_path):
    _, train, test, subsets, _ = problem(tmp_path, 2)
    stray = pl.concat([subsets, pl.DataFrame({"subset": [0], "uid": ["not-a-train-uid"]})])
    with pytest.raises(AnalysisError, match="1 training examples with no gradient.*not-a-train-uid"):
        subset_score_sums(train, test, stray, {"variants": ["dot"]})
