"""Ablation deltas, intervals over seeds and agreement with TracIn, on hand-computed fixtures."""

import polars as pl
import pytest

from lingtrace.validation.ablation import ablation_deltas, agreement, mono_baselines, t_interval


def metrics_rows():
    # Final checkpoint 2 (checkpoint 1 must be ignored). Two seeds.
    rows = []
    acc = {  # (run, seed) -> {lang: accuracy}
        ("joint", 0): {"a": 0.8, "b": 0.7},
        ("joint", 1): {"a": 0.9, "b": 0.7},
        ("without-a", 0): {"a": 0.5, "b": 0.6},
        ("without-a", 1): {"a": 0.7, "b": 0.7},
        ("mono-b", 0): {"a": 0.3, "b": 0.6},
        ("mono-b", 1): {"a": 0.4, "b": 0.7},
    }
    for (run, seed), langs in acc.items():
        for lang, a in langs.items():
            rows.append({"run": run, "seed": seed, "checkpoint": 2, "lang": lang, "accuracy": a, "loss": 1 - a})
            rows.append({"run": run, "seed": seed, "checkpoint": 1, "lang": lang, "accuracy": 0.0, "loss": 9.0})
    return pl.DataFrame(rows)


def test_deltas_are_paired_by_seed():
    deltas = ablation_deltas(metrics_rows())
    row = deltas.filter((pl.col("removed_lang") == "a") & (pl.col("test_lang") == "a")).row(0, named=True)
    # seed 0: 0.5-0.8 = -0.3; seed 1: 0.7-0.9 = -0.2 -> mean -0.25
    assert row["delta_accuracy"] == pytest.approx(-0.25)
    assert row["delta_loss"] == pytest.approx(0.25)
    assert row["n_seeds"] == 2
    # t-interval with 1 dof: sd = 0.0707, t(0.975, 1) = 12.706 -> half width 12.706 * 0.0707 / sqrt(2) = 0.635
    assert row["delta_accuracy_low"] == pytest.approx(-0.25 - 0.6353, abs=1e-3)
    other = deltas.filter(pl.col("test_lang") == "b").row(0, named=True)
    assert other["delta_accuracy"] == pytest.approx(-0.05)  # (-0.1 + 0.0) / 2


def test_t_interval_needs_two_values():
    low, high = t_interval([0.5])
    assert low != low and high != high  # nan


def test_mono_baselines():
    mono = mono_baselines(metrics_rows())
    assert mono.filter(pl.col("test_lang") == "a")["accuracy"].item() == pytest.approx(0.35)


def test_agreement_excludes_the_diagonal():
    deltas = pl.DataFrame(
        {
            "removed_lang": ["a", "a", "a", "b", "b", "b"],
            "test_lang": ["a", "b", "c", "a", "b", "c"],
            "delta_accuracy": [-0.9, -0.3, -0.1, -0.2, -0.9, 0.0],
        }
    )
    influence = pl.DataFrame(
        {
            "test_lang": ["b", "c", "a", "c", "a", "b"],
            "train_lang": ["a", "a", "b", "b", "a", "b"],
            "share": [0.5, 0.2, 0.3, 0.1, 0.9, 0.9],
        }
    )
    # off-diagonal pairs: (b<-a): harm .3, share .5; (c<-a): .1, .2; (a<-b): .2, .3; (c<-b): 0, .1
    # harms rank 4,2,3,1 ; shares rank 4,2,3,1 -> rho = 1
    result = agreement(deltas, influence, "share")
    assert result["n_pairs"] == 4
    assert result["spearman"] == pytest.approx(1.0)
