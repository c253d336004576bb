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
FLOAT16_MAX = float(np.finfo(np.float16).max)


@dataclass
class Gradients:
    """Per-example results in input order; ``grads`` is (n, total_dim)."""

    uids: list[str]
    langs: list[str]
    labels: list[int]
    preds: list[int]
    losses: np.ndarray
    grads: np.ndarray


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
def frozen_parameters(model: nn.Module):
    """No parameter requires grad inside the block (so none gets .grad); the flags are restored after."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


class GradientTracer:
    """Hooks on the traced modules that turn one batched backward into per-example vectors.

    Use as a context manager (registers and removes the hooks); per batch: ``start(attention_mask)``,
    forward, ``backward(summed loss)``, then ``vectors(losses)`` -> (B, projector.total_dim).
    """

    def __init__(self, modules: dict[str, nn.Module], projector):
        self.modules = modules
        self.projector = projector
        self.handles = []
        self.mask = None
        self.activations: dict[str, torch.Tensor] = {}
        self.results: dict[str, torch.Tensor] = {}
        self.leaves: list[torch.Tensor] = []

    def __enter__(self) -> GradientTracer:
        for name, module in self.modules.items():
            self.handles.append(module.register_forward_hook(self._forward_hook(name)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()
        self.start(None)

    def start(self, attention_mask: torch.Tensor | None) -> None:
        """Forget the last batch; ``attention_mask`` (B, T) masks the token-level gradients of the next."""
        self.mask = attention_mask
        self.activations.clear()
        self.results.clear()
        self.leaves.clear()

    def _forward_hook(self, name: str):
        layer = self.projector.layers[name]

        def hook(module, inputs, output):
            if name in self.activations or name in self.results:
                raise ConfigError(
                    f"gradients.layers: {name} runs more than once per forward pass; per-example gradients of "
                    "shared modules are not supported, leave it out of the pattern"
                )
            self.activations[name] = layer.activations(self._tokens_first(name, inputs[0].detach()))
            if not output.requires_grad:  # an earliest traced module: backward starts its graph here
                output = output.detach().requires_grad_()
                self.leaves.append(output)
            output.register_hook(lambda grad: self._on_gradient(name, grad))
            return output

        return hook

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
        if grad.dim() == 2:
            grad = grad.unsqueeze(1)
        else:  # padded tokens' outputs reach no loss; the mask makes that exact, not just tiny
            grad = grad * self.mask.unsqueeze(-1).to(grad.dtype)
        layer = self.projector.layers[name]
        self.results[name] = layer.combine(self.activations.pop(name), layer.gradients(grad))

    def backward(self, loss: torch.Tensor) -> None:
        """Backward from the summed loss to the earliest traced outputs only; no .grad anywhere."""
        if loss.requires_grad:  # else no traced module lies upstream of the loss
            torch.autograd.grad(loss, self.leaves, allow_unused=True)

    def vectors(self, like: torch.Tensor) -> torch.Tensor:
        """(B, total_dim) for a batch of B = len(like); a traced module the loss does not depend on
        contributes its exact gradient, zeros (on like's device, in its dtype)."""
        per_layer = []
        for name, layer in self.projector.layers.items():
            result = self.results.get(name)
            if result is None:
                result = like.new_zeros(len(like), layer.dim)
            per_layer.append(result)
        return self.projector.assemble(per_layer)


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


def batch_gradients(model: nn.Module, tracer: GradientTracer, batch: dict, uids: list[str]):
    """(losses (B,), preds (B,), vectors (B, total_dim)) of one padded batch."""
    tracer.start(batch["attention_mask"])
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    losses = nn.functional.cross_entropy(logits, batch["labels"], reduction="none")
    check_finite(losses.detach(), uids, "loss")
    tracer.backward(losses.sum())
    vectors = tracer.vectors(losses.detach())
    check_finite(vectors, uids, "gradient")
    return losses.detach(), logits.detach().argmax(dim=-1), vectors


def compute_gradients(
    model: nn.Module,
    encoded: Encoded,
    layers: dict[str, nn.Module],
    projector,
    batch_size: int,
    device=None,
    dtype: torch.dtype = torch.float32,
) -> Gradients:
    """Per-example projected loss gradients of ``encoded`` (in its order): grads (n, total_dim).

    Moves ``model`` (in place) and the projector's matrices to ``device`` (None: where the model is)
    and the compute ``dtype`` (torch.float64 for exactness tests); the model's requires_grad flags are
    restored afterwards.
    """
    device = next(model.parameters()).device if device is None else device
    model.to(device=device, dtype=dtype).eval()
    projector.to(device, dtype)
    pad_id = model.config.pad_token_id
    losses, preds, vectors, order = [], [], [], []
    started = last_log = time.monotonic()
    with torch.enable_grad(), frozen_parameters(model), GradientTracer(layers, projector) as tracer:
        for indices in length_sorted_batches(encoded, batch_size):
            batch = collate(encoded, indices, pad_id, device)
            loss, pred, vector = batch_gradients(model, tracer, batch, [encoded.uids[i] for i in indices])
            losses.append(loss.cpu())
            preds.append(pred.cpu())
            vectors.append(vector.cpu())
            order += indices
            if time.monotonic() - last_log > LOG_EVERY_S:
                last_log = time.monotonic()
                log_rate(len(order), len(encoded), last_log - started)
    log_rate(len(encoded), len(encoded), time.monotonic() - started)
    if not order:
        return Gradients([], [], [], [], np.zeros(0), np.zeros((0, projector.total_dim)))
    back = torch.empty(len(order), dtype=torch.long)
    back[torch.tensor(order)] = torch.arange(len(order))  # row of example i in the computed order
    out_dtype = np.float64 if dtype == torch.float64 else np.float32
    return Gradients(
        uids=list(encoded.uids),
        langs=list(encoded.langs),
        labels=list(encoded.labels),
        preds=[int(p) for p in torch.cat(preds)[back].tolist()],
        losses=torch.cat(losses)[back].double().numpy(),
        grads=torch.cat(vectors)[back].numpy().astype(out_dtype, copy=False),
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


def check_float16_range(grads: np.ndarray, uids: list[str]) -> None:
    """Storing in float16 must not turn large values into inf."""
    bad = [uid for uid, row in zip(uids, np.abs(grads).max(axis=1, initial=0.0)) if row > FLOAT16_MAX]
    if bad:
        raise NumericalError(
            f"gradients of {len(bad)} example(s) exceed the float16 range ({', '.join(bad[:20])}); "
            "set gradients.dtype: float32"
        )


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
) -> dict:
    """Write the gradient shard ``shard`` of ``n_shards`` of ``data_table`` at one checkpoint; returns its metadata.

    ``cfg``: the ``gradients`` settings (layers, projection, dim, seed, dtype for storage, batch_size);
    ``max_length`` truncates as fine-tuning did. Computation is in float32. ``loaded`` is the checkpoint
    already loaded (model, tokenizer, trace), to dump several splits from one load.
    """
    from lingtrace.device import resolve_device, setup_torch
    from lingtrace.io.checkpoints import load_checkpoint
    from lingtrace.tracin.store import write_grad_shard

    cfg = settings.load("gradients", cfg)
    setup_torch(threads)
    device = resolve_device(device)
    model, tokenizer, trace = loaded or load_checkpoint(checkpoint_dir, device=device)
    rows = shard_rows(data_table, shard, n_shards)
    encoded = encode(rows, tokenizer, max_length, where=f"{split} shard {shard}/{n_shards}")
    layers = select_layers(model, cfg.layers)
    projector = build_projector(cfg.projection, layers, cfg.dim, cfg.seed)
    log.info("%s: %s shard %d/%d, %d examples, %d layers, %s -> %d dims",
             checkpoint_dir, split, shard, n_shards, len(encoded), len(layers), projector.kind, projector.total_dim)
    result = compute_gradients(model, encoded, layers, projector, cfg.batch_size, device)
    if cfg.dtype == "float16":
        check_float16_range(result.grads, result.uids)
    metadata = {
        "projection": projector.metadata(),
        "layers": {"pattern": cfg.layers, "modules": list(layers)},
        "checkpoint": int(trace["epoch"]),
        "eta": float(trace["mean_lr"]),
        "dtype": cfg.dtype,
        "split": split,
        "shard": shard,
        "n_shards": n_shards,
    }
    write_grad_shard(out_path, result.uids, result.langs, result.labels, result.preds, result.losses,
                     result.grads, metadata)
    return metadata
