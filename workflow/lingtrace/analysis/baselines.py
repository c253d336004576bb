"""Surface baselines: what a model-free reading of the texts gets, to set beside every finding.

- ``shortcut``: a logistic regression on counts of the function-word and marker vocabulary of each
  text (text_a and text_b apart, and their differences) and, for pairs, on how many word types the
  two texts share (count and Jaccard), trained on the training set: if it scores near the model, the
  task is solved by markers or by surface overlap, not by reading content. Babel tasks know their
  function words (the world's lexicons); real tasks use each language's most frequent word types as
  a proxy.
- ``tfidf_scores``/``tfidf_topk``: a TF-IDF bag-of-words retriever: each test example's most similar
  training examples by cosine, no model at all. Its language shares are the reliance any retriever
  would show from shared word forms.
- ``word_overlap``: the word-type Jaccard overlap of two languages' texts.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
from scipy import optimize, sparse

from lingtrace import settings
from lingtrace.errors import AnalysisError

log = logging.getLogger(__name__)


def words(text: str | None) -> list[str]:
    return text.split() if text else []


# --- the shortcut classifier ------------------------------------------------------------------------


def frequent_words(texts: Sequence[str], n: int) -> list[str]:
    """The ``n`` most frequent word types of ``texts`` (ties by the word), a function-word proxy."""
    counts = Counter(w for text in texts for w in words(text))
    return [w for w, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]]


def pair_overlap(text_a: str | None, text_b: str | None) -> tuple[int, float]:
    """Word types text_a and text_b share: their count and their Jaccard (0, 0 for a single text)."""
    a, b = set(words(text_a)), set(words(text_b))
    shared = len(a & b)
    return shared, (shared / len(a | b) if b else 0.0)


def shortcut_features(table: pl.DataFrame, vocab: Mapping[str, Sequence[str]]) -> np.ndarray:
    """The shortcut classifier's features: the marker counts, then the pair's word overlap."""
    overlap = np.array([pair_overlap(a, b) for a, b in table.select("text_a", "text_b").iter_rows()], dtype=float)
    return np.column_stack([marker_features(table, vocab), overlap.reshape(table.height, 2)])


def marker_features(table: pl.DataFrame, vocab: Mapping[str, Sequence[str]]) -> np.ndarray:
    """Per row: counts of each vocabulary slot in text_a, in text_b, and their absolute difference.

    ``vocab`` maps a language to its words, slot by slot (slot i of every language is one concept,
    e.g. the negation word), so one classifier serves every language.
    """
    n_slots = len(next(iter(vocab.values())))
    features = np.zeros((table.height, 3 * n_slots))
    for i, row in enumerate(table.select("lang", "text_a", "text_b").iter_rows()):
        slots = {word: j for j, word in enumerate(vocab[row[0]])}
        for column, text in ((0, row[1]), (1, row[2])):
            for word in words(text):
                if word in slots:
                    features[i, column * n_slots + slots[word]] += 1
    features[:, 2 * n_slots :] = np.abs(features[:, :n_slots] - features[:, n_slots : 2 * n_slots])
    return features


def fit_logistic(x: np.ndarray, y: np.ndarray, n_classes: int, l2: float):
    """Multinomial logistic regression (L-BFGS, L2 penalty ``l2`` on the weights) on standardised
    features; returns a function from features to predicted classes."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.column_stack([(x - mean) / scale, np.ones(len(x))])
    onehot = np.eye(n_classes)[y]

    def loss(flat):
        w = flat.reshape(z.shape[1], n_classes)
        logits = z @ w
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        grad = z.T @ (np.exp(log_p) - onehot) / len(z)
        grad[:-1] += l2 * w[:-1]
        return -(onehot * log_p).sum() / len(z) + 0.5 * l2 * (w[:-1] ** 2).sum(), grad.ravel()

    result = optimize.minimize(loss, np.zeros(z.shape[1] * n_classes), jac=True, method="L-BFGS-B")
    weights = result.x.reshape(z.shape[1], n_classes)
    return lambda features: (np.column_stack([(features - mean) / scale, np.ones(len(features))]) @ weights).argmax(1)


def shortcut_accuracy(train: pl.DataFrame, test: pl.DataFrame, vocab: Mapping[str, Sequence[str]],
                      n_classes: int, l2: float) -> pl.DataFrame:  # fmt: skip
    """Test accuracy of the shortcut classifier (markers and pair overlap) per language and over all
    ('all'): columns lang, accuracy, n."""
    missing = sorted((set(train["lang"].to_list()) | set(test["lang"].to_list())) - set(vocab))
    if missing:
        raise AnalysisError(f"shortcut baseline: no function-word vocabulary for language(s) {missing}")
    predict = fit_logistic(shortcut_features(train, vocab), train["label"].to_numpy(), n_classes, l2)
    correct = predict(shortcut_features(test, vocab)) == test["label"].to_numpy()
    scored = test.select("lang").with_columns(correct=pl.Series(correct))
    per_lang = scored.group_by("lang").agg(pl.col("correct").mean().alias("accuracy"), pl.len().alias("n"))
    pooled = pl.DataFrame({"lang": ["all"], "accuracy": [float(correct.mean())], "n": [len(correct)]})
    return pl.concat([per_lang.sort("lang"), pooled], how="vertical_relaxed").with_columns(pl.col("n").cast(pl.Int64))


# --- the TF-IDF retriever ---------------------------------------------------------------------------


def document(row: dict) -> str:
    return row["text_a"] if row.get("text_b") is None else f"{row['text_a']} {row['text_b']}"


def tfidf_matrices(train_docs: Sequence[str], test_docs: Sequence[str]) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """L2-normalised TF-IDF rows of both sides; vocabulary and idf from the training side (smooth idf)."""
    vocab: dict[str, int] = {}
    for doc in train_docs:
        for w in words(doc):
            vocab.setdefault(w, len(vocab))

    def counts(docs):
        rows, cols, vals = [], [], []
        for i, doc in enumerate(docs):
            for w, c in Counter(w for w in words(doc) if w in vocab).items():
                rows.append(i)
                cols.append(vocab[w])
                vals.append(c)
        return sparse.csr_matrix((vals, (rows, cols)), shape=(len(docs), len(vocab)), dtype=np.float64)

    train, test = counts(train_docs), counts(test_docs)
    df = np.bincount(train.indices, minlength=len(vocab))
    idf = np.log((1 + len(train_docs)) / (1 + df)) + 1.0

    def normalised(m):
        m = m @ sparse.diags(idf)
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1))).ravel()
        norms[norms == 0] = 1.0
        return sparse.diags(1.0 / norms) @ m

    return normalised(train), normalised(test)


def tfidf_scores(train: pl.DataFrame, test: pl.DataFrame) -> np.ndarray:
    """(n_test, n_train) TF-IDF cosine of every test example with every training example, in table order."""
    a, b = tfidf_matrices([document(r) for r in train.iter_rows(named=True)],
                          [document(r) for r in test.iter_rows(named=True)])  # fmt: skip
    return np.asarray((b @ a.T).todense())


def tfidf_topk(train: pl.DataFrame, test: pl.DataFrame, k: int, seed: int) -> pl.DataFrame:
    """Each test example's top-k training examples by TF-IDF cosine, as rows of the topk contract
    (checkpoint 'all', variant 'tfidf', direction 'proponent'). Ties, and above all the zero scores of a
    test example that shares no word with the training set, are broken in a seeded random order, so
    that a retriever with nothing to go on draws languages as a blind draw would (not by uid)."""
    train = train.sort("uid")
    scores = tfidf_scores(train, test)
    tie_break = np.random.default_rng(seed).permutation(train.height)
    order = np.lexsort((np.broadcast_to(tie_break, scores.shape), -scores), axis=1)[:, :k]
    blind = int((scores.max(axis=1) <= 0).sum())
    if blind:
        log.info("TF-IDF retriever: %d of %d test examples share no word with the training set (random top-k)",
                 blind, scores.shape[0])  # fmt: skip
    n_test, kept = order.shape
    train_uids, train_langs = np.array(train["uid"].to_list()), np.array(train["lang"].to_list())
    flat = order.ravel()
    return pl.DataFrame({
        "test_uid": np.repeat(test["uid"].to_numpy(), kept),
        "test_lang": np.repeat(test["lang"].to_numpy(), kept),
        "checkpoint": "all",
        "variant": "tfidf",
        "direction": "proponent",
        "rank": np.tile(np.arange(1, kept + 1), n_test),
        "train_uid": train_uids[flat],
        "train_lang": train_langs[flat],
        "score": np.take_along_axis(scores, order, axis=1).ravel(),
    })  # fmt: skip


# --- word overlap -----------------------------------------------------------------------------------


def word_overlap(texts: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Word-type Jaccard overlap of every ordered pair of languages; ``texts`` has lang and doc. Every
    language contributes the same number of documents (a seeded sample of the smallest language's
    count), so that a language with less text (a zero-shot one) does not look less similar."""
    n = texts.group_by("lang").len()["len"].min()
    sampled = texts.sort("lang", "doc").filter(pl.int_range(pl.len()).shuffle(seed).over("lang") < n)
    types = {lang: set(w for doc in group["doc"].to_list() for w in words(doc))
             for (lang,), group in sampled.group_by("lang")}  # fmt: skip
    langs = sorted(types)
    return pl.DataFrame(
        [{"lang_a": a, "lang_b": b, "overlap": len(types[a] & types[b]) / max(1, len(types[a] | types[b]))}
         for a in langs for b in langs]  # fmt: skip
    )


# --- the stage ------------------------------------------------------------------------------------


def function_vocabulary(task, world, train: pl.DataFrame, test: pl.DataFrame, n_words: int) -> dict[str, list[str]]:
    """Per language, its function-word and marker forms slot by slot: the babel lexicon's function words
    for synthetic tasks; otherwise each language's ``n_words`` most frequent word types (a proxy)."""
    langs = sorted(set(train["lang"].to_list()) | set(test["lang"].to_list()))
    if task.source == "synthetic":
        from lingtrace.data.babel import FUNCTION_WORDS, World

        babel = World.from_config(world)
        return {lang: [babel.lexicon(lang)[concept] for concept in FUNCTION_WORDS] for lang in langs}
    trained = set(train["lang"].to_list())
    # a fine-tuning language's words come from its training text; a zero-shot language has only test text
    texts = pl.concat([train, test.filter(~pl.col("lang").is_in(list(trained)))]).with_columns(
        doc=pl.struct("text_a", "text_b").map_elements(document, return_dtype=pl.String))  # fmt: skip
    vocab = {lang: frequent_words(texts.filter(pl.col("lang") == lang)["doc"].to_list(), n_words) for lang in langs}
    width = min(len(v) for v in vocab.values())
    return {lang: words_[:width] for lang, words_ in vocab.items()}


def write_baselines(train_path, test_path, params: dict, out_shortcut, out_topk, out_overlap) -> None:
    """The task's surface baselines: the marker-only classifier's accuracy (every test example), the
    TF-IDF retriever's top-k over the joint run's training set (the scored test sample, as TracIn's),
    and the word-type overlap of every pair of languages."""
    from lingtrace.io.atomic import write_parquet, write_parquet_and_csv
    from lingtrace.io.data import read_data
    from lingtrace.study import resolve_task, task_of
    from lingtrace.tracin.examples import test_sample

    task = resolve_task(task_of(params))
    influence, analysis = (settings.load(name, params.get(name)) for name in ("influence", "analysis"))
    train = pl.from_arrow(read_data(train_path, num_labels=task.num_labels))
    test = pl.from_arrow(read_data(test_path, num_labels=task.num_labels))
    vocab = function_vocabulary(task, params.get("world"), train, test, analysis.shortcut_words)
    write_parquet_and_csv(shortcut_accuracy(train, test, vocab, task.num_labels, analysis.shortcut_l2), out_shortcut)
    scored = pl.from_arrow(test_sample(test.to_arrow(), influence.test_per_lang))
    write_parquet(tfidf_topk(train, scored, influence.top_k, analysis.seed), out_topk)
    texts = pl.concat([train, test]).select("lang", pl.struct("text_a", "text_b").map_elements(
        document, return_dtype=pl.String).alias("doc"))  # fmt: skip
    write_parquet(word_overlap(texts, analysis.seed), out_overlap)
