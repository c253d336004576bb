"""The gradient contract: ``results/{task}/{run}/seed-{seed}/grads/epoch-{c}/{split}/shard-{i}.parquet``.

One row per example: ``uid``, ``lang``, ``label``, ``pred``, ``loss``, ``grad``, ``grad_norm`` (norm
of ``grad`` as stored, float64). ``grad`` is the per-example loss gradient of the traced layers,
projected or not, *unscaled* (eta is applied at scoring time): a ``fixed_size_binary`` of dim x 2 or
4 bytes per row, the vector's little-endian float16 or float32 values (``dtype`` in the metadata,
dim its ``projection.total_dim``; the field's own metadata says the same).

Why bytes and not a ``fixed_size_list`` of floats: Parquet has no fixed-size list, so a list column
is written with a repetition and a definition level per float and rebuilt from them on reading;
measured on a 130 MB shard, that wrote at 0.2-0.3 GB/s and read at 0.4 GB/s against 1.2-1.8 GB/s
for a plain file copy. A fixed-length byte array is Parquet's one type that stores a vector per row
with no per-value bookkeeping; written uncompressed (gradients do not compress), without
dictionary or statistics, it writes at about the copy's speed and reads back as one buffer that
numpy and torch view without a copy. Shards with the former ``fixed_size_list`` column still read.

File key-value metadata (all JSON text under the key ``lingtrace``): ``projection`` (kind, seed, dim,
per-layer shapes and dims, total dim), ``layers`` (the selection pattern and the traced modules),
``checkpoint`` (epoch), ``eta`` (mean learning rate of the checkpoint's steps), ``fingerprint`` (the
checkpoint the gradients came from: run, seed, epoch and the SHA-256 of its weights file), ``dtype``,
``split``, ``shard``, ``n_shards``, ``version``. Train and test shards whose projection or layers
differ, or that come from different checkpoints, are refused, never mixed.
"""

from __future__ import annotations

import json
import logging
import os
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lingtrace import __version__
from lingtrace.errors import ArtifactError
from lingtrace.io.atomic import atomic_path

log = logging.getLogger(__name__)

METADATA_KEY = b"lingtrace"
VECTOR_KEY = b"lingtrace.vector"
RERUN = "Rerun the dump_gradients job that writes it (delete the file, then run snakemake again)."
# What must agree between any two shards that are scored against each other.
COMPATIBLE_KEYS = ("projection", "layers", "dtype")
VALUE_TYPES = {"float32": np.dtype("<f4"), "float16": np.dtype("<f2")}
COLUMNS = ("uid", "lang", "label", "pred", "loss", "grad", "grad_norm")
# Uncompressed, no dictionary, no statistics: none of them pays on incompressible floats.
WRITE_OPTIONS = {"compression": "none", "use_dictionary": False, "write_statistics": False}


def grad_schema(dim: int, dtype: str) -> pa.Schema:
    value = VALUE_TYPES[dtype]
    vector = {"dtype": dtype, "dim": dim, "byte_order": "little"}
    return pa.schema(
        [
            ("uid", pa.string()),
            ("lang", pa.string()),
            ("label", pa.int64()),
            ("pred", pa.int64()),
            ("loss", pa.float64()),
            pa.field("grad", pa.binary(dim * value.itemsize), metadata={VECTOR_KEY: json.dumps(vector)}),
            ("grad_norm", pa.float64()),
        ]
    )


def row_norms(grads: np.ndarray) -> np.ndarray:
    """(n,) float64 L2 norms of the rows of ``grads``, in torch (float32 accumulation for float32 and
    float16 rows, as the dump computes them)."""
    import torch

    if not len(grads):
        return np.zeros(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # read-only arrays: only read here
        rows = torch.from_numpy(grads)
    return torch.linalg.vector_norm(rows, dim=1, dtype=torch.promote_types(rows.dtype, torch.float32)).double().numpy()


def write_grad_shard(
    path: str | os.PathLike,
    uids: list[str],
    langs: list[str],
    labels: list[int],
    preds: list[int],
    losses: np.ndarray,
    grads: np.ndarray,
    metadata: dict,
    norms: np.ndarray | None = None,
) -> None:
    """Write one shard atomically. ``grads`` is (n, dim); it is stored in ``metadata['dtype']`` (no
    copy when it already is that, C-contiguous). ``norms``: the rows' norms if already computed (the
    dump computes them batch by batch), else computed here."""
    dtype = metadata["dtype"]
    grads = np.ascontiguousarray(grads, dtype=VALUE_TYPES[dtype])
    n, dim = grads.shape if grads.ndim == 2 else (0, int(metadata["projection"]["total_dim"]))
    schema = grad_schema(dim, dtype)
    vectors = pa.FixedSizeBinaryArray.from_buffers(schema.field("grad").type, n, [None, pa.py_buffer(grads)])
    table = pa.table(
        {
            "uid": pa.array(uids, pa.string()),
            "lang": pa.array(langs, pa.string()),
            "label": pa.array(np.asarray(labels, dtype=np.int64)),
            "pred": pa.array(np.asarray(preds, dtype=np.int64)),
            "loss": pa.array(np.asarray(losses, dtype=np.float64)),
            "grad": vectors,
            "grad_norm": pa.array(np.asarray(row_norms(grads) if norms is None else norms, dtype=np.float64)),
        },
        schema=schema,
    )
    meta = {**metadata, "version": __version__}
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(meta, sort_keys=True).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, **WRITE_OPTIONS)


def _open(path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path, memory_map=True)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: gradient shard not found. {RERUN}") from None
    except (pa.ArrowInvalid, OSError) as err:
        raise ArtifactError(f"{path}: not a readable gradient shard ({err}). {RERUN}") from None


def _metadata(path, schema: pa.Schema) -> dict:
    raw = (schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise ArtifactError(f"{path}: no lingtrace metadata; not a gradient shard written by lingtrace. {RERUN}")
    return json.loads(raw)


def read_grad_metadata(path: str | os.PathLike) -> dict:
    return _metadata(path, _open(path).schema_arrow)


def vectors_of(path, column: pa.ChunkedArray, metadata: dict) -> np.ndarray:
    """(n, dim) float32 from the ``grad`` column: a zero-copy view of float32 bytes, float16 widened;
    the former fixed_size_list column converted."""
    column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    kind = column.type
    if pa.types.is_fixed_size_list(kind):
        values = column.values.to_numpy(zero_copy_only=False)
        return values.reshape(-1, kind.list_size).astype(np.float32, copy=False)
    value = VALUE_TYPES.get(str(metadata.get("dtype")))
    dim = (metadata.get("projection") or {}).get("total_dim")
    if not pa.types.is_fixed_size_binary(kind) or value is None or kind.byte_width != value.itemsize * (dim or 0):
        raise ArtifactError(
            f"{path}: gradient column of type {kind} does not hold {dim} {metadata.get('dtype')} values per row. {RERUN}"
        )
    if len(column) == 0:
        return np.zeros((0, dim), dtype=np.float32)
    data = column.buffers()[1]
    flat = np.frombuffer(data, dtype=value, count=len(column) * dim, offset=column.offset * kind.byte_width)
    return flat.reshape(len(column), dim).astype(np.float32, copy=False)


class GradShard:
    """A gradient shard in memory: columns as numpy arrays, ``grads`` as (n, dim) float32 (read-only
    when it is a view of the file's buffer)."""

    def __init__(self, path, table: pa.Table, metadata: dict):
        self.path = str(path)
        self.metadata = metadata
        self.uids: list[str] = table["uid"].to_pylist()
        self.langs: list[str] = table["lang"].to_pylist()
        self.labels = table["label"].to_numpy()
        self.preds = table["pred"].to_numpy()
        self.losses = table["loss"].to_numpy()
        self.norms = table["grad_norm"].to_numpy()
        self.grads = vectors_of(path, table["grad"], metadata)

    @property
    def eta(self) -> float:
        return float(self.metadata["eta"])

    @property
    def checkpoint(self) -> int:
        return int(self.metadata["checkpoint"])

    def __len__(self) -> int:
        return len(self.uids)


def read_grad_shard(path: str | os.PathLike) -> GradShard:
    """The shard at ``path``, memory-mapped: float32 vectors are not copied out of the file's pages."""
    file = _open(path)
    metadata = _metadata(path, file.schema_arrow)
    missing = [name for name in COLUMNS if name not in file.schema_arrow.names]
    if missing:
        raise ArtifactError(f"{path}: gradient shard lacks column(s) {missing}. {RERUN}")
    try:
        table = file.read(columns=list(COLUMNS), use_threads=False)
    except (pa.ArrowInvalid, OSError) as err:
        raise ArtifactError(f"{path}: gradient shard is truncated or corrupt ({err}). {RERUN}") from None
    return GradShard(path, table, metadata)


def check_compatible(a: dict, a_path, b: dict, b_path) -> None:
    """Refuse to score shards whose projection, layer selection or dtype differ, or that come from
    different checkpoints (by epoch and learning rate, and by the checkpoint fingerprint)."""
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
    fa, fb = a.get("fingerprint"), b.get("fingerprint")
    if fa is None and fb is None:
        log.warning("%s and %s carry no checkpoint fingerprint (written by an older lingtrace); "
                    "cannot check they come from the same checkpoint", a_path, b_path)  # fmt: skip
    elif fa != fb:
        raise ArtifactError(
            f"gradient shards come from different checkpoints: {a_path} from {describe(fa)} but {b_path} "
            f"from {describe(fb)}. Train and test gradients must come from the same fine-tuned weights; rerun "
            "the dump_gradients jobs of the run and seed you mean to score."
        )


def describe(fingerprint: dict | None) -> str:
    if fingerprint is None:
        return "an unknown checkpoint (no fingerprint: written by an older lingtrace)"
    weights = str(fingerprint.get("weights_sha256"))[:12]
    return (f"run {fingerprint.get('run')}, seed {fingerprint.get('seed')}, epoch {fingerprint.get('epoch')} "
            f"(weights sha256 {weights}...)")  # fmt: skip
