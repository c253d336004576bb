"""Influence matrix on training languages aa (2 examples) and bb (4); test t1, t2 (aa) and t3 (cc, zero-shot).

score_sum / n_train per example:
    t1: aa 2/2 = 1,  bb 4/4 = 1
    t2: aa 6/2 = 3,  bb -4/4 = -1     -> M[aa, aa] = (1 + 3)/2 = 2,  M[aa, bb] = (1 - 1)/2 = 0
    t3: aa 1/2 = .5, bb 8/4 = 2       -> M[cc, aa] = 0.5,            M[cc, bb] = 2
Row-scaled (by the largest |M| of the row): aa row 2 -> (1, 0); cc row 2 -> (0.25, 1).
"""

import polars as pl
import pytest

from influence_tables import build_lang_scores
from lingtrace.analysis.matrix import example_influence, influence_matrix

TESTS = {"t1": "aa", "t2": "aa", "t3": "cc"}
SUMS = {("t1", "aa"): 2.0, ("t1", "bb"): 4.0, ("t2", "aa"): 6.0, ("t2", "bb"): -4.0, ("t3", "aa"): 1.0,
        ("t3", "bb"): 8.0}


@pytest.fixture
def scores():
    return build_lang_scores(TESTS, {"aa": 2, "bb": 4}, variant="cosine", score_sums=SUMS)


def _cell(matrix, test_lang, train_lang, column="mean_influence"):
    return matrix.filter((pl.col("test_lang") == test_lang) & (pl.col("train_lang") == train_lang))[column].item()


def test_example_influence_divides_by_n_train(scores):
    per = example_influence(scores)
    t2 = per.filter(pl.col("test_uid") == "t2").sort("train_lang")
    assert t2["influence"].to_list() == [3.0, -1.0]
    assert per.filter(pl.col("test_uid") == "t3")["zero_shot"].all()


def test_influence_matrix_by_hand(scores):
    m = influence_matrix(scores, n_boot=200)
    assert m.height == 4
    assert _cell(m, "aa", "aa") == pytest.approx(2.0)
    assert _cell(m, "aa", "bb") == pytest.approx(0.0)
    assert _cell(m, "cc", "aa") == pytest.approx(0.5)
    assert _cell(m, "cc", "bb") == pytest.approx(2.0)
    assert _cell(m, "aa", "aa", "relative_influence") == pytest.approx(1.0)
    assert _cell(m, "aa", "bb", "relative_influence") == pytest.approx(0.0)
    assert _cell(m, "cc", "aa", "relative_influence") == pytest.approx(0.25)
    assert _cell(m, "aa", "aa", "n_examples") == 2
    assert _cell(m, "cc", "bb", "zero_shot") and not _cell(m, "aa", "bb", "zero_shot")
    # interval over the two aa examples (1 and 3) holds the mean
    assert 1.0 <= _cell(m, "aa", "aa", "mean_influence_lo") <= 2.0 <= _cell(m, "aa", "aa", "mean_influence_hi") <= 3.0


def test_matrix_is_per_checkpoint_and_variant():
    both = pl.concat(
        [
            build_lang_scores(TESTS, {"aa": 2, "bb": 4}, checkpoints=("1", "all"), variant=v, score_sums=SUMS)
            for v in ("dot", "cosine")
        ]
    )
    m = influence_matrix(both, n_boot=20)
    assert m.group_by("checkpoint", "variant").len()["len"].to_list() == [4, 4, 4, 4]
