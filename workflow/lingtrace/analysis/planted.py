"""Does TracIn recover the planted language structure of the babel world, beyond surface overlap?

The planted similarity of two languages (``planted_similarity.parquet``, lang_a = test language,
lang_b = training language) is structural: it counts shared word forms *before* they are written in a
script, and agreeing word order, so two languages in different scripts can be close while sharing no
surface form. Any retriever recovers the part of the structure that is shared surface forms; only a
model that learned to share across scripts recovers the rest. So the check reports, over the
off-diagonal (test language, training language) pairs:

- ``spearman``: measured reliance (e.g. the share of top-k proponents) vs planted similarity;
- the same for two surface baselines with no model: a TF-IDF retriever's reliance and the word-type
  overlap of the two languages;
- ``partial_spearman``: reliance vs planted similarity controlling for word-type overlap;
- ``zero_overlap_contrast``: mean reliance on close cross-script pairs (same family: shared forms
  before the script, same order) minus far cross-script pairs (another family), where no surface form
  is shared by construction.

P-values come from permuting the language labels of the planted matrix (a Mantel test: the pairs
share rows and columns, so they are not independent); intervals resample seeds, then items, with
every pair's mean drawn from the same resample. The partial test permutes the planted matrix with
reliance and overlap held fixed (Smouse, Long & Sokal 1986), which is known to be somewhat liberal
when planted similarity and overlap are strongly correlated; permuting residuals (Legendre) would
be the stricter choice.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
from scipy.stats import rankdata

from lingtrace.analysis.stats import group_replicates, percentile_interval
from lingtrace.errors import AnalysisError

PAIR = ["test_lang", "train_lang"]


# --- statistics on pair vectors ------------------------------------------------------------------


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of vector ``x`` (n,) with each row of ``y`` (m, n); NaN for a constant side."""
    xc = x - x.mean()
    yc = y - y.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (yc @ xc) / np.sqrt((xc @ xc) * (yc * yc).sum(axis=-1))


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of ``x`` (n,) with each row of ``y`` (m, n) (average ranks for ties)."""
    return _pearson_rows(rankdata(x), rankdata(np.atleast_2d(y), axis=-1))


def partial_spearman_rows(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Spearman partial correlation of ``x`` with each row of ``y`` controlling for ``z`` (all on ranks):
    (r_xy - r_xz r_yz) / sqrt((1 - r_xz^2)(1 - r_yz^2))."""
    rx, rz = rankdata(x), rankdata(z)
    ry = rankdata(np.atleast_2d(y), axis=-1)
    r_xy, r_yz = _pearson_rows(rx, ry), _pearson_rows(rz, ry)
    r_xz = _pearson_rows(rx, rz[None, :])[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (r_xy - r_xz * r_yz) / np.sqrt((1 - r_xz**2) * (1 - r_yz**2))


def permutations(n_langs: int, max_permutations: int, seed: int) -> tuple[np.ndarray, bool]:
    """(permutations (m, n_langs), exhaustive): all of them when there are at most ``max_permutations``,
    else the identity and ``max_permutations - 1`` seeded random ones."""
    if math.factorial(n_langs) <= max_permutations:
        return np.array(list(itertools.permutations(range(n_langs)))), True
    rng = np.random.default_rng(seed)
    drawn = [rng.permutation(n_langs) for _ in range(max_permutations - 1)]
    return np.array([np.arange(n_langs), *drawn]), False


def mantel_p(statistic, measured: np.ndarray, planted: np.ndarray, pairs: np.ndarray, perms: np.ndarray) -> float:
    """One-sided permutation p-value of ``statistic(measured, planted_pairs)`` (larger = stronger).

    ``planted`` (L, L) is relabelled by each permutation pi: planted[pi(a), pi(b)] for the (a, b) of
    ``pairs`` (n, 2); ``measured`` stays. The p-value is the share of the permutations (the identity,
    first, among them) at least as extreme: exact when they are all enumerated, (1 + count) / (1 + draws)
    when they are sampled.
    """
    values = planted[perms[:, pairs[:, 0]], perms[:, pairs[:, 1]]]  # (m, n)
    stats = statistic(measured, values)
    observed = stats[0]
    if not np.isfinite(observed):
        return float("nan")
    return float(np.sum(stats >= observed - 1e-12)) / len(stats)


# --- the check --------------------------------------------------------------------------------------


def pair_table(planted: pl.DataFrame, overlap: pl.DataFrame) -> pl.DataFrame:
    """Off-diagonal pairs with their planted similarity, family and script agreement and word overlap."""
    pairs = planted.select(
        pl.col("lang_a").alias("test_lang"), pl.col("lang_b").alias("train_lang"), "similarity", "same_family",
        "same_script",
    ).filter(pl.col("test_lang") != pl.col("train_lang"))
    words = overlap.select(pl.col("lang_a").alias("test_lang"), pl.col("lang_b").alias("train_lang"), "overlap")
    return pairs.join(words, on=PAIR, how="left")


class Check:
    """The pairs a reliance measure covers, the planted matrix over its languages, and the permutations."""

    def __init__(self, pairs: pl.DataFrame, planted: pl.DataFrame, max_permutations: int, seed: int):
        self.pairs = pairs.sort(PAIR)
        self.langs = sorted(set(planted["lang_a"].to_list()) | set(planted["lang_b"].to_list()))
        index = {lang: i for i, lang in enumerate(self.langs)}
        self.matrix = np.full((len(self.langs), len(self.langs)), np.nan)
        for row in planted.iter_rows(named=True):
            self.matrix[index[row["lang_a"]], index[row["lang_b"]]] = row["similarity"]
        self.index = np.array([[index[t], index[l]] for t, l in self.pairs.select(PAIR).iter_rows()], dtype=np.int64)
        self.similarity = self.pairs["similarity"].to_numpy()
        self.overlap = self.pairs["overlap"].to_numpy()
        self.perms, self.exhaustive = permutations(len(self.langs), max_permutations, seed)
        cross = ~self.pairs["same_script"].to_numpy()
        family = self.pairs["same_family"].to_numpy()
        self.close, self.far = cross & family, cross & ~family

    def spearman(self, values: np.ndarray) -> dict:
        rho = float(spearman_rows(values, self.similarity)[0])
        return {"spearman": rho, "p_value": mantel_p(spearman_rows, values, self.matrix, self.index, self.perms)}

    def partial(self, values: np.ndarray) -> dict:
        def statistic(x, y):
            return partial_spearman_rows(x, y, self.overlap)

        return {"value": float(statistic(values, self.similarity)[0]),
                "p_value": mantel_p(statistic, values, self.matrix, self.index, self.perms)}  # fmt: skip

    def contrast(self, values: np.ndarray) -> np.ndarray:
        """Mean over close cross-script pairs minus mean over far ones; ``values`` (..., n_pairs)."""
        if not self.close.any() or not self.far.any():
            return np.full(values.shape[:-1], np.nan)
        return values[..., self.close].mean(axis=-1) - values[..., self.far].mean(axis=-1)


def pair_means(per_example: pl.DataFrame, pairs: pl.DataFrame, cluster: str, n_boot: int, seed: int):
    """(point (n_pairs,), replicates (B, n_pairs)) of the mean ``value`` per pair, in ``pairs`` order."""
    rows = per_example.join(pairs.select(PAIR), on=PAIR, how="inner")
    groups, point, replicates = group_replicates(rows, ["value"], PAIR, cluster, n_boot, seed)
    order = pairs.select(PAIR).join(groups.select(PAIR).with_row_index("_i"), on=PAIR, how="left")["_i"]
    if order.null_count():
        missing = pairs.filter(order.is_null()).select(PAIR).rows()[:5]
        raise AnalysisError(f"planted check: no measured reliance for language pair(s) {missing}")
    idx = order.to_numpy()
    return point[idx, 0], replicates[:, idx, 0]


def planted_check(
    per_example: pl.DataFrame,
    baseline: pl.DataFrame | None,
    planted: pl.DataFrame,
    overlap: pl.DataFrame,
    cluster: str,
    n_boot: int,
    level: float,
    seed: int,
    max_permutations: int,
) -> tuple[pl.DataFrame, dict]:
    """(table, summary) of the planted check.

    ``per_example``: TracIn reliance, one row per (seed, test example, training language): columns
    seed, ``cluster``, test_lang, train_lang, value. ``baseline``: the same for the TF-IDF retriever
    (no seed), or None. ``planted``: lang_a, lang_b, similarity, same_family, same_script;
    ``overlap``: lang_a, lang_b, overlap (word-type Jaccard). The table has one row per (measure,
    statistic) with value, lo, hi, p_value, n_pairs; the summary is summary.json's ``planted`` entry.
    """
    measured = per_example.select(PAIR).unique()
    pairs = pair_table(planted, overlap).join(measured, on=PAIR, how="inner")
    check = Check(pairs, planted, max_permutations, seed)
    point, replicates = pair_means(per_example, check.pairs, cluster, n_boot, seed)
    rows = []

    def add(measure, statistic, value, interval=(np.nan, np.nan), p_value=np.nan):
        rows.append({"measure": measure, "statistic": statistic, "value": value, "lo": float(interval[0]),
                     "hi": float(interval[1]), "p_value": p_value, "n_pairs": len(check.similarity)})  # fmt: skip

    tracin = check.spearman(point)
    spearman_reps = spearman_rows(check.similarity, replicates)  # symmetric: rho(sim, each replicate)
    add("tracin", "spearman", tracin["spearman"], percentile_interval(spearman_reps, level), tracin["p_value"])
    partial = check.partial(point)
    partial_reps = np.array([partial_spearman_rows(r, check.similarity[None, :], check.overlap)[0] for r in replicates])
    add("tracin", "partial_spearman", partial["value"], percentile_interval(partial_reps, level), partial["p_value"])
    contrast = float(check.contrast(point))
    add("tracin", "zero_overlap_contrast", contrast, percentile_interval(check.contrast(replicates), level))

    overlap_stats = check.spearman(check.overlap)
    add("word_overlap", "spearman", overlap_stats["spearman"], p_value=overlap_stats["p_value"])
    summary_baselines = {"word_overlap": overlap_stats}
    if baseline is not None:
        b_point, b_reps = pair_means(baseline, check.pairs, cluster, n_boot, seed)
        b_stats = check.spearman(b_point)
        add("tfidf", "spearman", b_stats["spearman"], percentile_interval(spearman_rows(check.similarity, b_reps),
                                                                           level), b_stats["p_value"])  # fmt: skip
        b_contrast = float(check.contrast(b_point))
        add("tfidf", "zero_overlap_contrast", b_contrast, percentile_interval(check.contrast(b_reps), level))
        summary_baselines["tfidf"] = {**b_stats, "zero_overlap_contrast": b_contrast}
    table = pl.DataFrame(rows, schema={"measure": pl.String, "statistic": pl.String, "value": pl.Float64,
                                       "lo": pl.Float64, "hi": pl.Float64, "p_value": pl.Float64,
                                       "n_pairs": pl.Int64})  # fmt: skip
    contrast_row = table.filter((pl.col("measure") == "tracin") & (pl.col("statistic") == "zero_overlap_contrast"))
    summary = {
        "spearman": tracin["spearman"],
        "spearman_interval": [float(x) for x in percentile_interval(spearman_reps, level)],
        "p_value": tracin["p_value"],
        "baselines": summary_baselines,
        "partial_spearman": {"value": partial["value"], "p_value": partial["p_value"],
                             "interval": [float(x) for x in percentile_interval(partial_reps, level)]},
        "zero_overlap_contrast": {"value": contrast, "interval": [contrast_row["lo"].item(), contrast_row["hi"].item()],
                                  "close_pairs": int(check.close.sum()), "far_pairs": int(check.far.sum())},
        "n_pairs": len(check.similarity),
        "n_languages": len(check.langs),
        "permutations": {"count": len(check.perms), "exhaustive": check.exhaustive},
    }  # fmt: skip
    return table, summary
