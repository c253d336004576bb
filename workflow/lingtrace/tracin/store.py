"""The gradient contract: ``results/{task}/{run}/seed-{seed}/grads/epoch-{c}/{split}/shard-{i}.parquet``.

One row per example: ``uid``, ``lang``, ``label``, ``pred``, ``loss``, ``grad`` (fixed-size list of
float32 or float16: the per-example loss gradient of the traced layers, projected or not, *unscaled*:
eta is applied at scoring time), ``grad_norm`` (norm of ``grad`` as stored, in float64).

File key-value metadata (all JSON text under the key ``lingtrace``): ``projection`` (kind, seed, dim,
per-layer shapes and dims, total dim), ``layers`` (the selection pattern and the traced modules),
``checkpoint`` (epoch), ``eta`` (mean learning rate of the checkpoint's steps), ``dtype``, ``split``,
``shard``, ``n_shards``, ``version``. Train and test shards whose projection or layers differ are
refused, never mixed.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lingtrace import __version__
from lingtrace.errors import ArtifactError
from lingtrace.io.atomic import atomic_path

METADATA_KEY = b"lingtrace"
RERUN = "Rerun the dump_gradients job that writes it (delete the file, then run snakemake again)."
# What must agree between any two shards that are scored against each other.
COMPATIBLE_KEYS = ("projection", "layers", "dtype")


def grad_schema(dim: int, dtype: str) -> pa.Schema:
    value = pa.float16() if dtype == "float16" else pa.float32()
    return pa.schema(
        [
            ("uid", pa.string()),
            ("lang", pa.string()),
            ("label", pa.int64()),
            ("pred", pa.int64()),
            ("loss", pa.float64()),
            ("grad", pa.list_(value, dim)),
            ("grad_norm", pa.float64()),
        ]
    )


def write_grad_shard(
    path: str | os.PathLike,
    uids: list[str],
    langs: list[str],
    labels: list[int],
    preds: list[int],
    losses: np.ndarray,
    grads: np.ndarray,
    metadata: dict,
) -> None:
    """Write one shard atomically. ``grads`` is (n, dim); it is stored in ``metadata['dtype']``."""
    dtype = metadata["dtype"]
    grads = np.ascontiguousarray(grads, dtype=np.float16 if dtype == "float16" else np.float32)
    n, dim = grads.shape if grads.ndim == 2 else (0, int(metadata["projection"]["total_dim"]))
    schema = grad_schema(dim, dtype)
    flat = pa.array(grads.reshape(-1), type=schema.field("grad").type.value_type)
    table = pa.table(
        {
            "uid": pa.array(uids, pa.string()),
            "lang": pa.array(langs, pa.string()),
            "label": pa.array(labels, pa.int64()),
            "pred": pa.array(preds, pa.int64()),
            "loss": pa.array(np.asarray(losses, dtype=np.float64)),
            "grad": pa.FixedSizeListArray.from_arrays(flat, dim),
            "grad_norm": pa.array(np.linalg.norm(grads.astype(np.float64), axis=1) if n else np.zeros(0)),
        },
        schema=schema,
    )
    meta = {**metadata, "version": __version__}
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(meta, sort_keys=True).encode()})
    with atomic_path(path) as tmp:
        # Gradients do not compress (measured: zstd with byte-stream split saved nothing on real
        # shards and read 4x slower); snappy costs next to nothing.
        pq.write_table(table, tmp, compression="snappy")


def read_grad_metadata(path: str | os.PathLike) -> dict:
    try:
        schema = pq.read_schema(path)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: gradient shard not found. {RERUN}") from None
    except (pa.ArrowInvalid, OSError) as err:
        raise ArtifactError(f"{path}: not a readable gradient shard ({err}). {RERUN}") from None
    raw = (schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise ArtifactError(f"{path}: no lingtrace metadata; not a gradient shard written by lingtrace. {RERUN}")
    return json.loads(raw)


class GradShard:
    """A gradient shard in memory: columns as numpy arrays, ``grads`` as (n, dim) float32."""

    def __init__(self, path, table: pa.Table, metadata: dict):
        self.path = str(path)
        self.metadata = metadata
        self.uids: list[str] = table["uid"].to_pylist()
        self.langs: list[str] = table["lang"].to_pylist()
        self.labels = table["label"].to_numpy()
        self.preds = table["pred"].to_numpy()
        self.losses = table["loss"].to_numpy()
        column = table["grad"].combine_chunks()
        dim = column.type.list_size
        self.grads = column.values.to_numpy(zero_copy_only=False).reshape(-1, dim).astype(np.float32, copy=False)

    @property
    def eta(self) -> float:
        return float(self.metadata["eta"])

    @property
    def checkpoint(self) -> int:
        return int(self.metadata["checkpoint"])

    def __len__(self) -> int:
        return len(self.uids)


def read_grad_shard(path: str | os.PathLike) -> GradShard:
    metadata = read_grad_metadata(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise ArtifactError(f"{path}: gradient shard is truncated or corrupt ({err}). {RERUN}") from None
    missing = [name for name in grad_schema(1, "float32").names if name not in table.column_names]
    if missing:
        raise ArtifactError(f"{path}: gradient shard lacks column(s) {missing}. {RERUN}")
    return GradShard(path, table, metadata)


def check_compatible(a: dict, a_path, b: dict, b_path) -> None:
    """Refuse to score shards whose projection, layer selection or dtype differ."""
    for key in COMPATIBLE_KEYS:
        if a.get(key) != b.get(key):
            raise ArtifactError(
                f"gradient shards disagree on {key}: {a_path} has {a.get(key)!r} but {b_path} has {b.get(key)!r}. "
                "Both must come from the same gradients config; rerun the dump_gradients jobs of both."
            )
    if a.get("checkpoint") != b.get("checkpoint") or a.get("eta") != b.get("eta"):
        raise ArtifactError(
            f"gradient shards come from different checkpoints: {a_path} (epoch {a.get('checkpoint')}, "
            f"eta {a.get('eta')}) and {b_path} (epoch {b.get('checkpoint')}, eta {b.get('eta')})"
        )
