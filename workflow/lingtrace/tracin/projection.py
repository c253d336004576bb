"""Projections of per-example, per-layer gradients to the vectors that TracIn scores compare.

A traced layer's per-example weight gradient is a sum over the example's tokens of outer products,
G = sum_t g_t ⊗ a_t, with g_t the loss gradient w.r.t. the layer's output at token t and a_t its
input there. For an ``nn.Linear`` with a bias, a_t is the input with a constant 1 appended, so the
bias gradient is G's last column (as in Kronfluence). For an ``nn.Embedding``, a_t is the one-hot
vector of the token id and G is the transpose of the weight's gradient: (embedding_dim, vocab).

Every layer vector is laid out row-major as (output side, input side). The kinds:

- ``none``: the exact G, out * in dims per layer.
- ``logra``: LoGra's Kronecker-structured projection applied *before* the outer product:
  sum_t (P_out^T g_t) ⊗ (P_in^T a_t), r_out * r_in dims; the full G is never formed. P has entries
  N(0, 1/r), so E<Pg, Pg'> = <g, g'>. A side of size <= r is kept exact (identity), e.g. the 2-5
  outputs of the classifier's out_proj.
- ``gaussian``: a dense N(0, 1/dim) projection of the concatenation of all layers' exact G to
  ``dim`` dims in total. It forms each layer's G, and its matrix has dim x (all traced parameters)
  entries (regenerated in chunks when it does not fit the cache), so it is meant for small layer
  sets (the classifier head, a few layers); use ``logra`` for the whole encoder.

All random matrices are drawn in float32 on CPU from torch generators seeded by
``stable_seed(seed, layer name, ...)``: the same config gives the same matrices in any process, on
any batch, for train and test alike, whatever the compute device or dtype.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from lingtrace.seeding import stable_seed
from lingtrace.errors import ConfigError

KINDS = ("none", "logra", "gaussian")
# logra: rank per side of each layer; gaussian: total dimension. At these defaults both rank-correlate
# with exact TracIn at >= 0.9 on the test fixture (tests/test_projection.py).
# Entries per generated block of a gaussian projection, and how much of them to keep in memory.
GAUSSIAN_BLOCK_ENTRIES = 1 << 22
GAUSSIAN_CACHE_BYTES = 512 << 20


@dataclass(frozen=True)
class LayerShape:
    """A traced module's gradient shape: (n_out, n_in), n_in counting the bias column."""

    name: str
    module: str  # "linear" or "embedding"
    n_in: int
    n_out: int
    bias: bool = False
    padding_idx: int | None = None  # embedding row that never receives a gradient

    @classmethod
    def of(cls, name: str, module: nn.Module) -> LayerShape:
        if isinstance(module, nn.Linear):
            bias = module.bias is not None
            return cls(name, "linear", module.in_features + int(bias), module.out_features, bias=bias)
        if isinstance(module, nn.Embedding):
            return cls(name, "embedding", module.num_embeddings, module.embedding_dim, padding_idx=module.padding_idx)
        raise ConfigError(f"gradients.layers: {name} is a {type(module).__name__}; only nn.Linear and nn.Embedding")


def gaussian_matrix(rows: int, cols: int, scale_dim: int, *seed_parts) -> torch.Tensor:
    """(rows, cols) float32 CPU, entries N(0, 1/scale_dim), a pure function of the seed parts."""
    generator = torch.Generator().manual_seed(stable_seed(*seed_parts) % 2**63)
    return torch.randn(rows, cols, generator=generator) / math.sqrt(scale_dim)


def append_ones(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, x.new_ones(*x.shape[:-1], 1)], dim=-1)


# Per-example matrices at least this large are written one example at a time with torch.mm straight
# into their rows of the output (measured: MKL's batched gemm is slower than a loop of gemms there);
# smaller ones go through one bmm and a copy (fewer calls; the copy is cheap). torch's bmm cannot write
# into a row-strided output without a copy of its own.
DIRECT_MM_ENTRIES = 1 << 15


def outer_sums(g: torch.Tensor, a: torch.Tensor, out: torch.Tensor) -> None:
    """out[b] = g[b]^T a[b] for g (B, T, O), a (B, T, I), ``out`` (B, O, I) a view whose matrices are
    each contiguous (rows of a larger (B, total) array)."""
    if g.shape[1] == 1:  # one token (a per-example input): an outer product, written in place
        torch.mul(g.transpose(1, 2), a, out=out)
    elif out.is_contiguous():
        torch.bmm(g.transpose(1, 2), a, out=out)
    elif out.shape[1] * out.shape[2] >= DIRECT_MM_ENTRIES:
        for b in range(out.shape[0]):
            torch.mm(g[b].T, a[b], out=out[b])
    else:
        out.copy_(torch.bmm(g.transpose(1, 2), a))


def zero_padding_rows(a: torch.Tensor, ids: torch.Tensor, padding_idx: int | None) -> torch.Tensor:
    """nn.Embedding gives its padding row no gradient: drop those tokens' activations."""
    if padding_idx is None:
        return a
    return a * (ids != padding_idx).unsqueeze(-1).to(a.dtype)


class KroneckerLayer:
    """sum_t (P_out^T g_t) ⊗ (P_in^T a_t) per example; a side whose P is None is kept exact.

    ``activations`` maps the layer input (B, T, in) floats or (B, T) token ids to (B, T, r_in);
    ``gradients`` maps output gradients (B, T, out) to (B, T, r_out); ``combine`` gives (B, r_out * r_in).
    """

    def __init__(self, shape: LayerShape, p_in: torch.Tensor | None, p_out: torch.Tensor | None):
        self.shape = shape
        self.p_in = p_in  # (n_in, r_in)
        self.p_out = p_out  # (n_out, r_out)
        self.dims = (shape.n_out if p_out is None else p_out.shape[1], shape.n_in if p_in is None else p_in.shape[1])
        self.dim = self.dims[0] * self.dims[1]

    def to(self, device, dtype) -> None:
        if self.p_in is not None:
            self.p_in = self.p_in.to(device=device, dtype=dtype)
        if self.p_out is not None:
            self.p_out = self.p_out.to(device=device, dtype=dtype)

    def activations(self, x: torch.Tensor) -> torch.Tensor:
        """The input side, before the outer product; an exact side stays the raw input (the bias
        column is added by ``combine`` and ``write``)."""
        if self.shape.module == "embedding":
            return self._embedding_activations(x)
        if self.p_in is None:
            return x
        if self.shape.bias:  # [x; 1] @ P_in without concatenating the ones
            return torch.addmm(self.p_in[-1], x.reshape(-1, x.shape[-1]), self.p_in[:-1]).reshape(*x.shape[:-1], -1)
        return x @ self.p_in

    def _embedding_activations(self, ids: torch.Tensor) -> torch.Tensor:
        if self.p_in is None:
            a = nn.functional.one_hot(ids, self.shape.n_in).float()  # combine casts it to the gradient's dtype
        else:
            a = self.p_in[ids]  # P_in^T onehot(id) is P_in's row for id
        return zero_padding_rows(a, ids, self.shape.padding_idx)

    def gradients(self, g: torch.Tensor) -> torch.Tensor:
        return g if self.p_out is None else g @ self.p_out

    @property
    def exact_bias(self) -> bool:
        """An exact input side of a Linear with a bias: the constant-1 column is appended to a_t."""
        return self.p_in is None and self.shape.bias

    def combine(self, a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """(B, r_out * r_in): the definition, sum_t g_t ⊗ a_t, in one einsum (``write``'s slow twin)."""
        a = a.to(g.dtype)
        if self.exact_bias:
            a = append_ones(a)
        return torch.einsum("bto,bti->boi", g, a).reshape(g.shape[0], -1)

    def write(self, a: torch.Tensor, g: torch.Tensor, mask: torch.Tensor | None, out: torch.Tensor,
              prepared: dict | None = None) -> None:  # fmt: skip
        """``combine(a * mask, g)`` written into ``out`` (B, dim), a view that may be row-strided.

        ``mask`` (B, T, 1) in g's dtype zeroes padded tokens (None: no padding); it is applied to the
        input side, the smaller one here, and as the bias column, so the bias gradient is the masked
        sum of g_t. ``prepared``: a per-batch memo, so layers fed the same input (query, key, value)
        mask it and append its bias column once.
        """
        key = (id(a), self.exact_bias)
        hit = prepared.get(key) if prepared is not None else None
        if hit is not None and hit[0] is a:  # the same tensor (kept alive by the memo), not a reused id
            ready = hit[1]
        else:
            ready = a.to(g.dtype)
            if mask is not None:
                ready = ready * mask
            if self.exact_bias:
                ready = torch.cat([ready, mask if mask is not None else ready.new_ones(*ready.shape[:-1], 1)], dim=-1)
            if prepared is not None:
                prepared[key] = (a, ready)
        outer_sums(g, ready, out.view(g.shape[0], g.shape[-1], ready.shape[-1]))

    def metadata(self) -> dict:
        return {"name": self.shape.name, "module": self.shape.module, "shape": [self.shape.n_out, self.shape.n_in],
                "dims": list(self.dims), "dim": self.dim}


class ExactEmbedding(KroneckerLayer):
    """The exact gradient of an embedding, scattered by token id (no (B, T, vocab) one-hot)."""

    def __init__(self, shape: LayerShape):
        super().__init__(shape, None, None)

    def activations(self, ids: torch.Tensor) -> torch.Tensor:
        return ids

    def combine(self, ids: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        g = zero_padding_rows(g, ids, self.shape.padding_idx)
        rows = g.new_zeros(g.shape[0], self.shape.n_in, self.shape.n_out)
        rows.scatter_add_(1, ids.unsqueeze(-1).expand(-1, -1, self.shape.n_out), g)
        return rows.transpose(1, 2).reshape(g.shape[0], -1)

    def write(self, ids: torch.Tensor, g: torch.Tensor, mask: torch.Tensor | None, out: torch.Tensor,
              prepared: dict | None = None) -> None:  # fmt: skip
        out.copy_(self.combine(ids, g if mask is None else g * mask))


class GaussianLayer:
    """One layer's share of a dense projection: exact G (B, out * in) times its (out * in, dim) block.

    The block is drawn in row chunks seeded by (seed, layer, chunk), so it is never held whole unless
    it fits the cache.
    """

    def __init__(self, exact: KroneckerLayer, dim: int, seed: int, cache: dict):
        self.exact = exact
        self.shape = exact.shape
        self.dim = dim
        self.seed = seed
        self.rows_per_block = max(1, GAUSSIAN_BLOCK_ENTRIES // dim)
        self.cache = cache
        self.device, self.dtype = torch.device("cpu"), torch.float32

    def to(self, device, dtype) -> None:
        self.device, self.dtype = torch.device(device), dtype

    def activations(self, x: torch.Tensor) -> torch.Tensor:
        return self.exact.activations(x)

    def gradients(self, g: torch.Tensor) -> torch.Tensor:
        return self.exact.gradients(g)

    def combine(self, a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        out = g.new_zeros(g.shape[0], self.dim)
        self.project(self.exact.combine(a, g), out)
        return out

    def write(self, a: torch.Tensor, g: torch.Tensor, mask: torch.Tensor | None, out: torch.Tensor,
              prepared: dict | None = None) -> None:  # fmt: skip
        """Adds this layer's share to ``out`` (B, dim), which every layer of the projection shares."""
        flat = g.new_empty(g.shape[0], self.exact.dim)
        self.exact.write(a, g, mask, flat, prepared)
        self.project(flat, out)

    def project(self, flat: torch.Tensor, out: torch.Tensor) -> None:
        for chunk, start in enumerate(range(0, flat.shape[1], self.rows_per_block)):
            stop = min(start + self.rows_per_block, flat.shape[1])
            out.addmm_(flat[:, start:stop], self.block(chunk, stop - start))

    def block(self, chunk: int, rows: int) -> torch.Tensor:
        key = (self.shape.name, chunk, self.device, self.dtype)
        if key in self.cache:
            return self.cache[key]
        matrix = gaussian_matrix(rows, self.dim, self.dim, self.seed, self.shape.name, "gaussian", chunk)
        matrix = matrix.to(device=self.device, dtype=self.dtype)
        if self.cache["bytes"] + matrix.numel() * matrix.element_size() <= GAUSSIAN_CACHE_BYTES:
            self.cache[key] = matrix
            self.cache["bytes"] += matrix.numel() * matrix.element_size()
        return matrix

    def metadata(self) -> dict:
        return {"name": self.shape.name, "module": self.shape.module, "shape": [self.shape.n_out, self.shape.n_in],
                "dim": self.dim}


def logra_layer(shape: LayerShape, rank: int, seed: int) -> KroneckerLayer:
    """P_in (n_in, r) and P_out (n_out, r) with N(0, 1/r) entries; identity for a side of size <= r."""
    p_in = None if shape.n_in <= rank else gaussian_matrix(shape.n_in, rank, rank, seed, shape.name, "in")
    p_out = None if shape.n_out <= rank else gaussian_matrix(shape.n_out, rank, rank, seed, shape.name, "out")
    return KroneckerLayer(shape, p_in, p_out)


def exact_layer(shape: LayerShape) -> KroneckerLayer:
    return ExactEmbedding(shape) if shape.module == "embedding" else KroneckerLayer(shape, None, None)


class Projector:
    """The per-layer projections of one gradients config, in traced-layer order.

    ``layers[name]`` has ``activations``, ``gradients`` and ``combine`` (see KroneckerLayer);
    ``assemble`` turns the per-layer (B, d_l) results into the (B, total_dim) example vectors.
    """

    def __init__(self, kind: str, shapes: list[LayerShape], dim: int | None, seed: int):
        if kind not in KINDS:
            raise ConfigError(f"gradients.projection: {kind!r} is not one of {', '.join(KINDS)}")
        if kind != "none" and (dim is None or dim < 1):
            raise ConfigError(f"gradients.dim: {kind} projection needs a positive dimension, got {dim!r}")
        self.kind, self.seed = kind, seed
        self.dim = None if kind == "none" else dim
        cache = {"bytes": 0}
        if kind == "none":
            self.layers = {s.name: exact_layer(s) for s in shapes}
        elif kind == "logra":
            self.layers = {s.name: logra_layer(s, dim, seed) for s in shapes}
        else:
            self.layers = {s.name: GaussianLayer(exact_layer(s), dim, seed, cache) for s in shapes}
        self.total_dim = dim if kind == "gaussian" else sum(layer.dim for layer in self.layers.values())
        self.offsets, start = {}, 0  # each layer's columns in an example vector
        for name, layer in self.layers.items():
            self.offsets[name] = (0, dim) if kind == "gaussian" else (start, start + layer.dim)
            start += 0 if kind == "gaussian" else layer.dim

    def stageable(self) -> bool:
        """Whether every layer writes a small per-example matrix (one bmm into a contiguous block, see
        outer_sums): then the tracer stages the blocks and copies them into the vectors at once."""
        return self.kind != "gaussian" and all(layer.dim < DIRECT_MM_ENTRIES for layer in self.layers.values())

    @property
    def shared(self) -> bool:
        """Whether every layer adds into the same columns (gaussian) rather than writing its own."""
        return self.kind == "gaussian"

    def to(self, device, dtype) -> Projector:
        """Move (in place) the matrices to where the model computes; the values stay the float32 draws."""
        for layer in self.layers.values():
            layer.to(device, dtype)
        return self

    def assemble(self, per_layer: list[torch.Tensor]) -> torch.Tensor:
        """(B, total_dim): per-layer vectors concatenated, or summed for a dense gaussian projection."""
        return torch.stack(per_layer).sum(0) if self.kind == "gaussian" else torch.cat(per_layer, dim=1)

    def metadata(self) -> dict:
        return {"kind": self.kind, "seed": self.seed, "dim": self.dim, "total_dim": self.total_dim,
                "layers": [layer.metadata() for layer in self.layers.values()]}


def build_projector(kind: str, modules: dict[str, nn.Module], dim: int | None, seed: int) -> Projector:
    """The projector for the traced ``modules`` (name -> module): ``gradients.projection``, ``.dim`` and ``.seed``."""
    return Projector(kind, [LayerShape.of(name, module) for name, module in modules.items()], dim, seed)
