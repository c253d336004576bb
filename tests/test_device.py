"""Device choice and torch settings, on the CPU: resolve_device (cpu, auto, cuda without CUDA, the
study default), autocast (a no-op off CUDA or in fp32), setup_torch (threads, seeds, determinism) and
adamw (fused on the CPU, stepping as the per-parameter loop does)."""

import contextlib
import copy
import os
import random

import numpy as np
import pytest
import torch

from lingtrace.device import adamw, autocast, resolve_device, setup_torch
from lingtrace.errors import ConfigError


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def torch_state(monkeypatch):
    """Put back what setup_torch changes process-wide."""
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    rng, np_rng, py_rng = torch.get_rng_state(), np.random.get_state(), random.getstate()
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    torch.set_rng_state(rng), np.random.set_state(np_rng), random.setstate(py_rng)


def test_resolve_device_on_a_machine_without_cuda(no_cuda):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")  # study.device defaults to cpu
    for asked in ("cuda", "cuda:1", torch.device("cuda", 0)):
        with pytest.raises(ConfigError, match=r"torch sees no CUDA device; set device: cpu or auto"):
            resolve_device(asked)


def test_auto_picks_cuda_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)


def test_autocast_is_a_no_op_off_cuda_or_in_fp32():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for device, precision in ((cpu, "bf16"), (cpu, "fp16"), (cuda, "fp32")):
        assert isinstance(autocast(device, precision), contextlib.nullcontext)
    with pytest.warns(UserWarning) if not torch.cuda.is_available() else contextlib.nullcontext():
        ctx = autocast(cuda, "fp16")
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.float16


def test_setup_torch_seeds_every_generator_and_sets_threads(torch_state):
    def draws():
        return torch.rand(3).tolist(), np.random.rand(3).tolist(), random.random()

    assert setup_torch(threads=1, seed=2**64 - 5) is torch  # seeds as large as stable_seed's are taken
    first = draws()
    setup_torch(threads=1, seed=2**64 - 5)
    assert draws() == first
    setup_torch(seed=7)
    assert draws() != first
    assert torch.get_num_threads() == 1
    assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_setup_torch_without_determinism_leaves_the_flags(torch_state):
    torch.use_deterministic_algorithms(False)
    setup_torch(deterministic=False)
    assert not torch.are_deterministic_algorithms_enabled()
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ


def test_adamw_is_fused_on_the_cpu_and_steps_as_the_per_parameter_loop_does():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3)).double()
    twin = copy.deepcopy(model)
    ours = adamw(model, 0.01, 0.1)
    loop = torch.optim.AdamW(twin.parameters(), lr=0.01, weight_decay=0.1, foreach=False, fused=False)
    assert ours.defaults["fused"] is True
    x = torch.randn(8, 5, dtype=torch.float64)
    for _ in range(5):
        for net, optimizer in ((model, ours), (twin, loop)):
            net(x).square().sum().backward()
            optimizer.step()
            optimizer.zero_grad()
    for a, b in zip(model.parameters(), twin.parameters()):
        assert not torch.equal(a, torch.zeros_like(a))
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
