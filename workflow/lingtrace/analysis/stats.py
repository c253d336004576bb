"""Statistics shared by the analyses: percentile bootstrap over test examples, Spearman correlation.

The unit of resampling is the test example: every interval says how much a mean over test examples
would move had another sample of test examples of the same size been drawn.
"""

from __future__ import annotations

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


def grouped_mean_interval(
    df: pl.DataFrame,
    values: str | Sequence[str],
    by: Sequence[str],
    unit: str = "test_uid",
    n_boot: int | None = None,
    level: float | None = None,
    seed: int | None = None,
) -> pl.DataFrame:
    """Per group of ``by``: the mean of each value column over its rows, with a bootstrap interval.

    Each row is one unit (a test example). Output columns: ``by``, then for each value ``v``:
    ``v``, ``v_lo``, ``v_hi``, and ``n_examples`` (rows in the group). Every group is resampled from
    the same seed with its rows in ``unit`` order, so results do not depend on row or group order.
    """
    n_boot, level, seed = bootstrap_settings(n_boot, level, seed)
    _check_bootstrap_args(n_boot, level)
    values = [values] if isinstance(values, str) else list(values)
    by = list(by)
    if unit not in df.columns:
        raise AnalysisError(f"the unit column {unit!r} is missing; columns are {df.columns}")
    if not by:  # one group: the whole table
        whole = df.with_columns(_all=pl.lit(0))
        return grouped_mean_interval(whole, values, ["_all"], unit, n_boot, level, seed).drop("_all")
    grouped = (
        df.sort([*by, unit])
        .group_by(by, maintain_order=True)
        .agg(*[pl.col(v).cast(pl.Float64) for v in values], pl.len().alias("n_examples"))
    )
    stats = {name: [] for v in values for name in (v, f"{v}_lo", f"{v}_hi")}
    for row in grouped.select(values).iter_rows():
        sample = np.column_stack([np.asarray(column, dtype=np.float64) for column in row])
        mean, lo, hi = bootstrap_means(sample, n_boot, level, seed)
        for j, v in enumerate(values):
            stats[v].append(mean[j])
            stats[f"{v}_lo"].append(lo[j])
            stats[f"{v}_hi"].append(hi[j])
    return grouped.select(by).with_columns(
        *[pl.Series(name, col, dtype=pl.Float64) for name, col in stats.items()],
        grouped["n_examples"].cast(pl.Int64),
    )


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
