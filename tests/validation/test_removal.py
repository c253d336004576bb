"""The removal test's sampling, removal sets and effects, on hand-made tables."""

import polars as pl
import pytest

from lingtrace.validation.removal import (
    random_removal,
    removal_effects,
    sample_test_examples,
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


def test_tracin_removal_takes_top_m_summed_proponents():
    topk = pl.DataFrame(
        {
            "test_uid": ["t1"] * 4 + ["t2"] * 2 + ["t1"],
            "checkpoint": ["all"] * 6 + ["1"],
            "variant": ["dot"] * 7,
            "direction": ["proponent", "proponent", "proponent", "opponent", "proponent", "proponent", "proponent"],
            "rank": [1, 2, 3, 1, 1, 2, 1],
            "train_uid": ["x", "y", "z", "o", "y", "w", "q"],
        }
    )
    sample = pl.DataFrame({"test_uid": ["t1", "t2"]})
    assert tracin_removal(topk, sample, m=2, variant="dot") == ["w", "x", "y"]


def test_random_removal_is_seeded():
    pool = [f"u{i}" for i in range(100)]
    assert random_removal(pool, 5, 0) == random_removal(pool, 5, 0)
    assert len(set(random_removal(pool, 5, 0))) == 5


def test_effects_against_joint_of_the_same_seed():
    predictions = pl.DataFrame(
        {
            "run": ["joint", "joint", "remove-tracin", "remove-tracin", "remove-random", "remove-random"] * 2,
            "seed": [0] * 6 + [1] * 6,
            "uid": ["t1", "t2"] * 6,
            "loss": [1.0, 2.0, 2.0, 4.0, 1.5, 2.0, 1.0, 1.0, 1.5, 1.5, 1.0, 1.0],
        }
    )
    effects = removal_effects(predictions, pl.DataFrame({"test_uid": ["t1", "t2"]}))
    # tracin: seed 0 -> (1 + 2)/2 = 1.5, seed 1 -> 0.5; random: seed 0 -> 0.25, seed 1 -> 0
    summary = summarise_removal(effects)
    assert summary["tracin_effect"] == pytest.approx(1.0)
    assert summary["random_effect"] == pytest.approx(0.125)
    assert summary["ratio"] == pytest.approx(8.0)
    assert summary["difference"] == pytest.approx(0.875)


def test_no_ratio_when_random_removal_does_not_hurt():
    effects = pl.DataFrame({"kind": ["random", "tracin"], "seed": [0, 0], "effect": [-0.01, 0.5]})
    summary = summarise_removal(effects)
    assert summary["ratio"] is None
    assert summary["difference"] == pytest.approx(0.51)
    sentence = validation_findings({"ablation": {"agreement": None}, "removal_test": summary})[0]
    assert "no ratio" in sentence and "0.510" in sentence


def test_agreement_wording_follows_significance():
    def sentence(spearman, p_value):
        agreement = {"share": {"spearman": spearman, "p_value": p_value, "n_pairs": 30}}
        return validation_findings({"ablation": {"agreement": agreement}})[0]

    assert "agrees with TracIn" in sentence(0.6, 0.001)
    assert "no significant agreement" in sentence(0.3, 0.1)
    assert "no significant agreement" in sentence(-0.4, 0.01)
