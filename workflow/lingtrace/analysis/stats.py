"""Statistics shared by the analyses: a two-level percentile bootstrap, Spearman correlation.

Intervals resample seeds, then, within each seed drawn, test examples (or items, whose translations
go together on parallel tasks): an interval says how much a mean would move had other seeds been
trained and another sample of test items of the same size been drawn.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy import stats as sps

from lingtrace import settings
from lingtrace.errors import AnalysisError

#: Columns that say which study a table belongs to; carried through every analysis as grouping keys.
CONTEXT_COLUMNS = ("task", "run", "seed")

# Resampled values held in memory at once (resamples x examples x values); bounds memory, not results.
_CHUNK_ELEMENTS = 4_000_000


def context_keys(df: pl.DataFrame) -> list[str]:
    """The context columns (task, run, seed) that ``df`` has, in that order."""
    return [c for c in CONTEXT_COLUMNS if c in df.columns]


def group_keys(df: pl.DataFrame) -> list[str]:
    """The context columns a summary over test examples keeps: task and run (seeds are pooled)."""
    return [c for c in context_keys(df) if c != "seed"]


def bootstrap_settings(n_boot: int | None, level: float | None, seed: int | None) -> tuple[int, float, int]:
    """(resamples, confidence level, seed): each one left as None takes the ``analysis`` section's default."""
    cfg = settings.load("analysis")
    return (
        cfg.bootstrap if n_boot is None else n_boot,
        cfg.confidence if level is None else level,
        cfg.seed if seed is None else seed,
    )


def _check_bootstrap_args(n_boot: int, level: float) -> None:
    if n_boot < 1:
        raise AnalysisError(f"n_boot must be at least 1, got {n_boot}")
    if not 0.0 < level < 1.0:
        raise AnalysisError(f"the confidence level must lie strictly between 0 and 1, got {level}")


def bootstrap_means(
    values: np.ndarray, n_boot: int | None = None, level: float | None = None, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column means of ``values`` (examples x quantities) and their percentile bootstrap intervals.

    Rows (examples) are resampled with replacement, the same resample for every column (so the
    intervals of a difference column are paired). Returns (mean, lo, hi), each of shape (quantities,).
    """
    n_boot, level, seed = bootstrap_settings(n_boot, level, seed)
    _check_bootstrap_args(n_boot, level)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    m, width = values.shape
    if m == 0:
        nan = np.full(width, np.nan)
        return nan, nan.copy(), nan.copy()
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_ELEMENTS // (m * width))
    resampled = []
    for start in range(0, n_boot, chunk):
        idx = rng.integers(0, m, size=(min(chunk, n_boot - start), m))
        resampled.append(np.column_stack([column[idx].mean(axis=1) for column in values.T]))
    boots = np.concatenate(resampled)
    alpha = 1.0 - level
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2], axis=0)
    return values.mean(axis=0), lo, hi


def mean_interval(values, n_boot: int | None = None, level: float | None = None, seed: int | None = None) -> tuple[float, float, float]:
    """(mean, lo, hi): the mean of a 1-d sample and its percentile bootstrap interval."""
    mean, lo, hi = bootstrap_means(np.asarray(values, dtype=np.float64).reshape(-1, 1), n_boot, level, seed)
    return float(mean[0]), float(lo[0]), float(hi[0])


def replicate_weights(n_seeds: int, n_clusters: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n_seeds * n_clusters) weights of a two-level bootstrap: the seeds are drawn with
    replacement, then, for each seed drawn, the clusters with replacement; a weight counts how often a
    (seed, cluster) cell was drawn. With one seed this is the plain cluster bootstrap."""
    seed_draws = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    cluster_counts = rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=(n_boot, n_seeds))
    weights = np.zeros((n_boot * n_seeds, n_clusters))
    np.add.at(weights, (np.arange(n_boot)[:, None] * n_seeds + seed_draws).ravel(), cluster_counts.reshape(-1, n_clusters))
    return weights.reshape(n_boot, n_seeds * n_clusters)


def _codes(column: pl.Series) -> tuple[np.ndarray, int]:
    """Dense codes 0..n-1 of a column's values in sorted order (so results do not depend on row order)."""
    codes = column.rank("dense").to_numpy().astype(np.int64) - 1
    return codes, int(codes.max()) + 1 if len(codes) else 0


def group_replicates(
    df: pl.DataFrame,
    values: Sequence[str],
    by: Sequence[str],
    cluster: str,
    n_boot: int | None = None,
    seed: int | None = None,
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """Group means of the ``values`` columns and their bootstrap replicates, every group resampled together.

    Rows are observations (a test example at one seed); the resampling draws seeds (column ``seed``,
    when there is one), then within each drawn seed the ``cluster`` units (a test example, or an item
    whose translations go together), so any function of several group means (a difference, a
    correlation) gets its interval from the same draws. Null and NaN values (a statistic that could not
    be computed, e.g. a correlation of constant scores) are left out of their column; callers that can
    produce NaN count them where they report.
    Returns (groups: the ``by`` columns plus n_examples and n_seeds, point (G, Q), replicates (B, G, Q)).
    """
    n_boot, _, seed = bootstrap_settings(n_boot, None, seed)
    by = [c for c in by if c != "seed"]
    if cluster not in df.columns:
        raise AnalysisError(f"the resampling unit column {cluster!r} is missing; columns are {df.columns}")
    df = df.with_columns(pl.lit(0).alias("seed")) if "seed" not in df.columns else df
    groups = df.select(by).unique().sort(by) if by else pl.DataFrame({"_all": [0]})
    keyed = df.join(groups.with_row_index("_group"), on=by, how="left", maintain_order="left") if by else df.with_columns(
        _group=pl.lit(0, pl.UInt32))  # fmt: skip
    seed_codes, n_seeds = _codes(keyed["seed"])
    cluster_codes, n_clusters = _codes(keyed[cluster])
    group_codes, n_groups = keyed["_group"].to_numpy().astype(np.int64), groups.height
    cell = (seed_codes * n_clusters + cluster_codes) * n_groups + group_codes
    size = n_seeds * n_clusters * n_groups
    weights = replicate_weights(n_seeds, n_clusters, n_boot, np.random.default_rng(seed))
    points, replicates = [], []
    for value in values:
        column = keyed[value].cast(pl.Float64)
        present = (column.is_not_null() & column.is_not_nan().fill_null(False)).to_numpy()
        data = column.fill_null(0.0).to_numpy()
        sums = np.bincount(cell[present], weights=data[present], minlength=size).reshape(-1, n_groups)
        counts = np.bincount(cell[present], minlength=size).astype(np.float64).reshape(-1, n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            points.append(sums.sum(axis=0) / counts.sum(axis=0))
            replicates.append((weights @ sums) / (weights @ counts))
    stats = keyed.group_by("_group").agg(pl.len().alias("n_examples"), pl.col("seed").n_unique().alias("n_seeds"))
    out = groups.with_row_index("_group").join(stats, on="_group", how="left").sort("_group").drop("_group")
    return out.select([*by, "n_examples", "n_seeds"]) if by else out.select("n_examples", "n_seeds"), np.stack(
        points, axis=-1), np.stack(replicates, axis=-1)  # fmt: skip


def with_items(df: pl.DataFrame, items: pl.DataFrame, unit: str = "test_uid") -> pl.DataFrame:
    """``df`` with an ``_item`` column: each unit's item from ``items`` (test_uid, item), else the unit."""
    mapping = items.select(pl.col("test_uid").alias(unit), pl.col("item").alias("_item")).unique(unit)
    return df.join(mapping, on=unit, how="left").with_columns(pl.col("_item").fill_null(pl.col(unit)))


def percentile_interval(replicates: np.ndarray, level: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) percentile interval over the first axis, ignoring NaN replicates."""
    _, level, _ = bootstrap_settings(None, level, None)
    alpha = 1.0 - level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: the interval is NaN
        lo, hi = np.nanquantile(replicates, [alpha / 2, 1 - alpha / 2], axis=0)
    return lo, hi


def grouped_mean_interval(
    df: pl.DataFrame,
    values: str | Sequence[str],
    by: Sequence[str],
    unit: str = "test_uid",
    n_boot: int | None = None,
    level: float | None = None,
    seed: int | None = None,
    cluster: str | None = None,
    items: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Per group of ``by``: the mean of each value column over its rows, with a bootstrap interval.

    Each row is one observation of a ``unit`` (a test example, at one seed when the table has a
    ``seed`` column). The interval resamples seeds, then, within each seed, ``cluster`` units
    (default: ``unit``), or the items of ``items`` (columns test_uid, item: a test example's item,
    so that an item's translations are resampled together). ``seed`` is never a grouping key: the
    mean pools the seeds. Output columns: ``by`` (without seed), then for each value
    ``v``: ``v``, ``v_lo``, ``v_hi``, and ``n_examples`` (rows in the group) and ``n_seeds``.
    Results do not depend on row or group order.
    """
    n_boot, level, seed = bootstrap_settings(n_boot, level, seed)
    _check_bootstrap_args(n_boot, level)
    values = [values] if isinstance(values, str) else list(values)
    if unit not in df.columns:
        raise AnalysisError(f"the unit column {unit!r} is missing; columns are {df.columns}")
    if items is not None:
        df = with_items(df, items, unit)
        cluster = "_item"
    keys = [c for c in by if c != "seed"]
    if df.is_empty():
        stats = {name: pl.Float64 for v in values for name in (v, f"{v}_lo", f"{v}_hi")}
        return pl.DataFrame(schema={**{k: df.schema[k] for k in keys}, **stats, "n_examples": pl.Int64,
                                    "n_seeds": pl.Int64})  # fmt: skip
    groups, point, replicates = group_replicates(df, values, by, cluster or unit, n_boot, seed)
    lo, hi = percentile_interval(replicates, level)
    columns = []
    for j, v in enumerate(values):
        columns += [pl.Series(v, point[:, j]), pl.Series(f"{v}_lo", lo[:, j]), pl.Series(f"{v}_hi", hi[:, j])]
    counts = [groups["n_examples"].cast(pl.Int64), groups["n_seeds"].cast(pl.Int64)]
    if not keys:
        return pl.DataFrame([*columns, *counts])
    return groups.select(keys).with_columns(*columns, *counts)


def spearman(x, y) -> tuple[float, float]:
    """(rho, p-value) of the Spearman rank correlation of x and y; NaN for fewer than 3 pairs or a constant side."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise AnalysisError(f"x and y differ in length: {x.shape} vs {y.shape}")
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    result = sps.spearmanr(x, y)
    return float(result.statistic), float(result.pvalue)
