"""Babel: synthetic languages with a planted similarity structure.

A babel *world* declares languages, each with a family, a script and a word order. Every language
renders the same latent concepts (entities, verbs, adjectives, review aspects, function words) with
its own word forms. Forms are drawn so that the structure is controllable:

- a concept uses the world-wide *loan* form when ``u_c < loan`` (``u_c`` is one uniform draw per
  concept, shared by all languages, so loan sets are nested and two languages with loan shares
  0.2 and 0.3 share 0.2 of their loans);
- otherwise its family's form when ``v_c < overlap`` (``v_c`` drawn per family and concept;
  function words use ``function_overlap``, by default 1: they are conserved across a family);
- otherwise a form of the language's own.

Forms are written in the language's script, so two languages in different scripts share no surface
form even where their words are cognate. The planted similarity of two languages is the share of
concepts with identical surface forms, plus ``order_weight`` when their word orders agree; it is
computed from the generated lexicons, not from the settings.

The three task shapes mirror the paper's datasets: ``paraphrase`` (pairs, binary, parallel, like
PAWS-X), ``nli`` (premise/hypothesis, 3-way, parallel, like XNLI) and ``review`` (single texts,
5-way, not parallel, like MARC).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from lingtrace import settings
from lingtrace.seeding import stable_seed

CONSONANTS = "ptkbdgmnslrvzfh"
VOWELS = "aeiou"
LETTERS = CONSONANTS + VOWELS

# One character per latin letter, in the order of LETTERS.
SCRIPTS = {
    "latin": LETTERS,
    "cyrillic": "пткбдгмнслрвзфхаеиоу",
    "greek": "πτκβδγμνσλρϝζφηαεωου",
    "hangul": "ㅍㅌㅋㅂㄷㄱㅁㄴㅅㄹㅇㅎㅈㅊㅆㅏㅔㅣㅗㅜ",
    "armenian": "պտկբդգմնսլրվզֆհաեիոու",
    "georgian": "პტკბდგმნსლრვზფჰაეიოუ",
}
ORDERS = ("SVO", "SOV", "VSO", "VOS", "OSV", "OVS")
FUNCTION_WORDS = ("DET", "NEG", "MAYBE", "INDEED", "PASS", "BY", "AND", "BUT", "IS", "VERY", "QUITE")
TASK_SHAPES = {"paraphrase": 2, "nli": 3, "review": 5}
PARALLEL_SHAPES = {"paraphrase", "nli"}
NLI_LABELS = {"entailment": 0, "neutral": 1, "contradiction": 2}


def rng_for(*parts) -> np.random.Generator:
    return np.random.default_rng(stable_seed(*parts))


@dataclass(frozen=True)
class Language:
    """One language of the world (``world.languages`` in the config schema says what each key means)."""

    code: str
    family: str
    script: str
    order: str
    overlap: float
    loan: float
    adjective: str  # adjective before or after its noun
    function_overlap: float  # share of function words a language takes from its family


@dataclass(frozen=True)
class Inventory:
    """The latent concepts every language renders."""

    entities: int
    verbs: int
    adjectives: int  # even: adjective 2i and 2i+1 are antonyms
    aspects: int

    def concepts(self) -> list[str]:
        return (
            [f"E{i}" for i in range(self.entities)]
            + [f"V{i}" for i in range(self.verbs)]
            + [f"A{i}" for i in range(self.adjectives)]
            + [f"S{i}" for i in range(self.aspects)]
            + list(FUNCTION_WORDS)
        )

    def polarity(self, adjective: int) -> int:
        """Review polarity of adjective i: antonym pairs carry opposite signs; strengths 1, 2, 0 in turn."""
        strength = (1, 2, 0)[(adjective // 2) % 3]
        return strength if adjective % 2 == 0 else -strength


@dataclass
class World:
    seed: int
    languages: dict[str, Language]
    inventory: Inventory
    order_weight: float
    corpus_sentences_per_lang: int

    @classmethod
    def from_config(cls, cfg) -> World:
        """The world from the ``world`` config slice (a dict, or its typed settings)."""
        cfg = settings.as_dict(settings.load("world", cfg))
        return cls(
            seed=cfg["seed"],
            languages={entry["code"]: Language(**entry) for entry in cfg["languages"]},
            inventory=Inventory(**cfg["inventory"]),
            order_weight=cfg["order_weight"],
            corpus_sentences_per_lang=cfg["corpus_sentences_per_lang"],
        )

    def lexicon(self, code: str) -> dict[str, str]:
        return _lexicon(self.seed, self.inventory, self.languages[code])

    def similarity(self, codes: list[str]) -> list[dict]:
        """The planted similarity of every ordered pair of the given languages."""
        rows = []
        for a in codes:
            for b in codes:
                lexical = lexical_overlap(self.lexicon(a), self.lexicon(b))
                same_order = self.languages[a].order == self.languages[b].order
                rows.append(
                    {
                        "lang_a": a,
                        "lang_b": b,
                        "lexical_overlap": lexical,
                        "same_order": same_order,
                        "same_family": self.languages[a].family == self.languages[b].family,
                        "same_script": self.languages[a].script == self.languages[b].script,
                        "similarity": lexical + self.order_weight * same_order,
                    }
                )
        return rows


def lexical_overlap(lex_a: dict[str, str], lex_b: dict[str, str]) -> float:
    return float(np.mean([lex_a[c] == lex_b[c] for c in lex_a]))


def _phonology(*parts) -> tuple[str, str]:
    """A family's (or the world's) consonant and vowel inventory."""
    rng = rng_for("phonology", *parts)
    consonants = "".join(sorted(rng.choice(list(CONSONANTS), size=9, replace=False)))
    vowels = "".join(sorted(rng.choice(list(VOWELS), size=4, replace=False)))
    return consonants, vowels


def _random_form(rng: np.random.Generator, consonants: str, vowels: str) -> str:
    syllables = int(rng.integers(1, 3)) + 1
    form = []
    for _ in range(syllables):
        form.append(consonants[rng.integers(len(consonants))])
        form.append(vowels[rng.integers(len(vowels))])
        if rng.random() < 0.3:
            form.append(consonants[rng.integers(len(consonants))])
    return "".join(form)


def _forms(rng: np.random.Generator, concepts: list[str], phonology: tuple[str, str]) -> dict[str, str]:
    forms, used = {}, set()
    for concept in concepts:
        form = _random_form(rng, *phonology)
        while form in used:
            form = _random_form(rng, *phonology)
        used.add(form)
        forms[concept] = form
    return forms


def transliterate(form: str, script: str) -> str:
    table = SCRIPTS[script]
    return "".join(table[LETTERS.index(ch)] for ch in form)


@lru_cache(maxsize=256)
def _lexicon(seed: int, inventory: Inventory, lang: Language) -> dict[str, str]:
    concepts = inventory.concepts()
    loan_forms = _forms(rng_for(seed, "loan"), concepts, _phonology(seed, "loan"))
    family_phonology = _phonology(seed, "family", lang.family)
    family_forms = _forms(rng_for(seed, "family", lang.family), concepts, family_phonology)
    own_rng = rng_for(seed, "language", lang.code)
    u = rng_for(seed, "loan-draw").random(len(concepts))
    v = rng_for(seed, "family-draw", lang.family).random(len(concepts))
    lexicon, used = {}, set()
    for i, concept in enumerate(concepts):
        if u[i] < lang.loan:
            form = loan_forms[concept]
        elif v[i] < (lang.function_overlap if concept in FUNCTION_WORDS else lang.overlap):
            form = family_forms[concept]
        else:
            form = _random_form(own_rng, *family_phonology)
        while form in used:
            form = _random_form(own_rng, *family_phonology)
        used.add(form)
        lexicon[concept] = transliterate(form, lang.script)
    return lexicon


# --- latent meanings -------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposition:
    subject: int
    verb: int
    obj: int
    adjective: int | None = None  # modifies the object
    marker: str = ""  # "", "NEG" (negated), "MAYBE" (only possible) or "INDEED" (asserted)
    passive: bool = False


@dataclass(frozen=True)
class Clause:
    """A review clause: an aspect described by an adjective, maybe intensified or negated."""

    aspect: int
    adjective: int
    modifier: str = "QUITE"  # "QUITE" (counts once), "VERY" (twice) or "NEG" (flips)


def random_proposition(rng: np.random.Generator, inv: Inventory) -> Proposition:
    subject, obj = (int(x) for x in rng.choice(inv.entities, size=2, replace=False))
    adjective = int(rng.integers(inv.adjectives)) if rng.random() < 0.5 else None
    return Proposition(subject, int(rng.integers(inv.verbs)), obj, adjective, passive=bool(rng.random() < 0.5))


# --- rendering -------------------------------------------------------------------------------


class Renderer:
    """Renders latent meanings as text in one language."""

    def __init__(self, world: World, code: str):
        self.lang = world.languages[code]
        self.lex = world.lexicon(code)

    def noun_phrase(self, entity: int, adjective: int | None = None, concept: str = "E") -> list[str]:
        words = [self.lex[f"{concept}{entity}"]]
        if adjective is not None:
            adj = self.lex[f"A{adjective}"]
            words = [adj, *words] if self.lang.adjective == "before" else [*words, adj]
        return [self.lex["DET"], *words]

    def arrange(self, s: list[str], v: list[str], o: list[str]) -> list[str]:
        parts = {"S": s, "V": v, "O": o}
        return [w for role in self.lang.order for w in parts[role]]

    def proposition(self, p: Proposition) -> list[str]:
        verb = [self.lex[f"V{p.verb}"]]
        if p.marker:
            verb = [self.lex[p.marker], *verb]
        if p.passive:
            subject = self.noun_phrase(p.obj, p.adjective)
            agent = [self.lex["BY"], *self.noun_phrase(p.subject)]
            return self.arrange(subject, [self.lex["PASS"], *verb], agent)
        return self.arrange(self.noun_phrase(p.subject), verb, self.noun_phrase(p.obj, p.adjective))

    def clause(self, c: Clause) -> list[str]:
        predicate = [self.lex[f"A{c.adjective}"]]
        predicate = [self.lex[c.modifier], *predicate]
        return self.arrange(self.noun_phrase(c.aspect, concept="S"), [self.lex["IS"]], predicate)

    def join(self, pieces: list[list[str]], conjunction: str = "AND") -> str:
        words: list[str] = []
        for i, piece in enumerate(pieces):
            if i:
                words.append(self.lex[conjunction])
            words.extend(piece)
        return " ".join(words)


# --- tasks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairItem:
    a: tuple  # tuple of Propositions
    b: tuple
    label: int


@dataclass(frozen=True)
class ReviewItem:
    context: tuple  # Propositions that set the scene and say nothing of the rating
    clauses: tuple
    label: int


def _changed(rng: np.random.Generator, p: Proposition, inv: Inventory, swap_share: float, replace: int = 1) -> Proposition:
    """A proposition that differs from p in meaning: a PAWS-style role swap, or ``replace`` new content words."""
    if rng.random() < swap_share:
        return _with(p, subject=p.obj, obj=p.subject)
    slots = rng.choice(["verb", "subject", "obj"], size=replace, replace=False)
    changes = {}
    if "verb" in slots:
        changes["verb"] = (p.verb + 1 + int(rng.integers(inv.verbs - 1))) % inv.verbs
    free = [e for e in range(inv.entities) if e not in (p.subject, p.obj)]
    for slot, entity in zip([s for s in ("subject", "obj") if s in slots], rng.choice(free, size=2, replace=False)):
        changes[slot] = int(entity)
    return _with(p, **changes)


def _with(p: Proposition, **changes) -> Proposition:
    values = {k: getattr(p, k) for k in ("subject", "verb", "obj", "adjective", "marker", "passive")}
    values.update(changes)
    return Proposition(**values)


def paraphrase_item(rng: np.random.Generator, inv: Inventory, knobs) -> PairItem:
    """A sentence and either its paraphrase (label 1) or a sentence that means otherwise (0).

    The second text is always in the other voice and always carries one marker word, so its length
    says nothing of the label: "indeed" in paraphrases, "not" in negated non-paraphrases (share
    ``negate_share``), "indeed" again where content words were changed or roles swapped.
    """
    p = random_proposition(rng, inv)
    label = int(rng.random() < 0.5)
    if label:
        q = _with(p, marker="INDEED")
    elif rng.random() < knobs.negate_share:
        q = _with(p, marker="NEG")
    else:
        q = _with(_changed(rng, p, inv, knobs.swap_share, knobs.replace), marker="INDEED")
    return PairItem((p,), (_with(q, passive=not p.passive),), label)


def nli_item(rng: np.random.Generator, inv: Inventory, knobs) -> PairItem:
    """Premise (one or two propositions) and a hypothesis it entails (0), leaves open (1) or contradicts (2).

    Every hypothesis carries one marker word and a random adjective and voice, so its length says
    nothing of the label. Contradictions negate a premise proposition ("not"; share ``antonym_share``
    flip its adjective instead); neutral hypotheses state new content, hedged with "maybe" in share
    ``hedge_share``; entailments restate a premise proposition.
    """
    premise = [random_proposition(rng, inv)]
    if rng.random() < 0.5:
        premise.append(random_proposition(rng, inv))
    p = premise[int(rng.integers(len(premise)))]
    label = int(rng.integers(3))
    adjective = p.adjective if rng.random() < 0.5 else None
    h = _with(p, adjective=adjective, passive=bool(rng.random() < 0.5), marker="INDEED")
    if label == NLI_LABELS["neutral"]:
        hedge = "MAYBE" if rng.random() < knobs.hedge_share else "INDEED"
        h = _with(_changed(rng, h, inv, 0.0, knobs.replace), marker=hedge)
    elif label == NLI_LABELS["contradiction"]:
        if p.adjective is not None and rng.random() < knobs.antonym_share:
            h = _with(h, adjective=p.adjective ^ 1)
        else:
            h = _with(h, marker="NEG")
    return PairItem(tuple(premise), (h,), label)


MODIFIER_WEIGHTS = {"QUITE": 1, "VERY": 2, "NEG": -1}


def review_score(clauses, inv: Inventory) -> int:
    return sum(inv.polarity(c.adjective) * MODIFIER_WEIGHTS[c.modifier] for c in clauses)


def review_rating(score: int) -> int:
    """Star rating (0-4) of a review score."""
    return int(np.digitize(score, [-2.5, -0.5, 0.5, 2.5]))


def review_item(rng: np.random.Generator, inv: Inventory, clauses: int, context: int) -> ReviewItem:
    """A review: ``context`` plain sentences, then ``clauses`` evaluations that set the star rating.

    The rating follows from the evaluated adjectives' polarities ("very" doubles, "not" flips). Every
    review has the same shape (each clause has exactly one modifier), so its length says nothing.
    """
    target = int(rng.integers(5))  # balanced classes: draw the rating, then a review that has it
    scene = tuple(_with(random_proposition(rng, inv), adjective=None) for _ in range(context))
    for _ in range(10_000):
        drawn = tuple(
            Clause(
                aspect=int(rng.integers(inv.aspects)),
                adjective=int(rng.integers(inv.adjectives)),
                modifier=str(rng.choice(["QUITE", "QUITE", "VERY", "NEG"])),
            )
            for _ in range(clauses)
        )
        if review_rating(review_score(drawn, inv)) == target:
            return ReviewItem(scene, drawn, target)
    raise ValueError(f"no review with {clauses} clause(s) has rating {target}; check world.inventory.adjectives")


def make_item(shape: str, rng: np.random.Generator, inv: Inventory, knobs=None):
    """One latent item of a task shape; ``knobs`` (a task's ``knobs`` settings; None: the schema's
    defaults) set its difficulty."""
    knobs = settings.load("knobs", knobs)
    if shape == "paraphrase":
        return paraphrase_item(rng, inv, knobs)
    if shape == "nli":
        return nli_item(rng, inv, knobs)
    if shape == "review":
        return review_item(rng, inv, knobs.clauses, knobs.context)
    raise ValueError(f"unknown babel task shape {shape!r}; known: {sorted(TASK_SHAPES)}")


def render_item(renderer: Renderer, item) -> tuple[str, str | None]:
    if isinstance(item, ReviewItem):
        pieces = [renderer.proposition(p) for p in item.context] + [renderer.clause(c) for c in item.clauses]
        return renderer.join(pieces, "BUT"), None
    return (
        renderer.join([renderer.proposition(p) for p in item.a]),
        renderer.join([renderer.proposition(p) for p in item.b]),
    )


def corpus_sentences(world: World, code: str, n: int) -> list[str]:
    """Monolingual text for masked-LM pretraining: propositions and review clauses."""
    rng = rng_for(world.seed, "corpus", code)
    renderer = Renderer(world, code)
    sentences = []
    for _ in range(n):
        if rng.random() < 0.6:
            props = [random_proposition(rng, world.inventory) for _ in range(int(rng.integers(1, 3)))]
            markers = rng.choice(["", "", "NEG", "MAYBE", "INDEED"], size=len(props))
            props = [_with(p, marker=str(m)) for p, m in zip(props, markers)]
            sentences.append(renderer.join([renderer.proposition(p) for p in props]))
        else:
            item = review_item(rng, world.inventory, 1, int(rng.integers(2)))
            sentences.append(render_item(renderer, item)[0])
    return sentences
