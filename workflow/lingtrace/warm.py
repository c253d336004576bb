"""A warm process: local jobs run as forks of one process that has already imported torch and transformers.

A small study is mostly process start-up: ``import transformers`` alone takes seconds, paid by every job.
With ``jobs.warm`` on a local run, the workflow starts ``lingtrace warm`` once; the ``lingtrace`` command
of each job then hands its arguments, working directory, environment and standard streams to that
process over a Unix socket, which forks a child to run the command and sends back its exit status. The
child is the same code on the same files, so results do not depend on it; without a reachable warm
process (a cluster node, the variable unset, the process gone) ``lingtrace`` runs the command itself.

The job's process waits for its child; if the job is killed, the child notices the closed socket and
exits too. The warm process exits when its parent (Snakemake) goes away or it has been idle too long.
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

log = logging.getLogger(__name__)

ENV_VAR = "LINGTRACE_WARM"  # the warm process's socket; set by the workflow for its jobs
# besides every stage's heavy modules (lingtrace.cli's ``needs``): what building the model and tables imports
PRELOAD = ("transformers.models.xlm_roberta.modeling_xlm_roberta", "pyarrow.parquet")
_LENGTH = struct.Struct("!Q")
_STATUS = struct.Struct("!i")


# --- the workflow's side ------------------------------------------------------------------------

_started: dict = {}


def start(log_path: str) -> bool:
    """Start the warm process for this Snakemake run's jobs; False (jobs start as usual) if ``lingtrace`` is not found.

    Jobs that start before it has finished its imports run the command themselves.
    """
    exe = shutil.which("lingtrace")
    if exe is None:
        log.warning("jobs.warm: no lingtrace command on PATH; every job starts its own process")
        return False
    folder = tempfile.mkdtemp(prefix="lingtrace-warm-")  # short: Unix socket paths are limited to ~100 bytes
    path = os.path.join(folder, "socket")
    os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
    with open(log_path, "w") as err:
        process = subprocess.Popen(
            [exe, "warm", "--socket", path],
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=err,
        )
    _started.update(process=process, folder=folder)
    os.environ[ENV_VAR] = path
    return True


def stop() -> None:
    """Stop the warm process started by :func:`start` (running jobs' children finish on their own)."""
    os.environ.pop(ENV_VAR, None)
    process, folder = _started.pop("process", None), _started.pop("folder", None)
    if process is not None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


# --- the job's side ------------------------------------------------------------------------------


def call(argv: list[str], path: str | None = None) -> int | None:
    """Run ``lingtrace argv`` in the warm process; its exit status, or None when there is none to reach."""
    path = path or os.environ.get(ENV_VAR)
    if not path:
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError:
        conn.close()
        return None
    with conn:
        request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "umask": _umask()}).encode()
        socket.send_fds(conn, [_LENGTH.pack(len(request))], [0, 1, 2])
        conn.sendall(request)
        reply = _recv_exactly(conn, _STATUS.size)
    if reply is None:
        print("lingtrace: the warm process's child ended without an exit status", file=sys.stderr)
        return 1
    return _STATUS.unpack(reply)[0]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _recv_exactly(conn: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


# --- the warm process ----------------------------------------------------------------------------


def serve(path: str, idle_timeout: float) -> None:
    """Preload the heavy modules, then fork a child per connection until the parent goes or it idles out."""
    from lingtrace import cli

    os.environ.setdefault("MPLBACKEND", "Agg")
    for module in dict.fromkeys([*cli.MODEL, *cli.TORCH, *cli.TABLES, *PRELOAD]):
        importlib.import_module(module)
    gc.freeze()  # the children's collections skip the preloaded objects (their pages stay shared)
    parent = os.getppid()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    listener.settimeout(1.0)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # run the finally: remove the socket
    log.info("warm process %d ready on %s", os.getpid(), path)
    last = time.monotonic()
    try:
        while os.getppid() == parent and time.monotonic() - last < idle_timeout:
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            last = time.monotonic()
            _fork_job(listener, conn)
    finally:
        listener.close()
        if os.path.exists(path):
            os.unlink(path)


def _fork_job(listener: socket.socket, conn: socket.socket) -> None:
    conn.settimeout(None)
    try:
        head, fds, _, _ = socket.recv_fds(conn, _LENGTH.size, 3)
        request = json.loads(_recv_exactly(conn, _LENGTH.unpack(head)[0]) or b"{}")
    except (OSError, ValueError, struct.error) as err:
        log.warning("warm process: a malformed request (%s)", err)
        conn.close()
        return
    if os.fork() == 0:
        listener.close()
        os._exit(_run_child(conn, fds, request))
    conn.close()
    for fd in fds:
        os.close(fd)


def _run_child(conn: socket.socket, fds: list[int], request: dict) -> int:
    """In the forked child: become the job (streams, directory, environment), run it, report its status."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.umask(request["umask"])
    sys.argv = ["lingtrace", *request["argv"]]
    threading.Thread(target=_exit_when_job_dies, args=(conn,), daemon=True).start()
    status = _run_command(request["argv"])
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        conn.sendall(_STATUS.pack(status))
    except OSError:
        pass
    return status


def _run_command(argv: list[str]) -> int:
    from lingtrace import cli

    try:
        return int(cli.run(argv) or 0)
    except SystemExit as done:  # argparse errors, --help
        code = done.code
        if isinstance(code, str):
            print(code, file=sys.stderr)
            return 1
        return int(code or 0)
    except BaseException:  # the traceback a plain run would print
        import traceback

        traceback.print_exc()
        return 1


def _exit_when_job_dies(conn: socket.socket) -> None:
    """The job's process never writes after its request: end of stream means it was killed."""
    try:
        conn.recv(1)
    except OSError:
        pass
    os._exit(143)
