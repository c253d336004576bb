"""`lingtrace bench` computes what it reports (its figures are not asserted: they are measurements)."""

import json

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


def test_captum_job_agrees_with_captum_at_the_bench_thread_count():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        result = bench.bench_captum(n_train=50, n_test=10, n_ckpt=2, batch=8)
        assert torch.get_num_threads() == 2  # both sides ran with the threads the bench was given
    finally:
        torch.set_num_threads(before)
    assert result["captum_max_rel_err"] < 1e-4
    assert result["sizes"]["n_train"] == 50 and result["captum_speedup"] > 0


def test_cli_writes_json(tmp_path, monkeypatch):
    figures = {k: 1.0 for k in ("grad_ratio_vs_fwdbwd", "grad_speedup_vs_loop", "score_fraction_of_matmul",
                                "shard_fraction_of_matmul", "captum_speedup", "captum_max_rel_err")}
    monkeypatch.setattr(bench, "run_bench", lambda quick, threads: {**figures, "quick": quick})
    assert main(["bench", "--quick", "--json", str(tmp_path / "b.json")]) == 0
    assert json.loads((tmp_path / "b.json").read_text())["quick"] is True
