import math

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

from lingtrace.analysis.stats import (
    bootstrap_means,
    context_keys,
    grouped_mean_interval,
    mean_interval,
    spearman,
)


def test_interval_contains_the_mean_and_stays_inside_the_data():
    values = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    mean, lo, hi = mean_interval(values, n_boot=500, seed=1)
    assert mean == pytest.approx(0.6)  # 3 ones out of 5
    assert 0.0 <= lo <= mean <= hi <= 1.0


def test_constant_data_gives_a_point_interval():
    assert mean_interval([0.25] * 7, n_boot=100) == pytest.approx((0.25, 0.25, 0.25))


def test_interval_narrows_with_more_data():
    rng = np.random.default_rng(0)
    small = rng.normal(size=20)
    large = rng.normal(size=2000)
    _, lo_s, hi_s = mean_interval(small, n_boot=500, seed=0)
    _, lo_l, hi_l = mean_interval(large, n_boot=500, seed=0)
    assert hi_l - lo_l < (hi_s - lo_s) / 3  # width ~ 1/sqrt(n): 10x fewer would give ~1/10


def test_same_seed_same_interval_other_seed_other_interval():
    values = np.random.default_rng(5).normal(size=50)
    assert mean_interval(values, seed=3) == mean_interval(values, seed=3)
    assert mean_interval(values, seed=3) != mean_interval(values, seed=4)


def test_wider_level_gives_wider_interval():
    values = np.random.default_rng(2).normal(size=40)
    _, lo90, hi90 = mean_interval(values, level=0.90)
    _, lo99, hi99 = mean_interval(values, level=0.99)
    assert lo99 <= lo90 and hi90 <= hi99


def test_bootstrap_means_resamples_columns_together():
    # The second column is the first plus 1, so every resample of it is exactly 1 higher.
    x = np.random.default_rng(1).normal(size=30)
    mean, lo, hi = bootstrap_means(np.column_stack([x, x + 1.0]), n_boot=200)
    assert mean[1] - mean[0] == pytest.approx(1.0)
    assert lo[1] - lo[0] == pytest.approx(1.0) and hi[1] - hi[0] == pytest.approx(1.0)


def test_bootstrap_arguments_are_checked():
    with pytest.raises(ValueError):
        mean_interval([1.0, 2.0], n_boot=0)
    with pytest.raises(ValueError):
        mean_interval([1.0, 2.0], level=1.0)


def test_grouped_mean_interval_per_group_and_order_free():
    df = pl.DataFrame(
        {
            "test_uid": ["u1", "u2", "u3", "v1", "v2"],
            "lang": ["a", "a", "a", "b", "b"],
            "x": [1.0, 2.0, 6.0, 5.0, 5.0],
        }
    )
    out = grouped_mean_interval(df, "x", ["lang"], n_boot=300, seed=0).sort("lang")
    assert out.columns == ["lang", "x", "x_lo", "x_hi", "n_examples", "n_seeds"]
    assert out["x"].to_list() == pytest.approx([3.0, 5.0])  # (1+2+6)/3, (5+5)/2
    assert out["n_examples"].to_list() == [3, 2]
    a = out.row(0, named=True)
    assert 1.0 <= a["x_lo"] <= 3.0 <= a["x_hi"] <= 6.0
    assert out.row(1, named=True)["x_lo"] == out.row(1, named=True)["x_hi"] == 5.0
    shuffled = grouped_mean_interval(df.reverse(), "x", ["lang"], n_boot=300, seed=0).sort("lang")
    assert shuffled.equals(out)


def test_grouped_mean_interval_without_keys_is_one_group():
    df = pl.DataFrame({"test_uid": ["a", "b"], "x": [1.0, 3.0]})
    out = grouped_mean_interval(df, "x", [], n_boot=50)
    assert out.columns == ["x", "x_lo", "x_hi", "n_examples", "n_seeds"]
    assert out["x"].item() == 2.0


def test_context_keys():
    df = pl.DataFrame({"seed": [0], "x": [1], "run": ["joint"]})
    assert context_keys(df) == ["run", "seed"]


def test_spearman_of_known_rankings():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40])[0] == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1])[0] == pytest.approx(-1.0)
    # ranks (1,2,3,4) vs (2,1,4,3): d = (1,1,1,1), rho = 1 - 6*4 / (4*(16-1)) = 0.6
    rho, p = spearman([1, 2, 3, 4], [2, 1, 4, 3])
    assert rho == pytest.approx(0.6)
    # p-value: t = rho * sqrt((n-2)/(1-rho^2)) with n-2 = 2 degrees of freedom, two-sided
    t = 0.6 * math.sqrt(2 / (1 - 0.36))
    assert p == pytest.approx(2 * sps.t.sf(t, df=2))


def test_spearman_undefined_cases_are_nan():
    assert all(math.isnan(v) for v in spearman([1, 2], [1, 2]))
    assert all(math.isnan(v) for v in spearman([1, 2, 3], [5, 5, 5]))
    with pytest.raises(ValueError):
        spearman([1, 2, 3], [1, 2])


def test_replicate_weights_draw_seeds_then_clusters():
    from lingtrace.analysis.stats import replicate_weights

    w = replicate_weights(3, 4, 500, np.random.default_rng(0))
    assert w.shape == (500, 12)
    assert (w.sum(axis=1) == 12).all()  # three seeds drawn, four clusters each
    one_seed = replicate_weights(1, 5, 200, np.random.default_rng(1))
    assert (one_seed.sum(axis=1) == 5).all()


def test_seeds_are_resampled_before_items():
    """Two seeds whose examples all score 0 and 1: a replicate draws {0,0}, {0,1} or {1,1} (1/4, 1/2,
    1/4), so the mean's replicates are 0, 0.5 and 1 and the 95% interval is [0, 1]; an interval over
    examples alone would be a point."""
    df = pl.DataFrame({"seed": [0] * 4 + [1] * 4, "test_uid": [f"u{i}" for i in range(4)] * 2,
                       "x": [0.0] * 4 + [1.0] * 4})  # fmt: skip
    out = grouped_mean_interval(df, "x", [], n_boot=400, seed=0)
    assert out["x"].item() == 0.5 and out["n_seeds"].item() == 2 and out["n_examples"].item() == 8
    assert out["x_lo"].item() == 0.0 and out["x_hi"].item() == 1.0


def test_translations_of_an_item_are_resampled_together():
    """Each item's two translations carry the same value: resampled as one cluster the interval is about
    sqrt(2) wider than when the translations are treated as independent examples."""
    values = np.random.default_rng(3).normal(size=200)
    df = pl.DataFrame({"test_uid": [f"{lang}{i}" for lang in "ab" for i in range(200)],
                       "item": [f"i{i}" for _ in "ab" for i in range(200)],
                       "x": np.concatenate([values, values])})  # fmt: skip
    items = grouped_mean_interval(df, "x", [], n_boot=2000, seed=0, cluster="item")
    examples = grouped_mean_interval(df, "x", [], n_boot=2000, seed=0)
    ratio = (items["x_hi"] - items["x_lo"]).item() / (examples["x_hi"] - examples["x_lo"]).item()
    assert 1.25 < ratio < 1.6


def test_seed_is_never_a_grouping_key():
    df = pl.DataFrame({"seed": [0, 0, 1, 1], "test_uid": ["u", "v", "u", "v"], "lang": "a", "x": [1.0, 2.0, 3.0, 4.0]})
    out = grouped_mean_interval(df, "x", ["seed", "lang"], n_boot=50)
    assert out.columns[0] == "lang" and out.height == 1 and out["x"].item() == 2.5
