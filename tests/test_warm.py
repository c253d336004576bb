"""The warm process (lingtrace.warm): a job's command run as a fork of it writes the same files, prints to the
job's streams, returns the job's exit status and sees the job's directory; without a warm process the
command runs itself; the process removes its socket when stopped."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from lingtrace import warm
from lingtrace.data.prepare import task_slice
from lingtrace.io.data import write_data

from conftest import FINETUNE, TASK


def start_warm() -> tuple[str, subprocess.Popen]:
    """A warm process on a fresh socket, once it listens."""
    path = os.path.join(tempfile.mkdtemp(prefix="lt-warm-"), "socket")  # short: socket paths are ~100 bytes at most
    process = subprocess.Popen([sys.executable, "-m", "lingtrace.cli", "warm", "--socket", path])
    deadline = time.monotonic() + 120
    while not os.path.exists(path):
        assert process.poll() is None and time.monotonic() < deadline, "the warm process did not start"
        time.sleep(0.2)
    return path, process


@pytest.fixture(scope="module")
def warm_socket():
    path, process = start_warm()
    yield path, process
    process.terminate()
    process.wait(timeout=30)


def lingtrace(args, cwd, socket_path=None):
    env = {k: v for k, v in os.environ.items() if k != warm.ENV_VAR}
    if socket_path:
        env[warm.ENV_VAR] = socket_path
    return subprocess.run([sys.executable, "-m", "lingtrace.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)  # fmt: skip


def test_evaluation_run_in_the_warm_process_writes_the_same_files_as_a_plain_run(
    tmp_path, warm_socket, tiny_data, tiny_checkpoints
):
    _, test = tiny_data
    write_data(test, tmp_path / "test.parquet", num_labels=TASK["num_labels"])
    params = {"task": task_slice(TASK, "test"), "finetune": {k: FINETUNE[k] for k in ("max_length", "eval_batch_size")}}
    outputs = {}
    for name, socket_path in (("plain", None), ("warm", warm_socket[0])):
        folder = tmp_path / name
        folder.mkdir()
        args = ["evaluate", "--params", json.dumps(params), "--test", "../test.parquet", "--run", "joint", "--seed", "0",
                "--checkpoints", *map(str, tiny_checkpoints), "--out", "m.parquet", "--predictions", "p.parquet"]  # fmt: skip
        done = lingtrace(args, folder, socket_path)
        assert done.returncode == 0, done.stderr
        assert "evaluate: imports" in done.stderr  # the child's log reached the job's stderr
        outputs[name] = [(folder / f).read_bytes() for f in ("m.parquet", "p.parquet")]
    assert outputs["warm"] == outputs["plain"]


def test_exit_status_and_messages_come_back_from_the_warm_process(tmp_path, warm_socket):
    usage = lingtrace(["merge-metrics", "--out", "x.parquet"], tmp_path, warm_socket[0])
    assert usage.returncode == 2 and "required: --inputs" in usage.stderr
    failed = lingtrace(["merge-metrics", "--inputs", "missing.parquet", "--out", "x.parquet"], tmp_path, warm_socket[0])
    plain = lingtrace(["merge-metrics", "--inputs", "missing.parquet", "--out", "x.parquet"], tmp_path)
    assert failed.returncode == plain.returncode != 0
    assert "missing.parquet" in failed.stderr and not (tmp_path / "x.parquet").exists()
    shown = lingtrace(["--help"], tmp_path, warm_socket[0])
    assert shown.returncode == 0 and "usage: lingtrace" in shown.stdout


def test_without_a_warm_process_the_command_runs_itself(tmp_path):
    assert warm.call(["--help"], path=str(tmp_path / "no-socket")) is None
    done = lingtrace(["--help"], tmp_path, str(tmp_path / "no-socket"))
    assert done.returncode == 0 and "usage: lingtrace" in done.stdout


def test_a_stopped_warm_process_removes_its_socket():
    path, process = start_warm()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not Path(path).exists()
