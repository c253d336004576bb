"""`lingtrace bench` computes what it reports (its figures are not asserted: they are measurements)."""

import json

import pytest
import torch

from lingtrace import bench
from lingtrace.cli import main


def test_kernel_and_gradient_figures_are_ratios_of_measured_rates():
    kernel = bench.bench_kernel(n_test=20, n_train=300, dim=16, n_ckpt=2, keep=5, chunk=64, reps=1)
    assert kernel["score_fraction_of_matmul"] > 0 and kernel["sizes"]["n_train"] == 300
    grads = bench.bench_gradients(arch=bench.TINY, batch=4, tokens=16, vocab=200, reps=1)
    rates = grads["examples_per_s"]
    assert grads["grad_ratio_vs_fwdbwd"] == rates["dump"] / rates["fwdbwd"]
    assert grads["grad_speedup_vs_loop"] == rates["dump"] / rates["loop"]


@pytest.mark.parametrize("layers", ["all", "head"])
def test_captum_job_agrees_with_captum_at_the_bench_thread_count(layers):
    pytest.importorskip("captum")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        result = bench.bench_captum(n_train=50, n_test=10, n_ckpt=2, batch=8, layers=layers, fast=layers == "head")
        assert torch.get_num_threads() == 2  # both sides ran with the threads the bench was given
    finally:
        torch.set_num_threads(before)
    assert result["captum_max_rel_err"] < 1e-4
    assert result["in_memory_max_rel_err"] < 1e-4  # the floor computes the same job
    assert result["sizes"]["n_train"] == 50 and result["captum_speedup"] > 0
    assert len(result["sizes"]["layers"]) == (14 if layers == "all" else 2)
    assert ("captum_fast_speedup" in result) == (layers == "head")


def test_opacus_race_computes_the_same_per_example_gradients():
    pytest.importorskip("opacus")
    result = bench.bench_opacus(bench.TINY, bench.ALL_LINEAR, batch=4, tokens=8, vocab=100, reps=1)
    assert result["opacus_max_rel_err"] < 1e-5  # the same exact gradients, in float32
    rates = result["examples_per_s"]
    assert result["grad_vs_opacus"] == rates["ours"] / rates["opacus"]
    assert len(result["sizes"]["traced_layers"]) == 14


def test_shard_io_reads_back_what_it_wrote():
    result = bench.bench_shard_io(n=50, dim=16, reps=1)
    rates = result["gb_per_s"]
    assert result["shard_write_vs_copy"] == rates["shard_write"] / rates["file_copy"]
    assert result["sizes"]["payload_bytes"] == 50 * 16 * 4 <= result["sizes"]["bytes"]


def test_cli_writes_json(tmp_path, monkeypatch):
    figures = {k: 1.0 for k in ("grad_ratio_vs_fwdbwd", "grad_speedup_vs_loop", "grad_vs_opacus",
                                "score_fraction_of_matmul", "shard_fraction_of_matmul", "shard_write_vs_copy",
                                "shard_read_vs_copy", "captum_speedup", "captum_max_rel_err", "captum_head_speedup",
                                "captum_fast_head_speedup", "captum_in_memory_speedup")}
    monkeypatch.setattr(bench, "run_bench", lambda quick, threads: {**figures, "quick": quick})
    assert main(["bench", "--quick", "--json", str(tmp_path / "b.json")]) == 0
    assert json.loads((tmp_path / "b.json").read_text())["quick"] is True
