"""The gradient shard file: vectors stored as fixed-size bytes come back bit for bit, zero-copy for
float32; norms are those of the stored values; the former fixed_size_list layout still reads; a
column that does not hold what the metadata says is refused naming the file."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lingtrace.errors import ArtifactError
from lingtrace.tracin.store import METADATA_KEY, read_grad_shard, write_grad_shard

from shard_factory import shard_metadata


def write(path, grads, dtype="float32"):
    n, dim = grads.shape
    meta = {**shard_metadata(1, 0.5, dim, "train"), "dtype": dtype}
    write_grad_shard(path, [f"u{i}" for i in range(n)], ["ala"] * n, list(range(n)), [0] * n, np.arange(n) / 10,
                     grads, meta)  # fmt: skip
    return meta


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_round_trip_is_exact_in_the_stored_dtype(tmp_path, dtype):
    grads = np.random.default_rng(0).standard_normal((7, 13)).astype(np.float32)
    grads[2] = 0.0
    write(tmp_path / "g.parquet", grads, dtype)
    shard = read_grad_shard(tmp_path / "g.parquet")
    stored = grads.astype(dtype).astype(np.float32)
    assert np.array_equal(shard.grads, stored) and shard.grads.dtype == np.float32
    assert shard.uids == [f"u{i}" for i in range(7)] and shard.labels.tolist() == list(range(7))
    np.testing.assert_allclose(shard.norms, np.linalg.norm(stored.astype(np.float64), axis=1), rtol=1e-6)
    assert shard.norms[2] == 0
    table = pq.read_table(tmp_path / "g.parquet")
    column = table.schema.field("grad")
    assert column.type == pa.binary(13 * np.dtype(dtype).itemsize)
    assert json.loads(column.metadata[b"lingtrace.vector"]) == {"dtype": dtype, "dim": 13, "byte_order": "little"}
    meta = pq.ParquetFile(tmp_path / "g.parquet").metadata
    assert all(meta.row_group(0).column(i).compression == "UNCOMPRESSED" for i in range(meta.num_columns))


def test_an_empty_shard_reads_back_empty(tmp_path):
    write(tmp_path / "g.parquet", np.zeros((0, 5), np.float32))
    shard = read_grad_shard(tmp_path / "g.parquet")
    assert shard.grads.shape == (0, 5) and len(shard) == 0


def test_former_fixed_size_list_shards_still_read(tmp_path):
    grads = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    meta = shard_metadata(1, 0.5, 6, "train")
    table = pa.table({
        "uid": ["a", "b", "c", "d"], "lang": ["ala"] * 4, "label": pa.array([0] * 4, pa.int64()),
        "pred": pa.array([0] * 4, pa.int64()), "loss": pa.array(np.zeros(4)),
        "grad": pa.FixedSizeListArray.from_arrays(pa.array(grads.reshape(-1)), 6),
        "grad_norm": pa.array(np.linalg.norm(grads, axis=1).astype(np.float64)),
    }).replace_schema_metadata({METADATA_KEY: json.dumps(meta).encode()})  # fmt: skip
    pq.write_table(table, tmp_path / "old.parquet")
    assert np.array_equal(read_grad_shard(tmp_path / "old.parquet").grads, grads)


def test_a_vector_column_of_the_wrong_width_is_refused_naming_the_file(tmp_path):
    meta = write(tmp_path / "g.parquet", np.ones((3, 8), np.float32))
    table = pq.read_table(tmp_path / "g.parquet")
    wrong = {**meta, "projection": {**meta["projection"], "total_dim": 9}}
    pq.write_table(table.replace_schema_metadata({METADATA_KEY: json.dumps(wrong).encode()}), tmp_path / "w.parquet")
    with pytest.raises(ArtifactError, match=r"w\.parquet: gradient column .* does not hold 9 float32 values"):
        read_grad_shard(tmp_path / "w.parquet")
