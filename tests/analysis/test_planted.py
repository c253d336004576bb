"""Planted similarity vs measured influence, languages aa, bb (training) and cc (zero-shot test).

Off-diagonal pairs (the diagonal carries huge values that must be left out):
    pair      mean_influence  similarity
    (aa, bb)  1.0             0.5
    (bb, aa)  2.0             0.4
    (cc, aa)  3.0             0.9
    (cc, bb)  4.0             0.7
    influence ranks  1 2 3 4      similarity ranks  2 1 4 3
    d = (1, 1, 1, 1), rho = 1 - 6 * sum(d^2) / (n (n^2 - 1)) = 1 - 6 * 4 / (4 * 15) = 0.6
"""

import polars as pl
import pytest

from lingtrace.analysis.planted import influence_vs_planted, planted_pairs, planted_spearman, share_vs_planted

INFLUENCE = {("aa", "aa"): 100.0, ("bb", "bb"): 100.0, ("aa", "bb"): 1.0, ("bb", "aa"): 2.0, ("cc", "aa"): 3.0,
             ("cc", "bb"): 4.0}
SIMILARITY = {("aa", "bb"): 0.5, ("bb", "aa"): 0.4, ("cc", "aa"): 0.9, ("cc", "bb"): 0.7}


@pytest.fixture
def planted():
    langs = ["aa", "bb", "cc"]
    return pl.DataFrame(
        [
            {"lang_a": a, "lang_b": b, "lexical_overlap": 0.0, "same_order": False, "same_family": False,
             "same_script": False, "similarity": 1.0 if a == b else SIMILARITY.get((a, b), 0.0)}
            for a in langs for b in langs
        ]
    )


@pytest.fixture
def matrix():
    rows = []
    for variant, sign in (("cosine", 1.0), ("dot", -1.0)):  # dot is reversed: rho -0.6
        for checkpoint in ("1", "all"):
            for (t, l), v in INFLUENCE.items():
                rows.append({"checkpoint": checkpoint, "variant": variant, "test_lang": t, "train_lang": l,
                             "mean_influence": sign * v})
    return pl.DataFrame(rows)


def test_planted_pairs_leave_out_the_diagonal(matrix, planted):
    rows = matrix.filter((pl.col("variant") == "cosine") & (pl.col("checkpoint") == "all"))
    pairs = planted_pairs(rows, planted, "mean_influence")
    assert pairs.height == 4
    assert (pairs["test_lang"] != pairs["train_lang"]).all()


def test_influence_vs_planted_by_hand(matrix, planted):
    out = influence_vs_planted(matrix, planted, variant="cosine")
    row = out.row(0, named=True)
    assert out.height == 1
    assert row["spearman"] == pytest.approx(0.6)
    assert row["n_pairs"] == 4 and row["variant"] == "cosine" and row["checkpoint"] == "all"
    assert 0.0 < row["p_value"] < 1.0
    assert influence_vs_planted(matrix, planted, variant="dot")["spearman"].item() == pytest.approx(-0.6)


def test_duplicated_pairs_are_refused(matrix, planted):
    with pytest.raises(ValueError, match="more than one value"):
        planted_spearman(matrix, planted, "mean_influence")


def test_per_run_when_stacked(matrix, planted):
    stacked = pl.concat([matrix.with_columns(run=pl.lit(r)) for r in ("joint", "without-aa")])
    out = influence_vs_planted(stacked, planted, variant="cosine")
    assert out["run"].to_list() == ["joint", "without-aa"]
    assert out["spearman"].to_list() == pytest.approx([0.6, 0.6])


def test_share_vs_planted(planted):
    # shares in the same order as the influence above: rho 0.6 again; other k rows must be ignored
    shares = pl.DataFrame(
        [
            {"checkpoint": "all", "variant": "cosine", "direction": "proponent", "k": k, "test_lang": t,
             "train_lang": l, "share": v / 10 if k == 2 else -v}
            for k in (2, 3)
            for (t, l), v in INFLUENCE.items()
        ]
    )
    out = share_vs_planted(shares, planted, k=2, variant="cosine")
    assert out["spearman"].item() == pytest.approx(0.6)
    assert out["measure"].item() == "share" and out["k"].item() == 2
