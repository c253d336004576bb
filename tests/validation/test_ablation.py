"""Ablation deltas, intervals over seeds and agreement with TracIn, on hand-computed fixtures."""

import math

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


def loss_predictions():
    """Test languages a, b (two examples each), c; removed languages a, b, c; two seeds. Joint losses 1.
    The control run adds 0.5 everywhere. Removing L adds harm[T][L] (+0.5 control-like baseline)."""
    harm = {"a": {"b": 0.4, "c": 0.1}, "b": {"a": 0.3, "c": 0.2}, "c": {"a": 0.05, "b": 0.6}}
    uids = {"a": ["a1", "a2"], "b": ["b1", "b2"], "c": ["c1"]}
    rows = []
    for seed in (0, 1):
        for lang, members in uids.items():
            for uid in members:
                rows.append({"run": "joint", "seed": seed, "uid": uid, "lang": lang, "loss": 1.0})
                rows.append({"run": "without-random", "seed": seed, "uid": uid, "lang": lang, "loss": 1.5})
                for gone in "abc":
                    extra = 2.0 if gone == lang else harm[lang][gone]
                    rows.append({"run": f"without-{gone}", "seed": seed, "uid": uid, "lang": lang,
                                 "loss": 1.5 + extra})  # fmt: skip
    return pl.DataFrame(rows)


def test_loss_changes_subtract_the_control_run():
    from lingtrace.validation.ablation import loss_deltas

    deltas = loss_deltas(loss_predictions(), ["a", "b", "c"])
    row = deltas.filter((pl.col("removed_lang") == "b") & (pl.col("uid") == "a1") & (pl.col("seed") == 0)).row(0, named=True)
    assert row["delta"] == pytest.approx(0.9) and row["control"] == pytest.approx(0.5)
    assert row["specific"] == pytest.approx(0.4)


def test_agreement_needs_three_removed_languages_per_test_language():
    """With three fine-tuning languages each test language has two other removed languages: a Spearman
    correlation over two points means nothing, so none is reported."""
    from lingtrace.validation.ablation import agreement_summary, loss_deltas

    reliance = pl.DataFrame({"test_lang": ["a", "a", "b", "b", "c", "c"], "train_lang": ["b", "c", "a", "c", "a", "b"],
                             "reliance": [0.3, 0.1, 0.1, 0.4, 0.1, 0.2]})  # fmt: skip
    out = agreement_summary(loss_deltas(loss_predictions(), ["a", "b", "c"]), reliance, n_boot=50, level=0.95, seed=0)
    assert out["seeds"] == 2 and out["measure"] == "specific"
    assert all(math.isnan(v) for v in out["per_language"].values()) and math.isnan(out["mean_spearman"])


def test_within_language_agreement_with_four_languages():
    """Test language t, removed languages p, q, r: harm 0.3, 0.2, 0.1 and reliance 0.5, 0.4, 0.1 -> rho 1;
    a second test language u with harm reversed against reliance -> rho -1; mean 0."""
    from lingtrace.validation.ablation import agreement_summary

    rows = []
    for seed in (0, 1, 2):
        for gone, harm_t, harm_u in (("p", 0.3, 0.1), ("q", 0.2, 0.2), ("r", 0.1, 0.3)):
            rows.append({"removed_lang": gone, "seed": seed, "uid": "t1", "lang": "t", "specific": harm_t})
            rows.append({"removed_lang": gone, "seed": seed, "uid": "u1", "lang": "u", "specific": harm_u})
    deltas = pl.DataFrame(rows)
    reliance = pl.DataFrame({"test_lang": ["t"] * 3 + ["u"] * 3, "train_lang": ["p", "q", "r"] * 2,
                             "reliance": [0.5, 0.4, 0.1, 0.5, 0.4, 0.1]})  # fmt: skip
    out = agreement_summary(deltas, reliance, n_boot=50, level=0.95, seed=0)
    assert out["per_language"] == pytest.approx({"t": 1.0, "u": -1.0})
    assert out["mean_spearman"] == pytest.approx(0.0) and out["interval"] == pytest.approx([0.0, 0.0])


def test_control_set_removes_as_much_as_one_language():
    from lingtrace.validation.ablation import control_set

    train = pl.DataFrame({"uid": [f"u{i}" for i in range(30)]})
    removed = control_set(train, ["a", "b", "c"], seed=0)
    assert len(removed) == 10 and removed == control_set(train, ["a", "b", "c"], seed=0)
