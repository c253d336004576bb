"""The babel generator: planted structure, parallelism, determinism."""

import hashlib

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
    """Surface overlap: the share of concepts two languages write identically."""
    return babel.share_identical(w.lexicon(a), w.lexicon(b))


def content_overlap(w, a, b):
    la, lb = w.lexicon(a), w.lexicon(b)
    content = [c for c in la if c not in babel.FUNCTION_WORDS]
    return babel.share_identical({c: la[c] for c in content}, {c: lb[c] for c in content})


def test_family_members_share_about_the_smaller_overlap():
    w = world()
    assert content_overlap(w, "aa", "ab") == pytest.approx(0.5, abs=0.15)
    assert overlap(w, "aa", "ba") < 0.1


def test_different_scripts_share_no_surface_form():
    w = world()
    assert overlap(w, "aa", "ac") == 0.0
    assert all(ch in babel.SCRIPTS["greek"] for form in w.lexicon("ac").values() for ch in form)
    rows = {(r["lang_a"], r["lang_b"]): r for r in w.similarity(["aa", "ac"])}
    assert rows[("aa", "ac")]["surface_overlap"] == 0.0
    assert rows[("aa", "ac")]["cognate_share"] > 0.8  # cognate under the script: planted, not visible


def test_function_words_of_a_family_differ_below_function_overlap():
    langs = [dict(LANGS[0], function_overlap=0.6), dict(LANGS[1], function_overlap=0.6)]
    w = world(langs)
    la, lb = w.lexicon("aa"), w.lexicon("ab")
    shared = [la[f] == lb[f] for f in babel.FUNCTION_WORDS]
    assert 0 < sum(shared) < len(shared)
    assert all(world(LANGS[:2]).lexicon("aa")[f] == world(LANGS[:2]).lexicon("ab")[f] for f in babel.FUNCTION_WORDS)


def test_loanwords_are_shared_across_families():
    langs = [dict(lang, loan=0.4) for lang in LANGS]
    w = world(langs)
    assert content_overlap(w, "aa", "ba") == pytest.approx(0.4, abs=0.15)


def test_user_declared_languages_change_the_planted_matrix():
    w1 = world()
    w2 = world([dict(LANGS[0]), dict(LANGS[1], family="other")])
    sim1 = {(r["lang_a"], r["lang_b"]): r["similarity"] for r in w1.similarity(["aa", "ab"])}
    sim2 = {(r["lang_a"], r["lang_b"]): r["similarity"] for r in w2.similarity(["aa", "ab"])}
    assert sim1[("aa", "ab")] > sim2[("aa", "ab")] + 0.3


def test_similarity_adds_word_order_weight():
    langs = [dict(LANGS[0], order="SVO"), dict(LANGS[3], order="SVO"), dict(LANGS[1], code="xx", order="SOV")]
    langs[2]["morphology"] = "case"
    w = babel.World.from_config({"seed": 1, "languages": langs, "order_weight": 0.25, "adjective_weight": 0.125,
                                 "morphology_weight": 0.0625})  # fmt: skip
    rows = {(r["lang_a"], r["lang_b"]): r for r in w.similarity(["aa", "ba", "xx"])}
    assert rows[("aa", "ba")]["similarity"] == pytest.approx(rows[("aa", "ba")]["cognate_share"] + 0.25 + 0.125 + 0.0625)
    assert rows[("aa", "xx")]["similarity"] == pytest.approx(rows[("aa", "xx")]["cognate_share"] + 0.125)
    assert rows[("aa", "aa")]["similarity"] == pytest.approx(1.4375)


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


def test_review_rating_follows_polarity_flipped_by_not():
    inv = babel.Inventory(entities=30, verbs=12, adjectives=12, aspects=10)
    rng = babel.rng_for(0)
    for _ in range(300):
        item = babel.review_item(rng, inv, context=0)
        (clause,) = item.clauses
        polarity = inv.polarity(clause.adjective)
        assert item.label == 2 + (-polarity if clause.modifier == "NEG" else polarity)


def label_share_by(values, labels):
    """{value: share of each label among the items with that value}."""
    table = {}
    for v, y in zip(values, labels, strict=True):
        table.setdefault(v, []).append(y)
    return {v: np.bincount(ys, minlength=max(labels) + 1) / len(ys) for v, ys in table.items()}


@pytest.mark.parametrize("shape", ["paraphrase", "nli"])
def test_pair_markers_occur_in_every_class_alike(shape):
    """A marker is drawn independently of the label: each marker's label mix is the overall mix."""
    inv = babel.Inventory(entities=16, verbs=8, adjectives=12, aspects=6)
    rng = babel.rng_for(1)
    items = [babel.make_item(shape, rng, inv) for _ in range(4000)]
    markers = [item.b[0].marker for item in items]
    assert all(item.b[0].marker == item.a[0].marker for item in items if len(item.a) == 1)  # copied to the pair
    overall = np.bincount([item.label for item in items]) / len(items)
    for marker, shares in label_share_by(markers, [item.label for item in items]).items():
        assert np.abs(shares - overall).max() < 0.05, marker


def test_review_modifiers_occur_in_every_rating_alike():
    inv = babel.Inventory(entities=16, verbs=8, adjectives=12, aspects=6)
    rng = babel.rng_for(2)
    items = [babel.review_item(rng, inv, context=0) for _ in range(5000)]
    shares = label_share_by([item.clauses[0].modifier for item in items], [item.label for item in items])
    assert set(shares) == set(babel.MODIFIERS)
    for modifier, share in shares.items():
        assert np.abs(share - 0.2).max() < 0.04, modifier


# --- the difficulty knobs ----------------------------------------------------------------------------

def knob_items(shape, knobs, n=400, seed=3):
    inv = babel.Inventory(entities=16, verbs=8, adjectives=12, aspects=6)
    rng = babel.rng_for(seed)
    return inv, [babel.make_item(shape, rng, inv, knobs) for _ in range(n)]


def case_renderer():
    """A language whose objects and agents take a case particle: every function word a role can add."""
    return babel.Renderer(babel.World.from_config({"seed": 1, "languages": [dict(LANGS[0], morphology="case")]}), "aa")


def test_antonym_non_paraphrases_change_only_the_adjective_to_an_antonym():
    inv, items = knob_items("paraphrase", {"new_share": 0.0, "synonym_share": 1.0})
    for item in items:
        (p,), (q,) = item.a, item.b
        assert (q.subject, q.verb, q.obj, q.marker) == (p.subject, p.verb, p.obj, p.marker)
        if item.label:
            assert q.adjective == inv.synonym(p.adjective)
        else:
            assert q.adjective in inv.antonyms(p.adjective)


def test_swapped_non_paraphrases_write_a_paraphrases_words_in_other_roles():
    """PAWS-X style: a non-paraphrase is the paraphrase with subject and object exchanged, so the two
    classes have the same word multisets and no bag-of-words reading separates them."""
    renderer = case_renderer()
    _, items = knob_items("paraphrase", {"new_share": 0.0, "swap_share": 1.0})
    assert {item.label for item in items} == {0, 1}
    for item in items:
        (p,), (q,) = item.a, item.b
        paraphrase = babel._with(p, passive=not p.passive)
        assert sorted(renderer.proposition(q)) == sorted(renderer.proposition(paraphrase))
        assert (q.subject, q.obj) == ((p.subject, p.obj) if item.label else (p.obj, p.subject))


# Digests of the streams below as the generator wrote them before swap_share and contradiction: swap
# existed (commit 359ed14); the relational preset's data must not change under it.
STREAMS_BEFORE_SWAPS = {
    ("paraphrase", (("new_share", 0.0), ("synonym_share", 1.0))): "c83f4363c3b8866a",
    ("nli", (("new_share", 0.0), ("contradiction", "antonym"))): "320d88a97999a6bd",
}


def test_knobs_at_their_defaults_leave_the_item_stream_unchanged():
    """A knob that is off draws nothing: studies made before it keep their data byte for byte."""
    _, default = knob_items("paraphrase", None)
    _, explicit = knob_items("paraphrase", {"swap_share": 0.0})
    assert default == explicit
    for (shape, knobs), digest in STREAMS_BEFORE_SWAPS.items():
        _, items = knob_items(shape, dict(knobs))
        assert hashlib.sha256(repr(items).encode()).hexdigest()[:16] == digest, shape


def test_swapped_contradictions_use_an_entailments_words():
    renderer = case_renderer()
    _, items = knob_items("nli", {"new_share": 0.0, "contradiction": "swap"}, n=600)
    contradictions = [item for item in items if item.label == babel.NLI_LABELS["contradiction"]]
    assert len(contradictions) > 100
    for item in contradictions:
        (h,) = item.b
        p = next(q for q in item.a if q.adjective is not None)
        assert (h.subject, h.obj, h.verb, h.adjective) == (p.obj, p.subject, p.verb, p.adjective)
        entailment = babel._with(h, subject=p.subject, obj=p.obj)
        assert sorted(renderer.proposition(h)) == sorted(renderer.proposition(entailment))
