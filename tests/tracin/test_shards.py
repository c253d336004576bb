"""Reading a split's gradient shards (lingtrace.tracin.shards), beyond what tests/tracin/test_score.py
covers through score_shard: checkpoints come in epoch order (numeric, not text), rows of several shards
are concatenated or sorted by uid with their vectors, and the checks name what is wrong: no shards,
a repeated uid, dims that differ, a negative eta, many NaN rows, train and test of different dims."""

import re

import numpy as np
import pytest
from lingtrace.errors import ArtifactError, NumericalError
from lingtrace.tracin.shards import Split, as_path_lists, check_pairing, load_split
from shard_factory import write_split


def vectors(n_ckpt, n, dim, seed=0):
    return np.random.default_rng(seed).standard_normal((n_ckpt, n, dim)).astype(np.float32)


UIDS = ["u3", "u0", "u4", "u1", "u2"]
LANGS = ["c", "a", "d", "a", "b"]


def test_checkpoints_come_in_numeric_epoch_order_with_their_etas(tmp_path):
    v = vectors(2, 5, 3)
    paths = write_split(tmp_path, "train", v, UIDS, LANGS, [0.5, 0.25], epochs=[10, 2])
    split = load_split(paths, "train", sort_by_uid=False)
    assert split.checkpoints == ["2", "10"] and split.etas == [0.25, 0.5]
    assert np.array_equal(split.vectors[0], v[1]) and np.array_equal(split.vectors[1], v[0])


def test_rows_of_several_shards_are_concatenated_or_sorted_by_uid_with_their_vectors(tmp_path):
    v = vectors(1, 5, 4)
    paths = write_split(tmp_path, "train", v, UIDS, LANGS, [1.0], n_shards=3)
    assert len(paths[1]) == 3
    kept = load_split(paths, "train", sort_by_uid=False)
    assert kept.uids == UIDS and kept.langs == LANGS and np.array_equal(kept.vectors[0], v[0])
    ordered = load_split(paths, "train", sort_by_uid=True)
    order = np.argsort(UIDS)
    assert ordered.uids == sorted(UIDS) and ordered.langs == [LANGS[i] for i in order]
    assert np.array_equal(ordered.vectors[0], v[0][order]) and ordered.dim == 4


def test_one_shard_in_order_is_read_without_a_copy(tmp_path):
    paths = write_split(tmp_path, "test", vectors(1, 5, 4), UIDS, LANGS, [1.0])
    split = load_split(paths, "test", sort_by_uid=False)
    assert split.vectors[0] is split.shards[0][0].grads
    assert load_split(paths, "test", sort_by_uid=True).vectors[0] is not split.shards[0][0].grads


def test_as_path_lists_accepts_one_path_or_several():
    assert as_path_lists({1: "a", 2: ("b", "c"), 3: ["d"]}) == {1: ["a"], 2: ["b", "c"], 3: ["d"]}


def test_no_shards_is_an_error():
    with pytest.raises(ArtifactError, match="^no test gradient shards given$"):
        load_split({}, "test", sort_by_uid=False)


def test_a_uid_repeated_across_shards_is_refused(tmp_path):
    paths = write_split(tmp_path, "train", vectors(1, 4, 2), ["a", "b", "a", "c"], ["x"] * 4, [1.0], n_shards=2)
    with pytest.raises(ArtifactError, match="train gradient shards .* repeat a uid"):
        load_split(paths, "train", sort_by_uid=True)


def test_dims_that_differ_between_checkpoints_are_refused(tmp_path):
    one = write_split(tmp_path, "train", vectors(1, 5, 4), UIDS, LANGS, [1.0], epochs=[1])
    two = write_split(tmp_path, "train", vectors(1, 5, 6), UIDS, LANGS, [1.0], epochs=[2])
    with pytest.raises(ArtifactError, match=re.escape("train gradient shards have different dims [4, 6]")):
        load_split({**one, **two}, "train", sort_by_uid=False)


@pytest.mark.parametrize("eta", [-0.1, float("nan"), float("inf")])
def test_an_eta_that_is_not_a_learning_rate_is_refused_naming_the_file(tmp_path, eta):
    paths = write_split(tmp_path, "train", vectors(1, 5, 3), UIDS, LANGS, [eta])
    with pytest.raises(ArtifactError, match=re.escape(f"{paths[1][0]}: eta {eta!r} is not a finite non-negative")):
        load_split(paths, "train", sort_by_uid=False)
    zero = write_split(tmp_path / "zero", "train", vectors(1, 5, 3), UIDS, LANGS, [0.0])
    assert load_split(zero, "train", sort_by_uid=False).etas == [0.0]  # a zero learning rate is allowed


def test_many_broken_rows_are_named_five_and_counted(tmp_path):
    uids = [f"u{i}" for i in range(9)]
    v = vectors(1, 9, 3)
    v[0, :7, 1] = np.inf
    v[0, 2, 0] = np.nan
    paths = write_split(tmp_path, "train", v, uids, ["x"] * 9, [1.0])
    with pytest.raises(NumericalError, match="the stored gradient of u0, u1, u2, u3, u4 and 2 more is NaN or infinite"):
        load_split(paths, "train", sort_by_uid=False)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_large_but_finite_rows_pass_the_check(tmp_path):
    v = np.full((1, 2, 4), 3e38, dtype=np.float32)  # the row sum overflows; every value is finite
    split = load_split(write_split(tmp_path, "train", v, ["a", "b"], ["x", "x"], [1.0]), "train", sort_by_uid=False)
    assert np.isfinite(split.vectors[0]).all()


def test_pairing_refuses_train_and_test_of_different_dims():
    def split(dim):
        return Split(checkpoints=["1"], etas=[1.0], uids=["a"], langs=["x"], vectors=[np.zeros((1, dim), np.float32)],
                     shards=[[]])  # fmt: skip

    check_pairing(split(3), split(3))
    with pytest.raises(ArtifactError, match=re.escape("train and test gradients have different dims (3 vs 4)")):
        check_pairing(split(3), split(4))
