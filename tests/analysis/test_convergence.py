"""Seed convergence and trained checkpoints, read off a hand-written metrics table."""

import polars as pl
import pytest

from lingtrace.analysis.convergence import seed_convergence, seed_spread, trained_checkpoints


def metrics(rows):
    return pl.DataFrame([{"run": r, "seed": s, "checkpoint": c, "lang": lang, "n": 10, "accuracy": a, "loss": 1.0}
                         for r, s, c, lang, a in rows])  # fmt: skip


def test_a_seed_far_from_the_others_is_not_converged():
    # joint: seeds 0 and 1 agree; seed 2 is 20 points lower on aa. Medians: aa 0.80, bb 0.70.
    table = metrics([("joint", 0, 4, "aa", 0.80), ("joint", 0, 4, "bb", 0.70), ("joint", 1, 4, "aa", 0.82),
                     ("joint", 1, 4, "bb", 0.71), ("joint", 2, 4, "aa", 0.60), ("joint", 2, 4, "bb", 0.70),
                     ("joint", 2, 4, "zz", 0.10), ("joint", 0, 3, "aa", 0.10)])  # fmt: skip
    out = seed_convergence(table, ["aa", "bb"], tolerance=0.05)
    flags = dict(out.select("seed", "converged").unique().iter_rows())
    assert flags == {0: True, 1: True, 2: False}
    assert out.filter((pl.col("seed") == 2) & (pl.col("lang") == "aa"))["deviation"].item() == pytest.approx(0.2)
    spread = seed_spread(table, ["aa", "bb"])
    assert spread.filter(pl.col("lang") == "aa")["spread"].item() == pytest.approx(0.22)


def test_trained_checkpoints_pass_the_bar_between_chance_and_final():
    # chance 0.5, final 0.9, fraction 0.75: the bar is 0.5 + 0.75 * 0.4 = 0.8
    table = metrics([("joint", 0, 1, "aa", 0.55), ("joint", 0, 2, "aa", 0.79), ("joint", 0, 3, "aa", 0.85),
                     ("joint", 0, 4, "aa", 0.90)])  # fmt: skip
    out = trained_checkpoints(table, ["aa"], chance=0.5, fraction=0.75)
    assert dict(out.select("checkpoint", "trained").iter_rows()) == {"1": False, "2": False, "3": True, "4": True}
