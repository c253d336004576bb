"""Helpers to run Snakemake on a copy of the workflow in a temporary directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_FILES = ("Snakefile", "config.yaml", "workflow/rules", "workflow/schemas", "workflow/report", "presets", "profiles", "envs")


def copy_workflow(dest: Path) -> Path:
    """The workflow's files (not the package, which is installed) copied into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dest / name)
    return dest


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


TINY = ("--configfile", "presets/tiny.yaml")


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory) -> Path:
    """A finished run of the tiny preset, shared by the workflow tests (do not modify it in place)."""
    workdir = copy_workflow(tmp_path_factory.mktemp("tiny-study"))
    snakemake(workdir, "--cores", "2", *TINY)
    return workdir
