"""Shares of the top-k by training language, on a run with training languages aa (3 examples) and bb (1).

Top-3 proponents (K = 3), checkpoint 'all':
    t1 (aa): aa, bb, aa        t2 (aa): bb, bb, aa        t3 (cc, zero-shot): aa, bb, bb
Training fractions: aa 3/4, bb 1/4.

k = 2:  t1 -> aa 1/2, bb 1/2;  t2 -> aa 0, bb 1;  t3 -> aa 1/2, bb 1/2
        S[aa, aa] = (1/2 + 0)/2 = 1/4,  S[aa, bb] = (1/2 + 1)/2 = 3/4,  cross-lingual share of aa = 3/4
        enrichment aa<-aa = (1/4)/(3/4) = 1/3,  aa<-bb = (3/4)/(1/4) = 3
        S[cc, aa] = 1/2 (enrichment 2/3),  S[cc, bb] = 1/2 (enrichment 2),  cross-lingual share of cc = 1
k = 3:  t1 -> aa 2/3, bb 1/3;  t2 -> aa 1/3, bb 2/3;  S[aa, aa] = 1/2, cross-lingual share 1/2
        t3 -> aa 1/3, bb 2/3
"""

import polars as pl
import pytest

from influence_tables import build_lang_scores, build_topk
from lingtrace.analysis.shares import (
    crosslingual_shares,
    example_crosslingual_shares,
    example_shares,
    language_shares,
    self_reliance,
    top_k,
    training_mix,
    zero_shot_shares,
)

LISTS = {
    ("t1", "aa"): ["aa-1", "bb-1", "aa-2"],
    ("t2", "aa"): ["bb-1", "bb-1", "aa-3"],
    ("t3", "cc"): ["aa-1", "bb-1", "bb-1"],
}
TESTS = {"t1": "aa", "t2": "aa", "t3": "cc"}
N_TRAIN = {"aa": 3, "bb": 1}


@pytest.fixture
def run():
    return build_topk(LISTS), build_lang_scores(TESTS, N_TRAIN)


def _value(df, column, **where):
    rows = df.filter(*[pl.col(c) == v for c, v in where.items()])
    assert rows.height == 1, rows
    return rows[column].item()


def test_training_mix(run):
    _, scores = run
    mix = training_mix(scores)
    assert mix["train_lang"].to_list() == ["aa", "bb"]
    assert mix["train_fraction"].to_list() == pytest.approx([0.75, 0.25])


def test_top_k_refuses_k_beyond_K(run):
    topk, _ = run
    assert top_k(topk, 2).height == 6
    with pytest.raises(ValueError, match="K=3"):
        top_k(topk, 4)
    with pytest.raises(ValueError):
        top_k(topk, 0)


def test_example_shares_include_absent_languages_as_zero(run):
    topk, scores = run
    shares = example_shares(topk, scores, k=2)
    assert shares.height == 6  # 3 lists x 2 training languages
    assert _value(shares, "share", test_uid="t2", train_lang="aa") == 0.0
    assert _value(shares, "count", test_uid="t2", train_lang="bb") == 2
    assert _value(shares, "enrichment", test_uid="t2", train_lang="bb") == pytest.approx(4.0)  # 1 / (1/4)
    assert shares.filter(pl.col("test_uid") == "t3")["zero_shot"].all()
    assert not shares.filter(pl.col("test_uid") == "t1")["zero_shot"].any()


def test_language_shares_by_hand(run):
    topk, scores = run
    out = language_shares(topk, scores, ks=[2, 3], n_boot=200)
    k2 = out.filter(pl.col("k") == 2)
    assert _value(k2, "share", test_lang="aa", train_lang="aa") == pytest.approx(0.25)
    assert _value(k2, "share", test_lang="aa", train_lang="bb") == pytest.approx(0.75)
    assert _value(k2, "enrichment", test_lang="aa", train_lang="aa") == pytest.approx(1 / 3)
    assert _value(k2, "enrichment", test_lang="aa", train_lang="bb") == pytest.approx(3.0)
    assert _value(k2, "share", test_lang="cc", train_lang="aa") == pytest.approx(0.5)
    assert _value(k2, "enrichment", test_lang="cc", train_lang="bb") == pytest.approx(2.0)
    assert _value(k2, "n_examples", test_lang="aa", train_lang="aa") == 2
    k3 = out.filter(pl.col("k") == 3)
    assert _value(k3, "share", test_lang="aa", train_lang="aa") == pytest.approx(0.5)
    assert _value(k3, "share", test_lang="cc", train_lang="bb") == pytest.approx(2 / 3)
    # the interval of S[aa, bb] at k=2 lies between the two examples' shares (1/2 and 1) and holds the mean
    row = k2.filter((pl.col("test_lang") == "aa") & (pl.col("train_lang") == "bb")).row(0, named=True)
    assert 0.5 <= row["share_lo"] <= row["share"] <= row["share_hi"] <= 1.0
    assert row["enrichment_lo"] == pytest.approx(row["share_lo"] / 0.25)
    # shares of a test language sum to 1 over the training languages
    sums = out.group_by("test_lang", "k").agg(pl.col("share").sum())
    assert sums["share"].to_list() == pytest.approx([1.0] * sums.height)


def test_crosslingual_shares_by_hand(run):
    topk, scores = run
    out = crosslingual_shares(topk, scores, ks=[2, 3], n_boot=200)
    assert _value(out, "crosslingual_share", test_lang="aa", k=2) == pytest.approx(0.75)
    assert _value(out, "own_share", test_lang="aa", k=2) == pytest.approx(0.25)
    assert _value(out, "crosslingual_share", test_lang="aa", k=3) == pytest.approx(0.5)
    # zero-shot: 1 by definition, with a point interval
    zs = out.filter((pl.col("test_lang") == "cc") & (pl.col("k") == 2)).row(0, named=True)
    assert zs["zero_shot"] and zs["crosslingual_share"] == zs["crosslingual_share_lo"] == 1.0
    assert not _value(out, "zero_shot", test_lang="aa", k=2)


def test_example_crosslingual_shares(run):
    topk, scores = run
    per = example_crosslingual_shares(topk, scores, k=2)
    assert per.sort("test_uid")["crosslingual_share"].to_list() == pytest.approx([0.5, 1.0, 1.0])


def test_context_columns_are_grouping_keys():
    # the same tables twice, as two runs: the shares come out per run and equal
    topk, scores = build_topk(LISTS), build_lang_scores(TESTS, N_TRAIN)
    stacked_topk = pl.concat([topk.with_columns(run=pl.lit(r)) for r in ("joint", "other")])
    stacked_scores = pl.concat([scores.with_columns(run=pl.lit(r)) for r in ("joint", "other")])
    out = crosslingual_shares(stacked_topk, stacked_scores, ks=2, n_boot=50)
    assert out.columns[0] == "run" and out.height == 4
    assert out.filter(pl.col("test_lang") == "aa")["crosslingual_share"].to_list() == pytest.approx([0.75, 0.75])


def test_unknown_training_language_is_refused():
    topk = build_topk({("t1", "aa"): ["aa-1", "zz-1"]})
    with pytest.raises(ValueError, match="zz"):
        example_shares(topk, build_lang_scores({"t1": "aa"}, {"aa": 1}), k=2)


def test_zero_shot_shares(run):
    topk, scores = run
    out = zero_shot_shares(topk, scores, "cc", ks=2, n_boot=50)
    assert set(out["test_lang"]) == {"cc"} and out["zero_shot"].all()
    assert _value(out, "share", train_lang="bb") == pytest.approx(0.5)
    with pytest.raises(ValueError, match="training language"):
        zero_shot_shares(topk, scores, "aa", ks=2)
    with pytest.raises(ValueError, match="not a test language"):
        zero_shot_shares(topk, scores, "dd", ks=2)


def test_self_reliance_boost_against_joint():
    # joint: aa 2, bb 2 (fraction of aa 1/2); boost-aa: aa 4, bb 2 (fraction 2/3). k = 2.
    # joint: t1 aa,bb -> own 1/2 (enrichment 1); t2 bb,bb -> own 0 (enrichment 0)
    #        own share 1/4, enrichment 1/2
    # boost: t1 aa,aa -> own 1 (enrichment 3/2); t2 aa,bb -> own 1/2 (enrichment 3/4)
    #        own share 3/4, enrichment 9/8
    # paired deltas: own 1/2 and 1/2 -> 1/2 (point interval); enrichment 1/2 and 3/4 -> 5/8
    tests = {"t1": "aa", "t2": "aa"}
    joint = build_topk({("t1", "aa"): ["aa-1", "bb-1"], ("t2", "aa"): ["bb-1", "bb-2"]})
    boost = build_topk({("t1", "aa"): ["aa-1", "aa-9"], ("t2", "aa"): ["aa-3", "bb-2"]})
    out = self_reliance(
        joint, build_lang_scores(tests, {"aa": 2, "bb": 2}), boost, build_lang_scores(tests, {"aa": 4, "bb": 2}),
        "aa", ks=2, n_boot=200,
    )
    row = out.row(0, named=True)
    assert out.height == 1 and row["n_examples"] == 2
    assert row["joint_train_fraction"] == pytest.approx(0.5)
    assert row["boost_train_fraction"] == pytest.approx(2 / 3)
    assert row["joint_own_share"] == pytest.approx(0.25)
    assert row["boost_own_share"] == pytest.approx(0.75)
    assert row["delta_own_share"] == row["delta_own_share_lo"] == row["delta_own_share_hi"] == pytest.approx(0.5)
    assert row["joint_enrichment"] == pytest.approx(0.5)
    assert row["boost_enrichment"] == pytest.approx(9 / 8)
    assert row["delta_enrichment"] == pytest.approx(5 / 8)
    assert 0.5 <= row["delta_enrichment_lo"] <= 5 / 8 <= row["delta_enrichment_hi"] <= 0.75


def test_seeds_are_pooled_and_items_resampled_together():
    """The same test example at two seeds: the share pools both (seed 0: 1/2 own, seed 1: all own -> 3/4)
    and the summary keeps no seed column; items map each test example to its item for the resampling."""
    seed0 = build_topk({("x1", "aa"): ["aa-1", "bb-1"]}).with_columns(seed=pl.lit(0))
    seed1 = build_topk({("x1", "aa"): ["aa-1", "aa-2"]}).with_columns(seed=pl.lit(1))
    scores = build_lang_scores({"x1": "aa"}, {"aa": 2, "bb": 2})
    scores = pl.concat([scores.with_columns(seed=pl.lit(s)) for s in (0, 1)])
    items = pl.DataFrame({"test_uid": ["x1"], "item": ["i1"]})
    out = language_shares(pl.concat([seed0, seed1]), scores, 2, n_boot=50, items=items)
    own = out.filter((pl.col("train_lang") == "aa"))
    assert "seed" not in out.columns and own["share"].item() == pytest.approx(0.75)
    assert own["n_seeds"].item() == 2 and own["n_examples"].item() == 2
