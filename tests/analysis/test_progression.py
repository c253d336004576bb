"""Cross-lingual share over three epochs, training languages aa and bb, k = 2.

    t1 (aa): epoch 1 aa aa (0), epoch 2 aa bb (1/2), epoch 3 bb bb (1)    -> slope 1/2 per epoch
    t2 (aa): epoch 1 aa bb, epoch 2 aa bb, epoch 3 aa bb (1/2 each)       -> slope 0
    t3 (cc, zero-shot): always 1                                           -> slope 0
Mean share of aa: 1/4, 1/2, 3/4 -> slope 1/4 (= mean of the per-example slopes (1/2 + 0)/2).
Pooled over the seen languages ('all'): only aa -> 1/4; with the zero-shot example it would be 1/6.
The 'all' checkpoint lists (all own-language) must be ignored.
"""

import polars as pl
import pytest

from influence_tables import build_lang_scores, build_topk
from lingtrace.analysis.progression import example_slopes, share_by_checkpoint, share_slopes

LISTS = {
    ("t1", "aa", "1"): ["aa-1", "aa-2"],
    ("t1", "aa", "2"): ["aa-1", "bb-1"],
    ("t1", "aa", "3"): ["bb-1", "bb-2"],
    ("t2", "aa", "1"): ["aa-1", "bb-1"],
    ("t2", "aa", "2"): ["aa-2", "bb-2"],
    ("t2", "aa", "3"): ["bb-1", "aa-1"],
    ("t3", "cc", "1"): ["aa-1", "bb-1"],
    ("t3", "cc", "2"): ["bb-1", "bb-2"],
    ("t3", "cc", "3"): ["aa-2", "aa-1"],
    ("t1", "aa", "all"): ["aa-1", "aa-2"],
    ("t2", "aa", "all"): ["aa-1", "aa-2"],
    ("t3", "cc", "all"): ["aa-1", "aa-2"],
}
TESTS = {"t1": "aa", "t2": "aa", "t3": "cc"}


@pytest.fixture
def run():
    return build_topk(LISTS), build_lang_scores(TESTS, {"aa": 2, "bb": 2}, checkpoints=("1", "2", "3", "all"))


def test_share_by_checkpoint(run):
    out = share_by_checkpoint(*run, k=2, n_boot=100)
    aa = out.filter(pl.col("test_lang") == "aa")
    assert aa["checkpoint"].to_list() == ["1", "2", "3"]
    assert aa["epoch"].to_list() == [1.0, 2.0, 3.0]
    assert aa["crosslingual_share"].to_list() == pytest.approx([0.25, 0.5, 0.75])
    assert out.filter(pl.col("test_lang") == "cc")["crosslingual_share"].to_list() == [1.0, 1.0, 1.0]


def test_example_slopes(run):
    slopes = example_slopes(*run, k=2)
    assert slopes["test_uid"].to_list() == ["t1", "t2", "t3"]
    assert slopes["slope"].to_list() == pytest.approx([0.5, 0.0, 0.0])
    assert slopes["n_checkpoints"].to_list() == [3, 3, 3]


def test_share_slopes_by_hand(run):
    out = share_slopes(*run, k=2, n_boot=200)
    assert out["test_lang"].to_list() == ["aa", "all", "cc"]
    aa, pooled, cc = out.iter_rows(named=True)
    assert aa["slope"] == pytest.approx(0.25)
    assert 0.0 <= aa["slope_lo"] <= 0.25 <= aa["slope_hi"] <= 0.5
    assert pooled["slope"] == pytest.approx(0.25) and pooled["n_examples"] == 2 and not pooled["zero_shot"]
    assert cc["slope"] == 0.0 and cc["zero_shot"]


def test_epochs_order_numerically():
    # epochs 2 and 10: the share goes 0 -> 1 over 8 epochs, slope 1/8 (text order would put '10' first)
    topk = build_topk({("t1", "aa", "2"): ["aa-1"], ("t1", "aa", "10"): ["bb-1"]})
    scores = build_lang_scores({"t1": "aa"}, {"aa": 1, "bb": 1}, checkpoints=("2", "10"))
    assert share_by_checkpoint(topk, scores, k=1, n_boot=10)["checkpoint"].to_list() == ["2", "10"]
    assert example_slopes(topk, scores, k=1)["slope"].item() == pytest.approx(1 / 8)


def test_a_single_checkpoint_has_no_slope():
    topk = build_topk({("t1", "aa", "1"): ["aa-1"]})
    scores = build_lang_scores({"t1": "aa"}, {"aa": 1}, checkpoints=("1",))
    assert example_slopes(topk, scores, k=1)["slope"].item() is None
    assert share_slopes(topk, scores, k=1, n_boot=10).is_empty()


def test_no_trained_checkpoint_gives_an_empty_slope_table_not_an_error(run):
    topk, scores = run
    untrained = pl.DataFrame({"checkpoint": ["1", "2", "3"], "trained": [False] * 3})
    out = share_slopes(topk, scores, k=2, n_boot=20, trained=untrained)
    assert out.is_empty() and {"slope", "slope_lo", "slope_hi", "test_lang"} <= set(out.columns)
