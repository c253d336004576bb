"""Atomic writes leave nothing that looks complete when the writer fails."""

import pytest

from lingtrace.io.atomic import atomic_dir, atomic_dirs, atomic_path, write_json


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_failed_directory_keeps_the_old_one(tmp_path):
    target = tmp_path / "ckpt"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "a").write_text("new")
            raise RuntimeError("killed")
    assert (target / "a").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_directories_appear_together_only_when_the_block_succeeds(tmp_path):
    targets = [tmp_path / "run" / f"epoch-{e}" for e in (1, 2)]
    with pytest.raises(RuntimeError):
        with atomic_dirs(targets) as staged:
            (staged[0] / "w").write_text("epoch 1")
            raise RuntimeError("killed during epoch 2")
    assert list((tmp_path / "run").iterdir()) == []
    with atomic_dirs(targets) as staged:
        assert not targets[0].exists()
        for folder in staged:
            (folder / "w").write_text(folder.name)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["epoch-1", "epoch-2"]


def test_leftovers_and_empty_final_folders_are_removed_first(tmp_path):
    (tmp_path / ".epoch-1.tmp-deadbeef").mkdir()  # a killed attempt's
    (tmp_path / "epoch-1").mkdir()  # as Snakemake makes the folders of a job's outputs
    with atomic_dirs([tmp_path / "epoch-1"]) as staged:
        assert [p.name for p in tmp_path.iterdir()] == [staged[0].name]
        (staged[0] / "w").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["epoch-1"]


def test_json_refuses_nan(tmp_path):
    with pytest.raises(ValueError):
        write_json({"x": float("nan")}, tmp_path / "s.json")
    assert not (tmp_path / "s.json").exists()
