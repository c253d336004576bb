"""Babel: synthetic languages with a planted structure that surface overlap cannot explain.

A babel *world* declares languages, each with a family, a script, a word order, an adjective position
and a morphology. Every language renders the same latent concepts (entities, verbs, adjectives, review
aspects, function words) with its own word forms. Forms are drawn so that the structure is controllable:

- a content word uses the world-wide *loan* form when ``u_c < loan`` (``u_c`` is one uniform draw per
  concept, shared by all languages, so loan sets are nested);
- otherwise its family's form when ``v_c < overlap`` (``v_c`` drawn per family and concept); a function
  word takes its family's form with probability ``function_overlap``, drawn per language, so that two
  languages of a family need not share their negation or determiner;
- otherwise a form of the language's own.

Forms are then written in the language's script, so two languages in different scripts share no surface
form even where their words are cognate. The *planted similarity* of two languages is structural: the
share of concepts whose forms are cognate (identical before the script), plus ``order_weight`` when
their word orders agree, ``adjective_weight`` when their adjectives stand on the same side of the noun
and ``morphology_weight`` when their morphology agrees. The surface overlap (identical written forms) is
reported beside it, not in it: a retriever reading surface forms recovers only that part.

The three task shapes mirror the paper's datasets: ``paraphrase`` (pairs, binary, parallel, like
PAWS-X), ``nli`` (premise/hypothesis, 3-way, parallel, like XNLI) and ``review`` (single texts,
5-way, not parallel, like MARC). Their labels need content words: marker words (not, maybe, indeed)
are drawn independently of the label and copied between the texts of a pair, and review modifiers
(quite, very, not) independently of the rating.
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
FUNCTION_WORDS = ("DET", "NEG", "MAYBE", "INDEED", "PASS", "BY", "AND", "BUT", "IS", "VERY", "QUITE", "ACC")
MARKERS = ("", "NEG", "MAYBE", "INDEED")  # a proposition's marker, drawn independently of any label
MODIFIERS = ("QUITE", "VERY", "NEG")  # a review clause's modifier: quite and very keep the polarity, not flips it
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
    function_overlap: float  # probability that a function word is the family's
    morphology: str  # "none", or "case": objects and agents take a case particle


@dataclass(frozen=True)
class Inventory:
    """The latent concepts every language renders.

    Adjectives come in blocks of four per dimension d: 4d (+), 4d+1 (-), 4d+2 (+, synonym of 4d), 4d+3 (-,
    synonym of 4d+1); antonyms share a dimension and differ in sign. A review's polarity strength is 1,
    2, 0 for dimensions 0, 1, 2 (and so on in turn).
    """

    entities: int
    verbs: int
    adjectives: int  # a multiple of 4
    aspects: int

    def concepts(self) -> list[str]:
        return (
            [f"E{i}" for i in range(self.entities)]
            + [f"V{i}" for i in range(self.verbs)]
            + [f"A{i}" for i in range(self.adjectives)]
            + [f"S{i}" for i in range(self.aspects)]
            + list(FUNCTION_WORDS)
        )

    def dimension(self, adjective: int) -> int:
        return adjective // 4

    def synonym(self, adjective: int) -> int:
        return adjective ^ 2

    def antonyms(self, adjective: int) -> list[int]:
        return [adjective ^ 1, adjective ^ 3]

    def other_dimension(self, adjective: int) -> list[int]:
        return [a for a in range(self.adjectives) if self.dimension(a) != self.dimension(adjective)]

    def polarity(self, adjective: int) -> int:
        """Review polarity of adjective i: its sign times its dimension's strength."""
        sign = 1 if adjective % 2 == 0 else -1
        return sign * (1, 2, 0)[self.dimension(adjective) % 3]

    def with_polarity(self, value: int) -> list[int]:
        return [a for a in range(self.adjectives) if self.polarity(a) == value]


@dataclass
class World:
    seed: int
    languages: dict[str, Language]
    inventory: Inventory
    order_weight: float
    adjective_weight: float
    morphology_weight: float
    corpus_sentences_per_lang: int
    corpus_pair_share: float

    @classmethod
    def from_config(cls, cfg) -> World:
        """The world from the ``world`` config slice (a dict, or its typed settings)."""
        cfg = settings.as_dict(settings.load("world", cfg))
        return cls(
            seed=cfg["seed"],
            languages={entry["code"]: Language(**entry) for entry in cfg["languages"]},
            inventory=Inventory(**cfg["inventory"]),
            order_weight=cfg["order_weight"],
            adjective_weight=cfg["adjective_weight"],
            morphology_weight=cfg["morphology_weight"],
            corpus_sentences_per_lang=cfg["corpus_sentences_per_lang"],
            corpus_pair_share=cfg["corpus_pair_share"],
        )

    def cognates(self, code: str) -> dict[str, str]:
        """Concept -> form before the script (identical forms of two languages are cognates)."""
        return _cognates(self.seed, self.inventory, self.languages[code])

    def lexicon(self, code: str) -> dict[str, str]:
        """Concept -> the form as written in the language's script."""
        return _lexicon(self.seed, self.inventory, self.languages[code])

    def similarity(self, codes: list[str]) -> list[dict]:
        """The planted (structural) similarity of every ordered pair of the given languages, with the
        parts it is made of and the surface overlap beside it."""
        rows = []
        for a in codes:
            for b in codes:
                la, lb = self.languages[a], self.languages[b]
                cognate = share_identical(self.cognates(a), self.cognates(b))
                agree = {"same_order": la.order == lb.order, "same_adjective": la.adjective == lb.adjective,
                         "same_morphology": la.morphology == lb.morphology}  # fmt: skip
                rows.append(
                    {
                        "lang_a": a,
                        "lang_b": b,
                        "cognate_share": cognate,
                        "surface_overlap": share_identical(self.lexicon(a), self.lexicon(b)),
                        **agree,
                        "same_family": la.family == lb.family,
                        "same_script": la.script == lb.script,
                        "similarity": cognate
                        + self.order_weight * agree["same_order"]
                        + self.adjective_weight * agree["same_adjective"]
                        + self.morphology_weight * agree["same_morphology"],
                    }
                )
        return rows


def share_identical(lex_a: dict[str, str], lex_b: dict[str, str]) -> float:
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
    """Cached: the planted similarity and the baselines ask for a language's lexicon again and again."""
    return {concept: transliterate(form, lang.script) for concept, form in _cognates(seed, inventory, lang).items()}


@lru_cache(maxsize=256)
def _cognates(seed: int, inventory: Inventory, lang: Language) -> dict[str, str]:
    concepts = inventory.concepts()
    loan_forms = _forms(rng_for(seed, "loan"), concepts, _phonology(seed, "loan"))
    family_phonology = _phonology(seed, "family", lang.family)
    family_forms = _forms(rng_for(seed, "family", lang.family), concepts, family_phonology)
    own_rng = rng_for(seed, "language", lang.code)
    u = rng_for(seed, "loan-draw").random(len(concepts))
    v = rng_for(seed, "family-draw", lang.family).random(len(concepts))
    w = rng_for(seed, "function-draw", lang.code).random(len(concepts))  # per language: not a nested set
    lexicon, used = {}, set()
    for i, concept in enumerate(concepts):
        function = concept in FUNCTION_WORDS
        if not function and u[i] < lang.loan:
            form = loan_forms[concept]
        elif (w[i] < lang.function_overlap) if function else (v[i] < lang.overlap):
            form = family_forms[concept]
        else:
            form = _random_form(own_rng, *family_phonology)
        while form in used:
            form = _random_form(own_rng, *family_phonology)
        used.add(form)
        lexicon[concept] = form
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
    """A review clause: an aspect described by an adjective, with a modifier."""

    aspect: int
    adjective: int
    modifier: str


def random_proposition(rng: np.random.Generator, inv: Inventory, adjective_share: float, markers=MARKERS) -> Proposition:
    """A random proposition; its object has an adjective with probability ``adjective_share``, and its
    marker is drawn uniformly from ``markers``."""
    subject, obj = (int(x) for x in rng.choice(inv.entities, size=2, replace=False))
    adjective = int(rng.integers(inv.adjectives)) if rng.random() < adjective_share else None
    marker = str(markers[int(rng.integers(len(markers)))])
    return Proposition(subject, int(rng.integers(inv.verbs)), obj, adjective, marker, bool(rng.random() < 0.5))


def _with(p: Proposition, **changes) -> Proposition:
    values = {k: getattr(p, k) for k in ("subject", "verb", "obj", "adjective", "marker", "passive")}
    values.update(changes)
    return Proposition(**values)


# --- rendering -------------------------------------------------------------------------------


class Renderer:
    """Renders latent meanings as text in one language."""

    def __init__(self, world: World, code: str):
        self.lang = world.languages[code]
        self.lex = world.lexicon(code)

    def noun_phrase(self, entity: int, adjective: int | None = None, concept: str = "E", case: bool = False) -> list[str]:
        words = [self.lex[f"{concept}{entity}"]]
        if adjective is not None:
            adj = self.lex[f"A{adjective}"]
            words = [adj, *words] if self.lang.adjective == "before" else [*words, adj]
        words = [self.lex["DET"], *words]
        if case and self.lang.morphology == "case":
            words.append(self.lex["ACC"])
        return words

    def arrange(self, s: list[str], v: list[str], o: list[str]) -> list[str]:
        parts = {"S": s, "V": v, "O": o}
        return [w for role in self.lang.order for w in parts[role]]

    def proposition(self, p: Proposition) -> list[str]:
        verb = [self.lex[f"V{p.verb}"]]
        if p.marker:
            verb = [self.lex[p.marker], *verb]
        if p.passive:
            subject = self.noun_phrase(p.obj, p.adjective)
            agent = [self.lex["BY"], *self.noun_phrase(p.subject, case=True)]
            return self.arrange(subject, [self.lex["PASS"], *verb], agent)
        return self.arrange(self.noun_phrase(p.subject), verb, self.noun_phrase(p.obj, p.adjective, case=True))

    def clause(self, c: Clause) -> list[str]:
        predicate = [self.lex[c.modifier], self.lex[f"A{c.adjective}"]]
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


def same_meaning(rng: np.random.Generator, inv: Inventory, adjective: int, knobs) -> int:
    """The adjective itself or (share ``synonym_share``) its synonym."""
    return inv.synonym(adjective) if rng.random() < knobs.synonym_share else adjective


def new_content(rng: np.random.Generator, p: Proposition, inv: Inventory) -> Proposition:
    """p with every content word replaced (subject, verb, object, adjective): an unrelated proposition
    with the same marker, voice and shape."""
    free = [e for e in range(inv.entities) if e not in (p.subject, p.obj)]
    subject, obj = (int(e) for e in rng.choice(free, size=2, replace=False))
    verb = (p.verb + 1 + int(rng.integers(inv.verbs - 1))) % inv.verbs
    adjective = p.adjective
    if adjective is not None:
        adjective = int(rng.choice([a for a in range(inv.adjectives) if a not in (p.adjective, inv.synonym(p.adjective))]))
    return _with(p, subject=subject, verb=verb, obj=obj, adjective=adjective)


def swapped_roles(p: Proposition) -> Proposition:
    """p with subject and object exchanged (the adjective stays on the object): the same words, and for
    babel's verbs, which are one-way relations, the opposite claim."""
    return _with(p, subject=p.obj, obj=p.subject)


def paraphrase_item(rng: np.random.Generator, inv: Inventory, knobs) -> PairItem:
    """A sentence (its object has an adjective) and a sentence in the other voice with the same marker.

    Paraphrase (1): the same proposition (the adjective, or its synonym). Not a paraphrase (0): in share
    ``new_share`` an unrelated proposition (every content word new); of the rest, in share ``swap_share``
    the same proposition with subject and object swapped (PAWS-X's adversarial pairs: the same words as
    a paraphrase), else the same one with an antonym.
    """
    p = random_proposition(rng, inv, 1.0)
    label = int(rng.random() < 0.5)
    if label:
        q = _with(p, adjective=same_meaning(rng, inv, p.adjective, knobs))
    elif rng.random() < knobs.new_share:
        q = new_content(rng, p, inv)
    elif knobs.swap_share > 0 and rng.random() < knobs.swap_share:  # no draw at 0: older studies keep their items
        q = swapped_roles(_with(p, adjective=same_meaning(rng, inv, p.adjective, knobs)))
    else:
        q = _with(p, adjective=int(rng.choice(inv.antonyms(p.adjective))))
    return PairItem((p,), (_with(q, passive=not p.passive),), label)


def nli_item(rng: np.random.Generator, inv: Inventory, knobs) -> PairItem:
    """A premise of 1 to ``premise_max`` propositions, one of which has an adjective x; a hypothesis about
    that proposition, in a random voice, with the premise proposition's marker.

    entailment (0): the same proposition (x or its synonym); contradiction (2): ``contradiction`` "object"
    (verbs are functional: the subject does the verb to another object, with another adjective),
    "antonym" (x's antonym) or "swap" (verbs are one-way: subject and object exchanged, the same words as
    an entailment); neutral (1): in share ``new_share`` an unrelated proposition, else x replaced by an
    adjective of another dimension.
    """
    n = int(rng.integers(1, knobs.premise_max + 1))
    premise = [random_proposition(rng, inv, 0.0) for _ in range(n)]
    j = int(rng.integers(n))
    premise[j] = _with(premise[j], adjective=int(rng.integers(inv.adjectives)))
    p, x = premise[j], premise[j].adjective
    label = int(rng.integers(3))
    h = _with(p, passive=bool(rng.random() < 0.5))
    if label == NLI_LABELS["entailment"]:
        h = _with(h, adjective=same_meaning(rng, inv, x, knobs))
    elif label == NLI_LABELS["contradiction"]:
        if knobs.contradiction == "object":
            free = [e for e in range(inv.entities) if e not in (p.subject, p.obj)]
            other = [a for a in range(inv.adjectives) if a not in (x, inv.synonym(x))]
            h = _with(h, obj=int(rng.choice(free)), adjective=int(rng.choice(other)))
        elif knobs.contradiction == "swap":
            h = swapped_roles(_with(h, adjective=same_meaning(rng, inv, x, knobs)))
        else:
            h = _with(h, adjective=int(rng.choice(inv.antonyms(x))))
    elif rng.random() < knobs.new_share:
        h = new_content(rng, h, inv)
    else:
        h = _with(h, adjective=int(rng.choice(inv.other_dimension(x))))
    return PairItem(tuple(premise), (h,), label)


def review_item(rng: np.random.Generator, inv: Inventory, context: int) -> ReviewItem:
    """A review: ``context`` plain sentences, then one evaluation that sets the star rating (0-4).

    The rating is 2 plus the evaluated adjective's polarity (-2..2), flipped by "not"; the modifier is
    drawn uniformly and independently of the rating, so no modifier predicts it on its own.
    """
    target = int(rng.integers(5))  # balanced classes: draw the rating, then a review that has it
    scene = tuple(random_proposition(rng, inv, 0.0, ("",)) for _ in range(context))
    modifier = MODIFIERS[int(rng.integers(len(MODIFIERS)))]
    polarity = -(target - 2) if modifier == "NEG" else target - 2
    adjective = int(rng.choice(inv.with_polarity(polarity)))
    return ReviewItem(scene, (Clause(int(rng.integers(inv.aspects)), adjective, modifier),), target)


def make_item(shape: str, rng: np.random.Generator, inv: Inventory, knobs=None):
    """One latent item of a task shape; ``knobs`` (a task's ``knobs`` settings; None: the schema's
    defaults) set its difficulty."""
    knobs = settings.load("knobs", knobs)
    if shape == "paraphrase":
        return paraphrase_item(rng, inv, knobs)
    if shape == "nli":
        return nli_item(rng, inv, knobs)
    if shape == "review":
        return review_item(rng, inv, knobs.context)
    raise ValueError(f"unknown babel task shape {shape!r}; known: {sorted(TASK_SHAPES)}")


def render_item(renderer: Renderer, item) -> tuple[str, str | None]:
    if isinstance(item, ReviewItem):
        pieces = [renderer.proposition(p) for p in item.context] + [renderer.clause(c) for c in item.clauses]
        return renderer.join(pieces, "BUT"), None
    return (
        renderer.join([renderer.proposition(p) for p in item.a]),
        renderer.join([renderer.proposition(p) for p in item.b]),
    )


# --- the pretraining corpus ------------------------------------------------------------------


def corpus_documents(world: World, code: str) -> list[tuple[str, str | None]]:
    """Monolingual documents for masked-LM pretraining: (text, None) single texts (propositions and
    review clauses) and, in share ``corpus_pair_share``, (text, text_b) pairs whose second text restates
    the first in the other voice, so that a masked word can be read off the other text (the skill the
    pair tasks build on; no task label is involved)."""
    rng = rng_for(world.seed, "corpus", code)
    renderer = Renderer(world, code)
    inv = world.inventory
    documents: list[tuple[str, str | None]] = []
    for _ in range(world.corpus_sentences_per_lang):
        if rng.random() < world.corpus_pair_share:
            p = random_proposition(rng, inv, 0.5)
            documents.append((renderer.join([renderer.proposition(p)]),
                              renderer.join([renderer.proposition(_with(p, passive=not p.passive))])))  # fmt: skip
        elif rng.random() < 0.6:
            props = [random_proposition(rng, inv, 0.5) for _ in range(int(rng.integers(1, 3)))]
            documents.append((renderer.join([renderer.proposition(p) for p in props]), None))
        else:
            documents.append((render_item(renderer, review_item(rng, inv, int(rng.integers(2))))[0], None))
    return documents
