"""The linear datamodeling score (LDS; Park et al. 2023, TRAK), the field's standard test of an attribution.

K random subsets of the training set at fraction alpha are each retrained through the same fine-tuning
(``subset-{i}`` runs). For a test example, an attribution predicts the outcome of training on subset S
by the sum of its scores over S; the outcome is the test example's negative loss after training on S.
LDS(x) is the Spearman correlation between predicted and actual over the K subsets; the score is its
mean over test examples. An additive model (the outcome a sum over the subset of per-example effects)
gives LDS 1 to its true effects; published TracIn scores are 0.07-0.33 (dattri's benchmarks).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from lingtrace.analysis.stats import grouped_mean_interval, spearman
from lingtrace.errors import AnalysisError
from lingtrace.seeding import stable_seed


def draw_subsets(uids: list[str], n_subsets: int, fraction: float, seed: int) -> pl.DataFrame:
    """``n_subsets`` seeded uniform draws of ``fraction`` of ``uids`` (without replacement within a
    subset). Columns subset, uid."""
    pool = sorted(uids)
    size = round(fraction * len(pool))
    if not 0 < size < len(pool):
        raise AnalysisError(f"lds.fraction {fraction} of {len(pool)} training examples leaves no proper subset")
    rows = []
    for i in range(n_subsets):
        rng = np.random.default_rng(stable_seed(seed, "lds-subset", i))
        rows += [(i, pool[j]) for j in sorted(rng.choice(len(pool), size=size, replace=False))]
    return pl.DataFrame(rows, schema={"subset": pl.Int64, "uid": pl.String}, orient="row")


def example_lds(predicted: pl.DataFrame, actual: pl.DataFrame) -> pl.DataFrame:
    """Per test example (and whatever other keys ``predicted`` has beyond test_uid, subset, value): the
    Spearman correlation over subsets between predicted and actual values. ``actual``: test_uid, subset,
    value. Columns: the keys, test_uid, lds, n_subsets."""
    keys = [c for c in predicted.columns if c not in ("subset", "value")]
    joined = predicted.join(actual.rename({"value": "actual"}), on=["test_uid", "subset"], how="inner")
    rows = []
    for key, group in joined.sort([*keys, "subset"]).group_by(keys, maintain_order=True):
        rho, _ = spearman(group["value"].to_numpy(), group["actual"].to_numpy())
        rows.append({**dict(zip(keys, key)), "lds": rho, "n_subsets": group.height})
    return pl.DataFrame(rows, schema={**{k: predicted.schema[k] for k in keys}, "lds": pl.Float64,
                                      "n_subsets": pl.Int64})  # fmt: skip


def surface_predictions(scores: np.ndarray, test_uids: list[str], train_uids: list[str], subsets: pl.DataFrame) -> pl.DataFrame:
    """A dense (n_test, n_train) attribution (e.g. TF-IDF cosine) summed over each subset: the prediction
    a surface baseline makes. Columns test_uid, subset, value."""
    index = {uid: j for j, uid in enumerate(train_uids)}
    ids = sorted(subsets["subset"].unique().to_list())
    membership = np.zeros((len(ids), len(train_uids)))
    for i, uid in subsets.select("subset", "uid").iter_rows():
        membership[ids.index(i), index[uid]] = 1.0
    summed = scores @ membership.T
    return pl.DataFrame({"test_uid": np.repeat(test_uids, len(ids)),
                         "subset": np.tile(np.array(ids, dtype=np.int64), len(test_uids)),
                         "value": summed.reshape(-1)})  # fmt: skip


def outcomes(predictions: pl.DataFrame, seed: int) -> pl.DataFrame:
    """The negative final loss of every test example after each subset run (seed ``seed``): test_uid,
    subset, value."""
    runs = predictions.filter(pl.col("run").str.starts_with("subset-") & (pl.col("seed") == seed))
    return runs.select(pl.col("uid").alias("test_uid"), subset=pl.col("run").str.strip_prefix("subset-").cast(pl.Int64),
                       value=-pl.col("loss"))  # fmt: skip


def lds_table(per_example: pl.DataFrame, by: list[str], n_boot: int, level: float, seed: int, items=None) -> pl.DataFrame:
    """Mean LDS per group with a bootstrap interval over test examples (an item's translations together).

    A test example whose predictions are the same for every subset (an attribution that sees nothing in
    it) has no rank correlation: it is left out of the mean and counted in ``n_undefined``."""
    undefined = per_example.with_columns(undefined=pl.col("lds").is_null() | pl.col("lds").is_nan())
    table = grouped_mean_interval(undefined.filter(~pl.col("undefined")), "lds", by, "test_uid", n_boot, level, seed,
                                  items=items)  # fmt: skip
    counts = undefined.group_by(by).agg(pl.col("undefined").sum().cast(pl.Int64).alias("n_undefined"))
    return table.join(counts, on=by, how="left", maintain_order="left").with_columns(pl.col("n_undefined").fill_null(0))
