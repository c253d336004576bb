"""``lingtrace bench``: the performance figures, each measured side by side in one process.

- ``grad_ratio_vs_fwdbwd``: per-example gradient dump throughput over a plain batched
  forward+backward (weight gradients of the same traced layers) of the same model and batch;
- ``grad_speedup_vs_loop``: the dump over one forward+backward per example;
- ``score_fraction_of_matmul``: the scoring kernel's GFLOP/s over torch matmul's for the same shapes
  (k=1024), with the end-to-end shard figure (Parquet read, scoring, Parquet write) beside it;
- ``captum_speedup``, ``captum_max_rel_err``: one fixed TracIn job through lingtrace and through
  Captum's TracInCP (tiny default model, 2,000 train and 200 test examples, 3 checkpoints, batch 32,
  classification-head gradients, exact on both sides). The error is max |ours - Captum| over the
  largest |Captum| score.

Each pair alternates over repetitions and keeps each side's best time, since load from other
processes only ever slows a run down. ``--quick`` shrinks every size (for CI smoke runs).
"""

from __future__ import annotations

import logging
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from lingtrace import __version__

log = logging.getLogger(__name__)

BASE = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072}
TINY = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}


def best_times(cases: dict[str, Callable[[], object]], reps: int) -> dict[str, float]:
    """Best wall time of each case, repetitions interleaved, after one warm-up call each."""
    for fn in cases.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(reps):
        for name, fn in cases.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    return {name: min(ts) for name, ts in times.items()}


# --- per-example gradients ----------------------------------------------------------------------


def bench_gradients(arch: dict, batch: int = 16, tokens: int = 64, vocab: int = 30000, dim: int = 16, reps: int = 3) -> dict:
    """Dump vs plain forward+backward vs a per-example loop on a random XLM-R-shaped classifier."""
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    from lingtrace.batching import Encoded
    from lingtrace import settings
    from lingtrace.tracin.gradients import compute_gradients, select_layers
    from lingtrace.tracin.projection import build_projector

    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=vocab, max_position_embeddings=tokens + 2, num_labels=3, **arch)
    model = XLMRobertaForSequenceClassification(config).eval()
    ids = torch.randint(5, vocab, (batch, tokens))
    ids[:, 0], ids[:, -1] = 0, 2
    mask = torch.ones_like(ids)
    labels = torch.randint(0, 3, (batch,))
    encoded = Encoded([f"u{i}" for i in range(batch)], ["x"] * batch, [str(i) for i in range(batch)],
                      labels.tolist(), ids.tolist())  # fmt: skip
    layers = select_layers(model, settings.load("gradients").layers)
    traced = [p for module in layers.values() for p in module.parameters()]
    projector = build_projector("logra", layers, dim, 0)

    def trace_only_selected():
        for p in model.parameters():
            p.requires_grad_(False)
        for p in traced:
            p.requires_grad_(True)

    def fwdbwd():
        trace_only_selected()
        model.zero_grad(set_to_none=True)
        logits = model(input_ids=ids, attention_mask=mask).logits
        torch.nn.functional.cross_entropy(logits, labels, reduction="sum").backward()

    def dump():
        compute_gradients(model, encoded, layers, projector, batch_size=batch)

    def loop():
        trace_only_selected()
        for i in range(batch):
            model.zero_grad(set_to_none=True)
            logits = model(input_ids=ids[i : i + 1], attention_mask=mask[i : i + 1]).logits
            torch.nn.functional.cross_entropy(logits, labels[i : i + 1]).backward()
            torch.cat([p.grad.flatten() for p in traced])

    best = best_times({"fwdbwd": fwdbwd, "dump": dump, "loop": loop}, reps)
    rate = {name: batch / seconds for name, seconds in best.items()}
    return {
        "grad_ratio_vs_fwdbwd": rate["dump"] / rate["fwdbwd"],
        "grad_speedup_vs_loop": rate["dump"] / rate["loop"],
        "examples_per_s": rate,
        "sizes": {**arch, "vocab": vocab, "batch": batch, "tokens": tokens, "projection": "logra", "dim": dim,
                  "total_dim": projector.total_dim, "traced_layers": len(layers)},  # fmt: skip
    }


# --- scoring --------------------------------------------------------------------------------------


def bench_kernel(n_test=2000, n_train=20000, dim=1024, n_ckpt=3, keep=None, chunk=None,
                 variants: Sequence[str] = ("dot", "cosine"), reps=3) -> dict:  # fmt: skip
    """Scoring kernel GFLOP/s over the same matmuls alone (one bmm per chunk into a reused buffer);
    both are credited 2 * C * N_test * N_train * dim flops. ``keep`` and ``chunk``: top_k and
    chunk_size (None: the ``influence`` settings' defaults)."""
    from lingtrace import settings
    from lingtrace.tracin.kernel import Workspace, prepare_test
    from lingtrace.tracin.topk import top_k_scores

    defaults = settings.load("influence")
    top_k, chunk_size = keep or defaults.top_k, chunk or defaults.chunk_size
    gen = torch.Generator().manual_seed(0)
    test = torch.randn(n_ckpt, n_test, dim, generator=gen)
    train = torch.randn(n_ckpt, n_train, dim, generator=gen)
    side = prepare_test(test, torch.linspace(1.0, 0.1, n_ckpt, dtype=torch.float64))
    workspace = Workspace()

    def matmul():
        for start in range(0, n_train, chunk_size):
            chunk = train[:, start : start + chunk_size]
            out = workspace.get("out", (n_ckpt, n_test, chunk.shape[1]), chunk)
            torch.bmm(side.scaled, chunk.transpose(1, 2), out=out)

    def kernel():
        top_k_scores(side, train, top_k, variants, chunk_size)

    best = best_times({"matmul": matmul, "kernel": kernel}, reps)
    flops = 2.0 * n_ckpt * n_test * n_train * dim
    return {
        "score_fraction_of_matmul": best["matmul"] / best["kernel"],
        "score_gflops": flops / best["kernel"] / 1e9,
        "matmul_gflops": flops / best["matmul"] / 1e9,
        "sizes": {"n_test": n_test, "n_train": n_train, "dim": dim, "checkpoints": n_ckpt, "top_k": top_k,
                  "chunk_size": chunk_size, "variants": list(variants)},  # fmt: skip
    }


def _random_shards(folder: Path, n: int, dim: int, n_ckpt: int, split: str, gen: np.random.Generator) -> dict:
    from lingtrace.tracin.store import write_grad_shard

    paths = {}
    for epoch in range(1, n_ckpt + 1):
        path = folder / f"{split}-{epoch}.parquet"
        meta = {"projection": {"kind": "bench", "total_dim": dim}, "layers": {}, "checkpoint": epoch,
                "eta": 1.0 / epoch, "dtype": "float32", "split": split, "shard": 0, "n_shards": 1}  # fmt: skip
        uids = [f"{split}{i:06d}" for i in range(n)]
        langs = [f"l{i % 5}" for i in range(n)]
        write_grad_shard(path, uids, langs, [0] * n, [0] * n, np.zeros(n),
                         gen.standard_normal((n, dim), dtype=np.float32), meta)  # fmt: skip
        paths[epoch] = [str(path)]
    return paths


def bench_shard_end_to_end(n_test=2000, n_train=20000, dim=1024, n_ckpt=3, reps=2) -> dict:
    """A whole score_shard job on random shards (Parquet read, scoring, Parquet write) against the
    matmuls alone, for the same shapes (top_k and chunk_size: the ``influence`` settings' defaults)."""
    from lingtrace.tracin.score import score_shard_files

    gen = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        train = {epoch: paths[0] for epoch, paths in _random_shards(folder, n_train, dim, n_ckpt, "train", gen).items()}
        test = _random_shards(folder, n_test, dim, n_ckpt, "test", gen)
        a = torch.randn(n_ckpt, n_test, dim)
        b = torch.randn(n_ckpt, dim, n_train)
        cfg = {"variants": ["dot", "cosine"], "device": "cpu"}

        def job():
            score_shard_files(train, test, cfg, folder / "topk.parquet", folder / "lang.parquet")

        best = best_times({"matmul": lambda: torch.bmm(a, b), "shard": job}, reps)
    return {"shard_fraction_of_matmul": best["matmul"] / best["shard"], "shard_seconds": best["shard"],
            "matmul_seconds": best["matmul"]}  # fmt: skip


# --- against Captum -----------------------------------------------------------------------------


def _captum_job(folder: Path, n_train: int, n_test: int, n_ckpt: int):
    """Tiny default-architecture checkpoints (random weights, one seed each) and babel NLI data."""
    from transformers import XLMRobertaForSequenceClassification

    from lingtrace.data.prepare import load_split
    from lingtrace.data.sources.synthetic import generate_corpus
    from lingtrace.io.atomic import write_json
    from lingtrace.model.build import tiny_config
    from lingtrace.model.tokenizer import train_tokenizer

    langs = ["ala", "alb", "bea", "beb", "gaa"]
    world = {"seed": 7, "corpus_sentences_per_lang": 300, "languages": [
        {"code": "ala", "family": "alpha"}, {"code": "alb", "family": "alpha", "overlap": 0.6},
        {"code": "bea", "family": "beta", "order": "SOV"}, {"code": "beb", "family": "beta", "script": "cyrillic"},
        {"code": "gaa", "family": "gamma", "script": "hangul", "order": "VSO"}]}  # fmt: skip
    task = {"name": "bench", "source": "synthetic", "shape": "nli", "train_langs": langs,
            "train_per_lang": n_train // len(langs), "test_per_lang": n_test // len(langs)}  # fmt: skip
    train, test = load_split(task, "train", world), load_split(task, "test", world)
    tokenizer = train_tokenizer(generate_corpus(world)["text"].to_pylist(), vocab_size=1000)
    checkpoints = []
    for epoch in range(1, n_ckpt + 1):
        torch.manual_seed(epoch)
        config = tiny_config(TINY, tokenizer, 64)
        config.num_labels = 3
        path = folder / f"epoch-{epoch}"
        XLMRobertaForSequenceClassification(config).save_pretrained(path)
        tokenizer.save_pretrained(path)
        write_json({"epoch": epoch, "mean_lr": 1e-3 / epoch, "n_steps": 1}, path / "trace.json")
        checkpoints.append(path)
    return checkpoints, train, test, tokenizer


def bench_captum(n_train=2000, n_test=200, n_ckpt=3, batch=32, reps=1) -> dict:
    from captum.influence import TracInCP
    from safetensors.torch import load_file

    from lingtrace.batching import collate, encode
    from lingtrace.tracin.api import dump_checkpoints, tracin_scores
    from lingtrace.io.checkpoints import load_checkpoint, read_trace

    head = ["classifier.dense", "classifier.out_proj"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        checkpoints, train, test, tokenizer = _captum_job(folder, n_train, n_test, n_ckpt)
        gradients = {"layers": r"^classifier\.(dense|out_proj)$", "projection": "none", "batch_size": batch}
        results = {}
        threads = torch.get_num_threads()  # dump_checkpoints sets the thread count: keep the bench's

        def ours():
            train_paths, test_paths = dump_checkpoints(checkpoints, train, test, folder / "grads", gradients,
                                                       max_length=64, threads=threads)  # fmt: skip
            results["ours"] = tracin_scores(train_paths, test_paths, "dot")

        def tensors(table):
            data = encode(table, tokenizer, 64)
            b = collate(data, range(len(data)), tokenizer.pad_token_id)
            return data.uids, (b["input_ids"], b["attention_mask"], b["labels"])

        class Logits(torch.nn.Module):
            def __init__(self, model):
                super().__init__()
                self.model = model

            def forward(self, input_ids, attention_mask):
                return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

        def load(net, path):
            net.model.load_state_dict(load_file(f"{path}/model.safetensors"), strict=False)
            net.eval()
            return read_trace(path)["mean_lr"]

        def captum():
            model, _, _ = load_checkpoint(checkpoints[0])
            train_uids, train_tensors = tensors(train)
            test_uids, test_tensors = tensors(test)
            tracin = TracInCP(
                Logits(model).eval(), torch.utils.data.TensorDataset(*train_tensors), [str(c) for c in checkpoints],
                checkpoints_load_func=load, layers=[f"model.{name}" for name in head],
                loss_fn=torch.nn.CrossEntropyLoss(reduction="sum"), batch_size=batch, sample_wise_grads_per_batch=True,
            )  # fmt: skip
            results["captum"] = tracin.influence(test_tensors, show_progress=False).detach().double().numpy()
            results["order"] = (test_uids, train_uids)

        best = best_times({"ours": ours, "captum": captum}, reps)
    ours_scores = results["ours"]
    assert (ours_scores.test_uids, ours_scores.train_uids) == results["order"], "row orders differ"
    theirs = results["captum"]
    error = float(np.abs(ours_scores.scores - theirs).max() / np.abs(theirs).max())
    return {
        "captum_speedup": best["captum"] / best["ours"],
        "captum_max_rel_err": error,
        "ours_seconds": best["ours"],
        "captum_seconds": best["captum"],
        "sizes": {"n_train": train.num_rows, "n_test": test.num_rows, "checkpoints": n_ckpt, "batch": batch,
                  "layers": head, "model": TINY},  # fmt: skip
    }


# --- all of it ------------------------------------------------------------------------------------


def run_bench(quick: bool = False, threads: int | None = None) -> dict:
    if threads:
        torch.set_num_threads(threads)
    if quick:
        sizes = {"base": dict(arch={**BASE, "num_hidden_layers": 2}, batch=4, tokens=32, vocab=5000, reps=1),
                 "kernel": dict(n_test=200, n_train=4096, dim=1024, reps=2),
                 "captum": dict(n_train=250, n_test=50, reps=1)}  # fmt: skip
    else:
        sizes = {"base": dict(arch=BASE, batch=16, tokens=64, vocab=30000, reps=3),
                 "kernel": dict(n_test=2000, n_train=20000, dim=1024, reps=3),
                 "captum": dict(n_train=2000, n_test=200, reps=1)}  # fmt: skip
    log.info("gradients on the XLM-R-base-shaped model")
    base = bench_gradients(**sizes["base"])
    log.info("gradients on the tiny model")
    tiny = bench_gradients(arch=TINY, batch=32, tokens=32, vocab=1000, reps=3)
    log.info("scoring kernel")
    kernel = bench_kernel(**sizes["kernel"])
    log.info("scoring a whole shard")
    shard = bench_shard_end_to_end(**{k: v for k, v in sizes["kernel"].items() if k != "reps"}, reps=2)
    log.info("against Captum TracInCP")
    captum = bench_captum(**sizes["captum"])
    return {
        "grad_ratio_vs_fwdbwd": base["grad_ratio_vs_fwdbwd"],
        "grad_speedup_vs_loop": base["grad_speedup_vs_loop"],
        "score_fraction_of_matmul": kernel["score_fraction_of_matmul"],
        "shard_fraction_of_matmul": shard["shard_fraction_of_matmul"],
        "captum_speedup": captum["captum_speedup"],
        "captum_max_rel_err": captum["captum_max_rel_err"],
        "details": {"gradients_base": base, "gradients_tiny": tiny, "kernel": kernel, "shard": shard, "captum": captum},
        "quick": quick,
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "processor": platform.machine(),
                    "lingtrace": __version__},  # fmt: skip
    }
