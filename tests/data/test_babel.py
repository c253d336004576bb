"""The babel generator: planted structure, parallelism, determinism."""

import numpy as np
import pytest

from lingtrace.data import babel

LANGS = [
    {"code": "aa", "family": "f", "script": "latin", "overlap": 0.9, "loan": 0.0},
    {"code": "ab", "family": "f", "script": "latin", "overlap": 0.5, "loan": 0.0},
    {"code": "ac", "family": "f", "script": "greek", "overlap": 0.9, "loan": 0.0},
    {"code": "ba", "family": "g", "script": "latin", "overlap": 0.9, "loan": 0.0},
]


def world(languages=LANGS, seed=1):
    return babel.World.from_config({"seed": seed, "languages": languages})


def overlap(w, a, b):
    return babel.lexical_overlap(w.lexicon(a), w.lexicon(b))


def test_family_members_share_about_the_smaller_overlap():
    w = world()
    assert overlap(w, "aa", "ab") == pytest.approx(0.5, abs=0.15)
    assert overlap(w, "aa", "ba") < 0.1


def test_different_scripts_share_no_surface_form():
    w = world()
    assert overlap(w, "aa", "ac") == 0.0
    assert all(ch in babel.SCRIPTS["greek"] for form in w.lexicon("ac").values() for ch in form)


def test_loanwords_are_shared_across_families():
    langs = [dict(lang, loan=0.4) for lang in LANGS]
    w = world(langs)
    assert overlap(w, "aa", "ba") == pytest.approx(0.4, abs=0.15)


def test_user_declared_languages_change_the_planted_matrix():
    w1 = world()
    w2 = world([dict(LANGS[0]), dict(LANGS[1], family="other")])
    sim1 = {(r["lang_a"], r["lang_b"]): r["similarity"] for r in w1.similarity(["aa", "ab"])}
    sim2 = {(r["lang_a"], r["lang_b"]): r["similarity"] for r in w2.similarity(["aa", "ab"])}
    assert sim1[("aa", "ab")] > sim2[("aa", "ab")] + 0.3


def test_similarity_adds_word_order_weight():
    langs = [dict(LANGS[0], order="SVO"), dict(LANGS[3], order="SVO"), dict(LANGS[1], code="xx", order="SOV")]
    w = babel.World.from_config({"seed": 1, "languages": langs, "order_weight": 0.25})
    rows = {(r["lang_a"], r["lang_b"]): r for r in w.similarity(["aa", "ba", "xx"])}
    assert rows[("aa", "ba")]["similarity"] == pytest.approx(rows[("aa", "ba")]["lexical_overlap"] + 0.25)
    assert rows[("aa", "xx")]["similarity"] == pytest.approx(rows[("aa", "xx")]["lexical_overlap"])
    assert rows[("aa", "aa")]["similarity"] == pytest.approx(1.25)


def test_lexicon_of_a_language_ignores_other_declarations():
    assert world().lexicon("aa") == world(LANGS[:1]).lexicon("aa")


def test_forms_within_a_language_are_distinct():
    lex = world().lexicon("ab")
    assert len(set(lex.values())) == len(lex)


@pytest.mark.parametrize("shape", sorted(babel.TASK_SHAPES))
def test_items_are_deterministic_and_labels_in_range(shape):
    w = world()
    first = [babel.make_item(shape, babel.rng_for(5), w.inventory) for _ in range(1)]
    again = [babel.make_item(shape, babel.rng_for(5), w.inventory) for _ in range(1)]
    assert first == again
    rng = babel.rng_for(9)
    labels = [babel.make_item(shape, rng, w.inventory).label for _ in range(600)]
    counts = np.bincount(labels, minlength=babel.TASK_SHAPES[shape])
    assert len(counts) == babel.TASK_SHAPES[shape]
    assert counts.min() > 0.6 * counts.mean()  # roughly balanced classes


def test_word_order_is_rendered():
    langs = [dict(LANGS[0], order="SVO", adjective="before"), dict(LANGS[0], code="zz", order="SOV")]
    w = babel.World.from_config({"seed": 1, "languages": langs})
    p = babel.Proposition(subject=0, verb=0, obj=1)
    svo, sov = babel.Renderer(w, "aa").proposition(p), babel.Renderer(w, "zz").proposition(p)
    lex = w.lexicon("aa")
    assert svo.index(lex["V0"]) < svo.index(lex["E1"])
    lex_z = w.lexicon("zz")
    assert sov.index(lex_z["V0"]) > sov.index(lex_z["E1"])


def test_review_rating_follows_polarity():
    inv = babel.Inventory(entities=30, verbs=12, adjectives=12, aspects=10)
    good = babel.Clause(aspect=0, adjective=2, modifier="VERY")  # strength 2, positive, doubled
    assert babel.review_rating(babel.review_score([good], inv)) == 4
    assert babel.review_rating(babel.review_score([babel.Clause(0, 2, "NEG")], inv)) == 1


def test_review_with_impossible_rating_raises_instead_of_looping():
    inv = babel.Inventory(entities=30, verbs=12, adjectives=2, aspects=10)  # polarities +-1 only: a 1-clause review never scores 0 or 4
    rng = babel.rng_for(0)
    with pytest.raises(ValueError, match="rating"):
        for _ in range(50):
            babel.review_item(rng, inv, clauses=1, context=0)
