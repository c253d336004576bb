"""The TracIn scoring kernel: tensors in, score blocks out (timed by ``lingtrace bench``).

    dot:     score(z, z') = sum_c eta_c <g_c(z), g_c(z')>
    cosine:  score(z, z') = sum_c eta_c cos(g_c(z), g_c(z'))

z is a training example, z' a test example, c a checkpoint, eta_c its mean learning rate and g_c the
stored (unscaled) gradient vector. The cosine of an exactly zero vector with anything is taken to be 0
(a zero gradient has no direction and no influence).

``prepare_test`` scales the test side once; ``score_blocks`` yields the score blocks of one chunk of
training rows (one matmul per checkpoint); ``language_sums`` gives the exact per-language sums of the
scores from summed training vectors. The caveat of every matmul applies: BLAS libraries (MKL, cuBLAS)
pick kernels by matrix size, so the same score computed in blocks of another shape can differ in its
last bits (about 1e-7 relative in float32, 1e-16 in float64). Everything after the matmul is elementwise.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

ALL = "all"
SUM_BLOCK_BYTES = 1 << 20  # float64 training rows per block of language_sums on the CPU
VARIANTS = ("dot", "cosine")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass
class TestSide:
    """The test examples, ready to be scored against any number of training chunks."""

    scaled: torch.Tensor  # (C, N, k): eta_c * g_c(z')
    inv_norms: torch.Tensor  # (C, N): 1 / |g_c(z')|, 0 for an exactly zero vector


def inverse_norms(vectors: torch.Tensor) -> torch.Tensor:
    """(..., k) -> (...): 1 / L2 norm, and 0 (not inf) for an exactly zero vector."""
    norms = torch.linalg.vector_norm(vectors, dim=-1)
    return torch.where(norms > 0, norms.reciprocal(), torch.zeros_like(norms))


def prepare_test(test: torch.Tensor, etas: torch.Tensor) -> TestSide:
    """``test`` (C, N, k) unscaled gradients, ``etas`` (C,) -> TestSide on the same device and dtype."""
    etas = etas.to(test.device, test.dtype)
    return TestSide(scaled=test * etas[:, None, None], inv_norms=inverse_norms(test))


class Workspace:
    """Score buffers reused from chunk to chunk: allocating and first touching hundreds of MB per chunk
    costs more than the arithmetic done in them."""

    def __init__(self):
        self.buffers: dict[str, torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        buf = self.buffers.get(name)
        if buf is None or buf.shape != shape or buf.dtype != like.dtype or buf.device != like.device:
            buf = self.buffers[name] = torch.empty(shape, dtype=like.dtype, device=like.device)
        return buf


def chunk_dots(test: TestSide, chunk: Sequence[torch.Tensor], out: torch.Tensor) -> torch.Tensor:
    """``out`` (C, N, n) = eta_c g_c(z') . g_c(z) for a chunk given per checkpoint (n, k): one matmul each."""
    for c, part in enumerate(chunk):
        torch.mm(test.scaled[c], part.T, out=out[c])
    return out


def cosine_block(dots: torch.Tensor, inv_train: torch.Tensor, inv_test: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """One checkpoint's cosine block (N, n) from its dot block: dots / |train| / |test|, in this order."""
    elementwise(np.multiply, torch.mul, dots, inv_train, out)
    elementwise(np.multiply, torch.mul, out, inv_test[:, None], out)
    return out


def score_blocks(
    test: TestSide, chunk: Sequence[torch.Tensor], variants: Sequence[str], workspace: Workspace | None = None
) -> Iterator[tuple[int | str, str, torch.Tensor]]:
    """The score blocks of one chunk of training rows ``chunk`` ((C, n, k), or C tensors (n, k)), each
    yielded once ready.

    Yields (slot, variant, block (N, n)), slot the checkpoint index 0..C-1 or ALL (the sum over
    checkpoints, added in checkpoint order). One matmul per checkpoint; a cosine block is the dot block
    divided by both norms. Every block has its own buffer in ``workspace``, valid until the workspace's
    next chunk, so a consumer may work on several blocks at once.
    """
    ws = workspace or Workspace()
    n_ckpt, n_test, n = len(chunk), test.scaled.shape[1], chunk[0].shape[0]
    shape = (n_test, n)
    dots = chunk_dots(test, chunk, ws.get("dots", (n_ckpt, *shape), test.scaled))
    if "dot" in variants:
        for c in range(n_ckpt):
            yield c, "dot", dots[c]
        yield ALL, "dot", checkpoint_sum(list(dots), ws.get("total_dot", shape, dots))
    if "cosine" in variants:
        cosines = ws.get("cosines", (n_ckpt, *shape), dots)
        for c, part in enumerate(chunk):
            yield c, "cosine", cosine_block(dots[c], inverse_norms(part), test.inv_norms[c], cosines[c])
        yield ALL, "cosine", checkpoint_sum(list(cosines), ws.get("total_cos", shape, dots))


def checkpoint_sum(blocks: list[torch.Tensor], out: torch.Tensor) -> torch.Tensor:
    """blocks[0] + blocks[1] + ... added in this order (the same rounding for any chunking), into ``out``."""
    if len(blocks) == 1:
        return blocks[0]
    elementwise(np.add, torch.add, blocks[0], blocks[1], out)
    for block in blocks[2:]:
        elementwise(np.add, torch.add, out, block, out)
    return out


def elementwise(np_op, torch_op, a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> None:
    """out = op(a, b), broadcasting. numpy on the CPU: torch's CPU elementwise ops are multithreaded,
    and on a loaded machine a thread that waits for a busy core makes them several times slower than
    numpy's single thread. The same IEEE operation either way, so the results are identical."""
    if on_host(out):
        np_op(a.numpy(), b.numpy(), out=out.numpy())
    else:
        torch_op(a, b, out=out)


# Selection and bookkeeping. On the CPU these go through numpy on zero-copy views: its partition and
# argpartition are several times faster than torch's CPU topk, its ops release the GIL (so the lists of
# a chunk are updated in threads), and each torch CPU op pays an OpenMP fork/join that costs more than
# the small operations here (far more on a busy machine). On CUDA they are torch ops.


def on_host(t: torch.Tensor) -> bool:
    """Whether ``t`` is worked on with numpy (a CPU tensor) rather than with torch ops."""
    return t.device.type == "cpu"



def language_sums(
    test: torch.Tensor,
    etas: torch.Tensor,
    train: torch.Tensor,
    lang_ids: torch.Tensor,
    n_langs: int,
    variants: Sequence[str],
    chunk_size: int,
) -> dict[tuple[int | str, str], torch.Tensor]:
    """Per test row and training language, the sum of the scores over that language's training rows.

    A score is linear in the training vector, so the sum over a language is one dot product with the
    language's summed vectors (for cosine: summed unit vectors), per checkpoint; all in float64.
    ``test`` (C, N, k), ``etas`` (C,), ``train`` (C, n, k) or C tensors (n, k) (any device), ``lang_ids`` (n,) in
    0..n_langs-1. Returns {(slot, variant): (N, n_langs) float64}, slot a checkpoint index or ALL.
    """
    device = test.device
    test = test.to(torch.float64)
    n_ckpt, n_train, dim = len(train), train[0].shape[0], train[0].shape[1]
    sums = torch.zeros(n_ckpt, n_langs, dim, dtype=torch.float64, device=device)
    unit_sums = torch.zeros_like(sums)
    lang_ids = lang_ids.to(device)
    if device.type == "cpu":
        host_language_sums(train, lang_ids.numpy(), sums.numpy(), unit_sums.numpy())
    else:
        for start in range(0, n_train, chunk_size):
            # (n_langs, n) one-hot times the chunk: a deterministic sum per language (CUDA's index_add_ is not)
            member = torch.nn.functional.one_hot(lang_ids[start : start + chunk_size], n_langs).T.to(torch.float64)
            for c in range(n_ckpt):
                chunk = train[c][start : start + chunk_size].to(device, torch.float64)
                sums[c] += member @ chunk
                unit_sums[c] += member @ (chunk * inverse_norms(chunk)[:, None])
    etas = etas.to(device, torch.float64)[:, None, None]
    per_ckpt = {
        "dot": etas * torch.bmm(test, sums.transpose(1, 2)),
        "cosine": etas * torch.bmm(test * inverse_norms(test)[..., None], unit_sums.transpose(1, 2)),
    }
    out = {}
    for variant in variants:
        for c in range(n_ckpt):
            out[(c, variant)] = per_ckpt[variant][c]
        out[(ALL, variant)] = per_ckpt[variant].sum(0)
    return out


def host_language_sums(train: Sequence[torch.Tensor], lang_ids: np.ndarray, sums: np.ndarray, unit_sums: np.ndarray
                       ) -> None:  # fmt: skip
    """language_sums' summed vectors on the CPU, added into ``sums`` and ``unit_sums`` (C, n_langs, k):
    in numpy, a block of rows at a time, each block's float64 copy small enough to stay in cache
    (converting whole chunks, and torch's threaded small ops, cost far more than the arithmetic)."""
    n_langs, dim = sums.shape[1], sums.shape[2]
    step = max(1, SUM_BLOCK_BYTES // (8 * max(dim, 1)))
    for c, part in enumerate(train):
        rows = part.numpy()
        for start in range(0, len(rows), step):
            block = rows[start : start + step].astype(np.float64)
            member = np.zeros((n_langs, len(block)))
            member[lang_ids[start : start + step], np.arange(len(block))] = 1.0
            norms = np.sqrt(np.einsum("ij,ij->i", block, block))
            sums[c] += member @ block
            unit_sums[c] += (member * np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ block
