"""The planted check: Spearman and partial Spearman on language pairs, Mantel permutation p-values, the
zero-overlap contrast, each against a case computed by hand."""

import math

import numpy as np
import polars as pl
import pytest

from lingtrace.analysis.planted import mantel_p, partial_spearman_rows, permutations, planted_check, spearman_rows


def test_spearman_rows_matches_the_textbook_formula():
    # ranks of x: 1 2 3 4; of y: 2 1 4 3; d = 1 each: rho = 1 - 6 * 4 / (4 * 15) = 0.6
    assert spearman_rows(np.array([1.0, 2, 3, 4]), np.array([0.5, 0.4, 0.9, 0.7]))[0] == pytest.approx(0.6)


def test_partial_spearman_by_hand():
    """Ranks x = 1 2 3 4 5, y = 2 1 4 3 5, z = 2 1 3 5 4, so with rho = 1 - 6 sum d^2 / (n (n^2 - 1)), n = 5:
    r_xy = 1 - 6*4/120 = 0.8, r_xz = 1 - 6*4/120 = 0.8, r_yz = 1 - 6*6/120 = 0.7, and the partial
    correlation is (0.8 - 0.8 * 0.7) / sqrt((1 - 0.64) (1 - 0.49)) = 0.24 / sqrt(0.1836)."""
    x, y, z = np.array([1.0, 2, 3, 4, 5]), np.array([2.0, 1, 4, 3, 5]), np.array([2.0, 1, 3, 5, 4])
    assert spearman_rows(x, y)[0] == pytest.approx(0.8) and spearman_rows(y, z)[0] == pytest.approx(0.7)
    assert partial_spearman_rows(x, y, z)[0] == pytest.approx(0.24 / math.sqrt(0.1836))
    assert np.isnan(partial_spearman_rows(x, y, y)[0])  # nothing is left once y itself is controlled for


def test_permutations_are_exhaustive_for_few_languages():
    perms, exhaustive = permutations(4, 1000, seed=0)
    assert exhaustive and len(perms) == 24 and (perms[0] == np.arange(4)).all()
    sampled, exhaustive = permutations(9, 500, seed=0)
    assert not exhaustive and len(sampled) == 500 and (sampled[0] == np.arange(9)).all()


def test_mantel_p_on_a_known_matrix():
    """Three languages, all six ordered pairs, planted values all distinct. A measure equal to the planted
    one: of the 3! relabellings only the identity ranks the pairs the same, so p = 1/6. The reversed
    measure: every relabelling does at least as well as the observed rho = -1, so p = 1."""
    planted = np.array([[0, 1.0, 2.0], [3.0, 0, 4.0], [5.0, 6.0, 0]])
    pairs = np.array([(a, b) for a in range(3) for b in range(3) if a != b])
    measured = planted[pairs[:, 0], pairs[:, 1]]
    perms, exhaustive = permutations(3, 100, seed=0)
    assert exhaustive
    assert mantel_p(spearman_rows, measured, planted, pairs, perms) == pytest.approx(1 / 6)
    assert mantel_p(spearman_rows, -measured, planted, pairs, perms) == pytest.approx(1.0)


LANGS = {"ala": ("alpha", "latin"), "alg": ("alpha", "greek"), "bea": ("beta", "latin"), "beb": ("beta", "cyrillic")}


def planted_table():
    rows = []
    for a, (fa, sa) in LANGS.items():
        for b, (fb, sb) in LANGS.items():
            sim = 1.0 if a == b else (0.8 if fa == fb else 0.1) + (0.05 if sa == sb else 0.0)
            rows.append({"lang_a": a, "lang_b": b, "similarity": sim, "same_family": fa == fb, "same_script": sa == sb})
    return pl.DataFrame(rows)


def overlap_table():
    return pl.DataFrame([{"lang_a": a, "lang_b": b, "overlap": 1.0 if a == b else (0.5 if LANGS[a][1] == LANGS[b][1] else 0.0)}
                         for a in LANGS for b in LANGS])  # fmt: skip


def per_example(reliance: dict, n_items: int = 20, seeds=(0, 1)):
    rows = []
    for seed in seeds:
        for t in LANGS:
            for i in range(n_items):
                for l in LANGS:
                    if l != t:
                        rows.append({"seed": seed, "item": f"i{i}", "test_lang": t, "train_lang": l,
                                     "value": reliance(t, l) + 0.01 * ((i + seed) % 3)})  # fmt: skip
    return pl.DataFrame(rows)


def test_a_model_that_shares_across_scripts_beats_the_surface_baselines():
    family = lambda t, l: 0.3 if LANGS[t][0] == LANGS[l][0] else 0.05  # noqa: E731  (learned sharing)
    surface = lambda t, l: 0.3 if LANGS[t][1] == LANGS[l][1] else 0.0  # noqa: E731  (shared forms only)
    table, summary = planted_check(per_example(family), per_example(surface, seeds=(0,)), planted_table(),
                                   overlap_table(), cluster="item", n_boot=200, level=0.95, seed=0,
                                   max_permutations=1000)  # fmt: skip
    contrast = summary["zero_overlap_contrast"]
    # close cross-script pairs: ala-alg, alg-ala, bea-beb, beb-bea (0.3); far ones 0.05; +0.01 jitter averages out
    assert contrast["value"] == pytest.approx(0.25, abs=1e-9)
    assert contrast["close_pairs"] == 4 and contrast["far_pairs"] == 6
    assert contrast["interval"][0] > 0
    assert summary["spearman"] > summary["baselines"]["tfidf"]["spearman"]
    assert summary["baselines"]["tfidf"]["zero_overlap_contrast"] == pytest.approx(0.0)
    assert summary["permutations"] == {"count": 24, "exhaustive": True}
    assert set(table["measure"]) == {"tracin", "tfidf", "word_overlap"}
