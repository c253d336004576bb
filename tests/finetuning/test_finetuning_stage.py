"""The fine-tuning stage's file-level entries (lingtrace.finetuning.stage): per_pair splits the
checkpoint folders among (run, seed) pairs or says why it cannot, merge_metrics stacks per-job tables
in a fixed order whatever the input order, and evaluate_runs evaluates several pairs in one job."""

import polars as pl
import pytest
from lingtrace.errors import ConfigError
from lingtrace.finetuning.stage import evaluate_runs, merge_metrics, per_pair


def test_per_pair_gives_each_pair_its_own_folders_in_order():
    folders = ["j0/e1", "j0/e2", "w1/e1", "w1/e2", "b2/e1", "b2/e2"]
    assert per_pair(["joint", "without-ala", "boost-bea"], [0, "1", 2], folders) == [
        ("joint", 0, ["j0/e1", "j0/e2"]),
        ("without-ala", 1, ["w1/e1", "w1/e2"]),
        ("boost-bea", 2, ["b2/e1", "b2/e2"]),
    ]
    assert per_pair(("joint",), (3,), ("only",)) == [("joint", 3, ["only"])]


@pytest.mark.parametrize(
    "runs, seeds, folders, message",
    [
        (["joint", "joint"], [0], ["a", "b"], "give one seed per run: 2 runs and 1 seeds"),
        ([], [], ["a"], "give one seed per run: 0 runs and 0 seeds"),
        (["joint", "joint"], [0, 1], ["a", "b", "c"], "3 checkpoint folders do not divide among 2 (run, seed) pairs"),
    ],
)
def test_per_pair_refuses_what_does_not_split(runs, seeds, folders, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        per_pair(runs, seeds, folders)


def test_merge_metrics_sorts_by_the_keys_it_finds_whatever_the_job_order(tmp_path):
    rows = [("without-ala", 0, 2, "bea", 0.4), ("joint", 1, 1, "ala", 0.6), ("joint", 0, 2, "bea", 0.5),
            ("joint", 0, 2, "ala", 0.7), ("joint", 0, 1, "ala", 0.3)]  # fmt: skip
    schema = ["run", "seed", "checkpoint", "lang", "accuracy"]
    paths = []
    for i, part in enumerate((rows[:2], rows[2:])):
        paths.append(tmp_path / f"job-{i}.parquet")
        pl.DataFrame(part, schema=schema, orient="row").write_parquet(paths[-1])
    merge_metrics([str(p) for p in paths], tmp_path / "forward.parquet")
    merge_metrics([str(p) for p in reversed(paths)], tmp_path / "backward.parquet", csv=True)
    forward, backward = pl.read_parquet(tmp_path / "forward.parquet"), pl.read_parquet(tmp_path / "backward.parquet")
    assert forward.rows() == sorted(rows) and forward.equals(backward)
    assert not (tmp_path / "forward.csv").exists()
    assert pl.read_csv(tmp_path / "backward.csv").equals(backward)


def test_merge_metrics_orders_prediction_tables_by_uid_within_a_checkpoint(tmp_path):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pl.DataFrame({"run": "joint", "seed": 0, "checkpoint": 2, "uid": ["u3", "u1"], "lang": ["x", "x"],
                  "loss": [0.3, 0.1]}).write_parquet(a)  # fmt: skip
    pl.DataFrame({"run": "joint", "seed": 0, "checkpoint": 2, "uid": ["u2"], "lang": ["x"], "loss": [0.2]}).write_parquet(b)
    merge_metrics([str(a), str(b)], tmp_path / "p.parquet")
    assert pl.read_parquet(tmp_path / "p.parquet")["uid"].to_list() == ["u1", "u2", "u3"]


def test_evaluate_runs_evaluates_every_pair_of_one_job(tmp_path, tiny_checkpoints, tiny_data, task_cfg):
    """Two pairs sharing the same checkpoints: the same numbers under each seed, every epoch in the
    metrics, and each pair's last checkpoint only in the predictions."""
    from lingtrace.io.data import write_data

    _, test = tiny_data
    test_path = tmp_path / "test.parquet"
    write_data(test, test_path)
    folders = [str(p) for p in tiny_checkpoints] * 2
    params = {"task": task_cfg, "finetune": {"max_length": 48, "eval_batch_size": 7}}
    evaluate_runs(test_path, ["joint", "joint"], [0, 5], folders, params, tmp_path / "m.parquet", tmp_path / "p.parquet")
    metrics, predictions = pl.read_parquet(tmp_path / "m.parquet"), pl.read_parquet(tmp_path / "p.parquet")
    n_langs = len(task_cfg["test_langs"])
    assert metrics.height == 2 * len(tiny_checkpoints) * n_langs
    assert sorted(set(metrics["checkpoint"])) == [1, 2]
    by_seed = [metrics.filter(pl.col("seed") == s).drop("seed").sort("checkpoint", "lang") for s in (0, 5)]
    assert by_seed[0].equals(by_seed[1])
    assert predictions.height == 2 * test.num_rows and set(predictions["checkpoint"]) == {2}
    last = metrics.filter((pl.col("seed") == 5) & (pl.col("checkpoint") == 2))
    mean_loss = predictions.filter(pl.col("seed") == 5).group_by("lang").agg(pl.col("loss").mean())
    for lang, loss in mean_loss.iter_rows():
        assert last.filter(pl.col("lang") == lang)["loss"].item() == pytest.approx(loss)
