"""The linear datamodeling score against cases where the answer is known."""

import numpy as np
import polars as pl
import pytest

from lingtrace.validation.lds import draw_subsets, example_lds, outcomes, surface_predictions

UIDS = [f"z{i:03d}" for i in range(60)]


def subset_matrix(subsets: pl.DataFrame) -> np.ndarray:
    index = {uid: j for j, uid in enumerate(UIDS)}
    ids = sorted(subsets["subset"].unique().to_list())
    m = np.zeros((len(ids), len(UIDS)))
    for i, uid in subsets.select("subset", "uid").iter_rows():
        m[ids.index(i), index[uid]] = 1.0
    return m


def long(values: np.ndarray, test_uids) -> pl.DataFrame:
    """(n_test, K) values -> rows test_uid, subset, value."""
    n_test, k = values.shape
    return pl.DataFrame({"test_uid": np.repeat(test_uids, k), "subset": np.tile(np.arange(k), n_test),
                         "value": values.reshape(-1)})  # fmt: skip


def test_subsets_are_seeded_draws_of_the_fraction():
    subsets = draw_subsets(UIDS, 5, 0.5, seed=3)
    assert subsets.group_by("subset").len()["len"].to_list() == [30] * 5
    assert subsets.equals(draw_subsets(UIDS, 5, 0.5, seed=3))
    assert not subsets.equals(draw_subsets(UIDS, 5, 0.5, seed=4))


def test_one_gradient_step_linear_regression_gives_lds_one_to_tracin():
    """Linear regression trained by one gradient step from w = 0 on a subset S: w = lr * sum_S y_i x_i, so a
    test prediction x'.w = sum_S lr y_i (x_i . x') is additive in the training examples, and TracIn's score
    (learning rate times the dot product of the gradients) is exactly each example's term: LDS = 1.
    Random scores get an LDS near 0."""
    rng = np.random.default_rng(0)
    x, y, x_test = rng.normal(size=(60, 8)), rng.normal(size=60), rng.normal(size=(5, 8))
    lr = 0.1
    subsets = draw_subsets(UIDS, 40, 0.5, seed=0)
    m = subset_matrix(subsets)
    test_uids = [f"t{j}" for j in range(5)]
    predictions_after_training = np.stack([x_test @ (lr * (m[k] * y) @ x) for k in range(len(m))], axis=1)
    tracin = lr * (x_test @ (y[:, None] * x).T)  # (n_test, n_train): lr * grad(test) . grad(train)
    actual = long(predictions_after_training, test_uids)
    exact = example_lds(long(tracin @ m.T, test_uids), actual)
    assert exact["lds"].to_list() == pytest.approx([1.0] * 5)
    assert exact["n_subsets"].to_list() == [40] * 5
    noise = example_lds(long(rng.normal(size=(5, 60)) @ m.T, test_uids), actual)
    assert abs(noise["lds"].mean()) < 0.25


def test_surface_predictions_sum_a_dense_attribution_over_each_subset():
    subsets = pl.DataFrame({"subset": [0, 0, 1], "uid": ["z000", "z002", "z001"]})
    scores = np.array([[1.0, 10.0, 100.0]])
    out = surface_predictions(scores, ["t"], ["z000", "z001", "z002"], subsets)
    assert out["value"].to_list() == [101.0, 10.0]


def test_outcomes_are_negative_losses_of_the_subset_runs():
    predictions = pl.DataFrame({"run": ["subset-0", "subset-1", "joint", "subset-0"], "seed": [0, 0, 0, 1],
                                "uid": ["t"] * 4, "loss": [0.5, 0.25, 9.0, 7.0]})  # fmt: skip
    out = outcomes(predictions, seed=0).sort("subset")
    assert out["value"].to_list() == [-0.5, -0.25] and out["subset"].to_list() == [0, 1]
