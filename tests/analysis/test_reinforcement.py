"""Reinforcing rate on a parallel toy task: items i1..i4 in aa and bb, i1..i2 in cc (uid a1 = aa's i1, ...).

Top-4 proponents (k = 4) and, per cross-lingual proponent z of language l, chance = |own ∩ items(l)| / |items(l)|:
    x1 (aa): a1 b1 b2 c1 -> own {i1}; cross b1 (i1: yes) b2 (i2: no) c1 (i1: yes)      rate 2/3
             chance b1 1/4, b2 1/4, c1 |{i1}∩{i1,i2}|/2 = 1/2                       chance (1/4+1/4+1/2)/3 = 1/3
    x2 (aa): a2 a3 b4 c2 -> own {i2,i3}; cross b4 (no) c2 (i2: yes)                  rate 1/2
             chance b4 2/4, c2 |{i2,i3}∩{i1,i2}|/2 = 1/2                             chance 1/2
    x3 (bb): b1 b2 b3 b4 -> no cross: skipped
    x4 (bb): a1 a2 c1 c2 -> no own: skipped
    x5 (dd, zero-shot): a1 b1 c1 a2 -> no own: skipped
    x6 (bb): b3 a3 a1 c2 -> own {i3}; cross a3 (yes) a1 (no) c2 (no)                 rate 1/3
             chance a3 1/4, a1 1/4, c2 0                                              chance 1/6
aa: rate (2/3 + 1/2)/2 = 7/12, chance (1/3 + 1/2)/2 = 5/12, excess 1/6
bb: rate 1/3, chance 1/6.   all: rate (2/3 + 1/2 + 1/3)/3 = 1/2, chance (1/3 + 1/2 + 1/6)/3 = 1/3
"""

import polars as pl
import pytest

from influence_tables import build_topk
from lingtrace.analysis.reinforcement import example_reinforcement, reinforcement

ITEMS = {"aa": 4, "bb": 4, "cc": 2}
LISTS = {
    ("x1", "aa"): ["aa-1", "bb-1", "bb-2", "cc-1"],
    ("x2", "aa"): ["aa-2", "aa-3", "bb-4", "cc-2"],
    ("x3", "bb"): ["bb-1", "bb-2", "bb-3", "bb-4"],
    ("x4", "bb"): ["aa-1", "aa-2", "cc-1", "cc-2"],
    ("x5", "dd"): ["aa-1", "bb-1", "cc-1", "aa-2"],
    ("x6", "bb"): ["bb-3", "aa-3", "aa-1", "cc-2"],
}


@pytest.fixture
def train():
    return pl.DataFrame(
        [{"uid": f"{lang}-{i}", "item_id": f"i{i}", "lang": lang} for lang, n in ITEMS.items() for i in range(1, n + 1)]
    )


@pytest.fixture
def topk():
    proponents = build_topk(LISTS)
    # opponents must be ignored: these would make every rate 0
    opponents = build_topk({key: ["bb-3", "cc-2", "aa-4", "bb-4"] for key in LISTS}, direction="opponent")
    return pl.concat([proponents, opponents])


def test_example_reinforcement_by_hand(topk, train):
    per = example_reinforcement(topk, train, k=4)
    assert per["test_uid"].to_list() == ["x1", "x2", "x6"]
    assert per["n_own"].to_list() == [1, 2, 1]
    assert per["n_cross"].to_list() == [3, 2, 3]
    assert per["reinforcing_rate"].to_list() == pytest.approx([2 / 3, 1 / 2, 1 / 3])
    assert per["chance_rate"].to_list() == pytest.approx([1 / 3, 1 / 2, 1 / 6])


def test_reinforcement_per_language_and_pooled(topk, train):
    out = reinforcement(topk, train, k=4, n_boot=200)
    assert out["test_lang"].to_list() == ["aa", "all", "bb"]
    aa, pooled, bb = out.iter_rows(named=True)
    assert aa["reinforcing_rate"] == pytest.approx(7 / 12)
    assert aa["chance_rate"] == pytest.approx(5 / 12)
    assert aa["excess"] == pytest.approx(1 / 6)
    assert aa["n_examples"] == 2
    assert bb["reinforcing_rate"] == pytest.approx(1 / 3) and bb["chance_rate"] == pytest.approx(1 / 6)
    assert pooled["reinforcing_rate"] == pytest.approx(0.5)
    assert pooled["chance_rate"] == pytest.approx(1 / 3)
    assert pooled["n_examples"] == 3
    assert 1 / 3 <= pooled["reinforcing_rate_lo"] <= 0.5 <= pooled["reinforcing_rate_hi"] <= 2 / 3


def test_smaller_k_changes_the_lists(topk, train):
    # k = 2: x1 a1 b1 -> rate 1 (chance 1/4); x2 a2 a3: no cross; x6 b3 a3 -> rate 1 (chance 1/4)
    per = example_reinforcement(topk, train, k=2)
    assert per["test_uid"].to_list() == ["x1", "x6"]
    assert per["reinforcing_rate"].to_list() == [1.0, 1.0]
    assert per["chance_rate"].to_list() == pytest.approx([0.25, 0.25])


def test_missing_training_rows_are_refused(topk, train):
    with pytest.raises(ValueError, match="missing"):
        example_reinforcement(topk, train.filter(pl.col("lang") != "cc"), k=4)


def test_label_matched_chance_by_hand(topk, train):
    """Items i1, i3 have label 0 and i2, i4 label 1 (in every language); test labels x1: 0, x2: 1, x6: 0.
    Chance draws from the cross language's items *with the test example's label*:
        x1 (own {i1}): b1, b2 -> bb label-0 items {i1, i3}: 1/2 each; c1 -> cc label-0 items {i1}: 1   -> 2/3
        x2 (own {i2, i3}): b4 -> bb label-1 items {i2, i4}: 1/2; c2 -> cc label-1 items {i2}: 1          -> 3/4
        x6 (own {i3}): a3, a1 -> aa label-0 items {i1, i3}: 1/2 each; c2 -> cc label-0 items {i1}: 0    -> 1/3
    The uniform chance (module docstring) was 1/3, 1/2 and 1/6: the label-matched one is higher."""
    labelled = train.with_columns(label=(pl.col("item_id").str.slice(1).cast(pl.Int64) + 1) % 2)
    test = pl.DataFrame({"uid": ["x1", "x2", "x3", "x4", "x5", "x6"], "label": [0, 1, 0, 0, 0, 0]})
    per = example_reinforcement(topk, labelled, k=4, test=test)
    chance = dict(zip(per["test_uid"], per["chance_rate"]))
    assert chance == pytest.approx({"x1": 2 / 3, "x2": 3 / 4, "x6": 1 / 3})
    rates = dict(zip(per["test_uid"], per["reinforcing_rate"]))
    assert rates == pytest.approx({"x1": 2 / 3, "x2": 1 / 2, "x6": 1 / 3})  # the rate does not depend on labels
