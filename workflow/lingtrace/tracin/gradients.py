"""Per-example loss gradients of the traced layers, a batch at a time, written as gradient shards.

One forward and one backward per batch, no backward per example: a forward hook on each traced
module keeps its (projected) input activation, a tensor hook on its output receives the loss gradient
w.r.t. that output, and the projector turns the pair into each example's vector (see projection.py).
No parameter requires grad, so no weight gradient is ever accumulated; the outputs of the earliest
traced modules are made leaves that require grad, so backward stops there and the dump costs no more
than a plain forward + backward.

The loss is the cross-entropy with the gold label, *summed* over the batch, so each example's share
of the gradient is its own loss gradient. The model runs in eval mode (no dropout), and padded tokens
are masked out of every token-level gradient.
"""

from __future__ import annotations

import logging
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch
from torch import nn

from lingtrace.batching import Encoded, collate, encode, length_sorted_batches
from lingtrace.errors import ConfigError, NumericalError
from lingtrace import settings
from lingtrace.tracin.projection import build_projector

log = logging.getLogger("lingtrace.tracin.gradients")

TRACEABLE = (nn.Linear, nn.Embedding)
LOG_EVERY_S = 30.0


@dataclass
class Gradients:
    """Per-example results in input order; ``grads`` is (n, total_dim) in the storage dtype and
    ``norms`` (n,) float64 the L2 norm of each stored row."""

    uids: list[str]
    langs: list[str]
    labels: list[int]
    preds: list[int]
    losses: np.ndarray
    grads: np.ndarray
    norms: np.ndarray


def select_layers(model: nn.Module, pattern: str) -> dict[str, nn.Module]:
    """The nn.Linear / nn.Embedding modules whose qualified name fully matches ``pattern``, in model order."""
    try:
        regex = re.compile(pattern)
    except re.error as err:
        raise ConfigError(f"gradients.layers: '{pattern}' is not a valid regular expression ({err})") from None
    candidates = {name: m for name, m in model.named_modules() if isinstance(m, TRACEABLE)}
    chosen = {name: m for name, m in candidates.items() if regex.fullmatch(name)}
    if not chosen:
        some = ", ".join(list(candidates)[:8])
        raise ConfigError(
            f"gradients.layers: '{pattern}' matches no nn.Linear or nn.Embedding module of the model; "
            f"the names look like: {some}"
        )
    return chosen


@contextmanager
def frozen_parameters(model: nn.Module, parameters: list | None = None):
    """No parameter requires grad inside the block (so none gets .grad); the flags are restored after.
    ``parameters``: the model's, if already listed (walking the module tree costs on a small model)."""
    flags = [(p, p.requires_grad) for p in (model.parameters() if parameters is None else parameters)]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


class GradientTracer:
    """Hooks on the traced modules that turn one batched backward into per-example vectors.

    Use as a context manager (registers and removes the hooks); per batch: ``start(attention_mask,
    out)``, forward, ``backward(summed loss)``, ``finish()``: then ``out`` (B, projector.total_dim)
    holds the batch's vectors. Each layer writes its vectors from its tensor hook, as soon as its
    output gradient is known, so no activation outlives its layer's backward: straight into its
    columns of ``out`` when they are large (see projection.outer_sums), else (every layer small, as
    with logra or a tiny model) into its own contiguous block of a reused staging buffer, one bmm
    each, and ``finish`` copies all blocks into ``out`` with one cat (a copy per layer costs more
    than the arithmetic on a small model).
    """

    def __init__(self, modules: dict[str, nn.Module], projector):
        self.modules = modules
        self.projector = projector
        self.handles = []
        self.mask = None  # (B, T): which tokens are real
        self.token_mask = None  # (B, T, 1) in the compute dtype, None when nothing is padded
        self.out = None
        self.activations: dict[str, torch.Tensor] = {}
        self.written: set[str] = set()
        self.prepared: dict = {}  # per batch: inputs shared by several layers, prepared once
        self.inputs: dict = {}  # per batch: id(input) -> (input, its detached view)
        self.leaves: list[torch.Tensor] = []
        self.staged = projector.stageable()
        self.stage: torch.Tensor | None = None  # flat, reused: each layer's (B, dim) block in turn
        self.blocks: dict[str, torch.Tensor] = {}

    def __enter__(self) -> GradientTracer:
        for name, module in self.modules.items():
            self.handles.append(module.register_forward_hook(self._forward_hook(name)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()
        self.start(None, None)

    def start(self, attention_mask: torch.Tensor | None, out: torch.Tensor | None) -> None:
        """Forget the last batch; ``attention_mask`` (B, T) masks the token-level gradients of the next,
        whose vectors go to ``out`` (B, total_dim)."""
        self.mask, self.out, self.token_mask = attention_mask, out, None
        if attention_mask is not None and not bool(attention_mask.all()):
            self.token_mask = attention_mask.unsqueeze(-1).to(out.dtype)
        if out is not None and self.projector.shared:
            out.zero_()
        self.blocks = {}
        if out is not None and self.staged:
            size = out.shape[0] * self.projector.total_dim
            if self.stage is None or self.stage.numel() < size or self.stage.dtype != out.dtype \
                    or self.stage.device != out.device:  # fmt: skip
                self.stage = torch.empty(size, dtype=out.dtype, device=out.device)
            for name, (first, stop) in self.projector.offsets.items():
                self.blocks[name] = self.stage[out.shape[0] * first : out.shape[0] * stop].view(out.shape[0], -1)
        self.activations.clear()
        self.written.clear()
        self.prepared.clear()
        self.inputs.clear()
        self.leaves.clear()

    def _forward_hook(self, name: str):
        layer = self.projector.layers[name]

        def hook(module, inputs, output):
            if name in self.activations or name in self.written:
                raise ConfigError(
                    f"gradients.layers: {name} runs more than once per forward pass; per-example gradients of "
                    "shared modules are not supported, leave it out of the pattern"
                )
            self.activations[name] = layer.activations(self._tokens_first(name, self._detached(inputs[0])))
            if not output.requires_grad:  # an earliest traced module: backward starts its graph here
                output = output.detach().requires_grad_()
                self.leaves.append(output)
            output.register_hook(lambda grad: self._on_gradient(name, grad))
            return output

        return hook

    def _detached(self, x: torch.Tensor) -> torch.Tensor:
        """x.detach(), the same tensor for every layer fed x (query, key, value), so that their exact
        activations are prepared once (see KroneckerLayer.write)."""
        hit = self.inputs.get(id(x))
        if hit is None or hit[0] is not x:  # the memo keeps x alive: its id cannot be reused meanwhile
            hit = self.inputs[id(x)] = (x, x.detach())
        return hit[1]

    def _tokens_first(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """(B, T, ...) as is; a per-example input (B, in), like the classifier head's, as one token (B, 1, in)."""
        is_ids = not x.is_floating_point()
        if x.dim() == (1 if is_ids else 2):
            return x.unsqueeze(1)
        if x.dim() == (2 if is_ids else 3) and x.shape[:2] == self.mask.shape:
            return x
        raise ConfigError(
            f"gradients.layers: {name} gets input of shape {tuple(x.shape)}; only (batch, features) and "
            f"(batch, tokens, features) with the batch's {tuple(self.mask.shape)} tokens can be traced"
        )

    def _on_gradient(self, name: str, grad: torch.Tensor) -> None:
        # a per-example output (B, out) is one token and has no padding; padded tokens' outputs reach
        # no loss, and the mask makes their share exactly zero, not just tiny
        mask = None if grad.dim() == 2 else self.token_mask
        if grad.dim() == 2:
            grad = grad.unsqueeze(1)
        layer = self.projector.layers[name]
        layer.write(self.activations.pop(name), layer.gradients(grad), mask, self.columns(name), self.prepared)
        self.written.add(name)

    def columns(self, name: str) -> torch.Tensor:
        """Where layer ``name`` writes the batch's vectors: its staging block, or its columns of out."""
        if self.staged:
            return self.blocks[name]
        start, stop = self.projector.offsets[name]
        return self.out[:, start:stop]

    def backward(self, loss: torch.Tensor) -> None:
        """Backward from the summed loss to the earliest traced outputs only; no .grad anywhere."""
        if loss.requires_grad:  # else no traced module lies upstream of the loss
            torch.autograd.grad(loss, self.leaves, allow_unused=True)

    def finish(self) -> None:
        """A traced module the loss does not depend on has the exact gradient zero."""
        if not self.projector.shared:
            for name in self.projector.layers:
                if name not in self.written:
                    self.columns(name).zero_()
        if self.staged:
            torch.cat(list(self.blocks.values()), dim=1, out=self.out)
        self.activations.clear()
        self.prepared.clear()
        self.inputs.clear()


def non_finite_uids(values: torch.Tensor, uids: list[str]) -> list[str]:
    """uids whose row of ``values`` (B,) or (B, D) holds a NaN or inf."""
    bad = ~torch.isfinite(values.reshape(len(uids), -1)).all(dim=1)
    return [uid for uid, flag in zip(uids, bad.tolist()) if flag]


def check_finite(values: torch.Tensor, uids: list[str], what: str) -> None:
    bad = non_finite_uids(values, uids)
    if bad:
        raise NumericalError(
            f"non-finite {what} for {len(bad)} example(s): {', '.join(bad[:20])}"
            f"{' ...' if len(bad) > 20 else ''}. The checkpoint or these inputs are numerically broken; "
            "they are not skipped, since that would silently bias the attribution"
        )


def batch_gradients(model: nn.Module, tracer: GradientTracer, batch: dict, uids: list[str], out: torch.Tensor):
    """(losses (B,), preds (B,)) of one padded batch; its vectors (B, total_dim) are written to ``out``."""
    tracer.start(batch["attention_mask"], out)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    losses = nn.functional.cross_entropy(logits, batch["labels"], reduction="none")
    check_finite(losses.detach(), uids, "loss")
    tracer.backward(losses.sum())
    tracer.finish()
    return losses.detach(), logits.detach().argmax(dim=-1)


def stored_norms(vectors: torch.Tensor, stored: torch.Tensor, uids: list[str]) -> torch.Tensor:
    """(B,) float64 L2 norms of the ``stored`` rows (``vectors`` cast to the storage dtype), checking both.

    One pass: a norm accumulated in float32 (or float64) is finite exactly when its row is, unless the
    squares overflow; only a non-finite norm sends the rows through the slower elementwise checks.
    """
    norms = torch.linalg.vector_norm(stored, dim=1, dtype=torch.promote_types(stored.dtype, torch.float32))
    bad = ~torch.isfinite(norms)
    if bool(bad.any()):
        rows = bad.nonzero().squeeze(1)
        check_finite(vectors[rows], [uids[i] for i in rows.tolist()], "gradient")
        if stored.dtype == torch.float16:
            over = [uids[i] for i in rows.tolist()]
            raise NumericalError(
                f"gradients of {len(over)} example(s) exceed the float16 range ({', '.join(over[:20])}); "
                "set gradients.dtype: float32"
            )
        norms[rows] = torch.linalg.vector_norm(stored[rows].double(), dim=1).to(norms.dtype)
    return norms.double()


def compute_gradients(
    model: nn.Module,
    encoded: Encoded,
    layers: dict[str, nn.Module],
    projector,
    batch_size: int,
    device=None,
    dtype: torch.dtype = torch.float32,
    store_dtype: torch.dtype | None = None,
) -> Gradients:
    """Per-example projected loss gradients of ``encoded`` (in its order): grads (n, total_dim).

    Moves ``model`` (in place) and the projector's matrices to ``device`` (None: where the model is)
    and the compute ``dtype`` (torch.float64 for exactness tests); the model's requires_grad flags are
    restored afterwards. ``grads`` come back on the CPU in ``store_dtype`` (None: the compute dtype),
    with their norms. The (n, total_dim) result is allocated once; a batch whose examples are
    consecutive rows (and needs no cast) is written straight into it, any other through one copy.
    """
    parameters = list(model.parameters())
    device = parameters[0].device if device is None else torch.device(device)
    if any(p.device != device or p.dtype != dtype for p in parameters):
        model.to(device=device, dtype=dtype)
        parameters = list(model.parameters())
    model.eval()
    projector.to(device, dtype)
    store_dtype = dtype if store_dtype is None else store_dtype
    pad_id = model.config.pad_token_id
    n = len(encoded)
    # torch.empty, not numpy's: numpy asks for transparent huge pages, which fault in faster when the
    # kernel has them free but stall for compaction when it has not (measured on a 416 MB result:
    # 15 ms or 300-540 ms to touch its pages, against a steady 110 ms with 4 KB pages)
    grads = torch.empty(n, projector.total_dim, dtype=store_dtype)
    norms = torch.empty(n, dtype=torch.float64)
    losses = torch.empty(n, dtype=torch.float64)
    preds = torch.empty(n, dtype=torch.int64)
    buffer = None
    done = 0
    started = last_log = time.monotonic()
    with torch.enable_grad(), frozen_parameters(model, parameters), GradientTracer(layers, projector) as tracer:
        for indices in length_sorted_batches(encoded, batch_size):
            batch = collate(encoded, indices, pad_id, device)
            uids = [encoded.uids[i] for i in indices]
            first = indices[0]
            direct = (device.type == "cpu" and store_dtype == dtype
                      and indices == list(range(first, first + len(indices))))  # fmt: skip
            if direct:
                out = grads[first : first + len(indices)]
            else:
                if buffer is None or buffer.shape[0] < len(indices):
                    buffer = torch.empty(len(indices), projector.total_dim, dtype=dtype, device=device)
                out = buffer[: len(indices)]
            loss, pred = batch_gradients(model, tracer, batch, uids, out)
            stored = out if store_dtype == dtype else out.to(store_dtype)
            rows = torch.tensor(indices)
            norms[rows] = stored_norms(out, stored, uids).cpu()
            if not direct:
                grads.index_copy_(0, rows, stored.cpu())
            losses[rows] = loss.double().cpu()
            preds[rows] = pred.cpu()
            done += len(indices)
            if time.monotonic() - last_log > LOG_EVERY_S:
                last_log = time.monotonic()
                log_rate(done, n, last_log - started)
    log_rate(n, n, time.monotonic() - started)
    return Gradients(
        uids=list(encoded.uids),
        langs=list(encoded.langs),
        labels=list(encoded.labels),
        preds=preds.tolist(),
        losses=losses.numpy(),
        grads=grads.numpy(),
        norms=norms.numpy(),
    )


def log_rate(done: int, total: int, seconds: float) -> None:
    log.info("gradients: %d/%d examples, %.1f examples/s", done, total, done / max(seconds, 1e-9))


def shard_rows(table: pa.Table, shard: int, n_shards: int) -> pa.Table:
    """Shard ``shard`` of ``n_shards``: the table sorted by uid, cut into contiguous blocks of near-equal size.

    Block i holds rows [i * n // n_shards, (i + 1) * n // n_shards) of the sorted table, so the shards
    cover every uid exactly once whatever the input row order.
    """
    if n_shards < 1 or not 0 <= shard < n_shards:
        raise ConfigError(f"gradient shard {shard} of {n_shards}: need n_shards >= 1 and 0 <= shard < n_shards")
    rows = table.sort_by("uid")
    start, stop = shard * len(rows) // n_shards, (shard + 1) * len(rows) // n_shards
    return rows.slice(start, stop - start)


def dump_gradients(
    checkpoint_dir,
    data_table: pa.Table,
    cfg,
    out_path,
    split: str,
    max_length: int,
    shard: int = 0,
    n_shards: int = 1,
    threads: int | None = None,
    device: str | None = None,
    loaded=None,
    run: str | None = None,
) -> dict:
    """Write the gradient shard ``shard`` of ``n_shards`` of ``data_table`` at one checkpoint; returns its metadata.

    ``cfg``: the ``gradients`` settings (layers, projection, dim, seed, dtype for storage, batch_size);
    ``max_length`` truncates as fine-tuning did. Computation is in float32. ``loaded`` is the checkpoint
    already loaded (model, tokenizer, trace), to dump several splits from one load; its trace's
    ``fingerprint`` (load_checkpoint(..., fingerprint=True)) spares hashing the weights again. ``run``
    names the run in the shard's checkpoint fingerprint.
    """
    from lingtrace.device import resolve_device, setup_torch
    from lingtrace.io.checkpoints import checkpoint_fingerprint, load_checkpoint
    from lingtrace.tracin.store import write_grad_shard

    cfg = settings.load("gradients", cfg)
    setup_torch(threads)
    device = resolve_device(device)
    model, tokenizer, trace = loaded or load_checkpoint(checkpoint_dir, device=device, fingerprint=True)
    fingerprint = trace.get("fingerprint") or checkpoint_fingerprint(checkpoint_dir, trace)
    rows = shard_rows(data_table, shard, n_shards)
    encoded = encode(rows, tokenizer, max_length, where=f"{split} shard {shard}/{n_shards}")
    layers = select_layers(model, cfg.layers)
    projector = build_projector(cfg.projection, layers, cfg.dim, cfg.seed)
    log.info("%s: %s shard %d/%d, %d examples, %d layers, %s -> %d dims",
             checkpoint_dir, split, shard, n_shards, len(encoded), len(layers), projector.kind, projector.total_dim)
    store_dtype = torch.float16 if cfg.dtype == "float16" else torch.float32
    result = compute_gradients(model, encoded, layers, projector, cfg.batch_size, device, store_dtype=store_dtype)
    metadata = {
        "projection": projector.metadata(),
        "layers": {"pattern": cfg.layers, "modules": list(layers)},
        "checkpoint": int(trace["epoch"]),
        "eta": float(trace["mean_lr"]),
        "fingerprint": {**fingerprint, "run": run},
        "dtype": cfg.dtype,
        "split": split,
        "shard": shard,
        "n_shards": n_shards,
    }
    write_grad_shard(out_path, result.uids, result.langs, result.labels, result.preds, result.losses,
                     result.grads, metadata, norms=result.norms)
    return metadata
