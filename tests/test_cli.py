"""The ``lingtrace`` command's parser and plumbing: every stage takes --params (JSON text, @file.json or
@file.yaml), ``--params '{}'`` reaches a stage whose keys all have defaults, bad input ends with exit
status 2 and a one-line message (never a traceback), and a finished stage logs its
"STAGE: imports I s, work W s" line (a failed one does not)."""

import argparse
import logging
import os
import subprocess
import sys

import polars as pl
import pytest
from lingtrace import cli
from lingtrace.errors import ConfigError


def stages() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_every_stage_takes_params_defaulting_to_an_empty_object_and_has_an_entry():
    assert len(stages()) >= 20
    for name, sub in stages().items():
        options = {opt: action for action in sub._actions for opt in action.option_strings}
        assert "--params" in options, name
        assert options["--params"].default == "{}", name
        assert callable(sub.get_default("func")), name
        assert isinstance(sub.get_default("needs"), tuple), name


def test_stages_with_threads_default_to_one_thread():
    threaded = {name for name, sub in stages().items() if any("--threads" in a.option_strings for a in sub._actions)}
    assert {"pretrain", "finetune", "evaluate", "dump-gradients", "score", "score-subsets"} <= threaded
    args = cli.build_parser().parse_args(["score", "--epoch", "1", "--train", "a", "--test", "b", "--out-topk", "t",
                                          "--out-lang", "l"])  # fmt: skip
    assert args.threads == 1 and args.params == "{}" and args.epoch == [1]


def test_params_read_json_text_and_json_and_yaml_files(tmp_path):
    assert cli.load_params('{"lds": {"subsets": 4}}') == {"lds": {"subsets": 4}}
    (tmp_path / "p.json").write_text('{"influence": {"top_k": 3}}')
    assert cli.load_params(f"@{tmp_path / 'p.json'}") == {"influence": {"top_k": 3}}
    (tmp_path / "p.yaml").write_text("lds:\n  fraction: 0.25\n")
    assert cli.load_params(f"@{tmp_path / 'p.yaml'}") == {"lds": {"fraction": 0.25}}
    (tmp_path / "empty.yml").write_text("")
    assert cli.load_params(f"@{tmp_path / 'empty.yml'}") == {}


def test_unreadable_params_files_are_config_errors_naming_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="^--params: cannot read '@nowhere.json'"):
        cli.load_params("@nowhere.json")
    (tmp_path / "bad.json").write_text("lds: 1")  # YAML in a .json file: read as JSON, by its suffix
    with pytest.raises(ConfigError, match="^--params: cannot read '@bad.json' as JSON"):
        cli.load_params("@bad.json")


def test_empty_params_reach_a_stage_whose_keys_all_have_defaults(tmp_path):
    from lingtrace import settings

    train = tmp_path / "train.parquet"
    pl.DataFrame({"uid": [f"u{i}" for i in range(10)]}).write_parquet(train)
    assert cli.main(["lds-subsets", "--params", "{}", "--train", str(train), "--out", str(tmp_path / "s.parquet")]) == 0
    subsets = pl.read_parquet(tmp_path / "s.parquet")
    assert subsets["subset"].n_unique() == settings.load("lds", None).subsets  # the schema's default
    assert set(subsets["uid"]) <= {f"u{i}" for i in range(10)}
    # the same stage with a slice given: the slice is used, and a bad value is a message, not a traceback
    assert cli.main(["lds-subsets", "--params", '{"lds": {"subsets": 3}}', "--train", str(train),
                     "--out", str(tmp_path / "s3.parquet")]) == 0  # fmt: skip
    assert pl.read_parquet(tmp_path / "s3.parquet")["subset"].n_unique() == 3


def test_a_setting_out_of_range_exits_2_naming_the_key(tmp_path, capsys):
    train = tmp_path / "train.parquet"
    pl.DataFrame({"uid": ["a", "b"]}).write_parquet(train)
    code = cli.main(["lds-subsets", "--params", '{"lds": {"subsets": 0}}', "--train", str(train),
                     "--out", str(tmp_path / "s.parquet")])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "lingtrace lds-subsets: error: lds.subsets" in err and "Traceback" not in err
    assert not (tmp_path / "s.parquet").exists()


def test_a_stage_that_needs_the_task_says_so(tmp_path, capsys):
    assert cli.main(["data", "--params", "{}", "--split", "train", "--out", str(tmp_path / "d.parquet")]) == 2
    assert "needs the task's settings under 'task'" in capsys.readouterr().err


def test_merge_metrics_stacks_and_sorts_through_the_cli(tmp_path):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pl.DataFrame({"run": ["joint"], "seed": [1], "checkpoint": [1], "lang": ["x"], "accuracy": [0.5]}).write_parquet(a)
    pl.DataFrame({"run": ["joint"], "seed": [0], "checkpoint": [2], "lang": ["x"], "accuracy": [0.7]}).write_parquet(b)
    out = tmp_path / "m.parquet"
    assert cli.main(["merge-metrics", "--inputs", str(a), str(b), "--out", str(out), "--csv"]) == 0
    assert pl.read_parquet(out)["seed"].to_list() == [0, 1]
    assert (tmp_path / "m.csv").exists()


def test_the_stage_line_is_logged_after_the_work_and_only_on_success(tmp_path, caplog):
    train = tmp_path / "train.parquet"
    pl.DataFrame({"uid": ["a", "b", "c"]}).write_parquet(train)
    with caplog.at_level(logging.INFO, logger="lingtrace"):
        assert cli.main(["lds-subsets", "--train", str(train), "--out", str(tmp_path / "s.parquet")]) == 0
        ok = [r.getMessage() for r in caplog.records if r.getMessage().startswith("lds-subsets: imports ")]
        caplog.clear()
        assert cli.main(["lds-subsets", "--params", "{oops", "--train", str(train), "--out", str(tmp_path / "t")]) == 2
        failed = [r.getMessage() for r in caplog.records if ": imports " in r.getMessage()]
    assert len(ok) == 1 and failed == []
    imports, work = ok[0].removeprefix("lds-subsets: imports ").split(" s, work ")
    assert float(imports) >= 0 and work.endswith(" s") and float(work[:-2]) >= 0


def test_argument_errors_exit_2_with_usage_and_no_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    missing = subprocess.run([sys.executable, "-m", "lingtrace.cli", "merge-metrics", "--out", "x.parquet"],
                             check=False, capture_output=True, text=True, env=env,
                             cwd=tmp_path)  # fmt: skip
    assert missing.returncode == 2
    assert "the following arguments are required: --inputs" in missing.stderr and "Traceback" not in missing.stderr
    unknown = subprocess.run([sys.executable, "-m", "lingtrace.cli", "no-such-stage"], check=False,
                             capture_output=True, text=True, env=env, cwd=tmp_path)  # fmt: skip
    assert unknown.returncode == 2 and "invalid choice: 'no-such-stage'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_argument_errors_in_process_are_system_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["score", "--epoch", "one", "--train", "a", "--test", "b", "--out-topk", "t", "--out-lang", "l"])
    assert exit_.value.code == 2
    assert "invalid int value: 'one'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["data", "--split", "dev", "--out", "x"])
    assert exit_.value.code == 2
