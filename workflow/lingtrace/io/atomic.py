"""Atomic writes: a killed job leaves a temporary name behind, never a file that looks complete."""

from __future__ import annotations

import glob
import json
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path


def _temporary_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def atomic_dir(path: str | os.PathLike):
    """Yield a temporary directory; it replaces ``path`` (a directory) only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_sibling(path)
    tmp.mkdir()
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


@contextmanager
def atomic_dirs(paths):
    """Yield one temporary directory per path; they are renamed onto ``paths`` together once the block
    succeeds (a group that only makes sense complete, such as the checkpoints of a run), so a job killed
    or failing inside the block leaves none of them under its final name. Removed first: temporary
    directories an earlier, killed attempt left behind, and empty directories under the final names
    (Snakemake creates the folders of a job's outputs before the job starts)."""
    paths = [Path(p) for p in paths]
    staged = []
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            for stale in path.parent.glob(f".{glob.escape(path.name)}.tmp-*"):
                shutil.rmtree(stale, ignore_errors=True)
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
            staged.append(_temporary_sibling(path))
            staged[-1].mkdir()
        yield staged
        for tmp, path in zip(staged, paths):
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)
    finally:
        for tmp in staged:
            if tmp.exists():
                shutil.rmtree(tmp)


def write_json(obj, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def write_text(text: str, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _arrow(table):
    """A pyarrow table as is; a polars DataFrame converted (zero-copy)."""
    import pyarrow as pa

    return table if isinstance(table, pa.Table) else table.to_arrow()


def write_parquet(table, path: str | os.PathLike) -> None:
    """A table (pyarrow or polars) as Parquet at ``path``."""
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        pq.write_table(_arrow(table), tmp)


def write_parquet_and_csv(table, path: str | os.PathLike) -> None:
    """A table (pyarrow or polars) as Parquet at ``path`` and as CSV next to it (same stem)."""
    import pyarrow.csv as pacsv

    write_parquet(table, path)
    with atomic_path(os.path.splitext(path)[0] + ".csv") as tmp:
        pacsv.write_csv(_arrow(table), tmp)
