"""Surface baselines: the marker-only classifier, the TF-IDF retriever and word overlap, on hand-made data."""

import numpy as np
import polars as pl
import pytest

from lingtrace.analysis.baselines import (
    frequent_words,
    marker_features,
    shortcut_accuracy,
    tfidf_scores,
    tfidf_topk,
    word_overlap,
)

VOCAB = {"en": ["not", "maybe"], "xx": ["nu", "pa"]}  # slot 0: negation, slot 1: hedge


def pairs(n, lang, marker_predicts: bool, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    neg, hedge = VOCAB[lang]
    for i in range(n):
        label = int(rng.integers(2))
        has_neg = label == 1 if marker_predicts else bool(rng.integers(2))
        b = f"w{i} {neg}" if has_neg else f"w{i} {hedge}"
        rows.append({"uid": f"{lang}{i}", "lang": lang, "text_a": f"w{i} word", "text_b": b, "label": label})
    return pl.DataFrame(rows)


def test_marker_features_count_each_slot_in_each_text_and_their_difference():
    table = pl.DataFrame({"lang": ["xx"], "text_a": ["nu nu pa"], "text_b": ["pa"]})
    assert marker_features(table, VOCAB).tolist() == [[2, 1, 0, 1, 2, 0]]


def test_a_marker_that_gives_the_label_away_is_found_in_every_language():
    train = pl.concat([pairs(200, "en", True), pairs(200, "xx", True, seed=1)])
    test = pl.concat([pairs(100, "en", True, seed=2), pairs(100, "xx", True, seed=3)])
    acc = shortcut_accuracy(train, test, VOCAB, n_classes=2, l2=1e-3)
    assert acc.filter(pl.col("lang") == "all")["accuracy"].item() == 1.0
    assert set(acc["lang"]) == {"en", "xx", "all"}


def test_markers_independent_of_the_label_leave_the_classifier_at_chance():
    train, test = pairs(400, "en", False), pairs(400, "en", False, seed=5)
    assert shortcut_accuracy(train, test, VOCAB, n_classes=2, l2=1e-3).filter(pl.col("lang") == "all")["accuracy"].item() == \
        pytest.approx(0.5, abs=0.08)  # fmt: skip


def test_frequent_words_rank_by_count_then_word():
    assert frequent_words(["b a a", "c b a"], 2) == ["a", "b"]


def test_tfidf_scores_are_cosines_and_the_best_match_comes_first():
    train = pl.DataFrame({"uid": ["t2", "t1", "t3"], "lang": ["en", "en", "xx"], "text_a": ["red cat", "red", "blue dog"],
                          "text_b": [None, None, None]})  # fmt: skip
    test = pl.DataFrame({"uid": ["q"], "lang": ["en"], "text_a": ["red cat"], "text_b": [None]})
    scores = tfidf_scores(train.sort("uid"), test)
    assert scores[0, 1] == pytest.approx(1.0) and scores[0, 2] == pytest.approx(0.0)
    top = tfidf_topk(train, test, k=2, seed=0)
    assert top["train_uid"].to_list() == ["t2", "t1"]
    assert top["rank"].to_list() == [1, 2] and set(top["variant"]) == {"tfidf"}


def test_a_test_example_sharing_no_word_draws_languages_blindly_not_by_uid():
    """Zero scores everywhere: the top-k is a seeded random draw, so languages come in their data shares
    (a uid order would give every slot to the alphabetically first language)."""
    langs = ["aa"] * 300 + ["zz"] * 300
    train = pl.DataFrame({"uid": [f"{lang}-{i:03d}" for i, lang in enumerate(langs)], "lang": langs,
                          "text_a": [f"w{i}" for i in range(600)], "text_b": [None] * 600})  # fmt: skip
    test = pl.DataFrame({"uid": ["q"], "lang": ["xx"], "text_a": ["unseen words"], "text_b": [None]})
    top = tfidf_topk(train, test, k=100, seed=3)
    assert 0.35 < (top["train_lang"] == "aa").mean() < 0.65
    assert top.equals(tfidf_topk(train, test, k=100, seed=3))
    assert not top.equals(tfidf_topk(train, test, k=100, seed=4))


def test_the_shortcut_reads_how_many_words_a_pair_shares():
    """Labels set by word overlap alone (a copied text vs an unrelated one) are a shortcut, not content."""
    rows = []
    for i in range(300):
        label = i % 2
        rows.append({"uid": f"p{i}", "lang": "en", "text_a": f"a{i} b{i} c{i}",
                     "text_b": f"c{i} b{i} a{i}" if label else f"d{i} e{i} f{i}", "label": label})  # fmt: skip
    table = pl.DataFrame(rows)
    acc = shortcut_accuracy(table[:200], table[200:], VOCAB, n_classes=2, l2=1e-3)
    assert acc.filter(pl.col("lang") == "all")["accuracy"].item() == 1.0


def test_word_overlap_is_the_jaccard_of_word_types():
    texts = pl.DataFrame({"lang": ["a", "b"], "doc": ["x y z", "z w"]})
    out = {(r["lang_a"], r["lang_b"]): r["overlap"] for r in word_overlap(texts, seed=0).iter_rows(named=True)}
    assert out[("a", "b")] == pytest.approx(1 / 4)  # {x,y,z} & {z,w} = {z}; union {x,y,z,w}
    assert out[("a", "a")] == 1.0


def test_word_overlap_takes_as_many_documents_from_every_language():
    """A language with more text must not look more similar: b's 10 documents are sampled down to a's 1."""
    texts = pl.DataFrame({"lang": ["a"] + ["b"] * 10, "doc": ["x"] + [f"x y{i}" for i in range(10)]})
    out = {(r["lang_a"], r["lang_b"]): r["overlap"] for r in word_overlap(texts, seed=1).iter_rows(named=True)}
    assert out[("a", "b")] == pytest.approx(1 / 2)  # {x} & {x, y_i}: one document of b, not ten
