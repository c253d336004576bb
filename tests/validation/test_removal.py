"""The removal test: sampling, capped TracIn sets, matched random draws and the specific effect, by hand."""

import polars as pl
import pytest

from lingtrace.validation.removal import (
    composition,
    removal_effects,
    sample_test_examples,
    specific_effects,
    stratified_draw,
    summarise_removal,
    tracin_removal,
)
from lingtrace.validation.stage import validation_findings


def test_sample_is_seeded_and_per_language():
    scored = pl.DataFrame({"test_uid": [f"{l}{i}" for l in "ab" for i in range(10)], "test_lang": ["a"] * 10 + ["b"] * 10})
    one = sample_test_examples(scored, 3, seed=0)
    assert one.group_by("test_lang").len().sort("test_lang")["len"].to_list() == [3, 3]
    assert one.equals(sample_test_examples(scored, 3, seed=0))
    assert not one.equals(sample_test_examples(scored, 3, seed=1))


TOPK = pl.DataFrame({
    "test_uid": ["t1"] * 4 + ["t2"] * 3 + ["t1"],
    "checkpoint": ["all"] * 7 + ["1"],
    "variant": ["dot"] * 8,
    "direction": ["proponent", "proponent", "proponent", "opponent", "proponent", "proponent", "proponent", "proponent"],
    "rank": [1, 2, 3, 1, 1, 2, 3, 1],
    "train_uid": ["x", "y", "z", "o", "y", "w", "v", "q"],
})  # fmt: skip


def test_tracin_removal_takes_proponents_rank_by_rank_up_to_the_limit():
    sample = pl.DataFrame({"test_uid": ["t1", "t2"]})
    assert tracin_removal(TOPK, sample, m=2, variant="dot") == ["w", "x", "y"]
    # rank 1 brings {x, y}; rank 2 would add {y, w} -> {x, y, w} (3 <= 3); rank 3 would add {z, v}: over
    assert tracin_removal(TOPK, sample, m=3, variant="dot", limit=3) == ["w", "x", "y"]
    assert tracin_removal(TOPK, sample, m=3, variant="dot", limit=2) == ["x", "y"]


TRAIN = pl.DataFrame({
    "uid": [f"u{i}" for i in range(12)],
    "lang": ["a"] * 6 + ["b"] * 6,
    "label": [0, 0, 0, 1, 1, 1] * 2,
})  # fmt: skip


def test_random_removal_matches_the_label_by_language_composition_exactly():
    removed = ["u0", "u1", "u3", "u6"]  # a/0 twice, a/1 once, b/0 once
    cells = composition(TRAIN, removed)
    assert cells.rows() == [("a", 0, 2), ("a", 1, 1), ("b", 0, 1)]
    for draw in range(5):
        drawn = stratified_draw(TRAIN, cells, 7, draw)
        assert composition(TRAIN, drawn).rows() == cells.rows()
    assert stratified_draw(TRAIN, cells, 7, 0) == stratified_draw(TRAIN, cells, 7, 0)


def predictions(losses: dict) -> pl.DataFrame:
    """losses[(run, seed)] = {uid: loss}; uids t1..t4: t1, t2 lang a label 0; t3 lang a label 1; t4 lang b label 0."""
    meta = {"t1": ("a", 0), "t2": ("a", 0), "t3": ("a", 1), "t4": ("b", 0)}
    return pl.DataFrame([{"run": run, "seed": seed, "uid": uid, "lang": meta[uid][0], "label": meta[uid][1],
                          "loss": loss} for (run, seed), by_uid in losses.items() for uid, loss in by_uid.items()])  # fmt: skip


def test_specific_effect_by_hand():
    """Sampled t1. Joint losses 1 everywhere. remove-tracin: t1 +3, t2 (same lang and label, not sampled) +1,
    t3 (other label) +5: specific effect of t1 = 3 - 1 = 2 (t3 does not count). remove-random-0: t1 +1, t2 +1:
    specific 0."""
    table = predictions({
        ("joint", 0): {"t1": 1.0, "t2": 1.0, "t3": 1.0, "t4": 1.0},
        ("remove-tracin", 0): {"t1": 4.0, "t2": 2.0, "t3": 6.0, "t4": 1.0},
        ("remove-random-0", 0): {"t1": 2.0, "t2": 2.0, "t3": 1.0, "t4": 1.0},
    })  # fmt: skip
    sample = pl.DataFrame({"test_uid": ["t1"]})
    effects = removal_effects(table, sample)
    tracin = effects.filter(pl.col("kind") == "tracin").row(0, named=True)
    assert (tracin["delta"], tracin["baseline"], tracin["specific"]) == (3.0, 1.0, 2.0)
    assert effects.filter(pl.col("kind") == "random")["specific"].item() == 0.0
    summary = summarise_removal(effects, n_boot=100, level=0.95, seed=0)
    assert summary["specific_effect"]["tracin"]["mean"] == 2.0
    assert summary["specific_effect"]["difference"]["mean"] == 2.0
    assert summary["tracin_effect"] == 3.0 and summary["random_effect"] == 1.0
    sentences = validation_findings({"ablation": {"agreement": {"within_language": {"mean_spearman": None}}},
                                     "removal_test": summary}, 0.95)  # fmt: skip
    assert "+2.000 beyond the other test examples" in sentences[0]


def test_a_sampled_example_alone_in_its_cell_has_no_specific_effect():
    table = predictions({("joint", 0): {"t4": 1.0}, ("remove-tracin", 0): {"t4": 2.0}})
    spec = specific_effects(table.filter(pl.col("run") == "remove-tracin").select(
        "seed", "uid", "lang", "label", delta=pl.lit(1.0)), pl.DataFrame({"test_uid": ["t4"]}))  # fmt: skip
    assert spec["specific"].item() is None
