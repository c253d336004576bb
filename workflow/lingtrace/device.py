"""Device choice and numeric settings shared by the torch stages."""

from __future__ import annotations

import os
import random


def setup_torch(threads: int | None = None, seed: int | None = None, deterministic: bool = True):
    """Import torch with a fixed thread count and seeds, so the same config gives the same numbers."""
    import numpy as np
    import torch

    if threads:
        torch.set_num_threads(int(threads))
    if seed is not None:
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    return torch


def resolve_device(requested=None):
    """'cpu', 'cuda', 'cuda:N' or 'auto' (cuda when present); None: ``study.device``. Asking for cuda
    without one is an error."""
    import torch

    from lingtrace.errors import ConfigError

    if requested is None:
        from lingtrace import settings

        requested = settings.load("study").device
    if isinstance(requested, torch.device):
        requested = str(requested)
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {requested!r} was asked for but torch sees no CUDA device; set device: cpu or auto")
    return device


def autocast(device, precision: str):
    """bf16/fp16 autocast on CUDA; a no-op context elsewhere or for fp32."""
    import contextlib

    import torch

    if device.type != "cuda" or precision == "fp32":
        return contextlib.nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return torch.autocast("cuda", dtype=dtype)


def adamw(model, learning_rate: float, weight_decay: float):
    """AdamW over the model's parameters with torch's fused kernel (one pass over each parameter,
    no Python loop over them) where torch has one for the model's device: on a small model the
    optimizer's per-parameter arithmetic is a tenth of the step."""
    import torch

    device = next(model.parameters()).device.type
    fused = device in ("cpu", "cuda", "mps") or None
    return torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay, fused=fused)
